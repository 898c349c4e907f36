#!/usr/bin/python3
"""holdfs: a FUSE file system that holds reads past a chosen offset of chosen files.

    holdfs.py BACKING MOUNT CONTROL_DIR

Everything under MOUNT is BACKING, passed through, with one difference: while
CONTROL_DIR/holds names a file (a line `OFFSET<TAB>PATH`, PATH relative to the mount), a read
of that file that reaches past OFFSET waits until the line is gone (the test rewrites the
file, renaming a new one into place, or removes it). Reads below OFFSET are answered at once.
That is a disk that stalls part way through a file, as a dying disk or a hung network mount
does: whatever reads the file (a check, a copy) is held mid-way, for as long as the test
needs, with its progress so far stable. Each read held is told once, when it starts waiting,
as a line `PATH OFFSET SIZE` appended to CONTROL_DIR/held.

The mount is made with direct_io: no page cache, so every read reaches this program (a file
read before its hold is read again through it after). A process in a held read cannot be
killed, not even by SIGKILL, until the read is answered: let go first, or end this program
(its reads then fail). A read is held at most HOLD_LIMIT seconds, then fails with EIO, so a
test that never lets go cannot hang a process for ever.

Why Python and fusepy (Debian's python3-fusepy, over libfuse 2): as cutfs.py
(tests/session/crash_session/), a small adversary, not part of ttui.
"""

import errno
import os
import sys
import threading
import time

from fusepy import FUSE, FuseOSError

# The pass-through operations every test file system shares (tests/support/passfs.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "support"))
from passfs import PassFiles  # noqa: E402

HOLD_LIMIT = 120.0
POLL = 0.02


class HoldFs(PassFiles):
    def __init__(self, root, control):
        self.root = os.path.realpath(root)
        self.control = control
        self.mutex = threading.Lock()
        self.told = set()

    def holds(self):
        """The holds now in force: {relative path: offset}."""
        try:
            with open(os.path.join(self.control, "holds")) as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        out = {}
        for line in text.splitlines():
            offset, _, path = line.partition("\t")
            if path:
                out[path.strip("/")] = int(offset)
        return out

    def held(self, path, offset, size):
        at = self.holds().get(path.strip("/"))
        return at is not None and offset + size > at

    # -- data ----------------------------------------------------------------------------
    def read(self, path, size, offset, fh):
        if self.held(path, offset, size):
            key = (path, offset, size)
            with self.mutex:
                if key not in self.told:
                    self.told.add(key)
                    with open(os.path.join(self.control, "held"), "a") as f:
                        f.write(f"{path.strip('/')} {offset} {size}\n")
            start = time.monotonic()
            while self.held(path, offset, size):
                if time.monotonic() - start > HOLD_LIMIT:
                    raise FuseOSError(errno.EIO)
                time.sleep(POLL)
        return os.pread(fh, size, offset)


def main():
    backing, mount, control = sys.argv[1:4]
    # Threads, so a held read holds only its own caller; direct_io, so every read asks us.
    FUSE(HoldFs(backing, control), mount, foreground=True, nothreads=False,
         direct_io=True, allow_other=False)


if __name__ == "__main__":
    main()
