//! A connection's two directions under the rate limits (see `engine::peer::rate`).

use tokio::time::Instant;

use crate::engine::peer::rate::{Gate, Limiter, Resends};

/// Invariant (why the fields are private): each gate takes only from its own direction's
/// limiter (`read` from `down`, `send` from `up`), so a debt shuts the direction that made it
/// and no other; uTP's extra bytes are charged once each (`Resends`).
pub(crate) struct Throttle {
    down: Limiter,
    up: Limiter,
    /// Shut while the down limiter's debt is being paid: no message is read.
    read: Gate,
    /// Shut while the up limiter's is: no block is sent.
    send: Gate,
    /// uTP's resent and wasted bytes already charged to the limiters.
    resends: Resends,
}

impl Throttle {
    pub(crate) fn new(down: Limiter, up: Limiter) -> Throttle {
        Throttle {
            down,
            up,
            read: Gate::default(),
            send: Gate::default(),
            resends: Resends::default(),
        }
    }

    #[inline]
    pub(crate) fn down_limited(&self) -> bool {
        self.down.is_limited()
    }

    #[inline]
    pub(crate) fn up_limited(&self) -> bool {
        self.up.is_limited()
    }

    /// `n` payload bytes were read: the next message waits until they are paid for.
    #[inline]
    pub(crate) fn read(&mut self, n: u64, now: Instant) {
        self.read.take(&self.down, n, now);
    }

    /// `n` payload bytes were sent.
    #[inline]
    pub(crate) fn sent(&mut self, n: u64, now: Instant) {
        self.send.take(&self.up, n, now);
    }

    #[inline]
    pub(crate) fn may_read(&mut self, now: Instant) -> bool {
        self.read.is_open(now)
    }

    #[inline]
    pub(crate) fn may_send(&mut self, now: Instant) -> bool {
        self.send.is_open(now)
    }

    /// The earliest instant a shut gate opens, if any.
    pub(crate) fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        match (self.read.wake(now), self.send.wake(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A limit changed: debts were forgiven, so the gates open now.
    pub(crate) fn forgive(&mut self) {
        self.read.forgive();
        self.send.forgive();
    }

    /// The tick: charges what uTP sent again or received in vain since the last one (its
    /// running totals, when the connection is uTP), then lets idle gates leave their rounds.
    pub(crate) fn on_tick(&mut self, utp: Option<(u64, u64)>, now: Instant) {
        if let Some((resent, wasted)) = utp {
            let (up, down) = self.resends.since(resent, wasted);
            // A take of nothing would still count the connection among its buckets' sharers.
            if up > 0 {
                self.sent(up, now);
            }
            if down > 0 {
                self.read(down, now);
            }
        }
        self.read.on_tick(now);
        self.send.on_tick(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::peer::rate::{RatePair, SessionRates};

    #[test]
    fn a_debt_shuts_only_its_own_direction() {
        let s = SessionRates::new(
            RatePair {
                down: 1 << 20,
                up: 0,
            },
            RatePair::default(),
            false,
        );
        let lim = s.torrent(RatePair::default());
        let now = Instant::now();
        let mut t = Throttle::new(lim.down, lim.up);
        assert!(t.down_limited());
        t.read(8 << 20, now);
        assert!(!t.may_read(now));
        assert!(t.may_send(now), "the up direction is not limited");
        let wake = t.next_wake(now);
        assert!(wake.is_some_and(|w| w > now));
        t.forgive();
        assert!(t.may_read(now));
        // uTP's wasted bytes are read bytes: they shut the read gate, once.
        t.on_tick(Some((0, 8 << 20)), now);
        assert!(!t.may_read(now));
        t.forgive();
        t.on_tick(Some((0, 8 << 20)), now);
        assert!(t.may_read(now), "the same total is not charged twice");
    }
}
