#!/usr/bin/python3
"""N python3-libtorrent sessions in one process, all on one torrent, for
tests/bench/ratelimit.sh: N seeders (seed mode, data trusted) or, with --leech, N leechers that
each connect to --peer. Session k listens on 127.0.0.1:(port + k). --cap RATE caps each
session's upload (seeders) or download (leechers) at RATE bytes/s, so the swarm as a whole
moves N * RATE: the bench's same-rate run without a ttui limit. Leechers save into
--save/k. Discovery is off (DHT, LSD, UPnP, NAT-PMP, PEX, uTP); loopback only.

Prints "ready" once every session listens, then every 0.5 s "total BYTES SECONDS" (the payload
all sessions uploaded, or downloaded with --leech, and the monotonic clock in seconds, for a
rate between two lines). Exits on SIGTERM or after --max-seconds.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt


def session(ip, port, cap, leech):
    ses = lt.session({
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "listen_interfaces": "%s:%d" % (ip, port), "outgoing_interfaces": ip,
        "min_reconnect_time": 1,
        "upload_rate_limit": 0 if leech else cap,
        "download_rate_limit": cap if leech else 0,
        "alert_mask": lt.alert.category_t.error_notification,
    }, flags=0)
    # Loopback peers sit in libtorrent's local class, which ignores limits: put every
    # address in the global class so --cap holds.
    ipf = lt.ip_filter()
    ipf.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(ipf)
    return ses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("--cap", type=int, default=0)
    ap.add_argument("--leech", action="store_true")
    ap.add_argument("--peer", default=None, help="ip:port every leecher connects to")
    ap.add_argument("--ip-base", default=None, help="session k on this address + k, all at --port")
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    if a.ip_base is not None:
        head, _, last = a.ip_base.rpartition(".")
        if not head.startswith("127.") or int(last) + a.n > 255:
            sys.exit("--ip-base must leave room for -n addresses in 127.0.0.0/8")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    info = lt.torrent_info(a.torrent)
    handles = []
    sessions = []
    for k in range(a.n):
        if a.ip_base is None:
            ses = session("127.0.0.1", a.port + k, a.cap, a.leech)
        else:
            ses = session("%s.%d" % (head, int(last) + k), a.port, a.cap, a.leech)
        atp = lt.add_torrent_params()
        atp.ti = info
        atp.save_path = os.path.join(a.save, str(k)) if a.leech else a.save
        atp.flags = 0 if a.leech else lt.torrent_flags.seed_mode
        h = ses.add_torrent(atp)
        if a.leech and a.peer:
            host, _, port = a.peer.rpartition(":")
            h.connect_peer((host, int(port)), 0)
        sessions.append(ses)
        handles.append(h)
    print("ready", flush=True)
    start = time.monotonic()
    while time.monotonic() - start < a.max_seconds:
        time.sleep(0.5)
        total = 0
        for h, ses in zip(handles, sessions):
            ses.pop_alerts()
            st = h.status()
            total += st.total_payload_download if a.leech else st.total_payload_upload
            if a.leech and a.peer and st.num_peers == 0:
                host, _, port = a.peer.rpartition(":")
                h.connect_peer((host, int(port)), 0)
        print("total %d %.3f" % (total, time.monotonic()), flush=True)


if __name__ == "__main__":
    main()
