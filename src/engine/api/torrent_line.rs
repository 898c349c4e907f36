//! A torrent's derived facts, made once from its line for every face: how far it is, what
//! is left, its ratio and time left, whether it still fetches its metadata, its working
//! tracker and the swarm's counts. A face reads these and never computes them itself (the
//! TUI, `ttui list`, the Transmission RPC and qBittorrent's API then agree).

use std::time::Duration;

use super::{TorrentId, TorrentLine, TorrentState, TrackerMark};

impl TorrentLine {
    /// A line with only its id, for a torrent about to start.
    pub fn placeholder(id: TorrentId) -> TorrentLine {
        // Every other field at its default: a new fact on the line needs no edit here.
        TorrentLine {
            id,
            ..TorrentLine::default()
        }
    }

    /// Verified share of the wanted bytes (1.0 when nothing is wanted, 0 before the metadata).
    pub fn progress(&self) -> f64 {
        if self.fetching_metadata() {
            // Nothing known is nothing done (qBittorrent and Transmission say 0 too).
            0.0
        } else if self.wanted_bytes == 0 {
            1.0
        } else {
            (self.verified_bytes as f64 / self.wanted_bytes as f64).min(1.0)
        }
    }

    /// Uploaded over downloaded, lifetime; a torrent that downloaded nothing counts its
    /// size instead, as Transmission does for torrents added complete.
    pub fn ratio(&self) -> f64 {
        let base = if self.downloaded > 0 {
            self.downloaded
        } else {
            self.verified_bytes
        };
        if base == 0 {
            0.0
        } else {
            self.uploaded as f64 / base as f64
        }
    }

    /// Time left at the current rate, when it moves: of its check while it checks (the check
    /// reckons it), else of its download.
    pub fn eta(&self) -> Option<Duration> {
        if let TorrentState::Checking { eta, .. } = self.state {
            return eta.map(Duration::from_secs);
        }
        let left = self.wanted_bytes.saturating_sub(self.verified_bytes);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        (self.down_rate >= 1.0).then(|| Duration::from_secs_f64(left as f64 / self.down_rate))
    }
}

impl TorrentLine {
    /// Wanted bytes not verified yet.
    pub fn left(&self) -> u64 {
        self.wanted_bytes.saturating_sub(self.verified_bytes)
    }

    /// A magnet whose metadata has not come yet: its size is not known.
    pub fn fetching_metadata(&self) -> bool {
        self.total_bytes == 0
    }

    /// Its magnet link: its hashes, its name and the trackers it announces to (the
    /// protocol's one writer; Transmission's `magnetLink`, qBittorrent's `magnet_uri`).
    pub fn magnet_link(&self) -> String {
        let trackers: Vec<String> = self
            .tracker_marks()
            .iter()
            .map(|m| m.url.to_string())
            .collect();
        crate::protocol::magnet::format_magnet(
            Some(&self.info_hash),
            self.info_hash_v2.as_ref(),
            &self.name,
            &trackers,
        )
    }

    /// Its trackers' marks, in tier order (empty without trackers or before the first).
    pub fn tracker_marks(&self) -> &[TrackerMark] {
        self.trackers.as_deref().unwrap_or(&[])
    }

    /// The tracker it announces to now: the first that works (qBittorrent's `tracker`).
    pub fn working_tracker(&self) -> Option<&TrackerMark> {
        self.tracker_marks().iter().find(|m| m.working())
    }

    /// The swarm's seeds and leechers as its trackers count them: the most any tracker
    /// named (libtorrent's `num_complete`/`num_incomplete`); None when none counted.
    pub fn swarm(&self) -> (Option<u32>, Option<u32>) {
        let most =
            |f: fn(&TrackerMark) -> Option<u32>| self.tracker_marks().iter().filter_map(f).max();
        (most(|m| m.seeders), most(|m| m.leechers))
    }

    /// Connected peers that are not seeds.
    pub fn leechers(&self) -> u32 {
        self.peers.saturating_sub(self.seeds)
    }
}
