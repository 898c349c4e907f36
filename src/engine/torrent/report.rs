//! What a torrent tells the session that runs it, so the session can save it: the metadata a
//! magnet link fetched, and resume points (which pieces are verified, lifetime counters,
//! the last peers). Headless runs have no one to tell and send nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;

/// How often a torrent whose verified pieces changed sends a resume point: after a crash,
/// at most this much verified work is done again.
pub(crate) const RESUME_EVERY: Duration = Duration::from_secs(10);
/// Peers a resume point keeps, the most recently connected first.
pub(crate) const RESUME_PEERS: usize = 200;

/// Counters that outlive a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Lifetime {
    pub downloaded: u64,
    pub uploaded: u64,
    pub seeding_secs: u64,
    pub active_secs: u64,
    /// When every piece was first verified (Unix seconds).
    pub completed: Option<u64>,
    /// When payload last moved either way (Unix seconds; 0: never), kept across restarts
    /// as qBittorrent and Transmission keep theirs: a seed restarted yesterday was not
    /// last active at the restart, and a sleeping seed's idle time counts from it.
    pub last_activity: u64,
}

/// A state to resume from.
#[derive(Debug, Clone)]
pub(crate) struct ResumePoint {
    pub have: Bitfield,
    pub lifetime: Lifetime,
    pub paused: bool,
    pub peers: Vec<SocketAddr>,
    /// The last point of a clean stop: every write to the files came before it.
    pub clean: bool,
    /// File priorities and sequential order.
    pub files: crate::engine::torrent::priorities::FilePlan,
    /// The torrent's own rate limits (0 = none).
    pub rates: crate::engine::api::RatePair,
    /// The files whose bytes `have` vouches for. The writer syncs them to the device before it
    /// saves this point, so saved resume data never claims a piece that a power cut would take
    /// back (the kernel had every byte of `have` before the point was made). None when no
    /// task wrote them: a point made from saved data, or kept by the session after its task.
    pub durable: Option<Arc<crate::engine::disk::Storage>>,
}

#[derive(Debug)]
pub(crate) enum Report {
    /// A magnet link's metadata arrived: the session keeps it as a .torrent, and the file
    /// plan its `--only-files` became at once (saved before any file is made).
    Metadata(Box<Metainfo>, crate::engine::torrent::priorities::FilePlan),
    Resume(Box<ResumePoint>),
    /// Its files are open and its data checked (or trusted): the coordinator runs now. The
    /// session lets the next torrent waiting for its check start.
    Opened,
    /// Every wanted piece has just been verified, in this run (not a torrent back complete
    /// as it was saved): the session runs `on_complete`. `downloaded` is its lifetime count.
    Completed {
        downloaded: u64,
    },
    /// A rename the session had taken as done failed on disk: the torrent runs on under
    /// these, its names before it.
    Unrenamed(std::sync::Arc<Metainfo>, Box<crate::engine::api::Renamed>),
    /// A rename the session had journaled is on disk and durable: the journal can go.
    Renamed,
    /// The torrent's task ended; its last resume point was sent before this.
    Ended(crate::engine::TorrentEnd),
}

/// Seconds since the Unix epoch: the api's one clock reading, named here for the engine's
/// many callers.
pub(crate) use crate::engine::api::unix_now;
