#!/usr/bin/python3
"""A python3-libtorrent seeder of many torrents in one session, for ttui's loopback tests.

lt_seed.py seeds one torrent per process; a test of a 20-torrent session would need 20 of
them (20 Python interpreters on a shared machine). This one seeds every --torrent from one
--save directory on one 127.0.0.x address with every discovery mechanism off, so it only
talks to peers that dial it. --upload-limit is session-wide (all torrents together).
Prints on stdout, flushed:
  "ready"                    every torrent is seeding;
  "progress up=N peers=K"    once a second (N payload bytes uploaded over all torrents);
  "uploaded T P"             (with --log-uploads) a block of piece P of the T-th --torrent
                             (from 0) was sent.
Everything else goes to stderr. It exits on SIGTERM/SIGKILL or after --max-seconds, so an
orphan left by a killed test cannot live forever.
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
    ap.add_argument("--torrent", action="append", required=True)
    ap.add_argument("--save", required=True, help="directory that holds every payload")
    ap.add_argument("--ip", default="127.0.0.1", help="listen and outgoing address (127.0.0.x)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seed-mode", action="store_true",
                    help="trust the data without hashing it first (else it is rechecked)")
    ap.add_argument("--upload-limit", type=int, default=0,
                    help="bytes/s over all torrents, 0 = unlimited")
    ap.add_argument("--log-uploads", action="store_true",
                    help='print "uploaded TORRENT PIECE" for every block sent')
    ap.add_argument("--max-seconds", type=float, default=600.0)
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
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
        "upload_rate_limit": args.upload_limit,
        # Every torrent stays active: libtorrent's queue would otherwise park most of them.
        "active_seeds": -1,
        "active_limit": -1,
        "dont_count_slow_torrents": False,
    }
    if args.log_uploads:
        settings["alert_mask"] |= lt.alert.category_t.upload_notification
    ses = lt.session(settings, flags=0)
    # Loopback peers sit in the local peer class, which ignores rate limits by default;
    # put every address in the global class so --upload-limit really throttles.
    ipf = lt.ip_filter()
    ipf.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(ipf)

    handles = []
    for path in args.torrent:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(path)
        atp.save_path = args.save
        atp.flags = lt.torrent_flags.seed_mode if args.seed_mode else 0
        handles.append(ses.add_torrent(atp))
    log("lt_multi_seed: %d torrents on %s:%d" % (len(handles), args.ip, args.port))

    start = time.monotonic()
    ready_said = False
    last_progress = 0.0
    while time.monotonic() - start < args.max_seconds:
        for a in ses.pop_alerts():
            if isinstance(a, lt.block_uploaded_alert):
                idx = next((i for i, h in enumerate(handles) if h == a.handle), -1)
                print("uploaded %d %d" % (idx, a.piece_index), flush=True)
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert,
                              lt.listen_failed_alert, lt.hash_failed_alert)):
                log("alert: %s" % a.message())
        now = time.monotonic()
        if not ready_said and all(h.status().is_seeding for h in handles):
            ready_said = True
            print("ready", flush=True)
        if now - last_progress >= 1.0:
            last_progress = now
            sts = [h.status() for h in handles]
            print("progress up=%d peers=%d" % (
                sum(s.total_payload_upload for s in sts), sum(s.num_peers for s in sts)),
                flush=True)
        ses.wait_for_alert(200)
    log("lt_multi_seed: --max-seconds reached, exiting")


if __name__ == "__main__":
    main()
