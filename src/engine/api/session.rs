//! The session's face: one light line per torrent plus the session's globals, published every
//! tick; requests that name a torrent by its `TorrentId`. A torrent's full `Snapshot` (peers,
//! pieces, log) is built only while someone subscribes to it (`SessionRequest::Subscribe`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::{Command, RequestError, Snapshot, TorrentId, TorrentState};

/// One torrent as the session list and `ttui list` show it. Cheap: no per-piece or per-peer
/// vectors, so a session of thousands of torrents publishes them every tick.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TorrentLine {
    pub id: TorrentId,
    pub info_hash: [u8; 20],
    /// The SHA-256 info hash of a v2 or hybrid torrent (BEP 52); None for v1, and for a
    /// magnet that named none until its metadata says.
    #[serde(default)]
    pub info_hash_v2: Option<[u8; 32]>,
    pub name: String,
    pub state: TorrentState,
    /// Why the torrent is held back or what it is waiting for, in words (None when it simply
    /// runs). Computed by the code that decides, never guessed by a UI. It never repeats the
    /// state word a face puts before it (`paused`, or `queued` for `queue`'s
    /// `QueueState::state_word`): every face shows "{state}: {why}" and reads nothing back.
    pub why: Option<String>,
    pub total_bytes: u64,
    /// Bytes of the files the user wants (all of them until file priorities exist).
    pub wanted_bytes: u64,
    pub verified_bytes: u64,
    /// Lifetime payload counters, kept across restarts by the session's store.
    pub downloaded: u64,
    pub uploaded: u64,
    pub down_rate: f64,
    pub up_rate: f64,
    /// Connected peers, and how many of them have every piece.
    pub peers: u32,
    pub seeds: u32,
    /// Connected peers interested in our data: a seed with none is idle, and a seed limit
    /// does not count it (`engine::session::queue`).
    #[serde(default)]
    pub peers_interested: u32,
    /// When the torrent next announces (Unix seconds): to its first tracker due, or, while
    /// it sleeps, when the session wakes it to announce. None: nothing to announce to, or
    /// an announce under way.
    #[serde(default)]
    pub next_announce: Option<u64>,
    pub save_path: PathBuf,
    /// Unix seconds.
    pub added: u64,
    pub completed: Option<u64>,
    /// Place in the session's queue, 0 first (`ttui queue ID top|up|down|bottom`).
    #[serde(default)]
    pub queue_position: u32,
    /// Its labels, in the order given (`api::labels`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Downloading in the incomplete directory (`save_path`): the directory its data moves
    /// to once complete. None once there, or without an incomplete directory.
    #[serde(default)]
    pub final_dir: Option<PathBuf>,
    /// Dials to its peers the session's blocklist refused.
    #[serde(default)]
    pub blocked: u64,
    /// What the session's queue says of it, as data (its words are in `why`); None while
    /// nothing in the queue holds it back.
    #[serde(default)]
    pub queue: Option<crate::engine::api::QueueState>,
    /// BEP 16 super-seeding is asked for (`why` says whether it waits until complete).
    #[serde(default)]
    pub super_seeding: bool,
    /// Pieces are fetched in order (`Command::SetSequential`), not rarest first.
    #[serde(default)]
    pub sequential: bool,
    /// A seeding goal (ratio, seeding time, idle time) paused it, and nothing else holds it:
    /// Transmission's `isFinished`. `why` gives the goal in words.
    #[serde(default)]
    pub goal_reached: bool,
    /// The first and last piece of each wanted file come first (`Command::SetFirstLast`).
    #[serde(default)]
    pub first_last: bool,
    /// Its own goals, rate limits and force start (`SessionRequest::Settings` tells the
    /// same with the time it has seeded).
    #[serde(default)]
    pub own: crate::engine::api::OwnBox,
    /// The time it has seeded, as a clock a face reads at its own `now`.
    #[serde(default)]
    pub seeding: SeedClock,
    /// The publication (`SessionSnapshot::rev`) at which this line last changed. A face that
    /// folded publication R into a state of its own (qBittorrent's sync) skips each line with
    /// `rev <= R` without comparing it, so its cost follows what changed, not the library.
    #[serde(default)]
    pub rev: u64,
    /// What each of its trackers last answered, in tier order (None: no trackers, or none
    /// reported yet this run). Shared: a status update that changes nothing keeps the `Arc`.
    #[serde(default)]
    pub trackers: Option<Arc<[crate::engine::api::TrackerMark]>>,
    /// Its data is being moved (to `final_dir`): out of the incomplete directory once
    /// complete, or where a user moved it (`Phase::Moving`).
    #[serde(default)]
    pub moving: bool,
    /// Distributed copies among its connected peers (libtorrent's `distributed_copies`:
    /// the rarest piece's count, plus the share of pieces more common than that), to
    /// hundredths; None while it does not download.
    #[serde(default)]
    pub availability: Option<f32>,
    /// When payload last moved either way (Unix seconds; 0: never), across restarts.
    #[serde(default)]
    pub last_activity: u64,
    /// A private torrent (BEP 27: `private` in its info): peers from its trackers only.
    #[serde(default)]
    pub private: bool,
    /// When a full copy was last among its connected peers and itself (qBittorrent's
    /// `seen_complete`, libtorrent's `last_seen_complete`).
    #[serde(default)]
    pub seen_complete: SeenComplete,
}

/// When a full copy of a torrent was last seen, as a clock a face reads at its own `now`:
/// while one is there the line says so once, not a new second every tick (which would make
/// every seed's line change every tick, as [`SeedClock`] explains). One word on the line,
/// which every torrent publishes: 0 never (this run), `u64::MAX` now, else Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenComplete(u64);

impl SeenComplete {
    pub const NEVER: SeenComplete = SeenComplete(0);
    /// There is one now: it has every piece, or its peers and it hold each piece.
    pub const NOW: SeenComplete = SeenComplete(u64::MAX);

    /// Last seen at `unix` seconds.
    pub fn at_time(unix: u64) -> SeenComplete {
        SeenComplete(unix.min(u64::MAX - 1))
    }

    /// Unix seconds as of `now`; None for never.
    pub fn at(self, now: u64) -> Option<u64> {
        match self.0 {
            0 => None,
            u64::MAX => Some(now),
            at => Some(at),
        }
    }

    /// After a tick that found a full copy (`whole`) or not, at `now` (Unix seconds).
    pub fn next(self, whole: bool, now: u64) -> SeenComplete {
        match (self, whole) {
            (_, true) => SeenComplete::NOW,
            (SeenComplete::NOW, false) => SeenComplete::at_time(now),
            (other, false) => other,
        }
    }
}

/// A torrent's lifetime seeding time, kept on its line so that a face (qBittorrent's
/// `seeding_time`, Transmission's `secondsSeeding`) reads it without asking the session. A
/// running clock holds the moment it would have read zero, so the line does not change while
/// it runs: only starting or stopping to seed does (a count that rose every tick would make
/// every seeding line differ every tick, and every incremental sync carry the whole library).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeedClock {
    /// Not seeding now: the seconds seeded so far.
    Stopped { secs: u64 },
    /// Seeding: Unix seconds at which the count would have read zero.
    Running { zero_at: u64 },
}

/// Seconds since the Unix epoch (0 if the clock is before it): the `now` the faces read the
/// lines' clocks ([`SeedClock`], `added`, `completed`) at.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for SeedClock {
    fn default() -> SeedClock {
        SeedClock::Stopped { secs: 0 }
    }
}

impl SeedClock {
    /// Seconds seeded as of `now` (Unix seconds).
    pub fn secs_at(self, now: u64) -> u64 {
        match self {
            SeedClock::Stopped { secs } => secs,
            SeedClock::Running { zero_at } => now.saturating_sub(zero_at),
        }
    }

    /// The clock after a pass that found the torrent `seeding` or not with `seeded` counted
    /// so far (on the monotonic clock): a running clock keeps its zero while it agrees with
    /// the count (they drift apart by the tick's rounding, which must not move it), and takes
    /// a new one when the wall clock was stepped (NTP, by hours either way), so the seeding
    /// time shown never jumps with it; a stopped one shows the count.
    pub fn next(self, seeding: bool, seeded: Duration, now: u64) -> SeedClock {
        const SLACK: u64 = 5;
        match (self, seeding) {
            (SeedClock::Running { zero_at }, true)
                if now.saturating_sub(zero_at).abs_diff(seeded.as_secs()) <= SLACK =>
            {
                self
            }
            (_, true) => SeedClock::Running {
                zero_at: now.saturating_sub(seeded.as_secs()),
            },
            (_, false) => SeedClock::Stopped {
                secs: seeded.as_secs(),
            },
        }
    }
}

/// The address families a session reaches peers over: IPv4 when it listens on it, IPv6 when
/// the machine has an IPv6 route (or it is bound to an IPv6 address). Under a proxy, both:
/// the proxy dials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    /// "IPv4 and IPv6", "IPv4 only", "IPv6 only"; None when not known.
    pub fn words(self) -> Option<&'static str> {
        match (self.ipv4, self.ipv6) {
            (true, true) => Some("IPv4 and IPv6"),
            (true, false) => Some("IPv4 only"),
            (false, true) => Some("IPv6 only"),
            (false, false) => None,
        }
    }
}

/// Where a torrent comes from when it is added.
#[derive(Debug, Clone, PartialEq)]
pub enum AddSource {
    /// The bytes of a .torrent file, and how to name it in messages.
    Torrent {
        name: String,
        bytes: Vec<u8>,
    },
    Magnet(String),
}

/// The session's answer to an add.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    New {
        id: TorrentId,
        name: String,
        info_hash: [u8; 20],
    },
    /// The session has it already; nothing changed.
    Already {
        id: TorrentId,
        name: String,
        info_hash: [u8; 20],
    },
}

/// A torrent's piece hashes as its metainfo gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceHashes {
    /// One SHA-1 per piece (BEP 3's `pieces`; a hybrid's too).
    pub v1: Vec<[u8; 20]>,
    /// A v2-only torrent (BEP 52): its pieces are checked by SHA-256 trees and `v1` is
    /// empty.
    pub v2_only: bool,
}

/// One file of a torrent, as `ttui show` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLine {
    /// Relative to the save path, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Where the file starts in the torrent's payload.
    pub offset: u64,
    /// BEP 47 padding: never on disk, not listed to people.
    pub padding: bool,
}

/// One torrent's full snapshot as `SessionRequest::Peek` answers it.
#[derive(Debug)]
pub enum Peeked {
    /// What it shows now, and all there is to wait for: no task runs that would send a
    /// fresher one (paused, queued, dormant, ended).
    Now(Arc<Snapshot>),
    /// Its running task sends a fresh snapshot on this channel at its next tick (asked for at
    /// once); the receiver holds the one before until then.
    Coming(watch::Receiver<Arc<Snapshot>>),
}

/// What a UI or the control socket asks of the session. Replies go through the oneshot
/// each request carries; a dropped reply channel is fine (nobody waits).
#[derive(Debug)]
pub enum SessionRequest {
    /// How each of these .torrent files matches the data the session seeds (`ttui
    /// cross-seed`): (its file's name, its bytes).
    CrossSeedReport {
        torrents: Vec<(String, Vec<u8>)>,
        reply: oneshot::Sender<Result<Vec<crate::engine::api::CrossSeedRow>, RequestError>>,
    },
    /// The session's accounting by tracker, label or torrent (`ttui stats`).
    Stats {
        by: crate::engine::api::StatsBy,
        reply: oneshot::Sender<Result<crate::engine::api::Stats, RequestError>>,
    },
    /// Read the blocklist again now; the answer is the status after it.
    BlocklistUpdate {
        reply: oneshot::Sender<Result<crate::engine::api::BlocklistStatus, RequestError>>,
    },
    Add {
        source: AddSource,
        /// None: the session's default save path.
        save_path: Option<PathBuf>,
        paused: bool,
        /// Files to skip and piece order, set before anything is written.
        files: crate::engine::api::AddFiles,
        /// Checked by the session; a label with defaults (`Options::labels`) brings its save
        /// path (when `save_path` is None) and seeding goals.
        labels: Vec<String>,
        reply: oneshot::Sender<Result<Added, RequestError>>,
    },
    /// A command for one torrent (pause, resume, drop or ban a peer...).
    Torrent { id: TorrentId, command: Command },
    /// Check every piece again.
    Verify { id: TorrentId },
    Remove {
        id: TorrentId,
        delete_data: bool,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    Move {
        id: TorrentId,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// The torrent's data is (or will be put) in `dir`, not where it was: its files are looked
    /// for there, every piece checked again, nothing moved (Transmission's
    /// `torrent-set-location` without `move`).
    Locate {
        id: TorrentId,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// Renames the file or folder at `path` (`/`-separated, the torrent's name first) to
    /// `name`, on disk too when it is there (Transmission's `torrent-rename-path`); the
    /// top-level one renames the torrent. Its pieces stay verified.
    RenamePath {
        id: TorrentId,
        path: String,
        name: String,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// The torrent's full snapshot for as long as the receiver lives; None for an unknown id.
    Subscribe {
        id: TorrentId,
        reply: oneshot::Sender<Option<watch::Receiver<Arc<Snapshot>>>>,
    },
    /// The full snapshots of `ids` (unknown ids left out) for a reader that must not change
    /// what runs: unlike `Subscribe` it wakes no dormant torrent, and a torrent without a
    /// running task answers what it shows now instead of a channel nothing would send on.
    Peek {
        ids: Vec<TorrentId>,
        reply: oneshot::Sender<Vec<(TorrentId, Peeked)>>,
    },
    /// The torrent's files; None for an unknown id or a magnet without its metadata yet.
    Files {
        id: TorrentId,
        reply: oneshot::Sender<Option<Vec<FileLine>>>,
    },
    /// Opens a stream on file `file` (padding not counted) of the torrent: the reader starts
    /// at 0 and the file's first and last pieces are fetched first. A sleeping torrent wakes.
    OpenStream {
        id: TorrentId,
        file: usize,
        reply: oneshot::Sender<Result<super::FileStream, RequestError>>,
    },
    /// What the torrent has told each tracker host over all its runs (none for an unknown
    /// id), from the session's accounting.
    Reported {
        id: TorrentId,
        reply: oneshot::Sender<Vec<(String, super::Moved)>>,
    },
    /// The torrent's open streams (none for an unknown id).
    Streams {
        id: TorrentId,
        reply: oneshot::Sender<Vec<super::StreamRow>>,
    },
    /// Force start (`on`: run whatever the queue says) or back under the queue.
    Force {
        id: TorrentId,
        on: bool,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// BEP 16 super-seeding on or off, kept with the torrent.
    SuperSeed {
        id: TorrentId,
        on: bool,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// Move the torrent in the queue.
    Queue {
        id: TorrentId,
        to: crate::engine::api::Move,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// The torrent's own seeding goals (None: leave that one as it is).
    Goals {
        id: TorrentId,
        ratio: Option<crate::engine::api::Set<f64>>,
        seed_time: Option<crate::engine::api::Set<Duration>>,
        idle: Option<crate::engine::api::Set<Duration>>,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// Changes a torrent's labels; replies with them as they are now. A torrent already
    /// added keeps its directory and goals: labels' defaults apply at add only.
    Labels {
        id: TorrentId,
        edit: super::LabelEdit,
        reply: oneshot::Sender<Result<Vec<String>, RequestError>>,
    },
    /// The categories and tags, after `edit` (None: as they are).
    Catalog {
        edit: Option<super::CatalogEdit>,
        reply: oneshot::Sender<Result<super::Catalog, RequestError>>,
    },
    /// Stop every torrent (tracker `stopped`, resume data saved) and end the session.
    Shutdown,
    /// Rate limits (`ttui limit`): change some, reply with them as they are now.
    Limit {
        target: super::LimitTarget,
        change: super::LimitChange,
        reply: oneshot::Sender<Result<super::LimitsNow, RequestError>>,
    },
    /// The session's settings and those of these torrents, in the session's order (unknown
    /// ids left out).
    Settings {
        ids: Vec<TorrentId>,
        reply: oneshot::Sender<super::Settings>,
    },
    /// The session's log ring: the entries after `last_known_id` (-1: all it keeps).
    Journal {
        last_known_id: i64,
        reply: oneshot::Sender<Vec<super::JournalEntry>>,
    },
    /// The peers the session refused (banned, blocked) after `last_known_id`.
    PeerJournal {
        last_known_id: i64,
        reply: oneshot::Sender<Vec<super::PeerJournalEntry>>,
    },
    /// Edits the torrent's trackers; replies with its tiers as they are now.
    Trackers {
        id: TorrentId,
        edit: super::TrackerEdit,
        reply: oneshot::Sender<Result<Vec<Vec<String>>, RequestError>>,
    },
    /// The torrent's piece hashes; None for an unknown id or a magnet without metadata.
    PieceHashes {
        id: TorrentId,
        reply: oneshot::Sender<Option<PieceHashes>>,
    },
    /// The torrent as a .torrent file (its info, trackers as edited, web seeds, piece
    /// layers); None for an unknown id or a magnet without metadata.
    TorrentFile {
        id: TorrentId,
        reply: oneshot::Sender<Option<Vec<u8>>>,
    },
    /// Changes some of the session's settings for the rest of its life.
    SetSettings {
        change: super::SettingsChange,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_clock_moves_only_when_seeding_starts_or_stops() {
        let clock = SeedClock::Stopped { secs: 100 };
        assert_eq!(clock.secs_at(5_000), 100);
        // Starts seeding at 1,000 with 100 s counted: it reads 100 then, 160 a minute on.
        let running = clock.next(true, Duration::from_secs(100), 1_000);
        assert_eq!(running, SeedClock::Running { zero_at: 900 });
        assert_eq!(running.secs_at(1_060), 160);
        // Later passes whose count drifted from the wall clock leave it alone.
        assert_eq!(running.next(true, Duration::from_secs(158), 1_060), running);
        // Stops: the count as counted.
        let stopped = running.next(false, Duration::from_secs(158), 1_061);
        assert_eq!(stopped, SeedClock::Stopped { secs: 158 });
        assert_eq!(
            stopped.next(false, Duration::from_secs(158), 9_999),
            stopped
        );
    }

    /// NTP steps the wall clock by hours: the seeding time shown follows the count, not the
    /// step, forward or back.
    #[test]
    fn a_wall_clock_step_moves_the_zero_not_the_seeding_time() {
        let now = 1_800_000_000;
        let running = SeedClock::Stopped { secs: 0 }.next(true, Duration::from_secs(100), now);
        assert_eq!(running.secs_at(now), 100);
        // A tick's rounding keeps the zero.
        assert_eq!(
            running.next(true, Duration::from_secs(102), now + 1),
            running
        );
        for step in [5 * 3600, -5 * 3600_i64] {
            let later = now.saturating_add_signed(step) + 10;
            let next = running.next(true, Duration::from_secs(110), later);
            assert_eq!(next.secs_at(later), 110, "step {step}");
        }
    }
}
