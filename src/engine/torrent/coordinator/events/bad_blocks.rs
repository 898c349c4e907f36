//! Senders proven to have sent bad blocks (`verify/blame.rs`): the piece they were in has
//! verified since, and their blocks differ from it. Proof, not suspicion, so such a peer is
//! banned at once, named with its blocks in the log and its row.

use crate::engine::api::{LogLevel, PeerEnd};
use crate::engine::peer::link::PeerCmd;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::Plan;
use crate::engine::torrent::verify::blame::{block_list, Culprit};

use super::BAN_AFTER_FAILURES;

impl Coordinator {
    pub(super) fn on_bad_blocks(&mut self, index: u32, culprits: Vec<Culprit>) {
        for c in culprits {
            let n = c.blocks.len() as u32;
            let blocks = format!(
                "block{} {}",
                if n == 1 { "" } else { "s" },
                block_list(&c.blocks)
            );
            if let Some(p) = self.peers.by_conn(c.conn) {
                let addr = p.addr;
                p.known.hash_failures = p.known.hash_failures.max(BAN_AFTER_FAILURES);
                p.dial.plan = Plan::Banned;
                let end = PeerEnd::BadBlocks(n);
                p.send(PeerCmd::Disconnect(end.clone()));
                self.log(
                    LogLevel::Warn,
                    format!(
                        "piece {index}: {blocks} failed (from {addr}); the piece verified \
                         without them"
                    ),
                );
                self.log(LogLevel::Warn, format!("banned {addr}: {end}"));
            } else if let Some(w) = self.webseeds.iter_mut().find(|w| w.conn == c.conn) {
                let url = w.url.clone();
                w.hash_failed(true, BAN_AFTER_FAILURES);
                self.log(
                    LogLevel::Warn,
                    format!("piece {index}: {blocks} failed (from {url})"),
                );
            } else {
                // Its connection has ended: there is no one left to ban by it.
                self.log(
                    LogLevel::Warn,
                    format!("piece {index}: {blocks} failed (from a connection that has ended)"),
                );
            }
        }
    }
}
