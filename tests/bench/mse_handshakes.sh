#!/usr/bin/env bash
# Encrypted handshakes from ttui to a libtorrent that requires encryption, one after another:
# how many fail, and how many the seeder saw. libtorrent 1.1 to 2.0 hashes a shared secret
# that starts with a zero byte wrongly (one secret in 256) and hangs up; ttui dials such a
# handshake again with new keys, so none should fail. Each `ttui handshake --encryption
# require` is a fresh process with fresh keys.
#
#   bash tests/bench/mse_handshakes.sh
#
# Environment:
#   MSE_BENCH_N=1000      handshakes
#   CARGO_TARGET_DIR      where ttui is built (the dev profile, as the tests use)
#
# Runs in a network namespace of its own with only `lo` (root needed); stops the seeder by
# its pid and removes its work directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N=${MSE_BENCH_N:-1000}

note() { printf '[mse-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ ${MSE_BENCH_INSIDE:-} != 1 ]]; then
    ((EUID == 0)) || die "needs root (a network namespace of its own)"
    note "building ttui"
    (cd "$REPO" && cargo build -q --bin ttui) || die "build failed"
    exec unshare -n env MSE_BENCH_INSIDE=1 bash "$0" "$@"
fi

ip link set lo up
TTUI=${CARGO_TARGET_DIR:-$REPO/target}/debug/ttui
[[ -x $TTUI ]] || die "no ttui at $TTUI"
WORK=$(mktemp -d /tmp/ttui-mse-bench.XXXXXX)
SEEDER=
cleanup() {
    [[ -n $SEEDER ]] && kill "$SEEDER" 2>/dev/null && wait "$SEEDER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

head -c 1000000 /dev/urandom >"$WORK/data.bin"
/usr/bin/python3 - "$WORK" <<'EOF' || die "python3-libtorrent cannot make the torrent"
import sys
import libtorrent as lt
work = sys.argv[1]
fs = lt.file_storage()
lt.add_files(fs, work + "/data.bin")
t = lt.create_torrent(fs, 16384)
lt.set_piece_hashes(t, work)
open(work + "/t.torrent", "wb").write(lt.bencode(t.generate()))
EOF
ADDR=127.0.0.5:25000
/usr/bin/python3 "$REPO/assets/seeders/lt_seed.py" --torrent "$WORK/t.torrent" --save "$WORK" \
    --ip 127.0.0.5 --port 25000 --seed-mode --encryption forced --max-seconds 3600 \
    >"$WORK/lt.out" 2>"$WORK/lt.err" &
SEEDER=$!
for _ in $(seq 1 100); do
    grep -q '^ready' "$WORK/lt.out" && break
    sleep 0.1
done
grep -q '^ready' "$WORK/lt.out" || die "the libtorrent seeder never said ready: $(tail -3 "$WORK/lt.err")"

note "$N handshakes to $ADDR ($(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)'), encryption forced)"
failed=0
start=$(date +%s.%N)
for ((i = 1; i <= N; i++)); do
    if ! timeout 30 "$TTUI" handshake "$WORK/t.torrent" "$ADDR" --encryption require \
        >"$WORK/h.out" 2>&1; then
        failed=$((failed + 1))
        note "handshake $i failed: $(tail -1 "$WORK/h.out")"
    fi
done
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
seen=$(grep -c 'incoming connection from' "$WORK/lt.err" || true)
printf 'MSE handshakes, ttui --encryption require to libtorrent with encryption forced\n'
printf '  handshakes  %d in %s s\n' "$N" "$took"
printf '  failed      %d\n' "$failed"
printf '  connections the seeder saw  %d (one more per handshake dialed again)\n' "$seen"
