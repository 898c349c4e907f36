//! The state directory: what a session keeps across restarts.
//!
//! `<state-dir>/torrents/` holds two files per torrent, named by its info hash in lowercase
//! hex: `<hash>.torrent`, the original .torrent bytes (or, for a magnet, the fetched info
//! dictionary wrapped as a .torrent), written once when the torrent is added; and
//! `<hash>.resume`, its resume data (resume.rs), rewritten whenever it changed. The .torrent is
//! the truth and the resume data a cache over it: losing the cache costs a full check, never
//! the torrent. A magnet link still fetching its metadata has only `<hash>.resume`, which
//! then holds the link (`persist::SavedMagnet`). Each write is crash-safe (atomic.rs) and touches only its own torrent's file,
//! so no whole-session file is rewritten on every change. `<state-dir>/lock` keeps one session
//! per directory (lock.rs); take it before `Store::open`, which tidies up after a crash.
//!
//! Reads never fsync and look at each file once, so loading 10,000 torrents costs 20,000 small
//! reads and one directory listing.

pub(crate) mod atomic;
pub(crate) mod lock;
pub(crate) mod restart;
pub mod resume;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha1::{Digest, Sha1};

pub(crate) use resume::{Resume, ResumeError};

use crate::protocol::hex;

/// The folder under the state directory that holds the per-torrent files.
pub(crate) const TORRENTS_DIR: &str = "torrents";
/// In `TORRENTS_DIR`: the seeding time of the torrents asleep at the last clean stop. Not a
/// torrent's file: its name is no info hash, so `load_all` passes it by.
const SEEDING_FILE: &str = "seeding";
/// Threads that read the store at a start: at 100,000 torrents on a cold cache, 4 took 7.1 s,
/// 8 took 6.1 s, 32 took 5.8 s.
const READERS: usize = 8;
/// A saved .torrent larger than this is refused unread (the CLI's limit for a .torrent).
pub(crate) const MAX_TORRENT_SIZE: u64 = 64 << 20;

/// `--state-dir`'s default: `$XDG_DATA_HOME/ttui`, else `~/.local/share/ttui`; `None` when
/// neither variable gives an absolute path.
pub(crate) fn default_state_dir() -> Option<PathBuf> {
    state_dir_from(
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// The XDG base directory spec says a relative `XDG_DATA_HOME` is invalid and to be ignored.
fn state_dir_from(xdg_data_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(data) = xdg_data_home.filter(|p| p.is_absolute()) {
        return Some(data.join("ttui"));
    }
    home.filter(|p| p.is_absolute())
        .map(|h| h.join(".local/share/ttui"))
}

/// One torrent found in the state directory.
#[derive(Debug)]
pub struct Saved {
    pub info_hash: [u8; 20],
    /// The .torrent bytes, or why they cannot be had (the torrent is listed with this error).
    pub torrent: Result<Vec<u8>, LoadError>,
    /// The resume data, or why not (the torrent then gets a full check and this warning in its
    /// log).
    pub resume: Result<Resume, LoadError>,
}

/// Why one saved file cannot be had. Typed so a missing file (a magnet kept by its resume data
/// alone) is told from one that failed to read; `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} is missing", .0.display())]
    Missing(PathBuf),
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is larger than {} MiB", .path.display(), .max >> 20)]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{}: {source}", .path.display())]
    Damaged { path: PathBuf, source: ResumeError },
}

/// A failed write to the state directory. Keeps the `io::Error` so the caller can tell a full
/// disk from a read-only directory and retry; `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {}", .path.display(), describe(.source))]
pub struct StoreError {
    op: &'static str,
    path: PathBuf,
    source: io::Error,
}

fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => "the disk is full".into(),
        Some(libc::EROFS) => "the file system is read-only".into(),
        Some(libc::EACCES | libc::EPERM) => "permission denied".into(),
        _ => e.to_string(),
    }
}

impl StoreError {
    pub(crate) fn new(op: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Out of space or quota: retry once something is freed.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.source.raw_os_error(),
            Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
        )
    }

    /// A read-only mount or a directory we may not write to: retry after a remount or a chmod.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.source.raw_os_error(),
            Some(libc::EROFS | libc::EACCES | libc::EPERM)
        )
    }
}

/// The per-torrent files of one state directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// SHA-1 of the resume bytes last written (or loaded) per torrent: saving the same data
    /// again writes nothing, so callers may save on every tick.
    written: Mutex<HashMap<[u8; 20], [u8; 20]>>,
}

impl Store {
    /// Creates `<state_dir>/torrents` if needed and removes what interrupted saves left there.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let dir = state_dir.join(TORRENTS_DIR);
        fs::create_dir_all(&dir).map_err(|e| StoreError::new("create", &dir, e))?;
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_str().is_some_and(atomic::is_temporary) {
                    // Best effort: a read-only directory keeps them, and they harm nothing.
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(Store {
            dir,
            written: Mutex::new(HashMap::new()),
        })
    }

    /// `<state-dir>/torrents`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn torrent_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        self.dir.join(format!("{}.torrent", hex::encode(info_hash)))
    }

    pub fn resume_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        self.dir.join(format!("{}.resume", hex::encode(info_hash)))
    }

    /// Every torrent saved, ordered by queue position, then added time (torrents without
    /// resume data last), then info hash. Never fails as a whole: each torrent carries its own
    /// errors, and an unreadable directory gives an empty list and a warning in the log.
    pub fn load_all(&self) -> Vec<Saved> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("cannot list {}: {e}", self.dir.display());
                return Vec::new();
            }
        };
        // (has .torrent, has .resume, the lowest inode of the two) per info hash.
        let mut found: HashMap<[u8; 20], (bool, bool, u64)> = HashMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some((stem, ext)) = name.to_str().and_then(|n| n.split_once('.')) else {
                continue;
            };
            let Some(hash) = parse_hex40(stem) else {
                continue;
            };
            let f = match ext {
                "torrent" | "resume" => found.entry(hash).or_insert((false, false, u64::MAX)),
                _ => continue,
            };
            if ext == "torrent" {
                f.0 = true;
            } else {
                f.1 = true;
            }
            f.2 = f.2.min(entry.ino());
        }
        // A cold start (after a reboot) reads from the disk. In inode order the reads go
        // through the inode table in one direction, not in the hash map's order, which is no
        // order on the disk; several readers keep several reads in flight (more than the
        // cores: they mostly wait), each a run of inodes. 100,000 torrents with the page
        // cache dropped: 10 s before (4 readers, no order, each resume file parsed twice),
        // 6 s after.
        let found: Vec<([u8; 20], (bool, bool))> = {
            let mut by_inode: Vec<_> = found.into_iter().collect();
            by_inode.sort_unstable_by_key(|(_, (_, _, ino))| *ino);
            by_inode
                .into_iter()
                .map(|(h, (t, r, _))| (h, (t, r)))
                .collect()
        };
        let per_reader = found.len().div_ceil(READERS).max(1);
        // Each reader keeps the digests of what it read and they are remembered at the end,
        // under one lock: a lock per file, and the map growing under it, kept the 8 readers
        // waiting on each other.
        let (saved, sums): (Vec<Saved>, Vec<Option<[u8; 20]>>) = std::thread::scope(|scope| {
            let handles: Vec<_> = found
                .chunks(per_reader)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|&(hash, (torrent, resume))| self.read_one(hash, torrent, resume))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .unzip()
        });
        {
            let mut written = self.lock_written();
            written.reserve(sums.len());
            for (s, sum) in saved.iter().zip(sums) {
                if let Some(sum) = sum {
                    written.insert(s.info_hash, sum);
                }
            }
        }
        in_order(saved)
    }

    /// One torrent's resume data (a kept magnet's, to change a field of it).
    pub fn load_resume(&self, info_hash: &[u8; 20]) -> Result<Resume, LoadError> {
        let (saved, sum) = self.read_one(*info_hash, false, true);
        if let Some(sum) = sum {
            self.remember(*info_hash, sum);
        }
        saved.resume
    }

    /// One torrent's files, and the digest of its resume data when that was read whole (for
    /// the caller to remember: it is what is on disk).
    fn read_one(
        &self,
        info_hash: [u8; 20],
        has_torrent: bool,
        has_resume: bool,
    ) -> (Saved, Option<[u8; 20]>) {
        let torrent_path = self.torrent_path(&info_hash);
        let torrent = if has_torrent {
            read_bounded(&torrent_path, MAX_TORRENT_SIZE)
        } else {
            Err(LoadError::Missing(torrent_path))
        };
        let resume_path = self.resume_path(&info_hash);
        let mut sum = None;
        let resume = if has_resume {
            read_bounded(&resume_path, resume::MAX_RESUME_SIZE).and_then(|bytes| {
                let r =
                    resume::decode(&bytes, &info_hash).map_err(|source| LoadError::Damaged {
                        path: resume_path.clone(),
                        source,
                    })?;
                sum = Some(digest(&bytes));
                Ok(r)
            })
        } else {
            Err(LoadError::Missing(resume_path))
        };
        let saved = Saved {
            info_hash,
            torrent,
            resume,
        };
        (saved, sum)
    }

    /// Keeps the .torrent bytes (crash-safe); once, when the torrent is added.
    pub fn save_torrent(&self, info_hash: &[u8; 20], torrent: &[u8]) -> Result<(), StoreError> {
        let name = format!("{}.torrent", hex::encode(info_hash));
        atomic::write_atomic(&self.dir, &name, torrent)
    }

    /// Keeps the .torrent bytes of several torrents added at once (crash-safe each): their
    /// files are written and fsynced a few at a time, the directory fsynced once at the end,
    /// so a burst of adds pays one directory sync, not one an add. One result a torrent, in
    /// order; a failed directory sync fails them all.
    pub fn save_torrents(&self, torrents: &[([u8; 20], Vec<u8>)]) -> Vec<Result<(), StoreError>> {
        /// Files written at once: an fsync mostly waits on the disk, which takes several.
        const AT_ONCE: usize = 8;
        let save = |(hash, bytes): &([u8; 20], Vec<u8>)| {
            atomic::write_renamed(&self.dir, &format!("{}.torrent", hex::encode(hash)), bytes)
        };
        let mut out: Vec<Result<(), StoreError>> = Vec::with_capacity(torrents.len());
        for chunk in torrents.chunks(AT_ONCE) {
            std::thread::scope(|scope| {
                let running: Vec<_> = chunk.iter().map(|t| scope.spawn(move || save(t))).collect();
                for (t, r) in chunk.iter().zip(running) {
                    // A write that panicked is tried again here rather than lost.
                    out.push(r.join().unwrap_or_else(|_| save(t)));
                }
            });
        }
        if let Err(e) = self.sync() {
            let again = |e: &StoreError| {
                let source = io::Error::new(e.source.kind(), e.source.to_string());
                StoreError::new(e.op, &e.path, source)
            };
            return torrents.iter().map(|_| Err(again(&e))).collect();
        }
        out
    }

    /// Replaces the torrent's resume data (crash-safe). Data identical to what this store last
    /// wrote or loaded for the torrent is not written again. Saves of one torrent must come
    /// from one place at a time: of two racing saves, the later rename wins.
    pub fn save_resume(&self, r: &Resume) -> Result<(), StoreError> {
        if self.save_resume_unsynced(r)? {
            self.sync()?;
        }
        Ok(())
    }

    /// `save_resume` without the directory's fsync (true when a file was written): a batch of
    /// saves calls `sync` once at its end instead of once per torrent.
    pub fn save_resume_unsynced(&self, r: &Resume) -> Result<bool, StoreError> {
        let bytes = resume::encode(r);
        let sum = digest(&bytes);
        if self.lock_written().get(&r.info_hash) == Some(&sum) {
            return Ok(false);
        }
        let name = format!("{}.resume", hex::encode(&r.info_hash));
        atomic::write_renamed(&self.dir, &name, &bytes)?;
        self.remember(r.info_hash, sum);
        Ok(true)
    }

    /// Keeps the seeding time of the torrents asleep at a clean stop, in one file
    /// (crash-safe), in place of one resume save each (`resume::SeedingTime`).
    pub fn save_seeding(&self, times: &[resume::SeedingTime]) -> Result<(), StoreError> {
        atomic::write_atomic(&self.dir, SEEDING_FILE, &resume::encode_seeding(times))
    }

    /// The seeding times the last clean stop kept, by info hash: (`added`, seconds). None
    /// kept, or a file that cannot be read (logged), gives none: each torrent then has its
    /// resume data's.
    pub fn load_seeding(&self) -> HashMap<[u8; 20], (u64, u64)> {
        let path = self.dir.join(SEEDING_FILE);
        let times = match read_bounded(&path, resume::MAX_SEEDING_SIZE) {
            Err(LoadError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return HashMap::new()
            }
            Err(e) => Err(e.to_string()),
            Ok(bytes) => {
                resume::decode_seeding(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
        };
        match times {
            Ok(times) => times
                .into_iter()
                .map(|t| (t.info_hash, (t.added, t.seeding_secs)))
                .collect(),
            Err(e) => {
                tracing::warn!("seeding times of the last stop not read ({e}): each torrent has its resume data's");
                HashMap::new()
            }
        }
    }

    /// Replaces the session's accounting (`engine/ledger.rs`), crash-safe.
    pub fn save_ledger(&self, bytes: &[u8]) -> Result<(), StoreError> {
        atomic::write_atomic(&self.dir, crate::engine::ledger::FILE, bytes)
    }

    /// The accounting saved last: none when there is none yet, or why it cannot be read.
    pub fn load_ledger(&self) -> Option<Result<Vec<u8>, String>> {
        let path = self.dir.join(crate::engine::ledger::FILE);
        match read_bounded(&path, crate::engine::ledger::MAX_SAVED) {
            Err(LoadError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
            Err(e) => Some(Err(e.to_string())),
            Ok(bytes) => Some(Ok(bytes)),
        }
    }

    /// Makes the renames of the saves before it durable (fsync of the state directory).
    pub fn sync(&self) -> Result<(), StoreError> {
        atomic::sync_dir(&self.dir)
    }

    /// Deletes both of the torrent's files; ones already gone are no error.
    pub fn remove(&self, info_hash: &[u8; 20]) -> Result<(), StoreError> {
        self.lock_written().remove(info_hash);
        for path in [self.resume_path(info_hash), self.torrent_path(info_hash)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::new("remove", &path, e)),
            }
        }
        atomic::sync_dir(&self.dir)
    }

    fn remember(&self, info_hash: [u8; 20], sum: [u8; 20]) {
        self.lock_written().insert(info_hash, sum);
    }

    fn lock_written(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], [u8; 20]>> {
        // The map holds no invariant a panicking thread could break halfway.
        self.written.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `saved` ordered by queue position, then added time (torrents without resume data last),
/// then info hash. The keys are sorted, not the entries: a `Saved` is large (its resume data
/// inline), and a sort of 100,000 of them was most of a restart's time in `memmove`.
fn in_order(saved: Vec<Saved>) -> Vec<Saved> {
    let mut keys: Vec<(u32, u64, [u8; 20], usize)> = saved
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = s.resume.as_ref().ok();
            (
                r.map_or(u32::MAX, |r| r.queue_position),
                r.map_or(u64::MAX, |r| r.added),
                s.info_hash,
                i,
            )
        })
        .collect();
    // Info hashes are unique, so no two keys are equal and an unstable sort is as good.
    keys.sort_unstable();
    let mut slots: Vec<Option<Saved>> = saved.into_iter().map(Some).collect();
    keys.into_iter()
        .filter_map(|(_, _, _, i)| slots.get_mut(i).and_then(Option::take))
        .collect()
}

fn digest(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// The whole file, or one line saying why not; a file over `max` bytes is refused unread.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, LoadError> {
    let fail = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(fail)?;
    // The size first, so a huge file costs one `fstat` rather than `max` bytes read and
    // thrown away; `take` still bounds a file that grows meanwhile.
    let len = file.metadata().map_err(fail)?.len();
    if len > max {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    // Sized at once: 200,000 small files read at a start grew a buffer each several times.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    file.take(max + 1).read_to_end(&mut bytes).map_err(fail)?;
    if bytes.len() as u64 > max {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(bytes)
}

fn parse_hex40(s: &str) -> Option<[u8; 20]> {
    let s = s.as_bytes();
    if s.len() != 40 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}
