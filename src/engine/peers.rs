//! The peers one torrent knows: one entry per address, with its connection plan (when to dial
//! it again, or never) and the totals of its earlier connections.
//!
//! Invariants:
//! 1. `conn` is `Some` exactly while a peer task runs for the entry; the plan says what happens
//!    once it ends (and is only acted on when `conn` is `None`).
//! 2. Entries per source are bounded (`MAX_PER_SOURCE`): a tracker or a swarm listing hundreds
//!    of thousands of addresses costs a bounded table. Known-useful entries are never evicted
//!    to make room; gone, never-connected ones are, and beyond that new addresses are refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::engine::api::{PeerEnd, PeerSource, PeerStage};
use crate::engine::shared::{PeerCmd, PeerLive};
use crate::engine::stats::RateWindow;

/// A dropped peer may come back after this.
pub(crate) const DROP_COOL_DOWN: Duration = Duration::from_secs(60);
/// A peer a tracker lists again, after it closed on us, is tried again this much later.
const RELISTED_RETRY: Duration = Duration::from_secs(30);
/// Dial attempts before a peer rests until a source lists it again.
const MAX_ATTEMPTS: u32 = 4;
/// Entries kept per source: enough for any real swarm's reachable part, small in memory.
pub(crate) const MAX_PER_SOURCE: usize = 3000;
/// Dials a seeding torrent starts per coordinator tick (4 a second).
pub(crate) const SEED_DIALS_PER_TICK: usize = 1;
/// Failed and dropped rows stay visible this long, then go.
const KEEP_GONE: Duration = Duration::from_secs(600);
const MAX_GONE_ROWS: usize = 300;

/// What to do with a peer while no connection to it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Dial when a slot is free.
    Queued,
    /// Dial once this time has passed.
    BackingOff(Instant),
    /// Dropped by the user: neither dialed nor accepted before this time, dialed after it.
    Dropped(Instant),
    /// Not dialed, but a source that lists it again may queue it (it left, or we gave up).
    Resting,
    /// Never dialed again (not a peer of this torrent, broke the protocol, duplicate); it may
    /// still connect to us.
    Never,
    /// Neither dialed nor accepted (by IP) for the rest of the session.
    Banned,
}

impl Plan {
    /// Due for a dial at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        match *self {
            Plan::Queued => true,
            Plan::BackingOff(t) | Plan::Dropped(t) => t <= now,
            Plan::Resting | Plan::Never | Plan::Banned => false,
        }
    }

    /// Connections from this peer's IP are refused.
    pub(crate) fn refuses_incoming(&self, now: Instant) -> bool {
        match *self {
            Plan::Banned => true,
            Plan::Dropped(t) => t > now,
            _ => false,
        }
    }
}

/// The plan once a connection ended with `end`.
pub(crate) fn plan_after_end(
    end: &PeerEnd,
    current: Plan,
    source: PeerSource,
    attempts: u32,
    complete: bool,
    now: Instant,
) -> Plan {
    match end {
        _ if current == Plan::Banned => Plan::Banned,
        // A drop's cool-down holds however the connection ended meanwhile.
        _ if matches!(current, Plan::Dropped(t) if t > now) => current,
        PeerEnd::Banned => Plan::Banned,
        PeerEnd::WrongInfoHash | PeerEnd::NotBitTorrent | PeerEnd::SelfConnection => Plan::Never,
        PeerEnd::Protocol(_) | PeerEnd::HashFailures(_) | PeerEnd::Internal(_) => Plan::Never,
        PeerEnd::Duplicate | PeerEnd::Shutdown | PeerEnd::NotNeeded => Plan::Resting,
        _ if source == PeerSource::Incoming => Plan::Resting,
        PeerEnd::DroppedByUser => Plan::Dropped(now + DROP_COOL_DOWN),
        _ if complete || attempts >= MAX_ATTEMPTS => Plan::Resting,
        // 5 s, 10 s, 20 s, 40 s: a peer that was just starting up gets a quick second try.
        _ => Plan::BackingOff(now + Duration::from_secs(5u64 << attempts.saturating_sub(1).min(3))),
    }
}

pub(crate) struct PeerEntry {
    pub addr: SocketAddr,
    pub source: PeerSource,
    pub conn: Option<u64>,
    pub tx: Option<mpsc::UnboundedSender<PeerCmd>>,
    pub live: Arc<PeerLive>,
    pub client: Option<String>,
    pub id_client: Option<String>,
    pub peer_id: Option<[u8; 20]>,
    pub stage: PeerStage,
    pub end: Option<PeerEnd>,
    pub stage_since: Instant,
    pub attempts: u32,
    pub plan: Plan,
    pub hash_failures: u32,
    pub handshake_time: Option<Duration>,
    /// The current connection's payload encryption, once handshaken.
    pub encryption: Option<crate::net::Encryption>,
    /// The current connection's transport, once handshaken.
    pub transport: Option<crate::net::TransportKind>,
    /// How the current connection's encryption was settled after a refusal (see PeerRow).
    pub encryption_note: Option<String>,
    pub was_connected: bool,
    pub down: RateWindow,
    pub up: RateWindow,
    /// Totals from earlier connections to this address.
    pub past_down: u64,
    pub past_up: u64,
    /// Known to have every piece (its bitfield on an earlier connection, or a PEX flag): a
    /// seeding torrent does not dial it.
    pub seed: bool,
    /// The listen port from its extended handshake (for an incoming peer, the address we may
    /// pass on by PEX).
    pub listen_port: Option<u16>,
    /// What we told it by PEX, while the current connection takes `ut_pex`.
    pub pex: Option<crate::engine::pex::PexOutbox>,
}

impl PeerEntry {
    pub(crate) fn new(addr: SocketAddr, source: PeerSource, now: Instant) -> Self {
        PeerEntry {
            addr,
            source,
            conn: None,
            tx: None,
            live: Arc::new(PeerLive::new()),
            client: None,
            id_client: None,
            peer_id: None,
            stage: PeerStage::Queued,
            end: None,
            stage_since: now,
            attempts: 0,
            plan: Plan::Queued,
            hash_failures: 0,
            handshake_time: None,
            encryption: None,
            transport: None,
            encryption_note: None,
            was_connected: false,
            down: RateWindow::new(Duration::from_secs(3)),
            up: RateWindow::new(Duration::from_secs(3)),
            past_down: 0,
            past_up: 0,
            seed: false,
            listen_port: None,
            pex: None,
        }
    }

    /// A peer task runs for it (dialing, handshaking or connected).
    pub(crate) fn has_conn(&self) -> bool {
        self.conn.is_some()
    }

    /// In play: a connection runs or another dial is planned (`PeerRow::in_play`).
    pub(crate) fn in_play(&self) -> bool {
        self.has_conn()
            || matches!(
                self.plan,
                Plan::Queued | Plan::BackingOff(_) | Plan::Dropped(_)
            )
    }

    pub(crate) fn is_banned(&self) -> bool {
        self.plan == Plan::Banned
    }

    pub(crate) fn set_stage(&mut self, stage: PeerStage, now: Instant) {
        if self.stage != stage {
            self.stage = stage;
            self.stage_since = now;
        }
    }

    pub(crate) fn send(&self, cmd: PeerCmd) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(cmd);
        }
    }

    /// A row that may go: not connected, not waiting for a dial, not banned (bans must stay
    /// to be enforced).
    fn is_gone(&self) -> bool {
        !self.has_conn() && matches!(self.plan, Plan::Resting | Plan::Never)
    }

    /// Marks the start of a connection `conn`; returns the receiver for its task's commands.
    pub(crate) fn begin(
        &mut self,
        conn: u64,
        stage: PeerStage,
        now: Instant,
    ) -> mpsc::UnboundedReceiver<PeerCmd> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.conn = Some(conn);
        self.tx = Some(tx);
        self.end = None;
        self.encryption = None;
        self.transport = None;
        self.pex = None;
        self.encryption_note = None;
        self.live = Arc::new(PeerLive::new());
        if !matches!(self.plan, Plan::Banned | Plan::Dropped(_)) {
            self.plan = Plan::Resting;
        }
        self.set_stage(stage, now);
        rx
    }

    /// Records the end of the running connection: folds its counters into the totals and
    /// sets the plan. Returns the stage it ended in.
    pub(crate) fn finish(&mut self, end: &PeerEnd, complete: bool, now: Instant) -> PeerStage {
        self.conn = None;
        self.tx = None;
        self.pex = None;
        self.past_down += self.live.downloaded.swap(0, Ordering::Relaxed);
        self.past_up += self.live.uploaded.swap(0, Ordering::Relaxed);
        self.live.pieces.store(0, Ordering::Relaxed);
        let stage = if self.was_connected {
            PeerStage::Disconnected
        } else {
            PeerStage::Failed
        };
        self.set_stage(stage, now);
        self.was_connected = false;
        self.plan = plan_after_end(end, self.plan, self.source, self.attempts, complete, now);
        self.end = Some(end.clone());
        stage
    }
}

/// Every peer of one torrent, by address.
#[derive(Default)]
pub(crate) struct PeerTable {
    peers: HashMap<SocketAddr, PeerEntry>,
    conns: HashMap<u64, SocketAddr>,
    next_conn: u64,
    /// Entries per source, kept so a huge tracker reply costs one pass, not one per address.
    per_source: HashMap<PeerSource, usize>,
}

impl PeerTable {
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
        (p.conn == Some(conn)).then_some(p)
    }

    /// Forgets `conn` and returns its entry when the connection was still that entry's.
    pub(crate) fn end_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.remove(&conn)?;
        let p = self.peers.get_mut(&addr)?;
        (p.conn == Some(conn)).then_some(p)
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
            if self.peers.contains_key(&addr) {
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
    /// should go (popped from the end): useful ones last, then the longest gone first.
    fn evictable(&self, source: PeerSource) -> Vec<SocketAddr> {
        let mut v: Vec<(bool, Instant, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| p.source == source && p.is_gone())
            .map(|p| {
                let useful = p.past_down + p.past_up > 0;
                (useful, p.stage_since, p.addr)
            })
            .collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, _, a)| a).collect()
    }

    /// A source listed a peer we know again: one that left on its own may be tried again
    /// (while seeding, only one not known to be a seed: a leecher that went may need us).
    pub(crate) fn relisted(&mut self, addr: &SocketAddr, complete: bool, now: Instant) {
        let Some(p) = self.peers.get_mut(addr) else {
            return;
        };
        if !p.has_conn()
            && p.plan == Plan::Resting
            && matches!(
                p.end,
                Some(PeerEnd::ClosedByPeer | PeerEnd::Reset | PeerEnd::Idle)
            )
            && !(complete && p.seed)
        {
            p.plan = Plan::BackingOff(now + RELISTED_RETRY);
        }
    }

    /// Addresses due for a dial, fewest attempts first.
    pub(crate) fn due(&self, now: Instant) -> Vec<SocketAddr> {
        let mut due: Vec<(u32, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| !p.has_conn() && p.plan.due(now))
            .map(|p| (p.attempts, p.addr))
            .collect();
        due.sort_by_key(|(attempts, _)| *attempts);
        due.into_iter().map(|(_, a)| a).collect()
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
            .filter(|a| self.peers.get(a).is_some_and(|p| !p.seed))
            .take(budget.min(SEED_DIALS_PER_TICK))
            .collect()
    }

    /// Connections from this IP are refused (a ban or a drop matches by IP, as other clients
    /// do: libtorrent sends a new random peer id on every connection, so the id cannot
    /// recognise a peer that dials back from another port).
    pub(crate) fn refuses_ip(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        self.peers
            .values()
            .any(|p| p.addr.ip() == ip && p.plan.refuses_incoming(now))
    }

    /// Forgets old gone rows so the table does not grow without bound.
    pub(crate) fn prune(&mut self, now: Instant) {
        let mut gone: Vec<(Instant, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| p.is_gone())
            .map(|p| (p.stage_since, p.addr))
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
#[path = "peers_tests.rs"]
mod tests;
