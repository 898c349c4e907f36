#!/usr/bin/env bash
# Rate limits, target against measured, and what a limit costs (issue 20): ttui --headless
# against a swarm of N python3-libtorrent sessions in one process (tests/bench/lt_swarm.py; TCP,
# 127.0.0.1 only, no DHT, no trackers). For each direction, peer count and rate:
#   limited  ttui with --down-limit / --up-limit RATE, the peers unlimited;
#   capped   ttui unlimited, each peer capped at RATE/N (the same bytes per second with no ttui
#            limit: what the same transfer costs ttui when nothing of ours throttles it).
# After a warm-up, two rates over WINDOW seconds: ttui's own (the mean of the rates its progress
# lines print: what the limit governs) and the swarm's payload counter (uploaded by the
# seeders, downloaded by the leechers; with many peers at a slow limit it runs ahead by what
# sits in socket buffers), and ttui's CPU time (/proc) over the same
# window gives CPU seconds per GiB, user and user+system. "cost" is limited CPU/GiB over capped
# CPU/GiB: at most 1 means the limiter costs nothing beyond the transfer (issue: "no higher
# than without one"). On loopback the kernel charges a sender's transmit to whoever opens the
# receive window: when ttui limits a download it reads a full socket buffer, and the ACK its
# read sends makes the kernel push the seeder's next segments in ttui's system time. User time
# is what ttui itself spends.
#
#   bash tests/bench/ratelimit.sh                      # down, 1 peer, 100K 1M 10M 50M
#   DIRS="down up" PEERS="1 10 50" bash tests/bench/ratelimit.sh   # the issue's whole grid
#   RATES="1M" WINDOW=10 bash tests/bench/ratelimit.sh
#
# Figures are in tests/bench/README.md ("Rate limits").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RATES=${RATES:-"100K 1M 10M 50M"}
DIRS=${DIRS:-"down"}
PEERS=${PEERS:-"1"}
WINDOW=${WINDOW:-30}
WARMUP=${WARMUP:-4}
SIZE_MIB=${SIZE_MIB:-2048}
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

cpu_secs() { # "utime stime" of a pid, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ print $14 / hz, $15 / hz }' "/proc/$1/stat"
}
ttui_rate() { # FILE FROM_LINE DIR: mean of the down/up rates ttui printed after line FROM
    tail -n +"$(($2 + 1))" "$1" | grep -oE "$3 [0-9.]+ [KMG]?i?B/s" | awk '
        { v = $2; u = $3; m = 1
          if (u ~ /^K/) m = 1024; else if (u ~ /^M/) m = 1048576; else if (u ~ /^G/) m = 1073741824
          s += v * m; n++ }
        END { if (n) printf "%.0f", s / n; else print 0 }'
}
total_now() { # the swarm's latest payload counter
    grep '^total ' "$WORK/swarm.out" | tail -1 | cut -d' ' -f2
}
bytes_of() { # 2M -> bytes (binary units)
    python3 -c "import sys;s=sys.argv[1];m={'K':1<<10,'M':1<<20,'G':1<<30}
print(int(float(s[:-1])*m[s[-1]]) if s[-1] in m else int(s))" "$1"
}
wait_ready() {
    for _ in $(seq 200); do grep -q '^ready' "$1" && return 0; sleep 0.1; done
    echo "lt_swarm did not start: $(tail -3 "$1")" >&2
    return 1
}
stop() {
    kill "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
}

# run DIR N RATE MODE -> "swarm_bytes_per_s user_cpu_s_per_gib total_cpu_s_per_gib ttui_bytes_per_s"
run() {
    local dir=$1 n=$2 rate=$3 mode=$4 bytes cap=0 limit=0
    bytes=$(bytes_of "$rate")
    if [ "$mode" = capped ]; then cap=$(( (bytes + n - 1) / n )); else limit=$rate; fi
    local base=$((20000 + RANDOM % 20000)) tport=$((41000 + RANDOM % 20000))
    rm -rf "$WORK/out" "$WORK/leech"
    local peers=() swarm tt
    if [ "$dir" = down ]; then
        /usr/bin/python3 "$HERE/lt_swarm.py" --torrent "$WORK/p.torrent" --save "$WORK/data" \
            --port "$base" -n "$n" --cap "$cap" > "$WORK/swarm.out" 2> "$WORK/swarm.err" &
        swarm=$!
        PIDS+=("$swarm")
        wait_ready "$WORK/swarm.out"
        for k in $(seq 0 $((n - 1))); do peers+=(--peer "127.0.0.1:$((base + k))"); done
        "$TTUI" "$WORK/p.torrent" --headless --no-trackers --no-dht --no-pex --transport tcp \
            --port 0 --bind 127.0.0.1 "${peers[@]}" -o "$WORK/out" --down-limit "$limit" \
            > "$WORK/ttui.out" 2>&1 &
        tt=$!
    else
        mkdir -p "$WORK/out" && ln "$WORK/data/payload" "$WORK/out/payload"
        "$TTUI" seed "$WORK/p.torrent" --headless --no-trackers --no-dht --no-pex --transport tcp \
            --port "$tport" --bind 127.0.0.1 -o "$WORK/out" --up-limit "$limit" \
            > "$WORK/ttui.out" 2>&1 &
        tt=$!
        PIDS+=("$tt")
        for _ in $(seq 100); do
            grep -qi 'seeding' "$WORK/ttui.out" 2>/dev/null && break
            sleep 0.2
        done
        /usr/bin/python3 "$HERE/lt_swarm.py" --torrent "$WORK/p.torrent" --save "$WORK/leech" \
            --port "$base" -n "$n" --cap "$cap" --leech --peer "127.0.0.1:$tport" \
            > "$WORK/swarm.out" 2> "$WORK/swarm.err" &
        swarm=$!
        PIDS+=("$swarm")
        wait_ready "$WORK/swarm.out"
    fi
    PIDS+=("$tt")
    sleep "$WARMUP"
    local u0 s0 b0 t0 u1 s1 b1 t1
    read -r u0 s0 < <(cpu_secs "$tt"); b0=$(total_now); t0=$(date +%s.%N)
    local from
    from=$(wc -l < "$WORK/ttui.out")
    sleep "$WINDOW"
    read -r u1 s1 < <(cpu_secs "$tt"); b1=$(total_now); t1=$(date +%s.%N)
    local own
    own=$(ttui_rate "$WORK/ttui.out" "$from" "$dir")
    stop "$tt" "$swarm"
    python3 -c "import sys
b0,b1,t0,t1,u0,u1,s0,s1=map(float,sys.argv[1:9])
gib=(b1-b0)/(1<<30)
nan=float('nan')
print('%.0f %.3f %.3f %s' % ((b1-b0)/(t1-t0), (u1-u0)/gib if gib>0 else nan,
                          (u1-u0+s1-s0)/gib if gib>0 else nan, sys.argv[9]))" \
        "${b0:-0}" "${b1:-0}" "$t0" "$t1" "$u0" "$u1" "$s0" "$s1" "$own"
}

printf '%-4s %5s %6s  %22s  %22s  %21s %21s  %s\n' dir peers limit "ttui's own rate" \
    "the peers' counters" "limited CPU/GiB" "capped CPU/GiB" "cost (user, total)"
printf '%-4s %5s %6s  %22s  %22s  %21s %21s\n' "" "" "" "" "" "user  total" "user  total"
for dir in $DIRS; do
    for n in $PEERS; do
        for rate in $RATES; do
            read -r got ul tl own < <(run "$dir" "$n" "$rate" limited)
            read -r _ uc tc _ < <(run "$dir" "$n" "$rate" capped)
            python3 -c "import sys
d,n,r=sys.argv[1:4]
target,got,own,ul,tl,uc,tc=map(float,sys.argv[4:])
q=lambda a,b: a/b if b>0 else float('nan')
e=lambda x: (x-target)/target*100
print('%-4s %5s %6s  %9.1f KiB/s %+6.1f%%  %9.1f KiB/s %+6.1f%%  %8.2f s %8.2f s   %8.2f s %8.2f s   %.2f, %.2f' % (
      d, n, r, own/1024, e(own), got/1024, e(got), ul, tl, uc, tc, q(ul,uc), q(tl,tc)))" \
                "$dir" "$n" "$rate" "$(bytes_of "$rate")" "$got" "$own" "$ul" "$tl" "$uc" "$tc"
        done
    done
done
