//! One iterative lookup (BEP 5 / Kademlia): query the closest known nodes `alpha` at a time,
//! learn closer ones from their answers, and stop when the `K` closest have all answered (or
//! failed). Pure state: the node sends the queries and feeds the answers back.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::krpc::{CompactNode, NodeId};

use super::routing::K;

/// Candidates kept, closest first; farther ones are forgotten.
const MAX_CANDIDATES: usize = 64;
/// Distinct peers one lookup reports; the rest of a huge swarm is not needed from one lookup.
pub(crate) const MAX_PEERS: usize = 2000;
const MAX_QUERIES: usize = 256;
const MAX_AGE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Fresh,
    InFlight,
    Answered,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    id: Option<NodeId>,
    addr: SocketAddr,
    state: State,
    token: Option<Vec<u8>>,
}

pub(crate) struct Lookup {
    pub target: NodeId,
    alpha: usize,
    candidates: Vec<Candidate>,
    peers: HashSet<SocketAddr>,
    queries: usize,
    started: Instant,
}

impl Lookup {
    pub(crate) fn new(target: NodeId, alpha: usize, now: Instant) -> Lookup {
        Lookup {
            target,
            alpha: alpha.max(1),
            candidates: Vec::new(),
            peers: HashSet::new(),
            queries: 0,
            started: now,
        }
    }

    fn key(&self, id: &Option<NodeId>) -> [u8; 20] {
        // Seeds of unknown id (bootstrap routers) sort first so they are asked at once.
        id.map_or([0; 20], |i| i.distance(&self.target))
    }

    /// Adds a node to ask; addresses already known are ignored.
    pub(crate) fn add(&mut self, id: Option<NodeId>, addr: SocketAddr) {
        if self.candidates.iter().any(|c| c.addr == addr) {
            return;
        }
        let key = self.key(&id);
        let pos = self.candidates.partition_point(|c| self.key(&c.id) <= key);
        if pos >= MAX_CANDIDATES {
            return;
        }
        self.candidates.insert(
            pos,
            Candidate {
                id,
                addr,
                state: State::Fresh,
                token: None,
            },
        );
        self.candidates.truncate(MAX_CANDIDATES);
    }

    fn in_flight(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.state == State::InFlight)
            .count()
    }

    /// The next node to query, if the lookup has room for one more query in flight.
    /// Only the `K` closest live candidates are worth asking.
    pub(crate) fn next_query(&mut self) -> Option<SocketAddr> {
        if self.in_flight() >= self.alpha || self.queries >= MAX_QUERIES {
            return None;
        }
        let c = self
            .candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .find(|c| c.state == State::Fresh)?;
        c.state = State::InFlight;
        self.queries += 1;
        Some(c.addr)
    }

    /// A query could not be sent after all (pending table full): ask again later.
    pub(crate) fn unsend(&mut self, addr: SocketAddr) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == addr) {
            c.state = State::Fresh;
            self.queries = self.queries.saturating_sub(1);
        }
    }

    /// Records an answer; returns the peers not reported before.
    pub(crate) fn answered(
        &mut self,
        addr: SocketAddr,
        id: NodeId,
        nodes: &[CompactNode],
        values: &[SocketAddr],
        token: Option<Vec<u8>>,
    ) -> Vec<SocketAddr> {
        if let Some(pos) = self.candidates.iter().position(|c| c.addr == addr) {
            let mut c = self.candidates.remove(pos);
            c.state = State::Answered;
            c.id = Some(id);
            c.token = token;
            // Its true distance is known now: re-insert in order.
            let key = self.key(&c.id);
            let at = self.candidates.partition_point(|x| self.key(&x.id) <= key);
            self.candidates.insert(at, c);
        }
        for n in nodes {
            self.add(Some(n.id), n.addr);
        }
        let mut fresh = Vec::new();
        for v in values {
            if self.peers.len() < MAX_PEERS && self.peers.insert(*v) {
                fresh.push(*v);
            }
        }
        fresh
    }

    /// Records a peer found elsewhere; false when it was already reported (or the cap is hit).
    pub(crate) fn note_peer(&mut self, peer: SocketAddr) -> bool {
        self.peers.len() < MAX_PEERS && self.peers.insert(peer)
    }

    pub(crate) fn failed(&mut self, addr: SocketAddr) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == addr) {
            c.state = State::Failed;
        }
    }

    pub(crate) fn is_finished(&self, now: Instant) -> bool {
        if now.saturating_duration_since(self.started) >= MAX_AGE {
            return true;
        }
        if self.in_flight() > 0 {
            return false;
        }
        let nothing_left = !self
            .candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .any(|c| c.state == State::Fresh);
        nothing_left || self.queries >= MAX_QUERIES
    }

    /// The `K` closest nodes that answered with a token: where to announce.
    pub(crate) fn announce_targets(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Answered)
            .filter_map(|c| Some((c.addr, c.token.clone()?)))
            .take(K)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 1))
    }

    fn id_of(x: SocketAddr) -> u8 {
        match x.ip() {
            std::net::IpAddr::V4(v4) => v4.octets()[3],
            std::net::IpAddr::V6(_) => 0,
        }
    }

    #[test]
    fn converges_on_the_closest_and_respects_alpha() {
        let now = Instant::now();
        let target = NodeId([0; 20]);
        let mut l = Lookup::new(target, 3, now);
        l.add(None, a(1));
        assert_eq!(l.next_query(), Some(a(1)));
        assert_eq!(l.next_query(), None);
        // The router answers with 20 nodes at decreasing distance.
        let nodes: Vec<CompactNode> = (2..22u8)
            .map(|i| CompactNode {
                id: NodeId([i; 20]),
                addr: a(i),
            })
            .collect();
        let peers = l.answered(a(1), NodeId([0xff; 20]), &nodes, &[a(200), a(200)], None);
        assert_eq!(peers, vec![a(200)]);
        let first: Vec<_> = std::iter::from_fn(|| l.next_query()).collect();
        assert_eq!(first, vec![a(2), a(3), a(4)]);
        // Keep answering until done; only the K closest are ever asked.
        let mut asked = first;
        while let Some(x) = asked.pop() {
            l.answered(x, NodeId([id_of(x); 20]), &[], &[], Some(vec![1]));
            asked.extend(std::iter::from_fn(|| l.next_query()));
        }
        assert!(l.is_finished(now));
        let targets: Vec<_> = l.announce_targets().into_iter().map(|t| t.0).collect();
        assert_eq!(targets, (2..10u8).map(a).collect::<Vec<_>>());
    }

    #[test]
    fn failures_let_farther_nodes_in_and_age_ends_it() {
        let now = Instant::now();
        let mut l = Lookup::new(NodeId([0; 20]), 8, now);
        for i in 1..=12u8 {
            l.add(Some(NodeId([i; 20])), a(i));
        }
        let sent: Vec<_> = std::iter::from_fn(|| l.next_query()).collect();
        assert_eq!(sent.len(), 8);
        l.failed(a(1));
        assert_eq!(l.next_query(), Some(a(9)));
        assert!(!l.is_finished(now));
        assert!(l.is_finished(now + MAX_AGE));
    }
}
