//! A magnet in a long-running session never gives up on its metadata (as qBittorrent's do):
//! when a fetch has spent every source it knows, the torrent waits and asks them all again
//! (trackers, DHT, `x.pe` and `--peer`), the waits growing from `FIRST_RETRY` to `MAX_RETRY`,
//! and its line says what the last try found. Only metadata that matches the info hash yet is
//! no torrent ends it (`Spent::fatal`): no peer can ever send other bytes for that hash.

use std::time::Duration;

/// The wait after the first fetch that found nothing, doubled after each one after it.
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(15);
/// The longest wait between two fetches.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(5 * 60);
/// How long one fetch of a waiting magnet may run before it counts as spent: with the DHT on
/// a fetch never runs out of sources by itself, and its trackers are asked only at its start.
pub(crate) const ROUND: Duration = Duration::from_secs(120);

/// The wait after `previous` (None: after the first fetch).
pub(crate) fn next_wait(previous: Option<Duration>) -> Duration {
    previous.map_or(FIRST_RETRY, |w| (w * 2).min(MAX_RETRY))
}

/// What the DHT gave a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DhtSeen {
    /// Off in this session.
    #[default]
    Off,
    /// On, but no node answered while the fetch ran.
    NoNode,
    /// Asked: peers found, from how many nodes.
    Asked { peers: usize, nodes: usize },
}

/// What one fetch learned of its sources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Sources {
    pub trackers_answered: usize,
    pub trackers_failed: usize,
    pub dht: DhtSeen,
    /// Peers asked for the metadata, and the last one's error.
    pub peers_tried: usize,
    pub last_error: String,
}

/// Why a magnet ended without its metadata; the `Display` is the torrent's error line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoMetadata {
    /// No source delivered it in time: the words say what each did.
    #[error("{0}")]
    NotFound(String),
    /// It arrived and matched the info hash but is no torrent: asking again cannot help.
    #[error("{0}")]
    NotATorrent(String),
    /// The dialing gave up, and no peer dialed us before the time ran out.
    #[error("{0}; no peer connected to us either")]
    NobodyCame(Box<NoMetadata>),
    #[error("gave up fetching the metadata")]
    GaveUp,
}

impl From<Spent> for NoMetadata {
    fn from(spent: Spent) -> NoMetadata {
        if spent.fatal {
            NoMetadata::NotATorrent(spent.msg)
        } else {
            NoMetadata::NotFound(spent.msg)
        }
    }
}

/// A fetch that ended without the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spent {
    /// One line for a one-shot run, which ends here.
    pub msg: String,
    pub sources: Sources,
    /// The metadata arrived and matched the info hash but is no torrent: asking again cannot
    /// help.
    pub fatal: bool,
}

impl Sources {
    /// The torrent's `why` while it waits `wait` before asking again, `phase` saying what it
    /// fetches when its phase does not (`metadata::phase`): `no peers yet (trackers: 1
    /// failed; DHT off); next try in 15s`.
    pub(crate) fn words(&self, phase: Option<&str>, wait: Duration) -> String {
        let trackers = match (self.trackers_answered, self.trackers_failed) {
            (0, 0) => "no tracker".to_string(),
            (0, f) => format!("trackers: {f} failed"),
            (a, 0) => format!("trackers: {a} answered"),
            (a, f) => format!("trackers: {a} answered, {f} failed"),
        };
        let dht = match self.dht {
            DhtSeen::Off => "DHT off".to_string(),
            DhtSeen::NoNode => "DHT: no node answered".to_string(),
            DhtSeen::Asked { peers, nodes } => format!("DHT: {peers} peers from {nodes} nodes"),
        };
        let head = if self.peers_tried == 0 {
            "no peers yet (".to_string()
        } else {
            format!(
                "no peer sent it yet ({} tried, last: {}; ",
                self.peers_tried, self.last_error
            )
        };
        let phase = phase.map(|p| format!("{p}: ")).unwrap_or_default();
        format!(
            "{phase}{head}{trackers}; {dht}); next try in {}",
            crate::fmt::duration(wait)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_five_minutes_and_stay_there() {
        let mut w = None;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let next = next_wait(w);
            seen.push(next.as_secs());
            w = Some(next);
        }
        assert_eq!(seen, [15, 30, 60, 120, 240, 300, 300, 300]);
    }

    #[test]
    fn the_words_say_what_each_source_gave() {
        let failed = Sources {
            trackers_failed: 1,
            ..Sources::default()
        };
        let w = failed.words(None, FIRST_RETRY);
        assert!(
            w.starts_with("no peers yet (trackers: 1 failed; DHT off); next try in "),
            "{w}"
        );
        let tried = Sources {
            trackers_answered: 2,
            trackers_failed: 1,
            dht: DhtSeen::Asked { peers: 3, nodes: 9 },
            peers_tried: 3,
            last_error: "closed by peer".into(),
        };
        let w = tried.words(None, MAX_RETRY);
        assert!(
            w.starts_with(
                "no peer sent it yet (3 tried, last: closed by peer; \
                 trackers: 2 answered, 1 failed; DHT: 3 peers from 9 nodes); next try in "
            ),
            "{w}"
        );
        let none = Sources {
            dht: DhtSeen::NoNode,
            ..Sources::default()
        };
        assert!(none
            .words(Some("fetching piece layers from peers"), FIRST_RETRY)
            .starts_with(
            "fetching piece layers from peers: no peers yet (no tracker; DHT: no node answered)"
        ));
    }
}
