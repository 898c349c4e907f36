#!/usr/bin/env bash
# Many torrents downloading at once (issue 19): one python3-libtorrent session seeds
# SWARM_N torrents; one `ttui daemon` session downloads them all (given the seeder with
# --peer), then one python3-libtorrent session does the same. Then the same total size as ONE
# torrent, so the cost of many can be compared with the cost of one. Per client: seconds from
# the first add to every torrent complete, MB/s, CPU seconds (utime+stime of the downloader)
# and CPU-s per GiB, peak RSS (VmHWM).
#
#   bash tests/bench/session_swarm.sh
#
# Environment:
#   SWARM_N=100          torrents
#   SWARM_KIB=4096       size of each (the single torrent is N times that)
#   SWARM_PIECE_KIB=256  piece length
#   SWARM_TIMEOUT=900    seconds a download may take
#   SWARM_SKIP_ONE=1     skip the single-torrent pass
#   CARGO_TARGET_DIR     where the release ttui is built
#   SWARM_TTUI=PATH      run this ttui binary instead of building one
#
# Needs root (unshare -n): everything after the build runs in a network namespace with only
# `lo`; discovery is off everywhere (ttui --no-dht, no trackers in the torrents). Every process
# is stopped by its pid and the work directory is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
N=${SWARM_N:-100}
KIB=${SWARM_KIB:-4096}
PIECE=${SWARM_PIECE_KIB:-256}
LIMIT=${SWARM_TIMEOUT:-900}

note() { printf '[swarm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${SWARM_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    command -v jq >/dev/null || die "jq is missing"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    BIN=${SWARM_TTUI:-$TARGET/release/ttui}
    if [[ -z ${SWARM_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline --bin ttui)
    fi
    WORK=$(mktemp -d /tmp/ttui-swarm-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    note "generating $N torrents of $KIB KiB in $WORK"
    $PY "$HERE/gen_torrents.py" "$N" "$WORK/many/torrents" "$WORK/many/seed" \
        --min-kib "$KIB" --max-kib "$KIB" --piece-kib "$PIECE" >/dev/null
    if [[ -z ${SWARM_SKIP_ONE:-} ]]; then
        $PY "$HERE/gen_torrents.py" 1 "$WORK/one/torrents" "$WORK/one/seed" \
            --min-kib $((N * KIB)) --max-kib $((N * KIB)) --piece-kib "$PIECE" >/dev/null
    fi
    SWARM_INNER=1 WORK=$WORK TTUI=$BIN TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
HZ=$(getconf CLK_TCK)
SEEDER=127.0.0.2:7300
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
trap 'exit 143' TERM INT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
cpu_s() { awk -v hz="$HZ" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
hwm_mib() { awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

declare -A R
# ttui: a daemon dialing the seeder for every torrent; done when `list` shows all seeding.
run_ttui() {
    local set=$1 dir=$WORK/ttui-$1 t0 pid count c=0
    count=$(find "$WORK/$set/torrents" -name '*.torrent' | wc -l)
    mkdir -p "$dir/out"
    "$TTUI" daemon --no-config --state-dir "$dir/state" --log-file "$dir/log" --no-dht \
        --bind 127.0.0.3 --port 0 --peer "$SEEDER" -o "$dir/out" >"$dir/stderr" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 300); do
        "$TTUI" list --json --no-config --state-dir "$dir/state" >/dev/null 2>&1 && break
        sleep 0.1
    done
    t0=$(now)
    find "$WORK/$set/torrents" -name '*.torrent' -print0 | sort -z |
        xargs -0 "$TTUI" add --no-config --state-dir "$dir/state" -o "$dir/out" >/dev/null
    for _ in $(seq $((LIMIT * 20))); do
        c=$("$TTUI" list --json --no-config --state-dir "$dir/state" |
            jq '[.[] | select(.state == "seeding")] | length')
        [[ $c -ge $count ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    R[ttui.$set.time]=$(since "$t0")
    R[ttui.$set.cpu]=$(cpu_s "$pid")
    R[ttui.$set.hwm]=$(hwm_mib "$pid")
    stop "$pid"
    [[ $c -ge $count ]] || die "ttui: $c of $count complete (see $dir)"
    diff -rq "$dir/out" "$WORK/$set/seed" >/dev/null || die "ttui: the data differs"
    rm -rf "$dir"
}

run_lt() {
    local set=$1 dir=$WORK/lt-$1 pid t0 line
    mkdir -p "$dir/out"
    t0=$(now)
    $PY "$HERE/lt_many.py" --torrents "$WORK/$set/torrents" --save "$dir/out" --ip 127.0.0.4 \
        --port 7400 --leech --peer "$SEEDER" --max-seconds "$LIMIT" >"$dir/stdout" 2>"$dir/stderr" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq $((LIMIT * 20))); do
        grep -q '^done' "$dir/stdout" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    R[lt.$set.time]=$(since "$t0")
    R[lt.$set.cpu]=$(cpu_s "$pid")
    R[lt.$set.hwm]=$(hwm_mib "$pid")
    stop "$pid"
    line=$(grep '^done' "$dir/stdout") || die "libtorrent did not finish (see $dir)"
    note "libtorrent $set: its own clock says ${line#done }"
    diff -rq "$dir/out" "$WORK/$set/seed" >/dev/null || die "libtorrent: the data differs"
    rm -rf "$dir"
}

SETS="many"
[[ -d $WORK/one ]] && SETS="many one"
for set in $SETS; do
    $PY "$HERE/lt_many.py" --torrents "$WORK/$set/torrents" --save "$WORK/$set/seed" \
        --ip "${SEEDER%:*}" --port "${SEEDER#*:}" --max-seconds $((LIMIT * 3)) \
        >"$WORK/seeder-$set.out" 2>"$WORK/seeder-$set.err" &
    seeder=$!
    PIDS+=("$seeder")
    for _ in $(seq 600); do
        grep -q '^ready' "$WORK/seeder-$set.out" && break
        sleep 0.1
    done
    grep -q '^ready' "$WORK/seeder-$set.out" || die "the seeder did not start"
    for c in ttui lt; do
        note "$c downloading $set"
        "run_$c" "$set"
        note "$c $set: ${R[$c.$set.time]} s, ${R[$c.$set.cpu]} CPU-s, peak ${R[$c.$set.hwm]} MiB"
    done
    stop "$seeder"
done

BYTES=$((N * KIB * 1024))
echo
echo "Session swarm: $N torrents of $KIB KiB (and one of $((N * KIB / 1024)) MiB) from one python3-libtorrent seeder, loopback"
printf '  %-24s %8s %8s %8s %10s %9s\n' case seconds MB/s CPU-s CPU-s/GiB peak_MiB
for set in $SETS; do
    for c in ttui lt; do
        name=$c
        [[ $c == lt ]] && name=python3-libtorrent
        printf '  %-24s %8s %8s %8s %10s %9s\n' "$name ($set)" "${R[$c.$set.time]}" \
            "$(awk -v b=$BYTES -v t="${R[$c.$set.time]}" 'BEGIN { printf "%.1f", b / t / 1e6 }')" \
            "${R[$c.$set.cpu]}" \
            "$(awk -v b=$BYTES -v s="${R[$c.$set.cpu]}" 'BEGIN { printf "%.2f", s / (b / 2^30) }')" \
            "${R[$c.$set.hwm]}"
    done
done
