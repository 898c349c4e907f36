#!/usr/bin/env bash
# Session scale benchmark: a library of N small torrents, all seeding, announced to one
# opentracker on loopback, no peers, in one `ttui daemon` with its default settings, and the
# same library in transmission-daemon, qbittorrent-nox and rtorrent, one after the other in the same
# run (each client gets a fresh tracker). Per client:
#   add      seconds from the first add to every torrent seeding (data present: ttui and
#            Transmission check it; qBittorrent is told skip_checking, as its libtorrent checks
#            one torrent a second here: 200 s for 200 torrents)
#   rss/hwm  VmRSS once all seed, and VmHWM (peak) since the process started (MiB)
#   rest     CPU at rest: utime+stime over SCALE_REST seconds with every torrent seeding,
#            SCALE_SETTLE seconds after the last one started seeding, in % of one core (ttui
#            puts a torrent to sleep after 60 s without peers: the default settle covers it)
#   list     latency of the client's list command (`ttui list --json`, `transmission-remote
#            -l`, the WebUI's /api/v2/torrents/info), median of SCALE_LIST_RUNS
#   stop     seconds from SIGTERM to exit
#   restart  seconds from starting the process again to every torrent listed as seeding
#   rchar    bytes the restarted process read until then (read/pread, page cache included;
#            the payload's size would mean a re-hash; libtorrent reads through mmap, which
#            this does not see)
#   rest2    CPU at rest of the restarted process, 10 s after every torrent is seeding again,
#            over SCALE_REST seconds
#   annc     torrents the tracker lists with a seeder once the client says all seed (polled up
#            to SCALE_ANNOUNCE_WAIT s), and annc_s the seconds from the first add until all N
#   reannc_s seconds from the restart until the tracker has received N more announces (every
#            torrent announced again once; a clean stop tells the tracker `stopped` for the
#            torrents awake then, and the restarted client listens on a new port)
#   /min     announces the tracker received per minute, from the first add for
#            SCALE_ANNOUNCE_WATCH seconds (the client sits at rest after its measurements
#            until then): the peak minute and the mean; the series is kept in
#            $WORK/<client>/announces.tsv (and printed as a per-10-minute summary)
# Announces are opentracker's own counters (`/stats?mode=everything`: tcp and udp
# `announce`, and `seeds` for the listed seeders; the stats page is blessed for 127.0.0.1
# with -A).
# and ratios ttui / transmission (and ttui / qbittorrent, ttui / rtorrent). The machine is shared: compare
# ratios, not absolute figures.
#
#   bash tests/bench/session_scale.sh            # N = 1000
#   SCALE_N=10000 bash tests/bench/session_scale.sh
#
# Environment:
#   SCALE_N=1000           torrents
#   SCALE_MIN_KIB=16 SCALE_MAX_KIB=64 SCALE_PIECE_KIB=16   payload per torrent (1-4 pieces)
#   SCALE_REST=60          seconds CPU at rest is measured over
#   SCALE_SETTLE=75        seconds between every torrent seeding and the rest measurement
#   SCALE_LIST_RUNS=5      list latency samples
#   SCALE_BATCH=500        torrents per add call
#   SCALE_CLIENTS="ttui transmission qbittorrent"   which clients, in this order (also
#                          `rtorrent`: rtorrent 0.9.8 over XML-RPC on its SCGI socket, its
#                          session saved; its list is `d.multicall2`)
#   SCALE_TIMEOUT=1800     seconds any wait (adding, restarting) may take
#   CARGO_TARGET_DIR       where the release ttui is built
#   SCALE_TTUI=PATH        run this ttui binary instead of building one
#   SCALE_ANNOUNCE_WAIT=300   seconds to wait for the tracker to list every torrent
#   SCALE_ANNOUNCE_WATCH=0    seconds from the first add over which announces are counted a
#                             minute (3600: the first hour); 0 leaves the load series out
#   SCALE_TTUI_ARGS=""     more flags for `ttui daemon`
#   SCALE_TTUI_BASE=PATH   another ttui binary (say main's build), measured as client
#                          `ttui_base`: SCALE_CLIENTS="ttui_base ttui transmission" puts before
#                          and after in one run
#
# Every client runs with its defaults as far as seeding goes: ttui seeds every complete
# torrent by default; Transmission's seed queue is off by default; qBittorrent's queueing is
# turned off (its default would seed 5). SCALE_TTUI_ARGS adds flags to `ttui daemon`.
#
# Needs root (unshare -n). Everything after the build runs in a network namespace whose only
# interface is `lo`; every client listens on 127.0.0.1 with DHT, LSD, PEX, UPnP and NAT-PMP
# off. Every process is stopped by its pid and the work directory is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${SCALE_N:-1000}
REST=${SCALE_REST:-60}
SETTLE=${SCALE_SETTLE:-75}
LIST_RUNS=${SCALE_LIST_RUNS:-5}
BATCH=${SCALE_BATCH:-500}
CLIENTS=${SCALE_CLIENTS:-ttui transmission qbittorrent}
LIMIT=${SCALE_TIMEOUT:-1800}
ANNOUNCE_WAIT=${SCALE_ANNOUNCE_WAIT:-300}
WATCH=${SCALE_ANNOUNCE_WATCH:-0}
TRACKER=127.0.0.1:16969

note() { printf '[scale %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${SCALE_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    command -v jq >/dev/null || die "jq is missing"
    command -v opentracker >/dev/null || die "opentracker is missing"
    if [[ $CLIENTS == *transmission* ]]; then
        command -v transmission-daemon >/dev/null || die "transmission-daemon is missing"
    fi
    if [[ $CLIENTS == *rtorrent* ]] && ! command -v rtorrent >/dev/null; then
        note "rtorrent is missing (apt-get install rtorrent): not run"
        CLIENTS=${CLIENTS//rtorrent/}
    fi
    if [[ $CLIENTS == *qbittorrent* ]] && ! command -v qbittorrent-nox >/dev/null; then
        note "qbittorrent-nox is missing (apt-get install qbittorrent-nox): not run"
        CLIENTS=${CLIENTS//qbittorrent/}
    fi
    BIN=${SCALE_TTUI:-$TARGET/release/ttui}
    if [[ -z ${SCALE_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline --bin ttui)
    fi
    WORK=$(mktemp -d /tmp/ttui-scale-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    note "generating $N torrents in $WORK"
    TOTAL=$(python3 "$HERE/gen_torrents.py" "$N" "$WORK/torrents" "$WORK/data" \
        --min-kib "${SCALE_MIN_KIB:-16}" --max-kib "${SCALE_MAX_KIB:-64}" \
        --piece-kib "${SCALE_PIECE_KIB:-16}" \
        --announce "http://$TRACKER/announce" --hashes "$WORK/hashes.txt")
    note "payload: $((TOTAL >> 20)) MiB"
    if [[ $CLIENTS == *ttui_base* ]]; then
        [[ -x ${SCALE_TTUI_BASE:-} ]] || die "client ttui_base needs SCALE_TTUI_BASE=<a ttui binary>"
    fi
    SCALE_INNER=1 WORK=$WORK TOTAL=$TOTAL TTUI=$BIN TTUI_ARGS=${SCALE_TTUI_ARGS:-} TTUI_BASE=${SCALE_TTUI_BASE:-} CLIENTS=$CLIENTS \
        TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
TORRENTS=$WORK/torrents
DATA=$WORK/data
HZ=$(getconf CLK_TCK)
PID=""
TPID=""
WPID=""
trap 'for p in $PID $TPID $WPID; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
trap 'exit 143' TERM INT

# shellcheck source=tests/bench/clients.sh
source "$HERE/clients.sh"

# Polls `$1_seeding` until it prints N (or the limit passes); prints the seconds it took from $2.
wait_all_seeding() {
    local client=$1 start=$2 c=0
    for _ in $(seq $((LIMIT * 2))); do
        c=$("${client}_seeding" 2>/dev/null || echo 0)
        [[ $c -ge $N ]] && break
        kill -0 "$PID" 2>/dev/null || die "$client exited (see $WORK/$client)"
        sleep 0.5
    done
    [[ $c -ge $N ]] || die "$client: only $c of $N seeding after ${LIMIT}s"
    since "$start"
}

# Polls until the tracker lists N seeders or ANNOUNCE_WAIT passes; prints "LISTED SECONDS"
# (seconds from $1).
wait_listed() {
    local start=$1 s=0
    for _ in $(seq $((ANNOUNCE_WAIT * 2))); do
        s=$(tracker_seeds 2>/dev/null || echo 0)
        [[ $s -ge $N ]] && break
        sleep 0.5
    done
    echo "$s $(since "$start")"
}
# Polls until the tracker has received N announces more than $2 or ANNOUNCE_WAIT passes;
# prints "RECEIVED SECONDS" (seconds from $1).
wait_reannounced() {
    local start=$1 base=$2 a=0
    for _ in $(seq $((ANNOUNCE_WAIT * 2))); do
        a=$(($(tracker_stats | awk '{ print $1 }') - base))
        ((a >= N)) && break
        sleep 0.5
    done
    echo "$a $(since "$start")"
}
# Samples the tracker's announce counter every 10 s into $2 ("SECONDS_SINCE_T0 TOTAL") until
# WATCH seconds after $1 have passed.
watch_announces() {
    local t0=$1 out=$2 el
    while :; do
        el=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%d", b - a }')
        echo "$el $(tracker_stats | awk '{ print $1 }')" >>"$out"
        ((el >= WATCH)) && break
        sleep 10
    done
}
# Announces a minute from the series: "PEAK MEAN" (a minute is the last 60 s before a sample).
announce_rates() {
    awk 'NR == 1 { t0 = $1; a0 = $2 } { t[NR] = $1; a[NR] = $2 }
        END {
            for (i = 1; i <= NR; i++) for (j = i; j >= 1; j--) if (t[i] - t[j] >= 60) {
                r = (a[i] - a[j]) * 60 / (t[i] - t[j]); if (r > peak) peak = r; break }
            span = t[NR] - t0; if (span <= 0) span = 1
            printf "%.0f %.0f", peak, (a[NR] - a0) * 60 / span
        }' "$1"
}
# Per ten minutes of the series: "0-10:N 10-20:N ..." announces in each.
announce_summary() {
    awk '{ b = int($1 / 600); if (!(b in first)) first[b] = $2; last[b] = $2; if (b > m) m = b }
        END { prev = ""; for (i = 0; i <= m; i++) if (i in last) {
            base = (prev == "") ? first[i] : prev; printf "%d-%dmin:%d ", i * 10, i * 10 + 10, last[i] - base
            prev = last[i] } }' "$1"
}


# The binary and directory of the ttui client being measured: `ttui` runs $TTUI, `ttui_base`
# $TTUI_BASE, each in its own state directory (clients run one after the other).
TBIN=$TTUI
TDIR=$WORK/ttui
# ---------------------------------------------------------------- one client, every figure
declare -A R
measure() {
    local c=$1 t0 lat=() t1 c0 c1 r0 a1
    mkdir -p "$WORK/$c"
    case $c in
        ttui) TBIN=$TTUI TDIR=$WORK/ttui ;;
        ttui_base) TBIN=$TTUI_BASE TDIR=$WORK/ttui_base ;;
    esac
    note "$c: starting, adding $N torrents"
    tracker_start "$c"
    "${c}_start"
    wait_ready "$c"
    t0=$(now)
    if ((WATCH > 0)); then
        watch_announces "$t0" "$WORK/$c/announces.tsv" &
        WPID=$!
    fi
    "${c}_add"
    R[$c.add_calls]=$(since "$t0")
    R[$c.add]=$(wait_all_seeding "$c" "$t0")
    note "$c: all $N seeding after ${R[$c.add]} s (add calls ${R[$c.add_calls]} s)"
    read -r R[$c.annc] R[$c.annc_s] <<<"$(wait_listed "$t0")"
    note "$c: the tracker lists ${R[$c.annc]} of $N after ${R[$c.annc_s]} s; settling $SETTLE s"
    sleep "$SETTLE"
    R[$c.rss]=$(mib "$(status_kib "$PID" VmRSS)")
    c0=$(ticks "$PID")
    sleep "$REST"
    c1=$(ticks "$PID")
    R[$c.rest]=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v s="$REST" 'BEGIN { printf "%.2f", d / hz / s * 100 }')
    for _ in $(seq "$LIST_RUNS"); do
        t1=$(now)
        "${c}_list" >/dev/null
        lat+=("$(awk -v a="$t1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
    done
    R[$c.list]=$(echo "${lat[*]}" | median)
    R[$c.hwm]=$(mib "$(status_kib "$PID" VmHWM)")
    note "$c: rss ${R[$c.rss]} MiB, rest ${R[$c.rest]} %, list ${R[$c.list]} ms (${lat[*]})"
    R[$c.peak_min]=-
    R[$c.mean_min]=-
    if [[ -n $WPID ]]; then
        note "$c: counting announces until ${WATCH} s after the first add"
        wait "$WPID" || true
        WPID=""
        read -r R[$c.peak_min] R[$c.mean_min] <<<"$(announce_rates "$WORK/$c/announces.tsv")"
        note "$c: announces a minute: peak ${R[$c.peak_min]}, mean ${R[$c.mean_min]}; per 10 min: $(announce_summary "$WORK/$c/announces.tsv")"
    fi
    note "$c: restarting"
    t1=$(now)
    kill -TERM "$PID"
    wait "$PID" || true
    R[$c.stop]=$(since "$t1")
    t1=$(now)
    a1=$(tracker_stats | awk '{ print $1 }')
    "${c}_start"
    wait_ready "$c"
    R[$c.restart]=$(wait_all_seeding "$c" "$t1")
    r0=$(rchar "$PID")
    R[$c.rchar]=$(mib $((r0 / 1024)))
    R[$c.rss2]=$(mib "$(status_kib "$PID" VmRSS)")
    note "$c: stop ${R[$c.stop]} s, restart ${R[$c.restart]} s, read ${R[$c.rchar]} MiB, rss ${R[$c.rss2]} MiB"
    read -r R[$c.reannc] R[$c.reannc_s] <<<"$(wait_reannounced "$t1" "$a1")"
    note "$c: the tracker got ${R[$c.reannc]} announces (of $N torrents) ${R[$c.reannc_s]} s after the restart"
    sleep 10
    c0=$(ticks "$PID")
    sleep "$REST"
    c1=$(ticks "$PID")
    R[$c.rest2]=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v s="$REST" 'BEGIN { printf "%.2f", d / hz / s * 100 }')
    note "$c: rest after the restart ${R[$c.rest2]} %"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
    tracker_stop
}

for c in $CLIENTS; do
    measure "$c"
done

echo
echo "Session scale: $N torrents seeding (payload $((TOTAL >> 20)) MiB), one tracker, no peers, loopback"
printf '  %-13s %8s %9s %9s %8s %9s %7s %9s %10s %9s %8s\n' client add_s rss_MiB hwm_MiB rest_% \
    list_ms stop_s restart_s rchar_MiB rss2_MiB rest2_%
for c in $CLIENTS; do
    printf '  %-13s %8s %9s %9s %8s %9s %7s %9s %10s %9s %8s\n' "$c" "${R[$c.add]}" "${R[$c.rss]}" \
        "${R[$c.hwm]}" "${R[$c.rest]}" "${R[$c.list]}" "${R[$c.stop]}" "${R[$c.restart]}" \
        "${R[$c.rchar]}" "${R[$c.rss2]}" "${R[$c.rest2]}"
done
printf '  %-13s %8s %8s %9s %10s %9s\n' client annc annc_s reannc_s peak/min mean/min
for c in $CLIENTS; do
    printf '  %-13s %8s %8s %9s %10s %9s\n' "$c" "${R[$c.annc]}" "${R[$c.annc_s]}" \
        "${R[$c.reannc_s]}" "${R[$c.peak_min]}" "${R[$c.mean_min]}"
done
for o in $CLIENTS; do
    [[ $o == ttui || " $CLIENTS " != *" ttui "* ]] && continue
    printf '  ttui / %-13s' "$o"
    for k in add rss hwm rest list restart rss2 rest2; do
        printf ' %s %s' "$k" "$(awk -v a="${R[ttui.$k]}" -v b="${R[$o.$k]}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')"
    done
    echo
done
