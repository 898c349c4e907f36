#!/usr/bin/env bash
# Reach benchmark: the reach table of tests/net/reach.rs (`reach_table`) with a longer window and
# several repetitions. A swarm of 18 python3-libtorrent peers (DHT, PEX, uTP and hole punching
# on) in the test internet of network namespaces (tests/netlab): public IPv4, dual-stack,
# IPv6-only, behind CGNATs, dual-stack behind CGNATs, a third of them on no tracker. For each
# place a leecher sits, ttui and a libtorrent leecher side by side; each one's distinct swarm
# peers ever connected are counted. Prints every run's table and, per row, the minimum and
# median over the runs for both; and what being the relay (BEP 55) cost each ttui: the
# introductions it made, the wire bytes of the BEP 55 messages it took and sent, and its CPU
# seconds over the window, per introduction (an upper bound: a leecher's CPU includes its own
# download at 100 kB/s). Then the relay's own path per introduction, alone, without a download
# beside it: `cargo bench --bench relay` (tests/bench/relay.rs, a release build). Not part of
# the test suite.
#
#   bash tests/bench/reach.sh
#
# Environment:
#   REACH_BENCH_SECONDS=120   the window each run's leechers get
#   REACH_BENCH_RUNS=3        repetitions
#
# Every run goes through tests/run.sh, so it runs inside a namespace whose only interface is
# `lo`, and the lab it builds there (documentation addresses only, no route out) is removed by
# the test itself, its processes killed by pid.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SECONDS_WINDOW=${REACH_BENCH_SECONDS:-120}
RUNS=${REACH_BENCH_RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ttui-reach-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

note() { printf '[reach-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

for run in $(seq 1 "$RUNS"); do
    note "run $run of $RUNS: ${SECONDS_WINDOW}s window"
    # The assertion may fail in a run: the table is printed before it, and is what we keep.
    (cd "$REPO" && TTUI_REACH_SECONDS=$SECONDS_WINDOW TTUI_SKIP_LINT=1 TTUI_RUNNER_SELFTEST=0 \
        bash tests/run.sh --test net -- reach::reach_table --nocapture) >"$WORK/run$run.log" 2>&1 || \
        note "run $run: the test failed (see its table below)"
    sed -n '/^reach table:/,/^$/p' "$WORK/run$run.log" | tee "$WORK/table$run.txt"
    grep '^relay: ' "$WORK/run$run.log" | tee "$WORK/relay$run.txt" || true
done

python3 - "$WORK" "$RUNS" "$SECONDS_WINDOW" <<'PY'
import re, statistics, sys
work, runs, window = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for r in range(1, runs + 1):
    try:
        lines = open("%s/table%d.txt" % (work, r)).read().splitlines()
    except OSError:
        continue
    for line in lines[2:]:
        m = re.match(r"^(.*?)\s+(\d+)\s+(\d+)$", line)
        if m:
            rows.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3))))
relay = {}
for r in range(1, runs + 1):
    try:
        lines = open("%s/relay%d.txt" % (work, r)).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r"^relay: (.*): introductions (\d+) bytes (\d+) cpu ([0-9.]+) s$", line)
        if m:
            relay.setdefault(m.group(1), []).append(
                (int(m.group(2)), int(m.group(3)), float(m.group(4))))
print("reach over %d runs, %ss window: distinct swarm peers connected (of 18)" % (runs, window))
print("%-30s %14s %14s" % ("leecher sits", "ttui min/med", "libtorrent min/med"))
for name, v in rows.items():
    t = [a for a, _ in v]; l = [b for _, b in v]
    print("%-30s %8d/%-5g %8d/%-5g" % (name, min(t), statistics.median(t), min(l),
                                       statistics.median(l)))
print()
print("ttui as the relay, totals over the runs (a leecher's CPU includes its own download)")
print("%-30s %14s %8s %16s %10s %16s" % ("ttui sits", "introductions", "bytes",
                                         "bytes per intro", "cpu s", "cpu s per intro"))
for name, v in relay.items():
    n = sum(a for a, _, _ in v); b = sum(x for _, x, _ in v); cpu = sum(c for _, _, c in v)
    per = lambda x, f: f % (x / n) if n else "-"
    print("%-30s %14d %8d %16s %10.2f %16s" % (name, n, b, per(b, "%.0f"), cpu,
                                              per(cpu, "%.3f")))
PY

echo
note "the relay's path per introduction, alone (cargo bench --bench relay)"
(cd "$REPO" && cargo bench --quiet --bench relay)
