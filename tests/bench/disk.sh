#!/usr/bin/env bash
# The disk: how fast ttui checks data already on disk, against the hashing floor, the device
# and two other clients, all in one run. Three parts, each its own table:
#
#   check  the check of a complete torrent's data (what the first check, `ttui verify` and a
#          resume check after an unclean stop all run), cached and cold, against
#            - the SHA-1 floor: `openssl speed -bytes 16384 sha1` (one core) x `nproc`, and
#              `openssl speed -multi $(nproc)` (all cores, measured, shows what the load left),
#              each taken at the start and the end of the run (the mean of the two);
#            - the device: `dd bs=4M` of the same files, after the same drop of the cache;
#            - python3-libtorrent 2.0.8's `force_recheck` and transmission-daemon 3.00's verify
#              (`transmission-remote -v`, here its RPC `torrent-verify`);
#   seed   seeding read amplification: bytes read from the device per byte sent to 3 leechers
#          by a seeder in a 128 MiB memory cgroup, against transmission-daemon and libtorrent
#          (tests/bench/disk_seed.sh, which says how)
#   slow   a slow disk does not stall the session: 200 torrents seeding from a FUSE file system
#          as slow as a hard disk to 20 leechers; the control socket's answer time, a download
#          on another disk alone and under that load, the explainer's disk finding, and bytes
#          sent per second against transmission-daemon (tests/bench/disk_slow.sh, which says how)
#
# The payload is a directory of files of different sizes (1/2, 1/4, 3/16, 3/64, 3/256 of the
# whole and 64 small files in a subdirectory; AES-CTR keystream from `openssl enc`, keyed by
# each file's name) and its v1 torrent from `ttui create --v1` (the piece size it picks).
#
# How each check is timed:
#   ttui          `ttui TORRENT --headless -o DIR --no-trackers` with the data complete: the
#                 headless one-shot checks every piece (the same Check and
#                 Storage::check_existing that `ttui verify` restarts a torrent into) and exits
#                 once the torrent is complete. Wall and CPU from /usr/bin/time: process start
#                 and exit included (a few ms). This is the quickest honest timing: no daemon,
#                 no polling, and nothing trusted from a previous run (a new empty
#                 --state-dir each time, --no-config).
#   libtorrent    added in seed mode (nothing read), then force_recheck timed to its
#                 torrent_checked_alert; CPU of the python process over that time (os.times).
#                 Its settings are the defaults (hashing_threads 1, aio_threads 10).
#   transmission  one daemon for the run, bound to 127.0.0.1, DHT/LSD/uTP/PEX/port mapping
#                 off, the torrent added paused; each verify polled by RPC every 50 ms until
#                 its status leaves "check wait"/"check"; the daemon's CPU from /proc over that
#                 time.
#   dd            `dd if=FILE of=/dev/null bs=4M` of every file in turn.
# "cached": every file read once before each check (cat). "cold": `sync; echo 3 >
# /proc/sys/vm/drop_caches` before each (if refused, or if pages stay, posix_fadvise DONTNEED
# on each file); `fincore` then says how much of the payload was still resident, printed
# under the table. Each round takes the tools in an order that rotates and reverses every
# other round; the figures are medians of the rounds. "cores" is CPU over wall (how many
# cores a tool kept busy), "sys" its system CPU over wall (the kernel's part of "cores":
# page cache, copies), "thr" how many of its threads each did a tenth or more of its CPU
# (sampled from /proc every 50 ms). MB = 10^6 bytes.
#
#   bash tests/bench/disk.sh [check|seed|slow|all]     (all by default)
#   DISK_BENCH_GIB=1 bash tests/bench/disk.sh check    # a quicker run
#
# Environment: DISK_BENCH_GIB (4; a whole number of GiB), DISK_BENCH_MIB (overrides it, for a
# smoke test), DISK_RUNS (5 rounds), DISK_TIMEOUT (300 s a check), DISK_TTUI (a ttui binary;
# default: a release build in CARGO_TARGET_DIR), BENCH_TMP (/work/bench-tmp: the work directory,
# payload included, goes under it and is removed at the end; its file system must have the
# room, which is checked), DISK_KEEP=1 keeps it.
#
# Needs root (unshare -n, drop_caches). Nothing here uses a network: after the build
# everything runs in a network namespace with only `lo`. Dropping the page cache is
# machine-wide: other work on the machine reads its files again afterwards.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
TOOLS=$HERE/disk_tools.py
usage() { echo "usage: $0 [check|seed|slow|all]" >&2; }
PART=${1:-all}
case $PART in
check | seed | slow | all) ;;
*)
    usage
    exit 2
    ;;
esac
if [[ -n ${DISK_BENCH_MIB:-} ]]; then
    MIB=$DISK_BENCH_MIB
else
    GIB=${DISK_BENCH_GIB:-4}
    [[ $GIB =~ ^[1-9][0-9]*$ ]] || {
        echo "DISK_BENCH_GIB must be a whole number of GiB (DISK_BENCH_MIB for less)" >&2
        exit 2
    }
    MIB=$((GIB * 1024))
fi
[[ $MIB =~ ^[1-9][0-9]*$ ]] || {
    echo "DISK_BENCH_MIB must be a positive whole number" >&2
    exit 2
}
RUNS=${DISK_RUNS:-5}
TIMEOUT=${DISK_TIMEOUT:-300}
# The namespace's half runs this script again: it reads these.
export DISK_BENCH_MIB=$MIB DISK_RUNS=$RUNS DISK_TIMEOUT=$TIMEOUT
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${DISK_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n and drop_caches need it)"
    started=$(date +%s)
    rc=0
    if [[ $PART == check || $PART == all ]]; then
        for tool in openssl transmission-daemon transmission-remote unshare fincore dd; do
            command -v $tool >/dev/null || die "$tool is missing (tests/run.sh installs the clients)"
        done
        [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
        $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
        TMPROOT=${BENCH_TMP:-/work/bench-tmp}
        mkdir -p "$TMPROOT"
        # Room for the payload, its torrent and the clients' small files.
        free=$(df -Pm "$TMPROOT" | awk 'NR == 2 { print $4 }')
        if ((free < MIB + 512)); then
            die "$TMPROOT has $free MiB free: the $MIB MiB payload needs $((MIB + 512)) MiB" \
                "(set BENCH_TMP to a roomier file system, or DISK_BENCH_GIB smaller)"
        fi
        avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
        ((avail > MIB + 1024)) ||
            die "$avail MiB of memory available: too little to hold $MIB MiB in the page cache for the cached checks"
        TTUI=${DISK_TTUI:-$TARGET/release/ttui}
        if [[ -z ${DISK_TTUI:-} ]]; then
            note "building ttui (release) in $TARGET"
            (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
        fi
        [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
        W=$(mktemp -d "$TMPROOT/disk.XXXXXX")
        note "$free MiB free in $TMPROOT; work directory $W"
        # shellcheck disable=SC2317 # run by the EXIT trap
        cleanup() {
            if [[ -n ${DISK_KEEP:-} ]]; then
                note "work directory kept: $W"
            else
                rm -rf "$W"
                rmdir "$TMPROOT" 2>/dev/null || true
            fi
        }
        trap cleanup EXIT
        mkdir -p "$W"/{logs,times,data,state}
        export DISK_INNER=1 W TTUI TTUI_NO_PUBLIC_ROUTERS=1
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
        timeout -k 10 $((900 + RUNS * 8 * (TIMEOUT + 60))) unshare -n -- bash "${BASH_SOURCE[0]}" check || rc=$?
        echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
        if [[ -s $W/results.tsv && -s $W/meta.json ]]; then
            echo
            echo "== disk check: $MIB MiB in $(cat "$W/files.txt") files, v1, piece size" \
                "$(cat "$W/plen.txt") ($(date -u +%F), medians of $RUNS)"
            echo "   command: DISK_BENCH_MIB=$MIB DISK_RUNS=$RUNS bash tests/bench/disk.sh check"
            echo "   $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
                "SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no);" \
                "$(df -P "$W" | awk 'NR == 2 { print $1 }') ($(findmnt -no FSTYPE -T "$W"))"
            $PY "$TOOLS" report "$W/results.tsv" "$W/meta.json" || rc=$?
            echo "(medians; cached: MB/s over openssl sha1 x $(nproc) cores, the mean of its runs at the start"
            echo " and the end; cold: over dd of the same files after the same drop; cores: CPU over wall;"
            echo " sys: system CPU over wall; thr: threads doing a tenth or more of the CPU; MB = 10^6 bytes)"
            echo "cold: $(cat "$W/drop.txt")"
            tr '\n' ';' <"$W/load.txt" | sed 's/;$/ (1, 5, 15 min)\n/; s/;/; /'
        else
            rc=1
        fi
    fi
    if [[ $PART == seed || $PART == all ]]; then bash "$HERE/disk_seed.sh" || rc=$?; fi
    if [[ $PART == slow || $PART == all ]]; then bash "$HERE/disk_slow.sh" || rc=$?; fi
    note "took $(($(date +%s) - started)) s"
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: no network
[[ ${1:-} == check ]] || die "the inner phase runs the check part only"
ip link set lo up
RESULTS=$W/results.tsv
: >"$RESULTS"
TRPID=""
inner_exit() {
    if [[ -n $TRPID ]]; then tr_stop check; fi
    stop_all
}
trap inner_exit EXIT
trap 'exit 130' INT TERM

# ---- the payload: sizes in KiB, scaled to MIB
D=$W/data/set
mkdir -p "$D/small"
note "writing $MIB MiB in $D"
k=$((MIB << 10))
keystream "$D/a.bin" $((k / 2))
keystream "$D/b.bin" $((k / 4))
keystream "$D/c.bin" $((k * 3 / 16))
keystream "$D/d.bin" $((k * 3 / 64))
keystream "$D/e.bin" $((k * 3 / 256))
for ((i = 0; i < 64; i++)); do keystream "$D/small/s$i.bin" $((k / 256 / 64)); done
mapfile -t FILES < <(find "$D" -type f | sort)
echo "${#FILES[@]}" >"$W/files.txt"
BYTES=$(find "$D" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
sync

TORRENT=$W/check.torrent
"$TTUI" create --v1 --no-date --json -o "$TORRENT" "$D" >"$W/create.json" ||
    die "ttui create failed"
PLEN=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["piece_length"])' "$W/create.json")
echo "$((PLEN >> 10)) KiB" >"$W/plen.txt"
note "torrent made: piece size $PLEN, $BYTES bytes in ${#FILES[@]} files"

# ---- the SHA-1 floor: one core, and all cores measured, at the start and at the end
OSSL_1=() OSSL_M=()
openssl_floor() {
    openssl speed -seconds 3 -bytes 16384 sha1 >"$W/logs/openssl-1.txt" 2>/dev/null
    OSSL_1+=("$($PY "$TOOLS" openssl-rate "$W/logs/openssl-1.txt")")
    openssl speed -multi "$(nproc)" -seconds 3 -bytes 16384 sha1 >"$W/logs/openssl-m.txt" 2>/dev/null
    OSSL_M+=("$($PY "$TOOLS" openssl-rate "$W/logs/openssl-m.txt")")
    note "openssl sha1: ${OSSL_1[-1]} B/s one core, ${OSSL_M[-1]} B/s on $(nproc)"
}
openssl_floor

# ---- the cache: how a cold check starts
resident() { fincore --bytes --noheadings --output RES "${FILES[@]}" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
DROP=drop_caches
RESIDENT_MAX=0
cold() {
    sync
    if [[ $DROP == drop_caches ]] && ! (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        note "drop_caches refused: posix_fadvise(DONTNEED) on each file instead"
        DROP="posix_fadvise DONTNEED (drop_caches refused)"
    fi
    if [[ $DROP != drop_caches ]]; then $PY "$TOOLS" evict "${FILES[@]}"; fi
    local res
    res=$(resident)
    if [[ $DROP == drop_caches ]] && ((res > BYTES / 100)); then
        note "drop_caches left $res bytes of the payload resident: posix_fadvise(DONTNEED) from now on"
        DROP="posix_fadvise DONTNEED (drop_caches left ${res} bytes)"
        $PY "$TOOLS" evict "${FILES[@]}"
        res=$(resident)
    fi
    ((res > RESIDENT_MAX)) && RESIDENT_MAX=$res
    return 0
}
warm() { cat "${FILES[@]}" >/dev/null; }
# The payload's pages as a check finds data written long ago: read back from the disk, not
# left from the writes (libtorrent's first check, through mmap, took 3 times the CPU of the
# others when the cache still held the pages written).
cold

# ---- transmission-daemon: one for the run, the torrent added paused
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TRPORT=$(free_port)
PEERPORT=$(free_port)
mkdir -p "$W/tr"
cat >"$W/tr/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": $PEERPORT, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": $TRPORT,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "$W/data", "incomplete-dir-enabled": false, "start-added-torrents": false,
  "speed-limit-up-enabled": false, "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
  "message-level": 1
}
EOF
spawn "$W/logs/transmission.log" transmission-daemon -f -g "$W/tr"
TRPID=$SPAWNED
TR_PID[check]=$TRPID
TRURL=http://127.0.0.1:$TRPORT/transmission/rpc
wait_for 30 "transmission-daemon's RPC" transmission-remote "127.0.0.1:$TRPORT" -l >/dev/null
TRID=$($PY "$TOOLS" tr-add "$TRURL" "$TORRENT" "$W/data")

# ---- one timed check: mode (cached|cold), tool, round
one() {
    local mode=$1 tool=$2 run=$3 log=$W/logs/$2-$1-$3.log tf=$W/times/$2-$1-$3
    local st=ok wall=0 cpu=0 sys=0 thr="" pid u out have of spid
    if [[ $mode == cached ]]; then warm; else cold; fi
    case $tool in
    ttui)
        spawn "$log" timeout -k 5 "$TIMEOUT" /usr/bin/time -f '%e %U %S' -o "$tf" \
            "$TTUI" "$TORRENT" --headless -o "$W/data" --no-config --state-dir "$W/state/$mode-$run" \
            --log-file "$W/logs/ttui-$mode-$run.engine.log" --no-trackers --no-dht --no-lsd --no-pex \
            --no-port-mapping --port 0 --bind 127.0.0.1
        pid=$SPAWNED
        thr=$($PY "$TOOLS" busy "$pid" "$((TIMEOUT + 10))" "$W/none")
        wait "$pid" || st="exit $?"
        forget "$pid"
        read -r wall u sys < <(tail -1 "$tf")
        cpu=$(calc "$u + $sys")
        [[ $st != ok ]] || grep -q '^complete:' "$log" || st=incomplete
        ;;
    libtorrent)
        spawn "$log" timeout -k 5 "$((TIMEOUT + 30))" "$PY" "$TOOLS" lt-check "$TORRENT" "$W/data" "$TIMEOUT"
        pid=$SPAWNED
        thr=$($PY "$TOOLS" busy "$pid" "$((TIMEOUT + 40))" "$W/none")
        wait "$pid" || st="exit $?"
        forget "$pid"
        if [[ $st == ok ]]; then
            read -r wall cpu sys have of < <(tail -1 "$log")
            [[ $have == "$of" ]] || st="$have of $of pieces"
        fi
        ;;
    transmission)
        rm -f "$W/stop"
        $PY "$TOOLS" busy "$TRPID" "$((TIMEOUT + 10))" "$W/stop" >"$W/busy.txt" &
        spid=$!
        out=$($PY "$TOOLS" tr-verify "$TRURL" "$TRID" "$TRPID" "$TIMEOUT" 2>>"$log") || st=failed
        touch "$W/stop"
        wait "$spid" || true
        rm -f "$W/stop"
        thr=$(cat "$W/busy.txt")
        if [[ $st == ok ]]; then
            read -r wall cpu sys have of <<<"$out"
            [[ $have == "$of" ]] || st="$have of $of bytes valid"
        fi
        ;;
    dd)
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout -k 5 "$TIMEOUT" /usr/bin/time -f '%e %U %S' -o "$tf" \
            bash -c 'for f; do dd if="$f" of=/dev/null bs=4M status=none; done' _ "${FILES[@]}" \
            >"$log" 2>&1 || st="exit $?"
        read -r wall u sys < <(tail -1 "$tf")
        cpu=$(calc "$u + $sys")
        ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tool" "$run" "$wall" "$cpu" "$sys" "$st" "$thr" >>"$RESULTS"
    note "$(printf '%-6s %-12s run %s: wall %7.2f s  cpu %7.2f s (sys %5.2f)  %7.0f MB/s  threads %-2s %s' \
        "$mode" "$tool" "$run" "$wall" "$cpu" "$sys" "$(calc "$BYTES / 1e6 / ($wall + 1e-9)")" "$thr" "$st")"
}

tools=(ttui libtorrent transmission dd)
n=${#tools[@]}
for ((run = 1; run <= RUNS; run++)); do
    for mode in cached cold; do
        # Round r starts at tool r, forward in odd rounds and backward in even ones.
        for ((j = 0; j < n; j++)); do
            if ((run % 2)); then i=$(((run + j) % n)); else i=$(((run - j + 2 * n) % n)); fi
            one "$mode" "${tools[$i]}" "$run"
        done
    done
done
openssl_floor

# Nothing but the payload in the data directory: no client left files beside it.
extra=$(find "$W/data" -mindepth 1 -maxdepth 1 ! -name set -printf '%f ')
[[ -z $extra ]] || note "files left beside the payload: $extra"

{
    printf '{"bytes": %s, "nproc": %s, "openssl_1": [%s], "openssl_multi": [%s]}\n' \
        "$BYTES" "$(nproc)" "$(
            IFS=,
            echo "${OSSL_1[*]}"
        )" "$(
            IFS=,
            echo "${OSSL_M[*]}"
        )"
} >"$W/meta.json"
echo "cache dropped by $DROP before each check; payload resident at a cold start: at most" \
    "$((RESIDENT_MAX >> 20)) MiB of $((BYTES >> 20)) (fincore)" >"$W/drop.txt"
