//! `ttui list`: every torrent's row, in the words scripts match on.

use crate::control::proto::Response;
use crate::control::rows::TorrentRow;
use crate::engine::api::{SessionSnapshot, TorrentLine, TorrentState};
use crate::protocol::hex;

pub(super) fn apply(current: &SessionSnapshot) -> Response {
    Response::List(current.torrents.iter().map(|t| row(t)).collect())
}

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
        info_hash_v2: t.info_hash_v2.as_ref().map(|h| hex::encode(h)),
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
        super_seeding: t.super_seeding,
        sequential: t.sequential,
        first_last: t.first_last,
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
