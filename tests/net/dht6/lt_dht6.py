# A DHT of python3-libtorrent 2.0 sessions on the IPv6 loopback for tests/net/dht6.rs: every
# session listens on [::1] only (each on its own port, so its DHT runs over IPv6 alone) and
# learns the others with add_dht_node. Settings that matter on loopback as in INTEROP.md.
# One command a line on stdin, one reply a line:
#   seed I TORRENT DIR   session I seeds TORRENT from DIR, trackers removed (DHT only);
#                        prints `seeding PORT`
#   leech I MAGNET DIR   session I downloads MAGNET into DIR; prints `done S` (seconds since
#                        the command) or `timeout ...` (with its state) after 150 s
#   quit
import sys, time, warnings, libtorrent as lt
# session.status() is deprecated in 2.0 but still the one way to read dht_nodes here.
warnings.filterwarnings('ignore', category=DeprecationWarning)
ports = [int(p) for p in sys.argv[1].split(',')]
def mk(port):
    return lt.session({
        'listen_interfaces': '[::1]:%d' % port, 'outgoing_interfaces': '::1',
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True,
        'alert_mask': 0})
sessions = [mk(p) for p in ports]
def mesh():
    for i, s in enumerate(sessions):
        for j, p in enumerate(ports):
            if i != j: s.add_dht_node(('::1', p))
def out(line):
    sys.stdout.write(line + '\n'); sys.stdout.flush()
# Meshed when every session's table holds another (bounded: the test gives up after 30 s).
end = time.time() + 25
while time.time() < end:
    mesh(); time.sleep(0.5)
    if all(s.status().dht_nodes > 0 for s in sessions): break
out('ready %s' % ','.join(str(s.status().dht_nodes) for s in sessions))
for line in sys.stdin:
    w = line.split()
    if not w: continue
    if w[0] == 'quit': break
    if w[0] == 'seed':
        i = int(w[1])
        atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(w[2]); atp.save_path = w[3]
        atp.trackers = []
        h = sessions[i].add_torrent(atp); h.replace_trackers([])
        end = time.time() + 60
        while not h.status().is_seeding and time.time() < end:
            sessions[i].pop_alerts(); time.sleep(0.1)
        h.force_dht_announce()
        out('seeding %d' % sessions[i].listen_port())
    elif w[0] == 'leech':
        i = int(w[1]); s = sessions[i]
        t0 = time.time()
        atp = lt.parse_magnet_uri(w[2]); atp.save_path = w[3]
        h = s.add_torrent(atp)
        res = 'timeout'
        while time.time() - t0 < 150:
            st = h.status()
            if st.is_seeding:
                res = 'done %.3f' % (time.time() - t0); break
            for k in sessions: k.pop_alerts()
            time.sleep(0.05)
        if res == 'timeout':
            res = 'timeout peers=%d metadata=%d progress=%.3f' % (
                st.num_peers, st.has_metadata, st.progress)
        out(res)
