#!/usr/bin/python3
"""A small KRPC (BEP 5) test node for the BEP 42 test of tests/net/reach.rs, in one netlab host.

It answers every query on one UDP socket with the node id it is given, whether or not that
id fits its address (a hostile node's, or an honest one's), and never queries anyone itself.
Its answers carry no `ip` key, so it casts no vote for the querier's address. Bencoding is
python3-libtorrent's (lt.bencode / lt.bdecode); nothing else of libtorrent runs.

  --listen IP --port P --id HEX40 [--max-seconds S]

Lines on stdout, flushed: "listening", then "answered Q IP:PORT" for each query answered.
It exits on SIGTERM or after --max-seconds, so an orphan left by a killed test cannot live on.
"""
import argparse
import signal
import socket
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=6881)
    ap.add_argument("--id", required=True, help="the node id, 40 hex digits")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    nid = bytes.fromhex(args.id)
    assert len(nid) == 20, "a node id is 20 bytes"
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.listen, args.port))
    sock.settimeout(0.5)
    print("listening", flush=True)
    end = time.monotonic() + args.max_seconds
    while time.monotonic() < end:
        try:
            buf, src = sock.recvfrom(2048)
        except socket.timeout:
            continue
        try:
            msg = lt.bdecode(buf)
        except RuntimeError:
            continue
        if not isinstance(msg, dict) or msg.get(b"y") != b"q":
            continue
        q = msg.get(b"q", b"")
        r = {b"id": nid}
        if q in (b"find_node", b"get_peers"):
            r[b"nodes"] = b""
        if q == b"get_peers":
            r[b"token"] = b"tok1"
        if q in (b"ping", b"find_node", b"get_peers", b"announce_peer"):
            reply = {b"t": msg.get(b"t", b""), b"y": b"r", b"r": r}
        else:
            reply = {b"t": msg.get(b"t", b""), b"y": b"e", b"e": [204, b"Method Unknown"]}
        sock.sendto(lt.bencode(reply), src)
        print("answered %s %s:%d" % (q.decode("ascii", "replace"), src[0], src[1]), flush=True)


if __name__ == "__main__":
    main()
