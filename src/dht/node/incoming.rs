//! What the node does with a datagram that arrives: queries are answered within the replies
//! budget (and their senders verified before they may enter the table), responses and
//! errors move the lookup that asked.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use crate::protocol::krpc::{Body, CompactNode, Krpc, NodeId, Query, Response};

use super::*;

impl Node {
    /// One datagram from `from`. Never panics; anything malformed or over budget is dropped.
    pub(crate) fn handle(&mut self, buf: &[u8], from: SocketAddr, now: Instant) {
        let SocketAddr::V4(from) = from else {
            return;
        };
        if !self.limiter.allow(IpAddr::V4(*from.ip()), now) {
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
                let class = if self.table.contains(&id, from) {
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
                    && self.table.has_room(&id, now)
                    && !self.pending.values().any(|p| p.addr == from)
                {
                    self.send_query(from, Query::Ping, Purpose::Ping, Charge::Replies, now);
                }
            }
            Body::Response { id, r } => self.on_response(&msg.tid, from, id, r, now),
            Body::Error { .. } => {
                if let Some(p) = self.take_pending(&msg.tid, from) {
                    if let Purpose::Lookup(sid) = p.purpose {
                        if let Some(s) = self.searches.get_mut(&sid) {
                            s.lookup.failed(from);
                        }
                        self.step(sid, now);
                    }
                }
            }
        }
    }

    fn take_pending(&mut self, tid: &[u8], from: SocketAddrV4) -> Option<Pending> {
        let tid = u16::from_be_bytes(<[u8; 2]>::try_from(tid).ok()?);
        if self.pending.get(&tid)?.addr != from {
            return None;
        }
        self.pending.remove(&tid)
    }

    fn on_response(
        &mut self,
        tid: &[u8],
        from: SocketAddrV4,
        id: NodeId,
        r: Response,
        now: Instant,
    ) {
        let Some(p) = self.take_pending(tid, from) else {
            return;
        };
        if let Insert::Full(Some(q)) = self.table.heard_from(id, from, now) {
            if !self.pending.values().any(|p| p.addr == q) {
                self.ping(q, now);
            }
        }
        if let Purpose::Lookup(sid) = p.purpose {
            if let Some(s) = self.searches.get_mut(&sid) {
                // Our own id in a reply is our own past address: never worth a query.
                let own = self.cfg.id;
                let nodes: Vec<CompactNode> = r.nodes.into_iter().filter(|n| n.id != own).collect();
                let fresh = s.lookup.answered(from, id, &nodes, &r.values, r.token);
                if let Some(tx) = &s.peers {
                    for peer in fresh {
                        let _ = tx.send(SocketAddr::V4(peer));
                    }
                }
            }
            self.step(sid, now);
        }
    }

    fn answer(&mut self, tid: &[u8], from: SocketAddrV4, q: Query, class: Class, now: Instant) {
        let ip = IpAddr::V4(*from.ip());
        let body = match q {
            Query::Ping => reply(self.cfg.id, Response::default()),
            Query::FindNode { target } => reply(
                self.cfg.id,
                Response {
                    nodes: self.table.closest(&target, K, now),
                    ..Response::default()
                },
            ),
            Query::GetPeers { info_hash } => reply(
                self.cfg.id,
                Response {
                    nodes: self.table.closest(&info_hash, K, now),
                    values: self.store.get(&info_hash, VALUES_PER_REPLY, now),
                    token: Some(self.tokens.issue(&ip, now)),
                },
            ),
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
                    self.store
                        .announce(info_hash, SocketAddrV4::new(*from.ip(), port), now);
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
        if !self.replies.spend(class, buf.len(), now) {
            self.stats.budget_dropped += 1;
            self.dropped.count(buf.len());
            return;
        }
        self.stats.answered += 1;
        self.out.push((buf, SocketAddr::V4(from)));
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
