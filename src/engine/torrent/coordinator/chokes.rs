//! Choking: the candidates for an upload slot, the rechoke that picks them, and the chokes
//! and unchokes sent to the connections.

use super::*;

impl Coordinator {
    /// The connected peers as the choker sees them.
    pub(crate) fn choke_candidates(&self) -> Vec<Candidate> {
        let seeding = self.run.complete;
        self.peers
            .active()
            .map(|p| {
                let f = p.flags();
                Candidate {
                    addr: p.addr,
                    connected: p.stage() == PeerStage::Connected,
                    peer_interested: f.peer_interested,
                    am_choking: f.am_choking,
                    rate: if seeding { p.up_rate() } else { p.down_rate() },
                }
            })
            .collect()
    }

    pub(crate) fn rechoke(&mut self, now: Instant) {
        self.choke.last_rechoke = now;
        self.choke.held = self.uploads_held();
        if self.run.paused {
            return;
        }
        let candidates = self.choke_candidates();
        if self.choke.held {
            self.choke.optimistic = None;
            self.send_chokes(choker::keep_serving(&candidates));
            return;
        }
        if self.choke.optimistic_due(now) {
            self.choke.last_optimistic = now;
            let mut choked = choker::optimistic_candidates(&candidates);
            choked.shuffle(&mut rand::thread_rng());
            self.choke.optimistic = choked.first().copied();
        }
        let changes = choker::rechoke(&candidates, UPLOAD_SLOTS, self.choke.optimistic);
        self.send_chokes(changes);
    }

    /// Whether the session's seed limit holds back new unchokes now: only once complete (a
    /// download trades tit-for-tat whatever the seed slots say).
    pub(crate) fn uploads_held(&self) -> bool {
        self.run.complete && self.shared.rates.uploads_held()
    }

    pub(super) fn send_chokes(&self, changes: Vec<Choke>) {
        for c in changes {
            let (addr, cmd) = match c {
                Choke::Choke(a) => (a, PeerCmd::Choke),
                Choke::Unchoke(a) => (a, PeerCmd::Unchoke),
            };
            if let Some(p) = self.peers.get(&addr) {
                p.send(cmd);
            }
        }
    }
}
