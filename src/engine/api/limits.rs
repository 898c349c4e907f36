//! `ttui limit`: which limits a request changes and what they are afterwards.

use serde::{Deserialize, Serialize};

use super::TorrentId;

/// Whose limits: the session's (no ID), every torrent's own (`all`), or some torrents'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LimitTarget {
    Session,
    All,
    Torrents(Vec<TorrentId>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Turtle {
    On,
    Off,
    Toggle,
}

/// What to change; all None: only report. Rates in bytes per second, 0 = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitChange {
    #[serde(default)]
    pub down: Option<u64>,
    #[serde(default)]
    pub up: Option<u64>,
    #[serde(default)]
    pub turtle: Option<Turtle>,
}

/// One torrent's own limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorrentLimits {
    pub id: u32,
    pub name: String,
    pub down: u64,
    pub up: u64,
}

/// The limits after a `ttui limit` (0 = unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsNow {
    pub down: u64,
    pub up: u64,
    pub alt_down: u64,
    pub alt_up: u64,
    pub turtle: bool,
    /// The torrents named (none for the session's limits).
    pub torrents: Vec<TorrentLimits>,
}
