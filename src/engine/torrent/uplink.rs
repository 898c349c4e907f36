//! The evidence of a full uplink, gathered by a torrent once a second for the explainer's
//! `upload_saturation` check: the session's upload against the most it has carried, the
//! round trips of this torrent's TCP peers against their floors, and this torrent's download
//! against its best.
//!
//! Why these three together: a link whose upload is full queues everything we send behind
//! it, our block requests and the acknowledgements of what we receive too, so every round
//! trip grows by the same queueing delay and a download that needs them slows down. Upload at
//! its ceiling alone is a seed doing its job; round trips up alone can be the far side's
//! trouble; a download falling alone can be the swarm. The ceiling is measured, not
//! configured: the most the session's upload sustained (10 s) in the last half hour, counted
//! in bytes the peers acknowledged (what crossed the link: bytes handed to a socket run ahead
//! of it by a send buffer of up to megabytes, and would set the ceiling too high).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::engine::api::UplinkRow;
use crate::engine::torrent::stats::RateWindow;

/// How far back the ceiling and the best download reach, in whole minutes.
const MEMORY_MINUTES: usize = 30;
const MINUTE: Duration = Duration::from_secs(60);
/// Windows of the rates: the ceiling is what the link sustained, not one burst (and a
/// connection held by a rate gate reads its acknowledged bytes up to 1.5 s late, in one lump).
const UP_WINDOW: Duration = Duration::from_secs(10);
const DOWN_WINDOW: Duration = Duration::from_secs(10);

/// The highest rates of one minute.
#[derive(Debug, Clone, Copy, Default)]
struct Minute {
    up: f64,
    down: f64,
}

/// Invariant: `minutes` holds at most `MEMORY_MINUTES - 1` closed minutes, oldest first, and
/// `this` the one under way since `this_started`; the row's peaks are over all of them.
#[derive(Debug)]
pub(crate) struct UplinkWatch {
    up: RateWindow,
    down: RateWindow,
    minutes: VecDeque<Minute>,
    this: Minute,
    this_started: Instant,
    /// Medians over the connected TCP peers at the last sample: now, floor, rise.
    rtt: Option<RoundTrips>,
}

/// Medians over a torrent's TCP connections of their smoothed round trip, of its lowest so
/// far, and of the difference (each connection's own: queueing at our link raises them all
/// by the same delay, whatever their distance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoundTrips {
    pub now: Duration,
    pub floor: Duration,
    pub rise: Duration,
}

impl RoundTrips {
    /// Medians of `(now, floor)` pairs, one per connection; None for none.
    pub(crate) fn median(pairs: &mut [(Duration, Duration)]) -> Option<RoundTrips> {
        if pairs.is_empty() {
            return None;
        }
        let mid = pairs.len() / 2;
        let mut rises: Vec<Duration> = pairs
            .iter()
            .map(|(now, floor)| now.saturating_sub(*floor))
            .collect();
        rises.sort_unstable();
        pairs.sort_unstable_by_key(|p| p.0);
        let now = pairs[mid].0;
        pairs.sort_unstable_by_key(|p| p.1);
        let floor = pairs[mid].1;
        Some(RoundTrips {
            now,
            floor,
            rise: rises[mid],
        })
    }
}

impl UplinkWatch {
    pub(crate) fn new(now: Instant) -> Self {
        UplinkWatch {
            up: RateWindow::new(UP_WINDOW),
            down: RateWindow::new(DOWN_WINDOW),
            minutes: VecDeque::with_capacity(MEMORY_MINUTES),
            this: Minute::default(),
            this_started: now,
            rtt: None,
        }
    }

    /// One sample: the bytes the session's TCP connections had acknowledged, this torrent's
    /// payload bytes downloaded, and its TCP connections' round trips.
    pub(crate) fn sample(
        &mut self,
        now: Instant,
        session_uploaded: u64,
        downloaded: u64,
        rtt: Option<RoundTrips>,
    ) {
        self.up.sample(now, session_uploaded);
        self.down.sample(now, downloaded);
        self.rtt = rtt;
        if now.saturating_duration_since(self.this_started) >= MINUTE {
            if self.minutes.len() + 1 >= MEMORY_MINUTES {
                self.minutes.pop_front();
            }
            self.minutes.push_back(self.this);
            self.this = Minute::default();
            self.this_started = now;
        }
        self.this.up = self.this.up.max(self.up.rate());
        self.this.down = self.this.down.max(self.down.rate());
    }

    pub(crate) fn row(&self) -> UplinkRow {
        let peak = |f: fn(&Minute) -> f64| {
            self.minutes
                .iter()
                .chain(std::iter::once(&self.this))
                .map(f)
                .fold(0.0, f64::max)
        };
        UplinkRow {
            up: self.up.rate(),
            up_ceiling: peak(|m| m.up),
            rtt: self.rtt.map(|r| r.now),
            rtt_floor: self.rtt.map(|r| r.floor),
            rtt_rise: self.rtt.map(|r| r.rise),
            down: self.down.rate(),
            down_best: peak(|m| m.down),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn medians_are_each_connections_own_rise() {
        // A near peer and two far ones, all 300 ms later: the rise is 300 ms though the
        // round trips differ tenfold.
        let mut pairs = vec![(ms(310), ms(10)), (ms(400), ms(100)), (ms(420), ms(120))];
        let r = RoundTrips::median(&mut pairs).unwrap();
        assert_eq!(r.rise, ms(300));
        assert_eq!(r.now, ms(400));
        assert_eq!(r.floor, ms(100));
        assert_eq!(RoundTrips::median(&mut []), None);
    }

    #[test]
    fn the_ceiling_is_the_most_sustained_and_forgotten_after_half_an_hour() {
        let t0 = Instant::now();
        let mut w = UplinkWatch::new(t0);
        let mut up = 0u64;
        let mut t = t0;
        // 30 s at 1 MB/s, then 10 minutes at 100 KB/s.
        for _ in 0..30 {
            t += Duration::from_secs(1);
            up += 1_000_000;
            w.sample(t, up, 0, None);
        }
        for _ in 0..600 {
            t += Duration::from_secs(1);
            up += 100_000;
            w.sample(t, up, 0, None);
        }
        let row = w.row();
        assert!((row.up_ceiling - 1_000_000.0).abs() < 1.0, "{row:?}");
        assert!((row.up - 100_000.0).abs() < 1.0, "{row:?}");
        // Half an hour later the megabyte a second is forgotten.
        for _ in 0..(MEMORY_MINUTES * 60) {
            t += Duration::from_secs(1);
            up += 100_000;
            w.sample(t, up, 0, None);
        }
        assert!((w.row().up_ceiling - 100_000.0).abs() < 1.0);
        assert!(w.minutes.len() < MEMORY_MINUTES);
    }

    #[test]
    fn the_download_keeps_its_best_beside_its_now() {
        let t0 = Instant::now();
        let mut w = UplinkWatch::new(t0);
        let (mut t, mut down) = (t0, 0u64);
        for rate in [2_000_000u64; 30].into_iter().chain([200_000; 30]) {
            t += Duration::from_secs(1);
            down += rate;
            w.sample(t, 0, down, None);
        }
        let row = w.row();
        assert!((row.down_best - 2_000_000.0).abs() < 1.0, "{row:?}");
        assert!((row.down - 200_000.0).abs() < 1.0, "{row:?}");
        assert_eq!(row.rtt, None);
    }
}
