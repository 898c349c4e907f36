//! One torrent's life: a session to live in, the check of what is already on disk (pause and
//! quit work meanwhile), then the coordinator (`coordinator.rs`) until the download ends or
//! the user quits.
//!
//! This file starts a torrent (alone, or in a session); `torrent/open.rs` is its life once
//! started (the files opened, what is there checked, then the coordinator), and
//! `torrent/check.rs` the check itself, which still takes commands.

pub(crate) mod choker;
pub(crate) mod coordinator;
pub(crate) mod download;
pub(crate) mod holepunch;
pub(crate) mod journal;
mod link;
pub(crate) mod magnet;
pub(crate) mod metadata;
pub(crate) mod metadata_wait;
pub(crate) mod options;
pub(crate) mod peer_entry;
pub(crate) mod peers;
pub(crate) mod pex;
pub(crate) mod picker;
pub(crate) mod priorities;
pub(crate) mod report;
pub(crate) mod rtc_setup;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub(crate) mod stats;
pub(crate) mod stream;
pub(crate) mod superseed;
pub(crate) mod uplink;
pub(crate) mod verify;
pub(crate) mod webseed;

mod borrowed;
mod check;
mod open;
pub(crate) use open::torrent_span;
pub(crate) mod start;

pub(crate) use start::{Snapshots, Start};

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, watch};

use crate::engine::api::*;
use crate::engine::disk::{OpenFiles, Storage};
use crate::engine::torrent::coordinator::{Coordinator, TICK};
use crate::engine::torrent::download::Download;
use crate::engine::torrent::picker::Picker;
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::shared::Shared;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::{Info, Metainfo};
/// Bytes of pieces in flight (received, or waiting for their hash check) that set how many
/// pieces may be in flight at once. Their blocks are written and hashed as they arrive
/// (`download.rs`), so this is no longer memory held; the writers' backlog is bounded there and
/// across the session (`backlog.rs`).
const PIECE_MEMORY: usize = 16 << 20;
/// Verified pieces a slow connection may fall behind on before it catches up from the picker.
const VERIFIED_BACKLOG: usize = 1024;
/// Lost pieces buffered for connections that fall behind (a connection that lags compares what
/// it announced with what we have, so nothing is missed).
const LOST_BACKLOG: usize = 64;

pub(crate) use crate::engine::torrent::options::{Options, TorrentEnd};
pub(crate) use crate::engine::torrent::report::{Lifetime, Report};
pub(crate) use open::run;

/// The handle of one running torrent.
pub struct Engine {
    /// Names the torrent; its snapshots carry the same id.
    pub id: TorrentId,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// What its session says of itself (proxy, interface, port mapping, limits, blocklist),
    /// once a second, without torrent lines: the explainer's context, as in a session.
    pub session: watch::Receiver<Arc<crate::engine::api::SessionSnapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub done: tokio::task::JoinHandle<TorrentEnd>,
}

/// A magnet link's torrent in a session: the metadata fetch, then the torrent itself. `only`
/// (`--only-files`), else the link's BEP 53 `so`, becomes its file plan the moment the
/// metadata arrives, before any file is opened or piece requested. With `known`, a v2-only .torrent that lacks piece layers, the
/// magnet is of its hash and only those layers are fetched.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_magnet(
    mut start: Start,
    (magnet, known): (
        Magnet,
        Option<Arc<crate::protocol::metainfo::layers::NeedsLayers>>,
    ),
    extra_peers: Vec<SocketAddr>,
    mut opts: Options,
    echo: bool,
    mut listen_log: Vec<(LogLevel, String)>,
    mut cmd_rx: mpsc::UnboundedReceiver<Command>,
    only: Option<Vec<usize>>,
) -> TorrentEnd {
    let name = magnet
        .display_name
        .clone()
        .unwrap_or_else(|| "(magnet: metadata not fetched yet)".to_string());
    let span = open::torrent_span(start.id, &name);
    let fetch = magnet::fetch_in_session(
        &mut start,
        (&magnet, known.as_deref()),
        &extra_peers,
        echo,
        &mut cmd_rx,
    );
    let fetched = tracing::Instrument::instrument(fetch, span).await;
    match fetched {
        Ok(magnet::Fetched {
            meta,
            dialed_us,
            bad,
        }) => {
            // `--only-files` wins over the link's own BEP 53 `so`.
            let sequential = start.files.sequential;
            let plan = match (only, &magnet.select_only) {
                (Some(only), _) => Some(FilePlan::only_once_known(&meta.info, &only, sequential)),
                (None, Some(so)) => Some(FilePlan::select_only(&meta.info, so, sequential)),
                (None, None) => None,
            };
            if let Some(mut plan) = plan {
                plan.first_last = start.files.first_last;
                start.files = plan;
                if let Some(note) = &start.files.note {
                    if echo {
                        eprintln!("magnet: {note}");
                    }
                    listen_log.push((LogLevel::Warn, note.clone()));
                }
            }
            if let Some(r) = &start.reports {
                let report = Report::Metadata(Box::new(meta.clone()), start.files.clone());
                let _ = r.send((start.id, report));
            }
            opts.peers.extend(
                magnet
                    .peers
                    .iter()
                    .chain(&dialed_us)
                    .filter(|p| !bad.contains(p))
                    .copied(),
            );
            opts.banned = bad;
            run(start, listen_log, meta, opts, cmd_rx).await
        }
        Err(outcome) => outcome,
    }
}

/// With `--no-trackers` the torrent's trackers are never asked: the snapshot lists none, so
/// the UI says "no tracker" instead of "not contacted yet" forever.
pub(crate) fn drop_unused_trackers(snap: &mut Snapshot, opts: &Options) {
    if !opts.use_trackers {
        snap.trackers.clear();
    }
}

pub(crate) use crate::engine::api::pause_wanted;

pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggle_pause_is_decided_against_the_engine_state() {
        assert_eq!(pause_wanted(&Command::TogglePause, false), Some(true));
        assert_eq!(pause_wanted(&Command::TogglePause, true), Some(false));
        // Two quick presses end where they started, whatever the UI last saw.
        let mut paused = false;
        for _ in 0..2 {
            paused = pause_wanted(&Command::TogglePause, paused).unwrap();
        }
        assert!(!paused);
        assert_eq!(pause_wanted(&Command::Pause, true), Some(true));
        assert_eq!(pause_wanted(&Command::Resume, true), Some(false));
        assert_eq!(pause_wanted(&Command::Quit, true), None);
    }

    #[test]
    fn no_trackers_means_no_tracker_rows() {
        let mut snap = Snapshot {
            trackers: vec![TrackerRow::not_contacted("http://127.0.0.1:1/a".into(), 0)],
            ..Snapshot::empty("x", 1, 1)
        };
        drop_unused_trackers(&mut snap, &Options::default());
        assert_eq!(snap.trackers.len(), 1);
        let off = Options {
            use_trackers: false,
            ..Options::default()
        };
        drop_unused_trackers(&mut snap, &off);
        assert!(snap.trackers.is_empty());
    }
}
