#!/usr/bin/env bash
# RC4 cost, ttui's cipher against OpenSSL's in the same run: CPU seconds per GiB for each
# and their ratio (goal: ttui ≤ 1.2 × OpenSSL). Both run in place over a 64 KiB buffer, and
# both are timed in CPU (not wall) seconds, so other load on the machine matters less; the
# rounds take turns (OpenSSL, ttui, OpenSSL, ...) and medians are reported.
#
#   bash tests/bench/rc4.sh
#
# Environment:
#   RC4_BENCH_ROUNDS=5    rounds per side (medians are reported)
#   RC4_BENCH_MIB=1024    bytes ttui encrypts per round
#   RC4_BENCH_SECONDS=3   how long `openssl speed` runs per round
#   CARGO_TARGET_DIR      where the bench binary is built (release profile, as shipped)
#
# OpenSSL 3 keeps RC4 in its legacy provider: `openssl speed -provider legacy -provider
# default -evp rc4`. Its `-mr` line `+R:COUNT:RC4:SECONDS` gives the 64 KiB blocks done and
# the user CPU seconds they took. Nothing here touches the network.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROUNDS=${RC4_BENCH_ROUNDS:-5}
MIB=${RC4_BENCH_MIB:-1024}
SECS=${RC4_BENCH_SECONDS:-3}
BLOCK=65536

note() { printf '[rc4-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

command -v openssl >/dev/null || die "openssl is missing (apt-get install -y openssl)"
# `openssl speed` prints its +R line (blocks done, user CPU seconds) on stderr.
ossl() { openssl speed -mr -seconds "$1" -bytes $BLOCK -provider legacy -provider default -evp rc4 2>&1 >/dev/null; }
ossl 1 | grep -q '^+R:' || die "openssl has no RC4 (is its legacy provider installed?)"

note "building the rc4 bench (release profile)"
(cd "$REPO" && cargo bench --bench rc4 --no-run -q) || die "build failed"
BIN=$(cd "$REPO" && cargo bench --bench rc4 --no-run --message-format=json -q 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[[ -x $BIN ]] || die "bench binary not found"

ours=() theirs=()
for ((r = 1; r <= ROUNDS; r++)); do
    line=$(ossl "$SECS" | grep '^+R:') || die "no +R line from openssl speed"
    o=$(awk -F: -v b=$BLOCK '{ printf "%.4f", $4 / ($2 * b) * 1073741824 }' <<<"$line")
    t=$("$BIN" "$MIB" 1 | sed -n 's/^ttui RC4: \([0-9.]*\) CPU-s\/GiB.*/\1/p')
    [[ -n $t ]] || die "no figure from $BIN"
    note "round $r: OpenSSL $o, ttui $t CPU-s/GiB"
    theirs+=("$o") ours+=("$t")
done

t=$(printf '%s\n' "${ours[@]}" | median)
o=$(printf '%s\n' "${theirs[@]}" | median)
printf 'RC4, 64 KiB in place, medians of %d rounds (CPU seconds per GiB)\n' "$ROUNDS"
printf '  ttui     %.3f\n  OpenSSL  %.3f   (%s)\n' "$t" "$o" "$(openssl version)"
awk -v t="$t" -v o="$o" 'BEGIN { printf "  ratio    %.2f × OpenSSL (goal ≤ 1.20)\n", t / o }'
