"""Compares what ttui and qbittorrent-nox 4.5 answered to one call list (nox_calls.py and
nox_calls.mjs, run by tests/faces/qbt_tools.rs), client by client.

    nox_compare.py assets/man/qbt.md CALLS_DIR

CALLS_DIR holds job-CLIENT-SERVER.json and out-CLIENT-SERVER.json for the clients qbapi,
aioqbt and ctrl and the servers ttui and nox. Prints one line per difference:

    DIFF <client> | <step> | <key> | ttui=<value> | nox=<value>   [allowed: <reason>]

and exits 1 when a difference is not allowed by ALLOWED below, when an entry of ALLOWED
quotes words assets/man/qbt.md does not hold, or when an entry allowed nothing (it has gone
stale). PHASE OK at the end otherwise.

What is compared: every step's success (an error on one side only is a difference); the
versions' shape; every key of nox's app/preferences, torrent objects (torrents/info,
sync/maindata), properties, files, tracker rows, server_state and sync/maindata's top level
is in ttui's (ttui may have more); for the same meaning the same value: a torrent's name,
size, progress, state class (paused, seeding, checking, downloading), hash, category, tags
and save path (each server's library made `<lib>`), the properties' sizes and piece counts,
the files' names, sizes and progress, the tracker rows (the DHT, PeX and LSD rows whole; a
tracker's url and tier), categories, tags, the incremental sync's change of category, and
the twenty logins.
"""
import json
import re
import sys
from pathlib import Path

# Every difference ttui's manual (assets/man/qbt.md) states. (step pattern, key pattern,
# words of the manual, why). Patterns are full-match regular expressions; the manual's
# words are matched with runs of white space made one space.
ALLOWED = [
    ("app/version", "value",
     "It reports qBittorrent `v5.0.0`",
     "ttui answers as qBittorrent 5.0"),
    ("app/webapiVersion", "value",
     "Web API `2.11.2`",
     "ttui answers as qBittorrent 5.0's Web API"),
    ("torrents/properties .*", "creation_date|created_by",
     "`creation_date`, `comment` and `created_by` are not kept",
     "ttui does not keep the metainfo's creation date, comment and creator"),
    ("sync/maindata rid=0", "trackers",
     "The `trackers` map of qBittorrent 4.5 and later (tracker URL to hashes) is not sent",
     "not built by ttui's sync"),
    ("sync/maindata rid=0", "server_state.(average_time_queue|queued_io_jobs|read_cache_hits"
     "|read_cache_overload|total_buffers_size|total_queued_size|total_wasted_session"
     "|write_cache_overload)",
     "`server_state` lacks its disk cache keys",
     "ttui has no disk cache to report on"),
    ("torrents/files beta", r"\[\d+\]\.name",
     "its top-level folder (or single file) is renamed on disk too, where qBittorrent "
     "changes only the name it shows",
     "ttui's torrents/rename renames the content, so the files' paths start with the new name"),
]

CLIENTS = ["qbapi", "aioqbt", "ctrl"]
PAUSED = {"pausedUP", "pausedDL", "stoppedUP", "stoppedDL"}
SEEDING = {"uploading", "stalledUP", "queuedUP", "forcedUP"}
CHECKING = {"checkingUP", "checkingDL", "checkingResumeData", "moving"}
DOWNLOADING = {"downloading", "stalledDL", "queuedDL", "forcedDL", "metaDL", "forcedMetaDL"}
PSEUDO = ("** [DHT] **", "** [PeX] **", "** [LSD] **")
VERSION = re.compile(r"v\d+\.\d+\.\d+")
API_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")


def state_class(s):
    for name, states in (("paused", PAUSED), ("seeding", SEEDING), ("checking", CHECKING),
                         ("downloading", DOWNLOADING)):
        if s in states:
            return name
    return f"other ({s})"


class Compare:
    def __init__(self, client, libs):
        self.client = client
        self.libs = libs  # server -> its library
        self.found = []  # (step, key, ttui, nox)

    def diff(self, step, key, t, n):
        self.found.append((step, key, t, n))

    def norm_path(self, server, p):
        if not isinstance(p, str):
            return p
        lib = self.libs[server].rstrip("/")
        p = p.rstrip("/")
        return "<lib>" + p[len(lib):] if p == lib or p.startswith(lib + "/") else p

    def keys(self, step, where, t, n):
        """Every key of nox's object is in ttui's."""
        if not isinstance(t, dict) or not isinstance(n, dict):
            self.diff(step, where or "value", t, n)
            return
        for k in sorted(set(n) - set(t)):
            self.diff(step, f"{where}.{k}" if where else k, "(missing)", n[k])

    def same(self, step, key, t, n):
        if t != n:
            self.diff(step, key, t, n)

    def torrent(self, step, t, n, where=""):
        """A torrent object of torrents/info or sync/maindata."""
        if t is None or n is None:
            if (t is None) != (n is None):
                self.diff(step, where or "torrent", t and t.get("name"), n and n.get("name"))
            return
        self.keys(step, where, t, n)
        p = f"{where}." if where else ""
        for k in ("name", "size", "progress", "hash", "category"):
            self.same(step, p + k, t.get(k), n.get(k))
        self.same(step, p + "state class", state_class(t.get("state")),
                  state_class(n.get("state")))
        tags = lambda x: sorted(filter(None, (s.strip() for s in str(x.get("tags", "")).split(","))))
        self.same(step, p + "tags", tags(t), tags(n))
        self.same(step, p + "save_path", self.norm_path("ttui", t.get("save_path")),
                  self.norm_path("nox", n.get("save_path")))

    def torrent_list(self, step, t, n):
        if not isinstance(t, list) or not isinstance(n, list):
            self.diff(step, "value", t, n)
            return
        tt = {x.get("hash"): x for x in t}
        nn = {x.get("hash"): x for x in n}
        self.same(step, "hashes", sorted(tt), sorted(nn))
        for h in sorted(set(tt) & set(nn)):
            self.torrent(step, tt[h], nn[h], nn[h].get("name", h))

    def step(self, step, t, n):
        terr = isinstance(t, dict) and set(t) == {"error"}
        nerr = isinstance(n, dict) and set(n) == {"error"}
        if terr or nerr:
            if terr != nerr:
                self.diff(step, "error", t, n)
            return
        if step == "app/version":
            for who, v in (("ttui", t), ("nox", n)):
                if not (isinstance(v, str) and VERSION.fullmatch(v)):
                    self.diff(step, f"shape ({who})", t, n)
            self.same(step, "value", t, n)
        elif step == "app/webapiVersion":
            for who, v in (("ttui", t), ("nox", n)):
                if not (isinstance(v, str) and API_VERSION.fullmatch(v)):
                    self.diff(step, f"shape ({who})", t, n)
            self.same(step, "value", t, n)
        elif step == "app/preferences":
            self.keys(step, "", t, n)
        elif step == "torrents/info":
            self.torrent_list(step, t, n)
        elif step.startswith(("setup: ", "alpha once", "beta once", "gamma once")):
            self.torrent(step, t, n)
        elif step.startswith("torrents/properties"):
            self.keys(step, "", t, n)
            for k in ("total_size", "piece_size", "pieces_num", "pieces_have", "creation_date",
                      "created_by", "comment", "dl_limit", "up_limit"):
                self.same(step, k, t.get(k), n.get(k))
            self.same(step, "save_path", self.norm_path("ttui", t.get("save_path")),
                      self.norm_path("nox", n.get("save_path")))
        elif step.startswith("torrents/files"):
            self.same(step, "rows", len(t), len(n))
            for i, (a, b) in enumerate(zip(t, n)):
                # qBittorrent 4.5 sends is_seed in the first row only.
                self.keys(step, f"[{i}]", a, {k: v for k, v in b.items() if k != "is_seed"})
                for k in ("index", "name", "size", "progress", "priority", "piece_range"):
                    self.same(step, f"[{i}].{k}", a.get(k), b.get(k))
        elif step.startswith("torrents/trackers"):
            self.same(step, "urls", [r.get("url") for r in t], [r.get("url") for r in n])
            for a, b in zip(t, n):
                url = b.get("url")
                self.keys(step, url, a, b)
                if url in PSEUDO:
                    for k in sorted(b):
                        self.same(step, f"{url}.{k}", a.get(k), b.get(k))
                else:
                    self.same(step, f"{url}.tier", a.get("tier"), b.get("tier"))
        elif step == "torrents/categories":
            name = f"cat-{self.client}"
            a, b = t.get(name), n.get(name)
            self.keys(step, name, a, b)
            if isinstance(a, dict) and isinstance(b, dict):
                self.same(step, f"{name}.name", a.get("name"), b.get("name"))
                self.same(step, f"{name}.savePath", self.norm_path("ttui", a.get("savePath")),
                          self.norm_path("nox", b.get("savePath")))
        elif step == "torrents/tags":
            self.same(step, "tags", sorted(t), sorted(n))
        elif step == "sync/maindata rid=0":
            self.keys(step, "", t, n)
            self.same(step, "full_update", t.get("full_update"), n.get("full_update"))
            self.keys(step, "server_state", t.get("server_state"), n.get("server_state"))
            tt, nn = t.get("torrents", {}), n.get("torrents", {})
            self.same(step, "torrents", sorted(tt), sorted(nn))
            for h in sorted(set(tt) & set(nn)):
                self.torrent(step, dict(tt[h], hash=h), dict(nn[h], hash=h),
                             f"torrents.{nn[h].get('name', h)}")
            self.same(step, "categories", sorted(t.get("categories", {})),
                      sorted(n.get("categories", {})))
            self.same(step, "tags", sorted(t.get("tags", [])), sorted(n.get("tags", [])))
        elif step == "sync/maindata rid=N":
            self.same(step, "full_update", bool(t.get("full_update")),
                      bool(n.get("full_update")))
            beta = self.beta
            cat = lambda x: x.get("torrents", {}).get(beta, {}).get("category")
            self.same(step, "torrents.beta.category", cat(t), cat(n))
        elif step == "twenty logins in a row":
            for who, v in (("ttui", t), ("nox", n)):
                if v != 20:
                    self.diff(step, f"logins that listed alpha ({who})", t, n)
        else:
            # The calls that change something, the logins: the same answer.
            self.same(step, "value", t, n)


def squash(text):
    return re.sub(r"\s+", " ", text)


def main():
    man_path, calls = Path(sys.argv[1]), Path(sys.argv[2])
    man = squash(man_path.read_text(encoding="utf-8"))
    failed = False
    for step_re, key_re, words, why in ALLOWED:
        if squash(words) not in man:
            print(f"STALE ALLOWLIST: {step_re} | {key_re}: `{words}` is not in {man_path}")
            failed = True
    used = set()
    steps_of = {}
    for client in CLIENTS:
        out, libs = {}, {}
        for server in ("ttui", "nox"):
            job = json.loads((calls / f"job-{client}-{server}.json").read_text())
            out[server] = json.loads((calls / f"out-{client}-{server}.json").read_text())
            libs[server] = job["lib"]
        c = Compare(client, libs)
        c.beta = job["torrents"]["beta"]["hash"]
        t, n = out["ttui"], out["nox"]
        if list(t) != list(n):
            c.diff("(steps)", "order", list(t), list(n))
        steps_of[client] = [s for s in n if not s.startswith(("setup: ", "add alpha",
                                                              "add beta", "twenty"))]
        for step in n:
            if step in t:
                c.step(step, t[step], n[step])
        for step, key, tv, nv in c.found:
            allowed = next((i for i, (s, k, _, _) in enumerate(ALLOWED)
                            if re.fullmatch(s, step) and re.fullmatch(k, key)), None)
            line = (f"DIFF {client} | {step} | {key} | ttui={json.dumps(tv)[:300]} | "
                    f"nox={json.dumps(nv)[:300]}")
            if allowed is None:
                failed = True
                print(line)
            else:
                used.add(allowed)
                print(f"{line}   [allowed: {ALLOWED[allowed][3]}]")
    # One call list: the three clients made the same calls.
    if len({json.dumps(s) for s in steps_of.values()}) != 1:
        failed = True
        print(f"DIFF the clients' call lists differ: {json.dumps(steps_of)}")
    for i, (s, k, words, _) in enumerate(ALLOWED):
        if i not in used:
            failed = True
            print(f"STALE ALLOWLIST: {s} | {k} allowed no difference: take it out (and `{words}` "
                  "from the manual if it no longer holds)")
    if failed:
        print("FAILED: ttui and qbittorrent-nox differ where the manual does not say so")
        sys.exit(1)
    print("PHASE OK")


main()
