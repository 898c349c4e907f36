"""One call list, run by `qbittorrent-api` or `aioqbt` (PyPI) against one qBittorrent Web API
server (ttui's or qbittorrent-nox's); tests/faces/qbt_tools.rs runs it against both and
nox_compare.py compares what each server answered. nox_calls.mjs is the same list for
`@ctrl/qbittorrent` (npm): keep the two in step (nox_compare.py checks that every client
recorded the same steps).

    nox_calls.py qbapi|aioqbt JOB.json OUT.json

JOB.json: {"url", "user", "password", "lib" (the save path; alpha.bin's data is there),
"setup" (true: add alpha and beta first), "torrents": {"alpha"|"beta"|"gamma": {"path",
"hash"}}}. OUT.json: {step: answer} in the order of the list, where an answer is the
server's JSON as the client returned it, "ok" for a call without an answer, or {"error":
"..."} when the client raised. A step that waits gives up after WAIT seconds and records
what it last saw.

The list: login; app/version, app/webapiVersion, app/preferences; (setup: torrents/add of
alpha, complete where it is saved, and of beta, paused; both waited for); torrents/info;
torrents/properties, files and trackers of alpha and beta; createCategory cat-CLIENT,
torrents/categories; createTags tag-CLIENT, addTags tag-CLIENT and x-CLIENT to beta,
torrents/tags; sync/maindata rid=0, setCategory beta cat-CLIENT, sync/maindata at that rid;
pause alpha (stop in 5.x), info once paused; resume (start), info once seeding; rename beta
beta-CLIENT, info at once; torrents/add gamma paused with cat-CLIENT and tag-CLIENT, info; delete
gamma (not its files), info once gone. aioqbt adds twenty logins in a row, each listing.
"""
import asyncio
import json
import sys
import time
import traceback

WAIT = 20.0
PAUSED = {"pausedUP", "pausedDL", "stoppedUP", "stoppedDL"}
SEEDING = {"uploading", "stalledUP", "queuedUP", "forcedUP"}


class QbApi:
    """qbittorrent-api: synchronous, on requests."""

    def __init__(self, job):
        import qbittorrentapi

        self.c = qbittorrentapi.Client(
            host=job["url"], username=job["user"], password=job["password"],
            REQUESTS_ARGS={"timeout": (5, 15)})

    def close(self):
        pass

    def login(self):
        self.c.auth_log_in()
        return self.c.is_logged_in

    def version(self):
        return self.c.app_version()

    def webapi_version(self):
        return self.c.app_web_api_version()

    def preferences(self):
        return dict(self.c.app_preferences())

    def add(self, path, save_path, paused, category=None, tags=None):
        with open(path, "rb") as f:
            answer = self.c.torrents_add(
                torrent_files={"t.torrent": f.read()}, save_path=save_path,
                is_paused=paused, category=category, tags=tags)
        return answer

    def info(self, hashes=None):
        return [dict(t) for t in self.c.torrents_info(torrent_hashes=hashes)]

    def properties(self, h):
        return dict(self.c.torrents_properties(torrent_hash=h))

    def files(self, h):
        return [dict(f) for f in self.c.torrents_files(torrent_hash=h)]

    def trackers(self, h):
        return [dict(t) for t in self.c.torrents_trackers(torrent_hash=h)]

    def create_category(self, name, save_path):
        self.c.torrents_create_category(name=name, save_path=save_path)

    def categories(self):
        return {k: dict(v) for k, v in self.c.torrents_categories().items()}

    def create_tags(self, tags):
        self.c.torrents_create_tags(tags=tags)

    def add_tags(self, h, tags):
        self.c.torrents_add_tags(tags=tags, torrent_hashes=h)

    def tags(self):
        return list(self.c.torrents_tags())

    def maindata(self, rid):
        return json.loads(json.dumps(self.c.sync_maindata(rid=rid)))

    def set_category(self, h, category):
        self.c.torrents_set_category(category=category, torrent_hashes=h)

    def pause(self, h):
        self.c.torrents_stop(torrent_hashes=h)

    def resume(self, h):
        self.c.torrents_start(torrent_hashes=h)

    def rename(self, h, name):
        self.c.torrents_rename(torrent_hash=h, new_torrent_name=name)

    def delete(self, h):
        self.c.torrents_delete(delete_files=False, torrent_hashes=h)


class AioQbt:
    """aioqbt: asyncio, on aiohttp; every call run to its end here."""

    def __init__(self, job):
        from aioqbt.client import create_client
        from aioqbt.mapper import inspect_raw_data

        def raw(obj):
            try:
                return inspect_raw_data(obj)
            except LookupError:  # a plain mapping already (app/preferences)
                return obj

        self.raw = raw
        self.loop = asyncio.new_event_loop()
        # aiohttp's cookie jar keeps no cookie from an IP address: name the host.
        self.url = job["url"].replace("://127.0.0.1:", "://localhost:").rstrip("/") + "/api/v2/"
        self.job = job
        self.create = create_client
        self.c = None

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, 15))

    def close(self):
        if self.c is not None:
            self.run(self.c.close())
        self.loop.close()

    def login(self):
        self.c = self.run(self.create(
            self.url, username=self.job["user"], password=self.job["password"],
            logout_when_close=True))
        return True

    def twenty_logins(self, want):
        """Twenty logins in a row, each listing `want`; how many did."""
        good = 0
        for _ in range(20):
            c = self.run(self.create(
                self.url, username=self.job["user"], password=self.job["password"],
                logout_when_close=True))
            try:
                if want in [t.hash for t in self.run(c.torrents.info())]:
                    good += 1
            finally:
                self.run(c.close())
        return good

    def version(self):
        return self.run(self.c.app.version())

    def webapi_version(self):
        return str(self.run(self.c.app.webapi_version()))

    def preferences(self):
        return dict(self.raw(self.run(self.c.app.preferences())))

    def add(self, path, save_path, paused, category=None, tags=None):
        from aioqbt.api import AddFormBuilder

        with open(path, "rb") as f:
            data = f.read()
        b = AddFormBuilder.with_client(self.c).include_file(data, "t.torrent")
        b = b.savepath(save_path).stopped(paused)
        if category is not None:
            b = b.category(category)
        if tags is not None:
            b = b.tags(tags)
        self.run(self.c.torrents.add(b.build()))

    def info(self, hashes=None):
        return [dict(self.raw(t)) for t in self.run(self.c.torrents.info(hashes=hashes))]

    def properties(self, h):
        return dict(self.raw(self.run(self.c.torrents.properties(h))))

    def files(self, h):
        return [dict(self.raw(f)) for f in self.run(self.c.torrents.files(h))]

    def trackers(self, h):
        return [dict(self.raw(t)) for t in self.run(self.c.torrents.trackers(h))]

    def create_category(self, name, save_path):
        self.run(self.c.torrents.create_category(name, save_path))

    def categories(self):
        return {k: dict(self.raw(v)) for k, v in self.run(self.c.torrents.categories()).items()}

    def create_tags(self, tags):
        self.run(self.c.torrents.create_tags(tags))

    def add_tags(self, h, tags):
        self.run(self.c.torrents.add_tags([h], tags))

    def tags(self):
        return list(self.run(self.c.torrents.tags()))

    def maindata(self, rid):
        return json.loads(json.dumps(self.raw(self.run(self.c.sync.maindata(rid)))))

    def set_category(self, h, category):
        self.run(self.c.torrents.set_category([h], category))

    def pause(self, h):
        self.run(self.c.torrents.stop([h]))

    def resume(self, h):
        self.run(self.c.torrents.start([h]))

    def rename(self, h, name):
        self.run(self.c.torrents.rename(h, name))

    def delete(self, h):
        self.run(self.c.torrents.delete([h], False))


def main():
    which, job_path, out_path = sys.argv[1:4]
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    t = job["torrents"]
    alpha, beta, gamma = (t[n]["hash"] for n in ("alpha", "beta", "gamma"))
    c = {"qbapi": QbApi, "aioqbt": AioQbt}[which](job)
    out = {}

    def step(name, fn, none="ok"):
        try:
            got = fn()
            out[name] = none if got is None else got
        except Exception as e:  # recorded, compared: one server's error is a difference
            out[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: {traceback.format_exc()}", file=sys.stderr)
        return out[name]

    def one(h):
        rows = c.info([h])
        return rows[0] if rows else None

    def wait(name, h, done):
        """Polls torrents/info of `h` until `done(row)`; records the last row seen."""
        end = time.monotonic() + WAIT
        while True:
            row = step(name, lambda: one(h), none=None)
            if done(row) or time.monotonic() > end:
                return row
            time.sleep(0.25)

    def state(row):
        return row.get("state") if isinstance(row, dict) else None

    try:
        if step("login", c.login) is not True:
            raise SystemExit(f"login failed: {out['login']}")
        step("app/version", c.version)
        step("app/webapiVersion", c.webapi_version)
        step("app/preferences", c.preferences)
        if job["setup"]:
            step("add alpha", lambda: c.add(t["alpha"]["path"], job["lib"], False))
            step("add beta", lambda: c.add(t["beta"]["path"], job["lib"], True))
            wait("setup: alpha seeding", alpha,
                 lambda r: state(r) in SEEDING and r.get("progress") == 1)
            wait("setup: beta paused", beta, lambda r: state(r) in PAUSED)
        step("torrents/info", c.info)
        for n, h in (("alpha", alpha), ("beta", beta)):
            step(f"torrents/properties {n}", lambda: c.properties(h))
            step(f"torrents/files {n}", lambda: c.files(h))
            step(f"torrents/trackers {n}", lambda: c.trackers(h))
        cat, tag, x = f"cat-{which}", f"tag-{which}", f"x-{which}"
        step("createCategory", lambda: c.create_category(cat, ""))
        step("torrents/categories", c.categories)
        step("createTags", lambda: c.create_tags([tag]))
        step("addTags beta", lambda: c.add_tags(beta, [tag, x]))
        step("torrents/tags", c.tags)
        full = step("sync/maindata rid=0", lambda: c.maindata(0))
        step("setCategory beta", lambda: c.set_category(beta, cat))
        rid = full.get("rid", 0) if isinstance(full, dict) else 0
        step("sync/maindata rid=N", lambda: c.maindata(rid))
        step("pause alpha", lambda: c.pause(alpha))
        wait("alpha once paused", alpha, lambda r: state(r) in PAUSED)
        step("resume alpha", lambda: c.resume(alpha))
        wait("alpha once resumed", alpha, lambda r: state(r) in SEEDING)
        step("rename beta", lambda: c.rename(beta, f"beta-{which}"))
        # Read at once: qBittorrent lists the new name as soon as it answers.
        step("beta once renamed", lambda: one(beta), none=None)
        step("add gamma", lambda: c.add(t["gamma"]["path"], job["lib"], True, cat, [tag]))
        wait("gamma once added", gamma, lambda r: state(r) in PAUSED)
        step("delete gamma", lambda: c.delete(gamma))
        wait("gamma once deleted", gamma, lambda r: r is None)
        if which == "aioqbt":
            step("twenty logins in a row", lambda: c.twenty_logins(alpha))
    finally:
        c.close()
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=False)
    print("PHASE OK")


main()
