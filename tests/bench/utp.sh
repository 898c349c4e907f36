#!/usr/bin/env bash
# uTP download benchmark: one python3-libtorrent seeder speaking uTP and TCP, and in the same
# run, taking turns at going first, ttui over uTP (`--transport utp`), ttui over TCP
# (`--transport tcp`) and a uTP-only python3-libtorrent leecher download from it. Reports MB/s,
# CPU seconds (user + sys of the downloader alone) and CPU seconds per GiB, medians of the
# runs, and ttui's uTP/TCP ratios (issue 22: uTP >= 250 MB/s at <= 2x TCP's CPU per GiB).
#
#   bash tests/bench/utp.sh
#
# Environment:
#   UTP_BENCH_MIB=256     payload size
#   UTP_BENCH_RUNS=3      downloads per client (medians are reported)
#   UTP_BENCH_TIMEOUT=600 seconds one download may take before it is killed and marked failed
#   UTP_BENCH_TTUI_ARGS   extra arguments for ttui (e.g. "--encryption off")
#   UTP_BENCH_LT=0        skip the python3-libtorrent leecher (it runs at a few MB/s)
#   UTP_BENCH_WRAP        a command put before ttui's uTP runs, to profile them, e.g.
#                         "perf record -g -o /tmp/utp.perf" or "strace -c -f -o /tmp/utp.strace"
#                         (its own CPU then counts in ttui's figures)
#   CARGO_TARGET_DIR      where the release ttui is built
#   UTP_BENCH_TTUI        a ttui binary to measure instead (no build), e.g. a copy of a
#                         previous build for a before/after comparison
#
# Everything after the build runs in `unshare -n` (only `lo` exists); every client listens on
# its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off, and ttui runs with --no-dht.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py
MIB=${UTP_BENCH_MIB:-256}
RUNS=${UTP_BENCH_RUNS:-3}
LIMIT=${UTP_BENCH_TIMEOUT:-600}

note() { printf '[utp-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${UTP_BENCH_INNER:-} ]]; then
    command -v mktorrent >/dev/null || die "mktorrent is missing"
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    BIN=${UTP_BENCH_TTUI:-$TARGET/release/ttui}
    if [[ -z ${UTP_BENCH_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline)
    fi
    WORK=$(mktemp -d /tmp/ttui-utp-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    note "payload: $MIB MiB in $WORK"
    mkdir -p "$WORK/seed"
    head -c $((MIB << 20)) /dev/urandom >"$WORK/seed/payload.bin"
    mktorrent -l 20 -a http://127.0.0.1:1/announce -o "$WORK/payload.torrent" \
        "$WORK/seed/payload.bin" >/dev/null
    UTP_BENCH_INNER=1 WORK=$WORK TTUI=$BIN UTP_BENCH_X=${UTP_BENCH_X:-} \
        UTP_BENCH_WRAP=${UTP_BENCH_WRAP:-} UTP_BENCH_LT=${UTP_BENCH_LT:-1} \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash ${UTP_BENCH_X:+-x} "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
TORRENT=$WORK/payload.torrent
SIZE=$(stat -c %s "$WORK/seed/payload.bin")
SEEDER_IP=127.0.0.2
SEEDER_PORT=7100

$PY "$LT" --torrent "$TORRENT" --save "$WORK/seed" --ip $SEEDER_IP --port $SEEDER_PORT \
    --seed-mode --transport both --announce-wait 0 --max-seconds 7200 \
    >"$WORK/seeder.out" 2>"$WORK/seeder.err" &
SEEDER=$!
trap 'kill $SEEDER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q '^ready' "$WORK/seeder.out" && break
    sleep 0.2
done
grep -q '^ready' "$WORK/seeder.out" || die "the seeder did not start: $(tail -5 "$WORK/seeder.err")"

# `time` writes "elapsed user sys" into $3; prints nothing. Returns non-zero on failure.
# $1 is the transport (utp or tcp); each run binds its own address.
run_ttui() {
    local tr=$1 n=$2 out=$WORK/out-ttui-$1-$2 ip=127.0.0.$((10 + $2)) wrap=()
    rm -rf "$out"
    mkdir -p "$out"
    [[ $tr == tcp ]] && ip=127.0.0.$((50 + n))
    # shellcheck disable=SC2206
    [[ $tr == utp && -n ${UTP_BENCH_WRAP:-} ]] && wrap=(${UTP_BENCH_WRAP/%/.$n})
    # shellcheck disable=SC2086
    timeout "$LIMIT" /usr/bin/time -f '%e %U %S' -o "$3" "${wrap[@]}" "$TTUI" "$TORRENT" \
        --headless --no-trackers --no-dht --transport "$tr" --bind "$ip" --port 0 \
        --peer $SEEDER_IP:$SEEDER_PORT -o "$out" ${UTP_BENCH_TTUI_ARGS:-} \
        >"$WORK/ttui-$tr-$n.out" 2>&1 || return 1
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || return 1
    rm -rf "$out"
}
run_utp() { run_ttui utp "$@"; }
run_tcp() { run_ttui tcp "$@"; }

# A libtorrent leecher prints "done" when complete and then seeds: its time and CPU seconds
# (from /proc, user + sys) are taken when "done" appears, then it is stopped.
run_lt() {
    local n=$1 out=$WORK/out-lt-$1 start pid el cpu
    rm -rf "$out"
    mkdir -p "$out"
    start=$(date +%s.%N)
    $PY "$LT" --torrent "$TORRENT" --save "$out" \
        --ip 127.0.0.$((30 + n)) --port $((7200 + n)) --leech --transport utp \
        --peer $SEEDER_IP:$SEEDER_PORT --announce-wait 0 --max-seconds "$LIMIT" \
        >"$WORK/lt-$n.out" 2>"$WORK/lt-$n.err" &
    pid=$!
    # Polled often: the poll's granularity is part of the measured time.
    for _ in $(seq $((LIMIT * 50))); do
        grep -q '^done' "$WORK/lt-$n.out" && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.02
    done
    el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    cpu=$(awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f 0", ($14 + $15) / t }' "/proc/$pid/stat" 2>/dev/null || echo "nan 0")
    kill -TERM $pid 2>/dev/null || true
    wait $pid || true
    echo "$el $cpu" >"$2"
    grep -q '^done' "$WORK/lt-$n.out" || return 1
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || return 1
    rm -rf "$out"
}

# The seeder's CPU seconds so far (user + sys): a seeder near one busy core per second of a
# download is what bounds that download's rate, whatever the downloader does.
seeder_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$SEEDER/stat"; }

# Datagrams the namespace's UDP dropped for a full receive buffer (either side's socket), and
# those of them the seeder's socket dropped (ACKs coming to it; the rest are data to ttui).
udp_drops() { awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $6 }' /proc/net/snmp; }
seeder_drops() {
    awk -v p="$(printf ':%04X' $SEEDER_PORT)" '$2 ~ p"$" { d += $NF } END { print d + 0 }' /proc/net/udp
}

declare -A RATES CPUS
for n in $(seq "$RUNS"); do
    order="utp tcp"
    [[ $UTP_BENCH_LT == 1 ]] && order+=" lt"
    # Taking turns at going first: the page cache and the seeder's warm-up favour no one.
    ((n % 2 == 0)) && order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
    for c in $order; do
        t=$WORK/time-$c-$n
        s0=$(seeder_cpu)
        d0=$(udp_drops)
        e0=$(seeder_drops)
        if "run_$c" "$n" "$t"; then
            # The last line: `time` puts "Command exited ..." first when the status is not 0.
            read -r el us sy < <(tail -n 1 "$t") || true
            rate=$(awk -v s="$SIZE" -v e="$el" 'BEGIN { printf "%.1f", s / e / 1e6 }')
            cpu=$(awk -v u="$us" -v s="$sy" 'BEGIN { printf "%.2f", u + s }')
            scpu=$(awk -v a="$s0" -v b="$(seeder_cpu)" 'BEGIN { printf "%.2f", b - a }')
            note "run $n $c: ${el}s, $rate MB/s, $cpu CPU-s (seeder: $scpu CPU-s;" \
                "UDP receive-buffer drops: $(($(udp_drops) - d0)), at the seeder $(($(seeder_drops) - e0)))"
            RATES[$c]+="$rate "
            CPUS[$c]+="$cpu "
        else
            note "run $n $c: FAILED (see $WORK)"
            RATES[$c]+="0 "
            CPUS[$c]+="nan "
        fi
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
per_gib() { awk -v c="$1" -v s="$SIZE" 'BEGIN { printf "%.2f", c * 1073741824 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
echo
echo "$MIB MiB from one python3-libtorrent seeder (uTP and TCP), $RUNS runs (median):"
declare -A RATE GIB
for c in utp tcp lt; do
    [[ -n ${RATES[$c]:-} ]] || continue
    case $c in
        utp) name="ttui --transport utp" ;;
        tcp) name="ttui --transport tcp" ;;
        lt) name="python3-libtorrent uTP" ;;
    esac
    RATE[$c]=$(echo "${RATES[$c]}" | median)
    cpu=$(echo "${CPUS[$c]}" | median)
    GIB[$c]=$(per_gib "$cpu")
    printf '  %-24s %8s MB/s  %6s CPU-s  %6s CPU-s/GiB   (runs: %s/ %s)\n' "$name" \
        "${RATE[$c]}" "$cpu" "${GIB[$c]}" "${RATES[$c]}" "${CPUS[$c]}"
done
echo "  ttui uTP/TCP: CPU per GiB $(ratio "${GIB[utp]}" "${GIB[tcp]}") x (target <= 2)," \
    "throughput $(ratio "${RATE[utp]}" "${RATE[tcp]}") x; uTP ${RATE[utp]} MB/s (target >= 250)"
