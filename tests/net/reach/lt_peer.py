#!/usr/bin/python3
"""One python3-libtorrent 2.0 peer of the reach tests (tests/net/reach.rs), in one netlab host.

Unlike assets/seeders/lt_seed.py (every discovery mechanism off), this peer is a member of
a small internet's swarm: its DHT may run (bootstrapped only from the lab's nodes, given
with --dht-node, never a public router), ut_pex and uTP are on, and BEP 55 hole punching is
libtorrent's own (compiled in, no setting). LSD, UPnP and NAT-PMP are off: the lab has no
LAN and no router to ask.

  --mode node    a DHT node only (no torrent): the lab's bootstrap node
  --mode seed    seeds --torrent from --save (seed mode: no hashing)
  --mode leech   downloads --torrent into --save

Lines on stdout, flushed:
  "ready"              the session listens (a seed: is seeding; with --dht: its table has
                       a node and the torrent was announced)
  "dht N"              once a second with --dht: nodes in its routing table
  "peers N IP,IP,..."  once a second: every address it has ever been connected to
                       (handshaken), the union over its get_peer_info() polls
  "done"               (leech) every piece verified
  "table NID ID@IP:PORT ..."  once a second with --table: this node's id and its routing
                       table's live nodes (dht_live_nodes), ids in hex
Alerts go to stderr. It exits on SIGTERM or after --max-seconds, so an orphan left by a
killed test cannot live forever.
"""
import argparse
import signal
import sys
import time
import warnings

import libtorrent as lt

# session.status() is deprecated in 2.0 but is still the one way to read dht_nodes.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def say(msg):
    print(msg, flush=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def endpoint(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["node", "seed", "leech"], required=True)
    ap.add_argument("--torrent")
    ap.add_argument("--save")
    ap.add_argument("--port", type=int, default=6881)
    ap.add_argument("--listen", default=None,
                    help="one address to listen on (and dial from); default: every address")
    ap.add_argument("--dht", action="store_true")
    ap.add_argument("--dht-node", action="append", default=[], help="ip:port of a lab DHT node")
    ap.add_argument("--no-trackers", action="store_true", help="drop the torrent's trackers")
    ap.add_argument("--pex", action="store_true")
    ap.add_argument("--enforce-node-id", action="store_true",
                    help="BEP 42: dht_enforce_node_id (ids that do not fit their address "
                    "are answered with an error and kept out of the routing table)")
    ap.add_argument("--table", action="store_true", help="print the routing table each second")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--upload-limit", type=int, default=0)
    ap.add_argument("--download-limit", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if args.listen:
        ip = args.listen
        shown = "[%s]" % ip if ":" in ip else ip
        listen, outgoing = "%s:%d" % (shown, args.port), ip
    else:
        listen, outgoing = "0.0.0.0:%d,[::]:%d" % (args.port, args.port), ""
    settings = {
        "listen_interfaces": listen,
        "outgoing_interfaces": outgoing,
        "enable_dht": args.dht,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # Never a public router: only the lab's nodes (added below).
        "dht_bootstrap_nodes": "",
        # The lab's addresses are documentation ranges, few and close together (INTEROP.md).
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_enforce_node_id": args.enforce_node_id,
        "dht_prefer_verified_node_ids": False,
        "dht_block_ratelimit": 1000,
        "enable_incoming_utp": True,
        "enable_outgoing_utp": True,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "min_reconnect_time": 1,
        "upload_rate_limit": args.upload_limit,
        "download_rate_limit": args.download_limit,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.connect_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.tracker_notification
        | (lt.alert.category_t.dht_notification if args.table else 0),
    }
    # flags=0: no default plugins; the extensions this peer speaks are named here.
    ses = lt.session(settings, flags=0)
    for ext in ["ut_metadata"] + (["ut_pex"] if args.pex else []):
        ses.add_extension(ext)
    # Rate limits hold for every address (private ones sit in the local class otherwise).
    ipf = lt.ip_filter()
    for first, last in (("0.0.0.0", "255.255.255.255"),
                        ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")):
        ipf.add_rule(first, last, 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(ipf)
    nodes = [endpoint(n) for n in args.dht_node]

    h = None
    if args.mode != "node":
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args.torrent)
        atp.save_path = args.save
        if args.no_trackers:
            atp.trackers = []
        if args.mode == "seed":
            atp.flags |= lt.torrent_flags.seed_mode
        h = ses.add_torrent(atp)
        if args.no_trackers:
            h.replace_trackers([])
        for p in args.peer:
            h.connect_peer(endpoint(p), 0)

    start = time.monotonic()
    ready = False
    done = False
    seen = set()
    last_tick = 0.0
    last_announce = 0.0
    busy = lt.peer_info.connecting | lt.peer_info.handshake
    while time.monotonic() - start < args.max_seconds:
        for a in ses.pop_alerts():
            if isinstance(a, (lt.peer_connect_alert, lt.peer_disconnected_alert,
                              lt.incoming_connection_alert, lt.listen_failed_alert,
                              lt.listen_succeeded_alert, lt.tracker_error_alert,
                              lt.torrent_error_alert)):
                log("alert: %s" % a.message())
            elif isinstance(a, lt.dht_live_nodes_alert):
                say("table %s %s" % (a.node_id, " ".join(
                    "%s@%s:%d" % (n["nid"], n["endpoint"][0], n["endpoint"][1])
                    for n in a.nodes)))
        now = time.monotonic()
        dht_nodes = ses.status().dht_nodes if args.dht else 0
        if h is not None:
            for p in h.get_peer_info():
                if not p.flags & busy:
                    seen.add(p.ip[0])
        if now - last_tick >= 1.0:
            last_tick = now
            if args.dht:
                # The lab's bootstrap nodes, again until the table holds one.
                if dht_nodes == 0:
                    for n in nodes:
                        ses.add_dht_node(n)
                say("dht %d" % dht_nodes)
                if args.table:
                    # dht_state() (deprecated, still the one way to read it here) names the
                    # node's current id: BEP 42 changes it when its external address is voted.
                    for nid in ses.dht_state().get(b"node-id", []):
                        ses.dht_live_nodes(lt.sha1_hash(nid[:20]))
            say("peers %d %s" % (len(seen), ",".join(sorted(seen))))
        # Announce often at first: an announce before the table has nodes goes nowhere.
        if h is not None and args.dht and dht_nodes > 0 and now - last_announce >= (
                2 if now - start < 30 else 15):
            last_announce = now
            h.force_dht_announce()
        if not ready:
            is_ready = True
            if args.dht and h is not None and (dht_nodes == 0 or last_announce == 0.0):
                is_ready = False
            if args.mode == "seed" and not h.status().is_seeding:
                is_ready = False
            if is_ready:
                ready = True
                say("ready")
        if args.mode == "leech" and not done and h.status().is_seeding:
            done = True
            say("done")
        ses.wait_for_alert(200)
    log("lt_peer: --max-seconds reached, exiting")


if __name__ == "__main__":
    main()
