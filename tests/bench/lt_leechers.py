#!/usr/bin/python3
"""N python3-libtorrent leecher sessions in one process sharing out a directory of torrents,
for tests/bench/disk_slow.sh: session k (on --ip-base + k, at --port) downloads the torrents
k, k + N, k + 2N, ... of --torrents (sorted by name) into --save/k, each connecting to --peer
directly (again whenever it has no peer). Discovery is off (DHT, LSD, UPnP, NAT-PMP, PEX,
uTP); loopback only.

Prints "ready" once every session listens with its torrents added, then every 0.5 s
"total BYTES SECONDS COMPLETE" (payload all sessions downloaded, the monotonic clock, torrents
complete), and "done SECONDS" once every torrent is complete. Exits on SIGTERM or after
--max-seconds.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrents", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--ip-base", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer", required=True, help="ip:port every torrent connects to")
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    head, _, last = a.ip_base.rpartition(".")
    if not head.startswith("127.") or int(last) + a.n > 255:
        sys.exit("--ip-base must leave room for -n addresses in 127.0.0.0/8")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, _, port = a.peer.rpartition(":")
    peer = (host, int(port))
    names = sorted(n for n in os.listdir(a.torrents) if n.endswith(".torrent"))
    sessions, handles = [], []
    for k in range(a.n):
        ip = "%s.%d" % (head, int(last) + k)
        ses = lt.session({
            "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
            "enable_natpmp": False, "dht_bootstrap_nodes": "",
            "allow_multiple_connections_per_ip": True,
            "enable_incoming_utp": False, "enable_outgoing_utp": False,
            "listen_interfaces": "%s:%d" % (ip, a.port), "outgoing_interfaces": ip,
            "min_reconnect_time": 1,
            "active_downloads": -1, "active_seeds": -1, "active_limit": -1,
            "alert_mask": lt.alert.category_t.error_notification,
        }, flags=0)
        sessions.append(ses)
        for name in names[k::a.n]:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(os.path.join(a.torrents, name))
            atp.save_path = os.path.join(a.save, str(k))
            h = ses.add_torrent(atp)
            h.connect_peer(peer, 0)
            handles.append(h)
    print("ready", flush=True)
    start = time.monotonic()
    said_done = False
    while time.monotonic() - start < a.max_seconds:
        time.sleep(0.5)
        for ses in sessions:
            for al in ses.pop_alerts():
                print("alert: %s" % al.message(), file=sys.stderr, flush=True)
        total = complete = 0
        for h in handles:
            st = h.status()
            total += st.total_payload_download
            if st.is_seeding:
                complete += 1
            elif st.num_peers == 0:
                h.connect_peer(peer, 0)
        print("total %d %.3f %d" % (total, time.monotonic(), complete), flush=True)
        if complete == len(handles) and not said_done:
            print("done %.2f" % (time.monotonic() - start), flush=True)
            said_done = True


if __name__ == "__main__":
    main()
