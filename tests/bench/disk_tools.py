#!/usr/bin/python3
"""Helpers for tests/bench/disk.sh (run with Debian's /usr/bin/python3, which has libtorrent).

  busy ROOT SECONDS STOPFILE     threads of ROOT's process tree (ROOT included) that each did a
                                 tenth or more of the tree's CPU, sampled every 50 ms until ROOT
                                 ends, STOPFILE appears or SECONDS pass; CPU counted from the
                                 first sample, so a daemon's earlier work is left out
  evict FILE...                  posix_fadvise(DONTNEED) on each file (the fallback when
                                 /proc/sys/vm/drop_caches is refused)
  lt-check TORRENT SAVE SECONDS  python3-libtorrent's recheck of data already in SAVE: added in
                                 seed mode (nothing read), then force_recheck timed until its
                                 torrent_checked_alert; prints "wall cpu sys pieces_have pieces"
  tr-add URL TORRENT DIR         adds TORRENT paused to a transmission-daemon; prints its id
  tr-verify URL ID PID SECONDS   `transmission-remote -v` by RPC, polled every 50 ms until the
                                 torrent leaves the check states; PID's CPU over that time;
                                 prints "wall cpu sys have_valid size"
  openssl-rate OUTPUT            bytes/s of the biggest block size in `openssl speed` output
  report RESULTS META            the table
"""

import base64
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request


def busy(root, seconds, stopfile):
    limit = time.monotonic() + seconds
    first, last = {}, {}

    def alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def tree(pid):
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                with open("/proc/%d/task/%d/children" % (p, p)) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    initial = True
    while alive(root) and time.monotonic() < limit and not os.path.exists(stopfile):
        for pid in tree(root):
            try:
                tids = os.listdir("/proc/%d/task" % pid)
            except OSError:
                continue
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                        s = f.read().rpartition(")")[2].split()
                    t = int(s[11]) + int(s[12])
                except (OSError, IndexError, ValueError):
                    continue
                # A thread born after the first sample did all its work since: from 0.
                first.setdefault((pid, tid), t if initial else 0)
                last[(pid, tid)] = t
        initial = False
        time.sleep(0.05)
    done = {k: last[k] - first[k] for k in last}
    total = sum(done.values())
    print(sum(1 for t in done.values() if total and t >= total / 10))


def evict(files):
    for name in files:
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def lt_check(torrent, save, seconds):
    import libtorrent as lt

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
                      | lt.alert.category_t.storage_notification,
    })
    ti = lt.torrent_info(torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = save
    # Seed mode: the files are taken as complete without a read, so the timed recheck is the
    # first read of the data (a cold cache stays cold until then).
    atp.flags = lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + seconds

    def wait_checked(what):
        while time.monotonic() < deadline:
            ses.wait_for_alert(100)
            for a in ses.pop_alerts():
                if isinstance(a, lt.torrent_checked_alert):
                    return
                if isinstance(a, (lt.file_error_alert, lt.torrent_error_alert)):
                    sys.exit("libtorrent: %s" % a.message())
        sys.exit("libtorrent: no torrent_checked_alert %s within %s s" % (what, seconds))

    wait_checked("after adding")
    while h.status().state not in (lt.torrent_status.seeding, lt.torrent_status.finished):
        if time.monotonic() > deadline:
            sys.exit("libtorrent: not seeding after adding")
        time.sleep(0.01)
    t0, c0 = time.monotonic(), os.times()
    h.force_recheck()
    wait_checked("after force_recheck")
    t1, c1 = time.monotonic(), os.times()
    st = h.status()
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    print("%.4f %.3f %.3f %d %d" % (t1 - t0, cpu, c1.system - c0.system, st.num_pieces,
                                    ti.num_pieces()))


class Rpc:
    def __init__(self, url):
        self.url, self.sid = url, ""

    def __call__(self, method, **args):
        body = json.dumps({"method": method, "arguments": args}).encode()
        for _ in range(3):
            req = urllib.request.Request(self.url, body, {"X-Transmission-Session-Id": self.sid})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    out = json.load(r)
            except urllib.error.HTTPError as e:
                if e.code == 409:
                    self.sid = e.headers.get("X-Transmission-Session-Id", "")
                    continue
                raise
            if out.get("result") != "success":
                sys.exit("transmission %s: %s" % (method, out.get("result")))
            return out.get("arguments", {})
        sys.exit("transmission %s: no session id" % method)


def proc_cpu(pid):
    """(user + sys, sys) CPU seconds of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read().rpartition(")")[2].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(s[11]) + int(s[12])) / tck, int(s[12]) / tck


def tr_add(url, torrent, directory):
    rpc = Rpc(url)
    with open(torrent, "rb") as f:
        meta = base64.b64encode(f.read()).decode()
    out = rpc("torrent-add", metainfo=meta, paused=True, **{"download-dir": directory})
    t = out.get("torrent-added") or out.get("torrent-duplicate")
    print(t["id"])


def tr_verify(url, tid, pid, seconds):
    rpc = Rpc(url)
    fields = ["status", "haveValid", "sizeWhenDone", "recheckProgress"]

    def get():
        return rpc("torrent-get", ids=[tid], fields=fields)["torrents"][0]

    if get()["status"] in (1, 2):
        sys.exit("transmission: the torrent is being checked already")
    t0, c0 = time.monotonic(), proc_cpu(pid)
    rpc("torrent-verify", ids=[tid])
    seen = False
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        t = get()
        # 1: waiting to check, 2: checking (rpc-spec: TR_STATUS_CHECK_WAIT, TR_STATUS_CHECK)
        if t["status"] in (1, 2):
            seen = True
        elif seen:
            t1, c1 = time.monotonic(), proc_cpu(pid)
            print("%.4f %.3f %.3f %d %d" % (t1 - t0, c1[0] - c0[0], c1[1] - c0[1], t["haveValid"],
                                            t["sizeWhenDone"]))
            return
        elif time.monotonic() - t0 > 5:
            sys.exit("transmission: the verify never started")
        time.sleep(0.05)
    sys.exit("transmission: still checking after %s s" % seconds)


def openssl_rate(path):
    # "type  16 bytes ... 16384 bytes" then "sha1  123.45k ..." in 1000s of bytes per second.
    rows = [l.split() for l in open(path) if l.startswith("sha1 ")]
    if not rows:
        sys.exit("no sha1 line in %s" % path)
    last = rows[-1][-1]
    print("%.0f" % (float(last.rstrip("k")) * 1000))


def report(results, meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    rows, fails = {}, {}
    with open(results) as f:
        for line in f:
            mode, tool, run, wall, cpu, sys_, status, threads = line.rstrip("\n").split("\t")
            if status == "ok":
                rows.setdefault((mode, tool), []).append(
                    (float(wall), float(cpu), float(sys_), threads))
            else:
                fails.setdefault((mode, tool), []).append("run %s: %s" % (run, status))
    size, cores = meta["bytes"], meta["nproc"]
    one = statistics.mean(meta["openssl_1"])
    multi = statistics.mean(meta["openssl_multi"])
    floor = one * cores

    def fig(mode, tool):
        v = rows.get((mode, tool))
        if not v:
            return None
        wall = statistics.median(r[0] for r in v)
        cpu = statistics.median(r[1] / r[0] for r in v)
        sys_ = statistics.median(r[2] / r[0] for r in v)
        thr = "/".join(sorted({r[3] for r in v if r[3]}, key=lambda x: (len(x), x)))
        return {"mbs": size / 1e6 / wall, "cores": cpu, "sys": sys_, "thr": thr, "n": len(v),
                "wall": wall}

    def cols(f, ref):
        if not f:
            return "%8s %6s %5s %5s %4s" % ("failed", "", "", "", "")
        ratio = "%6.2f" % (f["mbs"] / ref) if ref else "%6s" % ""
        return "%8.0f %s %5.2f %5.2f %4s" % (f["mbs"], ratio, f["cores"], f["sys"], f["thr"])

    dd_cold = fig("cold", "dd")
    ref_cold = dd_cold["mbs"] if dd_cold else None
    print("%-22s %5s %8s %6s %5s %5s %4s   %8s %6s %5s %5s %4s" % (
        "", "runs", "cached", "/floor", "cores", "sys", "thr",
        "cold", "/dd", "cores", "sys", "thr"))
    print("%-22s %5s %8s %25s %8s" % ("", "", "MB/s", "", "MB/s"))
    for tool, name in (("ttui", "ttui"), ("libtorrent", "libtorrent 2.0.8"),
                       ("transmission", "transmission 3.00"), ("dd", "dd bs=4M")):
        c, k = fig("cached", tool), fig("cold", tool)
        n = "%d/%d" % ((c or {}).get("n", 0), (k or {}).get("n", 0))
        print("%-22s %5s %s   %s" % (name, n, cols(c, None if tool == "dd" else floor / 1e6),
                                    cols(k, ref_cold)))
    for name, rate in (("openssl sha1 x %d" % cores, floor), ("openssl sha1 -multi %d" % cores, multi),
                       ("openssl sha1, 1 core", one)):
        print("%-22s %5s %8.0f %6.2f" % (name, "", rate / 1e6, rate / floor))
    tt_c, tt_k = fig("cached", "ttui"), fig("cold", "ttui")
    for tool in ("libtorrent", "transmission"):
        o_c, o_k = fig("cached", tool), fig("cold", tool)
        parts = []
        if tt_c and o_c:
            parts.append("cached %.2f" % (tt_c["wall"] / o_c["wall"]))
        if tt_k and o_k:
            parts.append("cold %.2f" % (tt_k["wall"] / o_k["wall"]))
        if parts:
            print("ttui's time over %s's: %s" % (tool, ", ".join(parts)))
    if tt_c:
        print("ttui cached over the measured openssl -multi %d: %.2f" % (
            cores, tt_c["mbs"] * 1e6 / multi))
    for (mode, tool), why in sorted(fails.items()):
        print("FAILED %s %s: %s" % (mode, tool, "; ".join(why)))
    return 1 if fails else 0


def seed_report(results):
    """The seed part's table: per mode and seeder, medians of read/sent, MB/s and memory."""
    rows, fails = {}, {}
    with open(results) as f:
        for line in f:
            mode, tool, run, read, sent, wall, peak, hwm, status = line.rstrip("\n").split("\t")
            if status == "ok":
                rows.setdefault((mode, tool), []).append(
                    (int(read) / int(sent), int(sent) / 1e6 / float(wall), int(peak), int(hwm)))
            else:
                fails.setdefault((mode, tool), []).append("run %s: %s" % (run, status))
    print("%-6s %-13s %4s %10s %8s %10s %8s" % ("mode", "seeder", "runs", "read/sent", "MB/s",
                                                "peak MiB", "RSS MiB"))
    ttui = {}
    for mode in ("tight", "roomy"):
        for tool in ("ttui", "transmission", "libtorrent"):
            v = rows.get((mode, tool))
            if not v:
                continue
            med = [statistics.median(r[i] for r in v) for i in range(4)]
            if tool == "ttui":
                ttui[mode] = med[0]
            spread = "%.2f-%.2f" % (min(r[0] for r in v), max(r[0] for r in v))
            print("%-6s %-13s %4d %10.2f %8.0f %10.0f %8.0f   (%s)" % (
                mode, tool, len(v), med[0], med[1], med[2] / 2**20, med[3] / 1024, spread))
    bad = 0
    for (mode, tool), why in sorted(fails.items()):
        print("%s %s failed: %s" % (mode, tool, "; ".join(why)))
        bad = 1
    if "tight" in ttui:
        verdict = "meets" if ttui["tight"] <= 1.1 else "misses"
        print("ttui tight: %.2f read per byte sent, %s the aim (<= 1.1)" % (ttui["tight"], verdict))
    return bad


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "busy":
        busy(int(args[0]), float(args[1]), args[2])
    elif cmd == "evict":
        evict(args)
    elif cmd == "lt-check":
        lt_check(args[0], args[1], float(args[2]))
    elif cmd == "tr-add":
        tr_add(args[0], args[1], args[2])
    elif cmd == "tr-verify":
        tr_verify(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == "openssl-rate":
        openssl_rate(args[0])
    elif cmd == "seed-report":
        sys.exit(seed_report(args[0]))
    elif cmd == "report":
        sys.exit(report(args[0], args[1]))
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
