//! BEP 16 super-seeding wired into the coordinator: the pure chooser (`torrent/superseed.rs`)
//! decides which pieces to offer whom; this part keeps what it needs (which connections hide
//! our pieces, what each of their peers has), turns its answers into `PeerCmd::Offer`s, and
//! switches the whole thing on and off.
//!
//! Why the connection decides whether it hides (at its start, from `super_seeding` in the
//! facts) and reports `Hidden`: only then does the coordinator know for sure which peers saw
//! no bitfield. A connection made before super-seeding turned on keeps its full bitfield (it
//! has seen everything already); one hidden when it turns off, or when a piece is lost, gets
//! `Unhide` (a `have` per piece: BEP 6's `have_all` is for a connection's start only).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use crate::engine::api::LogLevel;
use crate::engine::peer::link::{PeerCmd, SuperSeen};
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::superseed::{SuperSeed, Swarm};
use crate::protocol::bitfield::Bitfield;

/// The torrent's super-seeding: asked for (kept across restarts by the session), and, while
/// active, the offers and the hidden connections.
#[derive(Debug, Default)]
pub(crate) struct SuperSeeding {
    /// Asked for; active only while the torrent is complete.
    wanted: bool,
    chooser: SuperSeed,
    /// The connections hiding our pieces, by connection id.
    hidden: HashMap<u64, Hidden>,
}

#[derive(Debug)]
struct Hidden {
    addr: SocketAddr,
    /// The peer's pieces, from its bitfield and `have`s.
    has: Bitfield,
}

/// What the torrent's line says of its super-seeding (None: off).
pub(crate) fn words(wanted: bool, complete: bool) -> Option<&'static str> {
    match (wanted, complete) {
        (false, _) => None,
        (true, true) => Some("super-seeding"),
        (true, false) => Some("super-seeding (waits until complete)"),
    }
}

impl Coordinator {
    /// The flag as the session saved it, before the torrent runs: no log line.
    pub(crate) fn want_super_seeding(&mut self, on: bool) {
        self.superseed.wanted = on;
    }

    /// `ttui super-seed ID on|off`: peers connecting from now on see it; turned off, every
    /// hidden peer is told all our pieces.
    pub(crate) fn set_super_seeding(&mut self, on: bool) {
        if self.superseed.wanted == on {
            return;
        }
        self.superseed.wanted = on;
        let words = match (on, self.run.complete) {
            (true, true) => {
                "super-seeding on: peers connecting from now on are offered a few pieces at a time"
            }
            (true, false) => "super-seeding on: it starts once the torrent is complete",
            (false, _) => "super-seeding off",
        };
        self.log(LogLevel::Info, words.into());
        self.sync_super_seeding();
    }

    /// Active = asked for and complete; a change reaches new connections through the facts,
    /// and hidden ones get `Unhide` when it ends.
    pub(super) fn sync_super_seeding(&mut self) {
        let active = self.superseed.wanted && self.run.complete;
        self.shared.super_seeding.store(active, Ordering::Relaxed);
        if !active && !self.superseed.hidden.is_empty() {
            for (conn, _) in std::mem::take(&mut self.superseed.hidden) {
                if let Some(p) = self.peers.by_conn(conn) {
                    p.send(PeerCmd::Unhide);
                }
            }
            self.superseed.chooser = SuperSeed::default();
        }
    }

    pub(super) fn superseed_wanted(&self) -> bool {
        self.superseed.wanted
    }

    /// What the line says.
    pub(super) fn super_seeding_words(&self) -> Option<&'static str> {
        words(self.superseed.wanted, self.run.complete)
    }

    /// A hidden connection's report.
    pub(super) fn on_super_seen(&mut self, conn: u64, seen: SuperSeen) {
        if !self.shared.super_seeding.load(Ordering::Relaxed) {
            // It hid as super-seeding ended: it learns everything now.
            self.superseed.hidden.remove(&conn);
            if let Some(p) = self.peers.by_conn(conn) {
                p.send(PeerCmd::Unhide);
            }
            return;
        }
        let Some(addr) = self.peers.by_conn(conn).map(|p| p.addr) else {
            return;
        };
        let n = self.shared.info.num_pieces();
        let availability = self.shared.download().picker.availability().to_vec();
        let SuperSeeding {
            chooser, hidden, ..
        } = &mut self.superseed;
        let offers: Vec<(SocketAddr, u32)> = match seen {
            SuperSeen::Hidden => {
                hidden.entry(conn).or_insert(Hidden {
                    addr,
                    has: Bitfield::new(n),
                });
                top_up(chooser, hidden, conn, &availability)
            }
            SuperSeen::Pieces(has) => {
                let Some(h) = hidden.get_mut(&conn) else {
                    return;
                };
                h.has = has;
                top_up(chooser, hidden, conn, &availability)
            }
            SuperSeen::Have(piece) => {
                let Some(h) = hidden.get_mut(&conn) else {
                    return;
                };
                h.has.set(piece);
                // One closure type for every peer: each peer's view without a box.
                let has_fns: Vec<_> = hidden
                    .values()
                    .map(|h| (h.addr, move |i: u32| h.has.get(i)))
                    .collect();
                chooser.on_have(addr, piece, |a| {
                    has_fns.iter().find(|(x, _)| x == a).map(|(_, f)| Swarm {
                        has: f,
                        availability: &availability,
                    })
                })
            }
        };
        self.send_offers(&offers);
    }

    /// A connection ended: its offers go back to the pool.
    pub(super) fn super_seed_gone(&mut self, conn: u64) {
        if let Some(h) = self.superseed.hidden.remove(&conn) {
            self.superseed.chooser.on_disconnect(&h.addr);
        }
    }

    fn send_offers(&mut self, offers: &[(SocketAddr, u32)]) {
        for &(addr, piece) in offers {
            let conn = self
                .superseed
                .hidden
                .iter()
                .find(|(_, h)| h.addr == addr)
                .map(|(c, _)| *c);
            if let Some(p) = conn.and_then(|c| self.peers.by_conn(c)) {
                p.send(PeerCmd::Offer(piece));
            }
        }
    }
}

/// Fills `conn`'s offers up to the chooser's count.
fn top_up(
    chooser: &mut SuperSeed,
    hidden: &HashMap<u64, Hidden>,
    conn: u64,
    availability: &[u16],
) -> Vec<(SocketAddr, u32)> {
    let Some(h) = hidden.get(&conn) else {
        return Vec::new();
    };
    let has = |i: u32| h.has.get(i);
    let swarm = Swarm {
        has: &has,
        availability,
    };
    chooser
        .on_connect(h.addr, &swarm)
        .into_iter()
        .map(|piece| (h.addr, piece))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn the_line_says_whether_it_waits_for_completion() {
        assert_eq!(words(false, true), None);
        assert_eq!(words(true, true), Some("super-seeding"));
        assert_eq!(
            words(true, false),
            Some("super-seeding (waits until complete)")
        );
    }
}
