//! A connection's side of its limiter: open while it runs less than `RUN_AHEAD` ahead of what
//! its buckets have paid for; shut beyond that, with the instant its whole debt is paid, for
//! the one timer the connection's task sleeps on.
//!
//! The gate does not latch. A shut gate that stayed shut until its debt was paid moved
//! `RUN_AHEAD` of data per connection in one burst, which is cheaper, but broke the sharing:
//! connections under one bucket reopen one after another, and the first took the whole
//! next `RUN_AHEAD` while the others found the debt already there (two torrents under one
//! 2 MiB/s limit got 1.3 and 0.7 MiB/s, tests/ratelimit.rs). Unlatched, whichever connection
//! wakes while the shared debt is within `RUN_AHEAD` takes a block, as the buckets' turn order
//! intends.
//!
//! Invariants (unit tests below):
//! - A gate with no debt, or whose debt falls within `RUN_AHEAD`, is open.
//! - Beyond it the gate is shut and `wake` names the instant the debt is paid; at or after it
//!   the gate is open and owes nothing.
//! - `forgive` (a limit changed: the buckets forgave every debt) opens it at once.

use tokio::time::Instant;

use super::RUN_AHEAD;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// When the bytes let through so far are paid for, if they are not yet.
    paid_at: Option<Instant>,
    /// Shut at the last look: `paid_at` was more than `RUN_AHEAD` away.
    shut: bool,
}

impl Gate {
    /// The limiter said the bytes just taken are paid for at `at` (None: already paid).
    pub fn owe(&mut self, at: Option<Instant>) {
        if at.is_some() {
            self.paid_at = at;
        }
    }

    /// Whether more may be read or sent now; shuts the gate when the debt runs too far ahead.
    pub fn is_open(&mut self, now: Instant) -> bool {
        match self.paid_at {
            None => true,
            Some(t) if t <= now => {
                *self = Gate::default();
                true
            }
            Some(t) => {
                self.shut = t > now + RUN_AHEAD;
                !self.shut
            }
        }
    }

    /// When a shut gate opens (None: it is open; nothing to wake for).
    pub fn wake(&self) -> Option<Instant> {
        self.paid_at.filter(|_| self.shut)
    }

    pub fn forgive(&mut self) {
        *self = Gate::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn open_within_run_ahead_shut_beyond_it() {
        let t0 = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let mut g = Gate::default();
        assert!(g.is_open(t0));
        assert_eq!(g.wake(), None);
        // A debt within RUN_AHEAD: still open, nothing to wake for.
        g.owe(Some(t0 + RUN_AHEAD - ms(10)));
        assert!(g.is_open(t0));
        assert_eq!(g.wake(), None);
        // Past it: shut, and it says when it opens.
        let paid = t0 + RUN_AHEAD + ms(50);
        g.owe(Some(paid));
        assert!(!g.is_open(t0));
        assert_eq!(g.wake(), Some(paid));
        // Still shut while the debt is beyond RUN_AHEAD; open again once it is back within.
        assert!(!g.is_open(t0 + ms(40)));
        assert!(g.is_open(t0 + ms(100)));
        assert_eq!(g.wake(), None);
        // Paid: open, owing nothing.
        assert!(g.is_open(paid));
        assert_eq!(g, Gate::default());
    }

    #[test]
    fn no_debt_keeps_it_open_and_forgiving_opens_it() {
        let t0 = Instant::now();
        let mut g = Gate::default();
        g.owe(None);
        assert!(g.is_open(t0));
        g.owe(Some(t0 + RUN_AHEAD * 3));
        assert!(!g.is_open(t0));
        g.forgive();
        assert!(g.is_open(t0));
        assert_eq!(g.wake(), None);
    }
}
