//! Rate estimation over a short sliding window.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Bytes per second over the last `window` of counter samples. A sliding window (rather than
/// an exponential average) makes a pause show as zero within the window, not a long tail.
#[derive(Debug, Clone)]
pub(crate) struct RateWindow {
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl RateWindow {
    pub(crate) fn new(window: Duration) -> Self {
        RateWindow {
            samples: VecDeque::new(),
            window,
        }
    }

    pub(crate) fn sample(&mut self, now: Instant, counter: u64) {
        self.samples.push_back((now, counter));
        while self.samples.len() > 2 {
            match self.samples.get(1) {
                Some((t, _)) if now.duration_since(*t) >= self.window => {
                    self.samples.pop_front();
                }
                _ => break,
            }
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
                c1.saturating_sub(*c0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_window() {
        let t = Instant::now();
        let mut r = RateWindow::new(Duration::from_secs(2));
        assert_eq!(r.rate(), 0.0);
        for i in 0..=10u64 {
            r.sample(t + Duration::from_millis(250 * i), i * 250);
        }
        assert!((r.rate() - 1000.0).abs() < 1e-6);
        // Counter stops: the rate falls to zero once the window has passed.
        for i in 11..=20u64 {
            r.sample(t + Duration::from_millis(250 * i), 2500);
        }
        assert_eq!(r.rate(), 0.0);
    }
}
