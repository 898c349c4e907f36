//! A full disk holds the torrent, it does not end it. A write that finds no space (ENOSPC, or
//! a quota's EDQUOT) stops the torrent's transfers as a pause does, its line says `disk full`
//! with the free space, and every `LOOK_EVERY` the free space of the file's folder is read
//! (on a blocking thread: a statvfs on a hung mount must not stall the task). Once
//! `space_to_resume` is free the torrent goes on by itself, in the session and in a one-shot
//! alike. The blocks whose write failed were never counted (`verify.rs`: the piece is fetched
//! again), so nothing is lost and nothing is checked again. EFBIG (a file size limit) never
//! goes away by itself: it stays the torrent's end (`on_disk_error`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Coordinator;
use crate::engine::api::LogLevel;
use crate::engine::disk::DiskError;
use crate::fmt::bytes;

/// How often the free space is read while the torrent waits for it.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Free space that resumes a torrent with more than this left: enough to be worth the
/// connections, little enough for a disk where a few files were deleted to make room.
const RESUME_AT_MOST: u64 = 64 << 20;
/// ... and at least this, so a torrent with a few bytes left does not resume into a disk that
/// still has none.
const RESUME_AT_LEAST: u64 = 1 << 20;

/// Where a torrent held for a full disk stands.
pub(super) struct SpaceWait {
    /// The write that failed, in the disk's words (the file, the error).
    error: String,
    /// The folder whose file system filled up: where the free space is read.
    dir: PathBuf,
    /// Bytes free at the last look (none until one answered).
    free: Option<u64>,
    /// Bytes that must be free to go on.
    need: u64,
    /// A look under way, and when the next one is due.
    look: Option<oneshot::Receiver<Option<u64>>>,
    next_look: Instant,
}

impl SpaceWait {
    /// The torrent's line while it waits: what failed, what is free, what resumes it.
    pub(super) fn words(&self) -> String {
        let free = self
            .free
            .map_or_else(String::new, |f| format!("; {} free", bytes(f)));
        format!(
            "{}{free}; resumes by itself once {} are free",
            self.error,
            bytes(self.need)
        )
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

/// Whether `e` is a full disk that can empty by itself (not EFBIG, a size limit).
pub(super) fn waits_for_space(e: &DiskError) -> Option<&Path> {
    match e {
        DiskError::DiskFull { path, source }
            if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) =>
        {
            Some(path)
        }
        _ => None,
    }
}

impl Coordinator {
    /// A write found the disk full: the torrent is held (transfers stop as in a pause) until
    /// space returns. Later failures of writes already under way change nothing.
    pub(super) fn on_disk_full(&mut self, file: &Path, e: &DiskError, now: Instant) {
        if self.run.space.is_some() {
            return;
        }
        let dir = file.parent().unwrap_or(file).to_path_buf();
        let need = space_to_resume(self.shared.download().picker.left());
        let wait = SpaceWait {
            error: e.to_string(),
            dir,
            free: None,
            need,
            look: None,
            // At once: the line says how much is free from the first tick on.
            next_look: now,
        };
        self.log(
            LogLevel::Error,
            format!(
                "{e}: transfers stop until {} are free; the free space is read every {}s",
                bytes(need),
                LOOK_EVERY.as_secs()
            ),
        );
        self.run.space = Some(wait);
        self.apply_pause(now);
    }

    /// Each tick while held for space: takes the last look's answer, starts the next one when
    /// due, and goes on once enough is free.
    pub(super) fn space_tick(&mut self, now: Instant) {
        let Some(wait) = &mut self.run.space else {
            return;
        };
        if let Some(rx) = &mut wait.look {
            match rx.try_recv() {
                Ok(free) => {
                    wait.free = free;
                    wait.look = None;
                }
                Err(oneshot::error::TryRecvError::Empty) => return,
                Err(oneshot::error::TryRecvError::Closed) => wait.look = None,
            }
        }
        if wait.free.is_some_and(|f| f >= wait.need) {
            let free = wait.free.unwrap_or_default();
            self.run.space = None;
            self.log(
                LogLevel::Info,
                format!("disk space is back ({} free): going on", bytes(free)),
            );
            self.apply_pause(now);
            return;
        }
        if now >= wait.next_look {
            wait.next_look = now + LOOK_EVERY;
            let (tx, rx) = oneshot::channel();
            let dir = wait.dir.clone();
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(free_space(&dir));
            });
            wait.look = Some(rx);
        }
    }
}
