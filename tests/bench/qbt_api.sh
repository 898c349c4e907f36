#!/usr/bin/env bash
# qBittorrent's Web API and the Transmission RPC at scale (issue 56's benchmark): one library
# of N small torrents (gen_torrents.py, data written, no tracker) in three servers running at
# once in the same run:
#   ttui          `ttui daemon --rpc ADDR --qbt ADDR`, one process serving both APIs, its
#                 credentials in a config file (`[qbt] username/password`)
#   qbittorrent   qbittorrent-nox 4.5.2 (its own profile, Web UI on loopback, login asked of
#                 loopback clients too: admin/adminadmin, 4.5's default)
#   transmission  transmission-daemon 3.00
# ttui and qBittorrent get the library over the qBittorrent API: `torrents/add` (multipart,
# QBT_ADD_BATCH files a form, QBT_ADD_CONNS connections at once) with `skip_checking=true` and
# the data's directory, so both seed at once without hashing, and the add path is measured
# too. Transmission 3.00 checks every torrent it is given (about 9 a second here: 10,000 take
# some 18 minutes), so it gets the library as rpc_scale.sh gives it: `torrent-add` paused,
# without data, then a restart (a paused torrent it loads at start is not checked).
#
# Per server, once all N are listed (seeding, or for Transmission paused and none checking):
#   add      seconds of the adds;  rest  CPU at rest over QBT_REST s (% of one core);
#   rss      VmRSS after the measurements (MiB)
# Then, QBT_CALLS calls a figure, the servers taking turns call by call (qbt_api.py: median
# and nearest-rank p99 in ms, the server's CPU ms a call from its threads' schedstat, the
# answer's KiB):
#   qBittorrent API, ttui against qbittorrent-nox:
#     info   torrents/info with no parameter: every torrent, every field
#     full   sync/maindata?rid=0
#     incr   sync/maindata?rid=R after one torrent's category changed (setCategory to
#            bench-a and bench-b in turn, then QBT_SETTLE s; neither in the time nor the CPU)
#   Transmission RPC, ttui against transmission-daemon:
#     sonarr torrent-get of every torrent with Sonarr's fields (rpc_scale.py's SONARR)
#     recent torrent-get, ids "recently-active", Sonarr's fields, after one torrent was
#            stopped or started (in turn), then QBT_SETTLE s
# and ratios ttui / the other. Aims (issue 56): info under 100 ms, incr under 5 ms, at most
# half of qBittorrent's CPU; recent at most a tenth of Transmission's CPU.
#
#   bash tests/bench/qbt_api.sh                   # N = 1000
#   QBT_N=10000 bash tests/bench/qbt_api.sh
#
# Environment:
#   QBT_N=1000            torrents
#   QBT_CALLS=50          calls per figure
#   QBT_SETTLE=1          seconds between a change and the incremental call after it
#   QBT_REST=10           seconds CPU at rest is measured over
#   QBT_ADD_CONNS=4       connections the adds are spread over
#   QBT_ADD_BATCH=50      .torrent files a torrents/add form
#   QBT_TIMEOUT=1800      seconds any wait may take
#   QBT_TTUI=PATH         run this ttui binary instead of building one (release)
#   CARGO_TARGET_DIR      where the release ttui is built
#
# Needs root (unshare -n), python3, qbittorrent-nox, transmission-daemon. Everything after the
# build runs in a network namespace whose only interface is `lo`; every server listens on
# 127.0.0.1 with DHT, LSD, PEX, UPnP and NAT-PMP off. Every process is stopped by its pid and
# the work directory is removed on exit; the namespace goes with its last process.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${QBT_N:-1000}
CALLS=${QBT_CALLS:-50}
SETTLE=${QBT_SETTLE:-1}
REST=${QBT_REST:-10}
CONNS=${QBT_ADD_CONNS:-4}
BATCH=${QBT_ADD_BATCH:-50}
LIMIT=${QBT_TIMEOUT:-1800}
PY=$HERE/qbt_api.py
RPY=$HERE/rpc_scale.py

note() { printf '[qbt %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${QBT_INNER:-} ]]; then
    need python3 qbittorrent-nox transmission-daemon
    ttui_binary "${QBT_TTUI:-}"
    WORK=$(mktemp -d /tmp/ttui-qbt-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    note "generating $N torrents and their data in $WORK"
    python3 "$HERE/gen_torrents.py" "$N" "$WORK/torrents" "$WORK/data" >/dev/null
    QBT_INNER=1 WORK=$WORK TTUI=$BIN in_loopback "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
# shellcheck source=tests/bench/clients.sh
source "$HERE/clients.sh"
HZ=$(getconf CLK_TCK)
DATA=$WORK/data
USER_=admin
PASS=adminadmin
T_RPC=127.0.0.1:19190
T_QBT=127.0.0.1:19193
declare -A PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

url_of() {
    case $1 in
        ttui) echo "http://$T_QBT/api/v2" ;;
        ttui_rpc) echo "http://$T_RPC/transmission/rpc" ;;
        qbittorrent) echo "$QURL" ;;
        transmission) echo "http://$TRPC/transmission/rpc" ;;
    esac
}
# Stops server $1 with SIGTERM, SIGKILL after $2 seconds.
stop_server() {
    [[ -n ${PIDS[$1]:-} ]] || return 0
    stop_pid "${PIDS[$1]}" "$2"
    unset "PIDS[$1]"
}
# Until server $1 answers (its API, no torrent needed), at most 60 s.
wait_up() {
    local c=$1
    for _ in $(seq 120); do
        if [[ $c == transmission ]]; then
            python3 "$RPY" wait "$(url_of "$c")" 0 1 >/dev/null 2>&1 && return 0
        else
            python3 "$PY" wait "$(url_of "$c")" "$USER_" "$PASS" 0 1 >/dev/null 2>&1 && return 0
        fi
        kill -0 "${PIDS[$c]}" 2>/dev/null || die "$c exited at start (see $WORK/$c)"
        sleep 0.5
    done
    die "$c did not answer in 60 s (see $WORK/$c)"
}

# ---------------------------------------------------------------- the servers
mkdir -p "$WORK/ttui" "$WORK/transmission/empty"
cat >"$WORK/ttui/config.toml" <<EOF
[qbt]
username = "$USER_"
password = "$PASS"
EOF
ttui_server() {
    "$TTUI" daemon --config "$WORK/ttui/config.toml" --state-dir "$WORK/ttui/state" \
        --log-file "$WORK/ttui/daemon.log" --no-dht --no-pex --no-lsd --no-port-mapping \
        --bind 127.0.0.1 --port 0 -o "$DATA" --rpc "$T_RPC" --qbt "$T_QBT" \
        >>"$WORK/ttui/out" 2>&1 &
    PIDS[ttui]=$!
}
# clients.sh's servers set PID; login asked of loopback too, so the cookie path is measured.
qbittorrent_server() {
    QB_LOCALHOST_AUTH=true qbittorrent_start
    PIDS[qbittorrent]=$PID
}
transmission_server() {
    transmission_start
    PIDS[transmission]=$PID
}
for c in ttui qbittorrent transmission; do
    "${c}_server"
done
for c in ttui qbittorrent transmission; do
    wait_up "$c"
done
note "servers up: ttui ${PIDS[ttui]}, qbittorrent ${PIDS[qbittorrent]}, transmission ${PIDS[transmission]}"

declare -A R
for c in ttui qbittorrent; do
    note "$c: adding $N torrents over the qBittorrent API (skip_checking), $CONNS connections"
    t0=$(now)
    timeout "$LIMIT" python3 "$PY" add "$(url_of "$c")" "$USER_" "$PASS" "$WORK/torrents" "$DATA" \
        "$CONNS" "$BATCH" >/dev/null
    R[$c.add]=$(since "$t0")
    R[$c.seed]=$(timeout "$((LIMIT + 10))" python3 "$PY" wait "$(url_of "$c")" "$USER_" "$PASS" \
        "$N" "$LIMIT")
    note "$c: $N added in ${R[$c.add]} s, all seeding ${R[$c.seed]} s later"
done
note "transmission: adding $N torrents over its RPC (paused, without data), 32 connections"
t0=$(now)
timeout "$LIMIT" python3 "$RPY" add "$(url_of transmission)" "$WORK/torrents" \
    "$WORK/transmission/empty" 32 >/dev/null
R[transmission.add]=$(since "$t0")
note "transmission: added in ${R[transmission.add]} s; restarting it (it would check each)"
stop_server transmission 120
transmission_server
wait_up transmission
R[transmission.seed]=$(timeout "$((LIMIT + 10))" python3 "$RPY" wait "$(url_of transmission)" \
    "$N" "$LIMIT")
note "transmission: lists all $N, none checking, ${R[transmission.seed]} s after its start"

note "settling 10 s, then CPU at rest over $REST s"
sleep 10
declare -A C0
for c in ttui qbittorrent transmission; do C0[$c]=$(ticks "${PIDS[$c]}"); done
sleep "$REST"
for c in ttui qbittorrent transmission; do
    R[$c.rest]=$(pct_core $(($(ticks "${PIDS[$c]}") - C0[$c])) "$REST")
done

# Reads qbt_api.py's lines (`NAME WHAT median p99 cpu bytes note`) into R.
take() {
    local c what med p99 cpu bytes extra
    while read -r c what med p99 cpu bytes extra; do
        [[ $c == ttui_rpc ]] && c=ttui
        R[$c.$what.med]=$med
        R[$c.$what.p99]=$p99
        R[$c.$what.cpu]=$cpu
        R[$c.$what.kib]=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')
        R[$c.$what.note]=$extra
    done <"$1"
}
note "qBittorrent API: torrents/info, sync/maindata full and incremental, $CALLS calls each"
python3 "$PY" bench "$CALLS" "$SETTLE" "$USER_" "$PASS" \
    "ttui=$(url_of ttui)@${PIDS[ttui]}" "qbittorrent=$(url_of qbittorrent)@${PIDS[qbittorrent]}" \
    >"$WORK/bench.txt"
take "$WORK/bench.txt"
note "Transmission RPC: torrent-get (Sonarr's fields), all and recently-active, $CALLS calls each"
python3 "$PY" tbench "$CALLS" "$SETTLE" "ttui_rpc=$(url_of ttui_rpc)@${PIDS[ttui]}" \
    "transmission=$(url_of transmission)@${PIDS[transmission]}" >"$WORK/tbench.txt" \
    2> >(sed "s/^# /  /" >&2)
take "$WORK/tbench.txt"
for c in ttui qbittorrent transmission; do
    R[$c.rss]=$(mib "$(status_kib "${PIDS[$c]}" VmRSS)")
done
note "stopping the servers"
for c in ttui qbittorrent transmission; do stop_server "$c" 120; done

# ---------------------------------------------------------------- the tables
# One row: CLIENT, then the figures named in FIGS (each median, p99, cpu, KiB).
row() {
    local c=$1 label=$2 f
    printf '  %-13s %7s %7s %7s %8s' "$label" "${R[$c.add]}" "${R[$c.seed]}" "${R[$c.rest]}" "${R[$c.rss]}"
    for f in $FIGS; do
        printf ' | %7s %7s %7s %6s' "${R[$c.$f.med]}" "${R[$c.$f.p99]}" "${R[$c.$f.cpu]}" "${R[$c.$f.kib]}"
    done
    echo
}
ratio_row() {
    local a=$1 b=$2 label=$3 k f
    printf '  %-13s' "$label"
    for k in add seed rest rss; do printf ' %7s' "$(ratio "${R[$a.$k]}" "${R[$b.$k]}")"; done
    printf ' '
    for f in $FIGS; do
        printf ' | %7s %7s %7s %6s' "$(ratio "${R[$a.$f.med]}" "${R[$b.$f.med]}")" \
            "$(ratio "${R[$a.$f.p99]}" "${R[$b.$f.p99]}")" \
            "$(ratio "${R[$a.$f.cpu]}" "${R[$b.$f.cpu]}")" \
            "$(ratio "${R[$a.$f.kib]}" "${R[$b.$f.kib]}")"
    done
    echo
}
head_row() {
    local f
    printf '  %-13s %7s %7s %7s %8s' client add_s ready_s rest_% RSS_MiB
    for f in $FIGS; do printf ' | %7s %7s %7s %6s' med p99 cpu KiB; done
    echo
}
echo
echo "qBittorrent Web API at scale: $N torrents seeding (added with skip_checking), loopback;"
echo "ms median and p99 of $CALLS calls, cpu: the server's CPU ms a call, KiB: the answer"
printf '  %-46s | %-29s | %-29s | %-29s\n' "" "torrents/info, all" "sync/maindata rid=0" \
    "sync/maindata rid=R, 1 changed"
FIGS="info full incr"
head_row
row ttui ttui
row qbittorrent qbittorrent
ratio_row ttui qbittorrent "ttui / qb"
echo "  incremental answers carrying the change (of $CALLS; most torrents in one answer):" \
    "ttui ${R[ttui.incr.note]}, qbittorrent ${R[qbittorrent.incr.note]}"
echo
echo "Transmission RPC: the same ttui process; transmission-daemon 3.00 with the library paused,"
echo "without data; torrent-get with Sonarr's fields"
printf '  %-46s | %-29s | %-29s\n' "" "every torrent" "recently-active, 1 changed"
FIGS="sonarr recent"
head_row
row ttui ttui
row transmission transmission
ratio_row ttui transmission "ttui / tr"
echo "  recently-active answers carrying the change (of $CALLS; most torrents in one answer):" \
    "ttui ${R[ttui.recent.note]}, transmission ${R[transmission.recent.note]}"
