#!/usr/bin/env bash
# Memory per torrent: a library of N small seeding torrents (as in session_scale.sh: one
# opentracker on loopback, no peers, `ttui daemon` on its defaults) and the daemon's VmRSS once
# all N seed, the tracker lists them all and MEM_SETTLE seconds have passed. Run it at two sizes:
# the slope between them is what each torrent costs, apart from the daemon's fixed costs.
#   MEM_MODE=awake    dormancy off (TTUI_DORMANT_AFTER_SECS=0): every torrent's task runs
#   MEM_MODE=asleep   torrents sleep after MEM_SLEEP_AFTER (5) quiet seconds: their slots only,
#                     with the few woken meanwhile for their announces
#   MEM_RESTART=1     then stops the daemon, starts it again on the same state, and gives its
#                     VmRSS once all seed again and MEM_SETTLE seconds have passed
#   MEM_HEAPTRACK=DIR runs the first daemon under heaptrack (its file in DIR) and kills it with
#                     SIGKILL at the measurement, so heaptrack's "leaked" is the live heap then:
#                       heaptrack_print -f FILE --flamegraph-cost-type leaked -F stacks.txt
#   MEM_N=1000 MEM_SETTLE=20 MEM_TTUI=target/debug/ttui
#
#   MEM_N=1000 MEM_MODE=awake bash tests/bench/session_memory.sh
#
# Needs root (unshare), opentracker, jq. Everything runs in a network namespace with only `lo`;
# every process is stopped by its pid and the work directory is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N=${MEM_N:-1000} MODE=${MEM_MODE:-awake} SETTLE=${MEM_SETTLE:-20}
TRACKER=127.0.0.1:16969 BATCH=500
note() { printf '[memory %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${MEM_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    command -v opentracker >/dev/null || die "opentracker is missing"
    command -v jq >/dev/null || die "jq is missing"
    [[ $MODE == awake || $MODE == asleep ]] || die "MEM_MODE is awake or asleep"
    BIN=$(realpath "${MEM_TTUI:-$REPO/target/debug/ttui}")
    [[ -x $BIN ]] || die "no ttui at $BIN (cargo build --bin ttui)"
    WORK=$(mktemp -d /tmp/ttui-memory-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    # The same library as session_scale.sh's: 1-4 pieces of 16 KiB each.
    python3 "$HERE/gen_torrents.py" "$N" "$WORK/torrents" "$WORK/data" --min-kib 16 --max-kib 64 \
        --piece-kib 16 --announce "http://$TRACKER/announce" --hashes "$WORK/hashes.txt" >/dev/null
    inner='ip link set lo up; exec bash "$0"'
    MEM_INNER=1 WORK=$WORK TBIN=$BIN TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c "$inner" "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
library_inner

if [[ $MODE == awake ]]; then
    export TTUI_DORMANT_AFTER_SECS=0
else
    export TTUI_DORMANT_AFTER_SECS=${MEM_SLEEP_AFTER:-5}
fi

# Polls until all N seed (bounded); prints how many do.
wait_seeding() {
    local c=0
    for _ in $(seq 1200); do
        c=$(ttui_seeding 2>/dev/null || echo 0)
        [[ $c -ge $N ]] && break
        kill -0 "$PID" 2>/dev/null || die "ttui exited (see $TDIR)"
        sleep 0.5
    done
    echo "$c"
}

mkdir -p "$WORK/ttui"
tracker_start ttui
if [[ -n ${MEM_HEAPTRACK:-} ]]; then
    mkdir -p "$TDIR" "$MEM_HEAPTRACK"
    heaptrack -o "$MEM_HEAPTRACK/heaptrack-$MODE-$N" "$TBIN" daemon --no-config \
        --state-dir "$TDIR/state" --log-file "$TDIR/ttui.log" --no-dht --bind 127.0.0.1 \
        --port 0 -o "$DATA" >>"$TDIR/out" 2>&1 &
    PID=$!
else
    ttui_start
fi
wait_ready ttui
t0=$(now)
ttui_add
c=$(wait_seeding)
note "$c of $N seeding after $(since "$t0") s"
s=0
for _ in $(seq 1200); do
    s=$(tracker_seeds 2>/dev/null || echo 0)
    [[ $s -ge $N ]] && break
    sleep 0.5
done
note "the tracker lists $s; settling $SETTLE s"
sleep "$SETTLE"
# The daemon itself (under heaptrack, PID is heaptrack's script).
RP=$PID
for d in /proc/[0-9]*; do
    [[ $(readlink "$d/exe" 2>/dev/null) == "$TBIN" ]] && RP=${d#/proc/}
done
rss=$(status_kib "$RP" VmRSS)
echo "$MODE N=$N rss_kib=$rss hwm_kib=$(status_kib "$RP" VmHWM)"
if [[ -n ${MEM_HEAPTRACK:-} ]]; then
    kill -KILL "$RP"
else
    kill -TERM "$RP"
fi
for _ in $(seq 120); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.5
done
wait "$PID" || true
PID=""
if [[ -n ${MEM_RESTART:-} ]]; then
    ttui_start
    wait_ready ttui
    c=$(wait_seeding)
    sleep "$SETTLE"
    echo "$MODE N=$N restarted seeding=$c rss_kib=$(status_kib "$PID" VmRSS)"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
fi
tracker_stop
