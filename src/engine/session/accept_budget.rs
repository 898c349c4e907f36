//! How many incoming connections may wait for their handshake at once, and what accept does
//! when the process is out of descriptors.
//!
//! A descriptor an idle socket holds is one the disk cannot open: a flood of connections that
//! never handshake used to be accepted until `accept` failed with EMFILE, and then a piece
//! write could fail too. Descriptors are a process-wide resource (RLIMIT_NOFILE), so the
//! budget is process-wide as well. Of the limit, the session's open payload files take a
//! quarter, all torrents together (`disk::OpenFiles`, sized by `open_files::budget_for`); handed-over connections are capped by each torrent's
//! connection limit (`--max-peers`, incoming and outgoing together); listeners, the UDP
//! socket, trackers and the terminal need a few. Connections still in their handshake
//! (up to `HANDSHAKE_TIMEOUT` each) get an eighth of the limit: a flood beyond that waits in
//! the kernel's listen backlog, where it costs us no descriptor.
//!
//! When accept fails for want of descriptors (EMFILE, ENFILE) the loop logs one line and
//! pauses, 500 ms doubling to 5 s, instead of spinning on the error.

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::disk::fds::nofile_limit;
use crate::engine::peer::descriptors::handshake_slots;

const PAUSE_FIRST: Duration = Duration::from_millis(500);
const PAUSE_MAX: Duration = Duration::from_secs(5);
/// Other accept errors (a connection reset before we took it) say nothing about us.
const PAUSE_OTHER: Duration = Duration::from_millis(100);

/// The budget of TCP connections in their handshake, shared by every listener of the process.
pub(crate) fn tcp() -> &'static AcceptBudget {
    static BUDGET: OnceLock<AcceptBudget> = OnceLock::new();
    BUDGET.get_or_init(|| AcceptBudget::new(handshake_slots(nofile_limit())))
}

/// uTP connections take no descriptor of their own (they share the UDP socket), but each
/// handshake is a task and buffers: the same cap keeps a flood of SYNs from piling them up.
pub(crate) fn utp() -> &'static AcceptBudget {
    static BUDGET: OnceLock<AcceptBudget> = OnceLock::new();
    BUDGET.get_or_init(|| AcceptBudget::new(handshake_slots(nofile_limit())))
}

pub(crate) struct AcceptBudget {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl AcceptBudget {
    pub(crate) fn new(capacity: usize) -> AcceptBudget {
        AcceptBudget {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Waits for a free slot; the connection holds it (the permit) until its handshake is
    /// done and it is handed over, or it is dropped.
    pub(crate) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).acquire_owned().await.ok()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.slots.available_permits()
    }
}

pub(crate) fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// The pauses of one accept loop after errors: one log line per shortage of descriptors.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Set while descriptors are short: the next pause, and the failures seen.
    short: Option<(Duration, u64)>,
}

impl Backoff {
    /// After a failed accept: how long to pause, and the line to log (None: stay quiet).
    pub(crate) fn failed(&mut self, e: &io::Error, limit: usize) -> (Duration, Option<String>) {
        if !is_out_of_descriptors(e) {
            return (PAUSE_OTHER, None);
        }
        match &mut self.short {
            Some((pause, n)) => {
                *n += 1;
                *pause = (*pause * 2).min(PAUSE_MAX);
                (*pause, None)
            }
            None => {
                self.short = Some((PAUSE_FIRST, 1));
                let line = format!(
                    "accept: {e}; pausing incoming connections (at most {limit} in their \
                     handshake), the disk keeps its files"
                );
                (PAUSE_FIRST, Some(line))
            }
        }
    }

    /// After a successful accept: the line saying the shortage is over, if there was one.
    pub(crate) fn accepted(&mut self) -> Option<String> {
        let (_, n) = self.short.take()?;
        Some(format!(
            "accepting connections again after {n} refusals for want of descriptors"
        ))
    }
}

/// Logs the accept error and sleeps as `backoff` says.
pub(crate) async fn pause_after(backoff: &mut Backoff, e: &io::Error, limit: usize) {
    let (pause, line) = backoff.failed(e, limit);
    match line {
        Some(line) => tracing::warn!("{line}"),
        None => tracing::debug!("accept: {e}"),
    }
    tokio::time::sleep(pause).await;
}

/// Logs the end of a shortage, once.
pub(crate) fn note_accepted(backoff: &mut Backoff) {
    if let Some(line) = backoff.accepted() {
        tracing::info!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_descriptor_limit() {
        let n = tcp().capacity();
        assert!((4..=256).contains(&n), "{n}");
    }

    #[test]
    fn a_shortage_logs_once_and_backs_off_to_five_seconds() {
        let mut b = Backoff::default();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let (p, line) = b.failed(&emfile, 32);
        assert_eq!(p, PAUSE_FIRST);
        assert!(line.is_some_and(|l| l.contains("32")));
        let pauses: Vec<Duration> = (0..6).map(|_| b.failed(&emfile, 32)).map(|x| x.0).collect();
        assert_eq!(pauses[0], Duration::from_secs(1));
        assert_eq!(pauses[5], PAUSE_MAX);
        let enfile = io::Error::from_raw_os_error(libc::ENFILE);
        assert_eq!(b.failed(&enfile, 32).1, None, "still the same shortage");
        assert!(b.accepted().is_some_and(|l| l.contains("8 refusals")));
        assert_eq!(b.accepted(), None);
        // Other errors: a short pause, no warning.
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(b.failed(&reset, 32), (PAUSE_OTHER, None));
        assert_eq!(b.failed(&emfile, 32).0, PAUSE_FIRST, "a new shortage");
    }

    #[tokio::test]
    async fn a_slot_is_held_until_its_permit_is_dropped() {
        let b = AcceptBudget::new(2);
        let one = b.slot().await;
        let two = b.slot().await;
        assert_eq!(b.free(), 0);
        let waiting = tokio::time::timeout(Duration::from_millis(50), b.slot()).await;
        assert!(waiting.is_err(), "a third slot was given");
        drop(one);
        assert!(b.slot().await.is_some());
        drop(two);
        assert_eq!(b.free(), 2);
    }
}
