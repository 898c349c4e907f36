//! Storage trouble that passes holds the torrent, it does not end it: a full disk (ENOSPC, or
//! a quota's EDQUOT), a file system remounted read-only (EROFS), or one gone altogether
//! (unmounted, its disk pulled, its FUSE server dead: `DiskError::StorageMissing`). The
//! torrent's transfers stop as in a pause, its line says what is wrong (with the free space
//! for a full disk), and every `LOOK_EVERY` a look on a blocking thread (a statvfs on a hung
//! mount must not stall the task) asks whether the trouble is over: enough space free
//! (`space_to_resume`), writes going through again (`Storage::is_writable`), the folder back
//! with every file at its length (`Storage::is_back`, the quick check a clean stop trusts).
//! Then the torrent goes on by itself, in the session and in a one-shot alike. Blocks whose
//! write failed were never counted (`verify.rs`: the piece is fetched again) and no piece is
//! taken for lost while its storage is gone, so nothing is lost and nothing is checked again.
//! EFBIG (a file size limit) never goes away by itself: it stays the torrent's end
//! (`on_disk_error`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Coordinator;
use crate::engine::api::LogLevel;
use crate::engine::disk::{DiskError, Storage};
use crate::fmt::bytes;

/// How often a held torrent looks whether its storage is usable again.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Free space that resumes a torrent with more than this left: enough to be worth the
/// connections, little enough for a disk where a few files were deleted to make room.
const RESUME_AT_MOST: u64 = 64 << 20;
/// ... and at least this, so a torrent with a few bytes left does not resume into a disk that
/// still has none.
const RESUME_AT_LEAST: u64 = 1 << 20;

/// What holds the torrent, and what ends the hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Trouble {
    /// No space left in `dir`'s file system: over once `need` bytes are free (`free` at the
    /// last look).
    Full {
        dir: PathBuf,
        need: u64,
        free: Option<u64>,
    },
    /// Writes fail with EROFS: over once they go through.
    ReadOnly,
    /// The storage's folder is gone: over once it is back with every file.
    Missing,
}

/// A torrent held for its storage.
pub(super) struct StorageHold {
    trouble: Trouble,
    /// The failure, in the disk's words (the file, the error).
    error: String,
    /// A look under way (its answer: whether the trouble is over, and the free space for a
    /// full disk), and when the next one is due.
    look: Option<oneshot::Receiver<(bool, Option<u64>)>>,
    next_look: Instant,
}

impl StorageHold {
    /// The torrent's line while it is held: what failed, and what resumes it.
    pub(super) fn words(&self) -> String {
        match &self.trouble {
            // What matters first (a list's line is cut short): the free space and what
            // resumes it; then which write failed.
            Trouble::Full { need, free, .. } => {
                let free = free.map_or_else(String::new, |f| format!("{} free, ", bytes(f)));
                format!(
                    "disk full: {free}resumes by itself once {} are free ({})",
                    bytes(*need),
                    self.error
                )
            }
            Trouble::ReadOnly => format!(
                "{}; resumes by itself once it takes writes again",
                self.error
            ),
            Trouble::Missing => format!("{}; resumes by itself once it is back", self.error),
        }
    }
}

/// The free space needed to go on with `left` bytes still to download.
pub(super) fn space_to_resume(left: u64) -> u64 {
    left.clamp(RESUME_AT_LEAST, RESUME_AT_MOST)
}

/// Bytes the file system of `dir` has free for us: root may use the blocks reserved for it,
/// anyone else not. None when it cannot be told (the folder gone with its mount).
pub(crate) fn free_space(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    let blocks = if rustix::process::geteuid().is_root() {
        s.f_bfree
    } else {
        s.f_bavail
    };
    Some(blocks.saturating_mul(s.f_frsize))
}

/// The trouble `e` is when it can pass by itself (`left`: bytes still to download, for the
/// space a full disk needs); none for an error that ends the torrent.
pub(super) fn passing_trouble(e: &DiskError, left: u64) -> Option<Trouble> {
    match e {
        DiskError::DiskFull { path, source }
            if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) =>
        {
            Some(Trouble::Full {
                dir: path.parent().unwrap_or(path).to_path_buf(),
                need: space_to_resume(left),
                free: None,
            })
        }
        DiskError::ReadOnly { .. } => Some(Trouble::ReadOnly),
        DiskError::StorageMissing { .. } => Some(Trouble::Missing),
        _ => None,
    }
}

/// Whether `trouble` is over, and the free space when it is a full disk: on a blocking thread.
fn look(trouble: &Trouble, storage: &Storage) -> (bool, Option<u64>) {
    match trouble {
        Trouble::Full { dir, need, .. } => {
            let free = free_space(dir);
            (free.is_some_and(|f| f >= *need), free)
        }
        Trouble::ReadOnly => (storage.is_writable(), None),
        Trouble::Missing => (storage.is_back(), None),
    }
}

impl Coordinator {
    /// A disk error that may pass by itself: the torrent is held (transfers stop as in a
    /// pause) until it has. Later failures of reads and writes already under way change
    /// nothing.
    pub(super) fn hold_for_storage(&mut self, trouble: Trouble, e: &DiskError, now: Instant) {
        if self.run.storage_hold.is_some() {
            return;
        }
        let hold = StorageHold {
            trouble,
            error: match e {
                // "disk full" is said first already (`words`).
                DiskError::DiskFull { path, source } => {
                    format!("writing {}: {source}", path.display())
                }
                _ => e.to_string(),
            },
            look: None,
            // At once: a full disk's line says how much is free from the first tick on.
            next_look: now,
        };
        self.log(
            LogLevel::Error,
            format!(
                "{}; transfers stop, and every {}s ttui looks whether they can go on",
                hold.words(),
                LOOK_EVERY.as_secs()
            ),
        );
        self.run.storage_hold = Some(hold);
        self.apply_pause(now);
    }

    /// Each tick while held: takes the last look's answer, goes on when the trouble is over,
    /// else starts the next look when it is due.
    pub(super) fn storage_hold_tick(&mut self, now: Instant) {
        let Some(hold) = &mut self.run.storage_hold else {
            return;
        };
        if let Some(rx) = &mut hold.look {
            let (over, free) = match rx.try_recv() {
                Ok(answer) => answer,
                Err(oneshot::error::TryRecvError::Empty) => return,
                Err(oneshot::error::TryRecvError::Closed) => (false, None),
            };
            hold.look = None;
            if let Trouble::Full { free: f, .. } = &mut hold.trouble {
                *f = free;
            }
            if over {
                let words = match (&hold.trouble, free) {
                    (Trouble::Full { .. }, Some(free)) => {
                        format!("disk space is back ({} free)", bytes(free))
                    }
                    (Trouble::ReadOnly, _) => "the storage takes writes again".into(),
                    _ => "the storage is back, every file at its length".into(),
                };
                self.run.storage_hold = None;
                self.log(LogLevel::Info, format!("{words}: going on"));
                self.apply_pause(now);
                return;
            }
        }
        if now >= hold.next_look && hold.look.is_none() {
            hold.next_look = now + LOOK_EVERY;
            let (tx, rx) = oneshot::channel();
            let trouble = hold.trouble.clone();
            let storage: Arc<Storage> = Arc::clone(&self.shared.storage);
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(look(&trouble, &storage));
            });
            hold.look = Some(rx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(errno: i32) -> DiskError {
        DiskError::DiskFull {
            path: "/data/a/film.mkv".into(),
            source: std::io::Error::from_raw_os_error(errno),
        }
    }

    /// Which errors hold a torrent, and what ends each hold; EFBIG and an I/O error do not
    /// pass by themselves.
    #[test]
    fn a_full_disk_a_read_only_one_and_a_vanished_one_pass_others_do_not() {
        assert_eq!(
            passing_trouble(&full(libc::ENOSPC), 500 << 20),
            Some(Trouble::Full {
                dir: "/data/a".into(),
                need: 64 << 20,
                free: None
            })
        );
        assert!(matches!(
            passing_trouble(&full(libc::EDQUOT), 10),
            Some(Trouble::Full {
                need: 1_048_576,
                ..
            })
        ));
        assert_eq!(passing_trouble(&full(libc::EFBIG), 10), None);
        let root = std::path::PathBuf::from("/data");
        assert_eq!(
            passing_trouble(&DiskError::ReadOnly { root: root.clone() }, 10),
            Some(Trouble::ReadOnly)
        );
        assert_eq!(
            passing_trouble(&DiskError::StorageMissing { root }, 10),
            Some(Trouble::Missing)
        );
        let eio = DiskError::Io {
            op: "write",
            path: "/data/a".into(),
            source: std::io::Error::from_raw_os_error(libc::EIO),
        };
        assert_eq!(passing_trouble(&eio, 10), None);
    }

    #[test]
    fn the_line_says_what_failed_what_is_free_and_what_resumes_it() {
        let hold = |trouble| StorageHold {
            trouble,
            error: "writing /d/f: No space left on device (os error 28)".into(),
            look: None,
            next_look: Instant::now(),
        };
        let words = hold(Trouble::Full {
            dir: "/d".into(),
            need: 64 << 20,
            free: Some(12 << 20),
        })
        .words();
        assert_eq!(
            words,
            "disk full: 12 MiB free, resumes by itself once 64 MiB are free (writing /d/f: No \
             space left on device (os error 28))"
        );
        assert!(hold(Trouble::Missing)
            .words()
            .ends_with("; resumes by itself once it is back"));
        assert!(hold(Trouble::ReadOnly)
            .words()
            .ends_with("; resumes by itself once it takes writes again"));
    }
}
