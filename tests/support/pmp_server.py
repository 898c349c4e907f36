#!/usr/bin/python3
"""A NAT-PMP (RFC 6886) and PCP (RFC 6887) server for tests, on a loopback address only.

Why not Debian's miniupnpd: its 2.3.1 refuses to forward with a reserved address on its
external interface ("Reserved / private IP address 127.0.0.200 on ext interface ext0: Port
forwarding is impossible"; NAT-PMP then answers result 3), `ext_ip=` refuses reserved
addresses too, and the test namespace may hold only loopback-range addresses. This server
keeps the RFCs' rules that matter to a client: version negotiation (a NAT-PMP-only server
answers PCP with NAT-PMP's "unsupported version"), the nonce that owns a PCP mapping, a
lifetime of 0 deletes, the external port suggested is granted when free and another is
chosen when not, the lifetime is clamped, the epoch counts seconds since start.

Each request is logged as one line on stdout; the mappings in force are written to --state
as JSON after every change (like miniupnpd's lease file), so a test reads both.
"""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--addr", required=True)
ap.add_argument("--port", type=int, default=5351)
ap.add_argument("--external", required=True)
ap.add_argument("--state", required=True)
ap.add_argument("--natpmp-only", action="store_true")
ap.add_argument("--refuse", type=int, default=0, help="answer every MAP with this result")
ap.add_argument("--min-lifetime", type=int, default=2)
ap.add_argument("--max-lifetime", type=int, default=86400)
ap.add_argument("--taken", type=int, action="append", default=[],
                help="external ports another client holds (TCP and UDP)")
a = ap.parse_args()
if not ipaddress.ip_address(a.addr).is_loopback:
    sys.exit("loopback addresses only")

start = time.monotonic()
ext = ipaddress.IPv4Address(a.external)
# (proto, client ip, internal port) -> {"ext": port, "nonce": hex, "expires": t}
maps = {}


def epoch():
    return int(time.monotonic() - start)


def log(line):
    print(line, flush=True)


def save():
    now = time.monotonic()
    for k in [k for k, m in maps.items() if m["expires"] <= now]:
        del maps[k]
    rows = [{"proto": p, "client": c, "internal": i, "external": m["ext"],
             "left": round(m["expires"] - now, 1)} for (p, c, i), m in sorted(maps.items())]
    tmp = a.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f)
    os.replace(tmp, a.state)


def taken(proto, port, key):
    if port in a.taken:
        return True
    return any(k != key and k[0] == proto and m["ext"] == port for k, m in maps.items())


def grant(proto, client, internal, suggested, lifetime, nonce):
    """The external port granted and the lifetime, or None when deleted."""
    key = (proto, client, internal)
    old = maps.get(key)
    if lifetime == 0:
        maps.pop(key, None)
        save()
        return None
    lifetime = max(a.min_lifetime, min(a.max_lifetime, lifetime))
    port = old["ext"] if old else (suggested or internal)
    while taken(proto, port, key):
        port = port + 1 if port < 65535 else 1024
    maps[key] = {"ext": port, "nonce": nonce, "expires": time.monotonic() + lifetime}
    save()
    return port, lifetime


def natpmp(req, client):
    op = req[1] if len(req) > 1 else 0
    if req[0] != 0:
        return struct.pack(">BBHI", 0, 128 + op, 1, epoch())
    if op == 0:
        log(f"NAT-PMP external from {client}")
        return struct.pack(">BBHI", 0, 128, 0, epoch()) + ext.packed
    if op in (1, 2) and len(req) >= 12:
        proto = "UDP" if op == 1 else "TCP"
        _, _, _, internal, suggested, lifetime = struct.unpack(">BBHHHI", req[:12])
        log(f"NAT-PMP map {proto} {internal} suggested {suggested} lifetime {lifetime}")
        if a.refuse:
            return struct.pack(">BBHIHHI", 0, 128 + op, a.refuse, epoch(), internal, 0, 0)
        g = grant(proto, client, internal, suggested, lifetime, "")
        port, life = g if g else (0, 0)
        return struct.pack(">BBHIHHI", 0, 128 + op, 0, epoch(), internal, port, life)
    return struct.pack(">BBHI", 0, 128 + op, 5, epoch())


def pcp(req, client):
    def header(code, lifetime):
        return struct.pack(">BBBBII", 2, 0x80 | (req[1] & 0x7F), 0, code, lifetime, epoch()) + bytes(12)

    if len(req) < 24 or len(req) > 1100 or len(req) % 4:
        return header(3, 0)
    if req[1] & 0x7F != 1:
        return header(4, 0)
    if len(req) < 60:
        return header(3, 0)
    lifetime = struct.unpack(">I", req[4:8])[0]
    claimed = ipaddress.IPv6Address(req[8:24])
    if claimed.ipv4_mapped != ipaddress.IPv4Address(client):
        return header(12, 0)  # ADDRESS_MISMATCH
    nonce, proto_n = req[24:36], req[36]
    internal, suggested = struct.unpack(">HH", req[40:44])
    proto = {6: "TCP", 17: "UDP"}.get(proto_n)
    log(f"PCP map {proto} {internal} suggested {suggested} lifetime {lifetime}")
    if proto is None:
        return header(9, 0)
    if a.refuse:
        return header(a.refuse, 30)
    old = maps.get((proto, client, internal))
    if old and old["nonce"] != nonce.hex():
        return header(2, 0)  # another nonce owns it (RFC 6887 §11.3)
    g = grant(proto, client, internal, suggested, lifetime, nonce.hex())
    port, life = g if g else (0, 0)
    body = nonce + bytes([proto_n, 0, 0, 0]) + struct.pack(">HH", internal, port)
    return header(0, life) + body + ipaddress.IPv6Address("::ffff:" + str(ext)).packed


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((a.addr, a.port))
save()
log(f"listening on {a.addr}:{a.port}")
while True:
    req, (client, cport) = sock.recvfrom(2048)
    if not req:
        continue
    if req[0] == 2 and not a.natpmp_only:
        resp = pcp(req, client)
    else:
        resp = natpmp(req, client)
    sock.sendto(resp, (client, cport))
