#!/usr/bin/env bash
# The Transmission RPC at scale: a library of N torrents in `ttui daemon --rpc` and in
# transmission-daemon 3.00, both running at once in the same run, each holding the same
# library added over its own RPC (`torrent-add` by metainfo, paused, no data on disk: a
# complete library would make Transmission check every torrent, about 18 minutes for 10,000
# here, see session_scale.sh). Both are restarted after the adds (Transmission checks every
# torrent it is given, even paused without data, about 9 a second; one it loads paused at start
# it does not check). Once both list all N and neither checks anything, per client:
#   add      seconds of the N torrent-add calls, RPC_ADD_CONNS connections at once (each
#            server answers an add once the torrent is in its session and its .torrent kept)
#   load     seconds from the restart until the RPC lists all N, none checking
#   rest     CPU at rest over RPC_REST seconds (% of one core)
#   rss      VmRSS after the measurements (MiB)
#   sonarr   torrent-get of every torrent with Sonarr's (and Radarr's) fields: median and p99
#            (nearest rank: of 50 calls, the slowest) in ms, and the server's CPU a call in ms
#            (utime+stime of all its threads over the calls, from /proc/PID/stat)
#   all      the same with every torrent-get key of rpc-spec 3.3 (rpc_scale.py's ALL: ttui's
#            list without its own ttui-explain), the same list for both; the keys a server
#            left out of its answer are printed (none, at 10,000 on 2026-11-25)
#   stats    session-stats, the same figures
# The two servers take turns call by call (the order flips every call), so load from the
# rest of the machine falls on both alike. Then ratios ttui / transmission.
#
# Then the TUI: transmission-daemon and `ttui daemon` stop, and `ttui` (the full screen, the
# session in its own process) opens the same state directory with --rpc inside tmux at
# RPC_TUI_SIZE. key ms is the time from `tmux send-keys j` (or k) to the pane showing the
# selection on the next row (capture-pane polled, at most 2 s a key), RPC_KEYS samples with no
# RPC client, then as many while a client polls torrent-get with Sonarr's fields every second;
# with the TUI process's CPU (% of one core) over each phase.
#
#   bash tests/bench/rpc_scale.sh                  # N = 1000
#   RPC_N=10000 bash tests/bench/rpc_scale.sh
#
# Environment:
#   RPC_N=1000            torrents (SCALE_N is read too)
#   RPC_CALLS=50          calls per figure
#   RPC_KEYS=50           key samples per TUI phase
#   RPC_REST=10           seconds CPU at rest is measured over
#   RPC_SETTLE=10         seconds between all listed and settled and the measurements
#   RPC_TUI_SIZE=200x60   the tmux window
#   RPC_TIMEOUT=1800      seconds any wait may take
#   RPC_ADD_CONNS=32      connections the adds are spread over
#   RPC_TTUI=PATH         run this ttui binary instead of building one
#   CARGO_TARGET_DIR      where the release ttui is built
#
# Needs root (unshare -n), python3, tmux, transmission-daemon. Everything after the build runs
# in a network namespace whose only interface is `lo`; both servers listen on 127.0.0.1 with
# DHT, LSD, PEX, uTP, UPnP and NAT-PMP off, and their torrents never start. Every process is
# stopped by its pid and the work directory is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${RPC_N:-${SCALE_N:-1000}}
CALLS=${RPC_CALLS:-50}
KEYS=${RPC_KEYS:-50}
REST=${RPC_REST:-10}
SETTLE=${RPC_SETTLE:-10}
SIZE=${RPC_TUI_SIZE:-200x60}
LIMIT=${RPC_TIMEOUT:-1800}
ADD_CONNS=${RPC_ADD_CONNS:-32}
PY=$HERE/rpc_scale.py

note() { printf '[rpc %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${RPC_INNER:-} ]]; then
    need python3 tmux transmission-daemon
    ttui_binary "${RPC_TTUI:-}"
    WORK=$(mktemp -d /tmp/ttui-rpc-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    note "generating $N torrents in $WORK (no data)"
    python3 "$HERE/gen_torrents.py" "$N" "$WORK/torrents" "$WORK/data" --no-data \
        --announce "http://127.0.0.1:16969/announce" >/dev/null
    RPC_INNER=1 WORK=$WORK TTUI=$BIN in_loopback "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
HZ=$(getconf CLK_TCK)
TADDR=127.0.0.1:19190
TURL=http://$TADDR/transmission/rpc
RURL=http://127.0.0.1:19091/transmission/rpc
SOCK=$WORK/tmux.sock
TPID=""
RPID=""
UPID=""
POLL=""
cleanup() {
    [[ -S $SOCK ]] && { tmux -S "$SOCK" kill-server 2>/dev/null || true; }
    for p in $POLL $UPID $TPID $RPID; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_mib() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# "MEDIAN P99" of ms values on stdin (nearest rank).
med_p99() {
    tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
        END { m = int((NR + 1) / 2); p = int(NR * 0.99); if (p < NR * 0.99) p++; print v[m], v[p] }'
}
# Polls an RPC until it answers (any torrent count).
wait_rpc() {
    for _ in $(seq 600); do
        python3 "$PY" wait "$1" 0 1 >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || die "the server at $1 exited at start (see $WORK)"
        sleep 0.1
    done
    die "$1 did not answer in 60 s"
}

# ---------------------------------------------------------------- the servers
mkdir -p "$WORK/data" "$WORK/ttui" "$WORK/transmission/config"
ttui_args=(--no-config --state-dir "$WORK/ttui/state" --no-dht --bind 127.0.0.1 --port 0
    -o "$WORK/data" --rpc "$TADDR")
ttui_start() {
    "$TTUI" daemon "${ttui_args[@]}" --log-file "$WORK/ttui/daemon.log" >>"$WORK/ttui/out" 2>&1 &
    TPID=$!
}
# transmission-daemon 3.00 as session_scale.sh runs it, with uTP off and nothing started.
cat >"$WORK/transmission/config/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
  "port-forwarding-enabled": false, "utp-enabled": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": 51413, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": 19091,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false,
  "rpc-host-whitelist-enabled": false,
  "download-dir": "$WORK/data", "incomplete-dir-enabled": false, "watch-dir-enabled": false,
  "start-added-torrents": false, "ratio-limit-enabled": false,
  "idle-seeding-limit-enabled": false, "message-level": 1
}
EOF
transmission_start() {
    transmission-daemon -f --no-portmap -g "$WORK/transmission/config" \
        -e "$WORK/transmission/log" >>"$WORK/transmission/out" 2>&1 &
    RPID=$!
}
ttui_start
transmission_start
wait_rpc "$TURL" "$TPID"
wait_rpc "$RURL" "$RPID"

declare -A R
for c in ttui transmission; do
    url=$TURL
    [[ $c == transmission ]] && url=$RURL
    note "$c: adding $N torrents over its RPC (paused), $ADD_CONNS connections at once"
    t0=$(now)
    timeout "$LIMIT" python3 "$PY" add "$url" "$WORK/torrents" "$WORK/data" "$ADD_CONNS" >/dev/null
    R[$c.add]=$(since "$t0")
    note "$c: $N added in ${R[$c.add]} s"
done
# Transmission checks every torrent it is given, paused and without data too, about 9 a
# second here (200 took 22 s): 10,000 would take some 18 minutes. A
# paused torrent it loads at start is not checked, so both servers are restarted here.
note "restarting both"
stop_pid "$TPID" 120
TPID=""
stop_pid "$RPID" 120
RPID=""
for c in ttui transmission; do
    url=$TURL
    [[ $c == transmission ]] && url=$RURL
    t0=$(now)
    "${c}_start"
    pid=$TPID
    [[ $c == transmission ]] && pid=$RPID
    wait_rpc "$url" "$pid"
    timeout "$((LIMIT + 10))" python3 "$PY" wait "$url" "$N" "$LIMIT" >/dev/null
    R[$c.load]=$(since "$t0")
    note "$c: lists all $N, none checking, ${R[$c.load]} s after its start"
done
note "settling $SETTLE s, then CPU at rest over $REST s"
sleep "$SETTLE"
a0=$(ticks "$TPID")
b0=$(ticks "$RPID")
sleep "$REST"
R[ttui.rest]=$(pct_core $(($(ticks "$TPID") - a0)) "$REST")
R[transmission.rest]=$(pct_core $(($(ticks "$RPID") - b0)) "$REST")

note "torrent-get and session-stats, $CALLS calls each, taking turns"
python3 "$PY" bench "$CALLS" "ttui=$TURL@$TPID" "transmission=$RURL@$RPID" >"$WORK/bench.txt" 2>"$WORK/bench.err"
sed "s/^# /  /" "$WORK/bench.err" >&2
while read -r c what med p99 cpu bytes keys; do
    R[$c.$what.med]=$med
    R[$c.$what.p99]=$p99
    R[$c.$what.cpu]=$cpu
    R[$c.$what.kib]=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1024 }')
    R[$c.$what.keys]=$keys
done <"$WORK/bench.txt"
R[ttui.rss]=$(rss_mib "$TPID")
R[transmission.rss]=$(rss_mib "$RPID")
note "stopping transmission-daemon and ttui daemon"
stop_pid "$RPID" 120
RPID=""
stop_pid "$TPID" 120
TPID=""

# ---------------------------------------------------------------- the TUI
note "the TUI: ttui --rpc in tmux ${SIZE}, $N torrents"
cols=${SIZE%x*}
rows=${SIZE#*x}
printf -v tui_cmd '%q ' "$TTUI" "${ttui_args[@]}" --log-file "$WORK/ttui/tui.log"
LC_ALL=C.UTF-8 tmux -S "$SOCK" -f /dev/null new-session -d -s bench -x "$cols" -y "$rows" \
    "TERM=xterm-256color exec $tui_cmd 2>>$WORK/ttui/tui.err"
UPID=$(tmux -S "$SOCK" display-message -p -t bench '#{pane_pid}')
s=$(timeout "$((LIMIT + 10))" python3 "$PY" wait "$TURL" "$N" "$LIMIT")
note "the TUI's session lists all $N after $s s; settling $SETTLE s"
sleep "$SETTLE"
tui_phase() {
    local c0 t0 out
    c0=$(ticks "$UPID")
    t0=$(now)
    out=$(timeout 600 python3 "$PY" keys "$SOCK" bench "$KEYS")
    read -r R[tui.$1.med] R[tui.$1.p99] <<<"$(echo "$out" | med_p99)"
    R[tui.$1.cpu]=$(pct_core $(($(ticks "$UPID") - c0)) "$(since "$t0")")
    note "TUI $1: key ms median ${R[tui.$1.med]} p99 ${R[tui.$1.p99]} (${out:0:80}...), CPU ${R[tui.$1.cpu]} %"
}
tui_phase quiet
python3 "$PY" poll "$TURL" 1 >"$WORK/poll.txt" 2>"$WORK/poll.err" &
POLL=$!
sleep 3
tui_phase polled
kill -TERM "$POLL"
for _ in $(seq 50); do kill -0 "$POLL" 2>/dev/null || break; sleep 0.1; done
wait "$POLL" 2>/dev/null || true
POLL=""
read -r polls poll_worst <"$WORK/poll.txt" || true
note "the client polled ${polls:-?} times, its slowest answer ${poll_worst:-?} ms"
tmux -S "$SOCK" send-keys -t bench q
for _ in $(seq 600); do kill -0 "$UPID" 2>/dev/null || break; sleep 0.1; done
UPID=""
tmux -S "$SOCK" kill-server 2>/dev/null || true

# ---------------------------------------------------------------- the table
echo
echo "Transmission RPC at scale: $N torrents (paused, no data), loopback; ms: median and p99 of $CALLS calls, cpu: the server's CPU ms a call"
printf '  %-13s %7s %7s %7s %8s | %-22s | %-22s | %-20s\n' "" "" "" "" "" "torrent-get Sonarr" \
    "torrent-get all" "session-stats"
printf '  %-13s %7s %7s %7s %8s | %6s %6s %8s | %6s %6s %8s | %6s %6s %6s\n' client add_s load_s \
    rest_% RSS_MiB med p99 cpu med p99 cpu med p99 cpu
for c in ttui transmission; do
    printf '  %-13s %7s %7s %7s %8s | %6s %6s %8s | %6s %6s %8s | %6s %6s %6s\n' "$c" \
        "${R[$c.add]}" "${R[$c.load]}" "${R[$c.rest]}" "${R[$c.rss]}" \
        "${R[$c.sonarr.med]}" "${R[$c.sonarr.p99]}" "${R[$c.sonarr.cpu]}" \
        "${R[$c.all.med]}" "${R[$c.all.p99]}" "${R[$c.all.cpu]}" \
        "${R[$c.stats.med]}" "${R[$c.stats.p99]}" "${R[$c.stats.cpu]}"
done
printf '  %-13s %7s %7s %7s %8s | %6s %6s %8s | %6s %6s %8s | %6s %6s %6s\n' "ttui / tr" \
    "$(ratio "${R[ttui.add]}" "${R[transmission.add]}")" \
    "$(ratio "${R[ttui.load]}" "${R[transmission.load]}")" \
    "$(ratio "${R[ttui.rest]}" "${R[transmission.rest]}")" \
    "$(ratio "${R[ttui.rss]}" "${R[transmission.rss]}")" \
    "$(ratio "${R[ttui.sonarr.med]}" "${R[transmission.sonarr.med]}")" \
    "$(ratio "${R[ttui.sonarr.p99]}" "${R[transmission.sonarr.p99]}")" \
    "$(ratio "${R[ttui.sonarr.cpu]}" "${R[transmission.sonarr.cpu]}")" \
    "$(ratio "${R[ttui.all.med]}" "${R[transmission.all.med]}")" \
    "$(ratio "${R[ttui.all.p99]}" "${R[transmission.all.p99]}")" \
    "$(ratio "${R[ttui.all.cpu]}" "${R[transmission.all.cpu]}")" \
    "$(ratio "${R[ttui.stats.med]}" "${R[transmission.stats.med]}")" \
    "$(ratio "${R[ttui.stats.p99]}" "${R[transmission.stats.p99]}")" \
    "$(ratio "${R[ttui.stats.cpu]}" "${R[transmission.stats.cpu]}")"
printf '  answer KiB (keys a torrent): ttui Sonarr %s (%s), all %s (%s); transmission Sonarr %s (%s), all %s (%s)\n' \
    "${R[ttui.sonarr.kib]}" "${R[ttui.sonarr.keys]}" "${R[ttui.all.kib]}" "${R[ttui.all.keys]}" \
    "${R[transmission.sonarr.kib]}" "${R[transmission.sonarr.keys]}" \
    "${R[transmission.all.kib]}" "${R[transmission.all.keys]}"
echo "TUI ($SIZE, $N torrents, its own --rpc): key to screen ms, median and p99 of $KEYS; CPU % of one core"
printf '  %-32s %7s %7s %7s\n' phase median p99 cpu_%
printf '  %-32s %7s %7s %7s\n' "no RPC client" "${R[tui.quiet.med]}" "${R[tui.quiet.p99]}" "${R[tui.quiet.cpu]}"
printf '  %-32s %7s %7s %7s\n' "torrent-get Sonarr every 1 s" "${R[tui.polled.med]}" \
    "${R[tui.polled.p99]}" "${R[tui.polled.cpu]}"
