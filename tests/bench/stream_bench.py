#!/usr/bin/env python3
"""Streaming benchmark, the inner phase (run by tests/bench/stream.sh inside `unshare -n`).

One file of SIZE bytes, seeded by python3-libtorrent limited to RATE bytes/s, is streamed by
each client in turn over HTTP as a player would: the first bytes from a cold start (torrent
at 0 %), 4 MiB read on from there, then a seek to 50 % and one to 90 %, each read for 1 MiB.
Per client and run it records the time to the first byte of each of the three reads, the
payload bytes the client fetched during the two seeks' reads that they did not need, and the
client's CPU seconds. The seeder sends in libtorrent's half-second ticks under its limit, so
times come in steps of about 0.5 s. The seeder is started afresh for every run, so each client meets the same swarm.

Clients: ttui (`ttui daemon`, its stream server, `ttui stream ID --json` for the URL) and
rqbit (`rqbit server start`, its HTTP API's `/torrents/ID/stream/FILE`). Both bind only to
127.0.0.x, with DHT, LSD, UPnP and trackers off; the torrent is trackerless and each client is
told the seeder's address.

Prints one JSON line per run and a Markdown table of medians at the end.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LT_SEED = os.path.join(REPO, "assets", "seeders", "lt_seed.py")
SEED_IP = "127.0.0.2"
CLIENT_IP = "127.0.0.3"
WAIT = 60.0
READ_ON = 4 << 20
READ_AFTER_SEEK = 1 << 20
EXTRA_TTUI = os.environ.get("BENCH_TTUI_ARGS", "").split()


def note(msg):
    print("[stream-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of `pid` and its reaped children, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


class Procs:
    """Every process started, killed by pid (its process group) at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, log, **kw):
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


def until(what, cond, limit=WAIT, every=0.1):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise RuntimeError("timed out waiting for " + what)


def first_byte(url, offset, read_len):
    """GET from `offset`; seconds to the first body byte, and the bytes read (<= read_len)."""
    u = urllib.parse.urlsplit(url)
    path = u.path + (("?" + u.query) if u.query else "")
    s = socket.create_connection((u.hostname, u.port), timeout=WAIT)
    try:
        t0 = time.monotonic()
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nRange: bytes=%d-\r\nConnection: close\r\n\r\n"
                   % (path, u.netloc, offset)).encode())
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw) <= raw.index(b"\r\n\r\n") + 4:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("%s closed before its first byte: %r" % (url, raw[:200]))
            raw += chunk
        took = time.monotonic() - t0
        head, body = raw.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 206 " not in status and b" 200 " not in status:
            raise RuntimeError("%s answered %r" % (url, status))
        while len(body) < read_len:
            chunk = s.recv(min(1 << 20, read_len - len(body)))
            if not chunk:
                break
            body += chunk
        return took, body[:read_len]
    finally:
        s.close()


class Ttui:
    name = "ttui"

    def __init__(self, binary, work, procs):
        self.bin, self.work, self.procs = binary, work, procs
        self.state = os.path.join(work, "state")
        self.env = dict(os.environ, XDG_STATE_HOME=work, XDG_DATA_HOME=work,
                        XDG_CONFIG_HOME=os.path.join(work, "config"), TTUI_NO_PUBLIC_ROUTERS="1",
                        NO_COLOR="1")
        self.env.pop("XDG_RUNTIME_DIR", None)
        self.stream_port = free_port(CLIENT_IP)

    def verb(self, *args):
        out = subprocess.run([self.bin, *args, "--state-dir", self.state], env=self.env,
                             capture_output=True, text=True, timeout=WAIT)
        if out.returncode != 0:
            raise RuntimeError("ttui %s: %s" % (" ".join(args), out.stderr.strip()))
        return out.stdout

    def start(self, seed_addr, log):
        cfg = os.path.join(self.work, "config", "ttui")
        os.makedirs(cfg, exist_ok=True)
        with open(os.path.join(cfg, "config.toml"), "w") as f:
            f.write('[stream]\nlisten = "%s:%d"\n' % (CLIENT_IP, self.stream_port))
        self.proc = self.procs.start(
            [self.bin, "daemon", "--state-dir", self.state, "-o", os.path.join(self.work, "out"),
             "--bind", CLIENT_IP, "--port", "0", "--no-dht", "--no-lsd", "--no-trackers",
             "--peer", seed_addr] + EXTRA_TTUI, log, env=self.env)
        until("ttui daemon", lambda: self._answers())

    def _answers(self):
        try:
            self.verb("list", "--json")
            return True
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def add(self, torrent):
        added = json.loads(self.verb("add", "--json", torrent))
        self.id = str(added[0]["id"])
        return json.loads(self.verb("stream", self.id, "0", "--json"))["url"]

    def downloaded(self):
        rows = json.loads(self.verb("list", "--json"))
        row = next(r for r in rows if str(r["id"]) == self.id)
        return int(row.get("downloaded_bytes", row.get("downloaded", 0)))


class Rqbit:
    name = "rqbit"

    def __init__(self, binary, work, procs):
        self.bin, self.work, self.procs = binary, work, procs
        self.api = "%s:%d" % (CLIENT_IP, free_port(CLIENT_IP))

    def start(self, seed_addr, log):
        self.seed_addr = seed_addr
        out = os.path.join(self.work, "out")
        os.makedirs(out, exist_ok=True)
        self.proc = self.procs.start(
            [self.bin, "--http-api-listen-addr", self.api, "--disable-dht",
             "--disable-dht-persistence", "--disable-upnp-port-forward",
             "--listen-ip", CLIENT_IP, "--listen-port", str(free_port(CLIENT_IP)),
             "server", "start", "--disable-persistence", out], log,
            env=dict(os.environ, HOME=self.work, XDG_CONFIG_HOME=self.work,
                     XDG_DATA_HOME=self.work, XDG_CACHE_HOME=self.work))
        until("rqbit's API", lambda: self._get("/") is not None)

    def _get(self, path):
        try:
            with urllib.request.urlopen("http://%s%s" % (self.api, path), timeout=5) as r:
                return json.loads(r.read() or b"null")
        except (OSError, ValueError):
            return None

    def add(self, torrent):
        with open(torrent, "rb") as f:
            body = f.read()
        q = urllib.parse.urlencode({"overwrite": "true", "initial_peers": self.seed_addr})
        req = urllib.request.Request("http://%s/torrents?%s" % (self.api, q), data=body,
                                     method="POST")
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            added = json.loads(r.read())
        self.id = added.get("id", added.get("details", {}).get("id"))
        return "http://%s/torrents/%s/stream/0" % (self.api, self.id)

    def downloaded(self):
        st = self._get("/torrents/%s/stats/v1" % self.id) or {}
        live = st.get("live") or {}
        snap = live.get("snapshot") or {}
        return int(snap.get("fetched_bytes", st.get("progress_bytes", 0)))


def run_once(kind, binary, torrent, data_dir, size, piece, rate, procs, logs, n):
    work = tempfile.mkdtemp(prefix="stream-%s-" % kind.name)
    seed_port = free_port(SEED_IP)
    with open(os.path.join(logs, "seed-%s-%d.log" % (kind.name, n)), "w") as slog:
        seed = procs.start(["/usr/bin/python3", LT_SEED, "--torrent", torrent, "--save", data_dir,
                            "--ip", SEED_IP, "--port", str(seed_port), "--seed-mode",
                            "--upload-limit", str(rate), "--announce-wait", "0"], slog)
    with open(os.path.join(logs, "seed-%s-%d.log" % (kind.name, n))) as f:
        until("the seeder", lambda: "ready" in (f.seek(0) or f.read()), every=0.2)
    client = kind(binary, work, procs)
    with open(os.path.join(logs, "%s-%d.log" % (kind.name, n)), "w") as clog:
        client.start("%s:%d" % (SEED_IP, seed_port), clog)
    try:
        cpu0 = cpu_seconds(client.proc.pid)
        url = client.add(torrent)
        with open(os.path.join(data_dir, os.path.basename(torrent)[:-len(".torrent")]), "rb") as f:
            payload_at = lambda off, ln: (f.seek(off), f.read(ln))[1]
            cold, got = first_byte(url, 0, READ_ON)
            assert got == payload_at(0, len(got)), "%s served wrong bytes at 0" % kind.name
            # What the client fetches from here to the end of the last read, against what
            # the two seeks' reads needed: both clients keep downloading the rest meanwhile,
            # so this is the share of the swarm's bytes that went elsewhere while a player
            # waited.
            fetched0 = client.downloaded()
            t0 = time.monotonic()
            needed = set()
            seeks = []
            for frac in (0.5, 0.9):
                at = int(size * frac)
                took, got = first_byte(url, at, READ_AFTER_SEEK)
                assert got == payload_at(at, len(got)), "%s served wrong bytes" % kind.name
                needed |= set(range(at // piece, (at + len(got) + piece - 1) // piece))
                seeks.append(took)
        fetched = client.downloaded() - fetched0
        span = time.monotonic() - t0
        cpu = cpu_seconds(client.proc.pid) - cpu0
        unneeded = max(0, fetched - len(needed) * piece)
        return {"client": kind.name, "run": n, "cold_s": cold, "seek50_s": seeks[0],
                "seek90_s": seeks[1], "fetched": fetched, "unneeded": unneeded, "span_s": span, "cpu_s": cpu}
    finally:
        procs.stop(client.proc)
        procs.stop(seed)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttui", required=True)
    ap.add_argument("--rqbit", default="")
    ap.add_argument("--work", required=True)
    ap.add_argument("--size", type=int, default=256 << 20)
    ap.add_argument("--piece-log2", type=int, default=18)
    ap.add_argument("--rate", type=int, default=4 << 20)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    procs = Procs()
    data = os.path.join(a.work, "data")
    logs = os.path.join(a.work, "logs")
    os.makedirs(data, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    try:
        blob = os.path.join(data, "movie.bin")
        note("writing %d MiB of payload" % (a.size >> 20))
        with open(blob, "wb") as f:
            left = a.size
            while left:
                n = min(left, 16 << 20)
                f.write(os.urandom(n))
                left -= n
        torrent = os.path.join(data, "movie.bin.torrent")
        subprocess.run(["mktorrent", "-l", str(a.piece_log2), "-o", torrent, blob], check=True,
                       stdout=subprocess.DEVNULL)
        kinds = [(Ttui, a.ttui)] + ([(Rqbit, a.rqbit)] if a.rqbit else [])
        results = []
        for n in range(a.runs):
            for kind, binary in kinds:
                note("%s, run %d" % (kind.name, n + 1))
                try:
                    r = run_once(kind, binary, torrent, data, a.size, 1 << a.piece_log2, a.rate,
                                 procs, logs, n)
                except (RuntimeError, AssertionError, OSError, KeyError, StopIteration) as e:
                    note("%s run %d failed: %s" % (kind.name, n + 1, e))
                    continue
                print(json.dumps(r), flush=True)
                results.append(r)
        piece_s = (1 << a.piece_log2) / a.rate
        print()
        print("%d MiB file in %d KiB pieces, one seeder at %.1f MiB/s (one piece: %.0f ms); "
              "medians of %d runs" % (a.size >> 20, (1 << a.piece_log2) >> 10, a.rate / (1 << 20),
                                      piece_s * 1000, a.runs))
        print()
        print("| client | first byte, cold | after a seek to 50 % | after a seek to 90 % "
              "| fetched during the seeks, not read (in how long) | CPU |")
        print("|---|---|---|---|---|---|")
        for kind, _ in kinds:
            rs = [r for r in results if r["client"] == kind.name]
            if not rs:
                print("| %s | failed | | | | |" % kind.name)
                continue
            med = lambda k: statistics.median(r[k] for r in rs)
            print("| %s | %.2f s | %.2f s | %.2f s | %.1f MiB (%.1f s) | %.2f s |" % (
                kind.name, med("cold_s"), med("seek50_s"), med("seek90_s"),
                med("unneeded") / (1 << 20), med("span_s"), med("cpu_s")))
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
