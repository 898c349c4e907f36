//! Peers a magnet's metadata fetch caught sending bad data (a v2 magnet's piece-layer hashes
//! that do not verify) are banned from the download's start, as a peer whose pieces keep
//! failing their check is: never dialed, its row and the log saying why.

use std::time::Instant;

use crate::engine::api::{LogLevel, PeerEnd, PeerSource, PeerStage};
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::Plan;

impl Coordinator {
    pub(super) fn ban_bad_sources(&mut self, now: Instant) {
        let banned = self.given.opts.banned.clone();
        for addr in banned {
            self.peers.add([addr], PeerSource::Manual, now);
            if let Some(p) = self.peers.get_mut(&addr) {
                p.dial.plan = Plan::Banned;
                p.set_idle_end(PeerEnd::BadHashes);
                p.set_stage(PeerStage::Failed, now);
            }
            self.log(
                LogLevel::Warn,
                format!("banned {addr}: {}", PeerEnd::BadHashes),
            );
        }
    }
}
