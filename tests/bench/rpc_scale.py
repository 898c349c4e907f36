#!/usr/bin/env python3
"""The HTTP/JSON and timing half of tests/bench/rpc_scale.sh (standard library only).

    rpc_scale.py add URL TORRENT_DIR DOWNLOAD_DIR CONNS   torrent-add (metainfo, paused) of
                                                      every .torrent over CONNS connections;
                                                      prints the count
    rpc_scale.py wait URL N TIMEOUT                    until torrent-get lists N torrents, none
                                                      waiting to check or checking; prints seconds
    rpc_scale.py bench CALLS NAME=URL@PID...           torrent-get (Sonarr's fields, every field)
                                                      and session-stats, CALLS times each, the
                                                      clients taking turns call by call; prints
                                                      one line a client and figure (below)
    rpc_scale.py poll URL INTERVAL                     torrent-get with Sonarr's fields every
                                                      INTERVAL s until SIGTERM
    rpc_scale.py keys TMUX_SOCKET TARGET SAMPLES       key-to-screen latency of a ttui list in
                                                      tmux (j, then k, ...); prints ms a sample

Every call does Transmission's CSRF dance: a 409 answer brings the X-Transmission-Session-Id
to send again. One keep-alive connection a server (reopened if the server closes it), no
compression asked (`Accept-Encoding: identity`, what http.client sends). A call's latency runs
from sending the request to the last byte of the answer; the JSON is parsed afterwards, outside
the time, to check it (result "success", N torrents).

bench prints `NAME WHAT median_ms p99_ms cpu_ms_per_call bytes keys`: p99 is the nearest-rank
99th percentile (of 50 calls, the slowest); cpu is the server's utime+stime (all its threads,
/proc/PID/stat) over the calls of that figure divided by their number; bytes the answer's size
and keys the keys of the first torrent in it.
"""
import base64
import concurrent.futures
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

import tui_keys

# Sonarr's (and Radarr's) torrent-get fields.
SONARR = [
    "id", "hashString", "name", "downloadDir", "totalSize", "leftUntilDone", "isFinished",
    "eta", "status", "secondsDownloading", "secondsSeeding", "errorString", "uploadedEver",
    "downloadedEver", "seedRatioLimit", "seedRatioMode", "seedIdleLimit", "seedIdleMode",
    "fileCount", "labels",
]
# Every torrent-get key of rpc-spec 3.3 (Transmission 4.0): ttui's `ALL` in src/rpc/fields.rs
# without its own `ttui-explain`, asked of both servers. A server leaves out the keys it does
# not know: bench says which (stderr) and how many keys the first torrent had.
ALL = [
    "activityDate", "addedDate", "availability", "bandwidthPriority", "comment", "corruptEver",
    "creator", "dateCreated", "desiredAvailable", "doneDate", "downloadDir", "downloadedEver",
    "downloadLimit", "downloadLimited", "editDate", "error", "errorString", "eta", "etaIdle",
    "file-count", "fileCount", "files", "fileStats", "group", "hashString", "haveUnchecked",
    "haveValid", "honorsSessionLimits", "id", "isFinished", "isPrivate", "isStalled", "labels",
    "leftUntilDone", "magnetLink", "manualAnnounceTime", "maxConnectedPeers",
    "metadataPercentComplete", "name", "peer-limit", "peers", "peersConnected", "peersFrom",
    "peersGettingFromUs", "peersSendingToUs", "percentComplete", "percentDone", "pieces",
    "pieceCount", "pieceSize", "priorities", "primary-mime-type", "queuePosition",
    "rateDownload", "rateUpload", "recheckProgress", "secondsDownloading", "secondsSeeding",
    "seedIdleLimit", "seedIdleMode", "seedRatioLimit", "seedRatioMode", "sizeWhenDone",
    "startDate", "status", "trackers", "trackerList", "trackerStats", "totalSize",
    "torrentFile", "uploadedEver", "uploadLimit", "uploadLimited", "uploadRatio", "wanted",
    "webseeds", "webseedsSendingToUs",
]
HZ = os.sysconf("SC_CLK_TCK")


class Rpc:
    """One keep-alive connection to a Transmission RPC endpoint."""

    def __init__(self, url: str, timeout: float = 120.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.path = u.path or "/transmission/rpc"
        self.timeout = timeout
        self.sid = ""
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def exchange(self, method: str, path: str, body: bytes | None, headers: dict):
        """One request on the keep-alive connection, reopened and sent again (4 tries in
        all) if the server closed it: (response, answer bytes, seconds from sending to the
        last byte). Also qbt_api.py's transport."""
        for attempt in range(4):
            try:
                c = self._conn()
                t0 = time.perf_counter()
                c.request(method, path, body, headers)
                r = c.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 3:
                    raise
                continue
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return r, data, dt
        raise RuntimeError(f"{method} {path}: no answer")

    def raw(self, method: str, args: dict) -> tuple[bytes, float]:
        """The answer's bytes and the seconds from sending to its last byte."""
        body = json.dumps({"method": method, "arguments": args}).encode()
        for _ in range(4):
            r, data, dt = self.exchange("POST", self.path, body, {
                "Content-Type": "application/json",
                "X-Transmission-Session-Id": self.sid,
            })
            if r.status == 409:
                self.sid = r.getheader("X-Transmission-Session-Id", "")
                continue
            if r.status != 200:
                raise RuntimeError(f"{method}: HTTP {r.status}: {data[:200]!r}")
            return data, dt
        raise RuntimeError(f"{method}: no answer after the session-id dance")

    def call(self, method: str, args: dict) -> dict:
        data, _ = self.raw(method, args)
        j = json.loads(data)
        if j.get("result") != "success":
            raise RuntimeError(f"{method}: {j.get('result')}")
        return j.get("arguments", {})


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # fields 14 and 15: utime, stime


pct = tui_keys.pct


def cmd_add(url: str, tdir: str, ddir: str, conns: int) -> None:
    """torrent-add of every .torrent over CONNS connections at once (each one call at a time),
    as a client adding a library would."""
    names = sorted(n for n in os.listdir(tdir) if n.endswith(".torrent"))
    local = threading.local()

    def add(name: str) -> None:
        if not hasattr(local, "rpc"):
            local.rpc = Rpc(url)
        with open(os.path.join(tdir, name), "rb") as f:
            meta = base64.b64encode(f.read()).decode()
        a = local.rpc.call("torrent-add", {"metainfo": meta, "paused": True, "download-dir": ddir})
        if "torrent-added" not in a and "torrent-duplicate" not in a:
            raise RuntimeError(f"torrent-add {name}: {a}")

    with concurrent.futures.ThreadPoolExecutor(conns) as pool:
        for _ in pool.map(add, names):
            pass
    print(len(names))


def cmd_wait(url: str, n: int, limit: float) -> None:
    rpc = Rpc(url)
    t0 = time.monotonic()
    got = []
    while time.monotonic() - t0 < limit:
        try:
            got = rpc.call("torrent-get", {"fields": ["id", "status"]})["torrents"]
        except (RuntimeError, OSError, ValueError):
            got = []
        if len(got) >= n and not any(t["status"] in (1, 2) for t in got):
            print(f"{time.monotonic() - t0:.2f}")
            return
        time.sleep(1)
    sys.exit(f"wait: {len(got)} of {n} torrents settled after {limit:.0f} s")


def cmd_bench(calls: int, specs: list[str]) -> None:
    servers = []
    for s in specs:
        name, rest = s.split("=", 1)
        url, pid = rest.rsplit("@", 1)
        servers.append((name, Rpc(url), int(pid)))
    figures = [
        ("sonarr", "torrent-get", {"fields": SONARR}),
        ("all", "torrent-get", {"fields": ALL}),
        ("stats", "session-stats", {}),
    ]
    for what, method, args in figures:
        lat = {name: [] for name, _, _ in servers}
        cpu = {name: 0 for name, _, _ in servers}
        size, keys = {}, {}
        for name, rpc, _ in servers:  # one call each first, outside the figures
            data, _ = rpc.raw(method, args)
            j = json.loads(data)
            assert j["result"] == "success", j["result"]
            size[name] = len(data)
            t = j["arguments"].get("torrents")
            keys[name] = len(t[0]) if t else len(j["arguments"])
            if t is not None:
                left = sorted(set(args["fields"]) - set(t[0])) if t else []
                print(f"# {name} {what}: {len(t)} torrents, keys asked and not answered: "
                      f"{' '.join(left) or '-'}", file=sys.stderr)
        for i in range(calls):
            # Turns change order every call, so neither server always follows the other.
            order = servers if i % 2 == 0 else servers[::-1]
            for name, rpc, pid in order:
                c0 = ticks(pid)
                _, dt = rpc.raw(method, args)
                cpu[name] += ticks(pid) - c0
                lat[name].append(dt * 1000)
        for name, _, _ in servers:
            v = lat[name]
            print(f"{name} {what} {pct(v, 50):.2f} {pct(v, 99):.2f} "
                  f"{cpu[name] / HZ * 1000 / calls:.2f} {size[name]} {keys[name]}")
            sys.stdout.flush()


def cmd_poll(url: str, interval: float) -> None:
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    rpc = Rpc(url)
    n, worst = 0, 0.0
    nxt = time.monotonic()
    while not stop:
        try:
            _, dt = rpc.raw("torrent-get", {"fields": SONARR})
            n += 1
            worst = max(worst, dt)
        except (RuntimeError, OSError) as e:
            print(f"poll: {e}", file=sys.stderr)
        nxt += interval
        time.sleep(max(0.0, nxt - time.monotonic()))
    print(f"{n} {worst * 1000:.1f}")


def cmd_keys(sock: str, target: str, samples: int) -> None:
    """ms from `tmux send-keys` until the pane shows the selection (`▸`) on another row
    (tui_keys.py), at most 2 s a key. Keys alternate j and k, 0.2 s apart."""
    pane = tui_keys.Pane(sock, target)
    row = tui_keys.selected_row(pane.lines())
    if row < 0:
        sys.exit("keys: no selected row (no `\u25b8`) in the pane")
    out = []
    key = "j"
    for _ in range(samples):
        was = row

        def moved(lines: list[str]) -> bool:
            nonlocal row
            row = tui_keys.selected_row(lines)
            return row not in (was, -1)

        out.append(pane.key(key, moved, limit=2))
        if pane.misses:
            sys.exit(f"keys: the selection did not move within 2 s (row {was})")
        key = "k" if key == "j" else "j"
        time.sleep(0.2)
    print(" ".join(f"{x:.2f}" for x in out))


def main() -> None:
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "add":
        cmd_add(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "wait":
        cmd_wait(a[1], int(a[2]), float(a[3]))
    elif a[0] == "bench":
        cmd_bench(int(a[1]), a[2:])
    elif a[0] == "poll":
        cmd_poll(a[1], float(a[2]))
    elif a[0] == "keys":
        cmd_keys(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
