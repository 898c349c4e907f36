#!/usr/bin/python3
"""Writes the seed corpora to fuzz/seeds/<target>/: real files from tests/fixtures, real
protocol bytes, and generated structure a byte-level fuzzer will not find alone (deep
nesting, huge integers, many files, long names). Run from anywhere; it
writes (over) its own files and removes nothing: seeds added by hand and inputs that once
crashed a target stay."""
import hashlib, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "seeds")


def b(s):
    return s if isinstance(s, bytes) else s.encode()


def enc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, (bytes, str)):
        v = b(v)
        return b"%d:" % len(v) + v
    if isinstance(v, list):
        return b"l" + b"".join(enc(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(enc(k) + enc(v[k]) for k in sorted(v, key=b)) + b"e"
    raise TypeError(v)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def nested(n, inner=b"0:"):
    return b"d1:x" + b"l" * n + inner + b"e" * n + b"e"


def torrent(files, piece=16384, name="t", extra=None):
    total = sum(l for _, l in files) or 1
    info = {"name": name, "piece length": piece,
            "pieces": b"\0" * 20 * ((total + piece - 1) // piece)}
    if len(files) == 1 and not files[0][0]:
        info["length"] = files[0][1]
    else:
        info["files"] = [{"length": l, "path": p} for p, l in files]
    info.update(extra or {})
    return enc({"announce": "http://127.0.0.1:6969/announce", "info": info})


def main():
    fixtures = os.path.join(ROOT, "tests", "fixtures")
    for f in sorted(os.listdir(fixtures)):
        if f.endswith(".torrent"):
            data = open(os.path.join(fixtures, f), "rb").read()
            for t in ("torrent", "bencode"):
                put(t, f, data)
    # Generated torrents.
    many = [(["d%d" % (i // 100), "f%d" % i], i % 7 + 1) for i in range(5000)]
    put("torrent", "many-files", torrent(many))
    put("torrent", "single", torrent([([], 100000)]))
    put("torrent", "pad", torrent([(["a"], 5), ([".pad", "16379"], 16379), (["b"], 3)],
                                  extra={"x": 1}))
    put("torrent", "huge-ints", torrent([([], 2**63 - 1)], piece=2**62))
    put("torrent", "deep-63", torrent([([], 1)], extra={"x": [[[[[]]]]]})[:-2]
        + b"1:y" + b"l" * 60 + b"e" * 60 + b"ee")
    put("torrent", "long-name", torrent([([], 1)], name="n" * 100000))
    put("torrent_gen", "zeros", b"\0" * 64)
    put("torrent_gen", "many", b"\x4e\x20" + bytes(range(256)) * 4)
    # Bencode edge cases.
    for i, s in enumerate([b"i" + b"9" * 1000 + b"e", b"i-9223372036854775808e",
                           b"i9223372036854775808e", b"l" * 64 + b"e" * 64,
                           nested(65), nested(20000), b"d1:ai1e1:ai2ee", b"01:a",
                           b"4294967296:x", b"d4:infodee\n"]):
        put("bencode", "edge-%d" % i, s)
    # Magnets.
    h = hashlib.sha1(b"x").hexdigest()
    for i, s in enumerate([
        "magnet:?xt=urn:btih:%s&dn=name&tr=http%%3A%%2F%%2F127.0.0.1%%3A6969%%2Fannounce" % h,
        "magnet:?xt=urn:btih:CIMQX5FJSRS6XHIBOVNNCH3ZD36QBGE7&x.pe=[::1]:6881&x.pe=127.0.0.1:1",
        "magnet:?xt.1=urn:btih:%s&xt.2=urn:btmh:1220%s&tr.1=udp://t:1" % (h, "0" * 64),
        "magnet:?xt=urn:btih:" + "z" * 100000,
    ]):
        put("magnet", "m%d" % i, s.encode())
    # Handshakes.
    ih, pid = hashlib.sha1(b"ih").digest(), b"-TR3000-abcdefghijkl"
    put("handshake", "real", b"\x13BitTorrent protocol" + b"\0\0\0\0\0\x10\0\x05" + ih + pid)
    put("handshake", "bad", b"\x13BitTorrent protocoX" + b"\0" * 48)
    # Wire streams: 4 bytes of (pieces/8, split step) then messages.
    def msg(i, payload=b""):
        return struct.pack(">IB", len(payload) + 1, i) + payload
    stream = (struct.pack(">I", 0) + msg(0) + msg(1) + msg(2) + msg(4, struct.pack(">I", 3))
              + msg(5, b"\xff\xe0") + msg(6, struct.pack(">III", 1, 0, 16384))
              + msg(7, struct.pack(">II", 1, 0) + b"x" * 100) + msg(9, b"\x1a\xe1")
              + msg(13, b"\0\0\0\1") + msg(14) + msg(15) + msg(17, b"\0\0\0\2")
              + msg(20, b"\0" + enc({"m": {"ut_metadata": 3}, "reqq": 1})))
    put("message", "all", b"\0\2\0\x07" + stream)
    put("message", "big-bitfield", b"\xff\xff\0\x01" + struct.pack(">IB", 65536 * 8 // 8 + 1, 5)
        + b"\xff" * 100)
    put("message", "huge-frame", b"\0\1\0\1" + b"\xff\xff\xff\xff\5")
    # BEP 52's hash request, hashes (a run of 4 and 2 uncles) and hash reject.
    head = b"\xab" * 32 + struct.pack(">IIII", 0, 8, 4, 2)
    put("message", "hash-messages", b"\0\2\0\x07" + msg(21, head) + msg(22, head + b"\x07" * 32 * 6)
        + msg(23, head))
    # Bitfields: 4 bytes of piece count then the bytes.
    put("bitfield", "ten", struct.pack(">I", 10) + b"\x80\x40")
    put("bitfield", "spare", struct.pack(">I", 10) + b"\x80\x41")
    put("bitfield", "max", struct.pack(">I", 2**32 - 1) + b"\xff" * 8)
    # Extension payloads.
    lt = (b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e"
          b"12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5000e4:reqqi500e"
          b"11:upload_onlyi0e1:v18:libtorrent/2.0.8.06:yourip4:\x7f\x00\x00\x01e")
    put("extension", "libtorrent-handshake", lt)
    put("extension", "reqq-1", enc({"m": {"ut_metadata": 1}, "reqq": 1, "v": "x"}))
    put("extension", "metadata-data", enc({"msg_type": 1, "piece": 0, "total_size": 3}) + b"abc")
    put("extension", "metadata-request", enc({"msg_type": 0, "piece": 2}))
    put("extension", "pex", enc({"added": b"\x7f\0\0\1\x1a\xe1" * 3, "added.f": b"\x02\x00",
                                 "added6": b"\0" * 15 + b"\1\x1a\xe1", "dropped": b"\x0a\0\0\2\0\x50",
                                 "dropped6": b""}))
    put("extension", "deep-20000", nested(20000))
    # BEP 55 ut_holepunch: rendezvous (IPv4), connect (IPv6), error NoSelf.
    put("holepunch", "rendezvous", b"\0\0\xcb\0\x71\x05\x1a\xe1\0\0\0\0")
    put("holepunch", "connect6", b"\1\1\x20\x01\x0d\xb8" + b"\0" * 11 + b"\1\x1a\xe1\0\0\0\0")
    put("holepunch", "error-noself", b"\2\0\xc0\0\2\1\0\1\0\0\0\4")
    # Tracker replies.
    put("tracker_http", "compact", enc({"interval": 900, "min interval": 60, "complete": 5,
                                        "incomplete": 7, "peers": b"\x7f\0\0\1\x1a\xe1" * 4,
                                        "peers6": b"\0" * 15 + b"\1\x1a\xe2"}))
    put("tracker_http", "dict", enc({"interval": 1800, "peers": [
        {"ip": "127.0.0.2", "peer id": "A" * 20, "port": 7000}, {"ip": "::1", "port": 7001},
        {"ip": "example.com", "port": 1}]}))
    put("tracker_http", "failure", enc({"failure reason": "torrent not registered"}))
    put("tracker_http", "many", enc({"interval": 60, "peers": b"\x0a\0\0\1\x1a\xe1" * 5000}))
    put("tracker_http", "deep", nested(20000))
    udp = struct.pack(">IIIII", 1, 7, 1800, 3, 4)
    put("tracker_udp", "v4", udp + b"\x7f\0\0\1\x1a\xe1" * 3)
    put("tracker_udp", "v6", udp + b"\0" * 15 + b"\1\x1a\xe1")
    put("tracker_udp", "short", udp[:18])
    # Peer ids (20 bytes) followed by a `v` string.
    for i, (pid, v) in enumerate([(b"-TR3000-abcdefghijkl", b"Transmission 3.00"),
                                  (b"-LT2080-abcdefghijkl", b"lt_client/2.0.8.0"),
                                  (b"M4-3-6--abcdefghijkl", b""), (b"A2-1-36-0-abcdefghij", b""),
                                  (b"exbc\x01\x02abcdefghijkl", b"\x1b[2J\xe2\x80\xae"),
                                  (b"S58B-----abcdefghijk", b" " * 300), (b"\0" * 20, b"")]):
        put("peer_id", "id%d" % i, pid + v)

    # BEP 52 file trees: a folder with a file, an empty file, a link, and broken forms.
    root = b"32:" + bytes(range(1, 33))
    for i, tree in enumerate([
            b"d5:a.bind0:d6:lengthi20000e11:pieces root" + root + b"ee3:subd5:c.txtd0:d6:lengthi2000e11:pieces root" + root + b"eeee",
            b"d5:emptyd0:d6:lengthi0eee4:linkd0:d4:attr1:l6:lengthi-1eeee",
            b"d1:ad0:d6:lengthi5eeee", b"d1:ad0:d4:attr1:p6:lengthi5e11:pieces root" + root + b"eee",
            b"d1:/d0:d6:lengthi1eeee", b"de", b"i3e"]):
        put("file_tree", "tree%d" % i, tree)

    # BEP 52 hash messages: 8 bytes of file size in leaves, then a head (root, base layer,
    # index, length, proof layers) and maybe hashes.
    for i, (leaves, base, index, length, proof, nhash) in enumerate([
            (1000, 0, 0, 512, 9, 10), (3, 0, 0, 2, 1, 3), (4000, 2, 512, 512, 2, 512),
            (1, 0, 0, 1, 0, 1), (2**64 - 1, 63, 0, 8192, 0, 0)]):
        head = bytes(range(32)) + struct.pack(">IIII", base, index, length, proof)
        put("merkle_proof", "req%d" % i, struct.pack("<Q", leaves) + head + b"\x01" * 32 * nhash)
    # MSE: byte 0 picks the role (0 responder, 1 initiator, 2 honest pair) and the methods,
    # byte 1 how many cut sizes follow; then the peer's bytes.
    key = bytes(range(1, 97))
    put("mse", "responder-key-and-pad", b"\x00\x03\x05\x40\x01" + key + bytes(300))
    put("mse", "initiator-key-and-junk", b"\x05\x02\x60\x07" + key + bytes(range(256)) * 3)
    put("mse", "initiator-plain-handshake", b"\x01\x00\x13BitTorrent protocol" + bytes(48))
    put("mse", "pair-intact", b"\x02\x02\x31\x07\x00\x00\x00")
    put("mse", "pair-flip-req1", b"\x0e\x01\x11\x02\x70\x01")


if __name__ == "__main__":
    sys.exit(main())
