#!/usr/bin/python3
"""The churn half of tests/bench/soak.sh: everything that moves around one `ttui daemon` while
the script records its resources, and the report at the end.

    soak.py dht IP,IP,... PORT
        DHT test nodes: one python3-libtorrent session a node, each on its own address, meshed
        with add_dht_node (never a router of the internet); runs until SIGTERM
    soak.py peers --ips IP,... --ttui IP:PORT --library DIR --downloads DIR --ddata DIR
                  --work DIR [--live 4] [--min-life 5] [--max-life 30] [--every 3] [--cap B/s]
        peers that join and leave: every few seconds a new python3-libtorrent session on a free
        address of --ips, TCP only or uTP only in turn, leeching a few torrents of the seeding
        library from ttui and seeding every download torrent to it (capped, so ttui's downloads
        last); it lives --min-life to --max-life seconds, then goes. Runs until SIGTERM
    soak.py churn --ttui BIN --state DIR --work DIR ... (see main)
        the verbs (add, remove, label, limit, queue, pause and resume, a download removed with
        its data and added again), the Transmission RPC's torrent-get and qBittorrent's
        sync/maindata (with rid) every second, keys into `ttui attach` in tmux, streams opened,
        seeked (HTTP Range) and dropped, and the tracker (opentracker) going down and coming
        back. Until SIGTERM: then every thread finishes what it is doing, the tracker is left
        running (its pid in WORK/tracker.pid), the acknowledged torrents are written to
        WORK/acked.txt and the counts of what was done to WORK/churn.json
    soak.py report WORK
        the Markdown table and the verdict against the aims (soak.sh's header)

python3-libtorrent peers never run a DHT, LSD, UPnP or NAT-PMP, and bind only the addresses
they are given (loopback, or documentation addresses behind soak.sh's NAT).
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STOP = threading.Event()


def on_term(*_):
    STOP.set()


def log(msg):
    print("[soak.py %s] %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg), file=sys.stderr,
          flush=True)


def atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------ DHT test nodes
def cmd_dht(a):
    import libtorrent as lt
    ips = a.ips.split(",")
    sessions = []
    for ip in ips:
        sessions.append(lt.session({
            "listen_interfaces": "%s:%d" % (ip, a.port), "outgoing_interfaces": ip,
            "enable_dht": True, "enable_lsd": False, "enable_upnp": False,
            "enable_natpmp": False, "dht_bootstrap_nodes": "",
            # Test addresses all share 127.0.0.0/24: without these only one enters a table.
            "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
            "dht_ignore_dark_internet": False, "dht_block_ratelimit": 1000,
            "alert_mask": 0}))
    print("ready", flush=True)
    # Nodes named in dht_bootstrap_nodes never enter a routing table: introduce them with
    # add_dht_node, again now and then (until the mesh forms, and after a node forgot one).
    n = 0
    while not STOP.is_set():
        if n % 30 == 0:
            for s in sessions:
                for ip in ips:
                    s.add_dht_node((ip, a.port))
        for s in sessions:
            s.pop_alerts()
        n += 1
        STOP.wait(1)


# ------------------------------------------------------------------ peers that come and go
def cmd_peers(a):
    import libtorrent as lt
    ips = a.ips.split(",")
    host, _, port = a.ttui.rpartition(":")
    ttui = (host, int(port))
    lib = sorted(os.path.join(a.library, n) for n in os.listdir(a.library)
                 if n.endswith(".torrent"))
    dls = sorted(os.path.join(a.downloads, n) for n in os.listdir(a.downloads)
                 if n.endswith(".torrent"))
    infos = {}

    def info(path):
        if path not in infos:
            infos[path] = lt.torrent_info(path)
        return infos[path]

    rng = random.Random(a.seed)
    live = {}  # ip -> (session, end time, save dir, handles)
    counts = collections.Counter()
    last_print = 0.0
    next_start = 0.0
    k = 0
    os.makedirs(a.work, exist_ok=True)
    while not STOP.is_set():
        now = time.monotonic()
        for ip in [ip for ip, v in live.items() if v[1] <= now]:
            ses, _, save, handles = live.pop(ip)
            # The session's destructor waits for its `stopped` announces: at most
            # stop_tracker_timeout (1 s), the tracker being down or not.
            del handles, ses
            shutil.rmtree(save, ignore_errors=True)
            counts["left"] += 1
        if now >= next_start and len(live) < a.live:
            free = [ip for ip in ips if ip not in live]
            if free:
                ip = rng.choice(free)
                utp = k % 2 == 1
                k += 1
                ses = lt.session({
                    "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                    "enable_natpmp": False, "dht_bootstrap_nodes": "",
                    "allow_multiple_connections_per_ip": True,
                    "enable_incoming_utp": utp, "enable_outgoing_utp": utp,
                    "enable_incoming_tcp": not utp, "enable_outgoing_tcp": not utp,
                    "listen_interfaces": "%s:6881" % ip, "outgoing_interfaces": ip,
                    "min_reconnect_time": 1, "upload_rate_limit": a.cap,
                    "stop_tracker_timeout": 1,
                    "active_downloads": -1, "active_seeds": -1, "active_limit": -1,
                    "alert_mask": 0,
                })
                # Loopback peers are in libtorrent's local class, which ignores limits.
                ipf = lt.ip_filter()
                ipf.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
                ses.set_peer_class_filter(ipf)
                save = os.path.join(a.work, "peer-%s-%d" % (ip, k))
                os.makedirs(save, exist_ok=True)
                handles = []
                for path in rng.sample(lib, min(a.leech, len(lib))):
                    atp = lt.add_torrent_params()
                    atp.ti = info(path)
                    atp.save_path = save
                    handles.append(ses.add_torrent(atp))
                for path in dls:
                    atp = lt.add_torrent_params()
                    atp.ti = info(path)
                    atp.save_path = a.ddata
                    atp.flags = lt.torrent_flags.seed_mode
                    handles.append(ses.add_torrent(atp))
                for h in handles:
                    h.connect_peer(ttui)
                life = rng.uniform(a.min_life, a.max_life)
                live[ip] = (ses, now + life, save, handles)
                counts["utp" if utp else "tcp"] += 1
            next_start = now + rng.uniform(a.every * 0.5, a.every * 1.5)
        for ses, _, _, _ in live.values():
            ses.pop_alerts()
        if now - last_print >= 30:
            last_print = now
            down = sum(h.status().total_payload_download for v in live.values() for h in v[3])
            log("peers %s: %d live, started tcp %d utp %d, left %d, live payload down %d"
                % (a.name, len(live), counts["tcp"], counts["utp"], counts["left"], down))
        STOP.wait(0.5)
    for ip in list(live):
        ses, _, save, handles = live.pop(ip)
        del handles, ses
        shutil.rmtree(save, ignore_errors=True)
    print(json.dumps(dict(counts)), flush=True)


# ------------------------------------------------------------------ the churn driver
class Churn:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.acked = {}  # info hash -> where it came from (library, churn, download, stream)
        self.tracker = None
        # Every torrent soak.sh made: its kind (library, stream, download, churn) and file.
        self.kinds, self.files, self.by_path = {}, collections.defaultdict(list), {}
        for line in open(a.kinds):
            h, kind, path = line.split()
            self.kinds[h] = kind
            self.files[kind].append(path)
            self.by_path[path] = h

    # -- helpers
    def count(self, what, ok=True, err=""):
        with self.lock:
            self.counts[what + (".ok" if ok else ".fail")] += 1
            if not ok:
                self.errors["%s: %s" % (what, err[:160])] += 1

    def verb(self, *args, timeout=30):
        """Runs `ttui VERB ARGS --state-dir S --json`: (ok, parsed JSON or the error text)."""
        argv = [self.a.ttui, args[0], "--state-dir", self.a.state, "--json"] + list(args[1:])
        try:
            p = subprocess.run(argv, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, "timeout"
        if p.returncode != 0:
            return False, (p.stderr or p.stdout).decode(errors="replace").strip()
        try:
            return True, json.loads(p.stdout or b"null")
        except ValueError:
            return True, p.stdout.decode(errors="replace")

    def save_acked(self):
        with self.lock:
            text = "".join("%s %s\n" % (h, k) for h, k in sorted(self.acked.items()))
        atomic_write(os.path.join(self.a.work, "acked.txt"), text)

    def listing(self):
        ok, rows = self.verb("list")
        return rows if ok and isinstance(rows, list) else None

    # -- the tracker: up SOAK_TRACKER_UP s, down SOAK_TRACKER_DOWN s, in turn
    def tracker_start(self):
        self.tracker = subprocess.Popen(self.a.tracker_cmd.split("\x1f"),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atomic_write(os.path.join(self.a.work, "tracker.pid"), "%d\n" % self.tracker.pid)

    def tracker_stop(self):
        if self.tracker is not None:
            self.tracker.terminate()
            try:
                self.tracker.wait(10)
            except subprocess.TimeoutExpired:
                self.tracker.kill()
                self.tracker.wait(10)
            self.tracker = None

    def t_tracker(self):
        while not STOP.wait(self.a.tracker_up):
            self.tracker_stop()
            self.count("tracker.down")
            if STOP.wait(self.a.tracker_down):
                break
            self.tracker_start()
            self.count("tracker.up")
        # Left running for the settle and the restart: its pid is in tracker.pid.
        if self.tracker is None:
            self.tracker_start()

    # -- the verbs
    def t_verbs(self):
        churn = self.files["churn"]
        dls = self.files["download"]
        by_path = self.by_path
        rows = None
        last_list = 0.0
        last_recycle = time.monotonic()
        while not STOP.wait(self.rng.uniform(self.a.every * 0.5, self.a.every * 1.5)):
            if rows is None or time.monotonic() - last_list > 10:
                rows = self.listing()
                last_list = time.monotonic()
                self.count("list", rows is not None, "no listing")
                if rows is None:
                    continue
            ids = {r["info_hash"]: r["id"] for r in rows}
            present = [p for p in churn if by_path.get(p) in ids]
            absent = [p for p in churn if by_path.get(p) not in ids]
            r = self.rng.random()
            if time.monotonic() - last_recycle > self.a.recycle:
                # A download that completed goes, data and all, and comes back to download
                # again, so some torrents are always downloading.
                last_recycle = time.monotonic()
                done = [x for x in rows if self.acked.get(x["info_hash"]) == "download"
                        and x["state"] in ("seeding", "complete")]
                if done:
                    x = self.rng.choice(done)
                    ok, out = self.verb("remove", "--delete-data", str(x["id"]))
                    self.count("remove-data", ok, str(out))
                    if ok:
                        with self.lock:
                            self.acked.pop(x["info_hash"], None)
                        self.save_acked()
                        path = next(p for p in dls if by_path.get(p) == x["info_hash"])
                        self.add(path, "download", by_path, self.a.dl_dir)
                    rows = None
                    continue
            if r < 0.30 and absent:
                self.add(self.rng.choice(absent), "churn", by_path, self.a.data)
                rows = None
            elif r < 0.55 and present:
                h = by_path[self.rng.choice(present)]
                ok, out = self.verb("remove", h[:12])
                self.count("remove", ok, str(out))
                if ok:
                    with self.lock:
                        self.acked.pop(h, None)
                    self.save_acked()
                rows = None
            elif r < 0.70 and rows:
                x = self.rng.choice(rows)
                a, b = self.rng.sample(["soak-a", "soak-b", "soak-c", "tv", "hd"], 2)
                ok, out = self.verb("label", str(x["id"]), "+" + a, "-" + b)
                self.count("label", ok, str(out))
            elif r < 0.82 and rows:
                x = self.rng.choice(rows)
                down = self.rng.choice(["0", "50K", "200K", "1M"])
                up = self.rng.choice(["0", "20K", "100K"])
                ok, out = self.verb("limit", str(x["id"]), "--down", down, "--up", up)
                self.count("limit", ok, str(out))
            elif r < 0.86:
                ok, out = self.verb("limit", "--turtle", "toggle")
                self.count("turtle", ok, str(out))
            elif r < 0.94 and rows:
                x = self.rng.choice(rows)
                ok, out = self.verb("queue", str(x["id"]),
                                    self.rng.choice(["top", "up", "down", "bottom"]))
                self.count("queue", ok, str(out))
            elif rows:
                x = self.rng.choice(rows)
                ok, out = self.verb("pause", str(x["id"]))
                self.count("pause", ok, str(out))
                if ok and not STOP.wait(1):
                    pass
                ok, out = self.verb("resume", str(x["id"]))
                self.count("resume", ok, str(out))
        # The session's limits back to none, so the settle sees a quiet session.
        self.verb("limit", "--turtle", "off")

    def add(self, path, kind, by_path, out):
        ok, res = self.verb("add", "-o", out, path)
        if ok and isinstance(res, list) and res and not res[0].get("error"):
            h = res[0]["info_hash"]
            by_path[path] = h
            with self.lock:
                self.acked[h] = kind
            self.save_acked()
            self.count("add")
        else:
            self.count("add", False, str(res))

    # -- the two web APIs, every second each
    def t_rpc(self):
        import rpc_scale
        rpc = rpc_scale.Rpc("http://%s/transmission/rpc" % self.a.rpc, timeout=20)
        while not STOP.wait(1):
            try:
                rpc.call("torrent-get", {"fields": rpc_scale.SONARR})
                self.count("rpc")
            except Exception as e:  # noqa: BLE001 - any failure is counted, the poll goes on
                self.count("rpc", False, repr(e))
                rpc.conn = None

    def t_qbt(self):
        import qbt_api
        q = None
        rid = 0
        while not STOP.wait(1):
            try:
                if q is None:
                    q = qbt_api.Qbt("http://%s/api/v2" % self.a.qbt, "admin", "adminadmin",
                                    timeout=20)
                data, _ = q.get("sync/maindata", rid=rid)
                rid = json.loads(data)["rid"]
                self.count("qbt")
            except Exception as e:  # noqa: BLE001
                self.count("qbt", False, repr(e))
                q, rid = None, 0

    # -- ttui attach in tmux: keys every second (moving the selection, now and then into a
    # torrent's detail view and back), and a new attach if it ended
    def t_attach(self):
        tm = ["tmux", "-S", self.a.tmux]
        n = 0
        while not STOP.wait(1):
            n += 1
            try:
                dead = subprocess.run(tm + ["display", "-p", "-t", "soak", "#{pane_dead}"],
                                      capture_output=True, timeout=10).stdout.strip()
                if dead != b"0":
                    self.count("attach.alive", False, "attach ended: %r" % dead)
                    subprocess.run(tm + ["respawn-pane", "-k", "-t", "soak"], timeout=10)
                    continue
                if n % 20 == 0:
                    keys = ["Enter"]
                elif n % 20 == 3:
                    keys = [str(self.rng.randint(1, 6))]
                elif n % 20 == 6:
                    keys = ["Escape"]
                else:
                    keys = [self.rng.choice(["j", "j", "k", "G", "g"])]
                subprocess.run(tm + ["send-keys", "-t", "soak"] + keys, timeout=10, check=True)
                self.count("attach")
            except (subprocess.SubprocessError, OSError) as e:
                self.count("attach", False, repr(e))

    # -- streams: opened, seeked with Range, dropped mid-body
    def t_streams(self):
        urls = {}
        while not STOP.wait(self.rng.uniform(self.a.stream_every * 0.5, self.a.stream_every * 1.5)):
            rows = self.listing()
            if not rows:
                continue
            kinds = [x for x in rows if self.acked.get(x["info_hash"]) in ("stream", "download")]
            if not kinds:
                continue
            x = self.rng.choice(kinds)
            url = urls.get(x["info_hash"])
            if url is None:
                ok, out = self.verb("stream", str(x["id"]), "0")
                self.count("stream-url", ok, str(out))
                if not ok:
                    continue
                url = urls[x["info_hash"]] = out["url"]
            u = urllib.parse.urlsplit(url)
            size = x["total_bytes"]
            ranges = ["bytes=0-", "bytes=-65536"] + [
                "bytes=%d-" % self.rng.randrange(size) for _ in range(self.rng.randint(1, 4))]
            for rg in ranges:
                if STOP.is_set():
                    break
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=8)
                try:
                    c.request("GET", u.path, headers={"Range": rg})
                    r = c.getresponse()
                    if r.status not in (200, 206):
                        raise RuntimeError("HTTP %d for %s" % (r.status, rg))
                    # Read a little, then drop the connection as a player's seek does.
                    r.read(self.rng.choice([1024, 65536, 262144]))
                    self.count("stream-read")
                except TimeoutError:
                    # A read waits for pieces a download has not verified yet: dropped.
                    self.count("stream-timeout")
                except Exception as e:  # noqa: BLE001
                    self.count("stream-read", False, repr(e))
                finally:
                    c.close()

    def run(self):
        # The tracker is up before the library is added (soak.sh adds it meanwhile), so the
        # setup's first announces find it; the churn starts once soak.sh says the library is in.
        self.tracker_start()
        ready = os.path.join(self.a.work, "library-in")
        deadline = time.monotonic() + 1800
        while not os.path.exists(ready) and time.monotonic() < deadline:
            if STOP.wait(0.5):
                self.tracker_stop()
                return
        rows = None
        for _ in range(30):
            rows = self.listing()
            if rows is not None:
                break
            time.sleep(1)
        if rows is None:
            sys.exit("soak.py churn: no listing from the session")
        with self.lock:
            for x in rows:
                self.acked[x["info_hash"]] = self.kinds.get(x["info_hash"], "other")
        self.save_acked()
        threads = [threading.Thread(target=getattr(self, "t_" + n), name=n, daemon=True)
                   for n in ("tracker", "verbs", "rpc", "qbt", "attach", "streams")]
        for t in threads:
            t.start()
        last = 0.0
        while not STOP.wait(1):
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                self.dump()
        for t in threads:
            t.join(60)
            if t.is_alive():
                log("thread %s did not finish in 60 s" % t.name)
        self.save_acked()
        self.dump()

    def dump(self):
        with self.lock:
            d = {"counts": dict(sorted(self.counts.items())),
                 "errors": dict(self.errors.most_common(20))}
        atomic_write(os.path.join(self.a.work, "churn.json"), json.dumps(d, indent=1))


def cmd_churn(a):
    Churn(a).run()


# ------------------------------------------------------------------ the log's ERROR/WARN lines
def cmd_logscan(a):
    """Appends the ERROR/WARN lines written to LOG since the last call to OUT. ttui turns LOG
    into LOG.1 past 32 MiB (an hour of this churn writes more than twice that, and a second
    turn would lose the first file), so this runs every minute and follows the turn: the
    file it read last, by inode, is read to its end first."""
    state_path = a.out + ".pos"
    ino, pos = 0, 0
    if os.path.exists(state_path):
        ino, pos = map(int, open(state_path).read().split())
    out = open(a.out, "ab")

    def scan(path, start):
        with open(path, "rb") as f:
            f.seek(start)
            for line in f:
                if not line.endswith(b"\n"):
                    return start  # a line still being written: next time
                start += len(line)
                if b" ERROR " in line[:40] or b" WARN " in line[:40]:
                    out.write(line)
            return start

    try:
        st = os.stat(a.log)
    except FileNotFoundError:
        return
    if st.st_ino != ino:
        old = a.log + ".1"
        if ino and os.path.exists(old) and os.stat(old).st_ino == ino:
            scan(old, pos)
        ino, pos = st.st_ino, 0
    pos = scan(a.log, pos)
    out.close()
    atomic_write(state_path, "%d %d\n" % (ino, pos))


# ------------------------------------------------------------------ the report
LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+Z\s+(ERROR|WARN)\s+(.*)$")


def normalize(msg):
    """A log message without what changes between repeats of one problem: the span's fields
    (torrent id and name), addresses, ports, hashes, numbers."""
    msg = re.sub(r"^torrent\{[^}]*\}:\s*", "torrent: ", msg)
    msg = re.sub(r"\{[^}]*\}", "{..}", msg)
    msg = re.sub(r"\[[0-9a-f:.]+\]:\d+", "ADDR", msg)
    msg = re.sub(r"\b\d+\.\d+\.\d+\.\d+(:\d+)?\b", "ADDR", msg)
    msg = re.sub(r"\b[0-9a-f]{40}\b", "HASH", msg)
    msg = re.sub(r"\b[0-9a-f]{8,}\b", "HEX", msg)
    msg = re.sub(r"\d+(\.\d+)?", "N", msg)
    return msg[:200]


def cmd_report(a):
    w = a.work
    env = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(w, "times.env")))
    t0 = float(env["START"])
    churn_end = float(env.get("CHURN_END", "0") or 0)
    settle_end = float(env.get("SETTLE_END", "0") or 0)
    samples = []
    for line in open(os.path.join(w, "samples.tsv")):
        f = line.split()
        if f[0] == "minute":
            continue
        samples.append({"minute": f[0], "t": float(f[1]), "rss": int(f[2]), "fds": int(f[3]),
                        "threads": int(f[4]), "ticks": int(f[5])})
    # Log lines by message, per minute of the run; the settle's apart.
    per_msg = collections.Counter()
    per_min = collections.defaultdict(collections.Counter)
    settle = collections.Counter()
    stamps = []
    import calendar
    for path in [os.path.join(w, "warn.log")]:
        if not os.path.exists(path):
            continue
        for line in open(path, errors="replace"):
            m = LOG_RE.match(line)
            if not m:
                continue
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
            if settle_end and t > settle_end:
                continue  # the restart's lines are judged apart
            stamps.append(t)
            key = "%s %s" % (m.group(2), normalize(m.group(3)))
            per_msg[key] += 1
            per_min[key][max(0, int((t - t0) // 60) + 1)] += 1
            if churn_end and churn_end + 5 < t <= settle_end:
                settle[key] += 1
    hz = os.sysconf("SC_CLK_TCK")
    print()
    print("| minute | RSS MiB | fds | threads | CPU s over the minute | ERROR/WARN lines |")
    print("|---:|---:|---:|---:|---:|---:|")
    prev = None
    for s in samples:
        cpu = "" if prev is None else "%.1f" % ((s["ticks"] - prev["ticks"]) / hz)
        if prev is not None and s["minute"] == "end":
            span = s["t"] - prev["t"]
            cpu += " (over %.0f s)" % span
        lines = "" if prev is None else sum(
            1 for t in stamps if prev["t"] < t <= s["t"])
        print("| %s | %.1f | %d | %d | %s | %s |" % (s["minute"], s["rss"] / 1024, s["fds"],
                                                      s["threads"], cpu, lines))
        prev = s

    print()
    total = sum(per_msg.values())
    print("ERROR/WARN lines in the daemon's log: %d in all, %d kinds (top %d by count; "
          "per minute: minute:count for the minutes with any, minute 0 being the setup)"
          % (total, len(per_msg), min(12, len(per_msg))))
    print()
    if per_msg:
        print("| count | in the settle | message (numbers, addresses, hashes replaced) | per minute |")
        print("|---:|---:|---|---|")
        for key, n in per_msg.most_common(12):
            mins = " ".join("%d:%d" % kv for kv in sorted(per_min[key].items()))
            print("| %d | %d | `%s` | %s |" % (n, settle[key], key.replace("|", "/"), mins[:120]))

    # The churn's own counts.
    try:
        c = json.load(open(os.path.join(w, "churn.json")))
        print()
        print("churn done: " + ", ".join("%s %d" % kv for kv in c["counts"].items()))
        if c["errors"]:
            print("churn failures (top): " + "; ".join(
                "%d x %s" % (n, k) for k, n in list(c["errors"].items())[:6]))
    except (OSError, ValueError):
        print("churn.json missing")
    for name in ("peers-lo.json", "peers-nat.json"):
        p = os.path.join(w, name)
        if os.path.exists(p) and os.path.getsize(p):
            print("%s: %s" % (name[:-5], open(p).read().strip().splitlines()[-1]))

    # The verdict.
    print()
    print("Verdict:")
    fails = 0
    base_min = int(env["BASE"])
    by_min = {s["minute"]: s for s in samples}
    base = by_min.get(str(base_min))
    last_run = [s for s in samples if s["minute"] != "end"]
    end = by_min.get("end")
    if base and last_run and end:
        grow = (last_run[-1]["rss"] - base["rss"]) / 1024
        peak = (max(s["rss"] for s in last_run if int(s["minute"]) >= base_min) - base["rss"]) / 1024
        ok = grow <= 2.0
        aim = env.get("RSS_AIM", "1") != "0"
        fails += aim and not ok
        print("- RSS from minute %d to minute %s: %+.1f MiB (peak %+.1f MiB; aim at most +2 MiB): %s"
              % (base_min, last_run[-1]["minute"], grow, peak,
                 ("pass" if ok else "FAIL") if aim else "reported only (SOAK_RSS_AIM=0)"))
        # Two samples under churn swing by a few MiB (buffers of the connections of the
        # moment): the trend over every minute from the base, and the settled figure, say
        # whether it is a leak.
        pts = [(int(s["minute"]), s["rss"] / 1024) for s in last_run
               if int(s["minute"]) >= base_min]
        if len(pts) >= 3:
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            slope = (sum((x - mx) * (y - my) for x, y in pts)
                     / sum((x - mx) ** 2 for x, _ in pts))
            print("  trend from minute %d (least squares): %+.2f MiB an hour" % (base_min,
                                                                              slope * 60))
        print("  after the settle: %.1f MiB (%+.1f MiB from minute %d)"
              % (end["rss"] / 1024, (end["rss"] - base["rss"]) / 1024, base_min))
        for k in ("fds", "threads"):
            ok = end[k] <= base[k]
            fails += not ok
            print("- %s at minute %d %d, at the end (churn stopped, %s s settle) %d: %s"
                  % (k, base_min, base[k], env.get("SETTLE", "?"), end[k],
                     "pass" if ok else "FAIL"))
    else:
        fails += 1
        print("- FAIL: no sample at minute %d or at the end" % base_min)
    rep = [k for k, n in settle.items() if n >= 2]
    ok = not rep
    fails += not ok
    print("- errors repeating without cause (ERROR/WARN twice or more in the settle, with the "
          "churn stopped and the tracker up): %s" % ("none: pass" if ok else "FAIL: " + "; ".join(
              "%d x `%s`" % (settle[k], k) for k in rep[:5])))
    acked = {}
    for line in open(os.path.join(w, "acked.txt")):
        h, k = line.split()
        acked[h] = k
    after = set()
    try:
        after = {x["info_hash"] for x in json.load(open(os.path.join(w, "after.json")))}
    except (OSError, ValueError):
        pass
    missing = [h for h in acked if h not in after]
    extra = len(after - set(acked))
    ok = bool(after) and not missing
    fails += not ok
    print("- after the restart: %d of %d acknowledged torrents listed%s%s: %s" % (
        len(acked) - len(missing), len(acked),
        " (missing: %s)" % ", ".join("%s %s" % (h[:12], acked[h]) for h in missing[:8])
        if missing else "",
        "; %d listed that were removed" % extra if extra else "",
        "pass" if ok else "FAIL"))
    print("- the stop: %s" % env.get("STOP_NOTE", "?"))
    try:
        rl = [line for line in open(os.path.join(w, "ttui", "restart.log"), errors="replace")
              if LOG_RE.match(line)]
        print("- the restart's log: %d ERROR/WARN lines%s" % (
            len(rl), (": " + normalize(LOG_RE.match(rl[0]).group(3))) if rl else ""))
    except OSError:
        pass
    print()
    print("soak: %s" % ("every aim met" if fails == 0 else "%d aim(s) missed" % fails))
    sys.exit(1 if fails else 0)


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dht")
    d.add_argument("ips")
    d.add_argument("port", type=int)
    p = sub.add_parser("peers")
    p.add_argument("--name", default="lo")
    p.add_argument("--ips", required=True)
    p.add_argument("--ttui", required=True)
    p.add_argument("--library", required=True)
    p.add_argument("--downloads", required=True)
    p.add_argument("--ddata", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--live", type=int, default=4)
    p.add_argument("--leech", type=int, default=8, help="library torrents a peer leeches")
    p.add_argument("--min-life", type=float, default=5)
    p.add_argument("--max-life", type=float, default=30)
    p.add_argument("--every", type=float, default=3)
    p.add_argument("--cap", type=int, default=100 * 1024)
    p.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("churn")
    c.add_argument("--ttui", required=True)
    c.add_argument("--state", required=True)
    c.add_argument("--work", required=True)
    c.add_argument("--data", required=True, help="the library's and the churn set's data")
    c.add_argument("--dl-dir", required=True, help="where ttui downloads")
    c.add_argument("--kinds", required=True,
                   help="file: info hash, kind and .torrent path, one torrent a line")
    c.add_argument("--rpc", required=True)
    c.add_argument("--qbt", required=True)
    c.add_argument("--tmux", required=True)
    c.add_argument("--tracker-cmd", required=True, help="argv joined by \\x1f")
    c.add_argument("--tracker-up", type=float, default=60)
    c.add_argument("--tracker-down", type=float, default=20)
    c.add_argument("--every", type=float, default=3, help="seconds between verbs")
    c.add_argument("--recycle", type=float, default=45, help="seconds between download recycles")
    c.add_argument("--stream-every", type=float, default=5)
    c.add_argument("--seed", type=int, default=7)
    s = sub.add_parser("logscan")
    s.add_argument("log")
    s.add_argument("out")
    r = sub.add_parser("report")
    r.add_argument("work")
    a = ap.parse_args()
    {"dht": cmd_dht, "peers": cmd_peers, "churn": cmd_churn, "logscan": cmd_logscan,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
