//! The session's one budget of piece memory: bytes received and queued for piece writers
//! that are already running, all torrents together. Each torrent holds its own writers to
//! `LAG_BYTES` (download.rs); without a session cap, a hundred torrents downloading at once
//! could each hold that much while the disk falls behind. Blocks ahead of a gap are not
//! counted here: they leave only when their gap arrives, so holding requests back for them
//! could stall the very request that fills it.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Bytes queued for running writers across the session beyond which no connection asks for
/// more: eight torrents' worth of their own backlog (`download::LAG_BYTES`).
pub(crate) const SESSION_LAG_BYTES: usize = 16 << 20;

/// Bytes queued for running piece writers, session-wide.
///
/// Invariant: `queued` is the sum of every live `Download`'s running writers' queued bytes
/// (each adds what it queues, subtracts what its writers take, and the rest when dropped);
/// `caught_up` is woken whenever `queued` falls back to `limit` and whenever one torrent's
/// own backlog does, so every held connection looks again.
#[derive(Debug)]
pub(crate) struct WriteBacklog {
    queued: AtomicUsize,
    limit: usize,
    caught_up: Notify,
}

impl Default for WriteBacklog {
    fn default() -> WriteBacklog {
        WriteBacklog::new(SESSION_LAG_BYTES)
    }
}

impl WriteBacklog {
    pub(crate) fn new(limit: usize) -> WriteBacklog {
        WriteBacklog {
            queued: AtomicUsize::new(0),
            limit,
            caught_up: Notify::new(),
        }
    }

    pub(crate) fn add(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Writers took `bytes`; wakes the held connections when that brings the session back
    /// under its budget.
    pub(crate) fn sub(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(bytes))
            })
            .unwrap_or_else(|q| q);
        if before > self.limit && before.saturating_sub(bytes) <= self.limit {
            self.caught_up.notify_waiters();
        }
    }

    /// True while the session's writers have more than the budget to catch up on.
    pub(crate) fn over(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > self.limit
    }

    /// One torrent's writers caught up with their own backlog.
    pub(crate) fn wake_held(&self) {
        self.caught_up.notify_waiters();
    }

    /// What a connection held back waits on.
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.caught_up.notified()
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::WriteBacklog;

    #[test]
    fn over_the_budget_only_past_it_and_never_below_zero() {
        let b = WriteBacklog::new(100);
        b.add(100);
        assert!(!b.over());
        b.add(1);
        assert!(b.over());
        b.sub(1);
        assert!(!b.over());
        b.sub(500);
        assert_eq!(b.queued(), 0);
    }

    #[tokio::test]
    async fn falling_back_under_the_budget_wakes_the_held() {
        let b = Arc::new(WriteBacklog::new(100));
        b.add(150);
        let held = Arc::clone(&b);
        let waiter = tokio::spawn(async move { held.notified().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        b.sub(20);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "still over: nobody is woken");
        b.sub(40);
        let woke = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert!(woke.is_ok(), "back under the budget: the held wake");
    }
}
