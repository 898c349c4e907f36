#!/usr/bin/env bash
# Loopback download benchmark: ttui against aria2c, rqbit and python3-libtorrent.
#
#   bash tests/bench/bench.sh
#
# Environment:
#   BENCH_RUNS=3          downloads per client and torrent (medians are reported)
#   BENCH_SKIP_RQBIT=1    do not build or run rqbit
#   BENCH_SKIP_SWARM=1    skip the second pass with three seeders of different kinds
#   BENCH_KEEP=1          keep the work directory (logs, data) instead of removing it
#   BENCH_WORKDIR=DIR     work directory (default: a new temp dir)
#   BENCH_TIMEOUT=300     seconds one download may take before it is killed and marked failed
#   CARGO_TARGET_DIR      where ttui (and the rqbit cache, under bench-tools/) are built
#   BENCH_TTUI_ARGS="..." extra arguments for ttui, not for ttui-base (e.g. "--encryption off")
#   BENCH_TTUI_BASE=PATH  a second ttui binary (say, a build of the previous commit), run as
#                         client "ttui-base" interleaved with the others, so a change is
#                         compared with what it changed in the same run
#   BENCH_TORRENTS="big"  which torrents to download (default "big many")
#   BENCH_SEEDER_ARGS=".." extra arguments for the libtorrent seeders (e.g. "--encryption forced")
#
# Needs root for apt-get and the network namespace. Everything after the builds runs in
# `unshare -n` (only `lo` exists), and every client also listens on its own 127.0.0.x with
# DHT, LSD, PEX, UPnP and NAT-PMP off, so no packet can leave the machine.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
TOOLS=$TARGET/bench-tools
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py

calc() { awk "BEGIN { print $* }"; }
# Comparisons never go through calc: inside awk's `print`, `a > b` redirects into a file named b.
exceeds() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
note() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

# ---------------------------------------------------------------- outer phase: build, install
if [[ -z ${BENCH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (apt-get and unshare -n need it)"

    missing=()
    command -v opentracker >/dev/null || missing+=(opentracker)
    command -v aria2c >/dev/null || missing+=(aria2)
    command -v mktorrent >/dev/null || missing+=(mktorrent)
    [[ -x /usr/bin/time ]] || missing+=(time)
    $PY -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
    if [[ -z ${BENCH_SKIP_SWARM:-} ]]; then
        command -v transmission-daemon >/dev/null || missing+=(transmission-daemon)
        command -v transmission-remote >/dev/null || missing+=(transmission-cli)
    fi
    if ((${#missing[@]})); then
        note "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi

    note "building ttui (release) in $TARGET"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet)
    # The render bench is compiled now so that compiling it never overlaps a timed download.
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo bench --bench render --no-run --quiet)

    # shellcheck source=rqbit_tool.sh
    source "$HERE/rqbit_tool.sh"
    find_rqbit "$TOOLS"

    export BENCH_INNER=1 BENCH_TTUI=${BENCH_TTUI:-$TARGET/release/ttui} BENCH_RQBIT=$RQBIT BENCH_NETNS=1
    rc=0
    if unshare -n true 2>/dev/null; then
        unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    else
        note "NOTE: unshare -n is not permitted here; relying on per-client 127.0.0.x binds only"
        BENCH_NETNS=0 bash "${BASH_SOURCE[0]}" || rc=$?
    fi

    echo
    echo "== render benchmark (cargo bench --bench render)"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo bench --bench render --quiet 2>&1) || rc=$?
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: the swarm
TTUI=$BENCH_TTUI
RQBIT=${BENCH_RQBIT:-}
TIMEOUT=${BENCH_TIMEOUT:-300}
[[ -x $TTUI ]] || die "no ttui binary at $TTUI"

if [[ ${BENCH_NETNS:-0} == 1 ]]; then
    ip link set lo up
    if ip -o link show | grep -qv ': lo:'; then die "namespace has interfaces besides lo"; fi
fi

W=${BENCH_WORKDIR:-$(mktemp -d /tmp/ttui-bench.XXXXXX)}
mkdir -p "$W"/{logs,seed,out,ot,times}
PIDS=() # process-group leaders we started (each via setsid), killed on exit

stop_group() { # pid: TERM its process group, wait up to 5 s, then KILL
    local p=$1 i
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_group "$p"; done
    PIDS=()
    if [[ -n ${BENCH_KEEP:-} ]]; then
        note "work directory kept: $W"
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # pid: drop it from PIDS once it is reaped
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

spawn() { # logfile cmd...: start cmd in its own process group, pid in $SPAWNED
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 </dev/null &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

wait_for() { # seconds description command...: poll every 0.2 s until command succeeds
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        if "$@"; then return 0; fi
        sleep 0.2
    done
    die "timed out after ${secs}s waiting for $what"
}

# ---- payloads and torrents
TRACKER=http://127.0.0.1:6969/announce
note "work dir $W; writing the random payloads"
# BENCH_SMALL=1 (for checking the script itself): 32 MiB and 100 files instead.
BIG_MIB=1024 NFILES=1000
[[ -n ${BENCH_SMALL:-} ]] && BIG_MIB=32 NFILES=100
$PY - "$W/seed" "$BIG_MIB" "$NFILES" <<'EOF'
import os, sys
root, big_mib, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(os.path.join(root, "big.bin"), "wb") as f:
    for _ in range(big_mib):
        f.write(os.urandom(1 << 20))
for i in range(nfiles):
    d = os.path.join(root, "many", "d%02d" % (i // 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(os.urandom(256 << 10))
EOF
mktorrent -l 20 -a "$TRACKER" -o "$W/big.torrent" "$W/seed/big.bin" >/dev/null
mktorrent -l 18 -a "$TRACKER" -o "$W/many.torrent" "$W/seed/many" >/dev/null
declare -A SIZE=([big]=$((BIG_MIB << 20)) [many]=$((NFILES << 18)))
declare -A HASH
for t in big many; do
    HASH[$t]=$($PY -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())' "$W/$t.torrent")
done

# ---- tracker (the Debian build only tracks whitelisted hashes; it chroots to -d)
printf '%s\n' "${HASH[big]}" "${HASH[many]}" >"$W/ot/whitelist.txt"
chmod 755 "$W/ot"
spawn "$W/logs/opentracker.log" opentracker -i 127.0.0.1 -p 6969 -P 6969 -d "$W/ot" -w whitelist.txt -u nobody
tracker_up() { $PY -c 'import socket; socket.create_connection(("127.0.0.1", 6969), 1).close()' 2>/dev/null; }
wait_for 10 opentracker tracker_up

# ---- seeders
declare -A LT_SEED_IP=([big]=127.0.0.2 [many]=127.0.0.3)
start_lt_seeders() {
    local t
    for t in big many; do
        spawn "$W/logs/lt-seed-$t.log" $PY "$LT" --torrent "$W/$t.torrent" --save "$W/seed" \
            --ip "${LT_SEED_IP[$t]}" --port 6881 --seed-mode --max-seconds 7200 "${SEEDER_ARGS[@]}"
        wait_for 30 "libtorrent seeder ($t)" grep -q '^ready' "$W/logs/lt-seed-$t.log"
    done
}

start_aria2_seeder() {
    # -V hashes the data first; --seed-ratio=0.0 keeps seeding until killed.
    spawn "$W/logs/aria2-seed.log" aria2c --dir="$W/seed" --check-integrity=true --seed-ratio=0.0 \
        --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
        --disable-ipv6=true --interface=127.0.0.4 --bt-external-ip=127.0.0.4 --listen-port=6881 \
        --bt-tracker-interval=5 --summary-interval=1 --console-log-level=warn --file-allocation=none \
        --bt-max-open-files=1100 "$W/big.torrent" "$W/many.torrent"
    # Its progress summary shows "[#gid SEED(...)" once a torrent is checked and seeding.
    aria2_seeding() { [[ $(grep -o '#[0-9a-f]* SEED(' "$W/logs/aria2-seed.log" | sort -u | wc -l) -ge 2 ]]; }
    wait_for 120 "aria2c seeder to finish its check" aria2_seeding
}

start_transmission_seeder() {
    # It listens on 127.0.0.1, the address its announces come from, so the tracker hands
    # out a reachable address whether or not it binds its HTTP client.
    local cfg=$W/tr-config
    mkdir -p "$cfg"
    cat >"$cfg/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": 6885, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.5", "rpc-port": 9091,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "$W/seed", "incomplete-dir-enabled": false, "speed-limit-up-enabled": false,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "message-level": 2
}
EOF
    spawn "$W/logs/transmission.log" transmission-daemon -f -g "$cfg"
    tr_rpc() { transmission-remote 127.0.0.5:9091 "$@"; }
    wait_for 20 "transmission rpc" tr_rpc -l >/dev/null 2>&1
    tr_rpc -a "$W/big.torrent" -w "$W/seed" >/dev/null
    tr_rpc -a "$W/many.torrent" -w "$W/seed" >/dev/null
    tr_done() { [[ $(tr_rpc -l 2>/dev/null | grep -c ' 100% ') -ge 2 ]]; }
    wait_for 180 "transmission to verify both torrents" tr_done
    tr_rpc -t all --reannounce >/dev/null 2>&1 || true
}

# ---- one timed download
# The leechers' addresses; each has its own so Transmission's one-connection-per-IP rule and
# the tracker's view of who is who stay simple.
declare -A IP=([ttui]=127.0.0.11 [aria2c]=127.0.0.12 [rqbit]=127.0.0.13 [libtorrent]=127.0.0.14
    [ttui-base]=127.0.0.15)
read -r -a TTUI_ARGS <<<"${BENCH_TTUI_ARGS:-}"
# Belt and braces next to --no-dht: no ttui of ours ever bootstraps from public routers here.
export TTUI_NO_PUBLIC_ROUTERS=1
read -r -a SEEDER_ARGS <<<"${BENCH_SEEDER_ARGS:-}"
read -r -a TORRENTS <<<"${BENCH_TORRENTS:-big many}"
RESULTS=$W/results.tsv
: >"$RESULTS"

out_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

# A finished download's files are emptied and set aside in $W/spent, not deleted: on an ext4
# without a journal, creating a file scans past every inode freed near it in the last minutes,
# so deleting one client's 1,000 files taxed the next client's (datapath_lib.sh, `spend`).
spend() {
    [[ -d $1 ]] || return 0
    find "$1" -type f -exec truncate -s 0 {} +
    mkdir -p "$W/spent"
    mv "$1" "$(mktemp -d "$W/spent/XXXXXX")/"
}

# rqbit has no exit-on-completion in every version; this asks its HTTP API instead.
rqbit_finished() {
    $PY - "$1" <<'EOF' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.13:%s/torrents/0/stats/v1" % sys.argv[1], timeout=1) as r:
    s = json.load(r)
sys.exit(0 if s.get("finished") else 1)
EOF
}

# client torrent phase run: runs one download under /usr/bin/time -v and appends a line to
# $RESULTS: phase client torrent run wall cpu rss_kib status
download() {
    local client=$1 t=$2 phase=$3 run=$4
    local out=$W/out/$client-$t tf=$W/times/$phase-$client-$t-$run log=$W/logs/$phase-$client-$t-$run.log
    local ip=${IP[$client]} finish=exit cmd=()
    rm -rf "$out"
    mkdir -p "$out"
    case $client in
    ttui | ttui-base)
        cmd=("$TTUI" "$W/$t.torrent" --headless -o "$out" --port 0 --bind "$ip"
            --log-file "$W/logs/$phase-$client-$t-$run.ttui.log" --no-dht "${TTUI_ARGS[@]}")
        # The base build may predate the extra options: it runs with the defaults only.
        [[ $client == ttui-base ]] && cmd=("$BENCH_TTUI_BASE" "${cmd[@]:1:10}")
        ;;
    aria2c) cmd=(aria2c --dir="$out" --seed-time=0 --enable-dht=false --enable-dht6=false
        --bt-enable-lpd=false --enable-peer-exchange=false --disable-ipv6=true --interface="$ip"
        --bt-external-ip="$ip" --listen-port=6882 --file-allocation=none --summary-interval=0
        --console-log-level=warn --bt-max-open-files=1100 "$W/$t.torrent") ;;
    rqbit)
        # --exit-on-finish where the binary has it; else the HTTP API is polled.
        cmd=("$RQBIT" --disable-dht --disable-lsd --disable-upnp-port-forward --ipv4-only
            --listen-ip "$ip" --listen-port 6883 --http-api-listen-addr "$ip:3030"
            download -o "$out" "$W/$t.torrent")
        if [[ ${RQBIT_EXIT_FLAG:-} ]]; then cmd+=("$RQBIT_EXIT_FLAG"); else finish=rqbit-api; fi
        ;;
    libtorrent)
        cmd=($PY "$LT" --torrent "$W/$t.torrent" --save "$out" --ip "$ip" --port 6884 --leech
            --max-seconds "$TIMEOUT")
        finish=done-line
        ;;
    esac
    local t0 t1 now status=ok wall=""
    t0=$(date +%s.%N)
    spawn "$log" /usr/bin/time -v -o "$tf" "${cmd[@]}"
    local pid=$SPAWNED
    while kill -0 "$pid" 2>/dev/null; do
        now=$(date +%s.%N)
        if [[ $finish == done-line ]] && grep -q '^done$' "$log"; then
            wall=$(calc "$now - $t0")
            pkill -TERM -P "$pid" || true # the client (time's child), so time reports it
            break
        fi
        if [[ $finish == rqbit-api ]] && rqbit_finished 3030; then
            wall=$(calc "$(date +%s.%N) - $t0")
            pkill -TERM -P "$pid" || true
            break
        fi
        if exceeds "$(calc "$now - $t0")" "$TIMEOUT"; then
            status=timeout
            note "$client $t run $run: no completion after ${TIMEOUT}s, killed"
            break
        fi
        sleep 0.05
    done
    # Bounded wait for the client (and time) to exit after a TERM or on its own.
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    stop_group "$pid"
    forget "$pid"
    t1=$(date +%s.%N)
    if [[ ! -s $tf ]]; then
        status=failed
    else
        if grep -q 'exited with non-zero status' "$tf" && [[ $finish == exit ]]; then status=failed; fi
        if [[ $finish == exit && $status == ok ]]; then
            wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$tf")
        fi
    fi
    local got
    got=$(out_bytes "$out")
    if [[ $status == ok && $got -ne ${SIZE[$t]} ]]; then
        status=short
        note "$client $t run $run: output has $got bytes, expected ${SIZE[$t]}"
    fi
    if [[ $status == ok && $client == ttui ]]; then
        # ttui is the client under test: compare its bytes, not only their count.
        local src=$W/seed/big.bin dst=$out/big.bin
        [[ $t == many ]] && { src=$W/seed/many; dst=$out/many; }
        if ! diff -rq "$src" "$dst" >/dev/null; then
            status=corrupt
            note "ttui $t run $run: output differs from the seed data"
        fi
    fi
    local user sys rss
    user=$(awk -F': ' '/User time/ {print $2}' "$tf" 2>/dev/null || echo 0)
    sys=$(awk -F': ' '/System time/ {print $2}' "$tf" 2>/dev/null || echo 0)
    rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$tf" 2>/dev/null || echo 0)
    [[ -n $wall ]] || wall=$(calc "$t1 - $t0")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$client" "$t" "$run" "$wall" \
        "$(calc "${user:-0} + ${sys:-0}")" "${rss:-0}" "$status" >>"$RESULTS"
    note "$(printf '%-6s %-10s %-4s run %s: %6.2f s  %s' "$phase" "$client" "$t" "$run" "$wall" "$status")"
    spend "$out"
}

CLIENTS=(ttui aria2c libtorrent)
if [[ -n $RQBIT ]]; then
    CLIENTS=(ttui aria2c rqbit libtorrent)
    # rqbit 9 has it; older builds are stopped through the HTTP API poll instead.
    if "$RQBIT" download --help 2>/dev/null | grep -q -- '--exit-on-finish'; then
        RQBIT_EXIT_FLAG=--exit-on-finish
    fi
fi
if [[ -n ${BENCH_TTUI_BASE:-} ]]; then
    [[ -x $BENCH_TTUI_BASE ]] || die "no ttui binary at $BENCH_TTUI_BASE"
    CLIENTS=(ttui ttui-base "${CLIENTS[@]:1}")
fi

run_phase() { # phase: every client downloads every torrent RUNS times, interleaved
    local phase=$1 run t c
    for ((run = 1; run <= RUNS; run++)); do
        for t in "${TORRENTS[@]}"; do
            local order=("${CLIENTS[@]}")
            # The first download of a round runs slower (measured: ~5 %), so the two ttui
            # builds take turns at going first.
            if [[ -n ${BENCH_TTUI_BASE:-} ]] && ((run % 2 == 0)); then
                order=(ttui-base ttui "${CLIENTS[@]:2}")
            fi
            for c in "${order[@]}"; do download "$c" "$t" "$phase" "$run"; done
        done
    done
}

# Upload totals, to show which seeders really served the downloads (appended to the report).
SEEDLOG=$W/seeders.txt
seeder_uploads() { # label
    local t up r
    {
        printf '%s:' "$1"
        for t in big many; do
            up=$(grep '^progress' "$W/logs/lt-seed-$t.log" | tail -1 | sed -n 's/.* up=\([0-9]*\).*/\1/p')
            printf ' libtorrent/%s %d MiB;' "$t" "$((${up:-0} >> 20))"
        done
        if [[ -f $W/logs/aria2-seed.log ]]; then
            # SEED(r): r = uploaded / size, one gid per torrent
            r=$(grep -o '#[0-9a-f]* SEED([0-9.]*)' "$W/logs/aria2-seed.log" | tail -2 | tr '\n' ' ')
            printf ' aria2c ratios %s;' "$r"
        fi
        if [[ -d $W/tr-config ]]; then
            transmission-remote 127.0.0.5:9091 -t all -i 2>/dev/null |
                awk '/^  Name:/ {n = $2} /^  Uploaded:/ {printf " transmission/%s %s %s;", n, $2, $3}'
        fi
        echo
    } >>"$SEEDLOG"
}

start_lt_seeders
note "phase 1: one python3-libtorrent seeder per torrent; clients: ${CLIENTS[*]}"
run_phase 1seed
seeder_uploads "seeders' uploads after phase 1"

if [[ -z ${BENCH_SKIP_SWARM:-} ]]; then
    start_aria2_seeder
    start_transmission_seeder
    note "phase 2: libtorrent + aria2c + transmission-daemon seeding"
    run_phase 3seeds
    seeder_uploads "seeders' uploads after phase 2 (cumulative)"
fi

# ---- resume check: verify a complete 1 GiB file that is already in the page cache
note "resume check: ttui over the complete file vs sha1sum"
for p in "${PIDS[@]}"; do [[ -n $p ]] && stop_group "$p"; done
PIDS=()
cat "$W/seed/big.bin" >/dev/null
for ((run = 1; run <= RUNS; run++)); do
    tf=$W/times/resume-ttui-$run
    timeout 300 /usr/bin/time -v -o "$tf" "$TTUI" "$W/big.torrent" --headless -o "$W/seed" --no-trackers \
        --peer 127.0.0.1:9 --port 0 --bind 127.0.0.11 --log-file "$W/logs/resume-$run.ttui.log" \
        >"$W/logs/resume-ttui-$run.log" 2>&1 || note "resume run $run: ttui exited $?"
    tf2=$W/times/resume-sha1sum-$run
    /usr/bin/time -v -o "$tf2" sha1sum "$W/seed/big.bin" >/dev/null
    for x in ttui sha1sum; do
        f=$W/times/resume-$x-$run
        awk -F': ' -v x=$x -v r=$run '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + a[i]; w = s}
            /User time/ {u = $2} /System time/ {y = $2} /Maximum resident/ {m = $2}
            END {printf "resume\t%s\tbig\t%s\t%s\t%s\t%s\tok\n", x, r, w, u + y, m}' "$f" >>"$RESULTS"
    done
done

# ---- report
echo
echo "== ttui download benchmark: loopback, $RUNS runs each, medians (rqbit: ${RQBIT:-not run})"
$PY - "$RESULTS" "${SIZE[big]}" "${SIZE[many]}" "$SEEDLOG" <<'EOF'
import statistics, sys
from collections import defaultdict

path, big, many = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = {"big": big, "many": many}
label = {"big": "%d MiB x1 file" % (big >> 20), "many": "%d MiB x%d" % (many >> 20, many >> 18)}
rows = defaultdict(list)
bad = defaultdict(list)
for line in open(path):
    phase, client, t, run, wall, cpu, rss, status = line.rstrip("\n").split("\t")
    if status == "ok":
        rows[(phase, t, client)].append((float(wall), float(cpu), int(rss)))
    else:
        bad[(phase, t, client)].append("run %s %s" % (run, status))

def med(xs):
    return statistics.median(xs)

order = ["ttui", "ttui-base", "aria2c", "rqbit", "libtorrent"]
phases = [("1seed", "one libtorrent seeder"), ("3seeds", "libtorrent + aria2c + transmission seeders")]
hdr = "%-11s %-14s %4s %9s %8s %7s %9s %9s" % (
    "client", "torrent", "ok", "wall s", "MB/s", "CPU s", "CPU s/GiB", "RSS MiB")
for phase, desc in phases:
    keys = [k for k in rows if k[0] == phase] + [k for k in bad if k[0] == phase and k not in rows]
    if not keys:
        continue
    print("\n-- %s (%s)" % (phase, desc))
    print(hdr)
    for t in ("big", "many"):
        figs = {}
        for c in order:
            k = (phase, t, c)
            if k not in rows and k not in bad:
                continue
            r = rows.get(k, [])
            n = len(r)
            if n == 0:
                print("%-11s %-14s %4s   all runs failed: %s" % (c, label[t], "0", ", ".join(bad[k])))
                continue
            wall = med([x[0] for x in r]); cpu = med([x[1] for x in r]); rss = med([x[2] for x in r]) / 1024
            mbs = size[t] / 1e6 / wall
            cpg = cpu / (size[t] / 2**30)
            figs[c] = dict(wall=wall, mbs=mbs, cpu=cpu, cpg=cpg, rss=rss)
            extra = ("  (%s)" % ", ".join(bad[k])) if k in bad else ""
            print("%-11s %-14s %d/%d %9.2f %8.1f %7.2f %9.2f %9.1f%s" % (
                c, label[t], n, n + len(bad.get(k, [])), wall, mbs, cpu, cpg, rss, extra))
        others = {c: f for c, f in figs.items() if c != "ttui"}
        if "ttui" in figs and others:
            tt = figs["ttui"]
            bw = min(others, key=lambda c: others[c]["wall"])
            bc = min(others, key=lambda c: others[c]["cpu"])
            br = min(others, key=lambda c: others[c]["rss"])
            print("  ttui vs best other: wall x%.2f (best %s), MB/s x%.2f, CPU x%.2f (best %s), "
                  "RSS x%.2f (best %s)" % (
                      tt["wall"] / others[bw]["wall"], bw, tt["mbs"] / others[bw]["mbs"],
                      tt["cpu"] / others[bc]["cpu"], bc, tt["rss"] / others[br]["rss"], br))

res = {c: rows.get(("resume", "big", c), []) for c in ("ttui", "sha1sum")}
if res["ttui"] and res["sha1sum"]:
    print("\n-- resume check: complete %s, page cache warm" % label["big"])
    print("%-11s %9s %7s %9s" % ("", "wall s", "CPU s", "RSS MiB"))
    m = {}
    for c in ("ttui", "sha1sum"):
        r = res[c]
        m[c] = (med([x[0] for x in r]), med([x[1] for x in r]), med([x[2] for x in r]) / 1024)
        print("%-11s %9.2f %7.2f %9.1f" % (c, *m[c]))
    print("  ttui / sha1sum wall: x%.2f" % (m["ttui"][0] / m["sha1sum"][0]))

try:
    print()
    print(open(sys.argv[4]).read().rstrip())
except OSError:
    pass

print("""
Caveats: everything on one 2-core machine over loopback, so seeder and leecher share the CPU
and the figures are for comparison within this run only. The page cache is never dropped:
seed data stays cached and outputs are deleted between runs. python3-libtorrent writes through
mmap, so its RSS counts file pages; its wall time is taken at its "done" line (all pieces
verified), the others' at process exit. aria2c's and rqbit's exits include their
"stopped" announces. transmission-daemon never dials 127.0.0.0/8 and waits ~10 s before its
first byte, so it serves only peers that dial it and only in longer downloads. ttui's --bind
sets its listening address only (its outgoing sockets come from 127.0.0.1). MB = 10^6 bytes.""")
EOF
