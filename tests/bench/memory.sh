#!/usr/bin/env bash
# Memory benchmark: ttui's peak RSS downloading a 1 GiB torrent with 256 KiB pieces and a
# 4 GiB torrent with 16 MiB pieces (sparse zero payloads) from one python3-libtorrent seeder
# on loopback. In-order hashing should make the two cost the same. With MEM_BENCH_BASE set,
# that binary (say, a build of the previous commit) runs each download too, in alternation.
#
#   bash tests/bench/memory.sh
#
# Environment:
#   MEM_BENCH_TTUI=PATH     the ttui binary to measure (default: build the release one)
#   MEM_BENCH_BASE=PATH     a second ttui binary, reported as "base"
#   MEM_BENCH_RUNS=1        downloads per binary and torrent (the largest peak is reported)
#   MEM_BENCH_TIMEOUT=600   seconds one download may take before it is killed and marked failed
#   CARGO_TARGET_DIR        where the release ttui is built
#
# Everything after the build runs in `unshare -n` (only `lo` exists); the seeder and ttui
# listen on their own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off and no tracker.
set -euo pipefail
# No DHT routers, no port mapping: a benchmark talks to loopback only.
export TTUI_NO_PUBLIC_ROUTERS=1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py
RUNS=${MEM_BENCH_RUNS:-1}
LIMIT=${MEM_BENCH_TIMEOUT:-600}

note() { printf '[mem-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${MEM_BENCH_INNER:-} ]]; then
    command -v mktorrent >/dev/null || die "mktorrent is missing"
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    TTUI=${MEM_BENCH_TTUI:-}
    if [[ -z $TTUI ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
        TTUI=$TARGET/release/ttui
    fi
    WORK=$(mktemp -d /tmp/ttui-mem-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    mkdir -p "$WORK/seed"
    # Sparse zeros: nothing to write, and hashing them is the only cost of making the torrents.
    truncate -s 1G "$WORK/seed/g1.bin"
    truncate -s 4G "$WORK/seed/g4.bin"
    note "hashing the payloads for the torrents"
    mktorrent -l 18 -a http://127.0.0.1:1/announce -o "$WORK/g1.torrent" "$WORK/seed/g1.bin" >/dev/null
    mktorrent -l 24 -a http://127.0.0.1:1/announce -o "$WORK/g4.torrent" "$WORK/seed/g4.bin" >/dev/null
    MEM_BENCH_INNER=1 WORK=$WORK TTUI=$TTUI \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
SEEDER_IP=127.0.0.2
SEEDERS=()
trap 'for p in "${SEEDERS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
port=7300
for t in g1 g4; do
    $PY "$LT" --torrent "$WORK/$t.torrent" --save "$WORK/seed" --ip $SEEDER_IP --port $port \
        --seed-mode --announce-wait 0 --max-seconds 7200 \
        >"$WORK/seed-$t.out" 2>"$WORK/seed-$t.err" &
    SEEDERS+=($!)
    for _ in $(seq 100); do
        grep -q '^ready' "$WORK/seed-$t.out" && break
        sleep 0.2
    done
    grep -q '^ready' "$WORK/seed-$t.out" || die "seeder $t did not start: $(tail -5 "$WORK/seed-$t.err")"
    port=$((port + 1))
done

# bin torrent port n: one download; prints "peak_kib wall cpu" or "failed".
run() {
    local bin=$1 t=$2 port=$3 n=$4 out=$WORK/out tf=$WORK/time
    rm -rf "$out"
    mkdir -p "$out"
    if timeout "$LIMIT" /usr/bin/time -f '%M %e %U %S' -o "$tf" "$bin" "$WORK/$t.torrent" \
        --headless --no-trackers --no-dht --bind 127.0.0.$((10 + n)) --port 0 \
        --peer $SEEDER_IP:"$port" -o "$out" >"$WORK/ttui.out" 2>&1 &&
        [[ $(stat -c %s "$out/$t.bin") == $(stat -c %s "$WORK/seed/$t.bin") ]]; then
        tail -n 1 "$tf" | awk '{ printf "%d %.2f %.2f\n", $1, $2, $3 + $4 }'
    else
        echo failed
    fi
    rm -rf "$out"
}

declare -A PEAK
bins=(ttui)
[[ -n ${MEM_BENCH_BASE:-} ]] && bins=(base ttui)
for n in $(seq "$RUNS"); do
    port=7300
    for t in g1 g4; do
        for b in "${bins[@]}"; do
            bin=$TTUI
            [[ $b == base ]] && bin=$MEM_BENCH_BASE
            r=$(run "$bin" "$t" "$port" "$n")
            note "run $n $b $t: $r (peak KiB, wall s, CPU s)"
            if [[ $r == failed ]]; then
                PEAK[$b-$t]=failed
            elif [[ ${PEAK[$b-$t]:-0} != failed ]] && ((${r%% *} > ${PEAK[$b-$t]:-0})); then
                PEAK[$b-$t]=${r%% *}
            fi
        done
        port=$((port + 1))
    done
done

echo
echo "peak RSS (MiB), largest of $RUNS run(s):"
printf '  %-6s %24s %24s\n' "" "1 GiB, 256 KiB pieces" "4 GiB, 16 MiB pieces"
for b in "${bins[@]}"; do
    row=()
    for t in g1 g4; do
        v=${PEAK[$b-$t]:-failed}
        [[ $v != failed ]] && v=$(awk -v k="$v" 'BEGIN { printf "%.1f", k / 1024 }')
        row+=("$v")
    done
    printf '  %-6s %24s %24s\n' "$b" "${row[0]}" "${row[1]}"
done
