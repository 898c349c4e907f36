#!/usr/bin/env python3
"""rtorrent's XML-RPC over its SCGI socket (`network.scgi.open_local`), for the benchmarks that
drive rtorrent 0.9.8 beside ttui (clients.sh). Python's xmlrpc.client builds and reads the
XML; this adds the SCGI framing rtorrent speaks (a netstring of headers, then the body; the
answer comes back as an HTTP-like head and the XML).

  rtorrent_rpc.py SOCK list            every torrent as JSON lines: hash, complete, state
  rtorrent_rpc.py SOCK add DIR BATCH   load.raw_start_verbose with the bytes of every path
                                       read from stdin, BATCH per system.multicall, saved
                                       under DIR
  rtorrent_rpc.py SOCK call METHOD [ARG...]   one call, its answer printed as JSON
"""
import json
import socket
import sys
import xmlrpc.client


def call(sock_path, method, params):
    body = xmlrpc.client.dumps(tuple(params), method).encode()
    head = b"CONTENT_LENGTH\0%d\0SCGI\0" b"1\0" % len(body)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(600)
        s.connect(sock_path)
        s.sendall(b"%d:%s," % (len(head), head) + body)
        chunks = []
        while True:
            c = s.recv(1 << 16)
            if not c:
                break
            chunks.append(c)
    reply = b"".join(chunks)
    xml = reply.split(b"\r\n\r\n", 1)[-1]
    return xmlrpc.client.loads(xml.decode())[0][0]


# The bytes, not the path: `load.start` takes its path as a pattern, and rtorrent lists the
# .torrent's whole directory to match it, so with a library in one directory each add read all
# N entries (11 ms an add at 20,000, most of rtorrent's time; quadratic over the add). The
# tools that drive rtorrent (ruTorrent, Sonarr, Flood) send the file's bytes with `load.raw*`.
def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    sock, verb, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if verb == "list":
        rows = call(sock, "d.multicall2", ["", "main", "d.hash=", "d.complete=", "d.state=",
                                           "d.is_hash_checking="])
        for h, complete, state, checking in rows:
            print(json.dumps({"hash": h, "complete": complete, "state": state,
                              "checking": checking}))
    elif verb == "add":
        directory, batch = rest[0], int(rest[1])
        paths = [line.strip() for line in sys.stdin if line.strip()]
        for i in range(0, len(paths), batch):
            calls = [{"methodName": "load.raw_start_verbose",
                      "params": ["", xmlrpc.client.Binary(read(p)),
                                 "d.directory.set=" + directory]}
                     for p in paths[i:i + batch]]
            call(sock, "system.multicall", [calls])
    elif verb == "call":
        print(json.dumps(call(sock, rest[0], rest[1:])))
    else:
        sys.exit("unknown verb " + verb)


if __name__ == "__main__":
    main()
