"""Drives a ttui daemon's qBittorrent Web API with the `qbittorrent-api` package (PyPI), as
a script written for qBittorrent would, plus raw requests for the hostile cases.

    driver.py PORT USER PASSWORD HASH TVDIR BAN_SECS first|again B_TORRENT B_HASH C_HASH B_SEED
              C_TORRENT

`first`: login (and a wrong one), categories made/edited/removed (a relative path under the
default save path, `..` refused), the torrent (added with
`ttui add`) polled to completion, its category and tags set over the API, stop/start,
recheck, its limits read back, file priorities, sequential mode, bans, preferences set and
read back, add options, bad input, a login ban that ends; issue 56's third round: log/main
and log/peers, pieceHashes against the .torrent's, addPeers (b's only source is the seeder
at B_SEED, named only there, and b completes), rename, tracker edits announced to (a
tracker of this script's own on loopback), sync/maindata's own fields. `again` (after a
restart of the daemon): what `first` made is still there, the edited tracker too. Prints
PHASE OK at the end; any failed check raises.

"""
import http.server
import sys
import threading
import time
import urllib.parse

import qbittorrentapi
import requests

port, user, password, hash_a, tvdir, ban_secs, phase, b_torrent, hash_b, hash_c, b_seed, c_torrent = \
    sys.argv[1:13]
base = f"http://127.0.0.1:{port}"
api = f"{base}/api/v2"
WAIT = 90


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait(what, pred, limit=WAIT):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out: {what}")


def client():
    c = qbittorrentapi.Client(
        host=base,
        username=user,
        password=password,
        REQUESTS_ARGS={"timeout": 15},
        VERIFY_WEBUI_CERTIFICATE=False,
    )
    c.auth_log_in()
    return c


def info(c, **kw):
    return [t for t in c.torrents_info(**kw)]


def one(c):
    rows = info(c, torrent_hashes=hash_a)
    check(len(rows) == 1, f"one row for {hash_a}: {rows}")
    return rows[0]


def bdecode(data, i=0):
    """The value at data[i:] and where it ends (enough of bencode for a .torrent)."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        items, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


class Announces(http.server.BaseHTTPRequestHandler):
    """A tracker of this script's own: records each announce, answers no peers."""
    seen = []

    def do_GET(self):
        query = self.path.partition("?")[2]
        for part in query.split("&"):
            if part.startswith("info_hash="):
                Announces.seen.append(urllib.parse.unquote_to_bytes(part[10:]).hex())
        body = b"d8:intervali60e5:peers0:e"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def tracker():
    """Starts the tracker on a free loopback port; its announce URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Announces)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/announce"


def urls_of(c, h):
    return [r["url"] for r in c.torrents_trackers(torrent_hash=h) if not r["url"].startswith("**")]


def login_raw(pw):
    return requests.post(f"{api}/auth/login", data={"username": user, "password": pw}, timeout=15)


if phase == "again":
    c = client()
    cats = c.torrents_categories()
    check("tv" in cats and cats["tv"]["savePath"] == tvdir, f"tv kept over the restart: {cats}")
    check("films" not in cats, f"a removed category stays removed: {cats}")
    t = one(c)
    check(t["category"] == "tv" and t["tags"] == "hd", f"category and tags kept: {t}")
    check("hd" in c.torrents_tags(), "hd is a tag")
    # The tracker added in the first phase is a's over the restart: an edit of it passes
    # (one of a tracker not there is refused, 409).
    c.torrents_edit_tracker(torrent_hash=hash_a, original_url="http://127.0.0.1:9/kept",
                            new_url="http://127.0.0.1:9/kept2")
    print("PHASE OK")
    sys.exit(0)

# Logins.
r = login_raw("wrong")
check(r.status_code == 200 and r.text == "Fails.", f"a wrong password: {r.status_code} {r.text}")
try:
    qbittorrentapi.Client(host=base, username=user, password="wrong").auth_log_in()
    raise AssertionError("the package logged in with a wrong password")
except qbittorrentapi.LoginFailed:
    pass
c = client()
check(c.app_web_api_version().startswith("2."), "webapiVersion")

# Categories: made, listed, edited, refused twice, removed.
c.torrents_create_category(name="tv", save_path=tvdir)
c.torrents_create_category(name="films")
cats = c.torrents_categories()
check(cats["tv"]["savePath"] == tvdir and "films" in cats, f"categories: {cats}")
try:
    c.torrents_create_category(name="tv")
    raise AssertionError("a second tv was made")
except qbittorrentapi.Conflict409Error:
    pass
c.torrents_edit_category(name="films", save_path=tvdir + "/films")
check(c.torrents_categories()["films"]["savePath"] == tvdir + "/films", "edited")
c.torrents_remove_categories(categories="films")
check("films" not in c.torrents_categories(), "removed")
# A relative path lands under the default save path (not the daemon's working directory);
# one that climbs with `..` is refused and nothing is made.
default = c.app_default_save_path().rstrip("/")
c.torrents_create_category(name="relcat", save_path="relcat")
got = c.torrents_categories()["relcat"]["savePath"]
check(got == default + "/relcat", f"relcat under {default}: {got}")
try:
    c.torrents_create_category(name="up", save_path="../../etc")
    raise AssertionError("a category in ../../etc was made")
except qbittorrentapi.HTTP400Error:
    pass
check("up" not in c.torrents_categories(), "no category up")
c.torrents_remove_categories(categories="relcat")

# The torrent, added with `ttui add`, completes from the seeder.
t = wait("the torrent completes", lambda: (lambda t: t if t["progress"] >= 1.0 else None)(one(c)))
check(t["state"] in ("uploading", "stalledUP", "queuedUP"), f"seeding: {t['state']}")
check(t["amount_left"] == 0, f"nothing left: {t}")

# Category and tags.
c.torrents_set_category(category="tv", torrent_hashes=hash_a)
c.torrents_add_tags(tags="hd,new", torrent_hashes=hash_a)
t = one(c)
check(t["category"] == "tv", f"category: {t['category']}")
check(t["tags"] == "hd, new", f"tags: {t['tags']}")
try:
    c.torrents_set_category(category="nope", torrent_hashes=hash_a)
    raise AssertionError("an unknown category was set")
except qbittorrentapi.Conflict409Error:
    pass
c.torrents_remove_tags(tags="new", torrent_hashes=hash_a)
check(one(c)["tags"] == "hd", "new removed")
c.torrents_create_tags(tags="spare")
check({"hd", "spare"} <= set(c.torrents_tags()), f"tags: {c.torrents_tags()}")
c.torrents_delete_tags(tags="spare")
check("spare" not in c.torrents_tags(), "spare deleted")
check(len(info(c, category="tv")) == 1, "category=tv keeps it")
check(len(info(c, category="")) == 0, "category= (none) drops it")
check(len(info(c, tag="hd")) == 1, "tag=hd keeps it")
check(len(info(c, tag="new")) == 0, "tag=new drops it")

# Stop, start, recheck.
c.torrents_stop(torrent_hashes=hash_a)
wait("stopped", lambda: one(c)["state"] in ("stoppedUP", "pausedUP"))
c.torrents_start(torrent_hashes=hash_a)
wait("started", lambda: one(c)["state"] in ("uploading", "stalledUP", "queuedUP"))
c.torrents_recheck(torrent_hashes=hash_a)
wait("checked and seeding again",
     lambda: one(c)["state"] in ("uploading", "stalledUP") and one(c)["progress"] >= 1.0)

# Share limits, a move, a renamed file, limits, queue order: each answered 200, the
# move and the rename seen on disk (the Rust side checks the files).
c.torrents_set_share_limits(ratio_limit=2.5, seeding_time_limit=60,
                            inactive_seeding_time_limit=-2, torrent_hashes=hash_a)
moved = tvdir + "/moved"
c.torrents_set_location(location=moved, torrent_hashes=hash_a)
wait("moved", lambda: one(c)["save_path"].rstrip("/") == moved)
c.torrents_rename_file(torrent_hash=hash_a, old_path="alpha.bin", new_path="renamed.bin")
c.torrents_set_download_limit(limit=1 << 20, torrent_hashes=hash_a)
c.torrents_set_upload_limit(limit=0, torrent_hashes=hash_a)
c.transfer_set_download_limit(limit=0)
c.torrents_top_priority(torrent_hashes=hash_a)
try:
    c.torrents_rename_file(torrent_hash="00" * 20, old_path="a", new_path="b")
    raise AssertionError("a rename of an unknown torrent passed")
except qbittorrentapi.NotFound404Error:
    pass
try:
    c.torrents_set_location(location="relative/dir", torrent_hashes=hash_a)
    raise AssertionError("a relative location passed")
except qbittorrentapi.exceptions.HTTP400Error:
    pass

# Issue 56's second round. The share and rate limits set above show in torrents/info.
t = wait("a's own limits listed", lambda: (lambda t: t if t["dl_limit"] == 1 << 20 else None)(one(c)))
check(t["ratio_limit"] == 2.5 and t["seeding_time_limit"] == 60, f"share limits: {t}")
check(t["inactive_seeding_time_limit"] == -2 and t["up_limit"] == 0, f"limits: {t}")
check(t["seq_dl"] is False and t["f_l_piece_prio"] is False, f"not sequential: {t}")
# torrents/properties and torrents/files of a, as qBittorrent names them.
props = c.torrents_properties(torrent_hash=hash_a)
check(props["total_size"] == t["total_size"] and props["piece_size"] > 0, f"properties: {props}")
check(props["save_path"].rstrip("/") == t["save_path"].rstrip("/"), f"properties' save path: {props}")
check(props["dl_limit"] == 1 << 20 and props["share_ratio"] >= 0, f"properties' limits: {props}")
files = c.torrents_files(torrent_hash=hash_a)
check(len(files) == 1 and files[0]["size"] == t["total_size"] and files[0]["progress"] == 1,
      f"files: {files}")
lims = c.torrents_download_limit(torrent_hashes=hash_a)
check(lims.get(hash_a) == 1 << 20, f"torrents/downloadLimit: {lims}")
check(c.torrents_upload_limit(torrent_hashes=hash_a).get(hash_a) == 0, "torrents/uploadLimit")

# File priorities: high, skipped, normal again, each seen in torrents/files.
def prio():
    return c.torrents_files(torrent_hash=hash_a)[0]["priority"]


for qbt_prio in (7, 0, 1):
    c.torrents_file_priority(torrent_hash=hash_a, file_ids=0, priority=qbt_prio)
    wait(f"file priority {qbt_prio}", lambda: prio() == qbt_prio)
wait("a whole again", lambda: one(c)["progress"] >= 1.0)
for bad_args in ({"file_ids": 0, "priority": 3}, {"file_ids": 1, "priority": 1},
                 {"file_ids": "x", "priority": 1}):
    try:
        c.torrents_file_priority(torrent_hash=hash_a, **bad_args)
        raise AssertionError(f"filePrio {bad_args} passed")
    except qbittorrentapi.exceptions.HTTP400Error:
        pass
try:
    c.torrents_file_priority(torrent_hash="00" * 20, file_ids=0, priority=1)
    raise AssertionError("filePrio of an unknown torrent passed")
except qbittorrentapi.NotFound404Error:
    pass

# Sequential mode and first/last piece priority toggled on and off, each a flag of its own
# as in qBittorrent; auto management accepted.
# The torrent's line says it on the session's next tick.
c.torrents_toggle_sequential_download(torrent_hashes=hash_a)
wait("sequential on", lambda: one(c)["seq_dl"] is True and one(c)["f_l_piece_prio"] is False)
c.torrents_toggle_sequential_download(torrent_hashes=hash_a)
wait("sequential off", lambda: one(c)["seq_dl"] is False)
c.torrents_toggle_first_last_piece_priority(torrent_hashes=hash_a)
wait("first/last on", lambda: one(c)["f_l_piece_prio"] is True and one(c)["seq_dl"] is False)
c.torrents_toggle_first_last_piece_priority(torrent_hashes=hash_a)
wait("first/last off", lambda: one(c)["f_l_piece_prio"] is False)
c.torrents_set_auto_management(enable=True, torrent_hashes=hash_a)

# Bans: well-formed peers are accepted, a malformed list is refused.
c.transfer_ban_peers(peers=["192.0.2.7:6881", "[2001:db8::7]:6881"])
r = requests.post(f"{api}/transfer/banPeers", cookies={"SID": c._http_session.cookies.get("SID")},
                  data={"peers": "not-a-peer"}, timeout=15)
check(r.status_code == 400, f"a malformed peer: {r.status_code}")

# Preferences: the keys that map change the session (read back through other calls),
# the others are accepted and ignored.
c.app_set_preferences(prefs={"dl_limit": 300000, "max_active_downloads": 7,
                             "max_ratio_enabled": True, "max_ratio": 3.5, "locale": "de"})
prefs = c.app_preferences()
check(prefs["dl_limit"] == 300000 and prefs["max_active_downloads"] == 7, f"prefs: {prefs}")
check(prefs["max_ratio_enabled"] is True and prefs["max_ratio"] == 3.5, f"ratio: {prefs}")
check(prefs["locale"] == "en", "an unmapped key is ignored")
wait("the limit in force", lambda: c.transfer_download_limit() == 300000)
c.app_set_preferences(prefs={"dl_limit": 0, "max_ratio_enabled": False})
prefs = c.app_preferences()
check(prefs["dl_limit"] == 0 and prefs["max_ratio_enabled"] is False, f"reset: {prefs}")
r = requests.post(f"{api}/app/setPreferences", cookies={"SID": c._http_session.cookies.get("SID")},
                  data={"json": "[not json"}, timeout=15)
check(r.status_code == 400, f"setPreferences without json: {r.status_code}")

# Adds: a file with category, tags, save path, stopped; a magnet; then the magnet deleted
# with its files.
r = c.torrents_add(torrent_files=b_torrent, category="tv", tags="fresh", save_path=tvdir + "/added",
                   is_paused=True, content_layout="Subfolder")
check(r == "Ok.", f"add by file: {r}")
b = wait("b listed", lambda: (lambda rows: rows[0] if rows else None)(info(c, torrent_hashes=hash_b)))
check(b["category"] == "tv" and b["tags"] == "fresh", f"b's category and tags: {b}")
check(b["save_path"].rstrip("/") == tvdir + "/added", f"b's save path: {b['save_path']}")
# A folder already: Subfolder keeps its layout.
check(b["content_path"].rstrip("/") == tvdir + "/added/beta", f"b's content path: {b['content_path']}")
check(b["state"] in ("stoppedDL", "pausedDL"), f"b stopped: {b['state']}")
r = c.torrents_add(urls=f"magnet:?xt=urn:btih:{hash_c}&dn=gamma", is_paused=True,
                   is_sequential_download=True, download_limit=4096, ratio_limit=1.25,
                   seeding_time_limit=30, content_layout="Subfolder")
check(r == "Ok.", f"add by magnet: {r}")
wait("c listed", lambda: len(info(c, torrent_hashes=hash_c)) == 1)
wait("c sequential", lambda: info(c, torrent_hashes=hash_c)[0]["seq_dl"] is True)
# Its own limits are on its line from the session's next tick.
t = wait("c's limits listed", lambda: (lambda t: t if t["dl_limit"] == 4096 else None)(
    info(c, torrent_hashes=hash_c)[0]))
check(t["seq_dl"] is True and t["dl_limit"] == 4096, f"c's add options: {t}")
check(t["ratio_limit"] == 1.25 and t["seeding_time_limit"] == 30, f"c's share limits: {t}")
c.torrents_delete(delete_files=True, torrent_hashes=hash_c)
wait("c gone", lambda: len(info(c, torrent_hashes=hash_c)) == 0)
# contentLayout=Subfolder on c's .torrent, a lone file: it goes in a folder named after it.
r = c.torrents_add(torrent_files=c_torrent, save_path=tvdir + "/layout", is_paused=True,
                   content_layout="Subfolder")
check(r == "Ok.", f"add with a subfolder: {r}")
t = wait("c listed again", lambda: (lambda rows: rows[0] if rows else None)(info(c, torrent_hashes=hash_c)))
check(t["content_path"].rstrip("/") == tvdir + "/layout/gamma/gamma.bin", f"c in a subfolder: {t}")
c.torrents_delete(delete_files=True, torrent_hashes=hash_c)
wait("c gone again", lambda: len(info(c, torrent_hashes=hash_c)) == 0)

# Issue 56's third round.
# log/main holds a's add (by `ttui add`) and c's removal; last_known_id filters.
# (a is named by its file, renamed above from alpha.bin: the log kept the name it had.)
log = c.log_main()
check(any(e["message"] == "alpha.bin: added" and e["type"] == 1 for e in log), f"a's add logged: {log}")
check(any(e["message"].endswith(": removed with its files") for e in log), f"c's removal: {log}")
last = max(e["id"] for e in log)
check(c.log_main(last_known_id=last) == [], "nothing after the last id")
check(all(e["type"] != 1 for e in c.log_main(normal=False)), "normal=false drops normal lines")
r = requests.get(f"{api}/log/peers", cookies={"SID": c._http_session.cookies.get("SID")}, timeout=15)
check(r.status_code == 200 and isinstance(r.json(), list), f"log/peers: {r.status_code} {r.text}")
c.log_peers(last_known_id=last)  # the package parses the answer

# pieceHashes: b's equal its .torrent's `pieces`.
meta, _ = bdecode(open(b_torrent, "rb").read())
pieces = meta[b"info"][b"pieces"]
want = [pieces[i:i + 20].hex() for i in range(0, len(pieces), 20)]
check(list(c.torrents_piece_hashes(torrent_hash=hash_b)) == want, "pieceHashes of b")
r = requests.get(f"{api}/torrents/pieceHashes", cookies={"SID": c._http_session.cookies.get("SID")},
                 params={"hash": "00" * 20}, timeout=15)
check(r.status_code == 404, f"pieceHashes of an unknown torrent: {r.status_code}")

# addPeers: b (stopped, no working tracker) learns of its seeder only here, keeps it for
# its start (through its first check), then completes.
try:
    c.torrents_add_peers(peers="not-a-peer|also:bad", torrent_hashes=hash_b)
    raise AssertionError("addPeers without a valid peer passed")
except qbittorrentapi.exceptions.HTTP400Error:
    pass
got = c.torrents_add_peers(peers=f"127.0.0.1:{b_seed}|junk", torrent_hashes=hash_b)
check(got[hash_b]["added"] == 1 and got[hash_b]["failed"] == 1, f"addPeers' answer: {got}")
c.torrents_start(torrent_hashes=hash_b)
wait("b completes from the peer added", lambda: info(c, torrent_hashes=hash_b)[0]["progress"] >= 1.0)

# rename: b's name (its folder on disk too); an empty name and an unknown hash refused.
c.torrents_rename(torrent_hash=hash_b, new_torrent_name="beta renamed")
wait("b renamed", lambda: info(c, torrent_hashes=hash_b)[0]["name"] == "beta renamed")
try:
    c.torrents_rename(torrent_hash=hash_b, new_torrent_name=" ")
    raise AssertionError("an empty name passed")
except qbittorrentapi.Conflict409Error:
    pass
try:
    c.torrents_rename(torrent_hash="00" * 20, new_torrent_name="x")
    raise AssertionError("a rename of an unknown torrent passed")
except qbittorrentapi.NotFound404Error:
    pass

# Trackers: one added to a is announced to; edited, refused twice, removed.
url = tracker()
c.torrents_add_trackers(torrent_hash=hash_a, urls=[url])
wait("a announces to the tracker added", lambda: hash_a in Announces.seen)
wait("the tracker listed", lambda: url in urls_of(c, hash_a))
try:
    c.torrents_edit_tracker(torrent_hash=hash_a, original_url=url, new_url="not a url")
    raise AssertionError("a bad URL passed")
except qbittorrentapi.exceptions.HTTP400Error:
    pass
try:
    c.torrents_edit_tracker(torrent_hash=hash_a, original_url="http://127.0.0.1:9/none", new_url=url + "2")
    raise AssertionError("an edit of a tracker not there passed")
except qbittorrentapi.Conflict409Error:
    pass
c.torrents_add_trackers(torrent_hash=hash_a, urls=["http://127.0.0.1:9/kept"])
try:
    c.torrents_edit_tracker(torrent_hash=hash_a, original_url=url, new_url="http://127.0.0.1:9/kept")
    raise AssertionError("an edit onto a tracker already there passed")
except qbittorrentapi.Conflict409Error:
    pass
c.torrents_edit_tracker(torrent_hash=hash_a, original_url=url, new_url=url + "?edited=1")
wait("the edit listed", lambda: url + "?edited=1" in urls_of(c, hash_a) and url not in urls_of(c, hash_a))
c.torrents_remove_trackers(torrent_hash=hash_a, urls=[url + "?edited=1"])
wait("the tracker removed", lambda: url + "?edited=1" not in urls_of(c, hash_a))
check("http://127.0.0.1:9/kept" in urls_of(c, hash_a), "the other one stays")
try:
    c.torrents_add_trackers(torrent_hash="00" * 20, urls=[url])
    raise AssertionError("addTrackers of an unknown torrent passed")
except qbittorrentapi.NotFound404Error:
    pass

# sync/maindata: a's own share limits and force start come as changes since a rid.
rid = c.sync_maindata(rid=0)["rid"]
c.torrents_set_share_limits(ratio_limit=4.0, seeding_time_limit=-1, inactive_seeding_time_limit=-2,
                            torrent_hashes=hash_a)
c.torrents_set_force_start(enable=True, torrent_hashes=hash_a)


def changed():
    md = c.sync_maindata(rid=rid)
    t = md.get("torrents", {}).get(hash_a, {})
    return t if t.get("ratio_limit") == 4.0 and t.get("force_start") is True else None


t = wait("a's own fields in sync/maindata", changed)
check(t["seeding_time_limit"] == -1 and "name" not in t, f"only what changed: {t}")
# a has seeded since it completed: its seeding time comes fresh with its changes, and in
# a full update and torrents/info (never less than a moment ago).
check(t.get("seeding_time", 0) >= 1, f"a's seeding time with its changes: {t}")
full = c.sync_maindata(rid=0)["torrents"][hash_a]["seeding_time"]
check(full >= t["seeding_time"], f"seeding time in a full update: {full} < {t['seeding_time']}")
check(one(c)["seeding_time"] >= full, f"seeding time in torrents/info: {one(c)['seeding_time']}")
c.torrents_set_force_start(enable=False, torrent_hashes=hash_a)

# Bad input, each answered as qBittorrent does.
cookie = c._http_session.cookies.get("SID")
check(cookie, "the package keeps a SID cookie")
r = requests.get(f"{api}/torrents/info", timeout=15)
check(r.status_code == 403, f"no cookie: {r.status_code}")
r = requests.get(f"{api}/torrents/info", cookies={"SID": "forged" * 5}, timeout=15)
check(r.status_code == 403, f"forged cookie: {r.status_code}")
r = requests.get(f"{api}/torrents/info", cookies={"SID": cookie},
                 headers={"Referer": "http://evil.example/"}, timeout=15)
check(r.status_code == 401, f"foreign Referer: {r.status_code}")
r = requests.get(f"{api}/torrents/info", cookies={"SID": cookie},
                 headers={"Host": "evil.example"}, timeout=15)
check(r.status_code == 401, f"wrong Host: {r.status_code}")
r = requests.get(f"{api}/no/such", cookies={"SID": cookie}, timeout=15)
check(r.status_code == 404, f"unknown endpoint: {r.status_code}")
r = requests.post(f"{api}/torrents/createCategory", cookies={"SID": cookie},
                  data={"category": ""}, timeout=15)
check(r.status_code == 400, f"an empty category name: {r.status_code}")

r = requests.post(f"{api}/torrents/add", cookies={"SID": cookie},
                  files={"torrents": ("junk.torrent", b"not bencode at all")}, timeout=15)
check(r.status_code == 415 and r.text == "Torrent file is not valid", f"junk: {r.status_code} {r.text}")
r = requests.post(f"{api}/torrents/add", cookies={"SID": cookie},
                  files={"category": (None, "tv")}, timeout=15)
check(r.status_code == 400, f"a form with no file: {r.status_code}")
try:
    r = requests.post(f"{api}/torrents/add", cookies={"SID": cookie},
                      files={"torrents": ("big.torrent", b"d" * (100 << 20))}, timeout=60)
    check(r.status_code == 413, f"100 MB: {r.status_code}")
except requests.exceptions.ConnectionError:
    pass  # the server answered 413 and closed while the body was still being sent
check(one(c)["category"] == "tv", "the session is intact after the large body")

# A login ban that ends.
for _ in range(5):
    login_raw("wrong")
r = login_raw(password)
check(r.status_code == 403 and "banned" in r.text, f"banned: {r.status_code} {r.text}")
time.sleep(float(ban_secs) + 1.0)
r = login_raw(password)
check(r.status_code == 200 and r.text == "Ok.", f"the ban ended: {r.status_code} {r.text}")
check(one(c)["category"] == "tv", "the session went on")
print("PHASE OK")
