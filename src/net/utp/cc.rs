//! Round-trip estimation and LEDBAT congestion control (BEP 29), kept free of sockets so the
//! arithmetic is unit-tested directly.

use std::time::{Duration, Instant};

/// BEP 29's target queueing delay.
pub(super) const TARGET_DELAY_US: i64 = 100_000;
/// BEP 29's MAX_CWND_INCREASE_BYTES_PER_RTT.
const GAIN_BYTES_PER_RTT: f64 = 3000.0;
const MIN_RTO: Duration = Duration::from_millis(500);
const MAX_RTO: Duration = Duration::from_secs(30);
const INITIAL_RTO: Duration = Duration::from_secs(1);
/// One bucket of the base-delay history; the base delay is the minimum of the current and
/// the previous bucket, so it covers between one and two minutes (BEP 29: "the last two").
const BASE_BUCKET: Duration = Duration::from_secs(60);

/// Jacobson/Karels smoothed RTT as BEP 29 prescribes: rto = max(rtt + 4 * rtt_var, 500 ms).
#[derive(Debug, Clone)]
pub(super) struct Rtt {
    srtt_us: Option<i64>,
    var_us: i64,
    backoff: u32,
}

impl Default for Rtt {
    fn default() -> Self {
        Self::new()
    }
}

impl Rtt {
    pub(super) fn new() -> Self {
        Rtt {
            srtt_us: None,
            var_us: 0,
            backoff: 0,
        }
    }

    pub(super) fn sample(&mut self, rtt: Duration) {
        let s = rtt.as_micros().min(60_000_000) as i64;
        match self.srtt_us {
            None => {
                self.srtt_us = Some(s);
                self.var_us = s / 2;
            }
            Some(srtt) => {
                self.var_us += ((srtt - s).abs() - self.var_us) / 4;
                self.srtt_us = Some(srtt + (s - srtt) / 8);
            }
        }
        self.backoff = 0;
    }

    pub(super) fn srtt(&self) -> Option<Duration> {
        self.srtt_us.map(|u| Duration::from_micros(u.max(0) as u64))
    }

    pub(super) fn rto(&self) -> Duration {
        let base = match self.srtt_us {
            None => INITIAL_RTO,
            Some(s) => Duration::from_micros((s + 4 * self.var_us).max(0) as u64).max(MIN_RTO),
        };
        (base * 2u32.pow(self.backoff.min(6))).min(MAX_RTO)
    }

    pub(super) fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    pub(super) fn reset_backoff(&mut self) {
        self.backoff = 0;
    }
}

/// Minimum of the one-way delay samples over the last one to two minutes. Samples are the
/// peer's `timestamp_difference`, which includes an unknown clock offset and wraps at 2^32,
/// so comparisons go through wrapping subtraction.
#[derive(Debug, Clone)]
pub(super) struct BaseDelay {
    prev: Option<u32>,
    cur: Option<u32>,
    bucket_start: Instant,
}

fn wrap_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

fn wrap_min(a: Option<u32>, b: u32) -> u32 {
    match a {
        Some(a) if wrap_lt(a, b) => a,
        _ => b,
    }
}

impl BaseDelay {
    pub(super) fn new(now: Instant) -> Self {
        BaseDelay {
            prev: None,
            cur: None,
            bucket_start: now,
        }
    }

    /// Records a sample and returns the queueing delay it shows (sample minus base).
    pub(super) fn add(&mut self, sample: u32, now: Instant) -> i64 {
        if now.duration_since(self.bucket_start) >= BASE_BUCKET {
            self.prev = self.cur.take();
            self.bucket_start = now;
        }
        self.cur = Some(wrap_min(self.cur, sample));
        let base = match self.prev {
            Some(p) => wrap_min(self.cur, p),
            None => wrap_min(None, self.cur.unwrap_or(sample)),
        };
        sample.wrapping_sub(base) as i32 as i64
    }
}

/// LEDBAT window: grows while the measured queueing delay is under the 100 ms target and
/// shrinks in proportion when it is over; halves on loss, collapses to the minimum on timeout.
/// A slow start (as libtorrent does) reaches a useful window in a few round trips; it ends
/// at the first loss or when the delay passes half the target.
#[derive(Debug, Clone)]
pub(super) struct Ledbat {
    cwnd: f64,
    min: f64,
    max: f64,
    ssthresh: f64,
    slow_start: bool,
    pub our_delay_us: i64,
    base: BaseDelay,
}

impl Ledbat {
    pub(super) fn new(mss: usize, max: usize, now: Instant) -> Self {
        let min = (2 * mss) as f64;
        Ledbat {
            cwnd: min.max((4 * mss) as f64).min(max as f64),
            min,
            max: max as f64,
            ssthresh: max as f64,
            slow_start: true,
            our_delay_us: 0,
            base: BaseDelay::new(now),
        }
    }

    pub(super) fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    /// A delay sample from an incoming packet (`timestamp_difference` of our packets as the
    /// peer measured them); zero means the peer has not measured yet.
    pub(super) fn delay_sample(&mut self, ts_diff_us: u32, now: Instant) {
        if ts_diff_us != 0 {
            self.our_delay_us = self.base.add(ts_diff_us, now).max(0);
        }
    }

    pub(super) fn on_ack(&mut self, bytes_acked: usize) {
        let acked = bytes_acked as f64;
        if self.slow_start {
            self.cwnd += acked;
            if self.cwnd >= self.ssthresh || self.our_delay_us > TARGET_DELAY_US / 2 {
                self.slow_start = false;
            }
        } else {
            let off = ((TARGET_DELAY_US - self.our_delay_us) as f64 / TARGET_DELAY_US as f64)
                .clamp(-1.0, 1.0);
            self.cwnd += GAIN_BYTES_PER_RTT * off * acked / self.cwnd;
        }
        self.cwnd = self.cwnd.clamp(self.min, self.max);
    }

    pub(super) fn on_loss(&mut self) {
        self.cwnd = (self.cwnd / 2.0).max(self.min);
        self.ssthresh = self.cwnd;
        self.slow_start = false;
    }

    pub(super) fn on_timeout(&mut self) {
        self.ssthresh = (self.cwnd / 2.0).max(self.min);
        self.cwnd = self.min;
        self.slow_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_follows_rtt_with_floor_and_backoff() {
        let mut r = Rtt::new();
        assert_eq!(r.rto(), Duration::from_secs(1));
        for _ in 0..50 {
            r.sample(Duration::from_millis(800));
        }
        let rto = r.rto();
        assert!(
            rto >= Duration::from_millis(800) && rto < Duration::from_millis(900),
            "{rto:?}"
        );
        r.sample(Duration::from_micros(100));
        for _ in 0..50 {
            r.sample(Duration::from_micros(100));
        }
        assert_eq!(r.rto(), MIN_RTO);
        r.back_off();
        r.back_off();
        assert_eq!(r.rto(), MIN_RTO * 4);
        for _ in 0..20 {
            r.back_off();
        }
        assert_eq!(r.rto(), MAX_RTO);
    }

    #[test]
    fn base_delay_handles_offset_wrap_and_expiry() {
        let t0 = Instant::now();
        let mut b = BaseDelay::new(t0);
        // Clock offset near the wrap: samples straddle 2^32.
        let base = u32::MAX - 1000;
        assert_eq!(b.add(base, t0), 0);
        assert_eq!(b.add(base.wrapping_add(50_000), t0), 50_000);
        assert_eq!(b.add(base.wrapping_sub(10), t0), 0);
        // After two buckets without the old minimum it is forgotten.
        let later = t0 + BASE_BUCKET * 2 + Duration::from_secs(1);
        b.add(
            base.wrapping_add(30_000),
            t0 + BASE_BUCKET + Duration::from_secs(1),
        );
        assert_eq!(b.add(base.wrapping_add(40_000), later), 10_000);
    }

    #[test]
    fn ledbat_grows_under_target_and_shrinks_over_it() {
        let now = Instant::now();
        let mss = 1380;
        let mut c = Ledbat::new(mss, 1 << 20, now);
        c.on_loss(); // leave slow start
        let w0 = c.cwnd();
        c.delay_sample(1000, now);
        c.delay_sample(1000 + 10_000, now); // 10 ms queueing: grow
        for _ in 0..100 {
            c.on_ack(mss);
        }
        let w1 = c.cwnd();
        assert!(w1 > w0, "{w0} -> {w1}");
        c.delay_sample(1000 + 250_000, now); // 250 ms: shrink
        for _ in 0..100 {
            c.on_ack(mss);
        }
        assert!(c.cwnd() < w1);
        c.on_timeout();
        assert_eq!(c.cwnd(), 2 * mss);
    }

    #[test]
    fn slow_start_ends_at_half_target() {
        let now = Instant::now();
        let mut c = Ledbat::new(1000, 10_000_000, now);
        c.delay_sample(5, now);
        for _ in 0..100 {
            c.on_ack(1000);
        }
        assert!(c.cwnd() > 100_000);
        c.delay_sample(5 + 60_000, now);
        c.on_ack(1000);
        let w = c.cwnd();
        c.on_ack(1000);
        assert!(c.cwnd() < w + 1000, "left slow start");
    }
}
