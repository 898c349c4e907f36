//! The storage layer: a torrent's payload on disk. Positioned reads and writes that split at
//! file boundaries, the SHA-1 helper, and the resume check (check.rs).
//!
//! Descriptors come from the session's budget of open files (open_files.rs), shared by every
//! torrent: a file is opened when first used and closed when the session's least recently
//! used files make room for others, whichever torrent they belong to. BEP 47 padding files never touch the disk: their bytes are zeros,
//! checked as part of their pieces' hashes, skipped on write and served as zeros on read.
//!
//! Everything here is blocking std I/O and owns no thread of its own (the resume check borrows
//! scoped worker threads for its duration). Callers run it on tokio's blocking pool
//! (`spawn_blocking`), never on a reactor thread. `Storage` is `Send + Sync`: all methods take
//! `&self` (positioned I/O needs no seek position), so one `Arc<Storage>` serves several
//! blocking threads at once; ordering writes, if wanted, is the caller's choice.

pub(crate) mod backlog;
pub(crate) mod fds;
pub(crate) mod inorder;
pub(crate) mod pool;

mod cached;
mod check;
mod layout;
mod open_files;
pub(crate) mod parts;
pub(crate) mod read_cache;
pub(crate) mod read_waits;
mod skip;
#[cfg(test)]
mod tests;
mod vectored;

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[cfg(test)]
use sha1::{Digest, Sha1};

use crate::protocol::geometry::Geometry;
use crate::protocol::metainfo::Info;
use layout::{check_layout, create_links, missing, open_file, prepare_root, FilePaths};
use open_files::TorrentFiles;
pub(crate) use open_files::{budget_for as open_files_budget, OpenFiles};
use skip::fs_missing;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DiskError {
    #[error("output directory {} is read-only", .root.display())]
    ReadOnly { root: PathBuf },
    #[error("output path {} exists and is not a directory", .path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot use output directory {}: {source}", .root.display())]
    Root { root: PathBuf, source: io::Error },
    #[error("refusing torrent path {path:?}: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("{} resolves outside the output directory {}", .path.display(), .root.display())]
    PathEscape { path: PathBuf, root: PathBuf },
    #[error("{} exists and is not a regular file", .path.display())]
    NotAFile { path: PathBuf },
    #[error("inconsistent torrent layout: {0}")]
    Layout(String),
    #[error("disk full writing {}: {source}", .path.display())]
    DiskFull { path: PathBuf, source: io::Error },
    /// A read of payload data failed: `len` bytes at byte `at` of the file `path`, so the
    /// user is told where on the disk the trouble is.
    #[error("cannot read {} at byte {at} ({len} bytes): {source}", .path.display())]
    Read {
        path: PathBuf,
        at: u64,
        len: usize,
        source: io::Error,
    },
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The storage itself is gone: its folder no longer there, or on another file system than
    /// when the torrent opened it (unmounted, its disk pulled), or its file system's
    /// connection lost (a FUSE server gone). Not a loss of pieces: they come back with it.
    #[error("storage missing: {} is gone (unmounted, or its disk removed)", .root.display())]
    StorageMissing { root: PathBuf },
    #[error("piece {index} out of range (the torrent has {count} pieces)")]
    PieceOutOfRange { index: u32, count: u32 },
    #[error("block at {begin} of length {len} is outside piece {index} of length {piece_len}")]
    BlockOutOfRange {
        index: u32,
        begin: u32,
        len: usize,
        piece_len: u32,
    },
    #[cfg(test)]
    #[error("piece {index}: the blocks hold {got} bytes but the piece has {expected}")]
    PieceLength { index: u32, got: u64, expected: u32 },
    #[error("file check cancelled")]
    Cancelled,
}

impl DiskError {
    /// A read found the data gone: its file cut short or deleted (a new empty file is opened
    /// in its place) since the piece verified. Costs that piece, not the torrent.
    pub(crate) fn is_missing_data(&self) -> bool {
        matches!(
            self,
            DiskError::Io { source, .. } | DiskError::Read { source, .. }
                if matches!(
                    source.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::NotFound
                )
        )
    }

    /// The data of one piece is gone or cannot be read back: missing data (above), or a read
    /// the disk failed (EIO, or a checksumming file system's EBADMSG: a bad sector, a dying
    /// disk). Costs that piece, which is fetched again, not the torrent: the other pieces may
    /// well read, and a disk that is dead altogether fails the writes of the fetch, which stop
    /// the torrent. A file system gone (ENOTCONN, ENXIO, ENODEV, ESTALE) is not a piece's
    /// trouble: it stops the torrent with the storage's words.
    pub(crate) fn costs_the_piece(&self) -> bool {
        self.is_missing_data()
            || matches!(
                self,
                DiskError::Read { source, .. }
                    if matches!(source.raw_os_error(), Some(libc::EIO | libc::EBADMSG))
            )
    }

    /// False for errors caused by one bad request (a peer asking for a block outside a piece, an
    /// engine passing the wrong piece length) or by cancellation: the torrent can go on. True when
    /// the storage itself is unusable (disk full, I/O error, bad output directory) and the torrent
    /// should stop with this message.
    pub(crate) fn is_fatal(&self) -> bool {
        match self {
            DiskError::PieceOutOfRange { .. }
            | DiskError::BlockOutOfRange { .. }
            | DiskError::Cancelled => false,
            #[cfg(test)]
            DiskError::PieceLength { .. } => false,
            _ => true,
        }
    }
}

/// SHA-1 over `blocks` as if they were one buffer.
///
/// sha1 0.10 picks its SHA-NI backend at run time (cpufeatures, `sha`+`sse4.1` cpuid check in
/// `compress/x86.rs`), so no crate feature or `target-cpu` flag is needed for the fast path.
#[cfg(test)]
pub(crate) fn hash_blocks(blocks: &[impl AsRef<[u8]>]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    for block in blocks {
        hasher.update(block.as_ref());
    }
    hasher.finalize().into()
}

/// Make writes past RLIMIT_FSIZE fail with EFBIG (reported as `DiskError::DiskFull`) instead of
/// SIGXFSZ killing the whole process, which is its default action. Call once at start-up.
pub(crate) fn ignore_sigxfsz() {
    // SAFETY: `signal` gets a valid signal number and SIG_IGN rather than a handler function, so
    // no code of ours ever runs in signal context and there is no async-signal-safety obligation
    // to uphold. No pointer to memory we own is passed. Changing a disposition is a single
    // rt_sigaction syscall, which is thread-safe, so racing other threads is fine. The only
    // effect is that the kernel no longer delivers SIGXFSZ; the syscall that exceeded the limit
    // then returns EFBIG, which every caller already handles as an error. The return value (the
    // previous disposition, or SIG_ERR only for an invalid signal number) carries nothing we need.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

struct StoredFile {
    path: PathBuf,
    /// Offset of the file in the concatenated payload.
    offset: u64,
    length: u64,
    /// BEP 47 padding: zeros that exist only inside pieces, never on disk.
    padding: bool,
    /// The file did not exist, or had the wrong length, before `Storage::open`: its content is
    /// known to be missing, so the resume check skips reading pieces that touch it.
    fresh: bool,
    /// Written since the last `flush`.
    dirty: AtomicBool,
    /// Skipped and not on disk: its bytes go to the parts file (`skip.rs`). Only ever goes
    /// from true to false, under the parts lock, once the file exists.
    absent: AtomicBool,
    /// What `want_file` needs to create it later.
    entry: Option<(Vec<String>, bool)>,
    /// Wanted, missing at `Storage::open` and not created yet: `create_late` makes it at its
    /// length before its first read or write. Only ever goes from true to false, under
    /// `Storage::creating`. Implies `fresh`.
    late: AtomicBool,
    /// BEP 47 attr `x`, for `create_late`.
    executable: bool,
}

impl StoredFile {
    /// Notes a write for the next `flush`. Read first: one store per file per flush, not one
    /// per block.
    fn mark_dirty(&self) {
        if !self.dirty.load(Ordering::Relaxed) {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }
}

/// The files of one torrent, open for positioned reads and writes.
pub(crate) struct Storage {
    root: PathBuf,
    files: Vec<StoredFile>,
    /// The files' descriptors, from the session's budget; dropped with the storage.
    handles: TorrentFiles,
    geometry: Geometry,
    parts: Mutex<parts::Parts>,
    /// Held while a late file is created, so two disk threads never both create it.
    creating: Mutex<()>,
    /// Its name in the session's read cache (`read_cache.rs`).
    cache_id: u64,
    /// Reads for this torrent's peers waiting for the device, and all reads waiting for the
    /// device (`read_waits.rs`).
    pub(crate) read_waits: read_waits::ReadWaits,
    pub(crate) device_waits: Arc<read_waits::ReadWaits>,
    /// The device of `root` (0 when it could not be told): the unit of the session's writer
    /// locks (`DiskPool::writer`).
    device: u64,
    /// The device `root` is on now, as far as the storage knows: the one it opened on, then
    /// the one it came back on after it was gone (`is_gone`, `is_back`).
    root_dev: std::sync::atomic::AtomicU64,
}

impl Drop for Storage {
    fn drop(&mut self) {
        read_cache::read_cache().forget_storage(self.cache_id);
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.root)
            .field("files", &self.files.len())
            .field("budget", &self.handles.budget().capacity())
            .field("geometry", &self.geometry)
            .finish()
    }
}

impl Storage {
    /// Open (creating what is missing) every file of `info` under `root`.
    ///
    /// Files are created sparse at their final length so later writes never extend them; a file
    /// that already has the right length is left untouched so a previous download can resume.
    /// Padding files are not created. The files are closed again and reopened on demand, their
    /// descriptors taken from the process's budget (a session passes its own to
    /// `open_skipping`).
    pub(crate) fn open(root: &Path, info: &Info) -> Result<Storage, DiskError> {
        Storage::open_in(open_files::process_budget(), root, info)
    }

    /// `open`, with descriptors from `budget`.
    pub(crate) fn open_in(
        budget: &Arc<OpenFiles>,
        root: &Path,
        info: &Info,
    ) -> Result<Storage, DiskError> {
        Storage::open_skipping(budget, root, info, &[], ".ttui.parts")
    }

    /// `open_in`, except that the files flagged in `skipped` (one flag per entry of
    /// `info.files`) are not created when they do not exist: their bytes in pieces shared with
    /// wanted files go to the hidden parts file `parts_name` in `root`.
    pub(crate) fn open_skipping(
        budget: &Arc<OpenFiles>,
        root: &Path,
        info: &Info,
        skipped: &[bool],
        parts_name: &str,
    ) -> Result<Storage, DiskError> {
        let geometry = check_layout(info)?;
        let root = prepare_root(root)?;
        let mut files = Vec::with_capacity(info.files.len());
        let mut paths = FilePaths::new(&root);
        for (n, entry) in info.files.iter().enumerate() {
            // Links (BEP 47) hold no data: no file, made after the files by create_links.
            let no_file = entry.padding || entry.symlink.is_some();
            let absent = !no_file
                && skipped.get(n).copied().unwrap_or(false)
                && fs_missing(&root, &entry.relative_path());
            let mut late = false;
            let (path, fresh) = if no_file {
                (entry.relative_path(), false)
            } else if absent {
                (root.join(entry.relative_path()), true)
            } else {
                let path = paths.file_path(&entry.path)?;
                if entry.length > 0 && missing(&path)? {
                    // Created at its first use (`create_late`), on a disk thread while the
                    // torrent already talks to peers: creating a file can cost a millisecond,
                    // a second for a thousand files before the first announce.
                    late = true;
                    (path, true)
                } else {
                    // Closed at once: the budget reopens it when it is first used.
                    let (_, fresh) = open_file(&path, entry.length, entry.executable)?;
                    (path, fresh)
                }
            };
            files.push(StoredFile {
                path,
                offset: entry.offset,
                length: entry.length,
                padding: no_file,
                fresh,
                dirty: AtomicBool::new(false),
                absent: AtomicBool::new(absent),
                entry: absent.then(|| (entry.path.clone(), entry.executable)),
                late: AtomicBool::new(late),
                executable: entry.executable,
            });
        }
        create_links(&root, info);
        let handles = budget.register(files.len());
        let parts = parts::Parts::open(
            root.join(parts_name),
            geometry.num_pieces(),
            geometry.piece_length(),
        );
        let device = std::fs::metadata(&root)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .unwrap_or(0);
        Ok(Storage {
            root,
            files,
            handles,
            geometry,
            parts: Mutex::new(parts),
            creating: Mutex::new(()),
            cache_id: read_cache::next_storage_id(),
            read_waits: read_waits::ReadWaits::default(),
            device_waits: read_waits::for_device(device),
            device,
            root_dev: std::sync::atomic::AtomicU64::new(device),
        })
    }

    #[cfg(test)]
    /// The canonical output directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    #[cfg(test)]
    /// Full paths of the torrent's files on disk, in torrent order (padding files have none).
    pub(crate) fn file_paths(&self) -> impl Iterator<Item = &Path> {
        self.files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| f.path.as_path())
    }

    #[cfg(test)]
    /// Files of this torrent whose descriptors are open right now.
    pub(crate) fn open_files(&self) -> usize {
        self.handles.open_count()
    }

    /// Gives file `index` bytes of its own: a new file of its length (all zeros) is renamed
    /// over its name, so the data its name shared with another (a hard link cross-seeding
    /// made) stays with that other name, untouched by what this torrent writes next. Its
    /// descriptors are closed first (the budget opens the new file at its next use).
    pub(crate) fn unshare(&self, index: usize) -> Result<(), DiskError> {
        let Some(f) = self.files.get(index).filter(|f| !f.padding) else {
            return Ok(());
        };
        self.handles.close_all();
        let mut name = f.path.clone().into_os_string();
        name.push(".ttui-own");
        let tmp = PathBuf::from(name);
        let made = std::fs::File::create(&tmp)
            .and_then(|file| file.set_len(f.length))
            .and_then(|()| std::fs::rename(&tmp, &f.path));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&tmp);
            return Err(storage_error("replace", &f.path, e));
        }
        Ok(())
    }

    /// The device the torrent's directory is on (0 when it could not be told).
    pub(crate) fn device(&self) -> u64 {
        self.device
    }

    #[cfg(test)]
    pub(crate) fn num_pieces(&self) -> u32 {
        self.geometry.num_pieces()
    }

    /// Length of piece `index`, or `None` when there is no such piece.
    pub(crate) fn piece_len(&self, index: u32) -> Option<u32> {
        self.geometry.piece_len(index)
    }

    /// Start in the payload and length of piece `index`.
    fn checked_piece(&self, index: u32) -> Result<(u64, u32), DiskError> {
        let out_of_range = || DiskError::PieceOutOfRange {
            index,
            count: self.geometry.num_pieces(),
        };
        let start = self.geometry.piece_offset(index).ok_or_else(out_of_range)?;
        let len = self.geometry.piece_len(index).ok_or_else(out_of_range)?;
        Ok((start, len))
    }

    /// Run `op` on the open handle of file `index`, from the session's budget (which may
    /// reopen it). The budget's lock is not held during `op`, so reads never wait for another
    /// thread's write.
    fn with_handle<T>(
        &self,
        index: usize,
        file: &StoredFile,
        op: impl FnOnce(&File) -> Result<T, DiskError>,
    ) -> Result<T, DiskError> {
        if file.late.load(Ordering::Acquire) {
            return op(&*self.create_late(index, file)?);
        }
        let handle = self
            .handles
            .get(index, &file.path)
            .map_err(|e| self.explain(storage_error("open", &file.path, e)))?;
        op(&handle).map_err(|e| self.explain(e))
    }

    /// Tells the storage's troubles from a file's: an error that a vanished file system also
    /// gives (a file not found, ENOTCONN, ENODEV, ENXIO, ESTALE, EIO) when the storage's
    /// folder is gone (`is_gone`) becomes `StorageMissing`, so no piece is taken for lost;
    /// EROFS (remounted read-only) becomes `ReadOnly`. Any other error is left as it is.
    fn explain(&self, e: DiskError) -> DiskError {
        let source = match &e {
            DiskError::Read { source, .. }
            | DiskError::Io { source, .. }
            | DiskError::DiskFull { source, .. } => source,
            _ => return e,
        };
        let errno = source.raw_os_error();
        if errno == Some(libc::EROFS) {
            return DiskError::ReadOnly {
                root: self.root.clone(),
            };
        }
        let vanishing = source.kind() == io::ErrorKind::NotFound
            || matches!(
                errno,
                Some(libc::ENOTCONN | libc::ENODEV | libc::ENXIO | libc::ESTALE | libc::EIO)
            );
        if vanishing && self.is_gone() {
            return DiskError::StorageMissing {
                root: self.root.clone(),
            };
        }
        e
    }

    /// Whether the storage's folder is gone: not there (or its file system not answering),
    /// not a folder, or on another device than when the torrent opened it (the mount point's
    /// own folder, left behind by an unmount).
    pub(crate) fn is_gone(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let dev = self.root_dev.load(Ordering::Relaxed);
        match std::fs::metadata(&self.root) {
            Ok(m) => !m.is_dir() || (dev != 0 && m.dev() != dev),
            Err(_) => true,
        }
    }

    /// Whether the storage is back after it was gone: its folder there, and every file it
    /// holds there at its full length (files are made at their final length), as a quick
    /// check after a clean stop finds them. A file left for its first use may be absent.
    /// Then the old descriptors are closed, so the next reads and writes open the files anew.
    pub(crate) fn is_back(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(root) = std::fs::metadata(&self.root).ok().filter(|m| m.is_dir()) else {
            return false;
        };
        let whole =
            self.files
                .iter()
                .filter(|f| !f.padding)
                .all(|f| match std::fs::metadata(&f.path) {
                    Ok(m) => m.is_file() && m.len() == f.length,
                    Err(_) => f.late.load(Ordering::Acquire) || f.absent.load(Ordering::Acquire),
                });
        if whole {
            self.root_dev.store(root.dev(), Ordering::Relaxed);
            self.handles.close_all();
        }
        whole
    }

    /// Whether the storage takes writes again after they failed with EROFS: its file system
    /// is not mounted read-only, and a byte of its first file on disk, read and written back
    /// as it was, goes through (a file system may refuse writes without saying so in its
    /// mount flags). True when there is no such file: the next write tells.
    pub(crate) fn is_writable(&self) -> bool {
        let ro = rustix::fs::statvfs(&self.root)
            .is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY));
        if ro {
            return false;
        }
        let Some(file) = self
            .files
            .iter()
            .find(|f| !f.padding && f.length > 0 && !f.absent.load(Ordering::Acquire))
        else {
            return true;
        };
        let mut byte = [0u8; 1];
        let probe = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file.path)
            .and_then(|f| {
                f.read_exact_at(&mut byte, 0)?;
                f.write_all_at(&byte, 0)
            });
        if probe.is_ok() {
            self.handles.close_all();
        }
        probe.is_ok()
    }

    #[cfg(test)]
    /// Write a whole piece given as its blocks in order (the engine has already checked its
    /// hash). Each block goes to disk with positioned writes straight from its buffer, split where
    /// it crosses a file boundary. Bytes that fall in padding files are not written: the hash
    /// proved them zeros.
    pub(crate) fn write_piece<B: AsRef<[u8]>>(
        &self,
        index: u32,
        blocks: &[B],
    ) -> Result<(), DiskError> {
        let (mut pos, piece_len) = self.checked_piece(index)?;
        let got: u64 = blocks.iter().map(|b| b.as_ref().len() as u64).sum();
        if got != u64::from(piece_len) {
            return Err(DiskError::PieceLength {
                index,
                got,
                expected: piece_len,
            });
        }
        for block in blocks {
            let block = block.as_ref();
            self.write_payload(pos, block)?;
            pos += block.len() as u64;
        }
        Ok(())
    }

    /// Write one block of piece `index` at `begin`, before the piece's hash is known (the
    /// engine hashes blocks in order as they arrive and marks the piece only when it matches).
    /// A range outside the piece is an error. Bytes in padding files are not written: a
    /// piece whose padding was not zeros fails its hash.
    pub(crate) fn write_block(
        &self,
        index: u32,
        begin: u32,
        block: &[u8],
    ) -> Result<(), DiskError> {
        let start = self.checked_range(index, begin, block.len())?;
        read_cache::read_cache().forget_piece(self.cache_id, index);
        self.write_payload(start, block)
    }

    /// Payload offset of `len` bytes at `begin` in piece `index`, or the error for a range
    /// that does not lie inside the piece.
    pub(super) fn checked_range(
        &self,
        index: u32,
        begin: u32,
        len: usize,
    ) -> Result<u64, DiskError> {
        let (_, piece_len) = self.checked_piece(index)?;
        u32::try_from(len)
            .ok()
            .and_then(|l| self.geometry.range_offset(index, begin, l))
            .ok_or(DiskError::BlockOutOfRange {
                index,
                begin,
                len,
                piece_len,
            })
    }

    /// Positioned writes of `block` at payload offset `pos`, straight from its buffer, split
    /// where it crosses a file boundary.
    fn write_payload(&self, pos: u64, block: &[u8]) -> Result<(), DiskError> {
        self.for_each_segment(pos, block.len(), |i, file, file_offset, range| {
            if file.padding {
                return Ok(());
            }
            let at = pos + range.start as u64;
            let data = block.get(range).ok_or_else(segment_bug)?;
            if self.write_parts(file, at, data)? {
                return Ok(());
            }
            self.with_handle(i, file, |handle| {
                handle
                    .write_all_at(data, file_offset)
                    .map_err(|e| write_error(&file.path, e))
            })?;
            file.mark_dirty();
            Ok(())
        })
    }

    /// Read `buf.len()` bytes of piece `index` starting at `begin` (a peer's request when
    /// seeding). A range outside the piece is an error, never a short or out-of-bounds read.
    pub(crate) fn read_block(
        &self,
        index: u32,
        begin: u32,
        buf: &mut [u8],
    ) -> Result<(), DiskError> {
        let start = self.block_start(index, begin, buf.len())?;
        self.read_payload(start, buf)
    }

    /// Where block `begin..begin + len` of piece `index` starts in the payload; an error if
    /// the block is not inside the piece.
    fn block_start(&self, index: u32, begin: u32, len: usize) -> Result<u64, DiskError> {
        let (_, piece_len) = self.checked_piece(index)?;
        u32::try_from(len)
            .ok()
            .and_then(|l| self.geometry.range_offset(index, begin, l))
            .ok_or(DiskError::BlockOutOfRange {
                index,
                begin,
                len,
                piece_len,
            })
    }

    #[cfg(test)]
    /// Read the whole of piece `index` into `buf`, resized to the piece length. Reusing one
    /// buffer across calls avoids both the allocation and the zero-fill. (The check reads
    /// runs of pieces instead: check.rs.)
    pub(crate) fn read_piece(&self, index: u32, buf: &mut Vec<u8>) -> Result<(), DiskError> {
        let (start, piece_len) = self.checked_piece(index)?;
        buf.resize(piece_len as usize, 0);
        self.read_payload(start, buf)
    }

    fn read_payload(&self, start: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.read_payload_advised(start, buf, None)
    }

    /// `read_payload`, first giving `advice` for each file read (advice only: a failure costs
    /// speed, not correctness).
    fn read_payload_advised(
        &self,
        start: u64,
        buf: &mut [u8],
        advice: Option<rustix::fs::Advice>,
    ) -> Result<(), DiskError> {
        self.for_each_segment(start, buf.len(), |i, file, file_offset, range| {
            let range_start = range.start as u64;
            let dst = buf.get_mut(range).ok_or_else(segment_bug)?;
            if file.padding {
                dst.fill(0);
                return Ok(());
            }
            if self.read_parts(file, start + range_start, dst)? {
                return Ok(());
            }
            self.with_handle(i, file, |handle| {
                if let Some(advice) = advice {
                    let _ = rustix::fs::fadvise(handle, 0, None, advice);
                }
                handle
                    .read_exact_at(dst, file_offset)
                    .map_err(|e| read_error(&file.path, file_offset, dst.len(), e))
            })
        })
    }

    /// Call `f(file index, file, offset in file, range in the caller's buffer)` for each file
    /// that holds part of the payload bytes `start .. start + len`, in order. 0-byte files hold
    /// nothing and are skipped. Callers have bounds-checked the range against the piece.
    fn for_each_segment(
        &self,
        start: u64,
        len: usize,
        mut f: impl FnMut(usize, &StoredFile, u64, Range<usize>) -> Result<(), DiskError>,
    ) -> Result<(), DiskError> {
        let end = start + len as u64;
        // File ends are non-decreasing in torrent order, so this finds the first file that
        // holds byte `start`.
        let mut i = self.files.partition_point(|f| f.offset + f.length <= start);
        let mut pos = start;
        while pos < end {
            let file = self.files.get(i).ok_or_else(segment_bug)?;
            let index = i;
            i += 1;
            let file_end = file.offset + file.length;
            if file_end <= pos {
                continue;
            }
            let segment_end = end.min(file_end);
            let range = (pos - start) as usize..(segment_end - start) as usize;
            f(index, file, pos - file.offset, range)?;
            pos = segment_end;
        }
        Ok(())
    }

    /// Push written data to the device (graceful quit): every file written since the last flush,
    /// reopened if the budget had closed it (the kernel keeps its dirty pages either way). Tries
    /// every file, returns the first error.
    pub(crate) fn flush(&self) -> Result<(), DiskError> {
        let mut first_error = None;
        for (i, file) in self.files.iter().enumerate() {
            if file.padding
                || file.absent.load(Ordering::Acquire)
                || !file.dirty.swap(false, Ordering::Relaxed)
            {
                continue;
            }
            let synced = self.with_handle(i, file, |handle| {
                handle.sync_data().map_err(|e| write_error(&file.path, e))
            });
            if let Err(e) = synced {
                file.dirty.store(true, Ordering::Relaxed);
                first_error.get_or_insert(e);
            }
        }
        let synced = {
            let parts = self.lock_parts();
            parts.sync().map_err(|e| write_error(&parts.path, e))
        };
        if let Err(e) = synced {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn segment_bug() -> DiskError {
    DiskError::Layout("a piece range runs past the files (layout not checked?)".into())
}

fn io_error(op: &'static str, path: &Path, source: io::Error) -> DiskError {
    DiskError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn read_error(path: &Path, at: u64, len: usize, source: io::Error) -> DiskError {
    DiskError::Read {
        path: path.to_path_buf(),
        at,
        len,
        source,
    }
}

fn write_error(path: &Path, source: io::Error) -> DiskError {
    storage_error("write", path, source)
}

/// Out-of-space conditions get their own variant so the user sees "disk full", whatever the
/// operation that ran into them (a write, extending a file, creating one without free inodes).
fn storage_error(op: &'static str, path: &Path, source: io::Error) -> DiskError {
    match source.raw_os_error() {
        Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT) => DiskError::DiskFull {
            path: path.to_path_buf(),
            source,
        },
        _ => io_error(op, path, source),
    }
}
