//! The DHT node as a state machine without I/O: datagrams and clock ticks go in, datagrams
//! to send come out of `take_outgoing`. The tokio glue lives in `service.rs`; tests drive this
//! directly.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::protocol::krpc::{Body, CompactNode, Krpc, NodeId, Query};

use super::budget::{self, Bucket, Class, DropReport, Dropped};
use super::lookup::{self, Lookup};
use super::routing::{Insert, RoutingTable, K};
use super::store::{PeerStore, RateLimiter, StoreLimits, Tokens};

const PENDING_TIMEOUT: Duration = Duration::from_secs(4);
const STALE_BUCKET: Duration = Duration::from_secs(15 * 60);
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);
const BOOTSTRAP_RETRY_MIN: Duration = Duration::from_secs(5);
const BOOTSTRAP_RETRY_MAX: Duration = Duration::from_secs(5 * 60);
/// Peers put in one get_peers answer: keeps the datagram near 500 bytes.
const VALUES_PER_REPLY: usize = 50;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: NodeId,
    /// The `v` client string: two letters and two version bytes.
    pub version: [u8; 4],
    /// Queries in flight per lookup (BEP 5's alpha).
    pub alpha: usize,
    /// Queries in flight in total; when full, lookups wait.
    pub max_pending: usize,
    pub max_lookups: usize,
    /// Per source address: sustained datagrams per second and burst.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    pub rate_table: usize,
    pub store: StoreLimits,
    /// Bytes a second for everything sent because of a query we received: replies, errors,
    /// and the pings that verify a querying node (see `budget.rs`).
    pub reply_budget: u32,
}

impl NodeConfig {
    pub(crate) fn new(id: NodeId) -> NodeConfig {
        NodeConfig {
            id,
            version: *b"TU\x00\x01",
            alpha: 4,
            max_pending: 512,
            max_lookups: 64,
            rate_per_sec: 20.0,
            rate_burst: 50.0,
            rate_table: 4096,
            store: StoreLimits::default(),
            reply_budget: budget::DEFAULT_REPLY_BUDGET,
        }
    }
}

/// Counters and sizes, for the header and for the memory checks in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhtStats {
    pub nodes: usize,
    pub routing_entries: usize,
    pub buckets: usize,
    pub pending: usize,
    pub lookups: usize,
    pub stored_hashes: usize,
    pub stored_peers: usize,
    pub limiter_entries: usize,
    pub answered: u64,
    pub rate_limited: u64,
    pub malformed: u64,
    /// Queries left unanswered for the replies budget (the verifying pings it dropped are
    /// in the log's count only, so every query is counted once).
    pub budget_dropped: u64,
}

/// Which budget a query we send is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charge {
    Own,
    /// A ping verifying a node that queried us: sent because of a stranger's datagram.
    Replies,
}

/// The smallest reply (a ping's): a bucket that cannot pay for it drops the query unread.
const SMALLEST_REPLY: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Ping,
    Lookup(u64),
    Announce,
}

struct Pending {
    addr: SocketAddrV4,
    sent: Instant,
    purpose: Purpose,
}

struct Search {
    lookup: Lookup,
    get_peers: bool,
    announce_port: Option<u16>,
    peers: Option<UnboundedSender<SocketAddr>>,
}

pub(crate) struct Node {
    cfg: NodeConfig,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    limiter: RateLimiter,
    pending: HashMap<u16, Pending>,
    next_tid: u16,
    searches: HashMap<u64, Search>,
    next_search: u64,
    bootstrap: Vec<SocketAddrV4>,
    /// The running self-lookup, and when to try again while the table stays nearly empty.
    self_search: Option<u64>,
    bootstrap_retry: Duration,
    next_bootstrap: Instant,
    last_maintenance: Instant,
    out: Vec<(Vec<u8>, SocketAddr)>,
    stats: DhtStats,
    replies: Bucket,
    own: Bucket,
    dropped: DropReport,
}

impl Node {
    pub(crate) fn new(cfg: NodeConfig, now: Instant) -> Node {
        Node {
            table: RoutingTable::new(cfg.id, now),
            tokens: Tokens::new(now),
            store: PeerStore::new(cfg.store),
            limiter: RateLimiter::new(cfg.rate_per_sec, cfg.rate_burst, cfg.rate_table),
            pending: HashMap::new(),
            next_tid: rand::random(),
            searches: HashMap::new(),
            next_search: 0,
            bootstrap: Vec::new(),
            self_search: None,
            bootstrap_retry: BOOTSTRAP_RETRY_MIN,
            next_bootstrap: now,
            last_maintenance: now,
            out: Vec::new(),
            stats: DhtStats::default(),
            replies: Bucket::new(cfg.reply_budget, now),
            own: Bucket::new(budget::OWN_QUERIES_PER_SEC, now),
            dropped: DropReport::new(),
            cfg,
        }
    }

    pub(crate) fn id(&self) -> NodeId {
        self.cfg.id
    }

    #[cfg(test)]
    pub(crate) fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// Datagrams to send since the last call.
    pub(crate) fn take_outgoing(&mut self) -> Vec<(Vec<u8>, SocketAddr)> {
        std::mem::take(&mut self.out)
    }

    /// What the replies budget dropped since the last report, at most once a minute (for
    /// the log), with the budget in bytes a second.
    pub(crate) fn budget_report(&mut self, now: Instant) -> Option<(Dropped, u32)> {
        Some((self.dropped.take(now)?, self.replies.per_sec()))
    }

    pub(crate) fn stats(&self) -> DhtStats {
        DhtStats {
            nodes: self.table.len(),
            routing_entries: self.table.total_entries(),
            buckets: self.table.bucket_count(),
            pending: self.pending.len(),
            lookups: self.searches.len(),
            stored_hashes: self.store.hashes(),
            stored_peers: self.store.peers(),
            limiter_entries: self.limiter.len(),
            ..self.stats.clone()
        }
    }

    /// Joins the network through `seeds` (routers or saved nodes): a lookup of our own id,
    /// repeated by `tick` while the table is nearly empty.
    pub(crate) fn bootstrap(&mut self, seeds: Vec<SocketAddrV4>, now: Instant) {
        self.bootstrap = seeds;
        self.bootstrap.truncate(64);
        self.self_lookup(now);
    }

    fn self_lookup(&mut self, now: Instant) {
        let seeds = self.bootstrap.clone();
        let own = self.cfg.id;
        self.self_search = self.start(own, false, None, None, &seeds, now);
        self.next_bootstrap = now + self.bootstrap_retry;
        self.bootstrap_retry = (self.bootstrap_retry * 2).min(BOOTSTRAP_RETRY_MAX);
    }

    /// Starts an iterative get_peers lookup. Every new peer goes to `peers` as it is found;
    /// the sender is dropped when the lookup ends (after announcing to the closest nodes that
    /// gave a token, when `announce_port` is set). None when too many lookups run.
    pub(crate) fn get_peers(
        &mut self,
        info_hash: NodeId,
        announce_port: Option<u16>,
        peers: UnboundedSender<SocketAddr>,
        now: Instant,
    ) -> Option<u64> {
        self.start(info_hash, true, announce_port, Some(peers), &[], now)
    }

    pub(crate) fn find_node(&mut self, target: NodeId, now: Instant) -> Option<u64> {
        self.start(target, false, None, None, &[], now)
    }

    fn start(
        &mut self,
        target: NodeId,
        get_peers: bool,
        announce_port: Option<u16>,
        peers: Option<UnboundedSender<SocketAddr>>,
        seeds: &[SocketAddrV4],
        now: Instant,
    ) -> Option<u64> {
        if self.searches.len() >= self.cfg.max_lookups {
            return None;
        }
        let mut lookup = Lookup::new(target, self.cfg.alpha, now);
        for n in self.table.closest(&target, K * 2, now) {
            lookup.add(Some(n.id), n.addr);
        }
        for s in seeds {
            lookup.add(None, *s);
        }
        // Peers announced to us count too: the lookup may never ask ourselves.
        if let Some(tx) = &peers {
            let mut own = self.store.get(&target, lookup::MAX_PEERS, now);
            own.retain(|p| lookup.note_peer(*p));
            for p in own {
                let _ = tx.send(SocketAddr::V4(p));
            }
        }
        let sid = self.next_search;
        self.next_search += 1;
        self.searches.insert(
            sid,
            Search {
                lookup,
                get_peers,
                announce_port,
                peers,
            },
        );
        self.step(sid, now);
        Some(sid)
    }

    /// Sends what a search may send now; finishes it when it is done.
    fn step(&mut self, sid: u64, now: Instant) {
        let Some(s) = self.searches.get_mut(&sid) else {
            return;
        };
        let mut to_ask = Vec::new();
        while let Some(addr) = s.lookup.next_query() {
            to_ask.push(addr);
        }
        let target = s.lookup.target;
        let query = if s.get_peers {
            Query::GetPeers { info_hash: target }
        } else {
            Query::FindNode { target }
        };
        for addr in to_ask {
            if !self.send_query(addr, query.clone(), Purpose::Lookup(sid), Charge::Own, now) {
                if let Some(s) = self.searches.get_mut(&sid) {
                    s.lookup.unsend(addr);
                }
            }
        }
        let finished = self
            .searches
            .get(&sid)
            .is_some_and(|s| s.lookup.is_finished(now));
        if !finished {
            return;
        }
        let Some(s) = self.searches.remove(&sid) else {
            return;
        };
        if let Some(port) = s.announce_port {
            for (addr, token) in s.lookup.announce_targets() {
                let q = Query::AnnouncePeer {
                    info_hash: target,
                    port,
                    implied_port: false,
                    token,
                };
                self.send_query(addr, q, Purpose::Announce, Charge::Own, now);
            }
        }
    }

    pub(crate) fn ping(&mut self, addr: SocketAddrV4, now: Instant) -> bool {
        self.send_query(addr, Query::Ping, Purpose::Ping, Charge::Own, now)
    }

    fn send_query(
        &mut self,
        addr: SocketAddrV4,
        query: Query,
        purpose: Purpose,
        charge: Charge,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= self.cfg.max_pending {
            return false;
        }
        let mut tid = self.next_tid;
        while self.pending.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        self.next_tid = tid.wrapping_add(1);
        let msg = Krpc {
            tid: tid.to_be_bytes().to_vec(),
            version: Some(self.cfg.version.to_vec()),
            ip: None,
            body: Body::Query {
                id: self.cfg.id,
                query,
                read_only: false,
            },
        };
        let buf = msg.encode();
        let paid = match charge {
            Charge::Own => self.own.spend(Class::Known, buf.len(), now),
            Charge::Replies => self.replies.spend(Class::Stranger, buf.len(), now),
        };
        if !paid {
            if charge == Charge::Replies {
                self.dropped.count(buf.len());
            }
            return false;
        }
        self.out.push((buf, SocketAddr::V4(addr)));
        self.pending.insert(
            tid,
            Pending {
                addr,
                sent: now,
                purpose,
            },
        );
        true
    }

    /// Timeouts and upkeep; call about once a second.
    pub(crate) fn tick(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= PENDING_TIMEOUT)
            .map(|(t, _)| *t)
            .collect();
        let mut touched = Vec::new();
        for tid in expired {
            if let Some(p) = self.pending.remove(&tid) {
                self.table.failed(p.addr, now);
                if let Purpose::Lookup(sid) = p.purpose {
                    if let Some(s) = self.searches.get_mut(&sid) {
                        s.lookup.failed(p.addr);
                    }
                    touched.push(sid);
                }
            }
        }
        // Searches waiting for room in the pending table, or past their age, move on too.
        touched.extend(self.searches.keys().copied());
        touched.sort_unstable();
        touched.dedup();
        for sid in touched {
            self.step(sid, now);
        }
        // Nearly alone: ask the bootstrap nodes again, backing off from 5 s to 5 minutes.
        if self.table.len() >= K {
            self.bootstrap_retry = BOOTSTRAP_RETRY_MIN;
        } else if !self.bootstrap.is_empty()
            && now >= self.next_bootstrap
            && !self
                .self_search
                .is_some_and(|s| self.searches.contains_key(&s))
        {
            self.self_lookup(now);
        }
        if now.saturating_duration_since(self.last_maintenance) >= MAINTENANCE_EVERY {
            self.last_maintenance = now;
            self.maintain(now);
        }
    }

    fn maintain(&mut self, now: Instant) {
        self.store.expire(now);
        self.limiter.forget_idle(now);
        for addr in self.table.questionable(now).into_iter().take(K) {
            self.ping(addr, now);
        }
        for target in self.table.stale_targets(STALE_BUCKET, now) {
            self.find_node(target, now);
        }
    }

    /// Nodes worth saving: the good and questionable ones.
    pub(crate) fn nodes_to_save(&self, now: Instant) -> Vec<CompactNode> {
        self.table.closest(&self.cfg.id, 1000, now)
    }
}

mod incoming;

#[cfg(test)]
mod tests;
