//! The DHT node as a state machine without I/O: datagrams and clock ticks go in, datagrams
//! to send come out of `take_outgoing`. The tokio glue lives in `service.rs`; tests drive this
//! directly.
//!
//! IPv4 and IPv6 (BEP 32): one routing table, one peer store and one bootstrap per family
//! (`family.rs`), only for the families in `NodeConfig::families`. A lookup runs over every
//! family it was started for at once (one `Lookup` each, fed by `nodes` and `nodes6`), and
//! its peers and announces are merged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::protocol::krpc::{Body, CompactNode, Krpc, NodeId, Query};

use super::budget::{self, Bucket, Class, DropReport, Dropped};
use super::family::{Families, Family};
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
    /// The address families the node may use; nothing is sent or accepted in the others.
    pub families: Families,
    /// BEP 42, as libtorrent's `dht_enforce_node_id`: a node whose id does not fit the
    /// address it answers from is kept out of the routing tables (local addresses exempt).
    pub enforce_node_id: bool,
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
            families: Families::V4_ONLY,
            enforce_node_id: true,
        }
    }
}

/// Counters and sizes, for the header and for the memory checks in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhtStats {
    /// Nodes of the IPv4 routing table.
    pub nodes: usize,
    /// Nodes of the IPv6 routing table (BEP 32); 0 when the node has no IPv6.
    pub nodes6: usize,
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

impl DhtStats {
    /// Nodes of both tables: what a lookup can start from, whatever the family.
    pub fn all_nodes(&self) -> usize {
        self.nodes + self.nodes6
    }
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
    addr: SocketAddr,
    sent: Instant,
    purpose: Purpose,
}

struct Search {
    target: NodeId,
    /// One lookup per family the search runs over, indexed by `Family::index`.
    lookups: [Option<Lookup>; 2],
    get_peers: bool,
    announce_port: Option<u16>,
    peers: Option<UnboundedSender<SocketAddr>>,
}

impl Search {
    fn lookup(&mut self, f: Family) -> Option<&mut Lookup> {
        self.lookups[f.index()].as_mut()
    }

    fn is_finished(&self, now: Instant) -> bool {
        self.lookups.iter().flatten().all(|l| l.is_finished(now))
    }

    /// Reports the peers `from`'s lookup found new, unless another family's lookup already
    /// reported them (each lookup keeps its own set; a peer is new only to both).
    fn report(&mut self, from: Family, fresh: Vec<SocketAddr>) {
        let Some(tx) = &self.peers else {
            return;
        };
        for peer in fresh {
            let new_to_others = Family::ALL.into_iter().filter(|f| *f != from).all(|f| {
                self.lookups[f.index()]
                    .as_mut()
                    .is_none_or(|l| l.note_peer(peer))
            });
            if new_to_others {
                let _ = tx.send(peer);
            }
        }
    }
}

/// One family's way into the network: its seeds, its running self-lookup, and when to try
/// again while its table stays nearly empty.
struct Boot {
    seeds: Vec<SocketAddr>,
    search: Option<u64>,
    retry: Duration,
    next: Instant,
}

impl Boot {
    fn new(now: Instant) -> Boot {
        Boot {
            seeds: Vec::new(),
            search: None,
            retry: BOOTSTRAP_RETRY_MIN,
            next: now,
        }
    }
}

pub(crate) struct Node {
    cfg: NodeConfig,
    /// One routing table per family, indexed by `Family::index`.
    tables: [RoutingTable; 2],
    tokens: Tokens,
    /// One peer store per family: an IPv4 querier gets IPv4 peers, an IPv6 one IPv6 peers.
    stores: [PeerStore; 2],
    limiter: RateLimiter,
    pending: HashMap<u16, Pending>,
    next_tid: u16,
    searches: HashMap<u64, Search>,
    next_search: u64,
    boot: [Boot; 2],
    last_maintenance: Instant,
    out: Vec<(Vec<u8>, SocketAddr)>,
    stats: DhtStats,
    replies: Bucket,
    own: Bucket,
    dropped: DropReport,
    /// Votes for our external address (BEP 42): each candidate with the distinct addresses
    /// that said it, at most `VOTE_CANDIDATES` of them and `EXTERNAL_VOTES` voters each.
    votes: Vec<(std::net::IpAddr, Vec<std::net::IpAddr>)>,
    /// Our external address once voted or told (BEP 42), for the log.
    external: Option<std::net::IpAddr>,
}

/// Distinct voters that must name the same external address before our id follows it: one
/// peer or node that lies cannot move us (libtorrent's `ip_voter` also waits for several).
pub(crate) const EXTERNAL_VOTES: usize = 3;
/// Candidate addresses voted on at once; a new one past this replaces the least voted.
const VOTE_CANDIDATES: usize = 16;

impl Node {
    pub(crate) fn new(cfg: NodeConfig, now: Instant) -> Node {
        Node {
            tables: [
                RoutingTable::new(cfg.id, Family::V4, now),
                RoutingTable::new(cfg.id, Family::V6, now),
            ],
            tokens: Tokens::new(now),
            stores: [PeerStore::new(cfg.store), PeerStore::new(cfg.store)],
            limiter: RateLimiter::new(cfg.rate_per_sec, cfg.rate_burst, cfg.rate_table),
            pending: HashMap::new(),
            next_tid: rand::random(),
            searches: HashMap::new(),
            next_search: 0,
            boot: [Boot::new(now), Boot::new(now)],
            last_maintenance: now,
            out: Vec::new(),
            stats: DhtStats::default(),
            replies: Bucket::new(cfg.reply_budget, now),
            own: Bucket::new(budget::OWN_QUERIES_PER_SEC, now),
            dropped: DropReport::new(),
            votes: Vec::new(),
            external: None,
            cfg,
        }
    }

    pub(crate) fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// `voter` (a node that answered us, a peer's `yourip`, a tracker) says we are at `ip`.
    /// Once `EXTERNAL_VOTES` distinct voters agree, `set_external` takes it; true when our
    /// id changed. Bounded: `VOTE_CANDIDATES` candidates of `EXTERNAL_VOTES` voters each.
    pub(crate) fn vote_external(
        &mut self,
        ip: std::net::IpAddr,
        voter: std::net::IpAddr,
        now: Instant,
    ) -> bool {
        let ip = ip.to_canonical();
        if ip.is_unspecified() || crate::protocol::krpc::security::is_local(ip) {
            return false;
        }
        let at = match self.votes.iter().position(|(c, _)| *c == ip) {
            Some(at) => at,
            None => {
                if self.votes.len() >= VOTE_CANDIDATES {
                    let least = self
                        .votes
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, v))| v.len())
                        .map_or(0, |(i, _)| i);
                    self.votes.swap_remove(least);
                }
                self.votes.push((ip, Vec::new()));
                self.votes.len() - 1
            }
        };
        let Some((_, voters)) = self.votes.get_mut(at) else {
            return false;
        };
        if !voters.contains(&voter) && voters.len() < EXTERNAL_VOTES {
            voters.push(voter);
        }
        if voters.len() < EXTERNAL_VOTES {
            return false;
        }
        self.set_external(ip, now)
    }

    /// Our external address, as a tracker or a peer saw it. When our id does not fit it
    /// (BEP 42), a fitting one is made and the routing tables rebuilt around it (their
    /// buckets are reckoned from our id), keeping every node; true when the id changed. A
    /// local address says nothing about how the internet sees us: ignored.
    pub(crate) fn set_external(&mut self, ip: std::net::IpAddr, now: Instant) -> bool {
        use crate::protocol::krpc::security;
        if security::is_local(ip) {
            return false;
        }
        self.external = Some(ip);
        if security::id_fits(&self.cfg.id, ip) {
            return false;
        }
        self.cfg.id = security::id_for(ip, rand::random());
        for f in Family::ALL {
            let old = std::mem::replace(
                &mut self.tables[f.index()],
                RoutingTable::new(self.cfg.id, f, now),
            );
            for e in old.entries() {
                let _ = self.tables[f.index()].heard_from(e.id, e.addr, e.last_seen);
            }
        }
        // Nodes that enforce BEP 42 answered the old id with errors only, so the table may
        // be empty and the bootstrap backing off: join again at the next tick with the id
        // they accept, not minutes later.
        for b in &mut self.boot {
            b.retry = BOOTSTRAP_RETRY_MIN;
            b.next = now;
        }
        true
    }

    /// Our external address as last voted or told (BEP 42), if any.
    pub(crate) fn external(&self) -> Option<std::net::IpAddr> {
        self.external
    }

    #[cfg(test)]
    pub(crate) fn table(&self, f: Family) -> &RoutingTable {
        &self.tables[f.index()]
    }

    fn table_mut(&mut self, f: Family) -> &mut RoutingTable {
        &mut self.tables[f.index()]
    }

    fn store(&mut self, f: Family) -> &mut PeerStore {
        &mut self.stores[f.index()]
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
            nodes: self.tables[Family::V4.index()].len(),
            nodes6: self.tables[Family::V6.index()].len(),
            routing_entries: self.tables.iter().map(RoutingTable::total_entries).sum(),
            buckets: self.tables.iter().map(RoutingTable::bucket_count).sum(),
            pending: self.pending.len(),
            lookups: self.searches.len(),
            stored_hashes: self.stores.iter().map(PeerStore::hashes).sum(),
            stored_peers: self.stores.iter().map(PeerStore::peers).sum(),
            limiter_entries: self.limiter.len(),
            ..self.stats.clone()
        }
    }

    /// Joins the network through `seeds` (routers or saved nodes, of either family; those
    /// of a family the node does not use are dropped): a lookup of our own id over every
    /// family, then, per family, again by `tick` while its table is nearly empty.
    pub(crate) fn bootstrap(&mut self, seeds: Vec<SocketAddr>, now: Instant) {
        for b in &mut self.boot {
            b.seeds.clear();
        }
        for s in seeds {
            let f = Family::of(&s);
            let b = &mut self.boot[f.index()];
            if self.cfg.families.has(f) && b.seeds.len() < 64 {
                b.seeds.push(s);
            }
        }
        self.self_lookup(self.cfg.families, now);
    }

    fn self_lookup(&mut self, families: Families, now: Instant) {
        let seeds: Vec<SocketAddr> = families
            .iter()
            .flat_map(|f| self.boot[f.index()].seeds.clone())
            .collect();
        let own = self.cfg.id;
        let sid = self.start(own, false, None, None, &seeds, families, now);
        for f in families.iter() {
            let b = &mut self.boot[f.index()];
            b.search = sid;
            b.next = now + b.retry;
            b.retry = (b.retry * 2).min(BOOTSTRAP_RETRY_MAX);
        }
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
        let families = self.cfg.families;
        self.start(
            info_hash,
            true,
            announce_port,
            Some(peers),
            &[],
            families,
            now,
        )
    }

    /// A find_node lookup over `families` (those the node uses among them).
    pub(crate) fn find_node(
        &mut self,
        target: NodeId,
        families: Families,
        now: Instant,
    ) -> Option<u64> {
        self.start(target, false, None, None, &[], families, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        target: NodeId,
        get_peers: bool,
        announce_port: Option<u16>,
        peers: Option<UnboundedSender<SocketAddr>>,
        seeds: &[SocketAddr],
        families: Families,
        now: Instant,
    ) -> Option<u64> {
        if self.searches.len() >= self.cfg.max_lookups {
            return None;
        }
        let mut lookups: [Option<Lookup>; 2] = [None, None];
        for f in families.iter().filter(|f| self.cfg.families.has(*f)) {
            let mut lookup = Lookup::new(target, self.cfg.alpha, now);
            for n in self.tables[f.index()].closest(&target, K * 2, now) {
                lookup.add(Some(n.id), n.addr);
            }
            lookups[f.index()] = Some(lookup);
        }
        if lookups.iter().all(Option::is_none) {
            return None;
        }
        let mut search = Search {
            target,
            lookups,
            get_peers,
            announce_port,
            peers,
        };
        for s in seeds {
            if let Some(l) = search.lookup(Family::of(s)) {
                l.add(None, *s);
            }
        }
        // Peers announced to us count too: the lookup may never ask ourselves.
        if search.peers.is_some() {
            for f in Family::ALL {
                let mut own = self.stores[f.index()].get(&target, lookup::MAX_PEERS, now);
                if let Some(l) = search.lookup(f) {
                    own.retain(|p| l.note_peer(*p));
                    search.report(f, own);
                }
            }
        }
        let sid = self.next_search;
        self.next_search += 1;
        self.searches.insert(sid, search);
        self.step(sid, now);
        Some(sid)
    }

    /// Sends what a search may send now; finishes it when it is done.
    fn step(&mut self, sid: u64, now: Instant) {
        let Some(s) = self.searches.get_mut(&sid) else {
            return;
        };
        let mut to_ask = Vec::new();
        for l in s.lookups.iter_mut().flatten() {
            while let Some(addr) = l.next_query() {
                to_ask.push(addr);
            }
        }
        let target = s.target;
        // Over both families, ask for both: an answer from either feeds both lookups.
        let want = if s.lookups.iter().all(Option::is_some) {
            self.cfg.families.want()
        } else {
            crate::protocol::krpc::Want::NONE
        };
        let query = if s.get_peers {
            Query::GetPeers {
                info_hash: target,
                want,
            }
        } else {
            Query::FindNode { target, want }
        };
        for addr in to_ask {
            if !self.send_query(addr, query.clone(), Purpose::Lookup(sid), Charge::Own, now) {
                if let Some(l) = self
                    .searches
                    .get_mut(&sid)
                    .and_then(|s| s.lookup(Family::of(&addr)))
                {
                    l.unsend(addr);
                }
            }
        }
        let finished = self.searches.get(&sid).is_some_and(|s| s.is_finished(now));
        if !finished {
            return;
        }
        let Some(s) = self.searches.remove(&sid) else {
            return;
        };
        if let Some(port) = s.announce_port {
            // The closest nodes of each family: BEP 32 announces in both.
            let targets = s
                .lookups
                .iter()
                .flatten()
                .flat_map(Lookup::announce_targets);
            for (addr, token) in targets.collect::<Vec<_>>() {
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

    pub(crate) fn ping(&mut self, addr: SocketAddr, now: Instant) -> bool {
        self.send_query(addr, Query::Ping, Purpose::Ping, Charge::Own, now)
    }

    /// Sends a query to `addr` and remembers it; false when it was not sent (the pending
    /// table or the budget is full, or `addr` is of a family the node does not use).
    fn send_query(
        &mut self,
        addr: SocketAddr,
        query: Query,
        purpose: Purpose,
        charge: Charge,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= self.cfg.max_pending || !self.cfg.families.has(Family::of(&addr)) {
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
        let wire = buf.len() + Family::of(&addr).extra_header();
        let paid = match charge {
            Charge::Own => self.own.spend(Class::Known, wire, now),
            Charge::Replies => self.replies.spend(Class::Stranger, wire, now),
        };
        if !paid {
            if charge == Charge::Replies {
                self.dropped.count(wire);
            }
            return false;
        }
        self.out.push((buf, addr));
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
                let f = Family::of(&p.addr);
                self.table_mut(f).failed(p.addr, now);
                if let Purpose::Lookup(sid) = p.purpose {
                    if let Some(l) = self.searches.get_mut(&sid).and_then(|s| s.lookup(f)) {
                        l.failed(p.addr);
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
        // Nearly alone in a family: ask its bootstrap nodes again, backing off from 5 s to
        // 5 minutes. A family without seeds fills from the other's `nodes6`/`nodes` instead.
        for f in self.cfg.families.iter() {
            let alone = self.tables[f.index()].len() < K;
            let b = &mut self.boot[f.index()];
            if !alone {
                b.retry = BOOTSTRAP_RETRY_MIN;
            } else if !b.seeds.is_empty()
                && now >= b.next
                && !b.search.is_some_and(|s| self.searches.contains_key(&s))
            {
                self.self_lookup(Families::only(f), now);
            }
        }
        if now.saturating_duration_since(self.last_maintenance) >= MAINTENANCE_EVERY {
            self.last_maintenance = now;
            self.maintain(now);
        }
    }

    fn maintain(&mut self, now: Instant) {
        for s in &mut self.stores {
            s.expire(now);
        }
        self.limiter.forget_idle(now);
        for f in self.cfg.families.iter() {
            for addr in self.tables[f.index()].questionable(now).into_iter().take(K) {
                self.ping(addr, now);
            }
            for target in self.table_mut(f).stale_targets(STALE_BUCKET, now) {
                self.find_node(target, Families::only(f), now);
            }
        }
    }

    /// Nodes worth saving: the good and questionable ones, IPv4 then IPv6, each family
    /// closest to our id first.
    pub(crate) fn nodes_to_save(&self, now: Instant) -> Vec<CompactNode> {
        self.tables
            .iter()
            .flat_map(|t| t.closest(&self.cfg.id, 1000, now))
            .collect()
    }
}

mod incoming;

#[cfg(test)]
mod tests;
