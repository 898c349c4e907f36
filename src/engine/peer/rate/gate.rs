//! A connection's side of its limiters: it takes payload in turns. In one turn a connection
//! takes its share of a round (`TURN` of the tightest bucket's rate, split between the
//! connections using that bucket), then its gate stays shut until everything it took is paid
//! for, and the next turn begins. A gate also shuts, whatever its turn, while the shared debt
//! runs more than `RUN_AHEAD` ahead (a cap that should not bind when the shares add up).
//!
//! Why turns: a gate that only looked at the shared debt ("open while less than 400 ms is
//! owed") let whichever connection woke first fill the debt up to the mark, and the split
//! then depended on the phase between the connections' wake-ups, which nothing pulled back:
//! two torrents under one 2 MiB/s limit settled at 1.3 and 0.7 MiB/s (tests/net/ratelimit.rs).
//! With a fixed share per turn, every busy connection gets the same bytes per round, in any
//! wake order, and a connection still sleeps only once per turn (about once a second).
//!
//! Invariants (unit tests below):
//! - A gate with no debt is open; a paid debt starts a new turn (nothing taken yet).
//! - Once a turn's share is taken, the gate is shut until `wake` (the instant its debt is
//!   paid), whatever else wakes the connection; at or after it, it is open. `wake` is never
//!   in the past.
//! - Within its share, it is shut only while its debt is more than `RUN_AHEAD` away.
//! - While it takes from limited buckets it counts as one of their sharers, and stops
//!   counting `LEAVE_AFTER` after its last take (`on_tick`) or when dropped.
//! - `forgive` (a limit changed: the buckets forgave every debt) opens it at once.

use std::time::Duration;

use tokio::time::Instant;

use super::{Limiter, Share, RUN_AHEAD};

/// A connection that took nothing for this long no longer shares its buckets' rounds.
const LEAVE_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// When the bytes taken so far are paid for, if they are not yet.
    paid_at: Option<Instant>,
    /// Shut at the last look.
    shut: bool,
    /// Bytes taken in this turn.
    taken: u64,
    /// This turn's share is taken: shut until the debt is paid.
    turn_over: bool,
    /// Counted among the sharers of the limiter's buckets while taking from them.
    share: Option<Share>,
    last_take: Option<Instant>,
}

impl Gate {
    /// Takes `n` bytes of payload through `limiter` at `now`.
    pub(crate) fn take(&mut self, limiter: &Limiter, n: u64, now: Instant) {
        if !limiter.is_limited() {
            return;
        }
        if self.share.is_none() {
            self.share = Some(limiter.join());
        }
        self.last_take = Some(now);
        let wait = limiter.reserve_at(n, now.into_std());
        if wait.is_zero() {
            // Paid from the buckets' savings: nobody is waiting on them.
            return;
        }
        self.paid_at = Some(now + wait);
        self.taken += n;
        if self.taken >= limiter.turn_share() {
            self.turn_over = true;
        }
    }

    /// Whether more may be read or sent now.
    pub(crate) fn is_open(&mut self, now: Instant) -> bool {
        match self.paid_at {
            None => true,
            Some(t) if t <= now => {
                self.new_turn();
                true
            }
            Some(t) => {
                self.shut = self.turn_over || t > now + RUN_AHEAD;
                !self.shut
            }
        }
    }

    /// When the gate, shut at `now`, opens (None: it is open at `now`; nothing to wake for).
    /// Never an instant before `now`: a gate left shut since its last look (a send gate with
    /// nothing to send is not looked at) whose debt is paid meanwhile would otherwise hand
    /// the caller a timer in the past, which fires at once, again and again (a choked
    /// connection under an up limit spun a core this way).
    pub(crate) fn wake(&mut self, now: Instant) -> Option<Instant> {
        if self.is_open(now) {
            None
        } else {
            self.paid_at
        }
    }

    /// A limit changed and the buckets forgave every debt.
    pub(crate) fn forgive(&mut self) {
        self.new_turn();
    }

    /// The connection's periodic tick: an idle connection leaves its buckets' rounds, so the
    /// busy ones get bigger shares.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        if self
            .last_take
            .is_some_and(|t| now.saturating_duration_since(t) > LEAVE_AFTER)
        {
            self.share = None;
            self.last_take = None;
        }
    }

    fn new_turn(&mut self) {
        self.paid_at = None;
        self.shut = false;
        self.taken = 0;
        self.turn_over = false;
    }
}

#[cfg(test)]
mod tests;
