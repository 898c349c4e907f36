//! The session's log as a face reads it: what happened to torrents (added, completed,
//! removed, a tracker's or the disk's error, each torrent's own log lines) and to peers
//! (banned, blocked). Plain data; the ring that keeps the newest entries is the torrent
//! room's `journal.rs`. Each entry has an id that only grows, so a reader asks for what
//! came after the last one it saw (qBittorrent's `last_known_id`).

use std::net::IpAddr;

use super::LogLevel;

/// One line of the session's log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JournalEntry {
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    pub level: LogLevel,
    /// Names the torrent (and the peer, when there is one).
    pub message: String,
}

/// A peer the session refused: banned (by the user, or for bad data) or blocked (by the
/// blocklist).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeerJournalEntry {
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    pub ip: IpAddr,
    /// True: the blocklist refused it; false: it was banned.
    pub blocked: bool,
    pub reason: String,
}
