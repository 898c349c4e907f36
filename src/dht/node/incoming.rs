//! What the node does with a datagram that arrives: queries are answered within the replies
//! budget (and their senders verified before they may enter the table), responses and
//! errors move the lookup that asked.

use std::net::SocketAddr;
use std::time::Instant;

use crate::protocol::krpc::{Body, CompactNode, Krpc, NodeId, Query, Response, Want};

use super::super::family::usable;
use super::*;

impl Node {
    /// One datagram from `from`. Never panics; anything malformed or over budget is dropped.
    pub(crate) fn handle(&mut self, buf: &[u8], from: SocketAddr, now: Instant) {
        // A family the node does not use gets no answer (we could not reach it anyway).
        let family = Family::of(&from);
        if !self.cfg.families.has(family) {
            return;
        }
        if !self.limiter.allow(from.ip(), now) {
            self.stats.rate_limited += 1;
            return;
        }
        let Ok(msg) = Krpc::decode(buf) else {
            self.stats.malformed += 1;
            return;
        };
        match msg.body {
            Body::Query {
                id,
                query,
                read_only,
            } => {
                let class = if self.tables[family.index()].contains(&id, from) {
                    Class::Known
                } else {
                    Class::Stranger
                };
                // An empty budget drops the query before any work: a flood costs a decode.
                if !self.replies.affords(class, SMALLEST_REPLY, now) {
                    self.stats.budget_dropped += 1;
                    self.dropped.count(SMALLEST_REPLY);
                    return;
                }
                self.answer(&msg.tid, from, query, class, now);
                // Verify before trusting: only a node that answers enters the table. Only
                // where the table has room for it (a flood of made-up ids mostly lands in
                // full buckets), and paid from the replies budget: the ping is sent because
                // of a stranger's datagram.
                if !read_only
                    && class == Class::Stranger
                    && id != self.cfg.id
                    && self.tables[family.index()].has_room(&id, now)
                    && !self.pending.values().any(|p| p.addr == from)
                {
                    self.send_query(from, Query::Ping, Purpose::Ping, Charge::Replies, now);
                }
            }
            Body::Response { id, r } => self.on_response(&msg.tid, from, (id, msg.ip), r, now),
            Body::Error { .. } => {
                if let Some(p) = self.take_pending(&msg.tid, from) {
                    // An error to a query we sent says where the node saw us too: a node that
                    // enforces BEP 42 (libtorrent's `dht_enforce_node_id`) answers every query
                    // from an id that does not fit our address with "invalid node ID" and
                    // that `ip`. Were only replies votes, a node with a random id among such
                    // nodes would never learn its address, and never be let in.
                    if let Some(us) = msg.ip {
                        self.vote_external(us.ip(), from.ip(), now);
                    }
                    if let Purpose::Lookup(sid) = p.purpose {
                        if let Some(l) = self.searches.get_mut(&sid).and_then(|s| s.lookup(family))
                        {
                            l.failed(from);
                        }
                        self.step(sid, now);
                    }
                }
            }
        }
    }

    fn take_pending(&mut self, tid: &[u8], from: SocketAddr) -> Option<Pending> {
        let tid = u16::from_be_bytes(<[u8; 2]>::try_from(tid).ok()?);
        if self.pending.get(&tid)?.addr != from {
            return None;
        }
        self.pending.remove(&tid)
    }

    fn on_response(
        &mut self,
        tid: &[u8],
        from: SocketAddr,
        (id, seen_us): (NodeId, Option<SocketAddr>),
        r: Response,
        now: Instant,
    ) {
        let Some(p) = self.take_pending(tid, from) else {
            return;
        };
        // BEP 42 `ip`: where the node saw us, one vote for our external address (only from
        // a node we asked, so no stranger's datagram can cast one).
        if let Some(us) = seen_us {
            self.vote_external(us.ip(), from.ip(), now);
        }
        let family = Family::of(&from);
        // BEP 42: a node whose id does not fit its address is still asked (its answer serves
        // the lookup) but never kept in the routing table.
        let fits =
            !self.cfg.enforce_node_id || crate::protocol::krpc::security::id_fits(&id, from.ip());
        let heard = if fits {
            self.table_mut(family).heard_from(id, from, now)
        } else {
            Insert::Rejected
        };
        if let Insert::Full(Some(q)) = heard {
            if !self.pending.values().any(|p| p.addr == q) {
                self.ping(q, now);
            }
        }
        if let Purpose::Lookup(sid) = p.purpose {
            if let Some(s) = self.searches.get_mut(&sid) {
                // Our own id in a reply is our own past address: never worth a query.
                let own = self.cfg.id;
                let keep = |n: &CompactNode| n.id != own && usable(&n.addr);
                let nodes: Vec<CompactNode> = r.nodes.into_iter().filter(keep).collect();
                let nodes6: Vec<CompactNode> = r.nodes6.into_iter().filter(keep).collect();
                // Each list feeds the lookup of its own family (the codec keeps them apart):
                // the one that asked, and the other when the search runs over both.
                let (mine, other) = match family {
                    Family::V4 => (&nodes, (Family::V6, &nodes6)),
                    Family::V6 => (&nodes6, (Family::V4, &nodes)),
                };
                if let Some(l) = s.lookup(other.0) {
                    for n in other.1 {
                        l.add(Some(n.id), n.addr);
                    }
                }
                if let Some(l) = s.lookup(family) {
                    let fresh = l.answered(from, id, mine, &r.values, r.token);
                    s.report(family, fresh);
                }
            }
            self.step(sid, now);
        }
    }

    /// The nodes closest to `target` that a querier from `family` asked for: BEP 32's
    /// `want`, or when it sent none, its own family's (`nodes` for IPv4, `nodes6` for IPv6).
    fn closest_for(
        &self,
        target: &NodeId,
        want: Want,
        family: Family,
        now: Instant,
    ) -> (Vec<CompactNode>, Vec<CompactNode>) {
        let want = if want.is_empty() {
            Want {
                n4: family == Family::V4,
                n6: family == Family::V6,
            }
        } else {
            want
        };
        let of = |f: Family, asked: bool| {
            if asked && self.cfg.families.has(f) {
                self.tables[f.index()].closest(target, K, now)
            } else {
                Vec::new()
            }
        };
        (of(Family::V4, want.n4), of(Family::V6, want.n6))
    }

    fn answer(&mut self, tid: &[u8], from: SocketAddr, q: Query, class: Class, now: Instant) {
        let ip = from.ip();
        let family = Family::of(&from);
        let body = match q {
            Query::Ping => reply(self.cfg.id, Response::default()),
            Query::FindNode { target, want } => {
                let (nodes, nodes6) = self.closest_for(&target, want, family, now);
                reply(
                    self.cfg.id,
                    Response {
                        nodes,
                        nodes6,
                        ..Response::default()
                    },
                )
            }
            Query::GetPeers { info_hash, want } => {
                let (nodes, nodes6) = self.closest_for(&info_hash, want, family, now);
                // Peers of the querier's own family: the ones it can connect to.
                let values = self.stores[family.index()].get(&info_hash, VALUES_PER_REPLY, now);
                reply(
                    self.cfg.id,
                    Response {
                        nodes,
                        nodes6,
                        values,
                        token: Some(self.tokens.issue(&ip, now)),
                    },
                )
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    error(203, "port 0")
                } else if !self.tokens.check(&token, &ip, now) {
                    error(203, "bad token")
                } else {
                    self.store(family)
                        .announce(info_hash, SocketAddr::new(ip, port), now);
                    reply(self.cfg.id, Response::default())
                }
            }
            Query::Other(_) => error(204, "Method Unknown"),
        };
        let msg = Krpc {
            tid: tid.to_vec(),
            version: Some(self.cfg.version.to_vec()),
            ip: Some(from),
            body,
        };
        let buf = msg.encode();
        let wire = buf.len() + family.extra_header();
        if !self.replies.spend(class, wire, now) {
            self.stats.budget_dropped += 1;
            self.dropped.count(wire);
            return;
        }
        self.stats.answered += 1;
        self.out.push((buf, from));
    }
}

fn reply(id: NodeId, r: Response) -> Body {
    Body::Response { id, r }
}

fn error(code: i64, message: &str) -> Body {
    Body::Error {
        code,
        message: message.to_string(),
    }
}
