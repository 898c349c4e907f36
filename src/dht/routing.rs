//! The routing table: k-buckets of `K` nodes over the 160-bit id space (BEP 5).
//!
//! Bucket `i` holds nodes sharing exactly `i` leading bits with our id; the last bucket holds
//! everything closer and is the only one that splits, so the table stays at most
//! `MAX_BUCKETS` × (`K` + `K` replacements) entries however many nodes talk to us.
//!
//! A table holds one address family (BEP 32 keeps a table per family): `heard_from` refuses
//! a node of the other one, so the node's two tables never share an entry.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::krpc::{CompactNode, NodeId};

use super::family::Family;

pub(crate) const K: usize = 8;
const MAX_BUCKETS: usize = 160;
/// A node heard from within this long is good (BEP 5: 15 minutes).
pub(crate) const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// Failed queries in a row after which a node is bad and replaceable.
const MAX_FAILS: u8 = 2;

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub id: NodeId,
    pub addr: SocketAddr,
    pub last_seen: Instant,
    pub fails: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NodeState {
    Good,
    Questionable,
    Bad,
}

impl Entry {
    pub(crate) fn state(&self, now: Instant) -> NodeState {
        if self.fails >= MAX_FAILS {
            NodeState::Bad
        } else if now.saturating_duration_since(self.last_seen) < GOOD_FOR {
            NodeState::Good
        } else {
            NodeState::Questionable
        }
    }
    pub(crate) fn compact(&self) -> CompactNode {
        CompactNode {
            id: self.id,
            addr: self.addr,
        }
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    nodes: Vec<Entry>,
    /// Candidates heard while the bucket was full; they replace bad nodes.
    replacements: Vec<Entry>,
    last_changed: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            nodes: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Insert {
    Added,
    Updated,
    /// The bucket is full of good nodes; the newcomer waits among the replacements.
    /// The caller should ping this questionable node so that a dead one makes room.
    Full(Option<SocketAddr>),
    Rejected,
}

pub(crate) struct RoutingTable {
    own: NodeId,
    family: Family,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    pub(crate) fn new(own: NodeId, family: Family, now: Instant) -> RoutingTable {
        RoutingTable {
            own,
            family,
            buckets: vec![Bucket::new(now)],
        }
    }

    fn bucket_index(&self, id: &NodeId) -> usize {
        self.own.common_prefix(id).min(self.buckets.len() - 1)
    }

    /// Records that `id` at `addr` answered us (or is otherwise verified alive).
    pub(crate) fn heard_from(&mut self, id: NodeId, addr: SocketAddr, now: Instant) -> Insert {
        if id == self.own || Family::of(&addr) != self.family {
            return Insert::Rejected;
        }
        // One entry per address: a node that restarted with a new id replaces its old self.
        self.remove_addr_with_other_id(&id, &addr);
        loop {
            let idx = self.bucket_index(&id);
            let can_split = idx == self.buckets.len() - 1 && self.buckets.len() < MAX_BUCKETS;
            let b = &mut self.buckets[idx];
            if let Some(e) = b.nodes.iter_mut().find(|e| e.id == id) {
                e.addr = addr;
                e.last_seen = now;
                e.fails = 0;
                return Insert::Updated;
            }
            let entry = Entry {
                id,
                addr,
                last_seen: now,
                fails: 0,
            };
            if b.nodes.len() < K {
                b.nodes.push(entry);
                b.last_changed = now;
                b.replacements.retain(|r| r.id != id);
                return Insert::Added;
            }
            if let Some(pos) = b.nodes.iter().position(|e| e.state(now) == NodeState::Bad) {
                b.nodes[pos] = entry;
                b.last_changed = now;
                return Insert::Added;
            }
            if can_split {
                self.split_last(now);
                continue;
            }
            let ping = b
                .nodes
                .iter()
                .filter(|e| e.state(now) == NodeState::Questionable)
                .min_by_key(|e| e.last_seen)
                .map(|e| e.addr);
            b.replacements.retain(|r| r.id != id);
            if b.replacements.len() >= K {
                b.replacements.remove(0);
            }
            b.replacements.push(entry);
            return Insert::Full(ping);
        }
    }

    /// Whether `id` at `addr` is in the table (one bucket's scan, so cheap per datagram).
    pub(crate) fn contains(&self, id: &NodeId, addr: SocketAddr) -> bool {
        self.buckets[self.bucket_index(id)]
            .nodes
            .iter()
            .any(|e| e.id == *id && e.addr == addr)
    }

    /// Whether `id` could enter the table now (its bucket has room, holds a bad node, or
    /// may split): only then is a node that queried us worth a verifying ping.
    pub(crate) fn has_room(&self, id: &NodeId, now: Instant) -> bool {
        if *id == self.own {
            return false;
        }
        let idx = self.bucket_index(id);
        let b = &self.buckets[idx];
        b.nodes.len() < K
            || (idx == self.buckets.len() - 1 && self.buckets.len() < MAX_BUCKETS)
            || b.nodes.iter().any(|e| e.state(now) == NodeState::Bad)
    }

    fn remove_addr_with_other_id(&mut self, id: &NodeId, addr: &SocketAddr) {
        for b in &mut self.buckets {
            b.nodes.retain(|e| e.addr != *addr || e.id == *id);
        }
    }

    fn split_last(&mut self, now: Instant) {
        let depth = self.buckets.len() - 1;
        let own = self.own;
        let Some(old) = self.buckets.last_mut() else {
            return;
        };
        let mut next = Bucket::new(now);
        let (stay, go): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut old.nodes)
            .into_iter()
            .partition(|e| own.common_prefix(&e.id) == depth);
        old.nodes = stay;
        next.nodes = go;
        let (rstay, rgo): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut old.replacements)
            .into_iter()
            .partition(|e| own.common_prefix(&e.id) == depth);
        old.replacements = rstay;
        next.replacements = rgo;
        self.buckets.push(next);
    }

    /// A query to `addr` went unanswered. A bad node gives way to its newest replacement.
    pub(crate) fn failed(&mut self, addr: SocketAddr, now: Instant) {
        for b in &mut self.buckets {
            if let Some(pos) = b.nodes.iter().position(|e| e.addr == addr) {
                b.nodes[pos].fails = b.nodes[pos].fails.saturating_add(1);
                if b.nodes[pos].state(now) == NodeState::Bad {
                    if let Some(r) = b.replacements.pop() {
                        b.nodes[pos] = r;
                        b.last_changed = now;
                    }
                }
                return;
            }
        }
    }

    /// Up to `n` good-or-questionable nodes closest to `target`, closest first.
    pub(crate) fn closest(&self, target: &NodeId, n: usize, now: Instant) -> Vec<CompactNode> {
        let mut all: Vec<&Entry> = self
            .buckets
            .iter()
            .flat_map(|b| b.nodes.iter())
            .filter(|e| e.state(now) != NodeState::Bad)
            .collect();
        all.sort_by_key(|e| e.id.distance(target));
        all.into_iter().take(n).map(Entry::compact).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// Everything the table holds, replacements included (for memory accounting).
    pub(crate) fn total_entries(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.nodes.len() + b.replacements.len())
            .sum()
    }

    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Questionable nodes worth a ping to learn whether they are still there.
    pub(crate) fn questionable(&self, now: Instant) -> Vec<SocketAddr> {
        self.entries()
            .filter(|e| e.state(now) == NodeState::Questionable)
            .map(|e| e.addr)
            .collect()
    }

    /// For each bucket untouched for `stale`, a random id inside it to look up (BEP 5 refresh).
    /// Marks those buckets as refreshed.
    pub(crate) fn stale_targets(&mut self, stale: Duration, now: Instant) -> Vec<NodeId> {
        let own = self.own;
        let last = self.buckets.len() - 1;
        let mut out = Vec::new();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            if now.saturating_duration_since(b.last_changed) >= stale {
                b.last_changed = now;
                out.push(random_in_bucket(&own, i, i == last));
            }
        }
        out
    }
}

/// A random id sharing exactly `prefix` leading bits with `own` (or at least, for the last).
pub(crate) fn random_in_bucket(own: &NodeId, prefix: usize, last: bool) -> NodeId {
    let mut id = NodeId::random();
    for bit in 0..prefix.min(160) {
        let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
        id.0[byte] = (id.0[byte] & !mask) | (own.0[byte] & mask);
    }
    if !last && prefix < 160 {
        let (byte, mask) = (prefix / 8, 0x80u8 >> (prefix % 8));
        id.0[byte] = (id.0[byte] & !mask) | (!own.0[byte] & mask);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), 6881))
    }

    #[test]
    fn fills_splits_and_stays_bounded() {
        let now = Instant::now();
        let own = NodeId::random();
        let mut t = RoutingTable::new(own, Family::V4, now);
        for i in 0..5000 {
            t.heard_from(NodeId::random(), addr(i), now);
        }
        // Random ids mostly land in the far buckets: about K per level of depth.
        assert!(t.len() >= 5 * K, "only {} nodes", t.len());
        assert!(t.total_entries() <= MAX_BUCKETS * 2 * K);
        for (i, b) in t.buckets.iter().enumerate() {
            assert!(b.nodes.len() <= K);
            for e in &b.nodes {
                let p = own.common_prefix(&e.id);
                if i + 1 < t.buckets.len() {
                    assert_eq!(p, i, "node in the wrong bucket");
                } else {
                    assert!(p >= i);
                }
            }
        }
        // Nodes close to us always find room (our own bucket splits).
        let near = random_in_bucket(&own, 150, false);
        assert_eq!(t.heard_from(near, addr(99_999), now), Insert::Added);
        assert_eq!(t.closest(&own, 1, now)[0].id, near);
    }

    #[test]
    fn far_bucket_full_keeps_replacements_and_bad_nodes_make_room() {
        let now = Instant::now();
        let own = NodeId([0; 20]);
        let mut t = RoutingTable::new(own, Family::V4, now);
        // Ids with the top bit set share 0 bits with us: all go to bucket 0.
        let far = |i: u8| {
            let mut b = [i; 20];
            b[0] = 0x80 | i;
            NodeId(b)
        };
        // One near node forces the first split so bucket 0 no longer splits.
        t.heard_from(NodeId([1; 20]), addr(500), now);
        for i in 0..K as u8 {
            assert_eq!(t.heard_from(far(i), addr(i as u32), now), Insert::Added);
        }
        assert!(t.buckets.len() >= 2);
        assert_eq!(t.heard_from(far(50), addr(50), now), Insert::Full(None));
        // Later, every far node is questionable: the oldest is offered for a ping.
        let later = now + GOOD_FOR + Duration::from_secs(1);
        assert!(matches!(
            t.heard_from(far(51), addr(51), later),
            Insert::Full(Some(_))
        ));
        // Two failures make node 0 bad, and the newest replacement takes its place.
        t.failed(addr(0), later);
        t.failed(addr(0), later);
        let ids: Vec<NodeId> = t.entries().map(|e| e.id).collect();
        assert!(!ids.contains(&far(0)));
        assert!(ids.contains(&far(51)));
    }

    #[test]
    fn states_follow_last_seen_and_failures() {
        let now = Instant::now();
        let mut t = RoutingTable::new(NodeId([0; 20]), Family::V4, now);
        t.heard_from(NodeId([0xff; 20]), addr(1), now);
        let e = t.entries().next().cloned().expect("entry");
        assert_eq!(e.state(now), NodeState::Good);
        assert_eq!(e.state(now + GOOD_FOR), NodeState::Questionable);
        assert_eq!(t.questionable(now + GOOD_FOR), vec![addr(1)]);
        t.failed(addr(1), now);
        t.failed(addr(1), now);
        assert!(t.closest(&NodeId([0; 20]), 8, now).is_empty());
        // Hearing from it again makes it good.
        t.heard_from(NodeId([0xff; 20]), addr(1), now);
        assert_eq!(t.closest(&NodeId([0; 20]), 8, now).len(), 1);
    }

    #[test]
    fn own_id_rejected_and_address_reuse_replaces() {
        let now = Instant::now();
        let own = NodeId([3; 20]);
        let mut t = RoutingTable::new(own, Family::V4, now);
        assert_eq!(t.heard_from(own, addr(1), now), Insert::Rejected);
        // The IPv4 table takes no IPv6 node.
        let v6: SocketAddr = "[::1]:6881".parse().expect("addr");
        assert_eq!(t.heard_from(NodeId([9; 20]), v6, now), Insert::Rejected);
        t.heard_from(NodeId([4; 20]), addr(1), now);
        t.heard_from(NodeId([5; 20]), addr(1), now);
        assert_eq!(t.len(), 1);
        assert_eq!(t.entries().next().map(|e| e.id), Some(NodeId([5; 20])));
    }

    #[test]
    fn stale_buckets_give_targets_inside_them() {
        let now = Instant::now();
        let own = NodeId::random();
        let mut t = RoutingTable::new(own, Family::V4, now);
        for i in 0..200 {
            t.heard_from(NodeId::random(), addr(i), now);
        }
        assert!(t.stale_targets(Duration::from_secs(900), now).is_empty());
        let later = now + Duration::from_secs(901);
        let targets = t.stale_targets(Duration::from_secs(900), later);
        assert_eq!(targets.len(), t.bucket_count());
        for (i, target) in targets.iter().enumerate() {
            assert_eq!(t.bucket_index(target), i);
        }
        assert!(t.stale_targets(Duration::from_secs(900), later).is_empty());
    }
}
