#!/usr/bin/env bash
# Streaming benchmark: ttui's stream server against rqbit's, reading one file from a slow
# python3-libtorrent seeder as a player does (cold start, then seeks to 50 % and 90 %).
#
#   bash tests/bench/stream.sh
#
# Environment:
#   BENCH_RUNS=3            runs per client (medians are reported)
#   BENCH_SIZE_MIB=256      the file's size
#   BENCH_RATE=4194304      the seeder's upload limit, bytes/s
#   BENCH_SKIP_RQBIT=1      do not build or run rqbit
#   CARGO_TARGET_DIR        where ttui (and rqbit, under bench-tools/) are built
#
# Needs root (apt-get, unshare -n). After the builds everything runs in `unshare -n`: only
# `lo` exists, the seeder and the clients bind 127.0.0.x, DHT, LSD, UPnP and trackers are off.
# What is measured and how: the header of tests/bench/stream_bench.py.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
TOOLS=$TARGET/bench-tools
note() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${BENCH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (apt-get and unshare -n need it)"
    missing=()
    command -v mktorrent >/dev/null || missing+=(mktorrent)
    /usr/bin/python3 -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
    if ((${#missing[@]})); then
        note "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    note "building ttui (release) in $TARGET"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    # shellcheck source=rqbit_tool.sh
    source "$HERE/rqbit_tool.sh"
    find_rqbit "$TOOLS"
    export BENCH_INNER=1 BENCH_TTUI=$TARGET/release/ttui BENCH_RQBIT=$RQBIT
    exec timeout -k 10 3600 unshare -n -- bash "${BASH_SOURCE[0]}"
fi

ip link set lo up
if ip -o link show | grep -qv ': lo:'; then die "namespace has interfaces besides lo"; fi
W=$(mktemp -d /tmp/ttui-stream-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 "$HERE/stream_bench.py" --ttui "$BENCH_TTUI" --rqbit "${BENCH_RQBIT:-}" \
    --work "$W" --runs "${BENCH_RUNS:-3}" --size $((${BENCH_SIZE_MIB:-256} << 20)) \
    --rate "${BENCH_RATE:-4194304}"
