#!/usr/bin/env python3
"""Key-to-screen latency of ttui's full screen in tmux: what rpc_scale.py and tui_scale.py
share (standard library only; imported, not run).

A sample is the time from `tmux send-keys` until `tmux capture-pane -p` (about 2 ms a
capture on the development machine, inside every sample) shows what the key should change:
the key's handling, the frame and the terminal together, which is what a person waits for.
Every wait is bounded (`Pane.key`'s limit); a key whose effect never shows is counted at
the limit and reported as a miss, never waited for longer.
"""
import math
import re
import subprocess
import time

# The selected torrent's line under the table: " ▸ name: state · in /path".
SELECTED = re.compile("\u25b8 (\\S.*?): ")
# The sort column's title in the table's title row: "Name▲", "Up▼".
SORT_MARK = re.compile("(\\w+)([\u25b2\u25bc])")


def pct(v: list[float], p: float) -> float:
    """Nearest rank: of 50 values, the 99th percentile is the largest."""
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


class Pane:
    """One tmux pane (TARGET on the server at SOCK)."""

    def __init__(self, sock: str, target: str):
        self.sock, self.target = sock, target
        self.misses = 0

    def lines(self) -> list[str]:
        out = subprocess.run(
            ["tmux", "-S", self.sock, "capture-pane", "-p", "-t", self.target],
            capture_output=True, check=True, timeout=10,
        ).stdout.decode("utf-8", "replace")
        return out.splitlines()

    def send(self, key: str) -> None:
        """A tmux key name (`j`, `NPage`, `BSpace`, `Escape`)."""
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", self.target, key],
                       check=True, timeout=10)

    def wait(self, shows, limit: float) -> bool:
        """Polls until `shows(lines)` holds, at most `limit` seconds."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < limit:
            if shows(self.lines()):
                return True
        return False

    def key(self, key: str, shows, limit: float = 10.0) -> float:
        """ms from sending `key` until `shows(lines)` holds; `limit` s (and a miss) if never."""
        t0 = time.perf_counter()
        self.send(key)
        while True:
            ok = shows(self.lines())
            dt = time.perf_counter() - t0
            if ok:
                return dt * 1000
            if dt > limit:
                self.misses += 1
                return limit * 1000


def selected_row(lines: list[str]) -> int:
    """The first row holding the selection's `▸` (the table's), -1 when none."""
    for i, line in enumerate(lines):
        if "\u25b8" in line:
            return i
    return -1


def selected_name(lines: list[str]) -> str | None:
    """The selected torrent's name, from the line under the table (the last `▸`)."""
    for line in reversed(lines):
        m = SELECTED.search(line)
        if m:
            return m.group(1)
    return None


def sort_mark(lines: list[str]) -> tuple[str, str] | None:
    """(column title, ▲ or ▼) of the sorted column in the title row; None when the sorted
    column is not on screen (Labels with no label shown)."""
    for line in lines:
        if "Progress" in line and "State" in line:
            m = SORT_MARK.search(line)
            return (m.group(1), m.group(2)) if m else None
    return None
