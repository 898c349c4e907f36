//! Dormancy: a torrent that is complete, has no connection and nobody subscribed to it, and
//! has been so for a while, is put to sleep by the session. A dormant torrent has no tokio
//! task, no channels, no open files and no per-piece state beyond its last resume point: it
//! is its slot in the manager (its line, which says `seeding` with rates 0) and its place in
//! the router. It wakes (its task started again from the last resume point, with no check)
//! when
//! - an incoming connection's handshake names it (plain or by MSE's req2: the router keeps
//!   both and holds the connection until the new task routes itself, then hands it over),
//! - its announce is due,
//! - a command targets it (one the session cannot answer for it, such as dropping a peer),
//! - someone subscribes to its full snapshot.
//!
//! Announces: a dormant torrent with trackers (or the DHT) is woken for them, spread by its
//! info hash over the announce interval and at most a few per session tick, rather than
//! announced by a session-level scheduler. Waking keeps one announce path (the torrent's
//! tracker task: tiers, back-off, its key and counters, the DHT's announce); its cost is a
//! task for a short while every interval per torrent. Going to sleep does not tell the
//! trackers `stopped`, so they keep listing the torrent between announces.
//!
//! This file holds the pure decisions (unit-tested without sockets in dormancy/tests.rs);
//! `sleep.rs` acts on them in the manager.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::api::{Command, PieceState, Snapshot, TorrentId, TorrentState};
use crate::engine::torrent::snapshot::Snapshots;
use crate::protocol::bitfield::Bitfield;

/// When torrents sleep and how often a dormant one is woken to announce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    /// Quiet time (complete, no peer, nobody watching) before a torrent sleeps.
    pub after: Duration,
    /// A dormant torrent announces this often (spread over the interval by its info hash).
    pub announce_every: Duration,
    /// At least this many dormant torrents may be woken for their announce per session tick
    /// (more in a large library: `Announces::wakes_per_tick`).
    pub announce_wakes_per_tick: usize,
    /// `announce_every` is every torrent's schedule, trackers' intervals notwithstanding
    /// (set by the tests' knob).
    pub announce_fixed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            after: Duration::from_secs(60),
            announce_every: Duration::from_secs(30 * 60),
            announce_wakes_per_tick: 10,
            announce_fixed: false,
        }
    }
}

impl Settings {
    /// The defaults, with `TTUI_DORMANT_AFTER_SECS` and `TTUI_DORMANT_ANNOUNCE_SECS` when set
    /// (the tests' knobs: they cannot wait a minute for a torrent to sleep). `0` seconds of
    /// quiet turns dormancy off.
    pub(crate) fn from_env() -> Settings {
        let secs = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        };
        let d = Settings::default();
        let fixed = secs("TTUI_DORMANT_ANNOUNCE_SECS").filter(|d| !d.is_zero());
        Settings {
            after: secs("TTUI_DORMANT_AFTER_SECS").unwrap_or(d.after),
            announce_every: fixed.unwrap_or(d.announce_every),
            announce_fixed: fixed.is_some(),
            ..d
        }
    }
}

/// What the manager knows of a running torrent, each tick it looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Every wanted piece verified (its line says seeding or complete).
    pub complete: bool,
    /// Paused by hand: parked instead (no route, no announce) when quiet.
    pub paused: bool,
    /// Connected peers, as its line counts them.
    pub peers: u32,
    /// Someone holds a receiver of its full snapshot.
    pub subscribed: bool,
    /// Being removed, verified or moved: the manager is already ending its task.
    pub busy: bool,
    /// It has trackers, the DHT or peers given to dial: someone to tell it exists.
    pub announces: bool,
    /// Its task checked its data when it started, and no peer nor subscriber has come since.
    pub just_checked: bool,
    /// It was woken only to announce, and nobody has come since.
    pub woke_to_announce: bool,
    /// Its trackers have answered its announce (or failed): it knows when the next is due.
    pub announce_done: bool,
    /// It has trackers and none has answered yet: its announce may still wait its turn in
    /// the tracker's pace (tracker/pace.rs), and a task ended now would lose it.
    pub tracker_pending: bool,
}

/// Quiet time of a torrent woken only to announce, once the announce is done. A library of
/// 10,000 on a 30-minute interval wakes 5.6 torrents a second; each staying up the full
/// quiet time would keep hundreds of tasks awake at any moment. A leecher the tracker gave
/// us is dialed at once, and one that dials us later wakes the torrent again.
pub(crate) const ANNOUNCE_WAKE_QUIET: Duration = Duration::from_secs(5);

impl Facts {
    /// Nothing would be lost by ending its task now.
    pub(crate) fn quiet(&self) -> bool {
        (self.complete || self.paused) && self.peers == 0 && !self.subscribed && !self.busy
    }
}

/// Whether a running torrent goes to sleep now: it has been quiet since `quiet_since`
/// (updated by the caller: `None` while not quiet) for at least `s.after`.
///
/// A torrent whose check just found it complete sleeps at once: nothing can reach it but an
/// incoming peer, which wakes it as well, and a library added at once (hundreds checked a
/// second) would otherwise keep thousands of tasks awake together (the session's peak
/// memory, and the heap they leave behind). If its trackers have not answered its `started`
/// yet, the announce is owed: it falls asleep due at once (`wake_for_announce`), and the
/// session's paced wakes send it, so 10,000 added together reach the tracker at the wake
/// rate with a few tasks awake at a time, not 10,000 tasks each waiting its turn.
///
/// Any other torrent whose trackers have not answered stays awake until they do (its
/// announce may be waiting its turn in the tracker's pace, tracker/pace.rs). One woken only to
/// announce sleeps [`ANNOUNCE_WAKE_QUIET`] after its announce; one woken for anything else
/// stays up `s.after` for the peer or command that woke it.
pub(crate) fn may_sleep(
    facts: &Facts,
    quiet_since: Option<Instant>,
    now: Instant,
    s: &Settings,
) -> bool {
    let owes = facts.tracker_pending && !facts.paused;
    if owes && !facts.just_checked {
        return false;
    }
    let after = if facts.just_checked && (!facts.announces || facts.announce_done || owes) {
        Duration::ZERO
    } else if facts.woke_to_announce && facts.announce_done {
        s.after.min(ANNOUNCE_WAKE_QUIET)
    } else {
        s.after
    };
    !s.after.is_zero()
        && facts.quiet()
        && quiet_since.is_some_and(|t| now.duration_since(t) >= after)
}

/// Most tasks woken only to announce that may wait for their trackers at once. The wakes a
/// tick grow with the library (`Announces::wakes_per_tick`: 100 a second at 25,000), but one
/// tracker takes 50 announces a second (`tracker/pace.rs`): without this bound, 100,000
/// torrents on one tracker, added at once and owing their `started`, were woken faster than
/// it took them, and the woken tasks (some 20 KiB each) piled up awake in its pace: 18,000
/// of them, 1 GiB of RSS, when 56,000 were added. With it, wakes follow what the trackers
/// take; 512 tasks each waiting out the 15 s timeout still let 34 a second through to a
/// tracker that never answers.
pub(crate) const MAX_ANNOUNCING: usize = 512;

/// Why a dormant torrent is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A peer dialed us for it.
    Incoming,
    /// Its tracker and DHT announce is due.
    Announce,
    /// A command only its task can carry out.
    Command,
    /// Someone wants its full snapshot.
    Subscribe,
    /// A file stream was opened on it.
    Stream,
}

impl Wake {
    pub(crate) fn words(self) -> &'static str {
        match self {
            Wake::Incoming => "a peer connected",
            Wake::Announce => "its announce is due",
            Wake::Command => "a command for it",
            Wake::Subscribe => "someone is watching it",
            Wake::Stream => "a stream reads it",
        }
    }
}

/// Commands for a torrent whose task is ending (falling asleep, or being parked): the old
/// task no longer reads them, so they are held here and replayed, in order, on the task that
/// starts next (woken, resumed, verified or moved). A command equal to one already held
/// moves to the end instead of being kept twice: every command held sets a state (a file's
/// priority, sequential order) or is idempotent (drop, ban, refresh), so only the last of
/// equal ones matters, and a UI that subscribes again and again does not grow the list.
/// Invariant: at most `MAX_HELD` commands, none of them `Quit` or `Sleep`.
#[derive(Debug, Default)]
pub(crate) struct Held(Vec<Command>);

/// More distinct commands than this in the moment a task takes to end: the oldest go.
const MAX_HELD: usize = 64;

impl Held {
    /// Keeps `c` for the next task. `Quit` and `Sleep` are not kept: the task is already
    /// ending, and the next one must not.
    pub(crate) fn hold(&mut self, c: Command) {
        if matches!(c, Command::Quit | Command::Sleep) {
            return;
        }
        self.0.retain(|h| *h != c);
        if self.0.len() == MAX_HELD {
            self.0.remove(0);
        }
        self.0.push(c);
    }

    /// Sends the held commands, in order, to the task that starts now.
    pub(crate) fn replay(self, to: &mpsc::UnboundedSender<Command>) {
        for c in self.0 {
            let _ = to.send(c);
        }
    }
}

/// The snapshot a dormant torrent keeps in its slot, from the last one its task sent: what
/// it is (name, files, trackers, pieces) without what its task was doing. The log is most of
/// a quiet torrent's snapshot (up to `LOG_IN_SNAPSHOT` lines, a few KiB: over half of a
/// dormant slot's memory in a library of small torrents) and nobody reads it while it sleeps:
/// subscribing wakes the torrent, and its new task sends its own snapshot, with its own log.
pub(crate) fn asleep(last: &Snapshot) -> Snapshot {
    Snapshot {
        log: Vec::new(),
        peers: Vec::new(),
        down_rate: 0.0,
        up_rate: 0.0,
        name: last.name.clone(),
        state: last.state.clone(),
        output: last.output.clone(),
        pieces: last.pieces.clone(),
        availability: vec![0; last.availability.len()],
        trackers: last.trackers.clone(),
        dht: last.dht.clone(),
        files: last.files.clone(),
        streams: Vec::new(),
        ..*last
    }
}

/// What a slot keeps of its snapshot channel once its torrent sleeps: nothing when nobody
/// watches it, else the channel with its last snapshot slimmed (`asleep`). The channel's
/// notifiers and a full snapshot with its file rows are some 1.4 KiB a torrent, a fifth of
/// what a sleeping small torrent costs, and nobody can read them unsubscribed; subscribing
/// wakes the torrent and makes a channel again (`Slot::subscribe`).
pub(crate) fn keep_asleep(snapshots: &mut Option<Snapshots>) {
    let Some(tx) = snapshots.as_ref().and_then(|c| c.get()) else {
        // Nobody ever subscribed: the empty cell its task had goes too.
        *snapshots = None;
        return;
    };
    if tx.receiver_count() == 0 {
        *snapshots = None;
        return;
    }
    let slim = {
        let last = tx.borrow();
        (!last.log.is_empty() || !last.peers.is_empty()).then(|| asleep(&last))
    };
    if let Some(slim) = slim {
        tx.send_replace(Arc::new(slim));
    }
}

/// The snapshot a slot shows a new subscriber (or a face's peek) until a task sends its own:
/// the torrent's initial one (`first`), with the state its line shows and the pieces the
/// session knows it has: every one when it was parked complete (a sleeping torrent always
/// is), else those of its last resume point (`have`; a paused or queued torrent's task sent
/// it as it ended). Each file's done bytes follow from those pieces, so a sleeping seed's
/// files read 100 % in every face, as its line does.
pub(crate) fn shown_parked(
    first: Snapshot,
    state: TorrentState,
    complete: bool,
    have: Option<&Bitfield>,
) -> Snapshot {
    if complete {
        let mut shown = Snapshot {
            state,
            verified_bytes: first.total_length,
            pieces: vec![PieceState::Verified; first.pieces.len()],
            ..first
        };
        for f in &mut shown.files {
            f.done = f.size;
        }
        return shown;
    }
    let mut shown = Snapshot { state, ..first };
    let Some(have) = have.filter(|h| h.len() as usize == shown.pieces.len()) else {
        return shown;
    };
    let plen = u64::from(shown.piece_length);
    for i in have.ones() {
        shown.pieces[i as usize] = PieceState::Verified;
        let start = u64::from(i) * plen;
        shown.verified_bytes += plen.min(shown.total_length.saturating_sub(start));
    }
    files_done(&mut shown);
    shown
}

/// Each file's bytes inside verified pieces, from the snapshot's own pieces.
fn files_done(shown: &mut Snapshot) {
    let plen = u64::from(shown.piece_length.max(1));
    let pieces = &shown.pieces;
    for f in &mut shown.files {
        let end = f.offset + f.size;
        f.done = if f.size == 0 {
            0
        } else {
            (f.offset / plen..=(end - 1) / plen)
                .filter(|p| pieces.get(*p as usize) == Some(&PieceState::Verified))
                .map(|p| (end.min((p + 1) * plen)).saturating_sub(f.offset.max(p * plen)))
                .sum()
        };
    }
}

/// When a torrent that fell asleep at `now` is woken to announce, or None when it has no
/// one to announce to. `trackers`: None without trackers, else when its first tracker is due
/// (Unix seconds, from its task's last line; None if unknown). A tracker's own schedule is
/// kept (its `interval` and `min interval`, spread by the tracker task): waking earlier would
/// announce more often than the tracker asked, later would let it forget us. A tracker that
/// never answered this run is owed its announce now. The DHT (and a tracker whose due time is
/// past) gets [`next_announce`] over `announce_every`; with both, the sooner. The tests' `TTUI_DORMANT_ANNOUNCE_SECS` overrides every schedule.
/// A torrent `restored` asleep at the session's start announces within
/// [`RESTORED_SPREAD`], placed by its info hash: its trackers were told `stopped` at the last
/// exit (or last heard from it who knows when), and a library must be listed again soon
/// after a restart, as Transmission and libtorrent announce every torrent they resume. The
/// wakes a tick (`Announces::wakes_per_tick`) pace a large library beyond that.
pub(crate) fn wake_for_announce(
    now: Instant,
    restored: bool,
    info_hash: &[u8; 20],
    s: &Settings,
    trackers: Option<Option<u64>>,
    dht: bool,
) -> Option<Instant> {
    if restored {
        return (trackers.is_some() || dht)
            .then(|| now + RESTORED_SPREAD.mul_f64(place(info_hash)));
    }
    let spread = next_announce(now, info_hash, s.announce_every);
    if s.announce_fixed {
        return (trackers.is_some() || dht).then_some(spread);
    }
    let unix = crate::engine::torrent::report::unix_now();
    let tracker = trackers.map(|due| match due {
        Some(t) if t > unix => now + Duration::from_secs(t - unix),
        Some(_) => spread,
        // Its trackers never answered this run (it slept as soon as its check found it
        // complete): its `started` is owed now.
        None => now,
    });
    match (tracker, dht) {
        (Some(t), true) => Some(t.min(spread)),
        (Some(t), false) => Some(t),
        (None, true) => Some(spread),
        (None, false) => None,
    }
}

/// When a torrent that fell asleep at `now` announces next: somewhere in the second half of
/// the interval, placed by its info hash, so torrents that slept together do not wake
/// together.
pub(crate) fn next_announce(now: Instant, info_hash: &[u8; 20], every: Duration) -> Instant {
    let half = every / 2;
    now + half + half.mul_f64(place(info_hash))
}

/// Where in a window a torrent's announce falls: 0 to 1, by its info hash.
fn place(info_hash: &[u8; 20]) -> f64 {
    f64::from(u16::from_be_bytes([info_hash[0], info_hash[1]])) / f64::from(u16::MAX)
}

/// The window the first announces after a restart are spread over.
pub(crate) const RESTORED_SPREAD: Duration = Duration::from_secs(60);

/// The dormant torrents' announces, soonest first. Entries are not removed when a torrent
/// wakes for another reason: `due` hands back ids, and the caller skips those no longer
/// dormant (or whose announce moved, told by `at`).
#[derive(Default)]
pub(crate) struct Announces {
    heap: BinaryHeap<Reverse<(Instant, TorrentId)>>,
}

impl Announces {
    pub(crate) fn push(&mut self, at: Instant, id: TorrentId) {
        self.heap.push(Reverse((at, id)));
    }

    /// How many may be woken a tick: one in 500 of the entries, at least the settings' floor
    /// (10 a 500 ms tick: 20 a second). 10,000 torrents on a 30-minute interval need 5.6
    /// wakes a second; with 40 a second allowed (Transmission's announcer allows 20 each
    /// half second), a restart announces them all in about four minutes without a burst a
    /// tracker would feel, and a late start catches up rather than letting the trackers
    /// forget the last ones.
    pub(crate) fn wakes_per_tick(&self, s: &Settings) -> usize {
        s.announce_wakes_per_tick.max(self.heap.len() / 500)
    }

    /// How many may be woken this tick while `announcing` tasks woken before still wait for
    /// their trackers: `wakes_per_tick`, within [`MAX_ANNOUNCING`] waiting at once.
    pub(crate) fn wakes_now(&self, s: &Settings, announcing: usize) -> usize {
        self.wakes_per_tick(s)
            .min(MAX_ANNOUNCING.saturating_sub(announcing))
    }

    /// Up to `max` announces due at `now`, in their order, as (when it was due, id).
    pub(crate) fn due(&mut self, now: Instant, max: usize, out: &mut Vec<(Instant, TorrentId)>) {
        out.clear();
        while out.len() < max {
            match self.heap.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => break,
            }
            if let Some(Reverse(e)) = self.heap.pop() {
                out.push(e);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests;
