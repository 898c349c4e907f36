//! Reads for peers that waited for the device: how many wait now, how long since one ended,
//! and how long the recent ones took. The explainer's evidence that the disk, not the swarm,
//! holds a seed back ("3 reads for peers waiting, none done for 12 s", "reads take 180 ms").
//!
//! Kept twice: for each torrent (whether its peers wait on the disk at all) and for each
//! device, shared by every torrent on it (`for_device`): the queue is the disk's, made of one
//! read or so from each of many torrents, which no one torrent's count shows.
//!
//! Counted where a connection hands a read to a blocking thread and waits for it (the page
//! cache and the read cache answer the others at once), so a wait includes the queue for the
//! blocking threads as well as the device: both are what a peer waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

/// An average older than this says nothing of the disk now.
const RECENT: Duration = Duration::from_secs(30);

pub(crate) struct ReadWaits {
    epoch: Instant,
    waiting: AtomicU32,
    /// Milliseconds after `epoch` when `waiting` last rose from 0.
    since_ms: AtomicU64,
    /// Moving average (1/8 weight a read) of the waits that ended, microseconds.
    avg_us: AtomicU64,
    /// Milliseconds after `epoch` when a wait last ended; 0 before any.
    done_ms: AtomicU64,
}

/// The figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WaitFigures {
    /// Reads waiting now.
    pub(crate) waiting: u32,
    /// While reads wait: how long since one ended (or since they began waiting, if later).
    /// Short on a busy disk that answers, growing on one that does not. None when none waits.
    pub(crate) waited: Option<Duration>,
    /// The recent reads' average wait (None when none ended lately).
    pub(crate) average: Option<Duration>,
}

/// One read waiting: counted from `ReadWaits::start` until dropped.
pub(crate) struct ReadWait<'a> {
    waits: &'a ReadWaits,
    started: Instant,
}

impl Default for ReadWaits {
    fn default() -> Self {
        ReadWaits {
            epoch: Instant::now(),
            waiting: AtomicU32::new(0),
            since_ms: AtomicU64::new(0),
            avg_us: AtomicU64::new(0),
            done_ms: AtomicU64::new(0),
        }
    }
}

impl ReadWaits {
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// A read starts waiting; it ends when the guard drops (done, failed or given up on).
    pub(crate) fn start(&self) -> ReadWait<'_> {
        let started = Instant::now();
        if self.waiting.fetch_add(1, Ordering::AcqRel) == 0 {
            self.since_ms.store(self.ms(started), Ordering::Release);
        }
        ReadWait {
            waits: self,
            started,
        }
    }

    pub(crate) fn figures(&self, now: Instant) -> WaitFigures {
        let waiting = self.waiting.load(Ordering::Acquire);
        let now_ms = self.ms(now);
        let done = self.done_ms.load(Ordering::Acquire);
        let waited = (waiting > 0).then(|| {
            let quiet_since = self.since_ms.load(Ordering::Acquire).max(done);
            Duration::from_millis(now_ms.saturating_sub(quiet_since))
        });
        let recent = done > 0 && now_ms.saturating_sub(done) < RECENT.as_millis() as u64;
        let average = recent.then(|| Duration::from_micros(self.avg_us.load(Ordering::Relaxed)));
        WaitFigures {
            waiting,
            waited,
            average,
        }
    }
}

/// The waits of `device`, shared by every storage on it while one holds them.
pub(crate) fn for_device(device: u64) -> Arc<ReadWaits> {
    static DEVICES: LazyLock<Mutex<HashMap<u64, Weak<ReadWaits>>>> = LazyLock::new(Mutex::default);
    let mut devices = DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = devices.get(&device).and_then(Weak::upgrade) {
        return w;
    }
    // Devices no storage holds any more go: the map stays as small as the devices in use.
    devices.retain(|_, w| w.strong_count() > 0);
    let w = Arc::new(ReadWaits::default());
    devices.insert(device, Arc::downgrade(&w));
    w
}

impl Drop for ReadWait<'_> {
    fn drop(&mut self) {
        let w = self.waits;
        let now = Instant::now();
        let took = now.saturating_duration_since(self.started).as_micros() as u64;
        // Races between two ends only blur the average; it is evidence, not accounting.
        let old = w.avg_us.load(Ordering::Relaxed);
        let first = w.done_ms.load(Ordering::Relaxed) == 0;
        let avg = if first {
            took
        } else {
            old - old / 8 + took / 8
        };
        w.avg_us.store(avg, Ordering::Relaxed);
        w.done_ms.store(w.ms(now).max(1), Ordering::Release);
        w.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_counted_until_they_end() {
        let w = ReadWaits::default();
        assert_eq!(w.figures(Instant::now()), WaitFigures::default());
        let a = w.start();
        let b = w.start();
        let f = w.figures(Instant::now() + Duration::from_secs(3));
        assert_eq!(f.waiting, 2);
        assert!(
            f.waited.is_some_and(|d| d >= Duration::from_secs(3)),
            "{f:?}"
        );
        assert_eq!(f.average, None);
        drop(a);
        // One ended: the other's wait counts from there (a busy disk, not a hung one).
        let f = w.figures(Instant::now() + Duration::from_millis(500));
        assert!(
            f.waited.is_some_and(|d| d <= Duration::from_millis(600)),
            "{f:?}"
        );
        drop(b);
        let f = w.figures(Instant::now());
        assert_eq!((f.waiting, f.waited), (0, None));
        assert!(f.average.is_some());
        let later = w.figures(Instant::now() + RECENT + Duration::from_secs(1));
        assert_eq!(later.average, None, "old waits say nothing of the disk now");
    }

    #[test]
    fn storages_on_one_device_share_its_waits() {
        let a = for_device(u64::MAX - 7);
        let b = for_device(u64::MAX - 7);
        let other = for_device(u64::MAX - 8);
        let _w = a.start();
        assert_eq!(b.figures(Instant::now()).waiting, 1);
        assert_eq!(other.figures(Instant::now()).waiting, 0);
    }
}
