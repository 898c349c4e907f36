# A loopback DHT of python3-libtorrent 2.0 sessions for tests/net/dht_swarm.rs, tests/interop/private.rs
# and tests/bench/dht_magnet.py. Each session is a DHT node on its own 127.0.0.x (settings
# that matter on loopback as in INTEROP.md); one command a line on stdin, one reply a line.
#   seed I TORRENT DIR   session I seeds TORRENT from DIR, trackers removed (DHT only)
#   leech I MAGNET DIR   session I downloads MAGNET into DIR; prints `first_peer S` then
#                        `done S` (seconds since the command), or `timeout ...` (with its state)
#   node HOST:PORT       every session learns this DHT node
#   announce I           session I announces its torrents to the DHT again
#   drain                every session's alerts go to TTUI_LT_ALERT_LOG now; prints `ok`
#   quit
import os, sys, time, libtorrent as lt
ips = sys.argv[1].split(','); port = int(sys.argv[2])
mask = (lt.alert.category_t.dht_operation_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification)
def mk(ip):
    return lt.session({
        'listen_interfaces': '%s:%d' % (ip, port), 'outgoing_interfaces': ip,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True,
        'alert_mask': mask})
sessions = [mk(ip) for ip in ips]
# TTUI_LT_ALERT_LOG=FILE: every session's DHT, connection and peer alerts go to FILE (to read
# why a lookup or a connection failed); written when the seed and leech commands drain them.
alert_log = os.environ.get('TTUI_LT_ALERT_LOG')
alert_log = alert_log and open(alert_log, 'a', errors='replace')
if alert_log:
    c = lt.alert.category_t
    more = (c.dht_notification | c.dht_log_notification | c.connect_notification
            | c.peer_notification | c.peer_log_notification | c.torrent_log_notification)
    for s in sessions: s.apply_settings({'alert_mask': mask | more, 'alert_queue_size': 100000})
T0 = time.time()
def drain(i):
    for a in sessions[i].pop_alerts():
        if alert_log:
            try: m = a.message()
            except Exception as e: m = '(message: %r)' % e  # not UTF-8: a raw packet
            alert_log.write('%8.3f s%d %s: %s\n' % (time.time() - T0, i, type(a).__name__, m))
    if alert_log: alert_log.flush()
extra = []
def mesh():
    for i, s in enumerate(sessions):
        for j, ip in enumerate(ips):
            if i != j: s.add_dht_node((ip, port))
        for h, p in extra: s.add_dht_node((h, p))
def out(line):
    sys.stdout.write(line + '\n'); sys.stdout.flush()
time.sleep(1); mesh(); time.sleep(1); mesh()
out('ready')
handles = {}
for line in sys.stdin:
    w = line.split()
    if not w: continue
    if w[0] == 'quit': break
    if w[0] == 'drain':
        for k in range(len(sessions)): drain(k)
        out('ok')
    elif w[0] == 'node':
        h, p = w[1].rsplit(':', 1); extra.append((h, int(p))); mesh(); out('ok')
    elif w[0] == 'seed':
        i = int(w[1])
        ti = lt.torrent_info(w[2])
        atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = w[3]; atp.trackers = []
        h = sessions[i].add_torrent(atp); h.replace_trackers([]); handles[i] = h
        end = time.time() + 60
        while not h.status().is_seeding and time.time() < end:
            drain(i); time.sleep(0.1)
        h.force_dht_announce()
        out('seeding %d' % sessions[i].listen_port())
    elif w[0] == 'announce':
        handles[int(w[1])].force_dht_announce(); out('ok')
    elif w[0] == 'leech':
        i = int(w[1]); s = sessions[i]
        t0 = time.time()
        atp = lt.parse_magnet_uri(w[2]); atp.save_path = w[3]
        h = s.add_torrent(atp); handles[i] = h
        first = None; res = 'timeout'
        while time.time() - t0 < 150:
            st = h.status()
            # num_peers alone misses a peer whose whole visit fell between two polls: on
            # loopback the lookup, the metadata and 2 MiB took 21 ms, and the connection was
            # gone again (two seeds part), so `first_peer` never came. Metadata of a magnet
            # and any payload only come from a connected peer, so they count as one too.
            if first is None and (st.num_peers > 0 or st.has_metadata or st.is_seeding):
                first = time.time() - t0; out('first_peer %.3f' % first)
            if st.is_seeding:
                res = 'done %.3f' % (time.time() - t0); break
            for k in range(len(sessions)): drain(k)
            time.sleep(0.02)
        for k in range(len(sessions)): drain(k)
        if res == 'timeout':
            res = 'timeout peers=%d metadata=%d progress=%.3f' % (
                st.num_peers, st.has_metadata, st.progress)
        out(res)
