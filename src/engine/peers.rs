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
use crate::engine::peer::PeerCmd;
use crate::engine::shared::PeerLive;
use crate::engine::stats::RateWindow;

/// A dropped peer may come back after this.
pub(crate) const DROP_COOL_DOWN: Duration = Duration::from_secs(60);
/// A peer a tracker lists again, after it closed on us, is tried again this much later.
const RELISTED_RETRY: Duration = Duration::from_secs(30);
/// Dial attempts before a peer rests until a source lists it again.
const MAX_ATTEMPTS: u32 = 4;
/// Entries kept per source: enough for any real swarm's reachable part, small in memory.
pub(crate) const MAX_PER_SOURCE: usize = 3000;
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
    pub fn due(&self, now: Instant) -> bool {
        match *self {
            Plan::Queued => true,
            Plan::BackingOff(t) | Plan::Dropped(t) => t <= now,
            Plan::Resting | Plan::Never | Plan::Banned => false,
        }
    }

    /// Connections from this peer's IP are refused.
    pub fn refuses_incoming(&self, now: Instant) -> bool {
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
    pub was_connected: bool,
    pub down: RateWindow,
    pub up: RateWindow,
    /// Totals from earlier connections to this address.
    pub past_down: u64,
    pub past_up: u64,
}

impl PeerEntry {
    pub fn new(addr: SocketAddr, source: PeerSource, now: Instant) -> Self {
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
            was_connected: false,
            down: RateWindow::new(Duration::from_secs(3)),
            up: RateWindow::new(Duration::from_secs(3)),
            past_down: 0,
            past_up: 0,
        }
    }

    pub fn is_active(&self) -> bool {
        self.conn.is_some()
    }

    pub fn is_banned(&self) -> bool {
        self.plan == Plan::Banned
    }

    pub fn set_stage(&mut self, stage: PeerStage, now: Instant) {
        if self.stage != stage {
            self.stage = stage;
            self.stage_since = now;
        }
    }

    pub fn send(&self, cmd: PeerCmd) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(cmd);
        }
    }

    /// A row that may go: not connected, not waiting for a dial, not banned (bans must stay
    /// to be enforced).
    fn is_gone(&self) -> bool {
        !self.is_active() && matches!(self.plan, Plan::Resting | Plan::Never)
    }

    /// Marks the start of a connection `conn`; returns the receiver for its task's commands.
    pub fn begin(
        &mut self,
        conn: u64,
        stage: PeerStage,
        now: Instant,
    ) -> mpsc::UnboundedReceiver<PeerCmd> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.conn = Some(conn);
        self.tx = Some(tx);
        self.end = None;
        self.live = Arc::new(PeerLive::new());
        if !matches!(self.plan, Plan::Banned | Plan::Dropped(_)) {
            self.plan = Plan::Resting;
        }
        self.set_stage(stage, now);
        rx
    }

    /// Records the end of the running connection: folds its counters into the totals and
    /// sets the plan. Returns the stage it ended in.
    pub fn finish(&mut self, end: &PeerEnd, complete: bool, now: Instant) -> PeerStage {
        self.conn = None;
        self.tx = None;
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
    pub fn get(&self, addr: &SocketAddr) -> Option<&PeerEntry> {
        self.peers.get(addr)
    }

    pub fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut PeerEntry> {
        self.peers.get_mut(addr)
    }

    pub fn values(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut PeerEntry> {
        self.peers.values_mut()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn active(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values().filter(|p| p.is_active())
    }

    /// A fresh connection id, mapped to `addr` until `end_conn`.
    pub fn new_conn(&mut self, addr: SocketAddr) -> u64 {
        self.next_conn += 1;
        self.conns.insert(self.next_conn, addr);
        self.next_conn
    }

    /// The entry whose current connection is `conn`.
    pub fn by_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.get(&conn)?;
        let p = self.peers.get_mut(addr)?;
        (p.conn == Some(conn)).then_some(p)
    }

    /// Forgets `conn` and returns its entry when the connection was still that entry's.
    pub fn end_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.remove(&conn)?;
        let p = self.peers.get_mut(&addr)?;
        (p.conn == Some(conn)).then_some(p)
    }

    /// Adds the peers a source names and returns how many were new. Known addresses are left
    /// as they are (the caller may re-queue them with `relisted`); beyond the source's bound,
    /// gone entries of that source make room, and the rest of the list is dropped.
    pub fn add(
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
    pub fn incoming_entry(&mut self, addr: SocketAddr, now: Instant) -> Option<&mut PeerEntry> {
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

    /// A source listed a peer we know again: one that left on its own may be tried again.
    pub fn relisted(&mut self, addr: &SocketAddr, complete: bool, now: Instant) {
        let Some(p) = self.peers.get_mut(addr) else {
            return;
        };
        if !p.is_active()
            && p.plan == Plan::Resting
            && matches!(
                p.end,
                Some(PeerEnd::ClosedByPeer | PeerEnd::Reset | PeerEnd::Idle)
            )
            && !complete
        {
            p.plan = Plan::BackingOff(now + RELISTED_RETRY);
        }
    }

    /// Addresses due for a dial, fewest attempts first.
    pub fn due(&self, now: Instant) -> Vec<SocketAddr> {
        let mut due: Vec<(u32, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| !p.is_active() && p.plan.due(now))
            .map(|p| (p.attempts, p.addr))
            .collect();
        due.sort_by_key(|(attempts, _)| *attempts);
        due.into_iter().map(|(_, a)| a).collect()
    }

    /// Connections from this IP are refused (a ban or a drop matches by IP, as other clients
    /// do: libtorrent sends a new random peer id on every connection, so the id cannot
    /// recognise a peer that dials back from another port).
    pub fn refuses_ip(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        self.peers
            .values()
            .any(|p| p.addr.ip() == ip && p.plan.refuses_incoming(now))
    }

    /// Forgets old gone rows so the table does not grow without bound.
    pub fn prune(&mut self, now: Instant) {
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
mod tests {
    use super::*;

    fn addr(n: u32) -> SocketAddr {
        SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 6881))
    }

    #[test]
    fn failed_dials_back_off_then_rest() {
        let now = Instant::now();
        let t = PeerSource::Tracker;
        let plan =
            |attempts| plan_after_end(&PeerEnd::Refused, Plan::Resting, t, attempts, false, now);
        assert_eq!(plan(1), Plan::BackingOff(now + Duration::from_secs(5)));
        assert_eq!(plan(2), Plan::BackingOff(now + Duration::from_secs(10)));
        assert_eq!(plan(3), Plan::BackingOff(now + Duration::from_secs(20)));
        assert_eq!(plan(4), Plan::Resting);
        // Complete: nobody is dialed again.
        assert_eq!(
            plan_after_end(&PeerEnd::Refused, Plan::Resting, t, 1, true, now),
            Plan::Resting
        );
    }

    #[test]
    fn the_end_decides_never_banned_and_dropped() {
        let now = Instant::now();
        let t = PeerSource::Tracker;
        let p = |end: PeerEnd, cur| plan_after_end(&end, cur, t, 1, false, now);
        assert_eq!(p(PeerEnd::WrongInfoHash, Plan::Resting), Plan::Never);
        assert_eq!(p(PeerEnd::Protocol("x".into()), Plan::Resting), Plan::Never);
        assert_eq!(p(PeerEnd::Internal("x".into()), Plan::Resting), Plan::Never);
        assert_eq!(p(PeerEnd::Banned, Plan::Resting), Plan::Banned);
        // A ban set while connected outlives whatever the connection ended with.
        assert_eq!(p(PeerEnd::Reset, Plan::Banned), Plan::Banned);
        assert_eq!(
            p(PeerEnd::DroppedByUser, Plan::Resting),
            Plan::Dropped(now + DROP_COOL_DOWN)
        );
        assert_eq!(p(PeerEnd::Duplicate, Plan::Resting), Plan::Resting);
        let cooling = Plan::Dropped(now + DROP_COOL_DOWN);
        assert_eq!(p(PeerEnd::Shutdown, cooling), cooling);
        // A peer that dialed us is not dialed back.
        assert_eq!(
            plan_after_end(
                &PeerEnd::Reset,
                Plan::Resting,
                PeerSource::Incoming,
                0,
                false,
                now
            ),
            Plan::Resting
        );
    }

    #[test]
    fn due_and_refused_follow_the_plan() {
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        assert!(Plan::Queued.due(now));
        assert!(!Plan::BackingOff(later).due(now));
        assert!(Plan::BackingOff(later).due(later));
        assert!(!Plan::Dropped(later).due(now));
        assert!(Plan::Dropped(later).refuses_incoming(now));
        assert!(!Plan::Dropped(later).refuses_incoming(later));
        assert!(Plan::Banned.refuses_incoming(later));
        assert!(!Plan::Banned.due(later) && !Plan::Never.due(later) && !Plan::Resting.due(later));
    }

    #[test]
    fn a_connection_round_trip_updates_the_entry() {
        let now = Instant::now();
        let mut t = PeerTable::default();
        assert_eq!(t.add([addr(1), addr(1)], PeerSource::Tracker, now), 1);
        assert_eq!(t.due(now), vec![addr(1)]);
        let conn = t.new_conn(addr(1));
        let p = t.get_mut(&addr(1)).unwrap();
        p.attempts += 1;
        let _rx = p.begin(conn, PeerStage::Connecting, now);
        p.live.downloaded.store(100, Ordering::Relaxed);
        assert!(t.due(now).is_empty(), "a connected peer is not dialed");
        assert!(t.by_conn(conn).is_some());
        let p = t.end_conn(conn).unwrap();
        assert_eq!(p.finish(&PeerEnd::Refused, false, now), PeerStage::Failed);
        assert_eq!(p.past_down, 100);
        assert_eq!(p.plan, Plan::BackingOff(now + Duration::from_secs(5)));
        assert!(t.by_conn(conn).is_none());
        assert_eq!(t.due(now + Duration::from_secs(5)), vec![addr(1)]);
    }

    #[test]
    fn relisting_requeues_only_peers_that_left() {
        let now = Instant::now();
        let mut t = PeerTable::default();
        for (n, end) in [
            (1, PeerEnd::ClosedByPeer),
            (2, PeerEnd::Protocol("x".into())),
        ] {
            t.add([addr(n)], PeerSource::Tracker, now);
            let p = t.get_mut(&addr(n)).unwrap();
            p.attempts = MAX_ATTEMPTS;
            let c = t.new_conn(addr(n));
            let _ = t
                .get_mut(&addr(n))
                .unwrap()
                .begin(c, PeerStage::Connecting, now);
            t.end_conn(c).unwrap().finish(&end, false, now);
            t.relisted(&addr(n), false, now);
        }
        assert_eq!(
            t.get(&addr(1)).unwrap().plan,
            Plan::BackingOff(now + RELISTED_RETRY)
        );
        assert_eq!(t.get(&addr(2)).unwrap().plan, Plan::Never);
    }

    #[test]
    fn each_source_is_bounded_and_gone_entries_make_room() {
        let now = Instant::now();
        let mut t = PeerTable::default();
        let n = t.add((0..600_000).map(addr), PeerSource::Tracker, now);
        assert_eq!(n, MAX_PER_SOURCE);
        assert_eq!(t.len(), MAX_PER_SOURCE);
        // Another source still has room.
        assert_eq!(t.add([addr(900_000)], PeerSource::Manual, now), 1);
        // Gone tracker peers give their place to new ones, never-connected before useful
        // ones; a queued one keeps its place.
        assert_eq!(t.add([addr(800_000)], PeerSource::Tracker, now), 0);
        t.get_mut(&addr(7)).unwrap().plan = Plan::Never;
        t.get_mut(&addr(8)).unwrap().plan = Plan::Resting;
        t.get_mut(&addr(8)).unwrap().past_down = 1;
        assert_eq!(t.add([addr(800_000)], PeerSource::Tracker, now), 1);
        assert!(t.get(&addr(7)).is_none());
        assert!(t.get(&addr(8)).is_some());
        assert_eq!(
            t.add([addr(800_001), addr(800_002)], PeerSource::Tracker, now),
            1
        );
        assert!(t.get(&addr(8)).is_none());
        assert_eq!(t.len(), MAX_PER_SOURCE + 1);
    }

    #[test]
    fn bans_and_drops_refuse_the_ip_and_old_rows_go() {
        let now = Instant::now();
        let mut t = PeerTable::default();
        t.add([addr(1)], PeerSource::Tracker, now);
        t.get_mut(&addr(1)).unwrap().plan = Plan::Banned;
        assert!(t.refuses_ip(addr(1).ip(), now));
        assert!(!t.refuses_ip(addr(2).ip(), now));
        for n in 10..(10 + MAX_GONE_ROWS as u32 + 5) {
            t.add([addr(n)], PeerSource::Tracker, now);
            t.get_mut(&addr(n)).unwrap().plan = Plan::Resting;
        }
        t.prune(now);
        assert_eq!(t.len(), MAX_GONE_ROWS + 1, "the ban stays");
        t.prune(now + KEEP_GONE + Duration::from_secs(1));
        assert_eq!(t.len(), 1);
        assert!(t.refuses_ip(addr(1).ip(), now));
    }
}
