//! What a session hands a torrent it starts. In a file of its own so the magnet fetch, which
//! runs before the torrent proper, can take it without importing the torrent (no cycle).

use tokio::sync::{mpsc, watch};

use crate::engine::api::{TorrentId, TorrentLine};
use crate::engine::session::SessionCtx;
use crate::engine::torrent::report::{Lifetime, Report};
pub(crate) use crate::engine::torrent::snapshot::Snapshots;
use crate::protocol::bitfield::Bitfield;

/// What a torrent started by a session gets besides its metainfo and options.
pub(crate) struct Start {
    pub id: TorrentId,
    pub ctx: SessionCtx,
    /// Pieces the session's store vouches for (their files unchanged since they were saved):
    /// they are not hashed again. None: check everything on disk.
    pub trusted: Option<Bitfield>,
    /// `trusted` is what this torrent's own last run in this session verified (a dormant
    /// torrent woken, a paused one resumed), not what the store saved.
    pub trusted_from_run: bool,
    /// Pieces hashed again on top of `trusted` (their files changed since the last save).
    pub to_check: Vec<u32>,
    /// Lifetime counters from earlier runs.
    pub lifetime: Lifetime,
    pub paused: bool,
    /// File priorities and piece order (empty priorities: every file wanted).
    pub files: crate::engine::torrent::priorities::FilePlan,
    /// The torrent's rate limiters (its own limits from its resume data, under the session's).
    pub rates: crate::engine::peer::rate::TorrentRates,
    /// Where its full snapshot goes, once someone subscribes.
    pub snapshots: Snapshots,
    /// The torrent's light line, every tick.
    pub line: watch::Sender<TorrentLine>,
    /// Where resume points go (None: nothing is saved, as in headless runs).
    pub reports: Option<mpsc::UnboundedSender<(TorrentId, Report)>>,
}
