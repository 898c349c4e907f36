//! Senders proven to have sent bad blocks (`verify/blame.rs`): the piece they were in has
//! verified since, and their blocks differ from it. Proof, not suspicion, so such a peer is
//! banned at once (even when its connection has ended meanwhile), named with its blocks in
//! the log (once it is banned, only the first time), and its row says it sent bad blocks.

use std::net::SocketAddr;
use std::time::Instant;

use crate::engine::api::{LogLevel, PeerEnd, PeerStage};
use crate::engine::peer::link::PeerCmd;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::Plan;
use crate::engine::torrent::verify::blame::{block_list, Culprit};

use super::BAN_AFTER_FAILURES;

impl Coordinator {
    pub(super) fn on_bad_blocks(&mut self, index: u32, culprits: Vec<Culprit>) {
        self.blame_bad_blocks(index, culprits, "the piece verified without them");
    }

    /// Names and bans each culprit of piece `index`; `then` says what became of the piece.
    pub(super) fn blame_bad_blocks(&mut self, index: u32, culprits: Vec<Culprit>, then: &str) {
        for c in culprits {
            self.block_hashes.liar(c.conn);
            let n = c.blocks.len() as u32;
            let blocks = format!(
                "block{} {}",
                if n == 1 { "" } else { "s" },
                block_list(&c.blocks)
            );
            let addr = match self.peers.by_conn(c.conn) {
                Some(p) => Some(p.addr),
                None => self.shared.download().gone_sender(c.conn),
            };
            if let Some(addr) = addr {
                // A peer that sends every piece wrong is proven once per piece it was in,
                // dozens of times after it is banned: past the first, its ban and row say
                // enough, and the lines would push the ban out of the log's tail.
                let named_before = self.peers.get_mut(&addr).is_some_and(|p| {
                    p.known.bad_pieces += 1;
                    p.known.bad_pieces > 1 && p.is_banned()
                });
                if !named_before {
                    self.log(
                        LogLevel::Warn,
                        format!("piece {index}: {blocks} failed (from {addr}); {then}"),
                    );
                }
                self.ban_for_bad_blocks(addr, n);
            } else if let Some(w) = self.webseeds.iter_mut().find(|w| w.conn == c.conn) {
                let url = w.url.clone();
                w.hash_failed(true, BAN_AFTER_FAILURES);
                self.log(
                    LogLevel::Warn,
                    format!("piece {index}: {blocks} failed (from {url})"),
                );
            } else {
                self.log(
                    LogLevel::Warn,
                    format!("piece {index}: {blocks} failed (from a peer already forgotten)"),
                );
            }
        }
    }

    /// Bans `addr`, which sent `n` bad blocks, unless it is banned already: its connection (if
    /// one runs) is closed, or its idle row says why.
    fn ban_for_bad_blocks(&mut self, addr: SocketAddr, n: u32) {
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        if p.is_banned() {
            // Already out (for its hash failures, mostly): its row keeps that reason.
            return;
        }
        let end = PeerEnd::BadBlocks(n);
        p.known.hash_failures = p.known.hash_failures.max(BAN_AFTER_FAILURES);
        p.dial.plan = Plan::Banned;
        if p.has_conn() {
            p.send(PeerCmd::Disconnect(end.clone()));
        } else {
            p.set_idle_end(end.clone());
            p.set_stage(PeerStage::Failed, Instant::now());
        }
        self.journal_peer(addr.ip(), false, "bad blocks");
        self.log(LogLevel::Warn, format!("banned {addr}: {end}"));
    }

    /// The address of connection `conn`, live or ended (`Download::sender_gone`).
    pub(super) fn sender(&mut self, conn: u64) -> Option<String> {
        match self.peers.by_conn(conn) {
            Some(p) => Some(p.addr.to_string()),
            None => self
                .shared
                .download()
                .gone_sender(conn)
                .map(|a| a.to_string()),
        }
    }
}
