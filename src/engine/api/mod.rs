//! The only engine types the UI (and headless printer) import: plain data, no behaviour
//! that touches the network or disk. The engine publishes `Arc<Snapshot>` through a
//! `tokio::sync::watch` channel and takes `Command`s through an mpsc channel.

mod blocklist;
mod client;
mod read_cache;
pub(crate) use client::lists_all;
pub use client::{AddOptions, Answer, Client, GoalChange, IntoAnswer};
mod errors;
mod screen_api;
pub use screen_api::ScreenApi;
pub mod explain;
pub mod facts;
mod files;
mod goals;
mod interface;
pub use interface::InterfaceStatus;
mod labels;
pub use goals::{
    flag_text, human, parse_duration, parse_goal_duration, parse_ratio, GoalAction, Goals, Move,
    Set,
};
pub use labels::{
    category_path, check_label, check_labels, defaults_for, Catalog, CatalogEdit, CatalogError,
    Category, LabelDefaults, LabelEdit, LabelError, LabelTable, MAX_LABELS, MAX_LABEL_LEN,
};
mod limits;
mod rates;
mod tracker_rules;
pub use rates::{
    limit_binds, parse_rate, rate_flag, show_rate, HeldPair, RateOptions, RatePair, Schedule,
};
pub use tracker_rules::{
    goals_over, rules_for, tracker_key, TrackerGoals, TrackerRule, TrackerRules,
};
mod options;
mod peers;
mod port_mapping;
pub use limits::{LimitChange, LimitTarget, LimitsNow, TorrentLimits, Turtle};
pub use options::{
    OnComplete, QueueSettings, TransportPolicy, DEFAULT_MAX_DOWNLOADS, DEFAULT_MAX_SEEDS,
    DEFAULT_ON_COMPLETE_TIMEOUT, DEFAULT_SLOW_RATE, DEFAULT_STALLED_AFTER,
};
mod proxy;
mod queue_state;
pub use peers::{ChokeFlags, PeerEnd, PeerRow, PeerSource, PeerStage};
pub use port_mapping::{
    igd_is_loopback, parse_igd_url, MappedPort, PortMapSettings, PortMappingStatus, DEFAULT_LEASE,
    TEST_ROUTE_TABLE_ENV,
};
pub use queue_state::QueueState;
mod line_index;
mod rename;
mod select;
pub use line_index::LineIndex;
mod session;
mod session_snapshot;
pub use session_snapshot::{SessionSnapshot, WebRtcStatus};
mod status;
pub use select::{Found, Lookup, Name, MIN_PREFIX};
pub use status::{Hold, Phase, Status};
mod cross_seed;
mod journal;
mod settings;
mod stats;
mod stream;
mod trackers;
pub use blocklist::BlocklistStatus;
pub use errors::{RequestError, ValueError};
pub use explain::{
    explain, Check, ExplainContext, Finding, Limits, Verdict, TEST_REACHABILITY_ENV,
};
pub use files::{
    check_indices, file_rows, parse_file_list, subfolder_of, AddFiles, FilePriority, FileRow,
};
pub use journal::{JournalEntry, PeerJournalEntry};
pub use proxy::{mask_url, ProxyScheme, ProxySpec, ProxyStatus, ProxyUrlError};
pub use read_cache::ReadCacheStats;
pub use rename::{check_name, plan as plan_rename, RenameError, Renamed, Renaming};
pub use session::*;
mod torrent_line;
pub use cross_seed::{CrossSeedMatch, CrossSeedRow};
pub use settings::{OwnBox, OwnSettings, Settings, SettingsChange, TorrentSettings};
pub use stats::{DayMoved, Moved, Stats, StatsBy, StatsRow, STATS_DAYS};
pub use stream::{FileStream, StreamError, StreamPort, StreamRead, StreamRow};
pub use trackers::{
    tracker_host, tracker_hostname, tracker_url_ok, TrackerEdit, TrackerEditError, TrackerMark,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A peer is identified by its address everywhere (engine, UI, commands).
pub type PeerAddr = SocketAddr;

/// Names one torrent of a session. Every snapshot carries its torrent's id; a command goes to
/// a torrent through that torrent's handle (`Engine::commands`, named by `Engine::id`), so
/// `Command` itself needs no id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct TorrentId(pub u32);

impl std::fmt::Display for TorrentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The paused state a command asks for, decided against the engine's own state (a UI's
/// snapshot may be a tick old); `None` for commands that do not touch it.
pub(crate) fn pause_wanted(c: &Command, paused: bool) -> Option<bool> {
    match c {
        Command::Pause => Some(true),
        Command::Resume => Some(false),
        Command::TogglePause => Some(!paused),
        _ => None,
    }
}

/// What the UI asks of one torrent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    Pause,
    Resume,
    /// Pause when running, resume when paused, decided by the engine against its own state:
    /// a snapshot may be a tick old, so a UI that chose Pause or Resume itself could undo its
    /// own previous key press.
    TogglePause,
    /// Disconnect; the peer may come back only after a cool-down.
    DropPeer(PeerAddr),
    /// Disconnect and never connect to (or accept) this address again this session.
    BanPeer(PeerAddr),
    /// Graceful stop: tracker `stopped`, files flushed, tasks ended.
    Quit,
    /// The session puts the torrent to sleep (dormant, see `engine/session/dormancy.rs`): a
    /// stop like `Quit`, but the trackers are not told `stopped`, since the session still
    /// announces the torrent and wakes it when a peer comes.
    Sleep,
    /// Publish a full snapshot now: someone has just subscribed (an idle torrent ticks
    /// slowly and builds no snapshot while nobody looks).
    Refresh,
    /// Sets the priority of these files (indices in the torrent's file order, padding files
    /// not counted, as `Snapshot.files` lists them); `Skip` stops fetching them, anything
    /// else on a skipped file fetches it again.
    SetFilePriority {
        files: Vec<usize>,
        priority: FilePriority,
    },
    /// Fetch pieces in order (first and last piece of each wanted file first), for previews.
    SetSequential(bool),
    /// Fetch the first and last piece of each wanted file before the others (qBittorrent's
    /// "first and last piece priority"): a player reads a file's header and index there.
    /// In-order mode does this anyway.
    SetFirstLast(bool),
    /// BEP 16 super-seeding while the torrent seeds. The session keeps the flag and starts
    /// the torrent with it; this tells a running task.
    SetSuperSeeding(bool),
    /// Announce to the trackers now (as soon as each one's minimum interval allows). A
    /// stopped torrent announces when it starts anyway: it keeps the request until then.
    Reannounce,
    /// Peers to dial, as the user named them (qBittorrent's `torrents/addPeers`, as
    /// `--peer` does at start).
    AddPeers(Vec<std::net::SocketAddr>),
    /// The torrent's trackers are now these tiers (the session edited them): the tracker
    /// task starts again on them.
    SetTrackers(Vec<Vec<String>>),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TorrentState {
    /// Checking existing data on start: pieces checked so far / total, and how fast: bytes
    /// hashed a second over the last seconds (0 until known) and the seconds left at that
    /// rate (none until known). The checker reckons both, as it alone knows the pieces' sizes.
    Checking {
        checked: u32,
        total: u32,
        #[serde(default)]
        rate: u64,
        #[serde(default)]
        eta: Option<u64>,
    },
    Downloading,
    Paused,
    /// Every piece verified; not uploading (headless without --seed stops here).
    Complete,
    /// Every piece verified and we keep serving peers.
    Seeding,
    Error(String),
}

/// A torrent about to start checks its data first (a line's state before its task reports).
impl Default for TorrentState {
    fn default() -> TorrentState {
        TorrentState::checking(0, 0)
    }
}

impl TorrentState {
    /// Checking, `checked` of `total` pieces so far, its rate not known yet.
    pub fn checking(checked: u32, total: u32) -> TorrentState {
        TorrentState::Checking {
            checked,
            total,
            rate: 0,
            eta: None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            TorrentState::Checking { .. } => "checking",
            TorrentState::Downloading => "downloading",
            TorrentState::Paused => "paused",
            TorrentState::Complete => "complete",
            TorrentState::Seeding => "seeding",
            TorrentState::Error(_) => "error",
        }
    }
}

/// What the UI shows for one piece.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum PieceState {
    #[default]
    Missing,
    /// At least one block requested or received, piece not yet verified.
    InFlight,
    Verified,
    /// Failed its hash check at least once and is not verified yet (being fetched again).
    Failed,
}

// One definition each, where trackers report them; the log levels serve every log line.
pub use crate::tracker::{LogLevel, TrackerRow, TrackerStatus};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// Time since the torrent started.
    pub at: Duration,
    pub level: LogLevel,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub id: TorrentId,
    pub name: String,
    pub info_hash: [u8; 20],
    pub output: PathBuf,
    pub total_length: u64,
    pub piece_length: u32,
    pub num_pieces: u32,
    pub state: TorrentState,
    /// Bytes of verified pieces.
    pub verified_bytes: u64,
    /// Payload bytes received / sent this session (including discarded and duplicate data).
    pub downloaded: u64,
    pub uploaded: u64,
    /// Bytes thrown away because their piece failed its hash check.
    pub wasted: u64,
    pub down_rate: f64,
    pub up_rate: f64,
    /// Time since the engine started.
    pub elapsed: Duration,
    pub pieces: Vec<PieceState>,
    /// How many connected peers have each piece.
    pub availability: Vec<u16>,
    pub peers: Vec<PeerRow>,
    pub trackers: Vec<TrackerRow>,
    /// The last lines of the event log, oldest first.
    pub log: Vec<LogLine>,
    /// Port we listen on for incoming peers (0 when not listening).
    pub listen_port: u16,
    /// The DHT as this torrent uses it; None when the DHT is off or the torrent is private.
    pub dht: Option<DhtRow>,
    /// Every file but BEP 47 padding, in the torrent's order; empty for a magnet without
    /// its metadata.
    pub files: Vec<FileRow>,
    /// Dials to its peers the session's blocklist refused.
    #[serde(default)]
    pub blocked: u64,
    /// Peers listed at addresses this machine has no route to (IPv6 peers on a host without
    /// IPv6), never tried: counted by address, at most a few thousand.
    #[serde(default)]
    pub unroutable_peers: usize,
    /// BEP 55 introductions we made as the relay (a `connect` sent to both sides) since the
    /// task started: what a public ttui did for NATed peers of this torrent.
    #[serde(default)]
    pub introductions: u64,
    /// Wire bytes of the BEP 55 messages this torrent took and sent as the relay (the
    /// `rendezvous` in, a `connect` to each side or an error out).
    #[serde(default)]
    pub relay_bytes: u64,
    /// Time since a payload byte last went to a peer (since the task started, before the
    /// first): how long a seed has been idle, which the rate's short window cannot say.
    #[serde(default)]
    pub since_upload: Duration,
    /// Time since every piece was last on a connected peer or here (libtorrent's
    /// distributed copies at 1 or more); None when it never was since the task started.
    /// The availability check says it beside the pieces nobody has.
    #[serde(default)]
    pub full_copy_seen_ago: Option<Duration>,
    /// The torrent's own rate limits in bytes a second (0 = none), beside the session's: the
    /// explainer tells which of the two holds it back.
    #[serde(default)]
    pub own_limits: RatePair,
    /// Whether its limiters made a connection wait lately (see `limit_binds`).
    #[serde(default)]
    pub limits_held: HeldPair,
    /// The piece writers against the peers, for the explainer's disk check.
    #[serde(default)]
    pub disk: DiskRow,
    /// The session's upload, this torrent's round trips and download: the explainer's
    /// full-uplink check.
    #[serde(default)]
    pub uplink: UplinkRow,
    /// The torrent's open file streams (readers of the stream server, `ttui play`): the
    /// Files tab marks each one's file with where it reads and the window fetched for it.
    #[serde(default)]
    pub streams: Vec<StreamRow>,
    /// The process's budget of peer connections, when this torrent found it full in the last
    /// minute (`peer/descriptors.rs`): the explainer's `descriptors` line.
    #[serde(default)]
    pub descriptors: Option<DescriptorRow>,
}

/// The process's descriptor limit and the peer connections it leaves room for.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DescriptorRow {
    /// RLIMIT_NOFILE in force.
    pub nofile: u64,
    /// Peer connections the limit leaves room for, every torrent's together, and those open.
    pub peers: usize,
    pub in_use: usize,
}

/// The evidence of a full uplink (`torrent/uplink.rs` gathers it once a second).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UplinkRow {
    /// The whole session's upload, bytes a second over 10 s, and the most it sustained over
    /// 10 s in the last 30 minutes: the link's measured ceiling. Counted in bytes its TCP
    /// peers acknowledged: what crossed the link.
    pub up: f64,
    pub up_ceiling: f64,
    /// Medians over this torrent's TCP connections of the kernel's smoothed round trip, of
    /// each one's lowest, and of each one's rise above its lowest; None without a sample.
    pub rtt: Option<Duration>,
    pub rtt_floor: Option<Duration>,
    pub rtt_rise: Option<Duration>,
    /// This torrent's download, bytes a second over 10 s, and its best in the last 30 min.
    pub down: f64,
    pub down_best: f64,
}

/// The disk's side of a torrent: the writers of a download, and the reads for its peers.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiskRow {
    /// Bytes queued for running piece writers.
    pub backlog: u64,
    /// Share of the last 5 s (0.0..=1.0) that reading from peers was held back because the
    /// writers had too much to catch up on.
    pub held: f32,
    /// Bytes a second the writers hashed and wrote (3 s window).
    pub write_rate: f64,
    /// The fastest the peers delivered, bytes a second over 3 s, since the task started.
    pub down_peak: f64,
    /// This torrent's peers wait, or waited in the last 30 s, for reads from its disk.
    #[serde(default)]
    pub reads_here: bool,
    /// Reads for peers waiting for the torrent's disk now, every torrent's on that disk
    /// together (`disk/read_waits.rs`): the disk's queue.
    #[serde(default)]
    pub reads_waiting: u32,
    /// While reads wait: how long since one ended; None while none waits.
    #[serde(default)]
    pub read_waited: Option<Duration>,
    /// The disk's recent reads' average wait, queue included (the last 30 s); None when none
    /// ended lately.
    #[serde(default)]
    pub read_average: Option<Duration>,
}

/// The header's DHT line: the session's node and this torrent's lookups.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DhtRow {
    /// Nodes in the routing tables (IPv4 and IPv6 together).
    pub nodes: usize,
    /// A lookup for this torrent is running.
    pub searching: bool,
    /// Lookups for this torrent that have ended.
    pub lookups: u32,
    /// Peers the last ended lookup found, and when it ended (engine time, like `elapsed`).
    pub last_peers: usize,
    pub last_at: Option<Duration>,
}

impl Snapshot {
    /// The pieces a file spans (the first and last, inclusive; a file of no bytes spans
    /// the piece its offset falls in).
    pub fn file_pieces(&self, file: &FileRow) -> (u64, u64) {
        let piece = u64::from(self.piece_length.max(1));
        let first = file.offset / piece;
        (first, (file.offset + file.size.max(1) - 1) / piece)
    }

    /// The share of a file's pieces that at least one connected peer has, 0 to 1 (what
    /// qBittorrent's file `availability` is); None when the torrent has every piece, so
    /// peers have nothing to offer it (libtorrent gives no availability then, qBittorrent
    /// says -1).
    pub fn file_availability(&self, file: &FileRow) -> Option<f64> {
        if self.pieces.iter().all(|p| *p == PieceState::Verified) {
            return None;
        }
        let (first, last) = self.file_pieces(file);
        let counts = self.availability.get(first as usize..=last as usize)?;
        let held = counts.iter().filter(|c| **c > 0).count();
        Some(held as f64 / counts.len().max(1) as f64)
    }

    /// A torrent with nothing done yet: every piece missing, no peers, trackers or log,
    /// state `Downloading`, id 0. Tests change what they need with struct update syntax.
    pub fn empty(name: impl Into<String>, total_length: u64, piece_length: u32) -> Snapshot {
        let num_pieces = if piece_length == 0 {
            0
        } else {
            u32::try_from(total_length.div_ceil(piece_length as u64)).unwrap_or(u32::MAX)
        };
        Snapshot {
            id: TorrentId::default(),
            name: name.into(),
            info_hash: [0; 20],
            output: PathBuf::new(),
            total_length,
            piece_length,
            num_pieces,
            state: TorrentState::Downloading,
            verified_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            down_rate: 0.0,
            up_rate: 0.0,
            elapsed: Duration::ZERO,
            pieces: vec![PieceState::Missing; num_pieces as usize],
            availability: vec![0; num_pieces as usize],
            peers: Vec::new(),
            trackers: Vec::new(),
            log: Vec::new(),
            listen_port: 0,
            dht: None,
            files: Vec::new(),
            blocked: 0,
            unroutable_peers: 0,
            introductions: 0,
            relay_bytes: 0,
            since_upload: Duration::ZERO,
            full_copy_seen_ago: None,
            own_limits: RatePair::default(),
            limits_held: HeldPair::default(),
            disk: DiskRow::default(),
            uplink: UplinkRow::default(),
            streams: Vec::new(),
            descriptors: None,
        }
    }

    pub fn verified_pieces(&self) -> usize {
        self.pieces
            .iter()
            .filter(|p| **p == PieceState::Verified)
            .count()
    }
    pub fn progress(&self) -> f64 {
        if self.total_length == 0 {
            1.0
        } else {
            self.verified_bytes as f64 / self.total_length as f64
        }
    }
    pub fn connected_peers(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.stage == PeerStage::Connected)
            .count()
    }
    /// Seconds left at the current rate, if it is moving: of its check while it checks, else
    /// of its download.
    pub fn eta(&self) -> Option<Duration> {
        if let TorrentState::Checking { eta, .. } = self.state {
            return eta.map(Duration::from_secs);
        }
        let left = self.total_length.saturating_sub(self.verified_bytes);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        if self.down_rate < 1.0 {
            return None;
        }
        Some(Duration::from_secs_f64(left as f64 / self.down_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file's availability is the share of its pieces some peer has (qBittorrent's), and
    /// none once the torrent has every piece.
    #[test]
    fn a_files_availability_is_the_share_of_its_pieces_peers_have() {
        let mut s = Snapshot::empty("x", 40, 10);
        s.availability = vec![0, 2, 5, 0];
        let file = |offset, size| FileRow {
            path: "x/f".into(),
            size,
            offset,
            done: 0,
            priority: FilePriority::Normal,
        };
        assert_eq!(s.file_pieces(&file(5, 20)), (0, 2));
        assert_eq!(s.file_availability(&file(5, 20)), Some(2.0 / 3.0));
        assert_eq!(s.file_availability(&file(10, 20)), Some(1.0));
        assert_eq!(s.file_availability(&file(30, 10)), Some(0.0));
        s.pieces = vec![PieceState::Verified; 4];
        assert_eq!(s.file_availability(&file(5, 20)), None);
    }

    #[test]
    fn empty_snapshot_has_one_missing_piece_per_piece() {
        let s = Snapshot::empty("x", 5 * 16384 + 1, 16384);
        assert_eq!(s.num_pieces, 6);
        assert_eq!(s.pieces, vec![PieceState::Missing; 6]);
        assert_eq!(s.availability.len(), 6);
        assert_eq!(s.state, TorrentState::Downloading);
        assert_eq!(s.progress(), 0.0);
        assert_eq!(Snapshot::empty("y", 0, 16384).num_pieces, 0);
        assert_eq!(Snapshot::empty("z", 10, 0).num_pieces, 0);
    }

    #[test]
    fn the_id_client_is_shown_only_when_it_differs() {
        let addr: PeerAddr = "127.0.0.1:1".parse().unwrap();
        let mut row = PeerRow::new(addr, PeerSource::Tracker, PeerStage::Connected);
        assert_eq!(row.other_id_client(), None);
        row.id_client = Some("libtorrent 2.0.8".into());
        assert_eq!(row.other_id_client(), Some("libtorrent 2.0.8"));
        row.client = Some("lt_client 2.0.8.0".into());
        assert_eq!(row.other_id_client(), Some("libtorrent 2.0.8"));
        row.client = Some("libtorrent 2.0.8".into());
        assert_eq!(row.other_id_client(), None);
    }

    /// `in_play` keeps its first wire name: protocol version 1 peers read each other's rows.
    #[test]
    fn a_peer_rows_in_play_travels_as_alive() {
        let addr: PeerAddr = "127.0.0.1:1".parse().unwrap();
        let row = PeerRow {
            in_play: true,
            ..PeerRow::new(addr, PeerSource::Tracker, PeerStage::Queued)
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["alive"], serde_json::Value::Bool(true));
        assert!(json.get("in_play").is_none());
        assert_eq!(serde_json::from_value::<PeerRow>(json).unwrap(), row);
    }
}
