//! The session's blocklist in a torrent: a blocked peer is not dialed (and counted), and a
//! new list drops the connected peers it blocks, with the reason in the peer table.

use std::net::SocketAddr;
use std::time::Instant;

use crate::engine::api::{LogLevel, PeerEnd, PeerStage};
use crate::engine::peer::link::PeerCmd;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::Plan;

impl Coordinator {
    /// True (and the peer set aside, its row saying why) when the blocklist holds `addr`,
    /// whoever named it: a tracker, the DHT, PEX or the user (`--peer`, `ttui peer add`, the
    /// RPC). Its row fails with the reason, so a run whose every peer is blocked says so and
    /// gives up as for any other failure. It rests: a source that lists it again re-queues
    /// it, and the list is asked again.
    pub(super) fn refuse_blocked(&mut self, addr: SocketAddr, now: Instant) -> bool {
        if !self.shared.ip_filter.refuses_dial(addr.ip()) {
            return false;
        }
        self.run.blocked += 1;
        self.journal_peer(addr.ip(), true, "on the blocklist");
        if let Some(p) = self.peers.get_mut(&addr) {
            p.dial.plan = Plan::Resting;
            if !p.has_conn() {
                p.set_stage(PeerStage::Failed, now);
            }
            p.set_idle_end(PeerEnd::Blocklisted);
        }
        true
    }

    /// Once per new list: the connected (or connecting) peers it blocks are dropped.
    pub(super) fn drop_newly_blocked(&mut self) {
        let generation = self.shared.ip_filter.generation();
        if generation == self.run.filter_seen {
            return;
        }
        self.run.filter_seen = generation;
        let filter = std::sync::Arc::clone(&self.shared.ip_filter);
        let mut dropped = 0;
        for p in self.peers.values_mut() {
            if p.has_conn() && filter.blocks(p.addr.ip()) {
                p.send(PeerCmd::Disconnect(PeerEnd::Blocklisted));
                p.dial.plan = Plan::Resting;
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.log(
                LogLevel::Info,
                format!("dropped {dropped} peers: blocked by the new blocklist"),
            );
        }
    }
}
