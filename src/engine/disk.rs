//! The storage layer: a torrent's payload on disk. Positioned reads and writes that split at
//! file boundaries, the SHA-1 helper, and the resume check.
//!
//! Everything here is blocking std I/O and owns no thread of its own (the resume check borrows
//! scoped worker threads for its duration). Callers run it on tokio's blocking pool
//! (`spawn_blocking`), never on a reactor thread. `Storage` is `Send + Sync`: all methods take
//! `&self` (positioned I/O needs no seek position), so one `Arc<Storage>` serves several
//! blocking threads at once; ordering writes, if wanted, is the caller's choice.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha1::{Digest, Sha1};

use crate::protocol::geometry::Geometry;
use crate::protocol::metainfo::Info;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
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
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("piece {index} out of range (the torrent has {count} pieces)")]
    PieceOutOfRange { index: u32, count: u32 },
    #[error("block at {begin} of length {len} is outside piece {index} of length {piece_len}")]
    BlockOutOfRange {
        index: u32,
        begin: u32,
        len: usize,
        piece_len: u32,
    },
    #[error("piece {index}: the blocks hold {got} bytes but the piece has {expected}")]
    PieceLength { index: u32, got: u64, expected: u32 },
    #[error("file check cancelled")]
    Cancelled,
}

impl DiskError {
    /// False for errors caused by one bad request (a peer asking for a block outside a piece, an
    /// engine passing the wrong piece length) or by cancellation: the torrent can go on. True when
    /// the storage itself is unusable (disk full, I/O error, bad output directory) and the torrent
    /// should stop with this message.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            DiskError::PieceOutOfRange { .. }
                | DiskError::BlockOutOfRange { .. }
                | DiskError::PieceLength { .. }
                | DiskError::Cancelled
        )
    }
}

/// SHA-1 over `blocks` as if they were one buffer.
///
/// sha1 0.10 picks its SHA-NI backend at run time (cpufeatures, `sha`+`sse4.1` cpuid check in
/// `compress/x86.rs`), so no crate feature or `target-cpu` flag is needed for the fast path.
pub fn hash_blocks(blocks: &[impl AsRef<[u8]>]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    for block in blocks {
        hasher.update(block.as_ref());
    }
    hasher.finalize().into()
}

/// Make writes past RLIMIT_FSIZE fail with EFBIG (reported as `DiskError::DiskFull`) instead of
/// SIGXFSZ killing the whole process, which is its default action. Call once at start-up.
pub fn ignore_sigxfsz() {
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
    file: File,
    /// The file did not exist, or had the wrong length, before `Storage::open`: its content is
    /// known to be missing, so the resume check skips reading pieces that touch it.
    fresh: bool,
}

/// The files of one torrent, open for positioned reads and writes.
pub struct Storage {
    root: PathBuf,
    files: Vec<StoredFile>,
    geometry: Geometry,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.root)
            .field("files", &self.files.len())
            .field("geometry", &self.geometry)
            .finish()
    }
}

impl Storage {
    /// Open (creating what is missing) every file of `info` under `root`.
    ///
    /// Files are created sparse at their final length so later writes never extend them; a file
    /// that already has the right length is left untouched so a previous download can resume.
    pub fn open(root: &Path, info: &Info) -> Result<Storage, DiskError> {
        let geometry = check_layout(info)?;
        let root = prepare_root(root)?;
        let mut files = Vec::with_capacity(info.files.len());
        for entry in &info.files {
            let path = prepare_file_path(&root, &entry.path)?;
            let (file, fresh) = open_file(&path, entry.length)?;
            files.push(StoredFile {
                path,
                offset: entry.offset,
                length: entry.length,
                file,
                fresh,
            });
        }
        Ok(Storage {
            root,
            files,
            geometry,
        })
    }

    /// The canonical output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Full paths of the torrent's files, in torrent order.
    pub fn file_paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    pub fn num_pieces(&self) -> u32 {
        self.geometry.num_pieces()
    }

    /// Length of piece `index`, or `None` when there is no such piece.
    pub fn piece_len(&self, index: u32) -> Option<u32> {
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

    /// Write a whole piece given as its blocks in order (the engine has already checked its
    /// hash). Each block goes to disk with positioned writes straight from its buffer, split where
    /// it crosses a file boundary.
    pub fn write_piece<B: AsRef<[u8]>>(&self, index: u32, blocks: &[B]) -> Result<(), DiskError> {
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
            self.for_each_segment(pos, block.len(), |file, file_offset, range| {
                let data = block.get(range).ok_or_else(segment_bug)?;
                file.file
                    .write_all_at(data, file_offset)
                    .map_err(|e| write_error(&file.path, e))
            })?;
            pos += block.len() as u64;
        }
        Ok(())
    }

    /// Read `buf.len()` bytes of piece `index` starting at `begin` (a peer's request when
    /// seeding). A range outside the piece is an error, never a short or out-of-bounds read.
    pub fn read_block(&self, index: u32, begin: u32, buf: &mut [u8]) -> Result<(), DiskError> {
        let (_, piece_len) = self.checked_piece(index)?;
        let start = u32::try_from(buf.len())
            .ok()
            .and_then(|len| self.geometry.range_offset(index, begin, len));
        let Some(start) = start else {
            return Err(DiskError::BlockOutOfRange {
                index,
                begin,
                len: buf.len(),
                piece_len,
            });
        };
        self.read_payload(start, buf)
    }

    /// Read the whole of piece `index` into `buf`, resized to the piece length. Reusing one
    /// buffer across calls avoids both the allocation and the zero-fill.
    pub fn read_piece(&self, index: u32, buf: &mut Vec<u8>) -> Result<(), DiskError> {
        let (start, piece_len) = self.checked_piece(index)?;
        buf.resize(piece_len as usize, 0);
        self.read_payload(start, buf)
    }

    fn read_payload(&self, start: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.for_each_segment(start, buf.len(), |file, file_offset, range| {
            let dst = buf.get_mut(range).ok_or_else(segment_bug)?;
            file.file
                .read_exact_at(dst, file_offset)
                .map_err(|e| io_error("read", &file.path, e))
        })
    }

    /// Call `f(file, offset in file, range in the caller's buffer)` for each file that holds part
    /// of the payload bytes `start .. start + len`, in order. 0-byte files hold nothing and are
    /// skipped. Callers have bounds-checked the range against the piece.
    fn for_each_segment(
        &self,
        start: u64,
        len: usize,
        mut f: impl FnMut(&StoredFile, u64, Range<usize>) -> Result<(), DiskError>,
    ) -> Result<(), DiskError> {
        let end = start + len as u64;
        // File ends are non-decreasing in torrent order, so this finds the first file that
        // holds byte `start`.
        let mut i = self.files.partition_point(|f| f.offset + f.length <= start);
        let mut pos = start;
        while pos < end {
            let file = self.files.get(i).ok_or_else(segment_bug)?;
            i += 1;
            let file_end = file.offset + file.length;
            if file_end <= pos {
                continue;
            }
            let segment_end = end.min(file_end);
            let range = (pos - start) as usize..(segment_end - start) as usize;
            f(file, pos - file.offset, range)?;
            pos = segment_end;
        }
        Ok(())
    }

    /// Whether piece `index` has bytes in a file that was created or resized by `open`.
    fn touches_fresh_file(&self, index: u32) -> Result<bool, DiskError> {
        let (start, len) = self.checked_piece(index)?;
        let mut fresh = false;
        self.for_each_segment(start, len as usize, |file, _, _| {
            fresh |= file.fresh;
            Ok(())
        })?;
        Ok(fresh)
    }

    /// Resume check: which pieces are already on disk with the right hash.
    ///
    /// Pieces that touch a file which was missing or had the wrong length before `open` are
    /// reported missing without reading. The rest are read and hashed by `threads` workers that
    /// take piece numbers from a shared counter, each reading into its own reused buffer.
    /// `progress` gets the number of pieces checked so far (skipped ones included, so it ends at
    /// `num_pieces`), about every 1%, with increasing values. Setting `cancel` stops the workers
    /// after their current piece and returns `DiskError::Cancelled`.
    pub fn check_existing(
        &self,
        info: &Info,
        threads: usize,
        progress: &(dyn Fn(u32) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<bool>, DiskError> {
        let count = self.geometry.num_pieces();
        if info.pieces.len() != count as usize || info.geometry() != self.geometry {
            return Err(DiskError::Layout(
                "check_existing called with a different torrent than Storage::open".into(),
            ));
        }
        let mut to_check = Vec::new();
        for index in 0..count {
            if !self.touches_fresh_file(index)? {
                to_check.push(index);
            }
        }
        let mut verified = vec![false; count as usize];
        let skipped = count - to_check.len() as u32;
        let reporter = Progress::new(count, progress);
        reporter.report(skipped);
        if to_check.is_empty() {
            return Ok(verified);
        }

        let next = AtomicUsize::new(0);
        let done = AtomicU32::new(skipped);
        let failed = AtomicBool::new(false);
        let workers = threads.clamp(1, to_check.len());
        let outcomes: Vec<Result<Vec<u32>, DiskError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut buf = Vec::new();
                        let mut good = Vec::new();
                        while !cancel.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
                            let Some(&index) = to_check.get(next.fetch_add(1, Ordering::Relaxed))
                            else {
                                break;
                            };
                            match self.read_piece(index, &mut buf) {
                                Ok(()) => {
                                    let expected = info.pieces.get(index as usize);
                                    if expected == Some(&hash_blocks(&[&buf])) {
                                        good.push(index);
                                    }
                                }
                                // A file shrunk since `open` (another program truncated it):
                                // the piece is simply missing.
                                Err(DiskError::Io { source, .. })
                                    if source.kind() == io::ErrorKind::UnexpectedEof => {}
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                            reporter.report(done.fetch_add(1, Ordering::Relaxed) + 1);
                        }
                        Ok(good)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        if cancel.load(Ordering::Relaxed) {
            return Err(DiskError::Cancelled);
        }
        for outcome in outcomes {
            for index in outcome? {
                if let Some(flag) = verified.get_mut(index as usize) {
                    *flag = true;
                }
            }
        }
        Ok(verified)
    }

    /// Push written data to the device (graceful quit). Tries every file, returns the first error.
    pub fn flush(&self) -> Result<(), DiskError> {
        let mut first_error = None;
        for file in &self.files {
            if let Err(e) = file.file.sync_data() {
                first_error.get_or_insert_with(|| write_error(&file.path, e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Rate-limits progress calls to about every 1% and keeps the reported values increasing even
/// though workers finish pieces in any order.
struct Progress<'a> {
    step: u32,
    total: u32,
    last: Mutex<Option<u32>>,
    callback: &'a (dyn Fn(u32) + Sync),
}

impl<'a> Progress<'a> {
    fn new(total: u32, callback: &'a (dyn Fn(u32) + Sync)) -> Self {
        Progress {
            step: (total / 100).max(1),
            total,
            last: Mutex::new(None),
            callback,
        }
    }

    fn report(&self, done: u32) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let due = match *last {
            None => true,
            Some(prev) => done > prev && (done - prev >= self.step || done == self.total),
        };
        if due {
            *last = Some(done);
            (self.callback)(done);
        }
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

/// The parser validates this too; checking here keeps every offset computation in this module
/// free of underflow and out-of-range cases whatever `Info` it is handed.
fn check_layout(info: &Info) -> Result<Geometry, DiskError> {
    let geometry = Geometry::new(info.piece_length, info.total_length).ok_or_else(|| {
        DiskError::Layout(format!(
            "no piece layout for {} bytes in pieces of {} bytes",
            info.total_length, info.piece_length
        ))
    })?;
    let mut offset = 0u64;
    for entry in &info.files {
        if entry.offset != offset {
            return Err(DiskError::Layout(format!(
                "file {:?} starts at {} instead of {offset}",
                entry.path.join("/"),
                entry.offset
            )));
        }
        offset = offset
            .checked_add(entry.length)
            .ok_or_else(|| DiskError::Layout("total length overflows".into()))?;
    }
    if offset != info.total_length {
        return Err(DiskError::Layout(format!(
            "files add up to {offset} bytes, the torrent says {}",
            info.total_length
        )));
    }
    if info.pieces.len() as u64 != u64::from(geometry.num_pieces()) {
        return Err(DiskError::Layout(format!(
            "{} piece hashes for {} pieces",
            info.pieces.len(),
            geometry.num_pieces()
        )));
    }
    Ok(geometry)
}

/// Create `root` if needed, prove it is a writable directory, return its canonical path.
fn prepare_root(root: &Path) -> Result<PathBuf, DiskError> {
    let root_error = |source| DiskError::Root {
        root: root.to_path_buf(),
        source,
    };
    match fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => {
            return Err(DiskError::NotADirectory {
                path: root.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(root).map_err(|e| read_only_or(root, e, root_error))?
        }
        Err(e) => return Err(root_error(e)),
    }
    // Permission bits do not tell the truth (root ignores them, a read-only mount ignores
    // them the other way), so try to create a file.
    let probe = root.join(format!(".ttui-write-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| read_only_or(root, e, root_error))?;
    fs::remove_file(&probe).map_err(root_error)?;
    root.canonicalize().map_err(root_error)
}

fn read_only_or(
    root: &Path,
    e: io::Error,
    other: impl FnOnce(io::Error) -> DiskError,
) -> DiskError {
    if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS) {
        DiskError::ReadOnly {
            root: root.to_path_buf(),
        }
    } else {
        other(e)
    }
}

fn check_component(component: &str) -> Result<(), &'static str> {
    if component.is_empty() {
        Err("empty path component")
    } else if component == "." || component == ".." {
        Err("`.` or `..` path component")
    } else if component.contains('/') || component.contains('\0') {
        Err("path component contains `/` or NUL")
    } else {
        Ok(())
    }
}

/// Join `components` under `root`, creating the directories, and make sure no existing symlink
/// on the way leads outside `root` (checked before anything is created through it).
fn prepare_file_path(root: &Path, components: &[String]) -> Result<PathBuf, DiskError> {
    let unsafe_path = |reason| DiskError::UnsafePath {
        path: components.join("/"),
        reason,
    };
    let Some((file_name, dirs)) = components.split_last() else {
        return Err(unsafe_path("empty path"));
    };
    for component in components {
        check_component(component).map_err(unsafe_path)?;
    }
    let inside_root = |path: &Path| -> Result<(), DiskError> {
        let real = path
            .canonicalize()
            .map_err(|e| io_error("resolve", path, e))?;
        if real.starts_with(root) {
            Ok(())
        } else {
            Err(DiskError::PathEscape {
                path: path.to_path_buf(),
                root: root.to_path_buf(),
            })
        }
    };

    let mut dir = root.to_path_buf();
    for component in dirs {
        dir.push(component);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                inside_root(&dir)?;
                if !dir.is_dir() {
                    return Err(DiskError::NotADirectory { path: dir });
                }
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(DiskError::NotADirectory { path: dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => inside_root(&dir)?,
                Err(e) => return Err(io_error("create directory", &dir, e)),
            },
            Err(e) => return Err(io_error("inspect", &dir, e)),
        }
    }
    // Belt and braces over the per-component checks: the parent as finally resolved.
    inside_root(&dir)?;

    let path = dir.join(file_name);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            // A dangling link would make `open(O_CREAT)` create its target wherever it points.
            if fs::metadata(&path).is_err() {
                return Err(DiskError::PathEscape {
                    path,
                    root: root.to_path_buf(),
                });
            }
            inside_root(&path)?;
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("inspect", &path, e)),
    }
    Ok(path)
}

/// Open or create `path` at `length` bytes; the flag says whether it was missing or had another
/// length (its content is then known to be missing).
fn open_file(path: &Path, length: u64) -> Result<(File, bool), DiskError> {
    let fresh = match fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta.len() != length,
        Ok(_) => {
            return Err(DiskError::NotAFile {
                path: path.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(io_error("inspect", path, e)),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| storage_error("open", path, e))?;
    if fresh {
        file.set_len(length)
            .map_err(|e| storage_error("resize", path, e))?;
    }
    Ok((file, fresh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::metainfo::FileEntry;
    use std::process::Command;

    /// A multi-file `Info` named "t" over `files` (path with `/`, length) whose piece hashes are
    /// those of `data`.
    fn info_for(files: &[(&str, u64)], piece_length: u32, data: &[u8]) -> Info {
        let mut offset = 0;
        let entries = files
            .iter()
            .map(|&(path, length)| {
                let mut components = vec!["t".to_string()];
                components.extend(path.split('/').map(str::to_string));
                let entry = FileEntry::new(components, length, offset);
                offset += length;
                entry
            })
            .collect();
        assert_eq!(offset, data.len() as u64, "test data must match the layout");
        Info {
            name: "t".into(),
            piece_length,
            pieces: data
                .chunks(piece_length as usize)
                .map(|c| hash_blocks(&[c]))
                .collect(),
            files: entries,
            total_length: offset,
            private: false,
            source: None,
            single_file: false,
        }
    }

    fn test_data(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
            .collect()
    }

    fn piece_of(data: &[u8], info: &Info, index: u32) -> Vec<u8> {
        let start = index as usize * info.piece_length as usize;
        data[start..start + info.piece_len(index) as usize].to_vec()
    }

    /// The piece cut into `block`-sized `Bytes`, as the engine hands it over.
    fn blocks_of(piece: &[u8], block: usize) -> Vec<bytes::Bytes> {
        piece
            .chunks(block)
            .map(bytes::Bytes::copy_from_slice)
            .collect()
    }

    fn no_progress(_: u32) {}

    #[test]
    fn storage_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Storage>();
        assert_send_sync::<DiskError>();
    }

    #[test]
    fn piece_spanning_three_files_and_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        // Piece 0 (16 bytes) = a[0..10] + empty + c[0..4] + d[0..2].
        let layout = [("a", 10), ("empty", 0), ("sub/c", 4), ("sub/deeper/d", 20)];
        let data = test_data(34, 1);
        let info = info_for(&layout, 16, &data);
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(storage.num_pieces(), 3);
        assert_eq!(storage.piece_len(2), Some(2));
        assert_eq!(storage.piece_len(3), None);

        // Blocks cut across the file boundaries at other places than the files are.
        let piece = piece_of(&data, &info, 0);
        storage
            .write_piece(0, &[&piece[..5], &piece[5..12], &piece[12..]])
            .unwrap();
        drop(storage);

        let root = dir.path().join("t");
        assert_eq!(fs::read(root.join("a")).unwrap(), &data[0..10]);
        assert_eq!(fs::metadata(root.join("empty")).unwrap().len(), 0);
        assert_eq!(fs::read(root.join("sub/c")).unwrap(), &data[10..14]);
        let d = fs::read(root.join("sub/deeper/d")).unwrap();
        assert_eq!(d.len(), 20, "created at its final length");
        assert_eq!(&d[..2], &data[14..16]);
        assert!(d[2..].iter().all(|&b| b == 0), "nothing else written");
    }

    #[test]
    fn write_then_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = [
            ("x/one", 40_000),
            ("two", 1),
            ("zero", 0),
            ("x/y/three", 70_000),
            ("four", 16_384),
        ];
        let data = test_data(126_385, 7);
        let info = info_for(&layout, 32_768, &data);
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(storage.num_pieces(), 4);
        for index in 0..storage.num_pieces() {
            let piece = piece_of(&data, &info, index);
            storage
                .write_piece(index, &blocks_of(&piece, 16_384))
                .unwrap();
        }
        let mut buf = Vec::new();
        for index in 0..storage.num_pieces() {
            storage.read_piece(index, &mut buf).unwrap();
            assert_eq!(buf, piece_of(&data, &info, index), "piece {index}");
            assert_eq!(Some(&hash_blocks(&[&buf])), info.pieces.get(index as usize));
        }
        // Blocks at odd places, including ones that cross file boundaries (40_000 is in piece 1).
        for (index, begin, len) in [
            (0u32, 0u32, 16_384usize),
            (1, 7_000, 300),
            (1, 7_231, 2),
            (3, 0, 28_081),
        ] {
            let mut block = vec![0u8; len];
            storage.read_block(index, begin, &mut block).unwrap();
            let start = index as usize * 32_768 + begin as usize;
            assert_eq!(
                block,
                &data[start..start + len],
                "block {index}/{begin}/{len}"
            );
        }
        // Re-reading the same piece into a bigger buffer shrinks it to the piece.
        storage.read_piece(3, &mut buf).unwrap();
        assert_eq!(buf.len(), 28_081);
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(50_000, 3);
        let info = info_for(&[("f", 50_000)], 32_768, &data);
        let storage = Storage::open(dir.path(), &info).unwrap();
        let last_len = 50_000 - 32_768;
        let mut two = [0u8; 2];
        let errors = [
            storage.read_block(1, last_len - 1, &mut two).unwrap_err(),
            storage.read_block(0, u32::MAX, &mut two).unwrap_err(),
            storage.read_block(2, 0, &mut two).unwrap_err(),
            storage.read_block(u32::MAX, 0, &mut two).unwrap_err(),
            storage.write_piece(0, &[&data[..100]]).unwrap_err(),
            storage.write_piece(2, &[&data[..100]]).unwrap_err(),
        ];
        assert!(matches!(errors[0], DiskError::BlockOutOfRange { .. }));
        assert!(matches!(errors[1], DiskError::BlockOutOfRange { .. }));
        assert!(matches!(errors[2], DiskError::PieceOutOfRange { .. }));
        assert!(matches!(errors[3], DiskError::PieceOutOfRange { .. }));
        assert!(matches!(errors[4], DiskError::PieceLength { got: 100, .. }));
        assert!(errors.iter().all(|e| !e.is_fatal()), "{errors:?}");
        // The last byte of the last piece is fine.
        storage.read_block(1, last_len - 1, &mut two[..1]).unwrap();
    }

    #[test]
    fn resume_check_finds_exactly_the_written_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let layout = [("a", 100_000), ("b/c", 3), ("d", 200_000)];
        let data = test_data(300_003, 9);
        let info = info_for(&layout, 16_384, &data);
        let written = [0u32, 2, 5, 6, 18];
        {
            let storage = Storage::open(dir.path(), &info).unwrap();
            assert_eq!(storage.num_pieces(), 19);
            // Everything fresh: all missing without reading, and progress still reaches the end.
            let seen = Mutex::new(Vec::new());
            let record = |n| seen.lock().unwrap().push(n);
            let flags = storage
                .check_existing(&info, 2, &record, &AtomicBool::new(false))
                .unwrap();
            assert!(flags.iter().all(|&f| !f));
            assert_eq!(seen.into_inner().unwrap().last(), Some(&19));
            for &index in &written {
                let piece = piece_of(&data, &info, index);
                storage
                    .write_piece(index, &blocks_of(&piece, 16_384))
                    .unwrap();
            }
            storage.flush().unwrap();
        }

        let storage = Storage::open(dir.path(), &info).unwrap();
        let seen = Mutex::new(Vec::new());
        let record = |n| seen.lock().unwrap().push(n);
        let flags = storage
            .check_existing(&info, 3, &record, &AtomicBool::new(false))
            .unwrap();
        let found: Vec<u32> = (0..19).filter(|&i| flags[i as usize]).collect();
        assert_eq!(found, written);
        let seen = seen.into_inner().unwrap();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&19));
        drop(storage);

        // One flipped byte in piece 5 (bytes 81_920..98_304, all in file "a").
        let a = dir.path().join("t/a");
        let mut content = fs::read(&a).unwrap();
        content[90_000] ^= 0x40;
        fs::write(&a, &content).unwrap();
        let storage = Storage::open(dir.path(), &info).unwrap();
        let flags = storage
            .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
            .unwrap();
        let found: Vec<u32> = (0..19).filter(|&i| flags[i as usize]).collect();
        assert_eq!(found, [0, 2, 6, 18]);
    }

    #[test]
    fn missing_or_resized_files_make_their_pieces_missing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = [("a", 40_000), ("b", 40_000), ("c", 40_000)];
        let data = test_data(120_000, 5);
        let info = info_for(&layout, 16_384, &data);
        {
            let storage = Storage::open(dir.path(), &info).unwrap();
            for index in 0..storage.num_pieces() {
                storage
                    .write_piece(index, &[piece_of(&data, &info, index)])
                    .unwrap();
            }
        }
        // b holds pieces 2..=4 (bytes 40_000..80_000), c pieces 4..=7.
        fs::remove_file(dir.path().join("t/b")).unwrap();
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(fs::metadata(dir.path().join("t/b")).unwrap().len(), 40_000);
        let flags = storage
            .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(flags, [true, true, false, false, false, true, true, true]);
        drop(storage);

        // c one byte too long: resized back, and its pieces count as missing.
        let c = dir.path().join("t/c");
        fs::OpenOptions::new()
            .write(true)
            .open(&c)
            .unwrap()
            .set_len(40_001)
            .unwrap();
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(fs::metadata(&c).unwrap().len(), 40_000);
        let flags = storage
            .check_existing(&info, 1, &no_progress, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(
            flags,
            [true, true, false, false, false, false, false, false]
        );
    }

    #[test]
    fn files_created_by_open_are_not_read() {
        // All-zero content: a freshly created sparse file would hash correctly if it were read,
        // so only the skip makes these pieces missing.
        let dir = tempfile::tempdir().unwrap();
        let data = vec![0u8; 40_000];
        let info = info_for(&[("zeros", 40_000)], 16_384, &data);
        let storage = Storage::open(dir.path(), &info).unwrap();
        let calls = Mutex::new(Vec::new());
        let record = |n| calls.lock().unwrap().push(n);
        let flags = storage
            .check_existing(&info, 2, &record, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(flags, [false; 3]);
        assert_eq!(calls.into_inner().unwrap(), [3]);
        drop(storage);
        // Reopened, the file is no longer new: now it is read, and zeros are right.
        let storage = Storage::open(dir.path(), &info).unwrap();
        let flags = storage
            .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(flags, [true; 3]);
    }

    #[test]
    fn check_can_be_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(100_000, 2);
        let info = info_for(&[("f", 100_000)], 16_384, &data);
        drop(Storage::open(dir.path(), &info).unwrap());
        let storage = Storage::open(dir.path(), &info).unwrap();
        let err = storage
            .check_existing(&info, 2, &no_progress, &AtomicBool::new(true))
            .unwrap_err();
        assert!(matches!(err, DiskError::Cancelled));

        let other = info_for(&[("f", 100_000)], 32_768, &data);
        let err = storage
            .check_existing(&other, 2, &no_progress, &AtomicBool::new(false))
            .unwrap_err();
        assert!(matches!(err, DiskError::Layout(_)));
    }

    #[test]
    fn inconsistent_info_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(100, 2);
        let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
        info.files[1].offset = 49;
        assert!(matches!(
            Storage::open(dir.path(), &info),
            Err(DiskError::Layout(_))
        ));
        let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
        info.pieces.pop();
        assert!(matches!(
            Storage::open(dir.path(), &info),
            Err(DiskError::Layout(_))
        ));
        let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
        info.files[0].path = vec!["t".into(), "..".into(), "x".into()];
        assert!(matches!(
            Storage::open(dir.path(), &info),
            Err(DiskError::UnsafePath { .. })
        ));
    }

    #[test]
    fn existing_file_of_right_length_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(1000, 4);
        let info = info_for(&[("f", 1000)], 256, &data);
        fs::create_dir(dir.path().join("t")).unwrap();
        fs::write(dir.path().join("t/f"), &data).unwrap();
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(fs::read(dir.path().join("t/f")).unwrap(), data);
        let flags = storage
            .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(flags, [true; 4]);
    }

    #[test]
    fn root_is_created_and_must_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(10, 4);
        let info = info_for(&[("f", 10)], 16, &data);
        let root = dir.path().join("new/deeper");
        let storage = Storage::open(&root, &info).unwrap();
        assert!(root.join("t/f").is_file());
        assert_eq!(storage.root(), root.canonicalize().unwrap());
        assert!(
            fs::read_dir(&root)
                .unwrap()
                .all(|e| e.unwrap().file_name() == "t"),
            "probe removed"
        );

        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let err = Storage::open(&file, &info).unwrap_err();
        assert!(matches!(err, DiskError::NotADirectory { .. }), "{err}");
    }

    /// A tmpfs mounted for the duration of a test, unmounted on drop.
    struct TmpfsMount(PathBuf);

    impl TmpfsMount {
        /// `None` when mounting is not possible here (not root, no CAP_SYS_ADMIN).
        fn new(dir: &Path, options: &str) -> Option<Self> {
            let status = Command::new("mount")
                .args(["-t", "tmpfs", "-o", options, "tmpfs"])
                .arg(dir)
                .status()
                .ok()?;
            status.success().then(|| TmpfsMount(dir.to_path_buf()))
        }
    }

    impl Drop for TmpfsMount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }

    #[test]
    fn read_only_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = test_data(10, 4);
        let info = info_for(&[("f", 10)], 16, &data);
        let ro = dir.path().join("ro");
        fs::create_dir(&ro).unwrap();
        let _mount;
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        }
        if fs::write(ro.join("probe"), b"").is_ok() {
            // Root ignores permission bits; a read-only mount it cannot ignore.
            fs::remove_file(ro.join("probe")).unwrap();
            _mount = TmpfsMount::new(&ro, "ro,size=64k");
            if _mount.is_none() {
                eprintln!("skipped: permission bits do not apply and mounting is not possible");
                return;
            }
        }
        for root in [ro.clone(), ro.join("missing")] {
            let err = Storage::open(&root, &info).unwrap_err();
            assert!(matches!(err, DiskError::ReadOnly { .. }), "{err}");
            assert!(err.to_string().ends_with("is read-only"), "{err}");
        }
    }

    #[test]
    fn symlinks_leading_out_of_the_root_are_refused() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("victim"), b"precious").unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("t")).unwrap();

        // A directory link: nothing may be created through it.
        symlink(&outside, root.join("t/evil")).unwrap();
        let data = test_data(10, 4);
        let info = info_for(&[("evil/sub/f", 10)], 16, &data);
        let err = Storage::open(&root, &info).unwrap_err();
        assert!(matches!(err, DiskError::PathEscape { .. }), "{err}");
        assert!(!outside.join("sub").exists());

        // A file link to an existing file outside, and a dangling one.
        symlink(outside.join("victim"), root.join("t/link")).unwrap();
        symlink(outside.join("nothing"), root.join("t/dangling")).unwrap();
        for name in ["link", "dangling"] {
            let info = info_for(&[(name, 10)], 16, &data);
            let err = Storage::open(&root, &info).unwrap_err();
            assert!(matches!(err, DiskError::PathEscape { .. }), "{name}: {err}");
        }
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"precious");
        assert!(!outside.join("nothing").exists());

        // A link that stays inside the root is fine.
        fs::create_dir(root.join("t/real")).unwrap();
        symlink(root.join("t/real"), root.join("t/alias")).unwrap();
        let info = info_for(&[("alias/f", 10)], 16, &data);
        Storage::open(&root, &info).unwrap();
        assert!(root.join("t/real/f").is_file());
    }

    #[test]
    fn full_disk_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let Some(mount) = TmpfsMount::new(dir.path(), "size=1m") else {
            eprintln!("skipped: cannot mount a tmpfs here");
            return;
        };
        let data = test_data(4 << 20, 6);
        let info = info_for(&[("big", 4 << 20)], 16_384, &data);
        // Sparse: creating a 4 MiB file on a 1 MiB filesystem works.
        let storage = Storage::open(dir.path(), &info).unwrap();
        let mut error = None;
        for index in 0..storage.num_pieces() {
            let piece = piece_of(&data, &info, index);
            if let Err(e) = storage.write_piece(index, &blocks_of(&piece, 16_384)) {
                error = Some((index, e));
                break;
            }
        }
        let (index, err) = error.expect("a 1 MiB tmpfs cannot hold 4 MiB");
        assert!(index < 80, "failed only at piece {index}");
        assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
        assert!(err.is_fatal());
        let message = err.to_string();
        assert!(message.starts_with("disk full writing "), "{message}");
        assert!(message.contains("t/big"), "{message}");
        drop(storage);
        drop(mount);
    }

    const FSIZE_CHILD: &str = "TTUI_DISK_FSIZE_CHILD";

    /// Runs this test binary again as `sh -c 'ulimit -f 256; exec …'` (128 KiB limit) to run
    /// `fsize_limit_child` in a process of its own.
    fn run_fsize_child(mode: &str, dir: &Path) -> std::process::Output {
        let exe = std::env::current_exe().unwrap();
        // Test names lack the crate name that module_path! starts with.
        let module = module_path!().split_once("::").unwrap().1;
        Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -f 256 && exec "$0" --exact "$1" --ignored --nocapture"#)
            .arg(exe)
            .arg(format!("{module}::fsize_limit_child"))
            .env(FSIZE_CHILD, mode)
            .env("TTUI_DISK_FSIZE_DIR", dir)
            .output()
            .unwrap()
    }

    #[test]
    fn file_size_limit_gives_an_error_once_sigxfsz_is_ignored() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        // Created at full length here, without the limit, so the child gets as far as writing.
        let data = test_data(256 << 10, 8);
        let info = info_for(&[("f", 256 << 10)], 16_384, &data);
        drop(Storage::open(dir.path(), &info).unwrap());

        let out = run_fsize_child("ignore", dir.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(
            stdout.contains("fsize child ok"),
            "the child test did not run: {stdout}"
        );

        // Without ignore_sigxfsz the same write kills the process: the test above means something.
        let out = run_fsize_child("default", dir.path());
        assert_eq!(out.status.signal(), Some(libc::SIGXFSZ), "{out:?}");
    }

    #[test]
    #[ignore = "run by file_size_limit_gives_an_error_once_sigxfsz_is_ignored under a ulimit"]
    fn fsize_limit_child() {
        let Ok(mode) = std::env::var(FSIZE_CHILD) else {
            return;
        };
        let dir = PathBuf::from(std::env::var_os("TTUI_DISK_FSIZE_DIR").unwrap());
        if mode == "ignore" {
            ignore_sigxfsz();
        }
        let data = test_data(256 << 10, 8);
        let info = info_for(&[("f", 256 << 10)], 16_384, &data);
        let storage = Storage::open(&dir, &info).unwrap();
        // Below the 128 KiB limit: fine. At 128 KiB: EFBIG.
        storage
            .write_piece(0, &[piece_of(&data, &info, 0)])
            .unwrap();
        let err = storage
            .write_piece(8, &[piece_of(&data, &info, 8)])
            .unwrap_err();
        assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
        assert!(err.to_string().starts_with("disk full writing "), "{err}");

        // A new file cannot be created at a length past the limit either.
        let info = info_for(&[("g", 256 << 10)], 16_384, &data);
        let err = Storage::open(&dir.join("other"), &info).unwrap_err();
        assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
        println!("fsize child ok");
    }

    #[test]
    fn hash_blocks_is_sha1_of_the_concatenation() {
        // SHA-1("abc"), FIPS 180-2 appendix A.
        let expected = [
            0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
            0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d,
        ];
        assert_eq!(hash_blocks(&[b"abc"]), expected);
        assert_eq!(hash_blocks(&[&b"a"[..], b"", b"bc"]), expected);
        let owned = vec![
            bytes::Bytes::from_static(b"ab"),
            bytes::Bytes::from_static(b"c"),
        ];
        assert_eq!(hash_blocks(&owned), expected);
    }
}
