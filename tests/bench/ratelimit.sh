#!/usr/bin/env bash
# Rate limits, target against measured: one python3-libtorrent seeder and ttui --headless
# with --down-limit RATE (TCP, loopback, 127.0.0.1 only, no DHT, no trackers); after a
# warm-up, the seeder's payload counter over a window gives the measured rate, and ttui's
# CPU time (/proc) over the same window gives CPU-s per GiB. One unlimited run gives the
# CPU per GiB without a limit to compare. Prints one line per rate.
#
#   bash tests/bench/ratelimit.sh            # 100K 1M 10M 50M
#   RATES="1M 10M" WINDOW=10 bash tests/bench/ratelimit.sh
#
# Not covered yet: uploads, ~20 peers. Figures of one run (2-core machine, 8 s windows):
#   100K -7.5 %, 1M -0.3 %, 10M +0.1 %, 50M -0.3 %; ttui CPU 14.1, 7.7, 4.0, 2.4 s/GiB
#   limited, 1.8 s/GiB unlimited (a fixed per-second cost of ticks weighs on slow runs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RATES=${RATES:-"100K 1M 10M 50M"}
WINDOW=${WINDOW:-8}
WARMUP=${WARMUP:-3}
SIZE_MIB=${SIZE_MIB:-600}
export TTUI_NO_PUBLIC_ROUTERS=1

cd "$REPO"
cargo build --release --bin ttui >&2
TTUI="${CARGO_TARGET_DIR:-$REPO/target}/release/ttui"
WORK=$(mktemp -d /tmp/ttui-ratebench-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/data"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/data/payload"
mktorrent -l 20 -o "$WORK/p.torrent" "$WORK/data/payload" >/dev/null

cpu_secs() { # utime + stime of a pid, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
up_now() { # the seeder's latest payload upload counter
    grep '^progress ' "$1" | tail -1 | sed 's/.*up=\([0-9]*\).*/\1/'
}

bytes_of() { # 2M -> bytes (binary units), 0 for unlimited
    python3 -c "import sys;s=sys.argv[1];m={'K':1<<10,'M':1<<20,'G':1<<30}
print(int(float(s[:-1])*m[s[-1]]) if s[-1] in m else int(s))" "$1"
}

run_one() { # RATE -> "target measured cpu_per_gib"
    local rate=$1 port=$((20000 + RANDOM % 20000))
    rm -rf "$WORK/out"
    /usr/bin/python3 "$REPO/assets/seeders/lt_seed.py" --torrent "$WORK/p.torrent" \
        --save "$WORK/data" --ip 127.0.0.1 --port "$port" --seed-mode \
        > "$WORK/lt.out" 2> "$WORK/lt.err" &
    local lt=$!
    PIDS+=("$lt")
    for _ in $(seq 100); do grep -q '^ready' "$WORK/lt.out" && break; sleep 0.1; done
    "$TTUI" "$WORK/p.torrent" --headless --no-trackers --no-dht --transport tcp --port 0 \
        --bind 127.0.0.1 --peer "127.0.0.1:$port" -o "$WORK/out" --down-limit "$rate" \
        > "$WORK/ttui.out" 2>&1 &
    local tt=$!
    PIDS+=("$tt")
    sleep "$WARMUP"
    local c0 u0 t0 c1 u1 t1
    c0=$(cpu_secs "$tt"); u0=$(up_now "$WORK/lt.out"); t0=$(date +%s.%N)
    sleep "$WINDOW"
    c1=$(cpu_secs "$tt"); u1=$(up_now "$WORK/lt.out"); t1=$(date +%s.%N)
    kill "$tt" "$lt" 2>/dev/null || true
    wait "$tt" "$lt" 2>/dev/null || true
    python3 - "$rate" "$(bytes_of "$rate")" "$u0" "$u1" "$t0" "$t1" "$c0" "$c1" <<'PY'
import sys
name, target, u0, u1, t0, t1, c0, c1 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
rate = (u1 - u0) / (t1 - t0)
gib = (u1 - u0) / (1 << 30)
cpu = (c1 - c0) / gib if gib > 0 else float("nan")
tgt = "unlimited" if target == 0 else "%.0f KiB/s" % (target / 1024)
err = "" if target == 0 else "%+.1f %%" % ((rate - target) / target * 100)
print("%-9s target %-14s measured %10.1f KiB/s %8s   ttui CPU %.2f s/GiB" % (name, tgt, rate / 1024, err, cpu))
PY
}

# Unlimited: the whole download (it is over in seconds), CPU from ttui's own rusage.
run_unlimited() {
    local port=$((20000 + RANDOM % 20000))
    rm -rf "$WORK/out"
    /usr/bin/python3 "$REPO/assets/seeders/lt_seed.py" --torrent "$WORK/p.torrent" \
        --save "$WORK/data" --ip 127.0.0.1 --port "$port" --seed-mode \
        > "$WORK/lt.out" 2> "$WORK/lt.err" &
    local lt=$!
    PIDS+=("$lt")
    for _ in $(seq 100); do grep -q '^ready' "$WORK/lt.out" && break; sleep 0.1; done
    python3 - "$TTUI" "$WORK" "$port" "$SIZE_MIB" <<'PY'
import resource, subprocess, sys, time
ttui, work, port, mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.monotonic()
subprocess.run([ttui, work + "/p.torrent", "--headless", "--no-trackers", "--no-dht",
                "--transport", "tcp", "--port", "0", "--bind", "127.0.0.1",
                "--peer", "127.0.0.1:" + port, "-o", work + "/out"],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=True)
dt = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (ru.ru_utime + ru.ru_stime) / (mib / 1024)
print("%-9s target %-14s measured %10.1f KiB/s %8s   ttui CPU %.2f s/GiB" % ("0", "unlimited", mib * 1024 / dt, "", cpu))
PY
    kill "$lt" 2>/dev/null || true
    wait "$lt" 2>/dev/null || true
}

for r in $RATES; do run_one "$r"; done
run_unlimited
