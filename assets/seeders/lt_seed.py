#!/usr/bin/python3
"""A python3-libtorrent peer for ttui's loopback integration tests.

Seeds (or, with --leech, downloads) one torrent on a single 127.0.0.x address with
every discovery mechanism off, so it only talks to the tracker in the torrent and to
peers given with --peer. Prints one status word per line on stdout, flushed:
  "ready"     seeding and, when the torrent has trackers, the first announce answered
              (or --announce-wait seconds passed without one);
  "progress P down=N up=M peers=K"   once a second (P in percent, N and M payload bytes);
  "done"      (leech mode) every piece is verified;
  "peer IP:PORT upload_only=0|1 pieces=N lacks=I,J,..."   (with --peer-lines) once a second
              for each handshaken peer: what libtorrent knows of it (BEP 21's flag, its pieces).
Everything else goes to stderr. It exits on SIGTERM/SIGKILL or after --max-seconds,
so an orphan left by a killed test cannot live forever.
"""
import argparse
import os
import re
import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def say(msg):
    print(msg, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save", required=True, help="directory that holds (or will hold) the payload")
    ap.add_argument("--ip", default="127.0.0.1", help="listen and outgoing address (127.0.0.x)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--listen-any", action="store_true",
                    help="listen on every address (IPv4 and IPv6) instead of --ip, and dial from "
                    "whichever the system picks: for a test host in a namespace of its own")
    ap.add_argument("--seed-mode", action="store_true",
                    help="trust the data without hashing it first (else it is rechecked)")
    ap.add_argument("--leech", action="store_true", help="download instead of seeding")
    ap.add_argument("--peer", action="append", default=[], help="ip:port to connect to directly")
    ap.add_argument("--upload-limit", type=int, default=0, help="bytes/s, 0 = unlimited")
    ap.add_argument("--download-limit", type=int, default=0, help="bytes/s, 0 = unlimited")
    ap.add_argument("--user-agent", default=None)
    ap.add_argument("--encryption", choices=["forced", "disabled"], default=None,
                    help="forced: RC4 only, both ways; disabled: plain only")
    ap.add_argument("--transport", choices=["tcp", "utp", "both"], default="tcp",
                    help="peer transports, incoming and outgoing (utp: TCP off both ways)")
    ap.add_argument("--pex", action="store_true", help="load libtorrent's ut_pex plugin")
    ap.add_argument("--slow-ip", action="append", default=[],
                    help="address whose traffic both ways is held to --slow-rate")
    ap.add_argument("--slow-rate", type=int, default=16000, help="bytes/s for --slow-ip")
    ap.add_argument("--log-uploads", action="store_true",
                    help='print "uploaded PIECE BLOCK" on stdout for every block sent, in order, '
                         'and "requested PIECE START" for every request received, in order')
    ap.add_argument("--socket-buffer", type=int, default=0,
                    help="bytes for the sockets' kernel send and receive buffers (uTP's UDP socket "
                    "too), 0 = the system's default")
    ap.add_argument("--utp-stats", default=None,
                    help="file rewritten a few times a second with libtorrent's utp.* counters, "
                    "one 'name value' a line")
    ap.add_argument("--counters", default=None,
                    help="file rewritten a few times a second with libtorrent's peer.* and ses.* "
                    "counters (ses.num_incoming_cancel, ...), one 'name value' a line")
    ap.add_argument("--peer-lines", action="store_true",
                    help='print "peer ..." lines once a second: each peer\'s upload_only flag and pieces')
    ap.add_argument("--lsd", action="store_true",
                    help="BEP 14 local service discovery on (off by default: tests send no multicast)")
    ap.add_argument("--announce-wait", type=float, default=20.0)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    settings = {
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        # Every peer in the tests shares loopback addresses.
        "allow_multiple_connections_per_ip": True,
        # TCP only unless asked (--transport): uTP has tests of its own.
        "enable_incoming_utp": args.transport != "tcp",
        "enable_outgoing_utp": args.transport != "tcp",
        # A uTP-only libtorrent still opens its TCP port: it accepts and then resets.
        "enable_incoming_tcp": args.transport != "utp",
        "enable_outgoing_tcp": args.transport != "utp",
        "listen_interfaces": "%s:%d" % (args.ip, args.port),
        "outgoing_interfaces": args.ip,
        # Reach a peer quickly when it announced before we listened.
        "min_reconnect_time": 1,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.peer_notification
        # Peers connecting and leaving, with their addresses (on stderr).
        | lt.alert.category_t.connect_notification,
        "upload_rate_limit": args.upload_limit,
        "download_rate_limit": args.download_limit,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
    }
    if args.listen_any:
        settings["listen_interfaces"] = "0.0.0.0:%d,[::]:%d" % (args.port, args.port)
        settings["outgoing_interfaces"] = ""
    if args.lsd:
        settings["enable_lsd"] = True
    if args.socket_buffer > 0:
        settings["recv_socket_buffer_size"] = args.socket_buffer
        settings["send_socket_buffer_size"] = args.socket_buffer
    if args.log_uploads:
        settings["alert_mask"] |= lt.alert.category_t.upload_notification
        # The bindings have no class for incoming_request_alert: it is read from its message
        # ("... incoming request [ piece: 5 start: 0 length: 16384 ]").
        settings["alert_mask"] |= lt.alert.category_t.incoming_request_notification
    if args.user_agent is not None:
        settings["user_agent"] = args.user_agent
    if args.encryption is not None:
        policy = {"forced": 0, "disabled": 2}[args.encryption]  # pe_forced / pe_disabled
        settings["out_enc_policy"] = policy
        settings["in_enc_policy"] = policy
        settings["allowed_enc_level"] = 2 if args.encryption == "forced" else 1  # rc4 / plain
    # flags=0: no default plugins (ut_pex would be one); metadata exchange is harmless.
    ses = lt.session(settings, flags=0)
    ses.add_extension("ut_metadata")
    if args.pex:
        ses.add_extension("ut_pex")
    # By default loopback peers sit in the local peer class, which ignores rate limits;
    # put every address in the global class so --upload-limit really throttles.
    ipf = lt.ip_filter()
    ipf.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    if args.listen_any:
        ipf.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                     1 << lt.session.global_peer_class_id)
    if args.slow_ip:
        slow = ses.create_peer_class("slow")
        cls = ses.get_peer_class(slow)
        cls.update({"upload_limit": args.slow_rate, "download_limit": args.slow_rate})
        ses.set_peer_class(slow, cls)
        for ip in args.slow_ip:
            ipf.add_rule(ip, ip, 1 << slow)
    ses.set_peer_class_filter(ipf)

    info = lt.torrent_info(args.torrent)
    atp = lt.add_torrent_params()
    atp.ti = info
    atp.save_path = args.save
    flags = 0
    if args.seed_mode and not args.leech:
        flags |= lt.torrent_flags.seed_mode
    atp.flags = flags
    h = ses.add_torrent(atp)
    trackers = list(info.trackers())
    has_trackers = len(trackers) > 0
    log("lt_seed: %s on %s:%d, %s, trackers=%d" % (
        info.name(), args.ip, args.port, "leech" if args.leech else "seed", len(trackers)))

    for p in args.peer:
        host, _, port = p.rpartition(":")
        h.connect_peer((host.strip("[]"), int(port)), 0)

    start = time.monotonic()
    announced = not has_trackers
    ready_said = False
    done_said = False
    last_progress = 0.0
    last_stats = 0.0
    while time.monotonic() - start < args.max_seconds:
        if (args.utp_stats or args.counters) and time.monotonic() - last_stats >= 0.25:
            last_stats = time.monotonic()
            ses.post_session_stats()
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                for path, prefix in ((args.utp_stats, "utp."), (args.counters, ("peer.", "ses."))):
                    if not path:
                        continue
                    tmp = path + ".tmp"
                    with open(tmp, "w") as f:
                        for name, v in sorted(a.values.items()):
                            if name.startswith(prefix):
                                f.write("%s %d\n" % (name, v))
                    os.replace(tmp, path)
                continue
            if isinstance(a, lt.tracker_reply_alert):
                announced = True
            if isinstance(a, lt.block_uploaded_alert):
                say("uploaded %d %d" % (a.piece_index, a.block_index))
            if a.what() == "incoming_request":
                m = re.search(r"piece: (\d+) start: (\d+)", a.message())
                if m:
                    say("requested %s %s" % (m.group(1), m.group(2)))
            if isinstance(a, (lt.tracker_error_alert, lt.torrent_error_alert,
                              lt.file_error_alert, lt.listen_failed_alert,
                              lt.tracker_reply_alert, lt.listen_succeeded_alert,
                              lt.peer_connect_alert, lt.peer_disconnected_alert,
                              lt.incoming_connection_alert, lt.hash_failed_alert,
                              lt.lsd_error_alert)):
                log("alert: %s" % a.message())
        st = h.status()
        seeding = st.state in (lt.torrent_status.seeding, lt.torrent_status.finished) and st.is_seeding
        now = time.monotonic()
        if now - last_progress >= 1.0:
            last_progress = now
            # Handshaken peers only (num_peers counts half-open ones): what its PEX would list.
            busy = lt.peer_info.connecting | lt.peer_info.handshake
            live = sum(1 for p in h.get_peer_info() if not p.flags & busy)
            say("progress %.1f down=%d up=%d peers=%d connected=%d" % (
                st.progress * 100.0, st.total_payload_download, st.total_payload_upload,
                st.num_peers, live))
            if args.peer_lines:
                for p in h.get_peer_info():
                    if p.flags & busy:
                        continue
                    lacks = [str(i) for i, has in enumerate(p.pieces) if not has][:50]
                    say("peer %s:%d upload_only=%d pieces=%d lacks=%s" % (
                        p.ip[0], p.ip[1], 1 if p.flags & lt.peer_info.upload_only else 0,
                        p.num_pieces, ",".join(lacks)))
        if seeding and not ready_said:
            if announced or now - start > args.announce_wait:
                ready_said = True
                say("ready")
        if args.leech and seeding and not done_said:
            done_said = True
            say("done")
        if st.errc.value() != 0:
            log("torrent error: %s" % st.errc.message())
        ses.wait_for_alert(200)
    log("lt_seed: --max-seconds reached, exiting")


if __name__ == "__main__":
    main()
