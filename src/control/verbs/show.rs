//! `ttui show`: a torrent's row and its detail (files with their verified bytes, trackers,
//! peers, the explainer's findings) from its full snapshot. `ttui files` answers the same.

use std::time::Duration;

use crate::control::proto::{ErrorKind, Response};
use crate::control::rows::{ExplainRow, FileRow, PeerInfo, TorrentDetail, TrackerRow};
use crate::engine::api::{
    Client, Moved, PeerRow, SessionSnapshot, Snapshot, TorrentId, TrackerStatus,
};

use super::reply::{error, failed, one_torrent};
use crate::control::listing::row;

/// How long `show` waits for a torrent's first full snapshot (built on its next tick).
const DETAIL_WAIT: Duration = Duration::from_millis(1500);

/// `show ID`: the one torrent `id` names.
pub(super) async fn apply(id: &str, current: &SessionSnapshot, client: &Client) -> Response {
    match one_torrent(id, current) {
        Ok(id) => show(id, current, client).await,
        Err(e) => e,
    }
}

/// The line, the files with their verified bytes, the trackers and the peers.
pub(super) async fn show(id: TorrentId, current: &SessionSnapshot, client: &Client) -> Response {
    let Some(line) = current.line(id) else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    // Read, not subscribed: a subscription would wake a sleeping seed (and keep it awake).
    let snap = match client.read_snapshots(vec![id], DETAIL_WAIT).await {
        Ok(read) => match read.into_iter().next() {
            Some((_, snap)) => snap,
            None => return error(ErrorKind::UnknownId, format!("no torrent {}", id.0)),
        },
        Err(e) => return failed(&e),
    };
    Response::Show(Box::new(TorrentDetail {
        row: row(line),
        files: file_rows(&snap),
        trackers: tracker_rows(&snap, client.reported(id).await.unwrap_or_default()),
        peers: snap.peers.iter().map(peer_info).collect(),
        explain: explain_rows(&snap, current),
        blocklist: current.blocklist.clone(),
        proxy: current.proxy.clone(),
        port_mapping: current.port_mapping.clone(),
        interface: current.interface.clone(),
        uplink: Some((&snap.uplink).into()),
        families: current.families.words().map(|_| current.families),
        streams: client.streams(id).await.unwrap_or_default(),
        introductions: snap.introductions,
        relay_bytes: snap.relay_bytes,
        read_cache: Some(current.read_cache),
    }))
}

/// Each file (padding left out, numbered as priorities are set) with its verified bytes, as
/// the torrent publishes them.
fn file_rows(snap: &Snapshot) -> Vec<FileRow> {
    snap.files
        .iter()
        .enumerate()
        .map(|(i, f)| FileRow {
            index: i as u32,
            path: f.path.clone(),
            size: f.size,
            verified_bytes: f.done,
            priority: f.priority.word().into(),
        })
        .collect()
}

/// The explainer's findings, with what the session knows (its DHT, limits, the queue).
fn explain_rows(snap: &Snapshot, session: &SessionSnapshot) -> Vec<ExplainRow> {
    let ctx = crate::engine::api::ExplainContext::from_session(session, snap.id);
    crate::engine::api::explain(snap, &ctx)
        .into_iter()
        .map(|f| ExplainRow {
            check: f.check.name().to_string(),
            verdict: f.verdict.name().to_string(),
            evidence: f.evidence,
            advice: f.advice,
        })
        .collect()
}

/// Each tracker with what it heard last and, from the accounting, in all (by host, so two
/// URLs of one host show the same totals: the tracker counts them as one account).
fn tracker_rows(snap: &Snapshot, reported: Vec<(String, Moved)>) -> Vec<TrackerRow> {
    snap.trackers
        .iter()
        .map(|t| {
            let host = crate::engine::api::tracker_key(&t.url);
            TrackerRow {
                reported: reported.iter().find(|(h, _)| *h == host).map(|r| r.1),
                ..tracker_row(t)
            }
        })
        .collect()
}

fn tracker_row(t: &crate::engine::api::TrackerRow) -> TrackerRow {
    let (peers, last_error) = match &t.status {
        TrackerStatus::Ok { peers } => (Some(*peers as u64), None),
        TrackerStatus::Failed(e) => (None, Some(e.clone())),
        _ => (None, None),
    };
    TrackerRow {
        url: t.url.clone(),
        tier: t.tier as u32,
        status: t.status.word().to_string(),
        last_error,
        peers,
        seeders: t.seeders,
        leechers: t.leechers,
        last_announce: t.last_counts.map(|(uploaded, downloaded)| Moved {
            uploaded,
            downloaded,
        }),
        reported: None,
    }
}

fn peer_info(p: &PeerRow) -> PeerInfo {
    PeerInfo {
        address: p.addr.to_string(),
        client: p.client.clone(),
        state: p.stage.label().to_string(),
        reason: p.end.as_ref().or(p.failure()).map(|e| e.to_string()),
        down_rate: p.down_rate as u64,
        up_rate: p.up_rate as u64,
        upload_only: p.upload_only,
        reached: p.how_reached(),
        transport: p.transport.map(|t| t.to_string()),
        webrtc_stage: p.webrtc_stage.map(|s| s.word().to_string()),
    }
}
