//! The coordinator's parts: what the run was given, where it stands, the choker's schedule,
//! what it shows, the peer sources it drives and its link to the session. The schedules and
//! the log's bound live here, next to their state, so they are unit-tested.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::engine::api::{LogLevel, LogLine, Snapshot, TorrentId, TorrentLine};
use crate::engine::torrent::options::Options;
use crate::engine::torrent::report::{Lifetime, Report};
use crate::engine::torrent::stats::RateWindow;
use crate::engine::torrent::uplink::UplinkWatch;
use crate::protocol::metainfo::Metainfo;
use crate::tracker::{Progress, TrackerCommand};

pub(super) const RECHOKE_EVERY: Duration = Duration::from_secs(10);
pub(super) const OPTIMISTIC_EVERY: Duration = Duration::from_secs(30);
pub(super) const LOG_KEEP: usize = 200;

/// What the run was given, fixed once it starts.
pub(super) struct Given {
    pub(super) meta: Metainfo,
    pub(super) opts: Options,
    /// Dials that may be under way at once (the session's share for this torrent).
    pub(super) half_open: usize,
}

/// Where the run stands. `fatal` ends it at the next turn of the loop.
#[derive(Default)]
pub(super) struct RunState {
    pub(super) paused: bool,
    /// Every wanted piece is verified.
    pub(super) complete: bool,
    pub(super) fatal: Option<String>,
    /// Dials the session's blocklist refused (`blocked.rs`).
    pub(super) blocked: u64,
    /// Introductions made as the BEP 55 relay (`holepunch.rs`).
    pub(super) introductions: u64,
    /// Wire bytes of the BEP 55 messages handled as the relay, both ways (`holepunch.rs`).
    pub(super) relay_bytes: u64,
    /// The blocklist's generation last swept for connected peers it blocks.
    pub(super) filter_seen: u64,
    /// `--interface` was down at the last tick (`interface.rs`).
    pub(super) interface_down: bool,
    /// Verified pieces a read found gone or unreadable (`on_piece_gone`), with the read's
    /// error (which file, where): said on the torrent's line until each verifies again.
    pub(super) lost: std::collections::BTreeMap<u32, String>,
    /// Held for its storage (full, read-only, gone) until that passes (`storage_hold.rs`).
    pub(super) storage_hold: Option<super::storage_hold::StorageHold>,
    /// When a connection last found no place in the process's budget (`peer/descriptors.rs`).
    pub(super) out_of_places: Option<Instant>,
    /// Data found on disk at its add (`torrent/borrowed.rs`): its line says how much while
    /// it fetches the rest.
    pub(super) cross_seed: Option<String>,
}

/// When the choker last ran, and its optimistic pick.
pub(super) struct ChokeSchedule {
    pub(super) last_rechoke: Instant,
    pub(super) last_optimistic: Instant,
    pub(super) optimistic: Option<SocketAddr>,
    /// Whether the last round ran held (`Coordinator::uploads_held`): a change rechokes at
    /// the next tick.
    pub(super) held: bool,
}

/// What it shows: the log, the snapshot's slow-changing part (and buffers reused between
/// snapshots), the torrent's rates.
pub(super) struct Shown {
    pub(super) started: Instant,
    pub(super) log: VecDeque<LogLine>,
    pub(super) snap: Snapshot,
    pub(super) down: RateWindow,
    pub(super) up: RateWindow,
    /// The upload counter and when it last grew (the start before it ever did): the
    /// Snapshot's `since_upload`.
    pub(super) last_upload: (u64, Instant),
    /// When every piece was last on a connected peer or here: the Snapshot's
    /// `full_copy_seen_ago`.
    pub(super) full_copy_seen: Option<Instant>,
    /// The same for its line, in Unix seconds.
    pub(super) seen_complete: crate::engine::api::SeenComplete,
    /// The writers' rate, and one bit a tick (newest lowest) for "reading from peers held
    /// back for the writers": the Snapshot's `disk`.
    pub(super) written: RateWindow,
    pub(super) held_ticks: u32,
    pub(super) down_peak: f64,
    /// The full-uplink evidence, sampled once a second: the Snapshot's `uplink`.
    pub(super) uplink: UplinkWatch,
    pub(super) uplink_sampled: Instant,
    /// When the first tracker due announces next (Unix seconds), from its last status rows;
    /// moved only when the due time itself moves, not by the rows' rounding.
    pub(super) next_announce: Option<u64>,
    /// Its trackers' marks for its line, made again only when a status row's mark changes;
    /// None until they first report.
    pub(super) tracker_marks: Option<std::sync::Arc<[crate::engine::api::TrackerMark]>>,
    /// This run's payload bytes (down + up) last counted: when they grow, the lifetime's
    /// `last_activity` is now.
    pub(super) moved: u64,
}

/// The peer sources it drives (each `None` while that source is off).
pub(super) struct SourceLinks {
    pub(super) tracker_tx: Option<mpsc::Sender<TrackerCommand>>,
    /// What trackers are told of our progress.
    pub(super) progress_tx: watch::Sender<Progress>,
    /// Tells the DHT task whether the torrent wants more peers.
    pub(super) dht_wanting: Option<watch::Sender<bool>>,
}

/// How a torrent reports to the session that runs it.
pub(super) struct SessionLink {
    pub(super) id: TorrentId,
    pub(super) line: Option<watch::Sender<TorrentLine>>,
    pub(super) reports: Option<mpsc::UnboundedSender<(TorrentId, Report)>>,
    /// Counters of earlier runs; this run's are added to them.
    pub(super) lifetime: Lifetime,
    /// When the last resume point went out, how many pieces it had, and its lifetime bytes
    /// (down + up).
    pub(super) last_resume: Instant,
    pub(super) resume_have: u32,
    pub(super) resume_bytes: u64,
    /// The resume point must go out at the next tick (a state change).
    pub(super) resume_due: bool,
    /// When the seeding or active time was last counted.
    pub(super) counted_until: Instant,
}

impl ChokeSchedule {
    pub(super) fn new(now: Instant) -> Self {
        ChokeSchedule {
            last_rechoke: now,
            last_optimistic: now,
            optimistic: None,
            held: false,
        }
    }

    pub(super) fn rechoke_due(&self, now: Instant) -> bool {
        now.duration_since(self.last_rechoke) >= RECHOKE_EVERY
    }

    /// A new optimistic pick is due: the last one is old, or there is none.
    pub(super) fn optimistic_due(&self, now: Instant) -> bool {
        now.duration_since(self.last_optimistic) >= OPTIMISTIC_EVERY || self.optimistic.is_none()
    }
}

impl Shown {
    pub(super) fn new(started: Instant, snap: Snapshot) -> Self {
        Shown {
            started,
            log: VecDeque::new(),
            snap,
            down: RateWindow::new(Duration::from_secs(3)),
            up: RateWindow::new(Duration::from_secs(3)),
            last_upload: (0, started),
            full_copy_seen: None,
            seen_complete: crate::engine::api::SeenComplete::NEVER,
            written: RateWindow::new(Duration::from_secs(3)),
            held_ticks: 0,
            down_peak: 0.0,
            uplink: UplinkWatch::new(started),
            uplink_sampled: started,
            next_announce: None,
            tracker_marks: None,
            moved: 0,
        }
    }

    /// Adds a line, dropping the oldest beyond `LOG_KEEP`.
    pub(super) fn push_log(&mut self, level: LogLevel, text: String) {
        if self.log.len() >= LOG_KEEP {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            at: self.started.elapsed(),
            level,
            text,
        });
    }
}

impl SessionLink {
    pub(super) fn new(now: Instant) -> Self {
        SessionLink {
            id: TorrentId::default(),
            line: None,
            reports: None,
            lifetime: Lifetime::default(),
            last_resume: now,
            resume_have: 0,
            resume_bytes: 0,
            resume_due: false,
            counted_until: now,
        }
    }
}

#[cfg(test)]
mod tests;
