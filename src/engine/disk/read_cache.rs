//! The session's read cache for seeding: whole pieces read from the device once, served block by
//! block from memory to every peer that asks for them while they are held.
//!
//! Why. A peer asks for a piece 16 KiB at a time, and several peers ask for the same pieces at
//! different moments. Read block by block, each request is a small read the kernel stretches
//! with readahead; when the page cache is much smaller than what is seeded (a seedbox, a memory
//! cgroup), the readahead and the piece are evicted before the next block or the next peer
//! wants them, and the device is read again: measured 3 bytes read per byte sent to 3 leechers
//! in a 128 MiB cgroup (`tests/bench/disk.sh seed`). Here a block the page cache does not hold
//! makes its whole piece (a run of at most `UNIT_MAX` of a larger one) be read in one call and
//! kept, so the piece's other blocks, for this peer and the others, come from memory.
//!
//! Only misses fill it: a block the page cache holds is read from there as before
//! (`Storage::read_block_cached`), so with room to spare the page cache keeps serving repeats
//! and this cache stays empty. Its bound is the session's (`read_cache`, 32 MiB unless set), it
//! evicts the unit used longest ago, and it lets go of what has not been used for `IDLE`: a
//! session that stops seeding gives the memory back. A unit another thread is reading is waited
//! for, never read twice. Writes to a piece forget it (`forget_piece`), a storage that goes
//! forgets all of its units.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The largest unit read at once: a piece up to this size is read whole, a larger one in runs of
/// this size (a multiple of every block size peers use, so a block lies in one run).
pub(crate) const UNIT_MAX: u32 = 4 << 20;
/// The bound unless the session sets one.
pub(crate) const DEFAULT_CAPACITY: usize = 32 << 20;
/// A unit not used for this long is let go.
const IDLE: Duration = Duration::from_secs(30);

/// (storage, piece, run within the piece).
type Key = (u64, u32, u32);
/// A unit's bytes once read; None when its read failed (the caller reads the block itself and
/// reports the error).
type Unit = Arc<OnceLock<Option<Arc<[u8]>>>>;

struct Slot {
    unit: Unit,
    len: usize,
    used: Instant,
}

/// Invariant: `bytes` is the sum of the slots' `len` (a unit being read counts already) and
/// stays at most `capacity` after every insertion.
#[derive(Default)]
struct State {
    capacity: usize,
    bytes: usize,
    slots: HashMap<Key, Slot>,
}

pub(crate) struct ReadCache {
    state: Mutex<State>,
    /// `State::bytes`, readable without the lock: a write checks it before forgetting.
    held: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    read: AtomicU64,
    /// When the figures were last logged, and the blocks served then.
    logged: Mutex<(Option<Instant>, u64)>,
}

/// How often the log hears of the cache while it serves.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What the cache holds and has done (the session publishes them as `api::ReadCacheStats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Figures {
    pub(crate) capacity: u64,
    pub(crate) held: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) read: u64,
}

/// The bound a session gives the cache: a quarter of the memory the process may use (its
/// memory cgroup's limit, v1 or v2, or the machine's memory), at most `DEFAULT_CAPACITY` and at
/// least 4 MiB. In a 128 MiB cgroup that is 32 MiB, and leaves the rest to the process and
/// the page cache.
pub(crate) fn session_bound() -> usize {
    let limit = [cgroup_limit(), mem_total()].into_iter().flatten().min();
    limit.map_or(DEFAULT_CAPACITY, |l| {
        usize::try_from(l / 4)
            .unwrap_or(usize::MAX)
            .clamp(4 << 20, DEFAULT_CAPACITY)
    })
}

/// The memory limit of the process's cgroup, if it has one.
fn cgroup_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
        } else if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.max")
        } else {
            return None;
        };
        // "max" (v2) or a number near u64::MAX (v1) is no limit.
        let limit: u64 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
        (limit < 1 << 60).then_some(limit)
    })
}

/// The machine's memory.
fn mem_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    kib.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()
        .map(|k| k << 10)
}

/// The process's cache: one session a process, and every storage reads through it.
pub(crate) fn read_cache() -> &'static ReadCache {
    static CACHE: LazyLock<ReadCache> = LazyLock::new(|| ReadCache::new(DEFAULT_CAPACITY));
    &CACHE
}

/// A name for a storage in the cache's keys, unique in the process.
pub(crate) fn next_storage_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ReadCache {
    pub(crate) fn new(capacity: usize) -> ReadCache {
        ReadCache {
            state: Mutex::new(State {
                capacity,
                ..State::default()
            }),
            held: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            read: AtomicU64::new(0),
            logged: Mutex::new((None, 0)),
        }
    }

    /// True once a minute while the cache serves blocks: time to log its figures.
    pub(crate) fn log_due(&self, now: Instant) -> bool {
        let served = self.hits.load(Ordering::Relaxed) + self.misses.load(Ordering::Relaxed);
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let due = served != logged.1
            && logged
                .0
                .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        if due {
            *logged = (Some(now), served);
        }
        due
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it leaves consistent counts (every change is one step).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the bound (0 turns the cache off), letting go of what no longer fits.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        let mut s = self.lock();
        s.capacity = capacity;
        evict(&mut s, 0);
        self.held.store(s.bytes, Ordering::Relaxed);
    }

    /// Copies `dst.len()` bytes at `at` in unit `key` into `dst` when the unit is held and read:
    /// true. False otherwise (and nothing is counted: the caller goes on to the page cache).
    pub(crate) fn copy(&self, key: Key, at: usize, dst: &mut [u8]) -> bool {
        if self.held.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut s = self.lock();
        let Some(slot) = s.slots.get_mut(&key) else {
            return false;
        };
        let Some(Some(bytes)) = slot.unit.get() else {
            return false;
        };
        let Some(src) = bytes.get(at..at + dst.len()) else {
            return false;
        };
        dst.copy_from_slice(src);
        slot.used = Instant::now();
        self.hits.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Unit `key` of `len` bytes: held, or read now by `load` (on the caller's thread, which
    /// may wait for the device), or, when another thread is reading it, waited for. None when
    /// the unit does not fit (under two units' room) or its read failed: the caller reads its
    /// block itself.
    pub(crate) fn get_or_load(
        &self,
        key: Key,
        len: usize,
        load: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Arc<[u8]>> {
        let unit = {
            let mut s = self.lock();
            if len.saturating_mul(2) > s.capacity {
                return None;
            }
            let now = Instant::now();
            if let Some(slot) = s.slots.get_mut(&key) {
                slot.used = now;
                Arc::clone(&slot.unit)
            } else {
                evict(&mut s, len);
                let unit = Unit::default();
                s.slots.insert(
                    key,
                    Slot {
                        unit: Arc::clone(&unit),
                        len,
                        used: now,
                    },
                );
                s.bytes += len;
                self.held.store(s.bytes, Ordering::Relaxed);
                unit
            }
        };
        let mut loaded = false;
        let got = unit
            .get_or_init(|| {
                loaded = true;
                load().map(Arc::from)
            })
            .clone();
        match &got {
            Some(_) if loaded => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                self.read.fetch_add(len as u64, Ordering::Relaxed);
            }
            Some(_) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let mut s = self.lock();
                if s.slots
                    .get(&key)
                    .is_some_and(|v| Arc::ptr_eq(&v.unit, &unit))
                {
                    s.slots.remove(&key);
                    s.bytes -= len;
                    self.held.store(s.bytes, Ordering::Relaxed);
                }
            }
        }
        got
    }

    /// Forgets every unit of piece `piece` of storage `storage` (its bytes are being written).
    pub(crate) fn forget_piece(&self, storage: u64, piece: u32) {
        self.forget(|&(s, p, _)| s == storage && p == piece);
    }

    /// Forgets every unit of `storage` (it is closed).
    pub(crate) fn forget_storage(&self, storage: u64) {
        self.forget(|&(s, _, _)| s == storage);
    }

    fn forget(&self, gone: impl Fn(&Key) -> bool) {
        if self.held.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut s = self.lock();
        let mut freed = 0;
        s.slots.retain(|k, v| {
            let keep = !gone(k);
            if !keep {
                freed += v.len;
            }
            keep
        });
        s.bytes -= freed;
        self.held.store(s.bytes, Ordering::Relaxed);
    }

    /// Lets go of the units not used for `IDLE` (called every few seconds by the session).
    pub(crate) fn expire(&self, now: Instant) {
        if self.held.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut s = self.lock();
        let mut freed = 0;
        s.slots.retain(|_, v| {
            let keep = now.saturating_duration_since(v.used) < IDLE;
            if !keep {
                freed += v.len;
            }
            keep
        });
        s.bytes -= freed;
        self.held.store(s.bytes, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Figures {
        let capacity = self.lock().capacity as u64;
        Figures {
            capacity,
            held: self.held.load(Ordering::Relaxed) as u64,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            read: self.read.load(Ordering::Relaxed),
        }
    }
}

/// Evicts the units used longest ago until `room` more bytes fit under the bound.
fn evict(s: &mut State, room: usize) {
    while s.bytes + room > s.capacity {
        let Some(oldest) = s.slots.iter().min_by_key(|(_, v)| v.used).map(|(k, _)| *k) else {
            return;
        };
        if let Some(v) = s.slots.remove(&oldest) {
            s.bytes -= v.len;
        }
    }
}

#[cfg(test)]
mod tests;
