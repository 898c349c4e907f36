#!/usr/bin/env bash
# SOCKS5 proxy benchmark: one `ttui seed` on 127.0.0.21, and in the same run, taking turns at
# going first, ttui downloading from it directly and through dante (`danted`, Debian's
# dante-server, listening on 127.0.0.41 and relaying from 127.0.0.42, `--proxy socks5://…`).
# Reports MB/s, CPU seconds of the downloader (user + sys), CPU seconds per GiB and dante's
# CPU, medians of the runs, and the proxied/direct ratios. Not part of the test suite.
#
#   bash tests/bench/proxy.sh
#
# Environment:
#   PROXY_BENCH_MIB=512     payload size
#   PROXY_BENCH_RUNS=3      downloads per way (medians are reported)
#   PROXY_BENCH_TIMEOUT=600 seconds one download may take before it is killed and marked failed
#   CARGO_TARGET_DIR        where the release ttui is built
#   PROXY_BENCH_TTUI        a ttui binary to measure instead (no build)
#
# Everything after the build runs in `unshare -n` (only `lo` exists); ttui runs with
# --no-dht --no-trackers, over TCP both ways (a SOCKS5 CONNECT carries only TCP; direct, ttui
# would also try uTP); every process started is stopped by its pid.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
MIB=${PROXY_BENCH_MIB:-512}
RUNS=${PROXY_BENCH_RUNS:-3}
LIMIT=${PROXY_BENCH_TIMEOUT:-600}

note() { printf '[proxy-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [[ -z ${PROXY_BENCH_INNER:-} ]]; then
    command -v mktorrent >/dev/null || die "mktorrent is missing"
    command -v danted >/dev/null || die "danted is missing (apt-get install dante-server)"
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing"
    BIN=${PROXY_BENCH_TTUI:-$TARGET/release/ttui}
    if [[ -z ${PROXY_BENCH_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline)
    fi
    WORK=$(mktemp -d /tmp/ttui-proxy-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    note "payload: $MIB MiB in $WORK"
    mkdir -p "$WORK/seed"
    head -c $((MIB << 20)) /dev/urandom >"$WORK/seed/payload.bin"
    mktorrent -l 20 -a http://127.0.0.1:1/announce -o "$WORK/payload.torrent" \
        "$WORK/seed/payload.bin" >/dev/null
    PROXY_BENCH_INNER=1 WORK=$WORK TTUI=$BIN RUNS=$RUNS LIMIT=$LIMIT TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
TORRENT=$WORK/payload.torrent
SIZE=$(stat -c %s "$WORK/seed/payload.bin")
SEED_PORT=26881
DANTE_PORT=21080
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$TTUI" seed "$TORRENT" -o "$WORK/seed" --headless --no-trackers --no-dht --bind 127.0.0.21 \
    --port $SEED_PORT --log-file "$WORK/seed.log" >"$WORK/seed.out" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q seeding "$WORK/seed.out" && break; sleep 0.1; done
grep -q seeding "$WORK/seed.out" || die "the seed did not start: $(tail -3 "$WORK/seed.out")"

cat >"$WORK/danted.conf" <<EOF
logoutput: $WORK/danted.log
internal: 127.0.0.41 port = $DANTE_PORT
external: 127.0.0.42
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
}
EOF
danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" 2>"$WORK/danted.err" &
DANTE=$!
pids+=($DANTE)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.41/$DANTE_PORT) 2>/dev/null && break; sleep 0.1; done

# CPU seconds (user + sys) of all of dante's processes so far, from /proc: the mother's own
# and its reaped children's (fields 14-17), and its children still running, theirs likewise.
dante_cpu() {
    local total=0 p t
    for p in $DANTE $(pgrep -P $DANTE || true); do
        t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

declare -A mbs cpu
one() { # way
    local way=$1 out=$WORK/out-$1 extra=()
    rm -rf "$out"
    [[ $way == proxied ]] && extra=(--proxy "socks5://127.0.0.41:$DANTE_PORT" --proxy-only)
    local d0 d1
    d0=$(dante_cpu)
    local t0 t1
    t0=$(date +%s.%N)
    if ! timeout "$LIMIT" /usr/bin/time -f '%U %S' -o "$WORK/time" "$TTUI" "$TORRENT" -o "$out" \
        --headless --no-trackers --no-dht --transport tcp --bind 127.0.0.31 --port 0 \
        --peer 127.0.0.21:$SEED_PORT "${extra[@]}" >"$WORK/$way.out" 2>&1; then
        note "$way: failed: $(tail -2 "$WORK/$way.out")"
        return
    fi
    t1=$(date +%s.%N)
    d1=$(dante_cpu)
    cmp -s "$out/payload.bin" "$WORK/seed/payload.bin" || die "$way: the payload differs"
    local secs c
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    c=$(awk '{ print $1 + $2 }' "$WORK/time")
    mbs[$way]+="$(awk -v s="$SIZE" -v t="$secs" 'BEGIN { printf "%.1f", s / t / 1e6 }') "
    cpu[$way]+="$c "
    note "$way: $(awk -v s="$SIZE" -v t="$secs" 'BEGIN { printf "%.1f MB/s", s / t / 1e6 }'), ttui CPU ${c}s, dante CPU $(awk -v a="$d0" -v b="$d1" 'BEGIN { printf "%.2f", b - a }')s"
    [[ $way == proxied ]] && dcpu+="$(awk -v a="$d0" -v b="$d1" 'BEGIN { print b - a }') "
    rm -rf "$out"
}

dcpu=""
for r in $(seq "$RUNS"); do
    if ((r % 2)); then one direct; one proxied; else one proxied; one direct; fi
done

gib=$(awk -v s="$SIZE" 'BEGIN { print s / 1073741824 }')
printf '%-8s %5s %9s %10s %12s %12s\n' way runs "MB/s" "CPU s" "CPU s/GiB" "dante CPU s"
for way in direct proxied; do
    read -ra m <<<"${mbs[$way]:-}"
    read -ra c <<<"${cpu[$way]:-}"
    ((${#m[@]})) || { printf '%-8s %5s failed\n' "$way" 0; continue; }
    mm=$(printf '%s\n' "${m[@]}" | median)
    cm=$(printf '%s\n' "${c[@]}" | median)
    dm="-"
    if [[ $way == proxied ]]; then
        read -ra d <<<"$dcpu"
        dm=$(printf '%s\n' "${d[@]}" | median)
    fi
    printf '%-8s %5s %9s %10s %12s %12s\n' "$way" "${#m[@]}" "$mm" "$cm" \
        "$(awk -v c="$cm" -v g="$gib" 'BEGIN { printf "%.2f", c / g }')" "$dm"
    eval "med_mbs_$way=$mm med_cpu_$way=$cm"
done
if [[ -n ${med_mbs_direct:-} && -n ${med_mbs_proxied:-} ]]; then
    awk -v a="$med_mbs_proxied" -v b="$med_mbs_direct" -v c="$med_cpu_proxied" -v d="$med_cpu_direct" \
        'BEGIN { printf "proxied / direct: MB/s x%.2f, ttui CPU per GiB x%.2f\n", a / b, c / d }'
fi
