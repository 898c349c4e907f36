#!/usr/bin/python3
"""faultfs: a FUSE file system that fails chosen operations on chosen files, on command.

    faultfs.py BACKING MOUNT CONTROL_DIR

Everything under MOUNT is BACKING, passed through, with one difference: while
CONTROL_DIR/faults has a line `OP<TAB>ERRNO<TAB>PATH[<TAB>START-END]` (OP `read` or `write`,
ERRNO a name such as EIO or ENOSPC, PATH relative to the mount, START-END a byte range of
the file, END excluded), every such operation on that file (touching that range, when one
is given: a bad sector) fails with that error, as a dying disk fails it. The test arms and clears faults by rewriting the
file (a new one renamed into place) or removing it. Each failure is told once per (OP,
PATH, ERRNO), as a line `OP PATH ERRNO` appended to CONTROL_DIR/failed, so a test knows the
fault was met.

The mount is made with direct_io: no page cache, so every read and write reaches this
program (nothing is answered from, or parked in, the kernel's cache).

Why Python and fusepy (Debian's python3-fusepy, over libfuse 2): as cutfs.py
(tests/session/crash_session/), a small adversary, not part of ttui.
"""

import errno
import os
import sys
import threading

from fusepy import FUSE, FuseOSError

# The pass-through operations every test file system shares (tests/support/passfs.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "support"))
from passfs import PassFiles  # noqa: E402


class FaultFs(PassFiles):
    def __init__(self, root, control):
        self.root = os.path.realpath(root)
        self.control = control
        self.mutex = threading.Lock()
        self.told = set()

    def faults(self):
        """The faults in force: {(op, relative path): (errno number, byte range or None)}."""
        try:
            with open(os.path.join(self.control, "faults")) as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        out = {}
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) in (3, 4) and hasattr(errno, parts[1]):
                span = None
                if len(parts) == 4:
                    start, end = parts[3].split("-")
                    span = (int(start), int(end))
                out[(parts[0], parts[2].strip("/"))] = (getattr(errno, parts[1]), span)
        return out

    def check(self, op, path, offset, size):
        fault = self.faults().get((op, path.strip("/")))
        if fault is None:
            return
        code, span = fault
        if span is not None and (offset + size <= span[0] or offset >= span[1]):
            return
        key = (op, path, code)
        with self.mutex:
            if key not in self.told:
                self.told.add(key)
                with open(os.path.join(self.control, "failed"), "a") as f:
                    f.write(f"{op} {path.strip('/')} {errno.errorcode[code]}\n")
        raise FuseOSError(code)

    # -- data ----------------------------------------------------------------------------
    def read(self, path, size, offset, fh):
        self.check("read", path, offset, size)
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self.check("write", path, offset, len(data))
        return os.pwrite(fh, data, offset)


def main():
    backing, mount, control = sys.argv[1:4]
    # Threads, so one failing call does not wait behind another; direct_io, so every read
    # and write asks us.
    FUSE(FaultFs(backing, control), mount, foreground=True, nothreads=False,
         direct_io=True, allow_other=False)


if __name__ == "__main__":
    main()
