#!/usr/bin/python3
"""Trackerless magnet on a loopback DHT: time from start to the first peer and to completion,
ttui against a python3-libtorrent leecher in the same run (the same DHT of libtorrent nodes
and the same DHT-only libtorrent seeder; the two take turns at going first).

Run it in a loopback-only namespace (it never contacts anything else):
  unshare --net --pid --fork --mount --mount-proc bash -c \
    'ip link set lo up; /usr/bin/python3 tests/bench/dht_magnet.py --ttui target/release/ttui'

ttui: "first peer" is its first connected peer (the stderr line `magnet: ADDR: connected`),
completion is its exit after `complete:`. libtorrent: first `num_peers > 0`, then
`is_seeding`. Both count from the moment the client starts, with a fresh DHT node each.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, threading, time
import libtorrent as lt

PORT = 24000
NODES = ['127.0.0.%d' % i for i in range(2, 6)]

def session(ip, port):
    return lt.session({
        'listen_interfaces': '%s:%d' % (ip, port), 'outgoing_interfaces': ip,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True})

def mesh(sessions, ips):
    for s in sessions:
        for ip in ips:
            s.add_dht_node((ip, PORT))

def run_ttui(ttui, magnet, work, i):
    out = os.path.join(work, 'ttui-out-%d' % i); os.makedirs(out)
    args = [ttui, magnet, '--headless', '-o', out, '--port', str(25000 + i),
            '--state-dir', os.path.join(work, 'ttui-state-%d' % i),
            '--log-file', os.path.join(work, 'ttui-%d.log' % i)]
    for ip in NODES:
        args += ['--dht-bootstrap', '%s:%d' % (ip, PORT)]
    env = dict(os.environ, TTUI_NO_PUBLIC_ROUTERS='1')
    t0 = time.time()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first, err = [None], []
    def read():
        for line in p.stderr:
            err.append(line)
            if first[0] is None and (b': connected' in line or b'metadata (' in line):
                first[0] = time.time() - t0
    th = threading.Thread(target=read); th.start()
    stdout = p.communicate(timeout=180)[0]
    done = time.time() - t0
    th.join()
    if p.returncode != 0 or b'complete:' not in stdout:
        sys.exit('ttui failed: %r' % stdout[-500:])
    if first[0] is None:
        sys.exit('ttui: no connected line: %r' % b''.join(err))
    return first[0], done, out

def run_lt(magnet, work, i):
    out = os.path.join(work, 'lt-out-%d' % i); os.makedirs(out)
    t0 = time.time()
    s = session('127.0.0.%d' % (20 + i), PORT)
    mesh([s], NODES)
    atp = lt.parse_magnet_uri(magnet); atp.save_path = out
    h = s.add_torrent(atp)
    first = None
    while time.time() - t0 < 180:
        st = h.status()
        if first is None and st.num_peers > 0:
            first = time.time() - t0
        if st.is_seeding:
            done = time.time() - t0
            del h; del s
            return first, done, out
        s.pop_alerts(); time.sleep(0.005)
    sys.exit('libtorrent leecher timed out')

def same(a, b):
    with open(a, 'rb') as x, open(b, 'rb') as y:
        return x.read() == y.read()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ttui', required=True)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--mib', type=int, default=32)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix='ttui-dht-bench-')
    try:
        data = os.path.join(work, 'data'); os.makedirs(data)
        path = os.path.join(data, 'payload.bin')
        with open(path, 'wb') as f:
            f.write(os.urandom(a.mib << 20))
        fs = lt.file_storage(); lt.add_files(fs, path)
        t = lt.create_torrent(fs, 1 << 18, flags=lt.create_torrent.v1_only)
        lt.set_piece_hashes(t, data)
        ti = lt.torrent_info(t.generate())
        magnet = 'magnet:?xt=urn:btih:%s&dn=payload.bin' % ti.info_hashes().v1.to_bytes().hex()
        nodes = [session(ip, PORT) for ip in NODES]
        time.sleep(1); mesh(nodes, NODES); time.sleep(1); mesh(nodes, NODES)
        atp = lt.add_torrent_params(); atp.ti = ti; atp.save_path = data
        seed = nodes[0].add_torrent(atp)
        end = time.time() + 60
        while not seed.status().is_seeding and time.time() < end:
            time.sleep(0.1)
        seed.force_dht_announce(); time.sleep(3)
        rows = {'ttui': [], 'libtorrent': []}
        for i in range(a.runs):
            order = ['ttui', 'libtorrent'] if i % 2 == 0 else ['libtorrent', 'ttui']
            for who in order:
                if who == 'ttui':
                    first, done, out = run_ttui(a.ttui, magnet, work, i)
                else:
                    first, done, out = run_lt(magnet, work, i)
                if not same(path, os.path.join(out, 'payload.bin')):
                    sys.exit('%s: the download differs' % who)
                rows[who].append((first, done))
                print('run %d %-10s first peer %6.3f s  complete %6.3f s' % (i + 1, who, first, done), flush=True)
        for who, r in rows.items():
            print('median %-10s first peer %6.3f s  complete %6.3f s  (%d MiB, %d runs)' % (
                who, statistics.median(x[0] for x in r), statistics.median(x[1] for x in r),
                a.mib, a.runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__':
    main()
