#!/usr/bin/env bash
# uTP download benchmark: a uTP-only python3-libtorrent seeder (TCP off both ways), and in
# the same run, taking turns at going first, ttui (`--transport utp`) and a uTP-only
# python3-libtorrent leecher download from it. Reports MB/s and CPU seconds (user + sys of
# the downloader alone), medians of the runs.
#
#   bash tests/bench/utp.sh
#
# Environment:
#   UTP_BENCH_MIB=256     payload size
#   UTP_BENCH_RUNS=3      downloads per client (medians are reported)
#   UTP_BENCH_TIMEOUT=600 seconds one download may take before it is killed and marked failed
#   UTP_BENCH_TTUI_ARGS   extra arguments for ttui (e.g. "--encryption off")
#   CARGO_TARGET_DIR      where the release ttui is built
#
# Everything after the build runs in `unshare -n` (only `lo` exists); every client listens on
# its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off, and ttui runs with --no-dht.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py
MIB=${UTP_BENCH_MIB:-256}
RUNS=${UTP_BENCH_RUNS:-3}
LIMIT=${UTP_BENCH_TIMEOUT:-600}

note() { printf '[utp-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${UTP_BENCH_INNER:-} ]]; then
    command -v mktorrent >/dev/null || die "mktorrent is missing"
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    note "building ttui (release) in $TARGET"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline)
    WORK=$(mktemp -d /tmp/ttui-utp-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    note "payload: $MIB MiB in $WORK"
    mkdir -p "$WORK/seed"
    head -c $((MIB << 20)) /dev/urandom >"$WORK/seed/payload.bin"
    mktorrent -l 20 -a http://127.0.0.1:1/announce -o "$WORK/payload.torrent" \
        "$WORK/seed/payload.bin" >/dev/null
    UTP_BENCH_INNER=1 WORK=$WORK TTUI=$TARGET/release/ttui UTP_BENCH_X=${UTP_BENCH_X:-} \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash ${UTP_BENCH_X:+-x} "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
TORRENT=$WORK/payload.torrent
SIZE=$(stat -c %s "$WORK/seed/payload.bin")
SEEDER_IP=127.0.0.2
SEEDER_PORT=7100

$PY "$LT" --torrent "$TORRENT" --save "$WORK/seed" --ip $SEEDER_IP --port $SEEDER_PORT \
    --seed-mode --transport utp --announce-wait 0 --max-seconds 7200 \
    >"$WORK/seeder.out" 2>"$WORK/seeder.err" &
SEEDER=$!
trap 'kill $SEEDER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q '^ready' "$WORK/seeder.out" && break
    sleep 0.2
done
grep -q '^ready' "$WORK/seeder.out" || die "the seeder did not start: $(tail -5 "$WORK/seeder.err")"

# `time` writes "elapsed user sys" into $2; prints nothing. Returns non-zero on failure.
run_ttui() {
    local n=$1 out=$WORK/out-ttui-$1
    rm -rf "$out"
    mkdir -p "$out"
    # shellcheck disable=SC2086
    timeout "$LIMIT" /usr/bin/time -f '%e %U %S' -o "$2" "$TTUI" "$TORRENT" --headless \
        --no-trackers --no-dht --transport utp --bind 127.0.0.$((10 + n)) --port 0 \
        --peer $SEEDER_IP:$SEEDER_PORT -o "$out" ${UTP_BENCH_TTUI_ARGS:-} \
        >"$WORK/ttui-$n.out" 2>&1 || return 1
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || return 1
    rm -rf "$out"
}

# A libtorrent leecher prints "done" when complete and then seeds: its time and CPU seconds
# (from /proc, user + sys) are taken when "done" appears, then it is stopped.
run_lt() {
    local n=$1 out=$WORK/out-lt-$1 start pid el cpu
    rm -rf "$out"
    mkdir -p "$out"
    start=$(date +%s.%N)
    $PY "$LT" --torrent "$TORRENT" --save "$out" \
        --ip 127.0.0.$((30 + n)) --port $((7200 + n)) --leech --transport utp \
        --peer $SEEDER_IP:$SEEDER_PORT --announce-wait 0 --max-seconds "$LIMIT" \
        >"$WORK/lt-$n.out" 2>"$WORK/lt-$n.err" &
    pid=$!
    # Polled often: the poll's granularity is part of the measured time.
    for _ in $(seq $((LIMIT * 50))); do
        grep -q '^done' "$WORK/lt-$n.out" && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.02
    done
    el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    cpu=$(awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f 0", ($14 + $15) / t }' "/proc/$pid/stat" 2>/dev/null || echo "nan 0")
    kill -TERM $pid 2>/dev/null || true
    wait $pid || true
    echo "$el $cpu" >"$2"
    grep -q '^done' "$WORK/lt-$n.out" || return 1
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || return 1
    rm -rf "$out"
}

declare -A RATES CPUS
for n in $(seq "$RUNS"); do
    order="ttui lt"
    ((n % 2 == 0)) && order="lt ttui"
    for c in $order; do
        t=$WORK/time-$c-$n
        if "run_$c" "$n" "$t"; then
            # The last line: `time` puts "Command exited ..." first when the status is not 0.
            read -r el us sy < <(tail -n 1 "$t") || true
            rate=$(awk -v s="$SIZE" -v e="$el" 'BEGIN { printf "%.1f", s / e / 1e6 }')
            cpu=$(awk -v u="$us" -v s="$sy" 'BEGIN { printf "%.2f", u + s }')
            note "run $n $c: ${el}s, $rate MB/s, $cpu CPU-s"
            RATES[$c]+="$rate "
            CPUS[$c]+="$cpu "
        else
            note "run $n $c: FAILED (see $WORK)"
            RATES[$c]+="0 "
            CPUS[$c]+="nan "
        fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "uTP, $MIB MiB from a uTP-only python3-libtorrent seeder, $RUNS runs (median):"
for c in ttui lt; do
    name=$c
    [[ $c == lt ]] && name="python3-libtorrent"
    printf '  %-20s %8s MB/s  %6s CPU-s   (runs: %s/ %s)\n' "$name" \
        "$(echo "${RATES[$c]}" | median)" "$(echo "${CPUS[$c]}" | median)" "${RATES[$c]}" "${CPUS[$c]}"
done
