#!/usr/bin/env bash
# Blocklist load: a generated list of 1,000,000 IPv4 ranges (PeerGuardian text, with a bad
# line every 100,000), plain and gzipped, loaded by the release build the way the session
# loads it. Prints, per format, the load time and the peak RSS of the loading process
# (goals: under 1 s and under 50 MiB). Nothing here touches the network.
#
#   bash tests/bench/blocklist.sh
#
# Environment:
#   BLOCKLIST_BENCH_RANGES=1000000   ranges in the list
#   BLOCKLIST_BENCH_ROUNDS=3         loads per format (the median is reported)
#   BLOCKLIST_BENCH_PROFILE=release  cargo profile of the loader (`dev` builds in minutes
#                                    where release's fat LTO takes many; slower, so an
#                                    upper bound)
#   CARGO_TARGET_DIR                 where the bench binary is built
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RANGES=${BLOCKLIST_BENCH_RANGES:-1000000}
ROUNDS=${BLOCKLIST_BENCH_ROUNDS:-3}
PROFILE=${BLOCKLIST_BENCH_PROFILE:-release}

note() { printf '[blocklist-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

note "generating $RANGES ranges"
/usr/bin/python3 - "$RANGES" "$work/list.p2p" <<'PY'
import ipaddress, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("# generated for the blocklist benchmark\n")
    for i in range(n):
        a = (1 << 24) + i * 4
        f.write(f"Some Org {i}:{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(a + 1)}\n")
        if i % 100_000 == 0:
            f.write("not a range\n")
PY
gzip -k -6 "$work/list.p2p"

note "building the blocklist bench ($PROFILE profile)"
(cd "$REPO" && cargo bench --profile "$PROFILE" --bench blocklist --no-run -q) || { note "build failed"; exit 1; }
bin=$(cd "$REPO" && cargo bench --profile "$PROFILE" --bench blocklist --no-run --message-format=json -q 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("executable") and m.get("target", {}).get("name") == "blocklist": print(m["executable"])' | tail -1)
[ -x "$bin" ] || { note "no bench binary"; exit 1; }

printf '| list (%s build) | size | ranges | bad lines | load (s, median of %s) | peak RSS (MiB) |\n' "$PROFILE" "$ROUNDS"
printf '|---|---|---|---|---|---|\n'
for f in list.p2p list.p2p.gz; do
    secs=()
    for _ in $(seq "$ROUNDS"); do
        out=$("$bin" "$work/$f")
        secs+=("$(sed -E 's/.*load_s=([0-9.]+).*/\1/' <<<"$out")")
        rss=$(sed -E 's/.*peak_rss_mib=([0-9.]+).*/\1/' <<<"$out")
        ranges=$(sed -E 's/.*ranges=([0-9]+).*/\1/' <<<"$out")
        bad=$(sed -E 's/.*bad_lines=([0-9]+).*/\1/' <<<"$out")
    done
    size=$(du -m "$work/$f" | cut -f1)
    med=$(printf '%s\n' "${secs[@]}" | median)
    printf '| %s | %s MiB | %s | %s | %s | %s |\n' "$f" "$size" "$ranges" "$bad" "$med" "$rss"
done
