//! What `list` and `show` answer: a torrent's row, and its detail (files with their verified
//! bytes, trackers, peers, the explainer's findings) from its full snapshot.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::control::proto::{ErrorKind, Response};
use crate::control::rows::{ExplainRow, FileRow, PeerInfo, TorrentDetail, TorrentRow, TrackerRow};
use crate::engine::api::*;
use crate::protocol::hex;

use super::serve_send::{error, gone, Requests};

/// How long `show` waits for a torrent's first full snapshot (built on its next tick).
const DETAIL_WAIT: Duration = Duration::from_millis(1500);

/// Waiting for a queue slot, as the session's queue says.
fn queued(t: &TorrentLine) -> bool {
    !matches!(t.state, TorrentState::Error(_)) && t.queue.is_some_and(|q| q.waits_for_slot())
}

/// The one-word state scripts match on.
pub(crate) fn state_word(s: &TorrentState) -> &'static str {
    match s {
        TorrentState::Checking { .. } => "checking",
        TorrentState::Downloading => "downloading",
        TorrentState::Paused => "paused",
        TorrentState::Complete | TorrentState::Seeding => "seeding",
        TorrentState::Error(_) => "error",
    }
}

pub(crate) fn row(t: &TorrentLine) -> TorrentRow {
    let why = match &t.state {
        TorrentState::Checking { checked, total } if *total > 0 => Some(format!(
            "checking {}%",
            u64::from(*checked) * 100 / u64::from(*total)
        )),
        _ => t.why.clone(),
    };
    TorrentRow {
        id: t.id.0,
        info_hash: hex::encode(&t.info_hash),
        info_hash_v2: t
            .info_hash_v2
            .as_ref()
            .map(|h| crate::protocol::hex::encode(h)),
        name: t.name.clone(),
        state: if queued(t) {
            "queued".into()
        } else {
            state_word(&t.state).into()
        },
        queue_position: t.queue_position,
        why,
        progress: t.progress(),
        wanted_bytes: t.wanted_bytes,
        total_bytes: t.total_bytes,
        verified_bytes: t.verified_bytes,
        downloaded: t.downloaded,
        uploaded: t.uploaded,
        ratio: t.ratio(),
        down_rate: t.down_rate as u64,
        up_rate: t.up_rate as u64,
        peers: t.peers,
        seeds: t.seeds,
        eta_secs: t.eta().map(|d| d.as_secs()),
        save_path: t.save_path.display().to_string(),
        added: t.added,
        completed: t.completed,
        peers_interested: t.peers_interested,
        next_announce: t.next_announce,
        labels: t.labels.clone(),
        final_dir: t.final_dir.as_ref().map(|d| d.display().to_string()),
        blocked: t.blocked,
    }
}

/// `show`: the line, the files with their verified bytes, the trackers and the peers.
pub(super) async fn show(
    id: TorrentId,
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let Some(line) = current.torrents.iter().find(|t| t.id == id) else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    let (reply, rx) = oneshot::channel();
    if requests
        .send(SessionRequest::Subscribe { id, reply })
        .is_err()
    {
        return gone();
    }
    let Ok(Some(mut snaps)) = rx.await else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    // A torrent nobody watched has not built its full snapshot: wait for the next one.
    snaps.mark_unchanged();
    let _ = tokio::time::timeout(DETAIL_WAIT, snaps.changed()).await;
    let snap = snaps.borrow().clone();
    let (reply, rx) = oneshot::channel();
    let files = match requests.send(SessionRequest::Files { id, reply }) {
        Ok(()) => rx.await.ok().flatten().unwrap_or_default(),
        Err(_) => return gone(),
    };
    Response::Show(Box::new(TorrentDetail {
        row: row(line),
        files: file_rows(&files, &snap),
        trackers: snap.trackers.iter().map(tracker_row).collect(),
        peers: snap.peers.iter().map(peer_info).collect(),
        explain: explain_rows(&snap, current),
        blocklist: current.blocklist.clone(),
        proxy: current.proxy.clone(),
        port_mapping: current.port_mapping.clone(),
        interface: current.interface.clone(),
        uplink: Some((&snap.uplink).into()),
    }))
}

/// Verified bytes per file, from the piece states.
fn file_rows(files: &[FileLine], snap: &Snapshot) -> Vec<FileRow> {
    let plen = u64::from(snap.piece_length.max(1));
    files
        .iter()
        .filter(|f| !f.padding)
        .enumerate()
        .map(|(i, f)| {
            let (start, end) = (f.offset, f.offset + f.size);
            let mut verified = 0;
            if f.size > 0 {
                for p in start / plen..=(end - 1) / plen {
                    if snap.pieces.get(p as usize) == Some(&PieceState::Verified) {
                        let (ps, pe) = (p * plen, (p + 1) * plen);
                        verified += end.min(pe) - start.max(ps);
                    }
                }
            }
            // Numbered as priorities are set: padding files left out.
            let priority = snap
                .files
                .get(i)
                .map_or(FilePriority::Normal, |r| r.priority);
            FileRow {
                index: i as u32,
                path: f.path.clone(),
                size: f.size,
                verified_bytes: verified,
                priority: priority.word().into(),
            }
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

fn tracker_row(t: &crate::engine::api::TrackerRow) -> TrackerRow {
    let (status, last_error) = match &t.status {
        TrackerStatus::NotContacted => ("not contacted".to_string(), None),
        TrackerStatus::Announcing => ("announcing".to_string(), None),
        TrackerStatus::Ok { peers } => (format!("ok: {peers} peers"), None),
        TrackerStatus::Failed(e) => ("failed".to_string(), Some(e.clone())),
    };
    TrackerRow {
        url: t.url.clone(),
        tier: t.tier as u32,
        status,
        last_error,
    }
}

fn peer_info(p: &PeerRow) -> PeerInfo {
    PeerInfo {
        address: p.addr.to_string(),
        client: p.client.clone(),
        state: p.stage.label().to_string(),
        reason: p.end.as_ref().map(|e| e.to_string()),
        down_rate: p.down_rate as u64,
        up_rate: p.up_rate as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentId;

    #[test]
    fn a_v2_torrent_shows_both_hashes() {
        let mut line = TorrentLine::placeholder(TorrentId(3));
        line.info_hash = [0xab; 20];
        assert_eq!(row(&line).info_hash_v2, None);
        line.info_hash_v2 = Some([0xcd; 32]);
        let r = row(&line);
        assert_eq!(r.info_hash, "ab".repeat(20));
        assert_eq!(r.info_hash_v2, Some("cd".repeat(32)));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["info_hash_v2"], "cd".repeat(32));
    }
}
