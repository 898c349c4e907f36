#!/usr/bin/python3
"""The table of tests/bench/datapath.sh: issue 22's targets, each as ttui's figure over a
reference measured in the same run (medians of the runs that succeeded), then every median
behind them.

    datapath_report.py WORKDIR PAYLOAD_MIB

Reads WORKDIR/results.tsv (part key client run wall cpu rss_kib status extra) and, when the
rc4 part ran, WORKDIR/rc4.txt (tests/bench/rc4.sh's output).
"""
import os
import re
import statistics
import sys
from collections import defaultdict

work, mib = sys.argv[1], int(sys.argv[2])
GIB = 2**30
big = mib << 20
many = (1000 if mib >= 1024 else 100) << 18
size = {"dl-big": big, "dl-many": many, "huge": 4 * big, "enc": big, "utp": big, "tcp": big,
        "utp-tt": big, "tcp-tt": big,
        "seed": big, "swarm": big, "floor": big, "floor-many": many}

ok = defaultdict(list)
runs = defaultdict(int)
path = os.path.join(work, "results.tsv")
for line in open(path) if os.path.exists(path) else []:
    f = line.rstrip("\n").split("\t")
    if len(f) < 8:
        continue
    part, key, client, _run, wall, cpu, rss, status = f[:8]
    extra = f[8] if len(f) > 8 else ""
    runs[(key, client)] += 1
    if status == "ok":
        try:
            ok[(key, client)].append((float(wall), float(cpu), int(float(rss)), extra))
        except ValueError:
            pass


def med(key, client, i):
    r = ok.get((key, client))
    if not r:
        return None
    vals = [x[i] for x in r]
    if i == 3:
        vals = [float(v) for v in vals if v not in ("", "nan")]
        if not vals:
            return None
    return statistics.median(vals)


def wall(k, c):
    return med(k, c, 0)


def cpu_per_gib(k, c):
    v = med(k, c, 1)
    return None if v is None else v / (size[k] / GIB)


def rss_mib(k, c):
    v = med(k, c, 2)
    return None if v is None else v / 1024


def best_other(k, fig, among):
    xs = {c: fig(k, c) for c in among if fig(k, c) is not None}
    if not xs:
        return "none", None
    c = min(xs, key=xs.get)
    return c, xs[c]


rows = []


def row(target, ref_name, ref, ours, goal, higher_is_better=False, fmt="%.2f"):
    if ref is None or ours is None or ref == 0:
        rows.append((target, ref_name, "-" if ref is None else fmt % ref,
                     "-" if ours is None else fmt % ours, "-", "not measured"))
        return
    ratio = ours / ref
    good = ratio >= goal if higher_is_better else ratio <= goal
    rows.append((target, ref_name, fmt % ref, fmt % ours, "%.3f" % ratio,
                 ("pass" if good else "FAIL") + (" (≥ %g)" if higher_is_better else " (≤ %g)") % goal))


# 1. the floor: receiver user+sys plus SHA-1 user time, per GiB
recv, sha = med("floor", "recv", 1), med("floor", "sha1", 1)
floor = None if recv is None or sha is None else (recv + sha) / (big / GIB)
row("1 CPU-s/GiB, %d MiB x1" % mib, "floor", floor, cpu_per_gib("dl-big", "ttui"), 1.05)
row("1 CPU-s/GiB, %d MiB x%d" % (many >> 20, many >> 18), "floor", floor,
    cpu_per_gib("dl-many", "ttui"), 1.2)
# The same floor writing into the torrent's 1,000 files, measured in each round right before
# the clients: what creating them costs on this machine at that moment is in it too.
recv_many = cpu_per_gib("floor-many", "recv")
floor_many = None if recv_many is None or sha is None else recv_many + sha / (big / GIB)
row("1 CPU-s/GiB, %d MiB x%d" % (many >> 20, many >> 18), "floor, same files", floor_many,
    cpu_per_gib("dl-many", "ttui"), 1.2)
others = ("aria2c", "rqbit", "libtorrent")
for k, label in (("dl-big", "%d MiB x1" % mib), ("dl-many", "%d MiB x%d" % (many >> 20, many >> 18))):
    c, w = best_other(k, wall, others)
    row("1 wall s, %s" % label, "fastest: %s" % c, w, wall(k, "ttui"), 1.0)
# 2. memory
c = "aria2c"
row("2 peak RSS MiB, %d MiB" % mib, "aria2c", rss_mib("dl-big", c), rss_mib("dl-big", "ttui"), 0.8, fmt="%.1f")
row("2 RSS: %d MiB/16 MiB pieces" % (4 * mib), "ttui, %d MiB" % mib, rss_mib("dl-big", "ttui"),
    rss_mib("huge", "ttui"), 1.1, fmt="%.1f")
# 3. RC4
rc4 = {}
try:
    for line in open(os.path.join(work, "rc4.txt")):
        m = re.match(r"\s+(ttui|OpenSSL)\s+([0-9.]+)", line)
        if m:
            rc4[m.group(1)] = float(m.group(2))
except OSError:
    pass
row("3 RC4 CPU-s/GiB (rc4.sh)", "OpenSSL", rc4.get("OpenSSL"), rc4.get("ttui"), 1.2, fmt="%.3f")
row("3 CPU-s/GiB, RC4 download", "libtorrent", cpu_per_gib("enc", "libtorrent"),
    cpu_per_gib("enc", "ttui"), 0.5)
# 4. uTP
# From the python3-libtorrent seeder, then from a `ttui seed` (its uTP sender is the limit of
# the first pair); CPU is the downloader's either way.
for key, whom in (("", "libtorrent seeder"), ("-tt", "ttui seeder")):
    w = wall("utp" + key, "ttui")
    mbs = None if w is None else big / 1e6 / w
    row("4 uTP MB/s, %s" % whom, "250 MB/s", 250.0, mbs, 1.0, higher_is_better=True, fmt="%.1f")
    row("4 uTP CPU-s/GiB, %s" % whom, "ttui over TCP", cpu_per_gib("tcp" + key, "ttui"),
        cpu_per_gib("utp" + key, "ttui"), 2.0)
# 5. seeding
c, v = best_other("seed", cpu_per_gib, ("libtorrent", "transmission", "rqbit"))
row("5 seeding CPU-s/GiB", "leanest: %s" % c, v, cpu_per_gib("seed", "ttui"), 1.0)
# 6. many sources
c, v = best_other("swarm", wall, ("libtorrent", "rqbit"))
row("6 20 seeders: wall s", "fastest: %s" % c, v, wall("swarm", "ttui"), 1.0)
c, v = best_other("swarm", cpu_per_gib, ("libtorrent", "rqbit"))
row("6 20 seeders: CPU-s/GiB", "leanest: %s" % c, v, cpu_per_gib("swarm", "ttui"), 1.0)
# Received more than once or thrown away, over the payload (MiB both): the ratio is the share.
wasted = med("swarm", "ttui", 3)
row("6 wasted MiB, 20 seeders", "payload MiB", big / 2**20,
    None if wasted is None else wasted / 2**20, 0.005, fmt="%.2f")

w = [max(len(r[i]) for r in rows + [("target", "reference", "ref", "ttui", "ratio", "")])
     for i in range(6)]
hdr = ("target", "reference", "ref", "ttui", "ratio", "")
for r in [hdr] + rows:
    print("  ".join(x.ljust(w[i]) if i < 2 else x.rjust(w[i]) if i < 5 else x
                    for i, x in enumerate(r)).rstrip())

print("\nmedians behind them (ok runs / runs; CPU = user + sys; seeders: CPU during the transfer)")
print("%-10s %-13s %5s %8s %8s %7s %9s %8s" % ("what", "client", "ok", "wall s", "MB/s", "CPU s",
                                             "CPU/GiB", "RSS MiB"))
for (k, c) in sorted(runs, key=lambda x: (list(size).index(x[0]) if x[0] in size else 99, x[1])):
    n = len(ok.get((k, c), []))
    if n == 0:
        print("%-10s %-13s %2d/%-2d   all runs failed" % (k, c, n, runs[(k, c)]))
        continue
    wl = wall(k, c)
    mbs = size.get(k, big) / 1e6 / wl if not k.startswith("floor") and wl else float("nan")
    print("%-10s %-13s %2d/%-2d %8.2f %8.1f %7.2f %9.2f %8.1f" % (
        k, c, n, runs[(k, c)], wl, mbs, med(k, c, 1), med(k, c, 1) / (size.get(k, big) / GIB),
        med(k, c, 2) / 1024))
if wasted is not None:
    print("ttui's wasted bytes in the 20-seeder swarm (median): %d" % wasted)
try:
    print(open(os.path.join(work, "load.txt")).read().rstrip().replace("\n", "; "), "(1, 5, 15 min)")
except OSError:
    pass
