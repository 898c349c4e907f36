#!/usr/bin/python3
"""A tiny HTTP tracker (BEP 3, compact BEP 23, IPv6 peers BEP 7) for tests/net/reach.rs.

Debian's opentracker is built IPv4-only ("V4 Tracker is V4 only!" for `-i ::1`), so the lab's
tracker on an IPv6 address is this one. It listens on [::]:PORT (IPv4 too, unless the host
has none), records each announcing peer at the address its request came from (an IPv4 one
mapped into IPv6 is given back as IPv4) and the port it announced, and answers with
`peers` (IPv4, 6 bytes each) and `peers6` (IPv6, 18 bytes each). One line per announce on
stdout: `announce ADDR PORT EVENT`; `listening` once bound. It exits after --max-seconds.
Its interval (120 s) is longer than any test here: a peer learns only of those that announced
before it did.
"""
import argparse
import ipaddress
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SWARMS = {}
LOCK = threading.Lock()


def benc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query, encoding="latin-1")
        try:
            ih = q["info_hash"][0].encode("latin-1")
            port = int(q["port"][0])
        except (KeyError, ValueError):
            return self.reply({b"failure reason": b"bad announce"})
        ip = ipaddress.ip_address(self.client_address[0].split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        event = q.get("event", ["none"])[0]
        print("announce %s %d %s" % (ip, port, event), flush=True)
        with LOCK:
            swarm = SWARMS.setdefault(ih, {})
            if event == "stopped":
                swarm.pop((ip, port), None)
            else:
                swarm[(ip, port)] = time.monotonic()
            peers = [p for p in swarm if p != (ip, port)]
        v4 = b"".join(a.packed + p.to_bytes(2, "big") for a, p in peers if a.version == 4)
        v6 = b"".join(a.packed + p.to_bytes(2, "big") for a, p in peers if a.version == 6)
        self.reply({b"interval": 120, b"min interval": 60, b"complete": len(peers),
                    b"incomplete": 0, b"peers": v4, b"peers6": v6})

    def reply(self, d):
        body = benc(d)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        # Both families on one socket where the host has IPv4 too.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    args = ap.parse_args()
    srv = Server(("::", args.port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("listening", flush=True)
    time.sleep(args.max_seconds)
    sys.exit(0)


if __name__ == "__main__":
    main()
