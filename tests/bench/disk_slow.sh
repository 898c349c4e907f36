#!/usr/bin/env bash
# The disk, part "slow" of tests/bench/disk.sh: a slow disk does not stall the session.
#
# A FUSE file system that behaves like a hard disk (tests/bench/slowfs.py: every read and write
# costs a seek of DISK_SLOW_SEEK_MS (8) ms unless it continues the previous request, plus its
# size over DISK_SLOW_MBPS (100) MB/s, served one at a time; direct_io, so the page cache
# cannot hide it) holds DISK_SLOW_N (200) payloads of DISK_SLOW_KIB (3072) KiB, each its own
# torrent (`ttui create --v1`). A `dd` through it says what it gives.
#
# ttui: one `ttui daemon` (its own state directory and XDG_RUNTIME_DIR, --no-config, on
# 127.0.0.21, discovery and trackers off) adds them all; they check, then seed. Then
#   - alone: a python3-libtorrent seeder on the normal disk (DISK_SLOW_OTHER_MIB (256) MiB in
#     BENCH_TMP) dials the daemon, which downloads that torrent into BENCH_TMP: its rate;
#   - DISK_SLOW_LEECHERS (20) python3-libtorrent leecher sessions (one process,
#     tests/bench/lt_leechers.py, each on its own 127.0.0.x, writing to /dev/shm) take the
#     torrents, torrent i going to leecher i mod 20, each dialing the daemon;
#   - while they download: the same other-disk download again (its rate under load), then
#     DISK_SLOW_SHOWS (50) `ttui show ID` of a seed on the slow disk, each timed (wall), spread
#     over the rest of the window, each
#     followed by a `ttui show --json` of a seed (a different one each time) whose `explain`
#     is searched for a finding with check "disk";
#   - bytes per second the leechers got from it: their payload over the time until they all
#     have everything, or DISK_SLOW_SECONDS (150) passed (a slow disk seldom lets 600 MB go
#     in that time: the run is a window of the load, the same for every seeder), and bytes
#     read from the slow disk per byte sent.
# transmission-daemon 3.00 (DHT, LPD, PEX, uTP and port forwarding off, on 127.0.0.22, RPC
# there) then seeds the same torrents from the same mount to the same leechers: its bytes/s.
# The page cache is dropped before each seeder's turn.
#
#   bash tests/bench/disk.sh slow
#   DISK_SLOW_N=20 DISK_SLOW_KIB=1024 DISK_SLOW_LEECHERS=4 DISK_SLOW_OTHER_MIB=64 \
#       DISK_SLOW_SHOWS=10 bash tests/bench/disk.sh slow            # a smoke run
#
# Environment: DISK_SLOW_N, DISK_SLOW_KIB, DISK_SLOW_LEECHERS, DISK_SLOW_SEEK_MS,
# DISK_SLOW_MBPS, DISK_SLOW_OTHER_MIB, DISK_SLOW_SHOWS, DISK_SLOW_SECONDS, DISK_SLOW_TOOLS
# ("ttui transmission"), DISK_TTUI, BENCH_TMP (/work/bench-tmp), DISK_KEEP=1 keeps the work
# directory (logs included).
#
# Needs root (unshare -n, drop_caches, FUSE). Nothing here uses a network: after the build
# everything runs in a network namespace with only `lo`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
N=${DISK_SLOW_N:-200}
KIB=${DISK_SLOW_KIB:-3072}
NL=${DISK_SLOW_LEECHERS:-20}
SEEK=${DISK_SLOW_SEEK_MS:-8}
MBPS=${DISK_SLOW_MBPS:-100}
OTHER=${DISK_SLOW_OTHER_MIB:-256}
SHOWS=${DISK_SLOW_SHOWS:-50}
SECS=${DISK_SLOW_SECONDS:-150}
read -r -a TOOLS <<<"${DISK_SLOW_TOOLS:-ttui transmission}"
export DISK_SLOW_N=$N DISK_SLOW_KIB=$KIB DISK_SLOW_LEECHERS=$NL DISK_SLOW_SEEK_MS=$SEEK
export DISK_SLOW_MBPS=$MBPS DISK_SLOW_OTHER_MIB=$OTHER DISK_SLOW_SHOWS=$SHOWS
export DISK_SLOW_SECONDS=$SECS DISK_SLOW_TOOLS="${TOOLS[*]}"
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"
for v in N KIB NL OTHER SHOWS SECS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "DISK_SLOW_* settings must be positive whole numbers ($v=${!v})"
done
((NL <= 100)) || die "DISK_SLOW_LEECHERS: at most 100"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${DISK_SLOW_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n, FUSE and drop_caches need it)"
    for tool in transmission-daemon transmission-remote unshare fusermount jq openssl dd; do
        command -v $tool >/dev/null || die "$tool is missing (tests/run.sh installs the clients)"
    done
    [[ -c /dev/fuse ]] || die "no /dev/fuse"
    $PY -c 'import libtorrent, fusepy' 2>/dev/null || die "python3-libtorrent or python3-fusepy is missing"
    TMPROOT=${BENCH_TMP:-/work/bench-tmp}
    mkdir -p "$TMPROOT"
    need=$((N * KIB / 1024 + OTHER * 2 + 512))
    free=$(df -Pm "$TMPROOT" | awk 'NR == 2 { print $4 }')
    ((free > need)) || die "$TMPROOT has $free MiB free: the run needs $need"
    shm=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
    ((shm > N * KIB / 1024 + 256)) || die "/dev/shm has $shm MiB free: the leechers need $((N * KIB / 1024 + 256))"
    TTUI=${DISK_TTUI:-$TARGET/release/ttui}
    if [[ -z ${DISK_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    fi
    [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
    W=$(mktemp -d "$TMPROOT/slow.XXXXXX")
    LEECH=$(mktemp -d /dev/shm/ttui-slow-bench.XXXXXX)
    # shellcheck disable=SC2317 # run by the EXIT trap
    cleanup() {
        # The inner phase unmounts; this is the backstop when it was killed.
        if mountpoint -q "$W/mnt" 2>/dev/null; then fusermount -u -z "$W/mnt" || true; fi
        rm -rf "$LEECH"
        if [[ -n ${DISK_KEEP:-} ]]; then
            note "work directory kept: $W"
        else
            rm -rf "$W"
            rmdir "$TMPROOT" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    mkdir -p "$W"/{logs,backing,mnt,torrents,other}
    export DISK_SLOW_INNER=1 W LEECH TTUI TTUI_NO_PUBLIC_ROUTERS=1
    rc=0
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    timeout -k 10 $((900 + ${#TOOLS[@]} * (SECS + 600))) unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    if [[ -s $W/results.tsv ]]; then
        r() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$W/results.tsv"; }
        echo
        echo "== disk slow: $N torrents of $KIB KiB on a slow disk (FUSE: $SEEK ms a seek," \
            "$MBPS MB/s, one request at a time), $NL leechers ($(date -u +%F))"
        echo "   command: DISK_SLOW_N=$N DISK_SLOW_KIB=$KIB DISK_SLOW_LEECHERS=$NL" \
            "DISK_SLOW_OTHER_MIB=$OTHER DISK_SLOW_SHOWS=$SHOWS DISK_SLOW_SECONDS=$SECS" \
            "DISK_SLOW_SEEK_MS=$SEEK DISK_SLOW_MBPS=$MBPS bash tests/bench/disk.sh slow"
        echo "   the slow disk gives: dd bs=1M $(r dd_mbps) MB/s; piece size $(r plen);" \
            "$(nproc) CPUs; BENCH_TMP on $(df -P "$W" | awk 'NR == 2 { print $1 }')" \
            "($(findmnt -no FSTYPE -T "$W"))"
        fmt='%-13s %9s %17s %9s %5s %8s %9s %9s %11s %12s %6s  %s\n'
        # shellcheck disable=SC2059 # the format is the table's, above
        printf "$fmt" seeder "sent MB/s" "got" "read/sent" busy "a read" "show med" "show max" \
            "other alone" "other loaded" ratio "disk finding"
        for tool in "${TOOLS[@]}"; do
            st=$(r "$tool.status")
            if [[ $tool == ttui ]]; then
                seen=$(r ttui.disk_seen)
                [[ $seen == - || $seen == 0 ]] && fd=none || fd="$seen of $(r ttui.disk_asked)"
                # shellcheck disable=SC2059
                printf "$fmt" "$tool" "$(r ttui.sent_mbps)" "$(r ttui.got_all)" "$(r ttui.read_sent)" \
                    "$(r ttui.disk_busy)" "$(r ttui.read_ms) ms" "$(r ttui.show_med_ms) ms" "$(r ttui.show_max_ms) ms" \
                    "$(r ttui.other_alone_mbps) MB/s" "$(r ttui.other_load_mbps) MB/s" \
                    "$(r ttui.other_ratio)" "$fd"
            else
                # shellcheck disable=SC2059
                printf "$fmt" "$tool" "$(r "$tool.sent_mbps")" "$(r "$tool.got_all")" \
                    "$(r "$tool.read_sent")" "$(r "$tool.disk_busy")" "$(r "$tool.read_ms") ms" - - - - - -
            fi
            [[ $st == ok ]] || echo "   $tool: $st"
        done
        t=$(r ttui.sent_mbps) x=$(r transmission.sent_mbps)
        if [[ $t != - && $x != - ]] && exceeds "$x" 0; then
            echo "ttui over transmission-daemon, bytes sent per second: $(calc "int($t / $x * 100 + 0.5) / 100")"
        fi
        echo "ttui's disk finding: $(r ttui.disk_finding)"
        echo "(sent MB/s: the payload all $NL leechers got over the time until they had it all, or"
        echo " DISK_SLOW_SECONDS ($SECS); got: that time, or the share they got by then; read/sent: bytes"
        echo " read from the slow disk over bytes sent; busy: the slow disk's busy time over the run"
        echo " (work queued at its end counts, so it can pass 100%); a read: what a request to the slow"
        echo " disk took on average, its queue included (a FUSE request is at most 128 KiB);"
        echo " show: wall time of \`ttui show ID\` of a seed on the slow disk, $SHOWS times under the load;"
        echo " other: the daemon downloading $OTHER MiB from a libtorrent seeder to the normal disk, alone"
        echo " (the seeds idle) and under the load, first byte to complete; disk finding: \`ttui show"
        echo " --json\`'s explain has check \"disk\" (how many of the seeds asked, one a show); MB = 10^6 B)"
        tr '\n' ';' <"$W/load.txt" | sed 's/;$/ (1, 5, 15 min)\n/; s/;/; /'
        [[ $(r ttui.status) == ok || ! " ${TOOLS[*]} " =~ " ttui " ]] || rc=1
    else
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: no network
ip link set lo up
RESULTS=$W/results.tsv
: >"$RESULTS"
MNT=$W/mnt
FSPID=""
TRPID=""
tr_locks() { # pid: transmission's RPC lock files, /tmp/tr_session_id_<id>, which outlive it
    find "/proc/$1/fd" -lname '/tmp/tr_session_id_*' -printf '%l\n' 2>/dev/null || true
}
inner_exit() {
    local locks=""
    if [[ -n $TRPID ]]; then locks=$(tr_locks "$TRPID"); fi
    stop_all
    [[ -z $locks ]] || xargs -r rm -f <<<"$locks"
    if mountpoint -q "$MNT"; then fusermount -u -z "$MNT" || true; fi
    rm -rf "${LEECH:?}"/* 2>/dev/null || true
}
trap inner_exit EXIT
trap 'exit 130' INT TERM
put() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }


# -- the payloads, written to the backing directory (the mount adds nothing to writing them)
note "writing $N payloads of $KIB KiB and their torrents"
for ((i = 0; i < N; i++)); do
    f=$(printf 's%03d.bin' "$i")
    keystream "$W/backing/$f" "$KIB"
    "$TTUI" create --v1 --no-date --json -o "$W/torrents/${f%.bin}.torrent" "$W/backing/$f" \
        >"$W/create.json" || die "ttui create failed for $f"
done
put plen "$(($($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["piece_length"])' \
    "$W/create.json") >> 10)) KiB"
keystream "$W/other/o.bin" $((OTHER << 10))
"$TTUI" create --v1 --no-date -o "$W/other.torrent" "$W/other/o.bin" >/dev/null || die "ttui create failed"
OTHER_BYTES=$((OTHER << 20))
keystream "$W/backing/dd.bin" 65536
sync

# -- the slow disk
spawn "$W/logs/slowfs.log" "$PY" "$HERE/slowfs.py" "$W/backing" "$MNT" "$W/slowfs.stats" \
    --seek-ms "$SEEK" --mbps "$MBPS"
FSPID=$SPAWNED
wait_for 20 "the slow file system" mountpoint -q "$MNT" || die "slowfs did not mount (see $W/logs/slowfs.log)"
ddm=$(dd if="$MNT/dd.bin" of=/dev/null bs=1M 2>&1 | awk '/copied/ { print $(NF - 1), $NF }')
note "dd through the slow disk: $ddm"
put dd_mbps "$(awk -v s="$ddm" 'BEGIN { split(s, a, " "); v = a[1]; if (a[2] == "GB/s") v *= 1000;
    else if (a[2] == "kB/s") v /= 1000; print v }')"
rm -f "$W/backing/dd.bin"

fsstat() { # name: a counter of the slow disk (slowfs.py's stats file)
    awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$W/slowfs.stats" 2>/dev/null || echo 0
}
busy() { fsstat busy_s; }
leech_total() { awk '/^total / { t = $2 } END { print t + 0 }' "$1"; }
leech_done() { grep -q '^done' "$1"; }

# leechers_start TAG ADDR: the leechers against the seeder at ADDR (LPID while they run);
# leechers_end TAG waits until they have everything or DISK_SLOW_SECONDS passed, records
# TAG.sent_mbps and sets LEECH_ST (empty when they got everything).
leechers_start() {
    spawn "$W/logs/$1.leech.log" "$PY" "$HERE/lt_leechers.py" --torrents "$W/torrents" \
        --save "$LEECH/$1" -n "$NL" --ip-base 127.0.0.70 --port 7100 --peer "$2" \
        --max-seconds $((SECS + 120))
    LPID=$SPAWNED
    wait_for 60 "the leechers" grep -q '^ready' "$W/logs/$1.leech.log" || return 1
    L0=$(now)
    B0=$(busy)
    R0=$(fsstat read_bytes)
    Q0=$(fsstat wait_s)
    N0=$(fsstat reads)
}
leechers_end() { # tag
    local log=$W/logs/$1.leech.log left got el
    LEECH_ST=""
    left=$(calc "$SECS - ($(now) - $L0)")
    exceeds "$left" 0 || left=1
    wait_for "${left%.*}" "$NL leechers to get every torrent from $1 (the window ends first)" leech_done "$log" || true
    el=$(calc "$(now) - $L0")
    got=$(leech_total "$log")
    if leech_done "$log"; then el=$(awk '/^done/ { print $2; exit }' "$log"); fi
    put "$1.sent_mbps" "$(calc "int($got / $el / 1e4 + 0.5) / 100")"
    put "$1.disk_busy" "$(calc "int(($(busy) - $B0) / $el * 100 + 0.5)")%"
    put "$1.read_sent" "$(calc "int(($(fsstat read_bytes) - $R0) / ($got + 1) * 100 + 0.5) / 100")"
    put "$1.read_ms" "$(calc "int(($(fsstat wait_s) - $Q0) / ($(fsstat reads) - $N0 + 1) * 1e4 + 0.5) / 10")"
    if leech_done "$log"; then put "$1.got_all" "$(calc "int($el * 10 + 0.5) / 10") s"; else
        put "$1.got_all" "$(calc "int($got / $((N * KIB * 1024)) * 100)")% in $(calc "int($el + 0.5)") s"
    fi
    note "$1: the leechers got $(calc "$got / 1e6") MB in $el s ($(calc "$got / $el / 1e6") MB/s)"
    stop "$LPID"
    rm -rf "${LEECH:?}/$1"
    ((got > 0)) || LEECH_ST="the leechers got nothing"
}

# ---------------------------------------------------------------- ttui
run_ttui() {
    local st=ok sd=$W/ttui-state pid addr=127.0.0.21:7001
    export XDG_RUNTIME_DIR=$W/ttui-run
    mkdir -p "$XDG_RUNTIME_DIR" "$sd"
    chmod 700 "$XDG_RUNTIME_DIR"
    t() { "$TTUI" "$@" --no-config --state-dir "$sd"; }
    sync
    echo 3 >/proc/sys/vm/drop_caches
    spawn "$W/logs/ttui.out" "$TTUI" daemon --no-config --state-dir "$sd" \
        --log-file "$W/logs/ttui.engine.log" --bind 127.0.0.21 --port 7001 -o "$MNT" \
        --no-dht --no-lsd --no-pex --no-port-mapping --no-trackers
    pid=$SPAWNED
    wait_for 30 "the ttui daemon" t list --json >/dev/null || {
        put ttui.status "no daemon"
        return
    }
    local t0 c
    t0=$(now)
    t add -o "$MNT" "$W"/torrents/*.torrent >/dev/null || {
        put ttui.status "add failed"
        return
    }
    seeding() { c=$(t list --json | jq '[.[] | select(.state == "seeding")] | length') && ((c >= N)); }
    wait_for 600 "ttui to check and seed $N torrents" seeding || {
        put ttui.status "$c of $N seeding after 600 s"
        return
    }
    note "ttui: $N torrents checked and seeding in $(calc "$(now) - $t0") s"
    put ttui.check_s "$(calc "$(now) - $t0")"

    other_dl alone || st="other download (alone): $OTHER_ST"
    # The seeds' ids, from the list: the one timed, and those asked for the explainer.
    mapfile -t ids < <(t list --json | jq -r '.[] | select(.name | startswith("s")) | .id')
    sync
    echo 3 >/proc/sys/vm/drop_caches
    leechers_start ttui "$addr" || {
        put ttui.status "leechers did not start"
        return
    }
    sleep 3
    other_dl load || st="other download (under load): $OTHER_ST"
    if exceeds "$(r_ other_alone)" 0; then
        put ttui.other_ratio "$(calc "int($(r_ other_load) / $(r_ other_alone) * 100 + 0.5) / 100")"
    fi
    local i a b ms=() seen=0 asked=0 ev="" id=${ids[0]} j every pace
    # Spread over most of what is left of the window, so they see the load as it goes on.
    every=$(calc "($SECS - ($(now) - $L0)) * 0.7 / $SHOWS")
    for ((i = 0; i < SHOWS; i++)); do
        pace=$(awk -v a="$(now)" -v b="$every" 'BEGIN { printf "%.3f", a + b }')
        a=$(date +%s%N)
        t show "$id" >/dev/null || note "ttui show $id failed"
        b=$(date +%s%N)
        ms+=("$(((b - a) / 1000000))")
        j=${ids[$(((i * 7 + 1) % ${#ids[@]}))]}
        t show --json "$j" >"$W/show.json" 2>/dev/null || continue
        asked=$((asked + 1))
        e=$(jq -r '[.explain[]? | select(.check == "disk") | .evidence] | first // empty' "$W/show.json")
        if [[ -n $e ]]; then
            seen=$((seen + 1))
            [[ -n $ev ]] || ev="$e"
        fi
        if ((i == SHOWS / 2)); then cp "$W/show.json" "$W/logs/show-mid.json"; fi
        pace=$(calc "$pace - $(now)")
        if exceeds "$pace" 0; then sleep "$pace"; fi
    done
    printf '%s\n' "${ms[@]}" >"$W/show_ms.txt"
    put ttui.show_med_ms "$(sort -n "$W/show_ms.txt" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
    put ttui.show_max_ms "$(sort -n "$W/show_ms.txt" | tail -1)"
    put ttui.disk_seen "$seen"
    put ttui.disk_asked "$asked"
    put ttui.disk_finding "${ev:-none}"
    note "ttui show: $(tr '\n' ' ' <"$W/show_ms.txt")ms; disk finding in $seen of $asked: ${ev:-none}"
    leechers_end ttui
    [[ -z $LEECH_ST ]] || st=$LEECH_ST
    put ttui.uploaded "$(t list --json | jq '[.[] | select(.name | startswith("s")) | .uploaded] | add')"
    stop "$pid"
    put ttui.status "$st"
    unset XDG_RUNTIME_DIR
}
r_() { awk -F'\t' -v k="ttui.$1_mbps" '$1 == k { v = $2 } END { print v + 0 }' "$RESULTS"; }

# other_dl alone|load: the daemon downloads $W/other.torrent from a libtorrent seeder on the
# normal disk into $W/other/TAG; its rate from the first byte to complete, as ttui.other_TAG_mbps.
other_dl() {
    local tag=$1 sp id t1="" ta="" ba=0 row end vb=0 dl state
    OTHER_ST=ok
    t add -o "$W/other/$tag" "$W/other.torrent" >/dev/null || {
        OTHER_ST="add failed"
        return 1
    }
    id=$(t list --json | jq -r '.[] | select(.name == "o.bin") | .id')
    spawn "$W/logs/other-$tag.log" "$PY" "$REPO/assets/seeders/lt_seed.py" --torrent "$W/other.torrent" \
        --save "$W/other" --ip 127.0.0.30 --port 7200 --seed-mode --announce-wait 0 \
        --peer 127.0.0.21:7001 --max-seconds 600
    sp=$SPAWNED
    end=$(($(date +%s) + 300))
    while (($(date +%s) < end)); do
        row=$(t list --json | jq -r ".[] | select(.id == $id) | \"\(.verified_bytes) \(.downloaded) \(.state)\"")
        read -r vb dl state <<<"$row"
        if [[ -z $ta ]] && ((dl > 0)); then
            ta=$(now)
            ba=$vb
        fi
        if [[ $state == seeding ]] || ((vb >= OTHER_BYTES)); then
            t1=$(now)
            break
        fi
        sleep 0.1
    done
    stop "$sp"
    t remove "$id" --delete-data >/dev/null || true
    if [[ -z $t1 || -z $ta ]]; then
        OTHER_ST="not complete after 300 s ($vb bytes verified)"
        put "ttui.other_${tag}_mbps" 0
        return 1
    fi
    put "ttui.other_${tag}_mbps" "$(calc "int(($OTHER_BYTES - $ba) / ($t1 - $ta) / 1e4 + 0.5) / 100")"
    note "ttui: the other-disk download ($tag): $(calc "($OTHER_BYTES - $ba) / ($t1 - $ta) / 1e6") MB/s"
}

# ---------------------------------------------------------------- transmission-daemon 3.00
run_transmission() {
    local st=ok pid rpc=127.0.0.22:9091 c=0 cfg=$W/tr
    mkdir -p "$cfg"
    cat >"$cfg/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.22", "bind-address-ipv6": "::1",
  "peer-port": 7002, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.22", "rpc-port": 9091,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "$MNT", "incomplete-dir-enabled": false, "speed-limit-up-enabled": false,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "message-level": 1,
  "download-queue-enabled": false, "seed-queue-enabled": false
}
EOF
    sync
    echo 3 >/proc/sys/vm/drop_caches
    spawn "$W/logs/transmission.log" transmission-daemon -f -g "$cfg"
    pid=$SPAWNED
    TRPID=$pid
    wait_for 30 "transmission's RPC" transmission-remote "$rpc" -l >/dev/null || {
        put transmission.status "no RPC"
        return
    }
    local t0
    t0=$(now)
    local f
    for f in "$W"/torrents/*.torrent; do # one at a time: given several, it adds only the last
        transmission-remote "$rpc" -a "$f" >/dev/null || {
            put transmission.status "add failed ($f)"
            return
        }
    done
    seeding() { c=$(transmission-remote "$rpc" -l | grep -c ' 100% ') && ((c >= N)); }
    wait_for 600 "transmission to check $N torrents" seeding || {
        put transmission.status "$c of $N complete after 600 s"
        return
    }
    note "transmission: $N torrents checked in $(calc "$(now) - $t0") s"
    put transmission.check_s "$(calc "$(now) - $t0")"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    leechers_start transmission 127.0.0.22:7002 || {
        put transmission.status "leechers did not start"
        return
    }
    leechers_end transmission
    [[ -z $LEECH_ST ]] || st=$LEECH_ST
    local locks
    locks=$(tr_locks "$pid")
    stop "$pid"
    TRPID=""
    [[ -z $locks ]] || xargs -r rm -f <<<"$locks"
    put transmission.status "$st"
}

for tool in "${TOOLS[@]}"; do
    case $tool in
    ttui) run_ttui ;;
    transmission) run_transmission ;;
    *) die "unknown tool $tool (ttui, transmission)" ;;
    esac
done
fusermount -u "$MNT" || fusermount -u -z "$MNT" || true
stop "$FSPID"
