#!/usr/bin/python3
"""A python3-libtorrent leecher given only a magnet link, for ttui's loopback tests.

Adds the magnet (btih or btmh), dials the one --peer it is given (again every two seconds
while it has no peer), and downloads into --save on its own 127.0.0.x with every discovery
mechanism off but the magnet's own trackers (`tr=`). Without --peer it only waits to be
dialed (and announces, when the magnet names a tracker). Prints on stdout, flushed:
  "metadata"                     the info dictionary arrived;
  "done hashes=N rejects=M logged=K"   every piece verified; N `hashes` and M `hash reject`
                                 messages came in (K peer-log lines were seen at all: 0 means
                                 this libtorrent build logs none, so N and M say nothing).
Everything else goes to stderr. It exits after "done" (with --keep-seeding it seeds on until
stopped), on SIGTERM/SIGKILL, or after --max-seconds (status 1).
"""
import argparse
import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--magnet", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--ip", required=True, help="listen and outgoing address (127.0.0.x)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer", help="ip:port to dial")
    ap.add_argument("--keep-seeding", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=170.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    settings = {
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "listen_interfaces": "%s:%d" % (args.ip, args.port),
        "outgoing_interfaces": args.ip,
        "min_reconnect_time": 1,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.peer_log_notification,
    }
    ses = lt.session(settings, flags=0)
    ses.add_extension("ut_metadata")
    atp = lt.parse_magnet_uri(args.magnet)
    atp.save_path = args.save
    h = ses.add_torrent(atp)
    peer = None
    if args.peer:
        host, _, port = args.peer.rpartition(":")
        peer = (host, int(port))
        h.connect_peer(peer, 0)

    hashes = rejects = logged = 0
    said_metadata = False
    said_done = False
    start = time.monotonic()
    last_dial = start
    while time.monotonic() - start < args.max_seconds:
        for a in ses.pop_alerts():
            if isinstance(a, lt.peer_log_alert):
                logged += 1
                m = a.message()
                # Incoming messages are logged with "<==".
                if "<== HASHES" in m:
                    hashes += 1
                elif "<== HASH_REJECT" in m:
                    rejects += 1
                if "HASH" in m:
                    log(m)
            elif isinstance(a, (lt.hash_failed_alert, lt.torrent_error_alert,
                                lt.peer_disconnected_alert, lt.metadata_failed_alert)):
                log(a.message())
        s = h.status()
        if s.has_metadata and not said_metadata:
            said_metadata = True
            print("metadata", flush=True)
        if s.is_seeding and not said_done:
            said_done = True
            print("done hashes=%d rejects=%d logged=%d" % (hashes, rejects, logged), flush=True)
            if not args.keep_seeding:
                return 0
        now = time.monotonic()
        if peer and s.num_peers == 0 and now - last_dial > 2:
            last_dial = now
            h.connect_peer(peer, 0)
        time.sleep(0.1)
    s = h.status()
    if said_done:
        return 0
    log("lt_magnet: gave up: state %s progress %.3f peers %d" % (s.state, s.progress, s.num_peers))
    return 1


if __name__ == "__main__":
    sys.exit(main())
