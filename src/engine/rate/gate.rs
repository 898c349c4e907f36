//! A connection's side of its limiter: open while it runs less than `RUN_AHEAD` ahead of what
//! its buckets have paid for, then shut until the whole debt is paid.
//!
//! The hysteresis is the point. A gate that reopened as soon as the debt fell back under
//! `RUN_AHEAD` would let every unrelated wake of the connection's task (its half-second tick,
//! a verified piece to announce, a command) read or send one more block and shut again: at
//! 1 MiB/s that doubled the task's wakes against the same transfer unlimited. Shut until paid,
//! the connection moves about `RUN_AHEAD` worth of blocks in one burst and sleeps once per
//! `RUN_AHEAD`, which is how often an unlimited one is woken by a peer that paces itself.
//!
//! Invariants (unit tests below):
//! - A gate with no debt, or whose debt falls within `RUN_AHEAD`, is open.
//! - Once shut it stays shut until the instant its debt is paid, whatever asks meanwhile, and
//!   `wake` names that instant; at or after it the gate is open and owes nothing.
//! - `forgive` (a limit changed: the buckets forgave every debt) opens it at once.

use tokio::time::Instant;

use super::RUN_AHEAD;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// When the bytes let through so far are paid for, if they are not yet.
    paid_at: Option<Instant>,
    /// Shut until `paid_at`.
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
                if !self.shut && t > now + RUN_AHEAD {
                    self.shut = true;
                }
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
    fn open_until_the_debt_runs_ahead_then_shut_until_paid() {
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
        // Any wake before the debt is paid finds it shut, even once the debt is back within
        // RUN_AHEAD (the hysteresis).
        assert!(!g.is_open(t0 + ms(100)));
        assert!(!g.is_open(paid - ms(1)));
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
