#!/usr/bin/python3
"""cutfs: a FUSE file system that forgets, at a "power cut", every write not yet synced.

    cutfs.py BACKING MOUNT CONTROL_DIR

Everything under MOUNT is BACKING, with one difference: file data written through MOUNT stays
in a volatile layer (memory) until the file is fsynced (fsync or fdatasync), and only then
reaches BACKING (and BACKING's disk, fsynced). Reads see the volatile layer, as a page cache
would. Metadata (create, rename, unlink, mkdir, truncate, chmod) reaches BACKING at once: that
is ext4 with data=ordered after its journal commits, the state in which the classic losses
happen (a file renamed into place whose data never reached the disk comes back empty or short).
A file's mtime while it holds unsynced data is the time of its last write; after a cut it is
the time its data last reached the disk, as an inode whose last update was not committed.

The power cut: the test kills the program using the mount (SIGKILL), then creates
CONTROL_DIR/cut holding a number. cutfs then keeps, for each file, a random prefix of its
unsynced writes in the order they were made (the number seeds the choice; 0 keeps none),
drops the rest, and answers by creating CONTROL_DIR/cut.done holding what it dropped. The test
unmounts and mounts again (a reboot) before the program starts again.

Why Python and fusepy (Debian's python3-fusepy, over libfuse 2): the model is a hundred lines
and is the thing under test's adversary, not part of ttui; LazyFS (what Jepsen uses) works the
same way but is not packaged. Writes are serialised under one lock: correctness over speed.
"""

import os
import random
import sys
import threading
import time

import fusepy
from fusepy import FUSE, FuseOSError

# The pass-through operations every test file system shares (tests/support/passfs.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "support"))
from passfs import PassFs  # noqa: E402


class CutFs(PassFs):
    def __init__(self, root, control):
        self.root = os.path.realpath(root)
        self.control = control
        self.mutex = threading.Lock()
        # Per backing inode: the unsynced writes, in order, as (offset, bytes), and the time
        # of the last one (ns).
        self.log = {}
        self.mtime = {}
        self.dropped = 0
        threading.Thread(target=self.watch, daemon=True).start()

    # -- the power cut -------------------------------------------------------------------
    def watch(self):
        cut = os.path.join(self.control, "cut")
        while True:
            time.sleep(0.02)
            if not os.path.exists(cut):
                continue
            with open(cut) as f:
                seed = int(f.read().strip() or "0")
            with self.mutex:
                rng = random.Random(seed)
                kept = dropped = 0
                for ino in sorted(self.log):
                    writes = self.log[ino]
                    keep = rng.randint(0, len(writes)) if seed else 0
                    if keep:
                        path = self.path_of_ino(ino)
                        if path is not None:
                            fd = os.open(path, os.O_WRONLY)
                            try:
                                for off, data in writes[:keep]:
                                    os.pwrite(fd, data, off)
                                os.fsync(fd)
                            finally:
                                os.close(fd)
                    kept += sum(len(d) for _, d in writes[:keep])
                    dropped += sum(len(d) for _, d in writes[keep:])
                self.log.clear()
                self.mtime.clear()
                self.dropped += dropped
            os.remove(cut)
            done = os.path.join(self.control, "cut.done")
            with open(done + ".tmp", "w") as f:
                f.write(f"kept {kept} dropped {dropped}\n")
            os.rename(done + ".tmp", done)

    def path_of_ino(self, ino):
        for d, _, files in os.walk(self.root):
            for name in files:
                p = os.path.join(d, name)
                try:
                    if os.lstat(p).st_ino == ino:
                        return p
                except OSError:
                    pass
        return None

    # -- helpers -------------------------------------------------------------------------
    def logical_size(self, ino, backing_size):
        size = backing_size
        for off, data in self.log.get(ino, ()):
            size = max(size, off + len(data))
        return size

    def apply(self, ino, fh):
        # A handle of its own: the caller may sync through a read-only one.
        fd = os.open(f"/proc/self/fd/{fh}", os.O_WRONLY)
        try:
            for off, data in self.log.pop(ino, ()):
                os.pwrite(fd, data, off)
            self.mtime.pop(ino, None)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- metadata: straight to the backing directory -------------------------------------
    def getattr(self, path, fh=None):
        try:
            st = os.fstat(fh) if fh is not None else os.lstat(self.real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        out = {k: getattr(st, k) for k in (
            "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_ctime",
            "st_mtime", "st_ino")}
        with self.mutex:
            if st.st_ino in self.log:
                out["st_size"] = self.logical_size(st.st_ino, st.st_size)
                out["st_mtime"] = self.mtime[st.st_ino] / 1e9
        return out

    def truncate(self, path, length, fh=None):
        with self.mutex:
            fd = fh if fh is not None else os.open(self.real(path), os.O_WRONLY)
            try:
                ino = os.fstat(fd).st_ino
                kept = []
                for off, data in self.log.get(ino, ()):
                    if off < length:
                        kept.append((off, data[: length - off]))
                if ino in self.log:
                    self.log[ino] = kept
                os.ftruncate(fd, length)
            finally:
                if fh is None:
                    os.close(fd)

    # -- data: through the volatile layer ------------------------------------------------
    def open(self, path, flags):
        return os.open(self.real(path), flags & ~(os.O_APPEND))

    def create(self, path, mode, fi=None):
        return os.open(self.real(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        with self.mutex:
            st = os.fstat(fh)
            end = min(offset + size, self.logical_size(st.st_ino, st.st_size))
            if end <= offset:
                return b""
            buf = bytearray(os.pread(fh, end - offset, offset))
            buf.extend(bytes(end - offset - len(buf)))
            for off, data in self.log.get(st.st_ino, ()):
                lo, hi = max(off, offset), min(off + len(data), end)
                if lo < hi:
                    buf[lo - offset:hi - offset] = data[lo - off:hi - off]
            return bytes(buf)

    def write(self, path, data, offset, fh):
        with self.mutex:
            ino = os.fstat(fh).st_ino
            self.log.setdefault(ino, []).append((offset, bytes(data)))
            self.mtime[ino] = time.time_ns()
        return len(data)

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self.apply(os.fstat(fh).st_ino, fh)

    def fsyncdir(self, path, datasync, fh):
        # Metadata is already where it would be after the journal commits.
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)


def main():
    backing, mount, control = sys.argv[1:4]
    # foreground, threads, and no kernel cache of data across opens: the kernel must ask us.
    FUSE(CutFs(backing, control), mount, foreground=True, nothreads=False,
         big_writes=True, max_write=1 << 20, direct_io=False, allow_other=False)


if __name__ == "__main__":
    main()
