//! BEP 16 super-seeding, the seed's bookkeeping: which pieces it has offered to which peer.
//! Pure (the coordinator sends what this decides: no bitfield, then one HAVE per offer), so
//! the choice of pieces is tested without sockets.
//!
//! NOT YET WIRED: nothing calls this outside its tests. The coordinator is to (1) send
//! `have_none` (or nothing) in place of our bitfield while this is on, (2) send a HAVE for
//! each piece [`SuperSeed::on_connect`] and [`SuperSeed::on_have`] return, (3) refuse
//! requests [`SuperSeed::may_serve`] says no to, and (4) drop a peer's offers when it goes.
//!
//! Why this shape: a super-seed pretends to have nothing and offers each peer a piece (two
//! at once, as libtorrent does, so a peer is not idle while one is being fetched) that the
//! fewest peers have and that no one else is being offered. A new piece replaces an offer
//! once the offered piece shows up at *another* peer (its HAVE): proof that the peer we gave
//! it to passed it on, BEP 16's rule and libtorrent's `strict_super_seeding`. So the seed
//! uploads each piece about once, and the leechers trade the rest among themselves.
//! libtorrent 2.0 (ABI 2) also replaces an offer when the peer itself says it has it; we
//! follow the BEP, which is what holds a seed's upload to about one copy.

use std::collections::HashMap;
use std::net::SocketAddr;

/// Offers each peer holds at once (libtorrent's `m_superseed_piece[2]`).
pub(crate) const OFFERS_PER_PEER: usize = 2;

/// The offers of one torrent's super-seed.
#[derive(Debug, Default)]
pub(crate) struct SuperSeed {
    offered: HashMap<SocketAddr, Vec<u32>>,
}

/// What a connected peer has, and how many connected peers have each piece.
pub(crate) struct Swarm<'a> {
    /// The pieces the peer we choose for has (its bitfield and HAVEs).
    pub has: &'a dyn Fn(u32) -> bool,
    /// Connected peers having each piece, indexed by piece.
    pub availability: &'a [u16],
}

impl SuperSeed {
    /// The pieces offered to `peer` now (HAVE sent, not yet seen elsewhere).
    pub(crate) fn offers(&self, peer: &SocketAddr) -> &[u32] {
        self.offered.get(peer).map_or(&[], Vec::as_slice)
    }

    /// Whether `peer` may be sent `piece`: only what we offered it.
    pub(crate) fn may_serve(&self, peer: &SocketAddr, piece: u32) -> bool {
        self.offers(peer).contains(&piece)
    }

    /// A newly connected `peer`: the pieces to send it a HAVE for.
    pub(crate) fn on_connect(&mut self, peer: SocketAddr, swarm: &Swarm<'_>) -> Vec<u32> {
        self.fill(peer, swarm)
    }

    /// `from` said it has `piece`. Every other peer that was offered `piece` has passed it
    /// on (or got it from someone who did): its offer is done and it gets a new one. The
    /// HAVEs to send, by peer. `swarm_of` gives each such peer's view.
    pub(crate) fn on_have<'a>(
        &mut self,
        from: SocketAddr,
        piece: u32,
        swarm_of: impl Fn(&SocketAddr) -> Option<Swarm<'a>>,
    ) -> Vec<(SocketAddr, u32)> {
        let done: Vec<SocketAddr> = self
            .offered
            .iter()
            .filter(|(p, offers)| **p != from && offers.contains(&piece))
            .map(|(p, _)| *p)
            .collect();
        let mut out = Vec::new();
        for peer in done {
            if let Some(offers) = self.offered.get_mut(&peer) {
                offers.retain(|&x| x != piece);
            }
            if let Some(swarm) = swarm_of(&peer) {
                out.extend(self.fill(peer, &swarm).into_iter().map(|x| (peer, x)));
            }
        }
        out
    }

    /// `peer` went: its offers are free for others.
    pub(crate) fn on_disconnect(&mut self, peer: &SocketAddr) {
        self.offered.remove(peer);
    }

    /// Tops `peer`'s offers up to [`OFFERS_PER_PEER`]; the pieces newly offered.
    fn fill(&mut self, peer: SocketAddr, swarm: &Swarm<'_>) -> Vec<u32> {
        let mut new = Vec::new();
        while self.offers(&peer).len() < OFFERS_PER_PEER {
            let Some(piece) = self.pick(&peer, swarm) else {
                break;
            };
            self.offered.entry(peer).or_default().push(piece);
            new.push(piece);
        }
        new
    }

    /// The piece `peer` lacks (and is not offered) that the fewest peers have, not offered to anyone (any piece
    /// offered already counts as rare as possible only when nothing else is left, as
    /// libtorrent's artificial availability of 999 does); the lowest index among equals, so
    /// that the choice is the same in every run.
    fn pick(&self, peer: &SocketAddr, swarm: &Swarm<'_>) -> Option<u32> {
        const OFFERED_ELSEWHERE: u32 = 1 << 20;
        let offered = |i: u32| self.offered.values().any(|o| o.contains(&i));
        (0..swarm.availability.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| !(swarm.has)(i) && !self.may_serve(peer, i))
            .min_by_key(|&i| {
                let avail = u32::from(swarm.availability[i as usize]);
                if offered(i) {
                    OFFERED_ELSEWHERE + avail
                } else {
                    avail
                }
            })
    }
}

#[cfg(test)]
mod tests;
