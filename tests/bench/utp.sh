#!/usr/bin/env bash
# uTP download benchmark: one python3-libtorrent seeder speaking uTP and TCP, and in the same
# run, taking turns at going first, ttui over uTP (`--transport utp`), ttui over TCP
# (`--transport tcp`) and a uTP-only python3-libtorrent leecher download from it; and ttui over
# uTP from a `ttui seed` (uTP only: ttui's own sending path, GSO). Reports MB/s, CPU seconds
# (user + sys of the downloader alone) and CPU seconds per GiB, medians of the runs, and
# ttui's uTP/TCP ratios (issue 22: uTP >= 250 MB/s at <= 2x TCP's CPU per GiB). Each run's
# line also gives the seeder's CPU, the UDP receive-buffer drops and, for the libtorrent
# seeder, its own uTP counters (timeouts, losses, ACKs it read).
#
#   bash tests/bench/utp.sh
#
# Environment:
#   UTP_BENCH_MIB=256     payload size
#   UTP_BENCH_RUNS=3      downloads per client (medians are reported)
#   UTP_BENCH_TIMEOUT=600 seconds one download may take before it is killed and marked failed
#   UTP_BENCH_TTUI_ARGS   extra arguments for ttui (e.g. "--encryption off")
#   UTP_BENCH_LT=0        skip the python3-libtorrent leecher (it runs at a few MB/s)
#   UTP_BENCH_TT=0        skip the ttui seeder
#   UTP_BENCH_LT_BUF      the libtorrent seeder's socket buffers in bytes (its
#                         recv/send_socket_buffer_size, uTP's UDP socket too); 0 = the system's
#                         default (208 KiB here), where it drops ACKs
#   UTP_BENCH_WRAP        a command put before ttui's uTP runs, to profile them, e.g.
#                         "perf record -g -o /tmp/utp.perf" or "strace -c -f -o /tmp/utp.strace"
#                         (its own CPU then counts in ttui's figures)
#   CARGO_TARGET_DIR      where the release ttui is built
#   UTP_BENCH_TTUI        a ttui binary to measure instead (no build), e.g. a copy of a
#                         previous build for a before/after comparison
#   UTP_BENCH_BEFORE      a second ttui binary (a copy of an earlier build) that downloads over
#                         uTP from both seeders too, taking turns with the others: before and
#                         after in the same run (the ttui seeder is the measured build)
#
# Everything after the build runs in `unshare -n` (only `lo` exists); every client listens on
# its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off, and ttui runs with --no-dht.
set -euo pipefail
# No DHT routers, no port mapping: a benchmark talks to loopback only.
export TTUI_NO_PUBLIC_ROUTERS=1

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
        UTP_BENCH_TT=${UTP_BENCH_TT:-1} UTP_BENCH_LT_BUF=${UTP_BENCH_LT_BUF:-0} \
        UTP_BENCH_BEFORE=${UTP_BENCH_BEFORE:-} \
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

TT_IP=127.0.0.3
TT_PORT=7300
LT_STATS=$WORK/seeder-utp-stats

$PY "$LT" --torrent "$TORRENT" --save "$WORK/seed" --ip $SEEDER_IP --port $SEEDER_PORT \
    --seed-mode --transport both --announce-wait 0 --max-seconds 7200 \
    --socket-buffer "$UTP_BENCH_LT_BUF" --utp-stats "$LT_STATS" \
    >"$WORK/seeder.out" 2>"$WORK/seeder.err" &
SEEDER=$!
TT=
trap 'kill $SEEDER $TT 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q '^ready' "$WORK/seeder.out" && break
    sleep 0.2
done
grep -q '^ready' "$WORK/seeder.out" || die "the seeder did not start: $(tail -5 "$WORK/seeder.err")"

if [[ $UTP_BENCH_TT == 1 ]]; then
    # The same files: ttui checks them (a few seconds) and seeds, uTP only.
    mkdir -p "$WORK/tt-state"
    XDG_STATE_HOME=$WORK/tt-state "$TTUI" seed "$TORRENT" --headless --no-trackers --no-dht \
        --no-pex --transport utp --bind $TT_IP --port $TT_PORT -o "$WORK/seed" \
        ${UTP_BENCH_TTUI_ARGS:-} >"$WORK/tt-seeder.out" 2>&1 &
    TT=$!
    for _ in $(seq 300); do
        grep -qi 'seeding' "$WORK/tt-seeder.out" && break
        kill -0 $TT 2>/dev/null || break
        sleep 0.2
    done
    grep -qi 'seeding' "$WORK/tt-seeder.out" || die "ttui seed did not start: $(tail -5 "$WORK/tt-seeder.out")"
fi

# `time` writes "elapsed user sys" into $3; prints nothing. Returns non-zero on failure.
# $1 is the transport (utp or tcp); each run binds its own address.
run_ttui() {
    local tr=$1 n=$2 out=$WORK/out-ttui-$1-$2 ip=127.0.0.$((10 + $2)) wrap=() peer=$SEEDER_IP:$SEEDER_PORT
    local bin=${5:-$TTUI}
    rm -rf "$out"
    mkdir -p "$out"
    [[ $tr == tcp ]] && ip=127.0.0.$((50 + n))
    # From the ttui seeder: uTP again, from addresses of their own.
    [[ ${4:-} == tt ]] && ip=127.0.0.$((100 + n)) peer=$TT_IP:$TT_PORT
    # The earlier build: addresses of its own again.
    [[ -n ${5:-} ]] && ip=127.0.$((1 + ${#4})).$n
    # shellcheck disable=SC2206
    [[ $tr == utp && -n ${UTP_BENCH_WRAP:-} ]] && wrap=(${UTP_BENCH_WRAP/%/.$n})
    # shellcheck disable=SC2086
    timeout "$LIMIT" /usr/bin/time -f '%e %U %S' -o "$3" "${wrap[@]}" "$bin" "$TORRENT" \
        --headless --no-trackers --no-dht --transport "$tr" --bind "$ip" --port 0 \
        --peer "$peer" -o "$out" ${UTP_BENCH_TTUI_ARGS:-} \
        >"$WORK/ttui-$tr${4:-}-$n.out" 2>&1 || return 1
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || return 1
    rm -rf "$out"
}
run_utp() { run_ttui utp "$@"; }
run_tcp() { run_ttui tcp "$@"; }
run_tt() { run_ttui utp "$1" "$2" tt; }
run_butp() { run_ttui utp "$1" "$2" "" "$UTP_BENCH_BEFORE"; }
run_btt() { run_ttui utp "$1" "$2" tt "$UTP_BENCH_BEFORE"; }

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
seeder_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }

# CPU seconds of each of a process's threads, "tid seconds" a line: a seeder thread that was
# busy all the time of a download is what bounded it.
thread_cpu() {
    local t
    for t in /proc/"$1"/task/*/stat; do
        awk -v c="$(getconf CLK_TCK)" '{ sub(/^[0-9]+ \(.*\) /, ""); split(FILENAME, f, "/");
            printf "%s %.2f\n", f[5], ($12 + $13) / c }' "$t" 2>/dev/null || true
    done
}
# The busiest thread's CPU seconds between two thread_cpu snapshots.
busiest() { awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if (d > m) m = d } END { printf "%.2f", m }' "$1" "$2"; }

# The libtorrent seeder's uTP counters (it rewrites the file four times a second).
lt_stats() { cat "$LT_STATS" 2>/dev/null || true; }
# What changed between two lt_stats snapshots: timeouts, losses, fast retransmits, packets
# read (ACKs, mostly), data packets sent, delay samples above the target.
lt_delta() {
    awk 'NR == FNR { a[$1] = $2; next } { d[$1] = $2 - a[$1] }
        END { printf "timeouts %d, losses %d, fast resends %d, resent %d, read %d, sent %d, above target %d",
              d["utp.utp_timeout"], d["utp.utp_packet_loss"], d["utp.utp_fast_retransmit"],
              d["utp.utp_packet_resend"], d["utp.utp_packets_in"], d["utp.utp_payload_pkts_out"],
              d["utp.utp_samples_above_target"] }' "$1" "$2"
}

# Datagrams the namespace's UDP dropped for a full receive buffer (either side's socket), and
# those of them the seeder's socket dropped (ACKs coming to it; the rest are data to ttui).
udp_drops() { awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $6 }' /proc/net/snmp; }
seeder_drops() {
    awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { d += $NF } END { print d + 0 }' /proc/net/udp
}

declare -A RATES CPUS
for n in $(seq "$RUNS"); do
    order="utp tcp"
    [[ $UTP_BENCH_LT == 1 ]] && order+=" lt"
    [[ $UTP_BENCH_TT == 1 ]] && order+=" tt"
    [[ -n $UTP_BENCH_BEFORE ]] && order+=" butp"
    [[ -n $UTP_BENCH_BEFORE && $UTP_BENCH_TT == 1 ]] && order+=" btt"
    # Taking turns at going first: the page cache and the seeder's warm-up favour no one.
    ((n % 2 == 0)) && order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
    for c in $order; do
        t=$WORK/time-$c-$n
        spid=$SEEDER sport=$SEEDER_PORT
        [[ $c == *tt ]] && spid=$TT sport=$TT_PORT
        s0=$(seeder_cpu $spid)
        d0=$(udp_drops)
        e0=$(seeder_drops $sport)
        lt_stats >"$WORK/lt0"
        thread_cpu $spid >"$WORK/th0"
        if "run_$c" "$n" "$t"; then
            # The last line: `time` puts "Command exited ..." first when the status is not 0.
            read -r el us sy < <(tail -n 1 "$t") || true
            rate=$(awk -v s="$SIZE" -v e="$el" 'BEGIN { printf "%.1f", s / e / 1e6 }')
            cpu=$(awk -v u="$us" -v s="$sy" 'BEGIN { printf "%.2f", u + s }')
            scpu=$(awk -v a="$s0" -v b="$(seeder_cpu $spid)" 'BEGIN { printf "%.2f", b - a }')
            thread_cpu $spid >"$WORK/th1"
            scpu+=" CPU-s, its busiest thread $(busiest "$WORK/th0" "$WORK/th1")"
            lt=
            if [[ $c != *tt ]]; then
                # The seeder's counters of this run: wait for a rewrite after its end.
                sleep 0.6
                lt_stats >"$WORK/lt1"
                [[ -s $WORK/lt1 ]] && lt="; libtorrent uTP: $(lt_delta "$WORK/lt0" "$WORK/lt1")"
            fi
            note "run $n $c: ${el}s, $rate MB/s, $cpu CPU-s (seeder: $scpu CPU-s;" \
                "UDP receive-buffer drops: $(($(udp_drops) - d0)), at the seeder $(($(seeder_drops $sport) - e0))$lt)"
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
echo "$MIB MiB from one python3-libtorrent seeder (uTP and TCP; socket buffers:" \
    "${UTP_BENCH_LT_BUF/#0/the default}) and from ttui seed (uTP), $RUNS runs (median):"
declare -A RATE GIB
for c in utp butp tcp lt tt btt; do
    [[ -n ${RATES[$c]:-} ]] || continue
    case $c in
        utp) name="ttui --transport utp" ;;
        tcp) name="ttui --transport tcp" ;;
        lt) name="python3-libtorrent uTP" ;;
        tt) name="ttui uTP from ttui" ;;
        butp) name="before: uTP" ;;
        btt) name="before: uTP from ttui" ;;
    esac
    RATE[$c]=$(echo "${RATES[$c]}" | median)
    cpu=$(echo "${CPUS[$c]}" | median)
    GIB[$c]=$(per_gib "$cpu")
    printf '  %-24s %8s MB/s  %6s CPU-s  %6s CPU-s/GiB   (runs: %s/ %s)\n' "$name" \
        "${RATE[$c]}" "$cpu" "${GIB[$c]}" "${RATES[$c]}" "${CPUS[$c]}"
done
echo "  ttui uTP/TCP: CPU per GiB $(ratio "${GIB[utp]}" "${GIB[tcp]}") x (target <= 2)," \
    "throughput $(ratio "${RATE[utp]}" "${RATE[tcp]}") x; uTP ${RATE[utp]} MB/s (target >= 250)"
if [[ -n ${RATE[tt]:-} ]]; then
    echo "  ttui uTP from ttui / TCP from libtorrent: CPU per GiB $(ratio "${GIB[tt]}" "${GIB[tcp]}") x," \
        "${RATE[tt]} MB/s (target >= 250)"
fi
