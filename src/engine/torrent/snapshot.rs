//! Building the `Snapshot` the UI draws: plain data copied out of the coordinator's state,
//! so the UI never touches a lock or an atomic the engine uses.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::api::*;
use crate::engine::torrent::peers::PeerEntry;
use crate::protocol::metainfo::Metainfo;

/// Log lines a snapshot carries (the newest).
pub(crate) const LOG_IN_SNAPSHOT: usize = 50;

/// The snapshot before anything happened: checking, nothing verified, trackers not contacted.
pub(crate) fn initial(
    id: TorrentId,
    meta: &Metainfo,
    output: &std::path::Path,
    listen_port: u16,
) -> Snapshot {
    let n = meta.info.num_pieces();
    Snapshot {
        id,
        info_hash: meta.info_hash,
        output: output.to_path_buf(),
        num_pieces: n,
        state: TorrentState::checking(0, n),
        pieces: vec![PieceState::Missing; n as usize],
        availability: vec![0; n as usize],
        trackers: tracker_rows(&meta.trackers),
        listen_port,
        files: file_rows(meta),
        ..Snapshot::empty(
            meta.info.name.clone(),
            meta.info.total_length,
            meta.info.piece_length,
        )
    }
}

fn tracker_rows(tiers: &[Vec<String>]) -> Vec<TrackerRow> {
    tiers
        .iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            urls.iter()
                .map(move |url| TrackerRow::not_contacted(url.clone(), tier))
        })
        .collect()
}

/// What the torrent is doing, in the order that wins: an error, then pause, then done.
pub(crate) fn torrent_state(
    previous: &TorrentState,
    fatal: Option<&str>,
    paused: bool,
    complete: bool,
    seed: bool,
) -> TorrentState {
    match previous {
        TorrentState::Error(e) => TorrentState::Error(e.clone()),
        _ if fatal.is_some() => TorrentState::Error(fatal.unwrap_or_default().to_string()),
        _ if paused => TorrentState::Paused,
        _ if complete && seed => TorrentState::Seeding,
        _ if complete => TorrentState::Complete,
        _ => TorrentState::Downloading,
    }
}

pub(crate) fn peer_row(p: &PeerEntry, now: Instant, num_pieces: u32) -> PeerRow {
    let active = p.has_conn();
    let utp = p.live().and_then(|l| l.utp.get()).and_then(|h| h.get());
    PeerRow {
        addr: p.addr,
        source: p.source,
        client: p.known.client.clone(),
        id_client: p.known.id_client.clone(),
        peer_id: p.known.peer_id,
        stage: p.stage(),
        end: p.end().cloned(),
        retry_after: p.retry_after().cloned(),
        since: now.duration_since(p.stage_since()),
        flags: p.flags(),
        down_rate: if active { p.down_rate() } else { 0.0 },
        up_rate: if active { p.up_rate() } else { 0.0 },
        downloaded: p.downloaded(),
        uploaded: p.uploaded(),
        progress: p.pieces() as f32 / num_pieces.max(1) as f32,
        requests_in_flight: p.in_flight(),
        // Each failure counts twice when the peer alone sent the piece; show whole failures.
        hash_failures: p.known.hash_failures.div_ceil(2),
        attempts: p.dial.attempts,
        handshake_time: p.known.handshake_time,
        encryption: p.setup.encryption,
        transport: p.setup.transport,
        utp_rtt: utp.as_ref().and_then(|u| u.rtt),
        utp_retransmits: utp.as_ref().map(|u| u.retransmits),
        in_play: p.in_play(),
        encryption_note: p.setup.encryption_note.clone(),
        upload_only: p.upload_only(),
        hole_punched_via: p.known.punched_via,
        webrtc_stage: None,
    }
}

/// The newest `LOG_IN_SNAPSHOT` lines, oldest first.
pub(crate) fn log_tail(log: &VecDeque<LogLine>) -> Vec<LogLine> {
    let skip = log.len().saturating_sub(LOG_IN_SNAPSHOT);
    log.iter().skip(skip).cloned().collect()
}

/// Byte counters and rates of the whole torrent at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub verified: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub wasted: u64,
    pub down_rate: f64,
    pub up_rate: f64,
    pub elapsed: Duration,
    pub listen_port: u16,
    pub since_upload: Duration,
    pub full_copy_seen_ago: Option<Duration>,
    pub own_limits: crate::engine::api::RatePair,
    pub limits_held: crate::engine::api::HeldPair,
    pub disk: crate::engine::api::DiskRow,
    pub uplink: crate::engine::api::UplinkRow,
}

/// A new snapshot from the previous one (name, sizes, trackers, ...) and what changed.
pub(crate) fn build(
    previous: &Snapshot,
    state: TorrentState,
    totals: Totals,
    pieces: Vec<PieceState>,
    availability: Vec<u16>,
    peers: Vec<PeerRow>,
    log: Vec<LogLine>,
) -> Snapshot {
    Snapshot {
        state,
        verified_bytes: totals.verified,
        downloaded: totals.downloaded,
        uploaded: totals.uploaded,
        wasted: totals.wasted,
        down_rate: totals.down_rate,
        up_rate: totals.up_rate,
        elapsed: totals.elapsed,
        pieces,
        availability,
        peers,
        log,
        listen_port: totals.listen_port,
        since_upload: totals.since_upload,
        full_copy_seen_ago: totals.full_copy_seen_ago,
        own_limits: totals.own_limits,
        limits_held: totals.limits_held,
        disk: totals.disk,
        uplink: totals.uplink,
        streams: Vec::new(),
        descriptors: None,
        id: previous.id,
        name: previous.name.clone(),
        info_hash: previous.info_hash,
        output: previous.output.clone(),
        total_length: previous.total_length,
        piece_length: previous.piece_length,
        num_pieces: previous.num_pieces,
        trackers: previous.trackers.clone(),
        dht: previous.dht.clone(),
        files: previous.files.clone(),
        blocked: previous.blocked,
        unroutable_peers: previous.unroutable_peers,
        introductions: previous.introductions,
        relay_bytes: previous.relay_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;

    #[test]
    fn state_order_error_pause_done() {
        let dl = TorrentState::Downloading;
        assert_eq!(
            torrent_state(&dl, Some("disk full"), true, true, true),
            TorrentState::Error("disk full".into())
        );
        assert_eq!(
            torrent_state(&TorrentState::Error("x".into()), None, true, false, false),
            TorrentState::Error("x".into())
        );
        assert_eq!(
            torrent_state(&dl, None, true, true, true),
            TorrentState::Paused
        );
        assert_eq!(
            torrent_state(&dl, None, false, true, true),
            TorrentState::Seeding
        );
        assert_eq!(
            torrent_state(&dl, None, false, true, false),
            TorrentState::Complete
        );
        assert_eq!(
            torrent_state(&dl, None, false, false, true),
            TorrentState::Downloading
        );
    }

    #[test]
    fn a_peer_row_sums_past_connections_and_halves_shared_failures() {
        let now = Instant::now();
        let addr: SocketAddr = "10.0.0.1:6881".parse().unwrap();
        let mut p = PeerEntry::new(addr, PeerSource::Tracker, now);
        p.add_past_down(1000);
        let (_rx, live) = p.begin(1, PeerStage::Connecting, now);
        live.downloaded.store(24, Ordering::Relaxed);
        live.pieces.store(5, Ordering::Relaxed);
        p.known.hash_failures = 3;
        p.known.id_client = Some("libtorrent 2.0.8".into());
        let row = peer_row(&p, now + Duration::from_secs(2), 10);
        assert_eq!(row.downloaded, 1024);
        assert_eq!(row.progress, 0.5);
        assert_eq!(row.hash_failures, 2);
        assert_eq!(row.since, Duration::from_secs(2));
        assert_eq!(row.id_client.as_deref(), Some("libtorrent 2.0.8"));
        p.sample_rates(now);
        p.sample_rates(now + Duration::from_secs(1));
        p.finish(&PeerEnd::ClosedByPeer, false, now);
        let row = peer_row(&p, now, 10);
        assert_eq!(row.downloaded, 1024, "the ended connection's bytes stay");
        assert_eq!(row.progress, 0.0);
        // Not connected: no rate shown, whatever the window still holds.
        assert_eq!(row.down_rate, 0.0);
        assert_eq!(row.stage, PeerStage::Failed);
    }

    #[test]
    fn build_keeps_what_does_not_change_and_the_log_tail() {
        let prev = Snapshot {
            id: TorrentId(7),
            trackers: tracker_rows(&[vec!["http://a".into(), "http://b".into()]]),
            ..Snapshot::empty("t", 100, 10)
        };
        let mut log = VecDeque::new();
        for i in 0..(LOG_IN_SNAPSHOT as u64 + 5) {
            log.push_back(LogLine {
                at: Duration::from_secs(i),
                level: LogLevel::Info,
                text: i.to_string(),
            });
        }
        let totals = Totals {
            verified: 30,
            downloaded: 40,
            listen_port: 6881,
            ..Totals::default()
        };
        let s = build(
            &prev,
            TorrentState::Downloading,
            totals,
            vec![PieceState::Verified; 10],
            vec![1; 10],
            Vec::new(),
            log_tail(&log),
        );
        assert_eq!(s.id, TorrentId(7));
        assert_eq!(s.trackers.len(), 2);
        assert_eq!(s.trackers[1].tier, 0);
        assert_eq!(
            (s.verified_bytes, s.downloaded, s.listen_port),
            (30, 40, 6881)
        );
        assert_eq!(s.log.len(), LOG_IN_SNAPSHOT);
        assert_eq!(s.log[0].text, "5");
        assert_eq!(s.num_pieces, 10);
    }
}

/// A torrent's full-snapshot channel, shared by its session slot and its task, made only when
/// someone subscribes: until then the task builds no snapshot and neither side holds one (a
/// watch channel with a full snapshot and its file rows is over a KiB, which every checked
/// torrent of a library held while its task lived). The session fills the cell, then asks the
/// task for a snapshot (`Command::Refresh`); the task looks at the cell each tick. Filled, it
/// stays so for the task's life: the session lets go of the whole cell when the torrent falls
/// asleep unwatched.
#[derive(Clone, Default)]
pub(crate) struct Snapshots(Arc<OnceLock<watch::Sender<Arc<Snapshot>>>>);

impl Snapshots {
    /// A cell filled from the start: a headless torrent's (its UI always watches) or a
    /// magnet's (its fetch shows progress from the first snapshot it holds).
    pub(crate) fn with(tx: watch::Sender<Arc<Snapshot>>) -> Snapshots {
        Snapshots(Arc::new(OnceLock::from(tx)))
    }

    /// The channel, if someone ever subscribed.
    pub(crate) fn get(&self) -> Option<&watch::Sender<Arc<Snapshot>>> {
        self.0.get()
    }

    /// The channel, made now with `first` if there is none. When two make it at once, the
    /// one that came first wins and the other's `first` is dropped.
    pub(crate) fn get_or_make(
        &self,
        first: impl FnOnce() -> Snapshot,
    ) -> &watch::Sender<Arc<Snapshot>> {
        self.0.get_or_init(|| watch::channel(Arc::new(first())).0)
    }

    /// Someone holds a receiver now: only then is a full snapshot worth building.
    pub(crate) fn watched(&self) -> bool {
        self.get().is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Publishes `build()` when there is a channel: a subscriber that comes later gets what
    /// the slot shows (`Slot::snapshots`), so nothing is built for nobody.
    pub(crate) fn send_if_made(&self, build: impl FnOnce() -> Snapshot) {
        if let Some(tx) = self.get() {
            let _ = tx.send(Arc::new(build()));
        }
    }

    /// Publishes `snap`, making the channel if there is none: for what a later subscriber
    /// must still see (a torrent's failure, with its log line).
    pub(crate) fn send_kept(&self, snap: Snapshot) {
        let snap = Arc::new(snap);
        let tx = self.0.get_or_init(|| watch::channel(Arc::clone(&snap)).0);
        tx.send_replace(snap);
    }
}

#[cfg(test)]
mod cell_tests {
    use super::*;

    fn snap(name: &str) -> Snapshot {
        Snapshot::empty(name, 0, 0)
    }

    #[test]
    fn an_unfilled_cell_builds_nothing() {
        let cell = Snapshots::default();
        let mut built = false;
        cell.send_if_made(|| {
            built = true;
            snap("x")
        });
        assert!(!built);
        assert!(cell.get().is_none());
        assert!(!cell.watched());
    }

    #[test]
    fn a_subscriber_after_the_task_started_gets_what_it_sends() {
        let task = Snapshots::default();
        let slot = task.clone();
        let mut rx = slot.get_or_make(|| snap("first")).subscribe();
        assert_eq!(rx.borrow_and_update().name, "first");
        assert!(task.watched());
        task.send_if_made(|| snap("built"));
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(rx.borrow().name, "built");
        // Made once: a second subscriber shares it.
        let rx2 = slot.get_or_make(|| snap("other")).subscribe();
        assert_eq!(rx2.borrow().name, "built");
    }

    #[test]
    fn a_failure_is_kept_for_a_later_subscriber() {
        let cell = Snapshots::default();
        cell.send_kept(snap("failed"));
        let rx = cell.get_or_make(|| snap("first")).subscribe();
        assert_eq!(rx.borrow().name, "failed");
        // And replaces what a filled cell held.
        cell.send_kept(snap("again"));
        assert_eq!(rx.borrow().name, "again");
    }

    #[test]
    fn nobody_watches_once_the_receivers_are_gone() {
        let cell = Snapshots::with(watch::channel(Arc::new(snap("h"))).0);
        assert!(!cell.watched());
        let rx = cell.get().map(|tx| tx.subscribe());
        assert!(cell.watched());
        drop(rx);
        assert!(!cell.watched());
    }
}
