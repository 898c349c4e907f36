#!/usr/bin/env bash
# Runs every fuzz target for N minutes each (default 1), one after the other, and prints one
# line per target: executions, corpus size, and whether it found a crash.
#   fuzz/run.sh [MINUTES] [TARGET...]
# Crashes land in fuzz/artifacts/<target>/; the log of each run in fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
minutes=${1:-1}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
[ -d seeds ] || /usr/bin/python3 gen_seeds.py
cargo +nightly fuzz build -O
mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="logs/$t.log"
    set +e
    cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time=$((minutes * 60)) -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    crash=$(grep -m1 -oE 'Test unit written to [^ ]+' "$log" | awk '{print $5}' || true)
    if [ $rc -eq 0 ]; then
        echo "$t: ${execs:-?} execs, no finding"
    else
        echo "$t: ${execs:-?} execs, FINDING (exit $rc) ${crash:-see $log}"
        status=1
    fi
done
exit $status
