//! A connection's deadlines: the retransmission timeout and the zero-window probe, and the
//! waiters parked on it.
//!
//! Invariant (why the fields are private): `dirty` is set whenever a deadline is armed outside
//! the driver's tick (a send, a close), so the driver task, which may be sleeping until an
//! older deadline or none, is woken to read them again; the tick itself re-reads them from its
//! return value (`next`) and needs no wake-up.

use std::task::Waker;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Timers {
    rto_at: Option<Instant>,
    probe_at: Option<Instant>,
    dirty: bool,
}

impl Timers {
    /// Starts the retransmission timer unless it runs already.
    #[inline]
    pub(super) fn arm_rto(&mut self, at: Instant) {
        if self.rto_at.is_none() {
            self.rto_at = Some(at);
            self.dirty = true;
        }
    }

    /// Restarts (or stops) the retransmission timer from an ACK or the tick: either is
    /// followed by a tick that reads it.
    #[inline]
    pub(super) fn reset_rto(&mut self, at: Option<Instant>) {
        self.rto_at = at;
    }

    #[inline]
    pub(super) fn rto_running(&self) -> bool {
        self.rto_at.is_some()
    }

    #[inline]
    pub(super) fn rto_due(&self, now: Instant) -> bool {
        self.rto_at.is_some_and(|at| now >= at)
    }

    /// Starts the zero-window probe timer unless it runs already.
    pub(super) fn arm_probe(&mut self, at: Instant) {
        if self.probe_at.is_none() {
            self.probe_at = Some(at);
            self.dirty = true;
        }
    }

    #[inline]
    pub(super) fn probe_running(&self) -> bool {
        self.probe_at.is_some()
    }

    /// Whether the probe timer fired; it stops when it did.
    pub(super) fn take_probe(&mut self, now: Instant) -> bool {
        let due = self.probe_at.is_some_and(|at| now >= at);
        if due {
            self.probe_at = None;
        }
        due
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        [self.rto_at, self.probe_at].into_iter().flatten().min()
    }

    /// The driver must look again (the connection closed, or is lingering).
    #[inline]
    pub(super) fn touch(&mut self) {
        self.dirty = true;
    }

    #[inline]
    pub(super) fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

/// The tasks parked on the connection: the last reader and the last writer to wait.
#[derive(Default)]
pub(super) struct Wakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

impl Wakers {
    pub(super) fn park_read(&mut self, w: &Waker) {
        self.read = Some(w.clone());
    }

    pub(super) fn park_write(&mut self, w: &Waker) {
        self.write = Some(w.clone());
    }

    #[inline]
    pub(super) fn wake_read(&mut self) {
        if let Some(w) = self.read.take() {
            w.wake();
        }
    }

    #[inline]
    pub(super) fn wake_write(&mut self) {
        if let Some(w) = self.write.take() {
            w.wake();
        }
    }

    pub(super) fn wake_all(&mut self) {
        self.wake_read();
        self.wake_write();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    #[test]
    fn arming_an_idle_timer_wakes_the_driver_once() {
        let now = Instant::now();
        let mut t = Timers::default();
        assert!(!t.take_dirty());
        t.arm_rto(now + Duration::from_secs(1));
        assert!(t.take_dirty());
        // Running already: neither moved nor a new wake-up.
        t.arm_rto(now + Duration::from_secs(5));
        assert!(!t.take_dirty());
        assert_eq!(t.next(), Some(now + Duration::from_secs(1)));
        t.arm_probe(now + Duration::from_millis(500));
        assert!(t.take_dirty());
        assert_eq!(t.next(), Some(now + Duration::from_millis(500)));
        // The tick's own changes are read from its return value, not from a wake-up.
        t.reset_rto(None);
        assert!(!t.take_dirty());
        assert!(!t.take_probe(now));
        assert!(t.take_probe(now + Duration::from_secs(1)));
        assert_eq!(t.next(), None);
        assert!(!t.rto_due(now + Duration::from_secs(60)));
    }

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_parked_task_is_woken_once() {
        let n = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(Arc::clone(&n));
        let mut ws = Wakers::default();
        ws.park_read(&w);
        ws.park_write(&w);
        ws.wake_all();
        ws.wake_all();
        ws.wake_read();
        assert_eq!(n.0.load(Ordering::Relaxed), 2);
    }
}
