#!/usr/bin/env bash
# A soak under churn: one `ttui daemon` running a long time while everything around it churns,
# its resources recorded each minute. Around the daemon (soak.py does the churn):
#   - SOAK_TORRENTS torrents: most seed small data (gen_torrents.py), SOAK_STREAMS larger ones
#     are streamed, SOAK_DOWNLOADS download from the peers (each, once complete, is removed
#     with its data and added again, so some are always downloading);
#   - python3-libtorrent peers join and leave every few seconds, TCP only and uTP only in turn,
#     on loopback and (SOAK_NAT=1) from a LAN behind a NAT (network namespaces, nftables
#     masquerade): each leeches a few library torrents and seeds the downloads;
#   - a pool of SOAK_CHURN torrents added and removed every few seconds (`ttui add`, `ttui
#     remove`), with labels, limits (and turtle mode), queue moves, pause and resume;
#   - opentracker goes down SOAK_TRACKER_DOWN s every SOAK_TRACKER_UP s;
#   - the DHT on, with four libtorrent test nodes as its only bootstrap (--dht-bootstrap);
#   - every second: the Transmission RPC's torrent-get (Sonarr's fields), qBittorrent's
#     sync/maindata with its rid, and keys into `ttui attach` running in tmux;
#   - streams opened, seeked (HTTP Range) and dropped.
# Every minute the daemon's VmRSS, open fds, threads and CPU (utime+stime) are recorded. Then
# the churn stops, SOAK_SETTLE s pass, a last sample; the daemon is stopped (SIGTERM) and
# started again, and every torrent whose add was acknowledged and not removed must be listed.
# Prints a Markdown table (minute, RSS MiB, fds, threads, CPU s over the minute), the
# ERROR/WARN lines of the log by message, and the verdict against the aims:
#   - from minute SOAK_BASE (10) to the last, RSS grows by at most 2 MiB;
#   - fds and threads after the settle are at most their minute-SOAK_BASE figures;
#   - no ERROR/WARN message repeats in the settle (no churn, tracker up): an error that keeps
#     coming without a cause; the top repeated messages are listed for a reader to judge;
#   - every acknowledged torrent is listed after the restart.
# Exit status 0 when every aim is met.
#
#   nice -n 19 bash tests/bench/soak.sh                       # 60 minutes, 500 torrents
#   SOAK_MINUTES=5 SOAK_TORRENTS=150 TTUI_BIN=/path/to/ttui nice -n 19 bash tests/bench/soak.sh
#
# Environment:
#   SOAK_MINUTES=60        minutes of churn
#   SOAK_TORRENTS=500      torrents in the session at the start (library + streams + downloads)
#   SOAK_BASE              the minute the RSS, fds and threads are compared from (10; half
#                          the run when it is shorter than 20 minutes)
#   SOAK_SETTLE=60         seconds between the churn's end and the last sample
#   SOAK_RSS_AIM=1         0: the RSS is reported but is no aim (the test command's short
#                          form, tests/session/soak_short.rs: a few minutes of a debug build
#                          say nothing of a leak; its fds, threads and torrents still must)
#   SOAK_CHURN=40          torrents of the pool added and removed
#   SOAK_DOWNLOADS=6       torrents downloading (2-4 MiB each, from the peers)
#   SOAK_STREAMS=3         torrents streamed (8-16 MiB each, seeding)
#   SOAK_NAT=1             also peers behind a NAT (0: loopback peers only)
#   SOAK_PEERS_LIVE=4      peers at once, on loopback and behind the NAT each
#   SOAK_VERB_EVERY=3      seconds between verbs (on average)
#   SOAK_TRACKER_UP=60     seconds the tracker is up ...
#   SOAK_TRACKER_DOWN=20   ... and then down
#   SOAK_KEEP=DIR          copy the work directory (logs, samples) to DIR at the end
#   TTUI_BIN=PATH          run this ttui instead of building one (release, in
#                          ${CARGO_TARGET_DIR:-$REPO/target})
#
# Needs root (unshare -n, network namespaces), python3 with python3-libtorrent, opentracker,
# tmux, nftables (for SOAK_NAT=1), curl. Everything after the build runs in a network namespace
# whose only interface is `lo`, made by unshare; with SOAK_NAT=1 two namespaces made inside it
# join it by veth pairs, addressed only from 203.0.113.0/24 (the "internet" side, ttui's
# 203.0.113.1) and 198.51.100.0/24 (the LAN behind the masquerading router), with no route
# anywhere else. ttui runs with its DHT bootstrapped only from the test nodes (and
# TTUI_NO_PUBLIC_ROUTERS=1), LSD, port mapping, WebTorrent and STUN off; the libtorrent peers
# with DHT, LSD, UPnP and NAT-PMP off, bound to their test addresses. Every process is stopped
# by its pid, every namespace deleted and the work directory removed on exit; the pid
# namespace ends whatever is left when the script does. Every wait has a bound.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
MINUTES=${SOAK_MINUTES:-60}
NTORRENTS=${SOAK_TORRENTS:-500}
BASE=${SOAK_BASE:-$((MINUTES >= 20 ? 10 : (MINUTES + 1) / 2))}
SETTLE=${SOAK_SETTLE:-60}
NCHURN=${SOAK_CHURN:-40}
NDL=${SOAK_DOWNLOADS:-6}
NSTREAM=${SOAK_STREAMS:-3}
NAT=${SOAK_NAT:-1}
LIVE=${SOAK_PEERS_LIVE:-4}
PY=$HERE/soak.py

note() { printf '[soak %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

# The tracker: on ttui's veth address when there is a NAT (the LAN behind it reaches it
# there), else on loopback.
if ((NAT)); then TRACKER_IP=203.0.113.1; else TRACKER_IP=127.0.0.9; fi
TPORT=16969

if [[ -z ${SOAK_INNER:-} ]]; then
    need python3 opentracker tmux curl unshare
    ((NAT)) && need nft
    /usr/bin/python3 -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    ((NTORRENTS > NDL + NSTREAM)) || die "SOAK_TORRENTS must be more than SOAK_DOWNLOADS + SOAK_STREAMS"
    ttui_binary "${TTUI_BIN:-}"
    WORK=$(mktemp -d /tmp/ttui-soak.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    note "generating $((NTORRENTS - NDL - NSTREAM)) library, $NSTREAM stream, $NDL download and $NCHURN churn torrents in $WORK"
    ann="http://$TRACKER_IP:$TPORT/announce"
    # name prefix, count, data dir, extra flags: t library, s streams, c churn (data where
    # ttui seeds from); d downloads (data for the peers only).
    gen() {
        local p=$1 n=$2 data=$3 kind=$4
        shift 4
        python3 "$HERE/gen_torrents.py" "$n" "$WORK/$p-torrents" "$data" --announce "$ann" \
            --hashes "$WORK/$p-hashes.txt" --prefix "$p" "$@" >/dev/null
        paste -d ' ' "$WORK/$p-hashes.txt" <(for _ in $(seq "$n"); do echo "$kind"; done) \
            <(find "$WORK/$p-torrents" -name '*.torrent' | sort) >>"$WORK/kinds.txt"
    }
    gen t $((NTORRENTS - NDL - NSTREAM)) "$WORK/data" library --seed 19
    gen s "$NSTREAM" "$WORK/data" stream --seed 23 --min-kib 8192 --max-kib 16384 --piece-kib 256
    gen c "$NCHURN" "$WORK/data" churn --seed 29
    gen d "$NDL" "$WORK/ddata" download --seed 31 --min-kib 2048 --max-kib 4096 --piece-kib 64
    cat "$WORK"/*-hashes.txt >"$WORK/hashes.txt"
    rc=0
    SOAK_INNER=1 WORK=$WORK TTUI=$BIN in_loopback "${BASH_SOURCE[0]}" || rc=$?
    if [[ -n ${SOAK_KEEP:-} ]]; then
        mkdir -p "$SOAK_KEEP"
        cp -r "$WORK"/{ttui,*.txt,*.tsv,*.env,*.json,*.log,*.out} "$SOAK_KEEP"/ 2>/dev/null || true
        note "logs and samples kept in $SOAK_KEEP"
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: our namespace
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
# shellcheck source=tests/bench/clients.sh
source "$HERE/clients.sh"
STATE=$WORK/ttui/state
LOG=$WORK/ttui/daemon.log
DATA=$WORK/data
TDL=$WORK/tdl
RPC=127.0.0.1:19190
QBT=127.0.0.1:19193
STREAM=127.0.0.1:19192
PEER_PORT=16881
DHT_IPS=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5
DHT_PORT=17000
RTR=soak-rtr-$$
LAN=soak-lan-$$
TMUX_SOCK=$WORK/tmux.sock
declare -A PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if [[ -s $WORK/tracker.pid ]]; then kill -KILL "$(cat "$WORK/tracker.pid")" 2>/dev/null || true; fi
    ip netns del "$LAN" 2>/dev/null || true
    ip netns del "$RTR" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT
mkdir -p "$WORK/ttui" "$TDL" "$WORK/config/ttui" "$WORK/run" "$WORK/peers"
chmod 700 "$WORK/run"
export XDG_CONFIG_HOME=$WORK/config XDG_RUNTIME_DIR=$WORK/run
export XDG_DATA_HOME=$WORK/xdg-data XDG_STATE_HOME=$WORK/xdg-state

# ---------------------------------------------------------------- the NAT
# ttui's namespace holds 203.0.113.1 on a veth to a router namespace (203.0.113.2), whose
# other veth (198.51.100.1) leads to a LAN namespace of peers (198.51.100.10-29) that
# masquerades behind 203.0.113.2. The named namespaces' mount points live on a tmpfs of this
# mount namespace, so nothing of them outlives the script.
NAT_IPS=""
if ((NAT)); then
    mkdir -p /run/netns
    mount -t tmpfs -o size=1m soak-netns /run/netns
    ip netns add "$RTR"
    ip netns add "$LAN"
    ip link add soak-wan type veth peer name soak-rwan netns "$RTR"
    ip -n "$RTR" link add soak-rlan type veth peer name soak-lan netns "$LAN"
    ip addr add 203.0.113.1/24 dev soak-wan
    ip link set soak-wan up
    ip -n "$RTR" link set lo up
    ip -n "$RTR" addr add 203.0.113.2/24 dev soak-rwan
    ip -n "$RTR" addr add 198.51.100.1/24 dev soak-rlan
    ip -n "$RTR" link set soak-rwan up
    ip -n "$RTR" link set soak-rlan up
    ip netns exec "$RTR" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$RTR" nft -f - <<'EOF'
table ip nat {
    chain post {
        type nat hook postrouting priority 100;
        oifname "soak-rwan" masquerade
    }
}
EOF
    ip -n "$LAN" link set lo up
    ip -n "$LAN" link set soak-lan up
    for i in $(seq 10 29); do
        ip -n "$LAN" addr add "198.51.100.$i/24" dev soak-lan
        NAT_IPS+=${NAT_IPS:+,}198.51.100.$i
    done
    # Only the test internet: the LAN's one route beyond its link is 203.0.113.0/24.
    ip -n "$LAN" route add 203.0.113.0/24 via 198.51.100.1
fi

# ---------------------------------------------------------------- ttui's config
cat >"$XDG_CONFIG_HOME/ttui/config.toml" <<EOF
# The soak's session: DHT on with the test nodes only; nothing that looks beyond the test
# network (LSD, port mapping, WebTorrent and its STUN server).
dht = true
dht_bootstrap = [$(tr ',' '\n' <<<"$DHT_IPS" | sed "s/.*/\"&:$DHT_PORT\"/" | paste -sd,)]
lsd = false
port_mapping = false
webtorrent = false
stun_server = "off"

[qbt]
username = "admin"
password = "adminadmin"

[stream]
listen = "$STREAM"
EOF
daemon_start() {
    "$TTUI" daemon --state-dir "$STATE" --log-file "$1" --bind 0.0.0.0 --port "$PEER_PORT" \
        -o "$DATA" --rpc "$RPC" --qbt "$QBT" >>"$WORK/ttui/out" 2>&1 &
    PIDS[ttui]=$!
}
verb() { timeout 60 "$TTUI" "$1" --state-dir "$STATE" "${@:2}"; }
# Until `ttui list` answers, at most 60 s.
wait_list() {
    for _ in $(seq 120); do
        verb list --json >/dev/null 2>&1 && return 0
        kill -0 "${PIDS[ttui]}" 2>/dev/null || die "ttui exited at start (see $WORK/ttui/out)"
        sleep 0.5
    done
    die "ttui did not answer in 60 s"
}
# "N CHECKING": torrents listed, and how many are checking or waiting to.
counts() {
    verb list --json | python3 -c 'import json,sys; r=json.load(sys.stdin)
print(len(r), sum(x["state"] in ("checking", "metadata") for x in r))'
}
# The log's new ERROR/WARN lines into warn.log (soak.py logscan follows the log's turn to
# daemon.log.1 past 32 MiB, which an hour of this churn passes twice).
logscan() { python3 "$PY" logscan "$LOG" "$WORK/warn.log"; }
sample() {
    local pid=${PIDS[ttui]} fds
    logscan
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    printf '%s %s %s %s %s %s\n' "$1" "$(date +%s)" "$(status_kib "$pid" VmRSS)" "$fds" \
        "$(status_kib "$pid" Threads)" "$(ticks "$pid")" >>"$WORK/samples.tsv"
}
stop_pid_of() {
    [[ -n ${PIDS[$1]:-} ]] || return 0
    stop_pid "${PIDS[$1]}" "$2"
    unset "PIDS[$1]"
}

# ---------------------------------------------------------------- the DHT test nodes
/usr/bin/python3 "$PY" dht "$DHT_IPS" "$DHT_PORT" >"$WORK/dht.out" 2>&1 &
PIDS[dht]=$!
for _ in $(seq 100); do grep -q ready "$WORK/dht.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/dht.out" || die "the DHT nodes did not start (see $WORK/dht.out)"

# ---------------------------------------------------------------- the daemon and its library
mkdir -p "$WORK/tracker"
chmod 755 "$WORK/tracker"
cp "$WORK/hashes.txt" "$WORK/tracker/whitelist.txt"
chmod 644 "$WORK/tracker/whitelist.txt"
# The churn driver starts the tracker now, and the churn once the library is in.
/usr/bin/python3 "$PY" churn --ttui "$TTUI" --state "$STATE" --work "$WORK" --data "$DATA" \
    --dl-dir "$TDL" --kinds "$WORK/kinds.txt" --rpc "$RPC" --qbt "$QBT" --tmux "$TMUX_SOCK" \
    --tracker-cmd "$(printf '%s\x1f' opentracker -i "$TRACKER_IP" -p "$TPORT" -P "$TPORT" \
        -d "$WORK/tracker" -w whitelist.txt -u nobody | sed 's/\x1f$//')" \
    --tracker-up "${SOAK_TRACKER_UP:-60}" --tracker-down "${SOAK_TRACKER_DOWN:-20}" \
    --every "${SOAK_VERB_EVERY:-3}" >"$WORK/churn.out" 2>&1 &
PIDS[churn]=$!
daemon_start "$LOG"
wait_list
if ((NAT)); then
    # A connection from the LAN to ttui's peer port, through the NAT.
    ip netns exec "$LAN" timeout 5 bash -c "exec 3<>/dev/tcp/203.0.113.1/$PEER_PORT" ||
        die "the LAN does not reach 203.0.113.1 through the NAT"
    note "NAT up: LAN 198.51.100.0/24 behind 203.0.113.2 reaches ttui"
fi
note "ttui ${PIDS[ttui]} up; adding $NTORRENTS torrents"
find "$WORK/t-torrents" "$WORK/s-torrents" -name '*.torrent' -print0 | sort -z |
    xargs -0 -n 100 timeout 300 "$TTUI" add --state-dir "$STATE" -o "$DATA" >/dev/null
verb add -o "$TDL" "$WORK"/d-torrents/*.torrent >/dev/null
for _ in $(seq 600); do
    read -r n checking <<<"$(counts)"
    ((n >= NTORRENTS && checking == 0)) && break
    sleep 1
done
((n >= NTORRENTS && checking == 0)) || die "after 600 s: $n listed, $checking checking"
note "all $n listed, none checking; RSS $(mib "$(status_kib "${PIDS[ttui]}" VmRSS)") MiB"
touch "$WORK/library-in"

# ---------------------------------------------------------------- the churn
tmux -S "$TMUX_SOCK" new-session -d -s soak -x 160 -y 48 "$TTUI attach --state-dir $STATE"
tmux -S "$TMUX_SOCK" set-option -t soak remain-on-exit on
PIDS[tmux]=$(tmux -S "$TMUX_SOCK" display -p '#{pid}')
/usr/bin/python3 "$PY" peers --name lo --ips "$(seq -s, -f '127.0.1.%g' 1 40)" \
    --ttui "127.0.0.1:$PEER_PORT" --library "$WORK/t-torrents" --downloads "$WORK/d-torrents" \
    --ddata "$WORK/ddata" --work "$WORK/peers/lo" --live "$LIVE" \
    >"$WORK/peers-lo.json" 2>"$WORK/peers-lo.log" &
PIDS[peers_lo]=$!
if ((NAT)); then
    ip netns exec "$LAN" /usr/bin/python3 "$PY" peers --name nat --ips "$NAT_IPS" --seed 2 \
        --ttui "203.0.113.1:$PEER_PORT" --library "$WORK/t-torrents" \
        --downloads "$WORK/d-torrents" --ddata "$WORK/ddata" --work "$WORK/peers/nat" \
        --live "$LIVE" >"$WORK/peers-nat.json" 2>"$WORK/peers-nat.log" &
    PIDS[peers_nat]=$!
fi

START=$(date +%s)
{
    echo "START=$START"
    echo "BASE=$BASE"
    echo "RSS_AIM=${SOAK_RSS_AIM:-1}"
    echo "SETTLE=$SETTLE"
} >"$WORK/times.env"
echo "minute time rss_kib fds threads ticks" >"$WORK/samples.tsv"
sample 0
note "churn running for $MINUTES minutes (peers, verbs, tracker, DHT, RPC, qBittorrent API, attach, streams)"
for m in $(seq 1 "$MINUTES"); do
    while (($(date +%s) < START + 60 * m)); do sleep 1; done
    kill -0 "${PIDS[ttui]}" 2>/dev/null || die "ttui exited during the soak (see $WORK/ttui/out)"
    sample "$m"
    read -r _ _ rss fds thr _ < <(tail -n 1 "$WORK/samples.tsv")
    note "minute $m: RSS $(mib "$rss") MiB, fds $fds, threads $thr"
    kill -0 "${PIDS[churn]}" 2>/dev/null || die "the churn driver ended (see $WORK/churn.out)"
done

# ---------------------------------------------------------------- settle, stop, restart
note "stopping the churn; settling $SETTLE s"
stop_pid_of churn 90
stop_pid_of peers_lo 30
stop_pid_of peers_nat 30
tmux -S "$TMUX_SOCK" capture-pane -p -t soak >"$WORK/attach.txt" 2>/dev/null || true
stop_pid_of tmux 10
echo "CHURN_END=$(date +%s)" >>"$WORK/times.env"
sleep "$SETTLE"
sample end
echo "SETTLE_END=$(date +%s)" >>"$WORK/times.env"
t0=$(now)
kill -TERM "${PIDS[ttui]}"
rc=timeout
for _ in $(seq 1200); do
    if ! kill -0 "${PIDS[ttui]}" 2>/dev/null; then
        rc=0
        wait "${PIDS[ttui]}" || rc=$?
        break
    fi
    sleep 0.1
done
if [[ $rc == timeout ]]; then
    stop_pid_of ttui 1
    echo "STOP_NOTE=FAIL: SIGTERM did not stop it in 120 s (killed)" >>"$WORK/times.env"
else
    unset "PIDS[ttui]"
    echo "STOP_NOTE=SIGTERM: exit status $rc after $(since "$t0") s" >>"$WORK/times.env"
fi
note "restarting the daemon"
daemon_start "$WORK/ttui/restart.log"
wait_list
want=$(wc -l <"$WORK/acked.txt")
for _ in $(seq 60); do
    verb list --json >"$WORK/after.json"
    (($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/after.json") >= want)) && break
    sleep 1
done
stop_pid_of ttui 120
stop_pid_of dht 10
if [[ -s $WORK/tracker.pid ]]; then stop_pid "$(cat "$WORK/tracker.pid")" 10; fi
note "samples in $WORK/samples.tsv"
echo
echo "ttui soak: $MINUTES minutes, $NTORRENTS torrents (and $NCHURN coming and going)," \
    "NAT $( ((NAT)) && echo on || echo off), $(nproc) cores"
python3 "$PY" report "$WORK"
