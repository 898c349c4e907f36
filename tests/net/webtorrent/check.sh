#!/bin/bash
# Two WebTorrent peers of peer.mjs, a seeder and a leecher, through the WebSocket tracker of
# tests/net/ws_tracker/server.mjs, in a network namespace whose only interface is lo: the
# leecher's copy must match the file byte for byte. Prints the time and both peers' CPU.
#
#   TTUI_NODE_MODULES=~/.cache/ttui/test-node bash tests/net/webtorrent/check.sh [MiB]
#
# Re-runs itself under `unshare -n -p -f` (root): a namespace with lo alone, and a pid
# namespace that takes every process it started along when it ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mib=${1:-4}
: "${TTUI_NODE_MODULES:?}"
if [[ ${TTUI_CHECK_INNER:-} != 1 ]]; then
    exec unshare -n -p -f env TTUI_CHECK_INNER=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
if ip -o link | grep -qv ': lo:'; then
    echo "not alone on lo" >&2
    exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/seed" "$work/leech"
head -c $((mib * 1048576)) /dev/urandom >"$work/seed/data.bin"
mkfifo "$work/t.in" "$work/s.in" "$work/l.in"
# Each process's stdin is a fifo held open by this script (fd 3..5): closing it ends them.
node "$here/../ws_tracker/server.mjs" "$TTUI_NODE_MODULES/node_modules" <"$work/t.in" >"$work/t.out" &
pids+=($!)
exec 3>"$work/t.in"
for _ in $(seq 100); do grep -q '^listening' "$work/t.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^listening/ {print $2}' "$work/t.out")
url="ws://127.0.0.1:$port"
echo "tracker $url"
peer() {
    local out=$1; shift
    if [[ ! -x /usr/bin/time ]]; then node "$here/peer.mjs" "$@" >"$out"; return; fi
    /usr/bin/time -f '{"event":"time","user":%U,"sys":%S,"wall":%e,"maxrss_kb":%M}' \
        -o "$out.time" node "$here/peer.mjs" "$@" >"$out"
}
peer "$work/s.out" seed "$work/seed/data.bin" --tracker "$url" <"$work/s.in" &
pids+=($!)
exec 4>"$work/s.in"
for _ in $(seq 600); do grep -q '"ready"' "$work/s.out" 2>/dev/null && break; sleep 0.1; done
grep '"ready"' "$work/s.out"
magnet=$(grep -m1 '"ready"' "$work/s.out" | node -e 'process.stdin.on("data",d=>console.log(JSON.parse(d).magnet))')
start=$(date +%s.%N)
peer "$work/l.out" leech "$magnet" "$work/leech" --tracker "$url" <"$work/l.in" &
pids+=($!)
exec 5>"$work/l.in"
for _ in $(seq 3000); do
    grep -q '"done"\|"error"' "$work/l.out" 2>/dev/null && break
    sleep 0.1
done
end=$(date +%s.%N)
cat "$work/l.out" | grep -v '"download"'
grep '"wire"' "$work/s.out" || true
exec 3>&- 4>&- 5>&-
wait
cat "$work/s.out.time" "$work/l.out.time" 2>/dev/null || true
a=$(sha256sum <"$work/seed/data.bin") b=$(sha256sum <"$work/leech/data.bin" 2>/dev/null || true)
echo "seed  $a"; echo "leech $b"
awk -v s="$start" -v e="$end" -v m="$mib" 'BEGIN { printf "%d MiB in %.2f s (from the leecher start): %.1f MB/s\n", m, e - s, m * 1.048576 / (e - s) }'
[[ $a == "$b" ]] && echo "OK: identical" || { echo "FAIL: differ"; exit 1; }
