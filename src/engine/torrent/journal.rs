//! The session's log ring (`api::JournalEntry`, `api::PeerJournalEntry`): the newest
//! entries of what happened to its torrents and peers, for qBittorrent's `log/main` and
//! `log/peers`. It lives in the torrent room because torrents write to it (their log
//! lines, the peers they ban or the blocklist refuses) and the session above reads it and
//! writes its own events (added, completed, removed).
//!
//! Why bounded in bytes as well as in entries: a message is a torrent's name and a line,
//! and names are the user's; 10,000 entries of long names must not grow without end. Why
//! nothing is formatted per block or piece: a torrent writes here only where it already
//! writes its own log line (`Coordinator::log`), never on the data path; a blocked peer's
//! reason is a `&'static str`.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::engine::api::{unix_now, JournalEntry, LogLevel, PeerJournalEntry};

/// Entries each log keeps at most (qBittorrent keeps 20,000 lines of its own).
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Bytes of messages the main log keeps at most.
pub(crate) const MAX_BYTES: usize = 4 << 20;
/// What an entry costs beside its message's bytes (its id, time, level, the deque's slot).
const ENTRY_COST: usize = 48;

#[derive(Debug, Default)]
struct Rings {
    main: VecDeque<JournalEntry>,
    main_bytes: usize,
    peers: VecDeque<(u64, u64, IpAddr, bool, &'static str)>,
    /// The next id, shared by both logs so ids only grow.
    next: u64,
}

/// The session's log: one per session, shared by its torrents.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    rings: Mutex<Rings>,
}

impl Journal {
    /// A line of the main log.
    pub(crate) fn push(&self, level: LogLevel, message: String) {
        let Ok(mut r) = self.rings.lock() else {
            return;
        };
        let id = r.next;
        r.next += 1;
        r.main_bytes += message.len() + ENTRY_COST;
        r.main.push_back(JournalEntry {
            id,
            time: unix_now(),
            level,
            message,
        });
        while r.main.len() > MAX_ENTRIES || r.main_bytes > MAX_BYTES {
            match r.main.pop_front() {
                Some(old) => r.main_bytes -= old.message.len() + ENTRY_COST,
                None => break,
            }
        }
    }

    /// A peer refused: `blocked` by the blocklist, else banned.
    pub(crate) fn peer(&self, ip: IpAddr, blocked: bool, reason: &'static str) {
        let Ok(mut r) = self.rings.lock() else {
            return;
        };
        let id = r.next;
        r.next += 1;
        r.peers.push_back((id, unix_now(), ip, blocked, reason));
        if r.peers.len() > MAX_ENTRIES {
            r.peers.pop_front();
        }
    }

    /// The main log's entries after `last_known_id` (-1 or less: all of them).
    pub(crate) fn main_after(&self, last_known_id: i64) -> Vec<JournalEntry> {
        let Ok(r) = self.rings.lock() else {
            return Vec::new();
        };
        r.main
            .iter()
            .filter(|e| e.id as i64 > last_known_id)
            .cloned()
            .collect()
    }

    /// The peer log's entries after `last_known_id` (-1 or less: all of them).
    pub(crate) fn peers_after(&self, last_known_id: i64) -> Vec<PeerJournalEntry> {
        let Ok(r) = self.rings.lock() else {
            return Vec::new();
        };
        r.peers
            .iter()
            .filter(|e| e.0 as i64 > last_known_id)
            .map(|&(id, time, ip, blocked, reason)| PeerJournalEntry {
                id,
                time,
                ip,
                blocked,
                reason: reason.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_and_readers_get_what_came_after() {
        let j = Journal::default();
        j.push(LogLevel::Info, "a: added".into());
        j.peer("192.0.2.1".parse().unwrap(), true, "blocklist");
        j.push(LogLevel::Warn, "a: tracker failed".into());
        let all = j.main_after(-1);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].id, all[1].id), (0, 2));
        assert_eq!(j.main_after(0).len(), 1);
        assert!(j.main_after(2).is_empty());
        let peers = j.peers_after(-1);
        assert_eq!(peers.len(), 1);
        assert!(peers[0].blocked && peers[0].id == 1);
        assert!(j.peers_after(1).is_empty());
    }

    #[test]
    fn the_ring_is_bounded_in_entries_and_bytes() {
        let j = Journal::default();
        for i in 0..MAX_ENTRIES + 5 {
            j.push(LogLevel::Info, format!("{i}"));
        }
        let all = j.main_after(-1);
        assert_eq!(all.len(), MAX_ENTRIES);
        assert_eq!(all[0].message, "5");
        let big = "x".repeat(MAX_BYTES / 4);
        for _ in 0..8 {
            j.push(LogLevel::Info, big.clone());
        }
        let bytes: usize = j.main_after(-1).iter().map(|e| e.message.len()).sum();
        assert!(bytes <= MAX_BYTES);
        assert!(!j.main_after(-1).is_empty());
    }
}
