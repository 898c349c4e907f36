//! The session's pool for hashing and disk writes: blocking work kept off the async threads,
//! the session-wide budget of threads that checks hash on, and the budget of bytes waiting
//! for the piece writers (`backlog.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::disk::backlog::WriteBacklog;

/// Where pieces are hashed and written, off the async threads.
///
/// Invariant: at most `hashing_threads` threads hash for checks at once, across every torrent
/// of the session; a check holds its permits for as long as its threads run.
#[derive(Debug)]
pub(crate) struct DiskPool {
    /// Pieces are hashed in parallel but written one at a time on each device: concurrent
    /// writes to one file make the kernel spin on the inode lock (measured: a sixth of all CPU
    /// time), and a disk takes one stream of writes best. One lock a device, not one for the
    /// session: a download to a slow or hung disk must not hold up the writes to another.
    writers: Mutex<HashMap<u64, Arc<Mutex<()>>>>,
    /// The check threads' budget. Ten torrents checking at once (a restart after a crash, a
    /// `verify all`) share it instead of running ten times the threads side by side, each at
    /// a fraction of the speed and seeking between their files: as libtorrent and
    /// Transmission do, checks run one after another at full speed. tokio's semaphore is
    /// fair, so they run in the order they asked.
    hashing: Arc<Semaphore>,
    hashing_threads: usize,
    /// Checks waiting for the budget, for the words on their lines.
    waiting: AtomicUsize,
    /// Bytes received and waiting for the writers, all torrents together.
    backlog: Arc<WriteBacklog>,
}

impl Default for DiskPool {
    fn default() -> DiskPool {
        DiskPool::new(
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2),
        )
    }
}

impl DiskPool {
    pub(crate) fn new(hashing_threads: usize) -> DiskPool {
        let hashing_threads = hashing_threads.clamp(1, Semaphore::MAX_PERMITS);
        DiskPool {
            writers: Mutex::default(),
            hashing: Arc::new(Semaphore::new(hashing_threads)),
            hashing_threads,
            waiting: AtomicUsize::new(0),
            backlog: Arc::default(),
        }
    }

    /// The session's budget of bytes waiting for piece writers, for each torrent's `Download`.
    pub(crate) fn backlog(&self) -> Arc<WriteBacklog> {
        Arc::clone(&self.backlog)
    }

    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, job: F) {
        tokio::task::spawn_blocking(job);
    }

    /// The lock held while writing a piece to `device` (`Storage::device`).
    pub(crate) fn writer(&self, device: u64) -> Arc<Mutex<()>> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(writers.entry(device).or_default())
    }

    /// Threads a check wanting `want` may hash on: never more than the session's budget.
    pub(crate) fn hashing_threads(&self, want: usize) -> usize {
        want.clamp(1, self.hashing_threads)
    }

    /// Waits until `threads` (from `hashing_threads`) of the budget are free, and holds them
    /// until the permit is dropped. None only if the budget were closed, which it never is
    /// (nothing calls `close`): the check would then run outside it rather than never.
    pub(crate) async fn hashing_permit(&self, threads: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(self.hashing_threads(threads)).unwrap_or(1);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        // Decremented however this ends, a cancelled wait included.
        let _queued = Waiting(&self.waiting);
        Arc::clone(&self.hashing).acquire_many_owned(n).await.ok()
    }

    /// Checks waiting for the budget now (the one asking included).
    pub(crate) fn checks_waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::DiskPool;

    #[test]
    fn a_check_never_gets_more_threads_than_the_session_has() {
        let pool = DiskPool::new(2);
        assert_eq!(pool.hashing_threads(8), 2);
        assert_eq!(pool.hashing_threads(1), 1);
        assert_eq!(pool.hashing_threads(0), 1);
    }

    #[tokio::test]
    async fn checks_take_the_budget_in_turn_and_say_how_many_wait() {
        let pool = std::sync::Arc::new(DiskPool::new(2));
        let first = pool.hashing_permit(2).await;
        let p = std::sync::Arc::clone(&pool);
        let second = tokio::spawn(async move { p.hashing_permit(2).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "the second check waits for the first"
        );
        assert_eq!(pool.checks_waiting(), 1);
        drop(first);
        let permit = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the second check starts once the first is done")
            .expect("no panic");
        assert_eq!(pool.checks_waiting(), 0);
        drop(permit);
        // A wait given up (the torrent was removed meanwhile) leaves no count behind.
        let held = pool.hashing_permit(2).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), pool.hashing_permit(1)).await;
        assert!(gave_up.is_err());
        assert_eq!(pool.checks_waiting(), 0);
        drop(held);
    }
}
