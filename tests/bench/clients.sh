# Shared by the benchmarks that run the same library in ttui, transmission-daemon,
# qbittorrent-nox and rtorrent (session_scale.sh, power_cut.sh, qbt_api.sh): time helpers, a whitelisting opentracker,
# and each client's start, list and add. Sourced; every function reads its settings from the
# caller's variables when it runs:
#   WORK      the client's home (its config, logs and, for ttui, state live under it)
#   DATA      the download directory       TORRENTS  the .torrent files to add
#   TRACKER   opentracker's IP:PORT        BATCH     torrents per add call
#   TBIN TDIR TTUI_ARGS   the ttui binary, its directory, more `ttui daemon` flags
#   QB_SKIP_CHECKING      qBittorrent's skip_checking for adds (true: the data is there)
#   QB_LOCALHOST_AUTH     qBittorrent asks loopback clients to log in too (default false)
# Each *_start sets PID to the client's pid; tracker_start sets TPID.

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rchar() { awk '$1 == "rchar:" { print $2 }' "/proc/$1/io"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------- the tracker
# A fresh opentracker per client, whitelisting the library (the Debian build tracks only
# whitelisted hashes); it chroots into its directory and runs as nobody.
tracker_start() {
    local dir=$WORK/tracker-$1
    mkdir -p "$dir"
    chmod 755 "$dir"
    cp "$WORK/hashes.txt" "$dir/whitelist.txt"
    chmod 644 "$dir/whitelist.txt"
    opentracker -i "${TRACKER%:*}" -p "${TRACKER#*:}" -P "${TRACKER#*:}" -d "$dir" \
        -w whitelist.txt -u nobody -A 127.0.0.1 >"$WORK/$1/tracker.out" 2>&1 &
    TPID=$!
    for _ in $(seq 100); do
        tracker_stats >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "opentracker did not answer"
}
tracker_stop() {
    [[ -n $TPID ]] && kill -TERM "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null || true
    TPID=""
}
# "ANNOUNCES SEEDS": announces received so far (TCP and UDP) and seeders listed now.
tracker_stats() {
    curl -sf --max-time 5 "http://$TRACKER/stats?mode=everything" | awk '
        /<seeds>/ { s = 1 } s && /<count>/ { gsub(/[^0-9]/, ""); seeds = $0; s = 0 }
        /<tcp>/ { t = 1 } /<udp>/ { t = 0; u = 1 }
        /<announce>/ { gsub(/[^0-9]/, ""); if (t) tcp = $0; else if (u) udp = $0 }
        END { if (seeds == "") exit 1; print tcp + udp, seeds }'
}
tracker_seeds() { tracker_stats | awk '{ print $2 }'; }

wait_ready() {
    for _ in $(seq 600); do
        "${1}_list" >/dev/null 2>&1 && return 0
        kill -0 "$PID" 2>/dev/null || die "$1 exited at start (see $WORK/$1)"
        sleep 0.1
    done
    die "$1 did not answer in 60 s"
}

# ---------------------------------------------------------------- ttui (and ttui_base)
ttui_start() {
    mkdir -p "$TDIR"
    "$TBIN" daemon --no-config --state-dir "$TDIR/state" --log-file "$TDIR/ttui.log" \
        --no-dht --bind 127.0.0.1 --port 0 -o "$DATA" $TTUI_ARGS >>"$TDIR/out" 2>&1 &
    PID=$!
}
ttui_list() { "$TBIN" list --json --no-config --state-dir "$TDIR/state"; }
# Counted with grep, as Transmission's are: jq took 1.5 s over 100,000 rows, and each poll's
# cost delays what a restart's poll sees. Each row's `state` is one line of the pretty JSON.
ttui_seeding() { ttui_list | grep -c '^    "state": "seeding",$' || true; }
ttui_add() {
    find "$TORRENTS" -name '*.torrent' -print0 | sort -z |
        xargs -0 -n "$BATCH" "$TBIN" add --no-config --state-dir "$TDIR/state" -o "$DATA" >/dev/null
}
ttui_base_start() { ttui_start; }
ttui_base_list() { ttui_list; }
ttui_base_seeding() { ttui_seeding; }
ttui_base_add() { ttui_add; }

# ---------------------------------------------------------------- transmission-daemon 3.00
TRPC=127.0.0.1:19091
transmission_start() {
    local conf=$WORK/transmission/config
    mkdir -p "$conf"
    [[ -f $conf/settings.json ]] || cat >"$conf/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
  "port-forwarding-enabled": false, "utp-enabled": true,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": 51413, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": ${TRPC#*:},
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false,
  "rpc-host-whitelist-enabled": false,
  "download-dir": "$DATA", "incomplete-dir-enabled": false, "watch-dir-enabled": false,
  "start-added-torrents": true, "ratio-limit-enabled": false,
  "idle-seeding-limit-enabled": false, "message-level": 1
}
EOF
    transmission-daemon -f -g "$conf" -e "$WORK/transmission/log" >>"$WORK/transmission/out" 2>&1 &
    PID=$!
}
transmission_list() { transmission-remote "$TRPC" -l; }
# A complete torrent with no peer is "Idle"; "Seeding" once someone downloads.
transmission_seeding() { transmission_list | grep -cE '^ +[0-9]+\*? +100% .*(Idle|Seeding) ' || true; }
# transmission-remote 3.00 adds only the last of `-a A B C`: each file needs its own -a.
transmission_add() {
    local args=() f
    while IFS= read -r -d '' f; do
        args+=(-a "$f")
        if ((${#args[@]} >= 2 * BATCH)); then
            transmission-remote "$TRPC" "${args[@]}" >/dev/null
            args=()
        fi
    done < <(find "$TORRENTS" -name '*.torrent' -print0 | sort -z)
    if ((${#args[@]})); then
        transmission-remote "$TRPC" "${args[@]}" >/dev/null
    fi
}

# ---------------------------------------------------------------- qbittorrent-nox 4.5
QURL=http://127.0.0.1:19092/api/v2
qbittorrent_start() {
    local conf=$WORK/qbittorrent/qBittorrent/config
    mkdir -p "$conf"
    [[ -f $conf/qBittorrent.conf ]] || cat >"$conf/qBittorrent.conf" <<EOF
[LegalNotice]
Accepted=true

[BitTorrent]
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\Port=51414
Session\InterfaceAddress=127.0.0.1
Session\QueueingSystemEnabled=false
Session\DefaultSavePath=$DATA
Session\AddTorrentPaused=false
Session\AnonymousModeEnabled=false

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\UPnP=false
Connection\ResolvePeerCountries=false
General\Locale=en
WebUI\Address=127.0.0.1
WebUI\Port=${QURL##*:}
WebUI\LocalHostAuth=${QB_LOCALHOST_AUTH:-false}
WebUI\CSRFProtection=false
WebUI\HostHeaderValidation=false
EOF
    QURL=http://127.0.0.1:19092/api/v2
    qbittorrent-nox --profile="$WORK/qbittorrent" --webui-port=19092 \
        >>"$WORK/qbittorrent/out" 2>&1 &
    PID=$!
}
qbittorrent_list() { curl -sf "$QURL/torrents/info"; }
qbittorrent_seeding() {
    qbittorrent_list | jq '[.[] | select(.state == "stalledUP" or .state == "uploading")] | length'
}
qbittorrent_add() {
    local files=() f
    while IFS= read -r -d '' f; do
        files+=(-F "torrents=@$f")
        if ((${#files[@]} >= 2 * BATCH)); then
            curl -sf -F "savepath=$DATA" -F "skip_checking=${QB_SKIP_CHECKING:-true}" "${files[@]}" "$QURL/torrents/add" >/dev/null
            files=()
        fi
    done < <(find "$TORRENTS" -name '*.torrent' -print0 | sort -z)
    if ((${#files[@]})); then
        curl -sf -F "savepath=$DATA" -F "skip_checking=${QB_SKIP_CHECKING:-true}" "${files[@]}" "$QURL/torrents/add" >/dev/null
    fi
}

# ---------------------------------------------------------------- rtorrent 0.9.8
# Headless (system.daemon), driven over XML-RPC on its SCGI socket (rtorrent_rpc.py); its
# session directory saves every torrent (on add, every 20 minutes and at exit), so a restart
# loads the library from it, as a user's rtorrent does.
RTSOCK=""
rtorrent_start() {
    local dir=$WORK/rtorrent
    mkdir -p "$dir/session"
    RTSOCK=$dir/scgi.sock
    rm -f "$RTSOCK"
    cat >"$dir/rtorrent.rc" <<EOF2
session.path.set = $dir/session
directory.default.set = $DATA
network.scgi.open_local = $RTSOCK
network.port_range.set = 51415-51415
network.port_random.set = no
network.bind_address.set = 127.0.0.1
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
system.daemon.set = true
EOF2
    HOME=$dir rtorrent -n -o "import=$dir/rtorrent.rc" >>"$dir/out" 2>&1 &
    PID=$!
}
rtorrent_list() { python3 "$HERE/rtorrent_rpc.py" "$RTSOCK" list; }
# The size of rtorrent's own `seeding` view (started and complete; a torrent is complete only
# once its check has passed), not a count of the whole list: at 20,000 torrents the list
# (`d.multicall2`) takes rtorrent 4 s, so a poll each half second would keep it busy
# answering polls rather than checking.
rtorrent_seeding() { python3 "$HERE/rtorrent_rpc.py" "$RTSOCK" call view.size "" seeding; }
rtorrent_add() {
    find "$TORRENTS" -name '*.torrent' | sort |
        python3 "$HERE/rtorrent_rpc.py" "$RTSOCK" add "$DATA" "$BATCH"
}
