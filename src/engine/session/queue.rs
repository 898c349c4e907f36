//! The queue: which torrents of the session run, decided by one pure function
//! ([`decide`]) from each torrent's wish (download or seed), its place in the queue and how
//! long it has been slow. The manager (`policy.rs`) stops the downloads held back (no task,
//! no peers, no announces: a held download costs its line), holds back the uploads of the
//! seeds waiting for a seed slot, and starts them when a slot frees.
//!
//! Rules, in queue order (position 0 first):
//! - paused or failed torrents take no slot and are not held;
//! - a forced torrent runs whatever the queue says and takes no slot (Transmission's and
//!   qBittorrent's "force start");
//! - downloads: a running download slower than `slow_rate` for `stalled_after` no longer
//!   counts (libtorrent's `dont_count_slow_torrents`, Transmission's `queue-stalled-minutes`):
//!   it keeps running, and the next one in the queue gets its slot, so one dead torrent
//!   cannot hold the queue. Every other download takes a slot while one is free, else it is
//!   really stopped and says so: `queued: 4th for 3 download slots`;
//! - seeds (only when `max_seeds` is set; by default every seed runs, as in Transmission):
//!   the limit decides which seeds may *upload*, never which are announced or connectable. A
//!   seed no peer wants data from is idle: it keeps seeding and announcing (or sleeps, see
//!   `dormancy.rs`) and takes no slot. So does a seed that has uploaded below `slow_rate` for
//!   `stalled_after` while it held a slot (libtorrent counts slow seeds out the same way). A
//!   seed with an interested peer takes a slot while one is free; else it waits with its
//!   peers connected, unchoking none of them, and says so: `queued: 4th for 3 seed slots`.
//!   A seed keeps its slot while it uploads, whatever the queue's order or a lowered limit
//!   says: its slot frees when its peers no longer want data or its upload stays slow. The
//!   upload of a seed that loses its slot is never cut either: a held seed unchokes nobody
//!   new, but the peers it is serving keep their unchoke until they are done
//!   (`choker::keep_serving`). A seed limit is soft for that moment and holds at every
//!   new unchoke;
//! - of the torrents allowed to run, those whose start opens and checks their data (added, or
//!   back with files changed) start [`MAX_CHECKS`] at a time, in queue order, counting the
//!   ones opening or checking now; the others keep their slot and wait without a task, saying
//!   so: `checking: queued 37th`. As Transmission's verify queue: a library of thousands added
//!   at once is not thousands of tasks opening files and waiting for the hashing threads (the
//!   session's peak memory), and `add` still answers at once with every torrent listed.
//!
//! Defaults: no seed limit (Transmission's `seed-queue-enabled` false: a library of thousands
//! of complete torrents all seed; an idle seed costs no tick and sleeps); 5 downloads.
//! `slow_rate` 2 KiB/s is libtorrent's `inactive_down_rate`; `stalled_after` 5 min lies
//! between libtorrent's 60 s `inactivity_timer` (which flips bursty swarms in and out of the
//! queue, each flip costing us announces and new connections since a held download is really
//! stopped) and Transmission's 30 min (half an hour of a dead torrent holding a slot).

use std::time::Duration;

pub(crate) use crate::engine::api::Move;
use crate::engine::api::{QueueSettings, QueueState};

/// Torrents opening and checking their data at once. The session's hashing threads take one
/// check at a time anyway (`DiskPool::hashing_permit`); a few more let the next ones open their
/// files and queue for the threads meanwhile, so the threads never wait on an open.
pub(crate) const MAX_CHECKS: u32 = 3;

/// What a torrent would do if it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Download,
    Seed,
    /// Paused by the user, by a seeding goal, or failed: outside the queue.
    Nothing,
}

/// One torrent as the queue sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Entry {
    pub position: u32,
    pub want: Want,
    pub forced: bool,
    /// How long it has run below the slow rate (zero while held or fast). For a seed: how
    /// long it has uploaded below it while it held a slot or was idle for it, and some peer
    /// wanted data all along (the manager keeps this; see `policy.rs`).
    pub slow_for: Duration,
    /// A seed: some connected peer is interested in its data.
    pub demand: bool,
    /// A seed: it holds a seed slot now (its last verdict was [`Verdict::Run`]).
    pub slotted: bool,
    /// It has no task, and starting it means opening and checking its data first.
    pub checks_first: bool,
    /// Its task is opening or checking its data now: it counts against [`MAX_CHECKS`].
    pub checking: bool,
}

/// The decision for one torrent. Numbers, not text, so a tick over thousands of torrents
/// allocates nothing; [`Verdict::why`] makes the words when the verdict changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Runs and takes a slot (or no queue applies to it).
    Run,
    /// Runs without a slot: forced.
    Forced,
    /// A download runs without a slot: slow for this long.
    Stalled(Duration),
    /// A seed runs (or sleeps) without a slot, and keeps seeding and announcing: no peer
    /// wants its data (`slow: None`), or it has uploaded below the slow rate this long.
    Idle { slow: Option<Duration> },
    /// Waits: `rank`-th in line for `slots` slots of its kind.
    Held { want: Want, rank: u32, slots: u32 },
    /// Would run, but waits without a task for its turn to open and check its data:
    /// `rank`-th in line for the [`MAX_CHECKS`] checks at a time.
    CheckQueued { rank: u32 },
    /// Outside the queue (paused, failed).
    Off,
}

impl Verdict {
    pub(crate) fn runs(self) -> bool {
        matches!(
            self,
            Verdict::Run | Verdict::Forced | Verdict::Stalled(_) | Verdict::Idle { .. }
        )
    }

    /// Whether a seed with this verdict may unchoke peers it is not serving yet, under a
    /// seed limit: with a slot, forced, or counted out for its slow upload (it seeds as a
    /// torrent with no limit would; gaining speed brings it back to ask for a slot).
    pub(crate) fn may_upload(self) -> bool {
        matches!(
            self,
            Verdict::Run | Verdict::Forced | Verdict::Idle { slow: Some(_) }
        )
    }

    /// What the torrent's line says of this verdict; None when nothing holds it back. Its
    /// words are the line's `why` (`QueueState::why`).
    pub(crate) fn public(self, s: &QueueSettings) -> Option<QueueState> {
        match self {
            // A forced torrent is not held back: nothing to explain.
            Verdict::Run | Verdict::Off | Verdict::Forced | Verdict::Idle { slow: None } => None,
            Verdict::Stalled(d) => Some(QueueState::Stalled {
                secs: d.as_secs(),
                below: s.slow_rate,
            }),
            Verdict::Idle { slow: Some(d) } => Some(QueueState::SlowSeed {
                secs: d.as_secs(),
                below: s.slow_rate,
            }),
            Verdict::Held { want, rank, slots } => Some(QueueState::Waiting {
                seed: want == Want::Seed,
                rank,
                slots,
            }),
            Verdict::CheckQueued { rank } => Some(QueueState::CheckWaiting {
                rank,
                at_once: MAX_CHECKS,
            }),
        }
    }

    /// The verdict in words for the torrent's line; None when nothing holds it back.
    #[cfg(test)]
    pub(crate) fn why(self, s: &QueueSettings) -> Option<String> {
        self.public(s).map(QueueState::why)
    }
}

/// Decides every torrent: `out[i]` is the verdict of `entries[i]`; `waiting_checks` lists the
/// torrents held for a check slot, in the order they get one, each with the verdict it gets
/// then (so a check that ends starts the next without deciding everything again). `order` is scratch space
/// (kept by the caller so a tick allocates nothing once it has grown). A torrent waiting for
/// its check keeps its queue slot: the queue's order decides who checks first, and one held
/// by the queue is not checked before it may run. Seeds that hold a slot keep it first, then
/// the seeds asking for one take the free ones in queue order.
pub(crate) fn decide(
    entries: &[Entry],
    s: &QueueSettings,
    order: &mut Vec<usize>,
    out: &mut Vec<Verdict>,
    waiting_checks: &mut Vec<(usize, Verdict)>,
) {
    waiting_checks.clear();
    order.clear();
    order.extend(0..entries.len());
    order.sort_by_key(|&i| (entries[i].position, i));
    out.clear();
    out.resize(entries.len(), Verdict::Off);
    let (mut downloads, mut seeds) = (0u32, 0u32);
    // Seeds asking for a slot they do not hold: decided after every slot holder is counted.
    let mut asking = false;
    for &i in order.iter() {
        let e = &entries[i];
        out[i] = match e.want {
            Want::Nothing => continue,
            _ if e.forced => Verdict::Forced,
            Want::Download if e.slow_for >= s.stalled_after => Verdict::Stalled(e.slow_for),
            Want::Download => {
                downloads += 1;
                slot_or_held(Want::Download, downloads, s.max_downloads)
            }
            Want::Seed if s.max_seeds == 0 => Verdict::Run,
            Want::Seed if !e.demand => Verdict::Idle { slow: None },
            Want::Seed if e.slow_for >= s.stalled_after => Verdict::Idle {
                slow: Some(e.slow_for),
            },
            Want::Seed if e.slotted => {
                seeds += 1;
                Verdict::Run
            }
            Want::Seed => {
                asking = true;
                continue;
            }
        };
    }
    if asking {
        for &i in order.iter() {
            let e = &entries[i];
            if e.want == Want::Seed && out[i] == Verdict::Off {
                seeds += 1;
                out[i] = slot_or_held(Want::Seed, seeds, s.max_seeds);
            }
        }
    }
    let mut checking = entries.iter().filter(|e| e.checking).count() as u32;
    let mut waiting = 0u32;
    for &i in order.iter() {
        if !(entries[i].checks_first && out[i].runs()) {
            continue;
        }
        if checking < MAX_CHECKS {
            checking += 1;
        } else {
            waiting += 1;
            waiting_checks.push((i, out[i]));
            out[i] = Verdict::CheckQueued { rank: waiting };
        }
    }
}

/// The `count`-th torrent of its kind asking for one of `max` slots (0: no limit).
fn slot_or_held(want: Want, count: u32, max: u32) -> Verdict {
    if max == 0 || count <= max {
        Verdict::Run
    } else {
        Verdict::Held {
            want,
            rank: count,
            slots: max,
        }
    }
}

/// Moves `positions[who]` and renumbers every position 0..n in the new order (dense, so
/// "up" always swaps with the neighbour people see). Ties keep the slice's order.
pub(crate) fn reorder(positions: &mut [u32], who: usize, m: Move) {
    if who >= positions.len() {
        return;
    }
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by_key(|&i| (positions[i], i));
    let Some(at) = order.iter().position(|&i| i == who) else {
        return;
    };
    let item = order.remove(at);
    let to = match m {
        Move::Top => 0,
        Move::Up => at.saturating_sub(1),
        Move::Down => (at + 1).min(order.len()),
        Move::Bottom => order.len(),
    };
    order.insert(to, item);
    for (rank, &i) in order.iter().enumerate() {
        positions[i] = u32::try_from(rank).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
mod tests;
