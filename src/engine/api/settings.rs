//! What the session runs with and each torrent's own settings, as plain data: the
//! Transmission RPC's `session-get` and `torrent-get` read them (`SessionRequest::Settings`),
//! and `session-set` changes the session's (`SessionRequest::SetSettings`). A change lasts
//! for the session's life; the config file and the flags set them at the next start.

use std::time::Duration;

use super::{GoalAction, Goals, LimitsNow, Set, TorrentId};

/// The session's settings and those of the torrents asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub goals: Goals,
    pub goal_action: GoalAction,
    /// Downloads and seeds at once (0 = no limit).
    pub max_downloads: u32,
    pub max_seeds: u32,
    /// How long a slow torrent waits before it stops counting against the queue.
    pub stalled_after: Duration,
    /// The session's rate limits (no torrents listed in it).
    pub limits: LimitsNow,
    /// Where torrents added now download until complete (None: in their save path).
    pub incomplete_dir: Option<std::path::PathBuf>,
    /// Torrents added from now on fetch in order (Transmission 4.1's session-wide
    /// `sequential_download`).
    pub sequential: bool,
    /// Each torrent asked for that the session has, in the session's order.
    pub torrents: Vec<TorrentSettings>,
}

/// What a torrent's line carries of its own settings, so that a face polling the line-up
/// (qBittorrent's `sync/maindata`) sees a change without asking for every torrent's
/// settings: small, `Copy`, compared every tick.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OwnSettings {
    pub ratio: Set<f64>,
    pub seed_time: Set<Duration>,
    pub idle: Set<Duration>,
    /// Bytes a second (0 = none).
    pub down: u64,
    pub up: u64,
    /// Started regardless of the queue.
    pub forced: bool,
}

impl OwnSettings {
    /// Its defaults, as a constant: what a plain [`OwnBox`] reads.
    pub const PLAIN: OwnSettings = OwnSettings {
        ratio: Set::Default,
        seed_time: Set::Default,
        idle: Set::Default,
        down: 0,
        up: 0,
        forced: false,
    };
}

impl Default for OwnSettings {
    fn default() -> Self {
        OwnSettings::PLAIN
    }
}

/// A line's own settings, boxed only when they differ from the defaults: a library of
/// 100,000 holds a line each, nearly all on the defaults (72 bytes a line inline). Reads as
/// [`OwnSettings`], and is written to the wire as one.
#[derive(Clone, Default, PartialEq)]
pub struct OwnBox(Option<Box<OwnSettings>>);

/// What every plain [`OwnBox`] reads.
static PLAIN: OwnSettings = OwnSettings::PLAIN;

impl From<OwnSettings> for OwnBox {
    fn from(own: OwnSettings) -> OwnBox {
        OwnBox((own != OwnSettings::PLAIN).then(|| Box::new(own)))
    }
}

impl std::ops::Deref for OwnBox {
    type Target = OwnSettings;
    fn deref(&self) -> &OwnSettings {
        self.0.as_deref().unwrap_or(&PLAIN)
    }
}

impl std::fmt::Debug for OwnBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl serde::Serialize for OwnBox {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for OwnBox {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OwnBox, D::Error> {
        OwnSettings::deserialize(d).map(OwnBox::from)
    }
}

/// One torrent's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TorrentSettings {
    pub id: TorrentId,
    /// Its own goals: `Default` follows the session's, `Off` has none, `To` its own value.
    pub ratio: Set<f64>,
    pub seed_time: Set<Duration>,
    pub idle: Set<Duration>,
    /// Its own rate limits, bytes a second (0 = none).
    pub down: u64,
    pub up: u64,
    /// Lifetime time spent seeding.
    pub seeded: Duration,
    /// Started regardless of the queue.
    pub forced: bool,
}

/// What `SetSettings` changes (None: leave it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsChange {
    /// `Some(None)` switches that goal off.
    pub ratio: Option<Option<f64>>,
    pub idle: Option<Option<Duration>>,
    pub max_downloads: Option<u32>,
    pub max_seeds: Option<u32>,
    pub stalled_after: Option<Duration>,
    /// `Some(None)` downloads in the save path; else into this absolute directory (torrents
    /// added from now on; those downloading stay where they are).
    pub incomplete_dir: Option<Option<std::path::PathBuf>>,
    /// Torrents added from now on fetch in order (those already added keep their order).
    pub sequential: Option<bool>,
}
