//! The pace of announces to one tracker. A library added or woken at once (10,000 complete
//! torrents found complete within seconds) would otherwise send its `started` announces in
//! one burst. Each tracker (by host and port) gets at most [`PER_SECOND`] announces a second
//! from this process after a burst of [`BURST`]; the rest wait their turn. Transmission paces
//! its whole announcer at 40 a second; this pace is per tracker, so a library spread over
//! several trackers is not slowed by the busiest one.
//!
//! Only the tracker task's announces are paced (`started`, `completed` and the periodic
//! ones). `stopped` announces are not: they are sent at exit, which must not wait minutes for
//! a queue, and a tracker drops a peer that never says `stopped` by itself anyway.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Announces a second to one tracker once a burst is spent.
pub(crate) const PER_SECOND: u32 = 50;
/// Announces sent at once to a tracker that had none for a while.
pub(crate) const BURST: u32 = 50;

/// A leaky bucket: `free_at` is when the next announce may go; each announce moves it on by
/// one interval. Invariant: `free_at` is never more than the burst behind now (an idle
/// tracker does not bank more than [`BURST`] announces).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    free_at: Instant,
}

impl Bucket {
    /// A bucket with its whole burst to spend.
    fn full(now: Instant, every: Duration, burst: u32) -> Bucket {
        Bucket {
            free_at: Self::earliest(now, every, burst),
        }
    }

    fn earliest(now: Instant, every: Duration, burst: u32) -> Instant {
        now.checked_sub(every * burst.saturating_sub(1))
            .unwrap_or(now)
    }

    /// The instant an announce asked for at `now` may go, and the bucket moved past it.
    fn take(&mut self, now: Instant, every: Duration, burst: u32) -> Instant {
        let at = self.free_at.max(Self::earliest(now, every, burst));
        self.free_at = at + every;
        at.max(now)
    }
}

/// The key a tracker URL is paced by: its host and port (`udp://t:6969` and
/// `http://t:6969/announce` are the same machine).
pub(crate) fn tracker_key(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or_default()
        ),
        Err(_) => url.to_string(),
    }
}

/// Waits until an announce to `tracker` (its host and port) may go.
pub(crate) async fn wait_turn(tracker: &str) {
    let at = turn(tracker, Instant::now());
    if at > Instant::now() {
        tokio::time::sleep_until(at.into()).await;
    }
}

fn turn(tracker: &str, now: Instant) -> Instant {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Bucket>>> = OnceLock::new();
    let every = Duration::from_secs(1) / PER_SECOND;
    let mut map = BUCKETS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if map.len() > 1024 {
        // Trackers idle for a burst's length have a full bucket again: forgetting them is
        // the same as keeping them.
        map.retain(|_, b| b.free_at + every * BURST > now);
    }
    map.entry(tracker.to_string())
        .or_insert_with(|| Bucket::full(now, every, BURST))
        .take(now, every, BURST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_at_once_then_the_rest_at_the_pace() {
        let now = Instant::now();
        let every = Duration::from_millis(20);
        let mut b = Bucket::full(now, every, 50);
        let times: Vec<Instant> = (0..60).map(|_| b.take(now, every, 50)).collect();
        // The first 50 (the bucket banked since long ago is capped at the burst)...
        assert!(times[..50].iter().all(|t| *t == now));
        // ...then one each 20 ms.
        assert_eq!(times[50], now + every);
        assert_eq!(times[59], now + every * 10);
    }

    #[test]
    fn an_idle_tracker_banks_no_more_than_a_burst() {
        let start = Instant::now();
        let every = Duration::from_millis(20);
        let mut b = Bucket::full(start, every, 50);
        let later = start + Duration::from_secs(3600);
        let times: Vec<Instant> = (0..51).map(|_| b.take(later, every, 50)).collect();
        assert_eq!(times.iter().filter(|t| **t == later).count(), 50);
        assert_eq!(times[50], later + every);
    }

    #[test]
    fn trackers_are_paced_apart() {
        let now = Instant::now();
        for _ in 0..BURST {
            turn("pace-test-a:1", now);
        }
        assert!(turn("pace-test-a:1", now) > now);
        assert_eq!(turn("pace-test-b:1", now), now);
    }
}
