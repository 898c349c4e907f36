//! The rate history behind the throughput graph: bounded rings kept on the UI side, one sample
//! a second of engine time.

use std::collections::VecDeque;
use std::time::Duration;

/// Samples kept for the graph: one a second for five minutes.
pub(crate) const HISTORY_LEN: usize = 300;
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Down/up rate history as (seconds since engine start, bytes/s) points, bounded.
#[derive(Debug, Clone, Default)]
pub struct History {
    down: VecDeque<(f64, f64)>,
    up: VecDeque<(f64, f64)>,
    last_sample: Option<Duration>,
    peak_down: f64,
    peak_up: f64,
}

impl History {
    /// Takes at most one sample per second of engine time, however often snapshots change.
    pub fn record(&mut self, at: Duration, down: f64, up: f64) {
        if let Some(last) = self.last_sample {
            if at < last {
                // The engine clock went backwards (a new engine): old points would be lies.
                *self = History::default();
            } else if at - last < SAMPLE_EVERY {
                return;
            }
        }
        self.last_sample = Some(at);
        let t = at.as_secs_f64();
        let clean = |r: f64| if r.is_finite() && r > 0.0 { r } else { 0.0 };
        push_bounded(&mut self.down, (t, clean(down)));
        push_bounded(&mut self.up, (t, clean(up)));
        self.peak_down = self.down.iter().map(|p| p.1).fold(0.0, f64::max);
        self.peak_up = self.up.iter().map(|p| p.1).fold(0.0, f64::max);
    }
    /// Points oldest first. Contiguous because `record` re-packs the ring after each push.
    pub fn down(&self) -> &[(f64, f64)] {
        self.down.as_slices().0
    }
    pub fn up(&self) -> &[(f64, f64)] {
        self.up.as_slices().0
    }
    pub fn peak_down(&self) -> f64 {
        self.peak_down
    }
    pub fn peak_up(&self) -> f64 {
        self.peak_up
    }
    pub fn len(&self) -> usize {
        self.down.len()
    }
    pub fn is_empty(&self) -> bool {
        self.down.is_empty()
    }
}

fn push_bounded(ring: &mut VecDeque<(f64, f64)>, point: (f64, f64)) {
    if ring.len() >= HISTORY_LEN {
        ring.pop_front();
    }
    ring.push_back(point);
    ring.make_contiguous();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_samples_once_a_second_and_is_bounded() {
        let mut h = History::default();
        h.record(Duration::from_millis(0), 1.0, 2.0);
        h.record(Duration::from_millis(400), 50.0, 2.0);
        assert_eq!(h.len(), 1, "a second sample within 1 s is skipped");
        for s in 1..=400u64 {
            h.record(Duration::from_secs(s), s as f64, f64::NAN);
        }
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h.down().len(), HISTORY_LEN, "slice is the whole ring");
        assert_eq!(h.down().first().map(|p| p.0), Some(101.0));
        assert_eq!(h.peak_down(), 400.0);
        assert_eq!(h.peak_up(), 0.0, "NaN rates are recorded as 0");
        h.record(Duration::from_secs(5), 7.0, 0.0);
        assert_eq!(h.len(), 1, "clock going back starts a new history");
    }
}
