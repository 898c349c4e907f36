# The demo's loopback DHT: python3-libtorrent sessions that are DHT nodes, each on its own
# 127.0.0.x (loopback settings as in INTEROP.md), the last of which seeds the torrent,
# throttled, announcing it to the DHT only (trackers removed). Runs until killed.
#   lt_dht_seed.py IP,IP,... PORT TORRENT SAVE_DIR UPLOAD_LIMIT
import sys, time, libtorrent as lt
ips = sys.argv[1].split(','); port = int(sys.argv[2])
torrent, save, limit = sys.argv[3], sys.argv[4], int(sys.argv[5])
def mk(ip):
    return lt.session({
        'listen_interfaces': '%s:%d' % (ip, port), 'outgoing_interfaces': ip,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': limit})
sessions = [mk(ip) for ip in ips]
# Loopback peers sit in the local peer class, which ignores rate limits: put every address
# in the global class so the seeder's limit holds.
ipf = lt.ip_filter()
ipf.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
sessions[-1].set_peer_class_filter(ipf)
def mesh():
    for i, s in enumerate(sessions):
        for j, ip in enumerate(ips):
            if i != j: s.add_dht_node((ip, port))
time.sleep(1); mesh()
atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(torrent); atp.save_path = save
atp.trackers = []; atp.flags |= lt.torrent_flags.seed_mode
h = sessions[-1].add_torrent(atp); h.replace_trackers([])
time.sleep(1); mesh(); time.sleep(1)
# Announce until a node holds it (an announce before the table has nodes goes nowhere).
for _ in range(20):
    h.force_dht_announce(); time.sleep(0.5)
print('ready', flush=True)
start = time.time(); last = start
while time.time() < start + 86400:
    for s in sessions: s.pop_alerts()
    time.sleep(0.5)
    if time.time() - last >= (5 if time.time() - start < 60 else 60):
        h.force_dht_announce(); last = time.time()
