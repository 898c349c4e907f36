//! The node's outgoing byte budgets (token buckets), so that no flood of queries, however
//! many addresses it comes from, makes the node send more than a fixed number of bytes a
//! second. The per-address limiter (`store::RateLimiter`) holds against one sender; this holds
//! against all of them together, which is what stops the node from being used as an
//! amplifier (replies are larger than queries) or, with spoofed sources, as a reflector aimed
//! at a third party. libtorrent caps its DHT the same way (`dht_upload_rate_limit`, 8,000 B/s
//! by default, one second of burst), and we start from its numbers.
//!
//! What exceeds a budget is dropped, never queued: a queue would only delay the flood's
//! replies to a time when they help nobody, and grow while it lasts.

use std::time::{Duration, Instant};

/// IPv4 and UDP headers, counted with each datagram as libtorrent does: a flood of tiny
/// queries costs the wire more than its payload.
pub(crate) const HEADER_BYTES: usize = 28;
/// The replies budget's default, libtorrent's `dht_upload_rate_limit`.
pub(crate) const DEFAULT_REPLY_BUDGET: u32 = 8_000;
/// No budget below one full-size datagram a second: it could never send one.
pub(crate) const MIN_REPLY_BUDGET: u32 = 1_500;
/// The allowance for our own queries (lookups, announces, upkeep pings). Separate from the
/// replies budget so that a flood, which spends all of that, never stops us from finding
/// peers for our torrents; generous because our own queries are already bounded by what we
/// decided to look up (the pending table, a lookup's candidate list) and no stranger can make
/// us send one. It still caps a hostile node that answers every query with nodes that point
/// at a victim.
pub(crate) const OWN_QUERIES_PER_SEC: u32 = 64 * 1024;
/// Drops are logged at most this often.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Who a datagram answers: a node of our routing table (it answered one of our queries from
/// that address) or anybody else. Known nodes may spend a reserve that strangers may not, so
/// the neighbours our lookups depend on are still answered while a flood spends the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Known,
    Stranger,
}

#[derive(Debug)]
pub(crate) struct Bucket {
    per_sec: f64,
    burst: f64,
    /// Tokens strangers leave for known nodes.
    reserve: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// `per_sec` bytes a second with one second's worth of burst, full at `now`.
    pub(crate) fn new(per_sec: u32, now: Instant) -> Bucket {
        let per_sec = f64::from(per_sec.max(MIN_REPLY_BUDGET));
        Bucket {
            per_sec,
            burst: per_sec,
            reserve: per_sec / 4.0,
            tokens: per_sec,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        // A clock that stands still (tests) or steps back never refills twice.
        self.last = self.last.max(now);
    }

    fn floor(&self, class: Class) -> f64 {
        match class {
            Class::Known => 0.0,
            Class::Stranger => self.reserve,
        }
    }

    /// Whether a datagram of `payload` bytes could be sent now, without spending: lets the
    /// node skip building a reply it would drop (a flood then costs a decode and a check).
    pub(crate) fn affords(&mut self, class: Class, payload: usize, now: Instant) -> bool {
        self.refill(now);
        self.tokens - cost(payload) >= self.floor(class)
    }

    /// Spends a datagram of `payload` bytes; false (and nothing spent) when it must be dropped.
    pub(crate) fn spend(&mut self, class: Class, payload: usize, now: Instant) -> bool {
        if !self.affords(class, payload, now) {
            return false;
        }
        self.tokens -= cost(payload);
        true
    }

    pub(crate) fn per_sec(&self) -> u32 {
        self.per_sec as u32
    }
}

fn cost(payload: usize) -> f64 {
    (payload + HEADER_BYTES) as f64
}

/// What the replies budget refused, for the once-a-minute log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub datagrams: u64,
    pub bytes: u64,
}

/// Counts drops and says when they are worth a log line (at most once per `REPORT_EVERY`).
#[derive(Debug)]
pub(crate) struct DropReport {
    since_report: Dropped,
    last: Option<Instant>,
}

impl DropReport {
    pub(crate) fn new() -> DropReport {
        DropReport {
            since_report: Dropped::default(),
            last: None,
        }
    }

    pub(crate) fn count(&mut self, payload: usize) {
        self.since_report.datagrams += 1;
        self.since_report.bytes += payload as u64;
    }

    /// The drops since the last report, when there were some and the last report is old
    /// enough (the first drop is reported at once).
    pub(crate) fn take(&mut self, now: Instant) -> Option<Dropped> {
        if self.since_report.datagrams == 0
            || self
                .last
                .is_some_and(|t| now.saturating_duration_since(t) < REPORT_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since_report))
    }
}

impl Default for DropReport {
    fn default() -> Self {
        DropReport::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_sends_its_rate_plus_one_burst_and_keeps_a_reserve_for_known_nodes() {
        let t0 = Instant::now();
        let mut b = Bucket::new(8_000, t0);
        // Ten seconds of 172-byte replies asked for every millisecond.
        let mut sent = 0usize;
        for ms in 0..10_000u64 {
            let now = t0 + Duration::from_millis(ms);
            if b.spend(Class::Stranger, 172, now) {
                sent += 172 + HEADER_BYTES;
            }
        }
        let bound = 8_000 * 11;
        assert!(sent <= bound, "{sent} > {bound}");
        assert!(
            sent >= 8_000 * 10 - 8_000,
            "{sent}: the budget was not used"
        );
        // Strangers have emptied it down to the reserve; a known node still gets through.
        let end = t0 + Duration::from_millis(10_000);
        while b.spend(Class::Stranger, 172, end) {}
        assert!(b.spend(Class::Known, 172, end));
        // Nothing in debt, and a clock that stands still refills nothing.
        let mut known = 0;
        while b.spend(Class::Known, 172, end) {
            known += 1;
        }
        assert!(known <= 10, "{known}");
        assert!(!b.spend(Class::Known, 1, end));
    }

    #[test]
    fn a_budget_below_one_datagram_is_raised() {
        let mut b = Bucket::new(10, Instant::now());
        assert_eq!(b.per_sec(), MIN_REPLY_BUDGET);
        assert!(b.spend(Class::Stranger, 1000, Instant::now()));
    }

    #[test]
    fn drops_are_reported_at_once_then_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut r = DropReport::new();
        assert_eq!(r.take(t0), None);
        r.count(100);
        r.count(50);
        assert_eq!(
            r.take(t0),
            Some(Dropped {
                datagrams: 2,
                bytes: 150
            })
        );
        r.count(10);
        assert_eq!(r.take(t0 + Duration::from_secs(59)), None);
        r.count(10);
        assert_eq!(
            r.take(t0 + REPORT_EVERY),
            Some(Dropped {
                datagrams: 2,
                bytes: 20
            })
        );
        assert_eq!(r.take(t0 + REPORT_EVERY * 3), None);
    }
}
