#!/usr/bin/env python3
"""The Python half of tests/bench/tui_scale.sh: the RPC set-up, a libtorrent leecher that keeps
a few torrents moving, and the timed keys (tui_keys.py measures each).

    tui_scale.py start URL PREFIX LIMIT          torrent-start every torrent whose name starts
                                                 with PREFIX, then waits (at most LIMIT s) until
                                                 they all seed; prints their count
    tui_scale.py uploading URL LIMIT             waits until session-stats shows an upload
    tui_scale.py leech PORT TORRENT_DIR SAVE KIB python3-libtorrent (/usr/bin/python3) downloads
                                                 every .torrent from 127.0.0.1:PORT at KIB KiB/s
                                                 each, starting over when one completes, until
                                                 SIGTERM (binds 127.0.0.2; DHT, LSD, UPnP,
                                                 NAT-PMP off)
    tui_scale.py keys SOCK TARGET PID N SAMPLES  the phases below against the ttui of pid PID in
                                                 the tmux pane, N torrents named tNNNNNN.bin;
                                                 prints one line a phase

A phase line: `NAME median_ms p99_ms cpu_pct samples misses`, cpu the TUI process's
utime+stime over the phase as % of one core (all its threads: the session runs in it too).
Phases, in order (0.2 s after each key has shown, so keys do not queue):
    rest         no key for 10 s (what folding in the session's snapshots costs)
    j/k          j and k in turn, until the selected torrent's name changes
    PgDn/PgUp    a page down SAMPLES/2 times, then up
    End/Home     the last torrent, then the first, in turn
    type         `/`, then a torrent's name a character at a time: until the search line shows
                 it (its filtered list is drawn in the same frame); 7 characters a name
    erase        Backspace a character at a time, until the search line shows one fewer
    clear        Esc, until the search line is gone (the whole list again)
    sort         `s` through every column (3 rounds), until the title row marks the new one
    sort:COLUMN  the same, one column's samples (median of 3, and the slowest)
    moving       sorted by Up (the leecher's torrents re-sort every tick): j and k in turn
"""
import os
import random
import signal
import sys
import time

import rpc_scale
import tui_keys

GAP = 0.2
# `s` cycles the columns in this order from the default (Added, ascending); the title the
# header shows and the direction a first press sorts in. Labels has no column on screen when no
# torrent carries one, so its press shows as no mark at all.
SORTS = [("Name", "\u25b2"), ("Labels", None), ("State", "\u25b2"), ("Progress", "\u25bc"),
         ("Size", "\u25bc"), ("Down", "\u25bc"), ("Up", "\u25bc"), ("ETA", "\u25b2"),
         ("Ratio", "\u25bc"), ("Peers", "\u25bc"), ("Added", "\u25b2")]


def cmd_start(url: str, prefix: str, limit: float) -> None:
    rpc = rpc_scale.Rpc(url)
    got = rpc.call("torrent-get", {"fields": ["id", "name"]})["torrents"]
    ids = [t["id"] for t in got if t["name"].startswith(prefix)]
    if not ids:
        sys.exit(f"start: no torrent named {prefix}*")
    rpc.call("torrent-start", {"ids": ids})
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        got = rpc.call("torrent-get", {"ids": ids, "fields": ["id", "status"]})["torrents"]
        if all(t["status"] == 6 for t in got):
            print(len(ids))
            return
        time.sleep(1)
    sys.exit(f"start: {prefix}* not all seeding after {limit:.0f} s")


def cmd_uploading(url: str, limit: float) -> None:
    rpc = rpc_scale.Rpc(url)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if rpc.call("session-stats", {}).get("uploadSpeed", 0) > 0:
            print(f"{time.monotonic() - t0:.1f}")
            return
        time.sleep(1)
    sys.exit(f"uploading: nothing uploaded within {limit:.0f} s")


def cmd_leech(port: int, tdir: str, save: str, kib: int) -> None:
    import libtorrent as lt

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    s = lt.session({
        "listen_interfaces": "127.0.0.2:0", "outgoing_interfaces": "127.0.0.2",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "dht_bootstrap_nodes": "",
        "allow_multiple_connections_per_ip": True, "alert_mask": 0,
    })
    files = sorted(os.path.join(tdir, n) for n in os.listdir(tdir) if n.endswith(".torrent"))

    def add(path: str):
        h = s.add_torrent({"ti": lt.torrent_info(path), "save_path": save})
        h.set_download_limit(kib * 1024)
        h.connect_peer(("127.0.0.1", port))
        return h

    handles = {f: add(f) for f in files}
    while not stop:
        time.sleep(1)
        for f, h in list(handles.items()):
            st = h.status()
            if st.is_seeding:
                # Done: start over, so ttui's upload keeps moving for the whole run.
                s.remove_torrent(h, lt.options_t.delete_files)
                handles[f] = add(f)
            elif st.num_peers == 0:
                h.connect_peer(("127.0.0.1", port))


def moves(pane: tui_keys.Pane, keys: list[str]) -> list[float]:
    """Each key's ms until the selected torrent's name (the line under the table) changes."""
    out = []
    for k in keys:
        was = tui_keys.selected_name(pane.lines())

        def moved(lines: list[str]) -> bool:
            now = tui_keys.selected_name(lines)
            return now is not None and now != was

        out.append(pane.key(k, moved))
        time.sleep(GAP)
    return out


def searching(q: str):
    return lambda lines: any(f"/ {q}\u258f" in line for line in lines)


def closed(lines: list[str]) -> bool:
    """The search line is gone (its cursor `▏` with it)."""
    return not any("\u258f" in line for line in lines)


def type_text(pane: tui_keys.Pane, text: str, typed: str = "") -> list[float]:
    out = []
    for c in text:
        typed += c
        out.append(pane.key(c, searching(typed)))
        time.sleep(GAP)
    return out


def cmd_keys(sock: str, target: str, pid: int, n: int, samples: int) -> None:
    pane = tui_keys.Pane(sock, target)
    if tui_keys.selected_name(pane.lines()) is None:
        sys.exit("keys: no selected torrent in the pane")
    if tui_keys.sort_mark(pane.lines()) != ("Added", "\u25b2"):
        sys.exit(f"keys: the list is not in its default order: {tui_keys.sort_mark(pane.lines())}")
    rng = random.Random(58)
    names = ["t%06d" % rng.randrange(n) for _ in range(samples)]

    def phase(name: str, run) -> None:
        pane.misses = 0
        c0, t0 = rpc_scale.ticks(pid), time.monotonic()
        v = run()
        cpu = (rpc_scale.ticks(pid) - c0) / rpc_scale.HZ / (time.monotonic() - t0) * 100
        if v:
            print(f"{name} {tui_keys.pct(v, 50):.2f} {tui_keys.pct(v, 99):.2f} {cpu:.2f} "
                  f"{len(v)} {pane.misses}")
        else:
            print(f"{name} - - {cpu:.2f} 0 0")
        sys.stdout.flush()

    def rest() -> list[float]:
        time.sleep(10)
        return []

    phase("rest", rest)
    phase("j/k", lambda: moves(pane, ["j", "k"] * (samples // 2)))
    phase("PgDn/PgUp", lambda: moves(pane, ["NPage"] * (samples // 2) + ["PPage"] * (samples // 2)))
    phase("End/Home", lambda: moves(pane, ["End", "Home"] * (samples // 2)))

    def each_name(count: int, body) -> list[float]:
        """`/`, then body(name) for `count` names; what body times is the phase's."""
        out = []
        for q in names[: max(1, count)]:
            pane.key("/", searching(""))
            time.sleep(GAP)
            out += body(q)
        return out

    def typing(q: str) -> list[float]:
        out = type_text(pane, q)
        pane.key("Escape", closed)
        time.sleep(GAP)
        return out

    def erasing(q: str) -> list[float]:
        type_text(pane, q)
        out = []
        for i in range(len(q) - 1, -1, -1):
            out.append(pane.key("BSpace", searching(q[:i])))
            time.sleep(GAP)
        pane.key("Escape", closed)
        time.sleep(GAP)
        return out

    def clearing(q: str) -> list[float]:
        type_text(pane, q[:4])
        out = [pane.key("Escape", closed)]
        time.sleep(GAP)
        return out

    phase("type", lambda: each_name(samples // 7, typing))
    phase("erase", lambda: each_name(samples // 7, erasing))
    phase("clear", lambda: each_name(samples // 3, clearing))

    by_column: dict[str, list[float]] = {}

    def sorting() -> list[float]:
        out = []
        for i in range(3 * len(SORTS)):
            title, arrow = SORTS[i % len(SORTS)]
            want = (title, arrow) if arrow else None
            ms = pane.key("s", lambda lines, w=want: tui_keys.sort_mark(lines) == w)
            out.append(ms)
            by_column.setdefault(title, []).append(ms)
            time.sleep(GAP)
        return out

    phase("sort", sorting)
    for title, v in by_column.items():
        print(f"sort:{title} {tui_keys.pct(v, 50):.2f} {max(v):.2f} - {len(v)} -")
    # Back to the default order (Added ▲), then on to Up ▼: the column the leecher moves.
    for title, arrow in SORTS[: SORTS.index(("Up", "\u25bc")) + 1]:
        want = (title, arrow) if arrow else None
        pane.key("s", lambda lines, w=want: tui_keys.sort_mark(lines) == w)
        time.sleep(GAP)
    phase("moving", lambda: moves(pane, ["j", "k"] * (samples // 2)))


def main() -> None:
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "start":
        cmd_start(a[1], a[2], float(a[3]))
    elif a[0] == "uploading":
        cmd_uploading(a[1], float(a[2]))
    elif a[0] == "leech":
        cmd_leech(int(a[1]), a[2], a[3], int(a[4]))
    elif a[0] == "keys":
        cmd_keys(a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
