#!/usr/bin/env python3
"""Writes N small single-file torrents and their data, for tests/bench/session_scale.sh.

    gen_torrents.py N TORRENT_DIR DATA_DIR [--min-kib 16] [--max-kib 64] [--piece-kib 16]
                    [--announce URL --hashes FILE] [--no-data] [--prefix t]

Torrent i is `tNNNNNN.torrent`, its file `DATA_DIR/tNNNNNN.bin` (`t` is --prefix) (random bytes, a random size
between --min-kib and --max-kib), so each has 1-4 pieces by default. With --announce every
torrent names that tracker, and --hashes gets their info hashes, one hex a line (the
tracker's whitelist). --no-data writes the torrents only (DATA_DIR stays empty). Standard
library only,
so any python3 runs it; a bencoder of a dozen lines is cheaper here than a dependency.
"""
import argparse
import hashlib
import os
import random


def bencode(v) -> bytes:
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("torrents")
    ap.add_argument("data")
    ap.add_argument("--min-kib", type=int, default=16)
    ap.add_argument("--max-kib", type=int, default=64)
    ap.add_argument("--piece-kib", type=int, default=16)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--announce", default=None, help="tracker URL every torrent names")
    ap.add_argument("--hashes", default=None, help="file for the info hashes, hex, one a line")
    ap.add_argument("--no-data", action="store_true", help="write the torrents, not their data")
    ap.add_argument("--prefix", default="t", help="the names' first letters (two sets apart)")
    a = ap.parse_args()
    os.makedirs(a.torrents, exist_ok=True)
    os.makedirs(a.data, exist_ok=True)
    rng = random.Random(a.seed)
    plen = a.piece_kib * 1024
    total = 0
    hashes = []
    for i in range(a.n):
        name = "%s%06d.bin" % (a.prefix, i)
        size = rng.randint(a.min_kib * 1024, a.max_kib * 1024)
        data = os.urandom(size)
        if not a.no_data:
            with open(os.path.join(a.data, name), "wb") as f:
                f.write(data)
        pieces = b"".join(hashlib.sha1(data[o : o + plen]).digest() for o in range(0, size, plen))
        info = {"length": size, "name": name, "piece length": plen, "pieces": pieces}
        meta = {"created by": "ttui gen_torrents.py", "info": info}
        if a.announce:
            meta["announce"] = a.announce
        hashes.append(hashlib.sha1(bencode(info)).hexdigest())
        with open(os.path.join(a.torrents, "%s%06d.torrent" % (a.prefix, i)), "wb") as f:
            f.write(bencode(meta))
        total += size
    if a.hashes:
        with open(a.hashes, "w") as f:
            f.write("".join(h + "\n" for h in hashes))
    print(total)


if __name__ == "__main__":
    main()
