//! The session's accounting as faces see it (`ttui stats`, the TUI's statistics view): bytes
//! uploaded and downloaded per tracker, label or torrent, today, this week, this month and in
//! all, with a day's bars. Made by `engine::ledger`.

use serde::{Deserialize, Serialize};

/// What the rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsBy {
    /// The announce host of each of a torrent's trackers: a torrent with several counts
    /// toward each.
    #[default]
    Tracker,
    /// Each of a torrent's labels (a torrent with none under "(no label)").
    Label,
    Torrent,
}

impl StatsBy {
    pub fn parse(s: &str) -> Option<StatsBy> {
        match s {
            "tracker" => Some(StatsBy::Tracker),
            "label" => Some(StatsBy::Label),
            "torrent" => Some(StatsBy::Torrent),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            StatsBy::Tracker => "tracker",
            StatsBy::Label => "label",
            StatsBy::Torrent => "torrent",
        }
    }
}

/// Payload bytes moved: what trackers are told as `uploaded=` and `downloaded=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Moved {
    pub uploaded: u64,
    pub downloaded: u64,
}

impl Moved {
    pub fn add(&mut self, other: Moved) {
        self.uploaded = self.uploaded.saturating_add(other.uploaded);
        self.downloaded = self.downloaded.saturating_add(other.downloaded);
    }

    pub fn is_zero(&self) -> bool {
        self.uploaded == 0 && self.downloaded == 0
    }

    /// Uploaded over downloaded; none while nothing was downloaded.
    pub fn ratio(&self) -> Option<f64> {
        (self.downloaded > 0).then(|| self.uploaded as f64 / self.downloaded as f64)
    }
}

/// One day's bytes, the day as `YYYY-MM-DD` in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayMoved {
    pub day: String,
    #[serde(flatten)]
    pub moved: Moved,
}

/// One tracker, label or torrent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsRow {
    /// The tracker's host ("(no tracker)" for torrents without one), the label ("(no
    /// label)"), or the torrent's name.
    pub key: String,
    /// The torrent's info hash (hex), for rows by torrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_hash: Option<String>,
    /// Torrents counted in the row.
    pub torrents: u32,
    /// Of those, the torrents also counted under another row (several trackers or labels):
    /// rows do not add up to the session's total when this is not 0.
    pub shared: u32,
    pub today: Moved,
    /// Since Monday.
    pub week: Moved,
    /// Since the 1st.
    pub month: Moved,
    /// Since counting began (trackers' days are kept a year, then summed).
    pub all: Moved,
    /// `all`'s uploaded over downloaded; none while nothing was downloaded.
    pub ratio: Option<f64>,
    /// The last `STATS_DAYS` days, oldest first, each day present (0 when nothing moved).
    pub days: Vec<DayMoved>,
}

/// Days of bars in a row.
pub const STATS_DAYS: usize = 30;

/// The whole answer: the rows, largest all-time upload first, and the session's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub by: StatsBy,
    /// Today, `YYYY-MM-DD` in local time.
    pub today: String,
    pub rows: Vec<StatsRow>,
}
