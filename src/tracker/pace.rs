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
use std::sync::{Arc, Mutex, OnceLock};
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

    /// When an announce asked for at `now` may go (not yet taken).
    fn next(&self, now: Instant, every: Duration, burst: u32) -> Instant {
        self.free_at.max(Self::earliest(now, every, burst)).max(now)
    }

    /// Takes the turn of an announce that goes at `at` (from `next`).
    fn take(&mut self, at: Instant, now: Instant, every: Duration, burst: u32) {
        self.free_at = self.free_at.max(Self::earliest(now, every, burst)) + every;
        debug_assert!(self.free_at <= at + every);
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

/// Waits until an announce to `tracker` (its host and port) may go. Announces wait in the
/// order they asked (tokio's mutex is fair), and one dropped while it waits (its torrent
/// fell asleep, was paused or removed) takes no turn: the turn is taken only when its wait
/// ends, by the one holding the lock.
pub(crate) async fn wait_turn(tracker: &str) {
    let gate = gate(tracker);
    let mut bucket = gate.lock().await;
    let every = Duration::from_secs(1) / PER_SECOND;
    let at = bucket.next(Instant::now(), every, BURST);
    if at > Instant::now() {
        tokio::time::sleep_until(at.into()).await;
    }
    bucket.take(at, Instant::now(), every, BURST);
}

type Gate = Arc<tokio::sync::Mutex<Bucket>>;

fn gate(tracker: &str) -> Gate {
    static GATES: OnceLock<Mutex<HashMap<String, Gate>>> = OnceLock::new();
    let every = Duration::from_secs(1) / PER_SECOND;
    let now = Instant::now();
    let mut map = GATES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if map.len() > 1024 {
        // A gate nobody holds or waits on, idle a burst's length, has a full bucket again:
        // forgetting it is the same as keeping it.
        map.retain(|_, g| {
            Arc::strong_count(g) > 1
                || g.try_lock()
                    .map_or(true, |b| b.free_at + every * BURST > now)
        });
    }
    Arc::clone(
        map.entry(tracker.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Bucket::full(now, every, BURST)))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(b: &mut Bucket, now: Instant, every: Duration, n: usize) -> Vec<Instant> {
        (0..n)
            .map(|_| {
                let at = b.next(now, every, 50);
                b.take(at, now, every, 50);
                at
            })
            .collect()
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rest_at_the_pace() {
        let now = Instant::now();
        let every = Duration::from_millis(20);
        let mut b = Bucket::full(now, every, 50);
        let times = turns(&mut b, now, every, 60);
        assert!(times[..50].iter().all(|t| *t == now));
        assert_eq!(times[50], now + every);
        assert_eq!(times[59], now + every * 10);
    }

    #[test]
    fn an_idle_tracker_banks_no_more_than_a_burst() {
        let start = Instant::now();
        let every = Duration::from_millis(20);
        let mut b = Bucket::full(start, every, 50);
        let later = start + Duration::from_secs(3600);
        let times = turns(&mut b, later, every, 51);
        assert_eq!(times.iter().filter(|t| **t == later).count(), 50);
        assert_eq!(times[50], later + every);
    }

    #[tokio::test]
    async fn a_wait_dropped_takes_no_turn() {
        let key = "pace-test-drop:1";
        for _ in 0..BURST {
            wait_turn(key).await;
        }
        let before = gate(key).lock().await.free_at;
        // The next waits a turn (20 ms); dropped before it, it takes none.
        let waited = tokio::time::timeout(Duration::from_millis(1), wait_turn(key)).await;
        assert!(waited.is_err(), "the burst is spent");
        assert_eq!(gate(key).lock().await.free_at, before);
        wait_turn(key).await;
        assert_eq!(
            gate(key).lock().await.free_at,
            before + Duration::from_secs(1) / PER_SECOND
        );
        // Another tracker is not held up by this one's queue.
        let held = gate(key);
        let _busy = held.lock().await;
        let other = tokio::time::timeout(Duration::from_secs(5), wait_turn("pace-test-other:1"));
        assert!(other.await.is_ok());
    }
}
