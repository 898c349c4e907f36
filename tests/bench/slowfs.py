#!/usr/bin/python3
"""slowfs: a FUSE file system that is as slow as a hard disk, for tests/bench/disk_slow.sh.

    slowfs.py BACKING MOUNT STATS_FILE [--seek-ms 8] [--mbps 100]

Everything under MOUNT is BACKING, passed through, but each read and each write costs what a
single spindle would: a seek of --seek-ms milliseconds unless it continues the previous request
(same file, starting where that one ended), plus its size over --mbps (MB/s, 10^6 bytes). The
requests are served one at a time, in the order they arrive (a queue of one): the disk keeps a
clock of when it is next free, each request starts at that time or now, whichever is later,
and its answer is given when its cost has passed. Metadata (stat, open, readdir) is free.

The mount is made with direct_io: no page cache, so every read of the payload reaches this
program, as every read of a cold file reaches a disk. STATS_FILE is rewritten every second with
`reads N read_bytes B writes N write_bytes B seeks N busy_s S wait_s S` (busy_s: the time the
disk spent on requests, so busy_s over wall time is its utilisation; wait_s: the time requests
took from their arrival to their answer, queue included, summed, so wait_s over the requests
is what one took on average).

Why Python and fusepy (Debian's python3-fusepy, over libfuse 2): as holdfs.py and cutfs.py, a
small adversary, not part of ttui.
"""

import argparse
import os
import sys
import threading
import time

from fusepy import FUSE

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "support"))
from passfs import PassFiles  # noqa: E402


class SlowFs(PassFiles):
    def __init__(self, root, stats, seek_ms, mbps):
        self.root = os.path.realpath(root)
        self.stats_file = stats
        self.seek = seek_ms / 1000.0
        self.rate = mbps * 1e6
        self.spindle = threading.Lock()
        self.free_at = 0.0  # monotonic time the disk is next free
        self.head = None  # (path, offset) where the previous request ended
        self.n = {"reads": 0, "read_bytes": 0, "writes": 0, "write_bytes": 0, "seeks": 0}
        self.busy = 0.0
        self.wait = 0.0
        threading.Thread(target=self.report, daemon=True).start()

    def report(self):
        while True:
            time.sleep(1)
            with self.spindle:
                line = " ".join("%s %d" % kv for kv in self.n.items()) + " busy_s %.3f wait_s %.3f\n" % (self.busy, self.wait)
            tmp = self.stats_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(line)
            os.replace(tmp, self.stats_file)

    def wait_turn(self, kind, path, offset, size):
        """Queue the request on the spindle; sleep until the disk has served it."""
        with self.spindle:
            cost = size / self.rate
            if self.head != (path, offset):
                cost += self.seek
                self.n["seeks"] += 1
            self.head = (path, offset + size)
            arrived = time.monotonic()
            start = max(arrived, self.free_at)
            self.free_at = start + cost
            self.busy += cost
            self.n[kind + "s"] += 1
            self.n[kind + "_bytes"] += size
            done = self.free_at
            self.wait += done - arrived
        delay = done - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    # -- data ----------------------------------------------------------------------------
    def read(self, path, size, offset, fh):
        data = os.pread(fh, size, offset)
        self.wait_turn("read", path, offset, len(data))
        return data

    def write(self, path, data, offset, fh):
        self.wait_turn("write", path, offset, len(data))
        return os.pwrite(fh, data, offset)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backing")
    ap.add_argument("mount")
    ap.add_argument("stats")
    ap.add_argument("--seek-ms", type=float, default=8.0)
    ap.add_argument("--mbps", type=float, default=100.0)
    a = ap.parse_args()
    # Threads, so requests queue here (on the spindle) and not in the kernel; direct_io, so
    # every read asks us.
    FUSE(SlowFs(a.backing, a.stats, a.seek_ms, a.mbps), a.mount, foreground=True,
         nothreads=False, direct_io=True, allow_other=False)


if __name__ == "__main__":
    main()
