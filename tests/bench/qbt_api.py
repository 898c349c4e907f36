#!/usr/bin/env python3
"""The HTTP/JSON and timing half of tests/bench/qbt_api.sh (standard library only).

    qbt_api.py add URL USER PASS TORRENT_DIR SAVE_PATH CONNS BATCH
        torrents/add of every .torrent, BATCH files a multipart form, CONNS connections at
        once, with `skip_checking=true` and `savepath`: the data is there, so the torrent
        seeds without a check; prints the count
    qbt_api.py wait URL USER PASS N TIMEOUT
        until torrents/info lists N torrents, all seeding (stalledUP or uploading); prints
        seconds
    qbt_api.py bench CALLS SETTLE USER PASS NAME=URL@PID...
        the qBittorrent API figures (below), the servers taking turns call by call
    qbt_api.py tbench CALLS SETTLE NAME=URL@PID...
        the Transmission RPC figures (below), the same way

URL is a server's `.../api/v2` (or, for tbench, its `/transmission/rpc`). Every qBittorrent
call carries the `SID` cookie that `auth/login` set, as qBittorrent's tools do; a 403 logs in
again once. One keep-alive connection a server, no compression asked (http.client sends
`Accept-Encoding: identity`). A call's latency runs from sending the request to the last
byte of the answer; the JSON is parsed afterwards, outside the time, to check it.

Figures (each printed as `NAME WHAT median_ms p99_ms cpu_ms_per_call bytes note`; p99 is
the nearest rank, so of 50 calls the slowest; cpu is the server's time on a CPU, all threads,
in nanoseconds from /proc/PID/task/*/schedstat (utime+stime of /proc/PID/stat counts in 10 ms
ticks, coarser than a call of a few ms), read right before and right after each call, summed
and divided by the calls; bytes is the largest answer):
    info     torrents/info, no parameter: every torrent, every field (note: torrents)
    full     sync/maindata?rid=0 (note: torrents)
    incr     sync/maindata?rid=R, R the rid of the answer before, after one torrent's category
             was set (to `bench-a` and `bench-b` in turn; the change and SETTLE seconds after
             it are outside the time and the CPU); note: `C/CALLS` answers that carried the
             change, and the most torrents one answer held
    sonarr   torrent-get of every torrent with Sonarr's fields (rpc_scale.py's SONARR)
    recent   torrent-get with `ids: "recently-active"` and Sonarr's fields, after one
             torrent was stopped or started (in turn, whichever changes it first); note as for
             incr
The Transmission RPC's calls reuse rpc_scale.py's client (the session-id exchange).
"""
import concurrent.futures
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc_scale  # noqa: E402  (the Transmission RPC client, Sonarr's fields, pct)



def cpu_ns(pid: int) -> int:
    """Nanoseconds that PID's threads have run (the first field of each thread's schedstat).
    A thread that ends between two reads takes its time with it: the servers' request threads
    live on (tokio's workers, Transmission's and qBittorrent's event loops)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total
# Seconds tbench waits for the recently-active lists to empty before its changes.
RECENT_WAIT = 150


class Qbt(rpc_scale.Rpc):
    """One keep-alive connection to a qBittorrent Web API (`.../api/v2`), logged in; the
    transport is rpc_scale.py's (`exchange`)."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 300.0):
        super().__init__(url, timeout)
        self.base = urllib.parse.urlsplit(url).path.rstrip("/")
        self.user, self.password = user, password
        self.cookie = ""
        self.login()

    def _send(self, method: str, call: str, body: bytes, ctype: str | None):
        """(response, answer bytes, seconds from sending to the last byte)."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if ctype:
            headers["Content-Type"] = ctype
        return self.exchange(method, f"{self.base}/{call}", body or None, headers)

    def login(self) -> None:
        self.cookie = ""
        form = urllib.parse.urlencode({"username": self.user, "password": self.password})
        r, data, _ = self._send("POST", "auth/login", form.encode(),
                                "application/x-www-form-urlencoded")
        if r.status != 200 or data.strip() != b"Ok.":
            raise RuntimeError(f"auth/login: HTTP {r.status}: {data[:200]!r}")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("SID="):
                self.cookie = v.split(";", 1)[0]
        if not self.cookie:
            raise RuntimeError("auth/login: Ok. without a SID cookie")

    def call(self, method: str, call: str, body: bytes = b"", ctype: str | None = None):
        """(answer bytes, seconds); logs in again once on 403."""
        for _ in range(2):
            r, data, dt = self._send(method, call, body, ctype)
            if r.status == 403:
                self.login()
                continue
            if r.status != 200:
                raise RuntimeError(f"{call}: HTTP {r.status}: {data[:200]!r}")
            return data, dt
        raise RuntimeError(f"{call}: 403 after a fresh login")

    def get(self, call: str, **params) -> tuple[bytes, float]:
        q = urllib.parse.urlencode(params)
        return self.call("GET", f"{call}?{q}" if q else call)

    def post(self, call: str, **form) -> bytes:
        body = urllib.parse.urlencode(form).encode()
        data, _ = self.call("POST", call, body, "application/x-www-form-urlencoded")
        return data


def multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of text fields and `torrents` file parts."""
    b = uuid.uuid4().hex
    out = []
    for k, v in fields.items():
        out.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for name, data in files:
        out.append(f'--{b}\r\nContent-Disposition: form-data; name="torrents"; '
                   f'filename="{name}"\r\nContent-Type: application/x-bittorrent\r\n\r\n'.encode())
        out.append(data + b"\r\n")
    out.append(f"--{b}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={b}"


def cmd_add(url, user, password, tdir, save, conns, batch) -> None:
    names = sorted(n for n in os.listdir(tdir) if n.endswith(".torrent"))
    batches = [names[i:i + batch] for i in range(0, len(names), batch)]
    local = threading.local()

    def add(group: list[str]) -> None:
        if not hasattr(local, "api"):
            local.api = Qbt(url, user, password)
        files = []
        for n in group:
            with open(os.path.join(tdir, n), "rb") as f:
                files.append((n, f.read()))
        body, ctype = multipart({"savepath": save, "skip_checking": "true"}, files)
        data, _ = local.api.call("POST", "torrents/add", body, ctype)
        if data.strip() != b"Ok.":
            raise RuntimeError(f"torrents/add {group[0]}..: {data[:200]!r}")

    with concurrent.futures.ThreadPoolExecutor(conns) as pool:
        for _ in pool.map(add, batches):
            pass
    print(len(names))


SEEDING = ("stalledUP", "uploading")


def cmd_wait(url, user, password, n, limit) -> None:
    t0 = time.monotonic()
    got, seeding = 0, 0
    api = None
    while time.monotonic() - t0 < limit:
        try:
            api = api or Qbt(url, user, password)
            data, _ = api.get("torrents/info")
            t = json.loads(data)
            got, seeding = len(t), sum(1 for x in t if x.get("state") in SEEDING)
        except (RuntimeError, OSError, ValueError):
            api = None
        if got >= n and seeding >= n:
            print(f"{time.monotonic() - t0:.2f}")
            return
        time.sleep(1)
    sys.exit(f"wait: {got} listed, {seeding} seeding of {n} after {limit:.0f} s")


def servers_of(specs: list[str], connect) -> list[tuple[str, object, int]]:
    out = []
    for s in specs:
        name, rest = s.split("=", 1)
        url, pid = rest.rsplit("@", 1)
        out.append((name, connect(url), int(pid)))
    return out


def turns(servers, calls, call, change=None, settle=0.0):
    """Calls `call(i, name, client) -> (bytes, seconds)` CALLS times a server, the servers
    taking turns (the order flips every call, so neither always follows the other). With
    `change(i, name, client)`, every server's change is made first and SETTLE seconds pass,
    outside the time and the CPU. Returns per name: (ms list, cpu ns, answers)."""
    out = {name: ([], 0, []) for name, _, _ in servers}
    for i in range(calls):
        if change is not None:
            for name, c, _ in servers:
                change(i, name, c)
            time.sleep(settle)
        order = servers if i % 2 == 0 else servers[::-1]
        for name, c, pid in order:
            c0 = cpu_ns(pid)
            data, dt = call(i, name, c)
            lat, cpu, answers = out[name]
            out[name] = (lat + [dt * 1000], cpu + cpu_ns(pid) - c0, answers + [data])
    return out


def report(what, out, calls, note) -> None:
    """One line a server; `note(name, answers)` says what the answers held."""
    for name, (lat, cpu, answers) in out.items():
        size = max(len(a) for a in answers)
        print(f"{name} {what} {rpc_scale.pct(lat, 50):.2f} {rpc_scale.pct(lat, 99):.2f} "
              f"{cpu / 1e6 / calls:.2f} {size} {note(name, answers)}")
        sys.stdout.flush()


def cmd_bench(calls, settle, user, password, specs) -> None:
    servers = servers_of(specs, lambda url: Qbt(url, user, password))
    # The torrent to change, by hash (the same in every server), and its two categories.
    first = {}
    for name, api, _ in servers:
        for cat in ("bench-a", "bench-b"):
            try:
                api.post("torrents/createCategory", category=cat, savePath="")
            except RuntimeError as e:  # 409: there already (a second run on one state)
                if "409" not in str(e):
                    raise
        data, _ = api.get("torrents/info", sort="name", limit="1")
        first[name] = json.loads(data)[0]["hash"]
    hashes = set(first.values())
    if len(hashes) != 1:
        sys.exit(f"bench: the servers' first torrents differ: {first}")
    target = hashes.pop()

    def count(name, answers):
        return str(min(len(json.loads(a)) for a in answers))

    out = turns(servers, calls, lambda i, n, c: c.get("torrents/info"))
    report("info", out, calls, count)
    out = turns(servers, calls, lambda i, n, c: c.get("sync/maindata", rid="0"))
    report("full", out, calls, lambda n, a: str(min(len(json.loads(x)["torrents"]) for x in a)))

    rid = {name: json.loads(api.get("sync/maindata", rid="0")[0])["rid"]
           for name, api, _ in servers}

    def change(i, name, api):
        api.post("torrents/setCategory", hashes=target, category=("bench-a", "bench-b")[i % 2])

    def incr(i, name, api):
        data, dt = api.get("sync/maindata", rid=str(rid[name]))
        rid[name] = json.loads(data)["rid"]
        return data, dt

    def carried(name, answers):
        js = [json.loads(a) for a in answers]
        got = sum(1 for i, j in enumerate(js) if j.get("torrents", {}).get(target, {})
                  .get("category") == ("bench-a", "bench-b")[i % 2])
        full = sum(1 for j in js if j.get("full_update"))
        most = max(len(j.get("torrents", {})) for j in js)
        return f"{got}/{len(js)}:most={most}:full_updates={full}"

    out = turns(servers, calls, incr, change, settle)
    report("incr", out, calls, carried)


def cmd_tbench(calls, settle, specs) -> None:
    servers = servers_of(specs, rpc_scale.Rpc)
    fields = rpc_scale.SONARR
    first = {}
    for name, rpc, _ in servers:
        t = rpc.call("torrent-get", {"fields": ["name", "hashString", "status"]})["torrents"]
        first[name] = min(t, key=lambda x: x["name"])
    hashes = {t["hashString"] for t in first.values()}
    if len(hashes) != 1:
        sys.exit(f"tbench: the servers' first torrents differ: {first}")
    target = hashes.pop()
    # A stopped torrent (status 0) is started first, a running one stopped first, so that
    # every change is one.
    verbs = {name: ("torrent-start", "torrent-stop") if t["status"] == 0
             else ("torrent-stop", "torrent-start") for name, t in first.items()}

    def count(name, answers):
        return str(min(len(json.loads(a)["arguments"]["torrents"]) for a in answers))

    out = turns(servers, calls, lambda i, n, r: r.raw("torrent-get", {"fields": fields}))
    report("sonarr", out, calls, count)

    # What the adds and the start touched counts as recently active for 60 s (Transmission's
    # RECENTLY_ACTIVE_SECONDS): wait, at most RECENT_WAIT s, until neither server's list
    # holds more than one torrent, so that each figure's answer is the incremental form.
    t0 = time.monotonic()
    while True:
        held = {name: len(rpc.call("torrent-get", {"ids": "recently-active",
                                                   "fields": ["id"]})["torrents"])
                for name, rpc, _ in servers}
        if max(held.values()) <= 1 or time.monotonic() - t0 > RECENT_WAIT:
            break
        time.sleep(2)
    print(f"# recently-active before the changes, after {time.monotonic() - t0:.0f} s: {held}",
          file=sys.stderr)

    def change(i, name, rpc):
        rpc.call(verbs[name][i % 2], {"ids": [target]})

    def recent(i, name, rpc):
        return rpc.raw("torrent-get", {"ids": "recently-active", "fields": fields})

    def carried(name, answers):
        ts = [json.loads(a)["arguments"]["torrents"] for a in answers]
        got = sum(1 for t in ts if any(x.get("hashString") == target for x in t))
        most = max(len(t) for t in ts)
        return f"{got}/{len(ts)}:most={most}"

    out = turns(servers, calls, recent, change, settle)
    report("recent", out, calls, carried)


def main() -> None:
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "add":
        cmd_add(a[1], a[2], a[3], a[4], a[5], int(a[6]), int(a[7]))
    elif a[0] == "wait":
        cmd_wait(a[1], a[2], a[3], int(a[4]), float(a[5]))
    elif a[0] == "bench":
        cmd_bench(int(a[1]), float(a[2]), a[3], a[4], a[5:])
    elif a[0] == "tbench":
        cmd_tbench(int(a[1]), float(a[2]), a[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
