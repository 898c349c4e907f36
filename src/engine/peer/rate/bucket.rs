//! One token bucket, counted in bytes. It lends: a caller takes what it needs at once and is
//! told how long to wait before taking more, so a 16 KiB block never waits for a bucket
//! smaller than itself and a waiter sleeps exactly until its debt is paid (no polling).
//!
//! Invariants (checked in `tests.rs`):
//! - `rate == 0` means unlimited: `reserve` answers zero without taking the lock.
//! - `tokens <= burst(rate)` after every refill; it may be negative (the debt of bytes already
//!   let through), and the wait a caller gets is exactly `-tokens / rate`.
//! - Callers that each hold at most one reservation are served in the order they asked:
//!   with N of them behind one bucket each gets 1/N of it (the fairness the hierarchy needs).
//! - A rate change forgives the debt, so a raised limit applies at once.
//! - `sharers` counts the live `Share`s that joined it (connections taking from it lately);
//!   it only splits a round between them (`turn_share`), it never changes what is paid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the bucket may save up while nobody uses it.
const BURST_SECS: f64 = 0.1;
/// The least a bucket may save: one block, so a slow limit still lets whole blocks through.
const MIN_BURST: f64 = 16.0 * 1024.0;

#[derive(Debug)]
pub(crate) struct Bucket {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    state: Mutex<State>,
    sharers: AtomicU64,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

pub(crate) fn burst(rate: u64) -> f64 {
    (rate as f64 * BURST_SECS).max(MIN_BURST)
}

impl Bucket {
    pub(crate) fn new(rate: u64) -> Bucket {
        Bucket {
            rate: AtomicU64::new(rate),
            state: Mutex::new(State {
                tokens: 0.0,
                last: Instant::now(),
            }),
            sharers: AtomicU64::new(0),
        }
    }

    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    pub(crate) fn is_limited(&self) -> bool {
        self.rate() != 0
    }

    pub(super) fn join(&self) {
        self.sharers.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn leave(&self) {
        self.sharers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Each sharer's part of `turn` at this rate, in bytes (None: unlimited).
    pub(super) fn turn_share(&self, turn: Duration) -> Option<u64> {
        let rate = self.rate();
        let n = self.sharers.load(Ordering::Relaxed).max(1);
        (rate != 0).then(|| (rate as f64 * turn.as_secs_f64() / n as f64) as u64)
    }

    /// Changes the rate; the debt and the savings start over, so the new rate holds from now.
    pub(crate) fn set_rate(&self, rate: u64, now: Instant) {
        let mut s = self.lock();
        self.rate.store(rate, Ordering::Relaxed);
        s.tokens = 0.0;
        s.last = now;
    }

    /// Takes `n` bytes now; returns how long the caller must wait before taking more.
    pub(crate) fn reserve(&self, n: u64, now: Instant) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let mut s = self.lock();
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.last = s.last.max(now);
        s.tokens = (s.tokens + elapsed * rate as f64).min(burst(rate));
        s.tokens -= n as f64;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / rate as f64)
        }
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> f64 {
        self.lock().tokens
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two numbers, always consistent between statements.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
