#!/usr/bin/python3
"""One python3-libtorrent session with every .torrent of a directory, for
tests/bench/session_swarm.sh: seeds them (seed mode, data trusted) or, with --leech, downloads
them all from --peer. Discovery is off (DHT, LSD, UPnP, NAT-PMP, PEX); loopback only.
Prints "ready" once listening with every torrent added, "done SECONDS" (leech) when every
torrent is complete, counted from the first add. Exits on SIGTERM or after --max-seconds.
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
    ap.add_argument("--ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--leech", action="store_true")
    ap.add_argument("--peer", default=None, help="ip:port every torrent connects to")
    ap.add_argument("--max-seconds", type=float, default=1800)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ses = lt.session({
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "listen_interfaces": "%s:%d" % (a.ip, a.port), "outgoing_interfaces": a.ip,
        "min_reconnect_time": 1,
        # Every torrent active at once, as in the ttui session (no queue).
        "active_downloads": -1, "active_seeds": -1, "active_limit": -1,
        "connections_limit": 2000, "alert_mask": lt.alert.category_t.error_notification,
    }, flags=0)
    handles = []
    start = time.monotonic()
    for name in sorted(os.listdir(a.torrents)):
        if not name.endswith(".torrent"):
            continue
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(os.path.join(a.torrents, name))
        atp.save_path = a.save
        atp.flags = 0 if a.leech else lt.torrent_flags.seed_mode
        handles.append(ses.add_torrent(atp))
    if a.peer:
        host, _, port = a.peer.rpartition(":")
        for h in handles:
            h.connect_peer((host, int(port)), 0)
    print("ready", flush=True)
    while time.monotonic() - start < a.max_seconds:
        for al in ses.pop_alerts():
            print("alert: %s" % al.message(), file=sys.stderr, flush=True)
        if a.leech and all(h.status().is_seeding for h in handles):
            print("done %.2f" % (time.monotonic() - start), flush=True)
            a.leech = False
        time.sleep(0.05)


if __name__ == "__main__":
    main()
