//! The peers one torrent knows: one entry per address (`peer_entry.rs`), with its connection
//! plan (when to dial it again, or never) and the totals of its earlier connections.
//!
//! Invariants:
//! 1. An entry's connection part is `Some` exactly while a peer task runs for it; the plan
//!    says what happens once it ends (and is only acted on when there is none).
//! 2. Entries per source are bounded (`MAX_PER_SOURCE`): a tracker or a swarm listing hundreds
//!    of thousands of addresses costs a bounded table. Known-useful entries are never evicted
//!    to make room; gone, never-connected ones are, and beyond that new addresses are refused.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::engine::api::{PeerEnd, PeerSource};
#[cfg(test)]
use crate::engine::torrent::peer_entry::{plan_after_end, MAX_ATTEMPTS};
pub(crate) use crate::engine::torrent::peer_entry::{PeerEntry, Plan, DROP_COOL_DOWN};

/// A peer a tracker lists again, after it closed on us, is tried again this much later.
const RELISTED_RETRY: Duration = Duration::from_secs(30);
/// Entries kept per source: enough for any real swarm's reachable part, small in memory.
pub(crate) const MAX_PER_SOURCE: usize = 3000;
/// Dials a seeding torrent starts per coordinator tick (4 a second).
pub(crate) const SEED_DIALS_PER_TICK: usize = 1;
/// Failed and dropped rows stay visible this long, then go.
const KEEP_GONE: Duration = Duration::from_secs(600);
const MAX_GONE_ROWS: usize = 300;

/// Every peer of one torrent, by address.
#[derive(Default)]
pub(crate) struct PeerTable {
    peers: HashMap<SocketAddr, PeerEntry>,
    conns: HashMap<u64, SocketAddr>,
    next_conn: u64,
    /// Entries per source, kept so a huge tracker reply costs one pass, not one per address.
    per_source: HashMap<PeerSource, usize>,
    /// Where we listen, never taken as a peer.
    own: Option<OwnAddr>,
    /// Addresses the kernel has no route to are not taken (an IPv6 peer on a host without
    /// IPv6): off in a bare table, on in a torrent's unless a proxy dials for it.
    check_routes: bool,
    /// Addresses not taken for want of a route, for the explainer (bounded).
    unroutable: std::collections::HashSet<SocketAddr>,
    /// Our address as peers see it, for BEP 40 priorities: the external one once learned
    /// (`set_external`), else the address we listen on (as libtorrent falls back to its
    /// listen socket's); `None` (every priority equal) when that is a wildcard.
    me: Option<SocketAddr>,
}

/// Our own listening address. Our DHT announce comes back in the DHT's answers (and a tracker
/// may list us): dialing it costs a connection that only ends at our own handshake, and shows
/// as a failed peer. libtorrent and Transmission skip their own address too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnAddr {
    /// The address we listen on; `None` for every address.
    pub bind: Option<IpAddr>,
    pub port: u16,
}

impl OwnAddr {
    pub(crate) fn is(&self, addr: &SocketAddr) -> bool {
        addr.port() == self.port
            && match self.bind.filter(|ip| !ip.is_unspecified()) {
                Some(ip) => addr.ip() == ip,
                // Listening on every address: any loopback one reaches us, and no other
                // process can listen on that port there while we hold the wildcard.
                None => addr.ip().is_loopback() || addr.ip().is_unspecified(),
            }
    }
}

impl PeerTable {
    /// A table that never takes `own` as a peer (no filter when we do not listen: port 0).
    pub(crate) fn new(own: OwnAddr) -> PeerTable {
        let me = own
            .bind
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| SocketAddr::new(ip, own.port));
        PeerTable {
            own: (own.port != 0).then_some(own),
            me,
            ..PeerTable::default()
        }
    }

    /// Addresses listed that we have no route to (at most `MAX_PER_SOURCE`).
    pub(crate) fn unroutable(&self) -> usize {
        self.unroutable.len()
    }

    /// From now on, an address the kernel has no route to (an IPv6 peer on a host without
    /// IPv6) is not taken from any source, so nothing is tried where nothing can go.
    pub(crate) fn check_routes(&mut self) {
        self.check_routes = true;
    }

    /// Our external address, once a peer (`yourip`) or a tracker told it: BEP 40 priorities
    /// are reckoned from it from then on.
    pub(crate) fn set_external(&mut self, ip: IpAddr) {
        let port = self.me.map_or(self.own.map_or(0, |o| o.port), |m| m.port());
        self.me = Some(SocketAddr::new(ip, port));
    }

    /// BEP 40 canonical priority of a connection to `addr`: higher is kept and dialed first.
    /// 0 when our own address is unknown or of the other family.
    pub(crate) fn priority(&self, addr: &SocketAddr) -> u32 {
        self.me
            .and_then(|me| crate::protocol::peer_priority::peer_priority(me, *addr))
            .unwrap_or(0)
    }

    pub(crate) fn get(&self, addr: &SocketAddr) -> Option<&PeerEntry> {
        self.peers.get(addr)
    }

    pub(crate) fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut PeerEntry> {
        self.peers.get_mut(addr)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values()
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut PeerEntry> {
        self.peers.values_mut()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    pub(crate) fn active(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values().filter(|p| p.has_conn())
    }

    /// A fresh connection id, mapped to `addr` until `end_conn`.
    pub(crate) fn new_conn(&mut self, addr: SocketAddr) -> u64 {
        self.next_conn += 1;
        self.conns.insert(self.next_conn, addr);
        self.next_conn
    }

    /// The entry whose current connection is `conn`.
    pub(crate) fn by_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.get(&conn)?;
        let p = self.peers.get_mut(addr)?;
        (p.conn_id() == Some(conn)).then_some(p)
    }

    /// Forgets `conn` and returns its entry when the connection was still that entry's.
    pub(crate) fn end_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.remove(&conn)?;
        let p = self.peers.get_mut(&addr)?;
        (p.conn_id() == Some(conn)).then_some(p)
    }

    /// Adds the peers a source names and returns how many were new. Known addresses are left
    /// as they are (the caller may re-queue them with `relisted`); beyond the source's bound,
    /// gone entries of that source make room, and the rest of the list is dropped.
    pub(crate) fn add(
        &mut self,
        addrs: impl IntoIterator<Item = SocketAddr>,
        source: PeerSource,
        now: Instant,
    ) -> usize {
        let mut added = 0;
        let mut evictable: Option<Vec<SocketAddr>> = None;
        for addr in addrs {
            if self.peers.contains_key(&addr) || self.own.is_some_and(|o| o.is(&addr)) {
                continue;
            }
            if self.check_routes && !crate::net::route::reaches(addr.ip()) {
                if self.unroutable.len() < MAX_PER_SOURCE {
                    self.unroutable.insert(addr);
                }
                continue;
            }
            if self.count(source) >= MAX_PER_SOURCE {
                let victims = evictable.get_or_insert_with(|| self.evictable(source));
                match victims.pop() {
                    Some(v) => self.remove(&v),
                    None => break,
                }
            }
            self.insert(PeerEntry::new(addr, source, now));
            added += 1;
        }
        added
    }

    /// Entries just added from a hybrid's v2 swarm: they are dialed under its short v2 hash
    /// (`Known::v2_swarm`). Only for addresses that were new: one already listed in the main
    /// swarm, or one that dialed us, keeps the name that works.
    pub(crate) fn mark_v2_swarm(&mut self, fresh: &[SocketAddr]) {
        for addr in fresh {
            if let Some(p) = self.peers.get_mut(addr) {
                p.known.v2_swarm = true;
            }
        }
    }

    /// The entry for an incoming connection from `addr`, made when new.
    pub(crate) fn incoming_entry(
        &mut self,
        addr: SocketAddr,
        now: Instant,
    ) -> Option<&mut PeerEntry> {
        if !self.peers.contains_key(&addr) {
            self.add([addr], PeerSource::Incoming, now);
        }
        self.peers.get_mut(&addr)
    }

    fn count(&self, source: PeerSource) -> usize {
        self.per_source.get(&source).copied().unwrap_or(0)
    }

    fn insert(&mut self, p: PeerEntry) {
        *self.per_source.entry(p.source).or_default() += 1;
        self.peers.insert(p.addr, p);
    }

    fn remove(&mut self, addr: &SocketAddr) {
        if let Some(p) = self.peers.remove(addr) {
            if let Some(n) = self.per_source.get_mut(&p.source) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Gone entries of `source` that may give their place to new ones, in the order they
    /// should go (popped from the end): useful ones last, then the lowest BEP 40 priority
    /// first, then the longest gone first.
    fn evictable(&self, source: PeerSource) -> Vec<SocketAddr> {
        let mut v: Vec<(bool, u32, Instant, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| p.source == source && p.is_gone())
            .map(|p| {
                (
                    p.was_useful(),
                    self.priority(&p.addr),
                    p.stage_since(),
                    p.addr,
                )
            })
            .collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, _, _, a)| a).collect()
    }

    /// A source listed a peer we know again: one that left on its own may be tried again
    /// (while seeding, only one not known to be a seed: a leecher that went may need us).
    pub(crate) fn relisted(&mut self, addr: &SocketAddr, complete: bool, now: Instant) {
        let Some(p) = self.peers.get_mut(addr) else {
            return;
        };
        if !p.has_conn()
            && p.dial.plan == Plan::Resting
            && matches!(
                p.end(),
                Some(PeerEnd::ClosedByPeer | PeerEnd::Reset | PeerEnd::Idle)
            )
            && !(complete && p.known.seed)
        {
            p.dial.plan = Plan::BackingOff(now + RELISTED_RETRY);
        }
    }

    /// Addresses due for a dial, fewest attempts first, then the highest BEP 40 priority
    /// first: with more candidates than connection slots, the ones every client would pick
    /// for this pair of addresses are dialed (libtorrent orders its candidates the same way).
    pub(crate) fn due(&self, now: Instant) -> Vec<SocketAddr> {
        let mut due: Vec<(u32, std::cmp::Reverse<u32>, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| !p.has_conn() && p.dial.plan.due(now))
            .map(|p| {
                let prio = std::cmp::Reverse(self.priority(&p.addr));
                (p.dial.attempts, prio, p.addr)
            })
            .collect();
        due.sort_unstable();
        due.into_iter().map(|(_, _, a)| a).collect()
    }

    /// What to dial now: `due`, but a seeding torrent skips peers known to be seeds (they
    /// want nothing from us) and dials at most `SEED_DIALS_PER_TICK` at a time, so a seed
    /// that learns of a swarm's leechers reaches them without a burst of connections.
    pub(crate) fn to_dial(&self, now: Instant, seeding: bool, budget: usize) -> Vec<SocketAddr> {
        if !seeding {
            return self.due(now).into_iter().take(budget).collect();
        }
        self.due(now)
            .into_iter()
            .filter(|a| self.peers.get(a).is_some_and(|p| !p.known.seed))
            .take(budget.min(SEED_DIALS_PER_TICK))
            .collect()
    }

    /// Connections from this IP are refused (a ban or a drop matches by IP, as other clients
    /// do: libtorrent sends a new random peer id on every connection, so the id cannot
    /// recognise a peer that dials back from another port).
    pub(crate) fn refuses_ip(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        self.peers
            .values()
            .any(|p| p.addr.ip() == ip && p.dial.plan.refuses_incoming(now))
    }

    /// Forgets old gone rows so the table does not grow without bound.
    pub(crate) fn prune(&mut self, now: Instant) {
        let mut gone: Vec<(Instant, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| p.is_gone())
            .map(|p| (p.stage_since(), p.addr))
            .collect();
        gone.sort();
        let excess = gone.len().saturating_sub(MAX_GONE_ROWS);
        for (i, (since, addr)) in gone.into_iter().enumerate() {
            if i < excess || now.duration_since(since) > KEEP_GONE {
                self.remove(&addr);
            }
        }
    }
}

#[cfg(test)]
mod tests;
