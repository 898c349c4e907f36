//! Torrents' rows as `ttui list` and the other verbs print them: [`row`] makes one from the
//! engine's line, [`Listing`] writes a whole session's worth row by row. Apart from the verbs
//! and from `proto`, which carries a [`Listing`] in a `Response`, so neither names the other.

use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::control::rows::TorrentRow;
use crate::engine::api::{facts, SessionSnapshot, TorrentLine};
use crate::protocol::hex;

/// Every torrent's row, made as it is written: one row's strings live at a time. A list of
/// 100,000 made whole first was 600,000 small strings at once (three lists at rest left the
/// session 0.5–1.5 MiB larger; now 0.1 MiB). Serializes as a list of [`TorrentRow`].
#[derive(Clone)]
pub struct Listing(Arc<SessionSnapshot>);

impl Listing {
    /// Every torrent of `snapshot`, in its order.
    pub fn of(snapshot: Arc<SessionSnapshot>) -> Listing {
        Listing(snapshot)
    }
}

impl Listing {
    /// The rows, made whole (for a caller in the session that reads them).
    pub fn rows(&self) -> Vec<TorrentRow> {
        self.0.torrents.iter().map(|t| row(t)).collect()
    }
}

impl Serialize for Listing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.torrents.iter().map(|t| row(t)))
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listing({} rows)", self.0.torrents.len())
    }
}

/// Two listings are equal when they list the same rows.
impl PartialEq for Listing {
    fn eq(&self, other: &Listing) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.rows() == other.rows()
    }
}

pub(crate) fn row(t: &TorrentLine) -> TorrentRow {
    // The status's one word and what follows it (`api::Status`): a check's progress, then
    // what holds it.
    let status = t.status();
    let now = crate::engine::api::unix_now();
    TorrentRow {
        id: t.id.0,
        info_hash: hex::encode(&t.info_hash),
        info_hash_v2: t.info_hash_v2.as_ref().map(|h| hex::encode(h)),
        name: t.name.clone(),
        state: status.word().into(),
        queue_position: t.queue_position,
        why: status.why(),
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
        seeding_secs: t.seeding.secs_at(now),
        facts: facts::values(t, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{TorrentId, TorrentState};

    /// The seeding time a goal counts, as of the list: a stopped clock as it stands, a
    /// running one up to now.
    #[test]
    fn a_row_gives_the_seeding_time() {
        use crate::engine::api::SeedClock;
        let mut line = TorrentLine::placeholder(TorrentId(4));
        line.seeding = SeedClock::Stopped { secs: 90 };
        assert_eq!(row(&line).seeding_secs, 90);
        line.seeding = SeedClock::Running {
            zero_at: crate::engine::api::unix_now() - 3_600,
        };
        let secs = row(&line).seeding_secs;
        assert!((3_600..3_660).contains(&secs), "{secs}");
        let json = serde_json::to_value(row(&line)).unwrap();
        assert!(
            json["seeding_secs"].as_u64().is_some_and(|s| s >= 3_600),
            "{json}"
        );
    }

    /// A row's `why` follows its `state` and never repeats it: a queued download's is the
    /// queue's rank, a check's how far it has come and then what holds it.
    #[test]
    fn why_follows_the_state_word() {
        use crate::engine::api::QueueState;
        let mut line = TorrentLine::placeholder(TorrentId(5));
        let queued = QueueState::Waiting {
            seed: false,
            rank: 2,
            slots: 1,
        };
        (line.state, line.queue, line.why) =
            (TorrentState::Paused, Some(queued), Some(queued.why()));
        let r = row(&line);
        assert_eq!(
            (r.state.as_str(), r.why.as_deref()),
            ("queued", Some("2nd for 1 download slot"))
        );
        let waits = QueueState::CheckWaiting {
            rank: 3,
            at_once: 3,
        };
        line.state = TorrentState::checking(0, 8);
        (line.queue, line.why) = (Some(waits), Some(waits.why()));
        let r = row(&line);
        assert_eq!(r.state, "checking");
        assert_eq!(r.why.as_deref(), Some("queued 3rd, 3 at a time"));
        line.state = TorrentState::checking(2, 8);
        (line.queue, line.why) = (None, None);
        assert_eq!(row(&line).why.as_deref(), Some("25% checked"));
    }

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
