#!/usr/bin/env bash
# WebTorrent's data path: ttui to ttui over WebRTC data channels, against ttui to ttui over TCP
# and webtorrent to webtorrent (the `webtorrent` npm package 3.x in Node, over WebRTC), in one
# run, on loopback.
#
# One payload (WT_MIB, 256 MiB of random bytes) and one v1 torrent of it (`ttui create --v1
# --piece-size WT_PIECE`, 256 KiB: what webtorrent's create-torrent picks for 256 MiB), whose
# only tracker is the WebSocket tracker tests/net/ws_tracker/server.mjs (one for the run; the
# swarm is empty again before each transfer). Three transfers, taking turns at going first:
#   webrtc  `ttui seed` → `ttui --headless` (exits when complete), both finding each other
#           through the tracker; WebRTC is the only way they can meet (the WebSocket
#           tracker's announces carry no port)
#   tcp     the same two with `--no-trackers --no-webtorrent --transport tcp`, the leecher
#           given the seeder by `--peer 127.0.0.1:WT_TCP_PORT`
#   node    tests/net/webtorrent/peer.mjs `seed-torrent` (the same torrent and data) →
#           peer.mjs `leech` (WebRTC through @roamhq/wrtc, its TCP listener closed)
# Each: seconds from the leecher's start to its end (ttui: its exit; Node: its `done` line),
# MB/s, and CPU seconds (user + sys, /proc/PID/stat or /usr/bin/time) per GiB of the leecher
# and of the seeder (its CPU from the leecher's start to the leecher's end: not its check of
# the data), and the copy compared with `cmp`. Medians of WT_RUNS; ratios: WebRTC's CPU per
# GiB over TCP's, ttui's WebRTC MB/s over Node's. The load average goes with the report (the
# machines are shared).
#
#   WT_TTUI=/path/to/ttui bash tests/bench/webtorrent.sh
#   WT_TTUI=/path/to/ttui WT_RUNS=3 nice -n 10 bash tests/bench/webtorrent.sh
#
# Environment: WT_MIB (256), WT_RUNS (1), WT_PIECE (256K), WT_TIMEOUT (300 s a transfer),
# WT_KINDS ("webrtc tcp node"), WT_TCP_PORT (46881), WT_TTUI (default: a release build,
# built here with cargo when unset), TTUI_NODE_MODULES (~/.cache/ttui/test-node: tests/run.sh's
# node_packages), BENCH_TMP (/work/bench-tmp), WT_KEEP=1 keeps the work directory,
# WT_PERF=SECONDS records `perf record -g` of the WebRTC seeder and leecher for that long in
# each WebRTC transfer (from 2 s after its start) and prints where their time went.
#
# Needs root (unshare -n), node (20+) and the Node packages. After the build everything runs in
# a network namespace with only `lo`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
MIB=${WT_MIB:-256}
RUNS=${WT_RUNS:-1}
PIECE=${WT_PIECE:-256K}
TIMEOUT=${WT_TIMEOUT:-300}
TCP_PORT=${WT_TCP_PORT:-46881}
read -r -a KINDS <<<"${WT_KINDS:-webrtc tcp node}"
export WT_MIB=$MIB WT_RUNS=$RUNS WT_PIECE=$PIECE WT_TIMEOUT=$TIMEOUT WT_TCP_PORT=$TCP_PORT
export WT_KINDS="${KINDS[*]}"
export TTUI_NODE_MODULES=${TTUI_NODE_MODULES:-$HOME/.cache/ttui/test-node}
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"
note() { printf '[webtorrent %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
[[ $MIB =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] || die "WT_MIB and WT_RUNS must be positive whole numbers"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${WT_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    for tool in node unshare cmp; do command -v $tool >/dev/null || die "$tool is missing"; done
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
    [[ -d $TTUI_NODE_MODULES/node_modules/webtorrent && -d $TTUI_NODE_MODULES/node_modules/@roamhq ]] ||
        die "no webtorrent and @roamhq/wrtc under $TTUI_NODE_MODULES/node_modules (tests/run.sh installs them)"
    TMPROOT=${BENCH_TMP:-/work/bench-tmp}
    mkdir -p "$TMPROOT"
    free=$(df -Pm "$TMPROOT" | awk 'NR == 2 { print $4 }')
    ((free > 3 * MIB + 512)) || die "$TMPROOT has $free MiB free: the payload and a copy need $((3 * MIB + 512))"
    TTUI=${WT_TTUI:-$TARGET/release/ttui}
    if [[ -z ${WT_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    fi
    [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
    W=$(mktemp -d "$TMPROOT/webtorrent.XXXXXX")
    # shellcheck disable=SC2317 # run by the EXIT trap
    cleanup() {
        if [[ -n ${WT_KEEP:-} ]]; then
            note "work directory kept: $W"
        else
            rm -rf "$W"
            rmdir "$TMPROOT" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    mkdir -p "$W"/{logs,seed,out,times,home}
    export WT_INNER=1 W TTUI TTUI_NO_PUBLIC_ROUTERS=1
    rc=0
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    timeout -k 10 $((600 + RUNS * ${#KINDS[@]} * (TIMEOUT + 120))) \
        unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    if [[ -s $W/results.tsv ]]; then
        echo
        echo "== webtorrent: $MIB MiB, v1, piece size $PIECE, ttui over WebRTC against TCP and" \
            "webtorrent in Node ($(date -u +%F), medians of $RUNS)"
        echo "   command: WT_MIB=$MIB WT_RUNS=$RUNS WT_PIECE=$PIECE bash tests/bench/webtorrent.sh"
        echo "   ttui: $TTUI; node $(node --version), webtorrent" \
            "$(node -p "require('$TTUI_NODE_MODULES/node_modules/webtorrent/package.json').version")," \
            "@roamhq/wrtc $(node -p "require('$TTUI_NODE_MODULES/node_modules/@roamhq/wrtc/package.json').version");" \
            "$(nproc) CPUs"
        $PY - "$W/results.tsv" "$MIB" <<'EOF' || rc=$?
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
mib = int(sys.argv[2])
gib = mib / 1024
med = {}
names = {"webrtc": "ttui → ttui, WebRTC", "tcp": "ttui → ttui, TCP", "node": "webtorrent → webtorrent, Node"}
print("%-30s %4s %8s %8s %11s %11s %11s  %s" % ("seeder → leecher", "runs", "s", "MB/s",
      "CPU-s/GiB", "seeder", "leecher", "status"))
for kind in ["webrtc", "tcp", "node"]:
    ok = [r for r in rows if r[0] == kind and r[6] == "ok"]
    bad = [r[6] for r in rows if r[0] == kind and r[6] != "ok"]
    if not ok and not bad:
        continue
    status = "ok" if not bad else "failed: " + ", ".join(bad)
    if not ok:
        print("%-30s %4d %8s %8s %11s %11s %11s  %s" % (names[kind], 0, "-", "-", "-", "-", "-", status))
        continue
    wall = statistics.median(float(r[2]) for r in ok)
    seed = statistics.median(float(r[3]) for r in ok) / gib
    leech = statistics.median(float(r[4]) for r in ok) / gib
    total = statistics.median(float(r[3]) + float(r[4]) for r in ok) / gib
    mbs = mib * 1048576 / 1e6 / wall
    med[kind] = (mbs, total)
    print("%-30s %4d %8.2f %8.1f %11.2f %11.2f %11.2f  %s" % (names[kind], len(ok), wall, mbs, total, seed, leech, status))
if "webrtc" in med:
    print("ttui over WebRTC: %.1f MB/s (aim ≥ 100)" % med["webrtc"][0])
if "webrtc" in med and "tcp" in med:
    print("ttui's CPU per GiB, WebRTC over TCP: %.2f × (aim ≤ 2)" % (med["webrtc"][1] / med["tcp"][1]))
if "webrtc" in med and "node" in med:
    print("MB/s, ttui over WebRTC over webtorrent in Node: %.2f × (aim > 1)" % (med["webrtc"][0] / med["node"][0]))
    print("CPU per GiB, ttui over WebRTC over webtorrent in Node: %.2f ×" % (med["webrtc"][1] / med["node"][1]))
EOF
        echo "(s: the leecher's start to its end; MB = 10^6 bytes; CPU: user + sys, seeder from the"
        echo " leecher's start to its end, so not its check of the data; each row's copy compared by cmp;"
        echo " UDP a/b/c: datagrams received on lo during the transfer / lost to a full receive buffer /"
        echo " to a full send buffer, IPv4 and IPv6: /proc/net/snmp and snmp6 of the namespace)"
        awk -F'\t' '{ r[$1] = r[$1] (r[$1] == "" ? "" : "; ") ($7 == "ok" ? sprintf("%.2f s", $3) : $7) \
            " (UDP " $9 ", load " $8 ")" } END { for (k in r) print k ": " r[k] }' "$W/results.tsv" | sort
        tr '\n' ';' <"$W/load.txt" | sed 's/;$/ (1, 5, 15 min)\n/; s/;/; /'
        [[ ! -s $W/perf.txt ]] || cat "$W/perf.txt"
        if grep -qv $'\tok\t' "$W/results.tsv"; then rc=1; fi
    else
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: loopback only
ip link set lo up
if ip -o link show | grep -qv ': lo:'; then die "namespace has interfaces besides lo"; fi
RESULTS=$W/results.tsv
: >"$RESULTS"
# The tracker and the Node peers end when their stdin closes: theirs is this fifo, which this
# shell holds open (read-write, so opening it never blocks) until it exits.
mkfifo "$W/hold"
exec 3<>"$W/hold"
inner_exit() {
    stop_all
    exec 3>&- 4>&-
}
trap inner_exit EXIT
trap 'exit 130' INT TERM

spawn_held() { # logfile cmd...: spawn, its stdin the held fifo
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 <"$W/hold" 3>&- 4>&- &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

note "writing $MIB MiB of random bytes in $W/seed"
head -c $((MIB << 20)) /dev/urandom >"$W/seed/payload.bin"
BYTES=$((MIB << 20))

# One WebSocket tracker for the run (the torrent names its port); its stdin is a fifo of its
# own, through which `swarm HASH` asks it who is still in the swarm.
mkfifo "$W/tracker.in"
exec 4<>"$W/tracker.in"
setsid node "$REPO/tests/net/ws_tracker/server.mjs" "$TTUI_NODE_MODULES/node_modules" \
    >"$W/logs/tracker.log" 2>&1 <"$W/tracker.in" 3>&- 4>&- &
TRACKER_PID=$!
PIDS+=("$TRACKER_PID")
wait_for 30 "the tracker" grep -q '^listening' "$W/logs/tracker.log" || die "no tracker (see $W/logs/tracker.log)"
URL=ws://127.0.0.1:$(awk '/^listening/ { print $2; exit }' "$W/logs/tracker.log")/announce
TORRENT=$W/payload.torrent
"$TTUI" create --no-config --v1 --no-date --json --piece-size "$PIECE" --tracker "$URL" -o "$TORRENT" \
    "$W/seed/payload.bin" >"$W/create.json" 2>"$W/logs/create.log" || die "ttui create failed (see $W/logs/create.log)"
HASH=$($PY -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get("info_hash_v1") or d.get("info_hash") or d["info_hashes"]["v1"])' "$W/create.json") ||
    die "no info hash in $W/create.json"
note "torrent: $(head -c 300 "$W/create.json")"

# ttui_env NAME: each ttui its own configuration, runtime, data and state directories
ttui_env() {
    local h=$W/home/$1
    rm -rf "$h"
    mkdir -p "$h"/{config,runtime,data,state}
    chmod 700 "$h/runtime"
    echo "XDG_CONFIG_HOME=$h/config XDG_RUNTIME_DIR=$h/runtime XDG_DATA_HOME=$h/data XDG_STATE_HOME=$h/state"
}

announces() { grep -c '"event":"start"' "$W/logs/tracker.log" 2>/dev/null || true; }
announced() { (($(announces) > $1)); } # a seeder's first announce has reached the tracker
answers() { grep -c '^{"complete"' "$W/logs/tracker.log" 2>/dev/null || true; }
answered() { (($(answers) > $1)); }
swarm_empty() { # the tracker's own counts for the torrent: nobody left from the last transfer
    local before
    before=$(answers)
    echo "swarm $HASH" >&4
    wait_for 5 "the tracker's answer" answered "$before" || return 1
    grep '^{"complete"' "$W/logs/tracker.log" | tail -1 | grep -q '"complete":0,"incomplete":0'
}

udp() { # the namespace's UDP counters, IPv4 and IPv6: datagrams received, lost to a full
    # receive buffer, to a full send buffer
    awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { a += $2; b += $6; c += $7 }
        $1 == "Udp6InDatagrams" { a += $2 } $1 == "Udp6RcvbufErrors" { b += $2 }
        $1 == "Udp6SndbufErrors" { c += $2 } END { print a, b, c }' /proc/net/snmp /proc/net/snmp6
}

leecher_pid() { # the ttui under /usr/bin/time (its child)
    awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null
}

profile() { # tag seeder leecher: perf record of both for WT_PERF seconds, from 2 s in
    local tag=$1 pids
    shift
    pids=$(
        IFS=,
        echo "$*"
    )
    echo "$1 $2" >"$W/perf-$tag.pids"
    (
        sleep 2
        perf record -q -g -o "$W/perf-$tag.data" -p "$pids" -- sleep "$WT_PERF" >/dev/null 2>&1 || true
    ) &
    PERF_PID=$!
}

one() { # kind run
    local kind=$1 run=$2 tag=$1-$2 st=ok t0 t1 spid lpid s0 s1 lcpu out=$W/out/$1-$2 u0 u1 a0=0
    local log=$W/logs/$tag
    rm -rf "$out"
    mkdir -p "$out"
    PERF_PID=""
    if [[ $kind != tcp ]]; then
        wait_for 30 "the swarm to empty" swarm_empty || st=swarm-not-empty
        a0=$(announces)
    fi
    case $kind in
    webrtc | tcp)
        local targs=() sargs=(--port 0) lpeer=()
        if [[ $kind == tcp ]]; then
            targs=(--no-trackers --no-webtorrent --transport tcp)
            sargs=(--port "$TCP_PORT")
            lpeer=(--peer "127.0.0.1:$TCP_PORT")
        fi
        # shellcheck disable=SC2046 # the environment's words
        [[ $st != ok ]] || spawn "$log.seed.log" env $(ttui_env "seed-$tag") "$TTUI" seed --no-config \
            --no-port-mapping --no-dht --no-lsd "${sargs[@]}" "${targs[@]}" -o "$W/seed" "$TORRENT"
        spid=${SPAWNED:-}
        [[ $st != ok ]] || wait_for 120 "ttui to seed" grep -q 'seeding' "$log.seed.log" || st=not-seeding
        if [[ $st == ok && $kind == webrtc ]]; then
            wait_for 30 "the seeder's announce" announced "$a0" || st=no-announce
        fi
        if [[ $st == ok ]]; then
            u0=$(udp)
            s0=$(proc_cpu "$spid")
            t0=$(now)
            # shellcheck disable=SC2046
            spawn "$log.leech.log" /usr/bin/time -f '%e %U %S' -o "$W/times/$tag" \
                env $(ttui_env "leech-$tag") "$TTUI" --headless --no-config --no-port-mapping --no-dht --no-lsd \
                --port 0 "${targs[@]}" "${lpeer[@]}" -o "$out" "$TORRENT"
            lpid=$SPAWNED
            if [[ -n ${WT_PERF:-} && $kind == webrtc ]]; then
                sleep 0.3
                profile "$tag" "$spid" "$(leecher_pid "$lpid")"
            fi
            while kill -0 "$lpid" 2>/dev/null && ! exceeds "$(calc "$(now) - $t0")" "$TIMEOUT"; do sleep 0.02; done
            t1=$(now)
            s1=$(proc_cpu "$spid")
            u1=$(udp)
            if kill -0 "$lpid" 2>/dev/null; then
                st=timeout
                stop "$lpid"
            else
                wait "$lpid" || st="exit $?"
                forget "$lpid"
            fi
            lcpu=$(awk '{ print $2 + $3 }' "$W/times/$tag" 2>/dev/null || echo 0)
        fi
        ;;
    node)
        spawn_held "$log.seed.log" node "$REPO/tests/net/webtorrent/peer.mjs" seed-torrent "$TORRENT" "$W/seed" \
            --tracker "$URL"
        spid=$SPAWNED
        wait_for 120 "webtorrent to seed" grep -q '"ready"' "$log.seed.log" || st=not-seeding
        [[ $st != ok ]] || wait_for 30 "the seeder's announce" announced "$a0" || st=no-announce
        if [[ $st == ok ]]; then
            u0=$(udp)
            s0=$(proc_cpu "$spid")
            t0=$(now)
            spawn_held "$log.leech.log" node "$REPO/tests/net/webtorrent/peer.mjs" leech "$TORRENT" "$out" \
                --tracker "$URL"
            lpid=$SPAWNED
            wait_for "$TIMEOUT" "webtorrent to leech" grep -q '"done"\|"error"' "$log.leech.log" || st=timeout
            t1=$(now)
            s1=$(proc_cpu "$spid")
            u1=$(udp)
            lcpu=$(proc_cpu "$lpid")
            grep -q '"done"' "$log.leech.log" || st=${st/ok/error}
            stop "$lpid"
        fi
        ;;
    esac
    [[ -z $PERF_PID ]] || wait "$PERF_PID" 2>/dev/null || true
    [[ -z ${spid:-} ]] || stop "$spid"
    if [[ $st == ok ]] && ! cmp -s "$W/seed/payload.bin" "$out/payload.bin"; then st=corrupt; fi
    rm -rf "$out"
    local load udps
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [[ $st == ok ]]; then
        # shellcheck disable=SC2086 # the counters' words
        udps=$(awk -v a="$u0" -v b="$u1" 'BEGIN { split(a, x, " "); split(b, y, " ");
            printf "%d/%d/%d", y[1] - x[1], y[2] - x[2], y[3] - x[3] }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\tok\t%s\t%s\n' "$kind" "$run" "$(calc "$t1 - $t0")" "$(calc "$s1 - $s0")" \
            "$lcpu" "$BYTES" "$load" "$udps" >>"$RESULTS"
        note "$(printf '%-6s run %s: %6.2f s  %6.1f MB/s  CPU seeder %5.2f s, leecher %5.2f s  UDP %s  (load %s)' \
            "$kind" "$run" "$(calc "$t1 - $t0")" "$(calc "$BYTES / 1e6 / ($t1 - $t0)")" "$(calc "$s1 - $s0")" \
            "$lcpu" "$udps" "$load")"
    else
        printf '%s\t%s\t0\t0\t0\t0\t%s\t%s\t-\n' "$kind" "$run" "${st// /-}" "$load" >>"$RESULTS"
        note "$kind run $run: $st (logs: $log.*)"
    fi
}

n=${#KINDS[@]}
for ((run = 1; run <= RUNS; run++)); do
    for ((j = 0; j < n; j++)); do
        if ((run % 2)); then i=$(((run - 1 + j) % n)); else i=$(((n - 1 - j + run) % n)); fi
        one "${KINDS[$i]}" "$run"
    done
done

if [[ -n ${WT_PERF:-} ]]; then
    for f in "$W"/perf-webrtc-*.data; do
        [[ -s $f ]] || continue
        {
            read -r sp lp <"${f%.data}.pids"
            echo "== perf: the WebRTC transfer of $(basename "${f%.data}" | sed 's/^perf-//'), ${WT_PERF} s from 2 s in"
            echo "-- share of the samples by thread (seeder pid $sp, leecher pid $lp)"
            perf report -i "$f" --stdio --no-children --sort pid -g none 2>/dev/null | grep -v '^#' |
                grep -v '^$' | sed -n 1,8p
            for who in "seeder $sp" "leecher $lp"; do
                echo "-- the ${who% *}'s symbols (share of its own samples)"
                perf report -i "$f" --pid "${who#* }" --percentage relative --stdio --no-children --sort dso,sym -g none 2>/dev/null |
                    grep -v '^#' | grep -v '^$' | sed -n 1,16p
            done
        } >>"$W/perf.txt"
        break
    done
fi
