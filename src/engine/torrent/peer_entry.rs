//! One known peer: its connection plan (`Plan`, pure: what follows an end) and the entry
//! (`PeerEntry`) built of small parts, each with what it keeps. The table of them is
//! `peers.rs`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::engine::api::{ChokeFlags, PeerEnd, PeerSource, PeerStage};
use crate::engine::peer::link::{PeerCmd, PeerLive};
use crate::engine::torrent::stats::RateWindow;

/// A dropped peer may come back after this.
pub(crate) const DROP_COOL_DOWN: Duration = Duration::from_secs(60);
/// Dial attempts before a peer rests until a source lists it again.
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// A dial that failed at the proxy (`PeerEnd::ProxyDown`) is tried again after this.
pub(crate) const PROXY_RETRY: Duration = Duration::from_secs(5);

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
        // A newer list may let it through; a source that lists it again re-queues it.
        PeerEnd::Blocklisted => Plan::Resting,
        PeerEnd::WrongInfoHash | PeerEnd::NotBitTorrent | PeerEnd::SelfConnection => Plan::Never,
        PeerEnd::Protocol(_) | PeerEnd::HashFailures(_) | PeerEnd::Internal(_) => Plan::Never,
        PeerEnd::Duplicate | PeerEnd::Shutdown | PeerEnd::NotNeeded => Plan::Resting,
        // The peer was never asked: try again soon, without counting it against the peer,
        // so everything resumes by itself once the proxy is back.
        PeerEnd::ProxyDown(_) if !complete => Plan::BackingOff(now + PROXY_RETRY),
        // Cut by our kill switch, not by the peer: dialed again once the interface is back
        // (no dial while it is down).
        PeerEnd::InterfaceDown if source != PeerSource::Incoming => {
            Plan::BackingOff(now + PROXY_RETRY)
        }
        _ if source == PeerSource::Incoming => Plan::Resting,
        PeerEnd::DroppedByUser => Plan::Dropped(now + DROP_COOL_DOWN),
        _ if complete || attempts >= MAX_ATTEMPTS => Plan::Resting,
        // 5 s, 10 s, 20 s, 40 s: a peer that was just starting up gets a quick second try.
        _ => Plan::BackingOff(now + Duration::from_secs(5u64 << attempts.saturating_sub(1).min(3))),
    }
}

/// One known peer, in small parts. Invariants (kept by the methods, so its parts that hold
/// one are private):
/// - `conn` is `Some` exactly while a peer task runs for the entry: "connected but no
///   connection's channel or counters" cannot be written down.
/// - `status.end` is `None` while `conn` is `Some` (a running connection has not ended);
///   `status.retry_after` is `None` unless a connection runs that has not reached Connected.
/// - Bytes of ended connections are in `traffic`, so totals survive a reconnection.
pub(crate) struct PeerEntry {
    pub addr: SocketAddr,
    pub source: PeerSource,
    conn: Option<ConnInfo>,
    status: Status,
    /// What the peer told us of itself; kept across connections.
    pub known: Known,
    /// How the latest connection was set up: cleared when the next starts, kept after it
    /// ends so the row still says it.
    pub setup: Setup,
    /// When to dial it again.
    pub dial: Dial,
    traffic: Traffic,
}

/// The running connection: only a peer task's entry has one.
pub(crate) struct ConnInfo {
    id: u64,
    tx: mpsc::UnboundedSender<PeerCmd>,
    /// Counters and flags the peer task updates.
    live: Arc<PeerLive>,
    /// It reached the Connected stage: its end is a disconnection, not a failure.
    reached: bool,
    /// What we told it by PEX, while it takes `ut_pex`.
    pub pex: Option<crate::engine::torrent::pex::PexOutbox>,
    /// It takes BEP 55 `ut_holepunch` (and PEX is on): it may relay for us, and we for it.
    pub holepunch: bool,
}

impl ConnInfo {
    /// A task that has ended drops its receiver: what is sent then is moot.
    pub(crate) fn send(&self, cmd: PeerCmd) {
        let _ = self.tx.send(cmd);
    }
}

/// Where the peer's row stands.
struct Status {
    stage: PeerStage,
    since: Instant,
    /// How the last connection ended (or why none will run).
    end: Option<PeerEnd>,
    /// While a retry dials and handshakes: how the attempt before it ended, so the row and
    /// the explainer keep saying why until the retry has its own answer.
    retry_after: Option<PeerEnd>,
}

/// What the peer told us of itself, or what it showed over time.
#[derive(Default)]
pub(crate) struct Known {
    /// The client name from its extended handshake, else its peer id's.
    pub client: Option<String>,
    pub id_client: Option<String>,
    pub peer_id: Option<[u8; 20]>,
    /// Connect + handshake time of the last connection that got that far.
    pub handshake_time: Option<Duration>,
    /// Hash failures of pieces it contributed to (a piece it alone sent counts twice).
    pub hash_failures: u32,
    /// Pieces that verified without the bad blocks it sent (`bad_blocks.rs`).
    pub bad_pieces: u32,
    /// Known to have every piece (its bitfield on an earlier connection, or a PEX flag): a
    /// seeding torrent does not dial it.
    pub seed: bool,
    /// The listen port from its extended handshake (for an incoming peer, the address we may
    /// pass on by PEX).
    pub listen_port: Option<u16>,
    /// First listed in a hybrid's v2 swarm (a tracker's or the DHT's answer under the short
    /// v2 hash) and not in the main one: dialed under that hash, as libtorrent does
    /// (`protocol_v2`), since a v2-only client may know the torrent by no other name.
    pub v2_swarm: bool,
    /// BEP 55: the peer that listed it by PEX as taking `ut_holepunch` (who may introduce us
    /// when dialing it fails), and when we last asked for that.
    pub relay: Option<SocketAddr>,
    pub punch_asked: Option<Instant>,
    /// The connection came through a hole punched by this relay's introduction.
    pub punched_via: Option<std::net::IpAddr>,
}

/// How the latest connection was set up, once handshaken.
#[derive(Default)]
pub(crate) struct Setup {
    /// Its payload encryption.
    pub encryption: Option<crate::net::Encryption>,
    pub transport: Option<crate::net::TransportKind>,
    /// How its encryption was settled after a refusal (see PeerRow).
    pub encryption_note: Option<String>,
}

/// The connection plan and what it is based on.
pub(crate) struct Dial {
    pub plan: Plan,
    /// Dials so far.
    pub attempts: u32,
}

/// Bytes over all connections: ended ones folded into `past_*`, the running one's live.
struct Traffic {
    past_down: u64,
    past_up: u64,
    down: RateWindow,
    up: RateWindow,
}

impl PeerEntry {
    pub(crate) fn new(addr: SocketAddr, source: PeerSource, now: Instant) -> Self {
        PeerEntry {
            addr,
            source,
            conn: None,
            status: Status {
                stage: PeerStage::Queued,
                since: now,
                end: None,
                retry_after: None,
            },
            known: Known::default(),
            setup: Setup::default(),
            dial: Dial {
                plan: Plan::Queued,
                attempts: 0,
            },
            traffic: Traffic {
                past_down: 0,
                past_up: 0,
                down: RateWindow::new(Duration::from_secs(3)),
                up: RateWindow::new(Duration::from_secs(3)),
            },
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
                self.dial.plan,
                Plan::Queued | Plan::BackingOff(_) | Plan::Dropped(_)
            )
    }

    pub(crate) fn is_banned(&self) -> bool {
        self.dial.plan == Plan::Banned
    }

    pub(crate) fn conn(&self) -> Option<&ConnInfo> {
        self.conn.as_ref()
    }

    pub(crate) fn conn_mut(&mut self) -> Option<&mut ConnInfo> {
        self.conn.as_mut()
    }

    /// The running connection's id.
    pub(crate) fn conn_id(&self) -> Option<u64> {
        self.conn.as_ref().map(|c| c.id)
    }

    /// The running connection's counters and flags.
    pub(crate) fn live(&self) -> Option<&Arc<PeerLive>> {
        self.conn.as_ref().map(|c| &c.live)
    }

    /// The running connection reached the Connected stage.
    pub(crate) fn reached_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.reached)
    }

    /// The choke and interest flags of the running connection; without one, the flags a
    /// connection starts with.
    pub(crate) fn flags(&self) -> ChokeFlags {
        self.live().map(|l| l.flags()).unwrap_or_default()
    }

    /// Pieces the peer has, as the running connection knows (0 without one).
    pub(crate) fn pieces(&self) -> u32 {
        self.live().map_or(0, |l| l.pieces.load(Ordering::Relaxed))
    }

    /// The connected peer said it only uploads (BEP 21); false without a connection.
    pub(crate) fn upload_only(&self) -> bool {
        self.live()
            .is_some_and(|l| l.upload_only.load(Ordering::Relaxed))
    }

    /// Our block requests to it not answered yet (0 without a connection).
    pub(crate) fn in_flight(&self) -> u32 {
        self.live()
            .map_or(0, |l| l.in_flight.load(Ordering::Relaxed))
    }

    /// Bytes from it over all connections.
    pub(crate) fn downloaded(&self) -> u64 {
        self.traffic.past_down
            + self
                .live()
                .map_or(0, |l| l.downloaded.load(Ordering::Relaxed))
    }

    /// Bytes to it over all connections.
    pub(crate) fn uploaded(&self) -> u64 {
        self.traffic.past_up
            + self
                .live()
                .map_or(0, |l| l.uploaded.load(Ordering::Relaxed))
    }

    /// Adds a sample to its rate windows.
    pub(crate) fn sample_rates(&mut self, now: Instant) {
        let (down, up) = (self.downloaded(), self.uploaded());
        self.traffic.down.sample(now, down);
        self.traffic.up.sample(now, up);
    }

    pub(crate) fn down_rate(&self) -> f64 {
        self.traffic.down.rate()
    }

    pub(crate) fn up_rate(&self) -> f64 {
        self.traffic.up.rate()
    }

    /// It has sent or taken payload at some time.
    pub(crate) fn was_useful(&self) -> bool {
        self.traffic.past_down + self.traffic.past_up > 0
    }

    pub(crate) fn stage(&self) -> PeerStage {
        self.status.stage
    }

    /// When the row entered its stage.
    pub(crate) fn stage_since(&self) -> Instant {
        self.status.since
    }

    pub(crate) fn end(&self) -> Option<&PeerEnd> {
        self.status.end.as_ref()
    }

    /// How the attempt before the running one ended, while that one has not connected.
    pub(crate) fn retry_after(&self) -> Option<&PeerEnd> {
        self.status.retry_after.as_ref()
    }

    pub(crate) fn set_stage(&mut self, stage: PeerStage, now: Instant) {
        if self.status.stage != stage {
            self.status.stage = stage;
            self.status.since = now;
        }
        if stage == PeerStage::Connected {
            self.status.retry_after = None;
            if let Some(c) = &mut self.conn {
                c.reached = true;
            }
        }
    }

    /// Why no connection will run, said while none does (a running one reports its own end
    /// when it stops).
    pub(crate) fn set_idle_end(&mut self, end: PeerEnd) {
        if self.conn.is_none() {
            self.status.end = Some(end);
        }
    }

    /// Sends the running connection's task a command (none runs: nothing to tell).
    pub(crate) fn send(&self, cmd: PeerCmd) {
        if let Some(c) = &self.conn {
            c.send(cmd);
        }
    }

    /// A row that may go: not connected, not waiting for a dial, not banned (bans must stay
    /// to be enforced).
    pub(crate) fn is_gone(&self) -> bool {
        !self.has_conn() && matches!(self.dial.plan, Plan::Resting | Plan::Never)
    }

    /// Marks the start of a connection `conn`; returns the receiver for its task's commands
    /// and the counters the task updates.
    pub(crate) fn begin(
        &mut self,
        conn: u64,
        stage: PeerStage,
        now: Instant,
    ) -> (mpsc::UnboundedReceiver<PeerCmd>, Arc<PeerLive>) {
        // The stage first: a connection reaches Connected through `set_stage` later, never
        // by starting there.
        self.set_stage(stage, now);
        let (tx, rx) = mpsc::unbounded_channel();
        let live = Arc::new(PeerLive::new());
        self.conn = Some(ConnInfo {
            id: conn,
            tx,
            live: Arc::clone(&live),
            reached: false,
            pex: None,
            holepunch: false,
        });
        self.status.retry_after = self.status.end.take();
        self.setup = Setup::default();
        if !matches!(self.dial.plan, Plan::Banned | Plan::Dropped(_)) {
            self.dial.plan = Plan::Resting;
        }
        (rx, live)
    }

    /// Records the end of the running connection: folds its counters into the totals and
    /// sets the plan. Returns the stage it ended in.
    pub(crate) fn finish(&mut self, end: &PeerEnd, complete: bool, now: Instant) -> PeerStage {
        let reached = match self.conn.take() {
            Some(c) => {
                self.traffic.past_down += c.live.downloaded.load(Ordering::Relaxed);
                self.traffic.past_up += c.live.uploaded.load(Ordering::Relaxed);
                c.reached
            }
            None => false,
        };
        let stage = if reached {
            PeerStage::Disconnected
        } else {
            PeerStage::Failed
        };
        self.set_stage(stage, now);
        let d = &mut self.dial;
        d.plan = plan_after_end(end, d.plan, self.source, d.attempts, complete, now);
        self.status.end = Some(end.clone());
        self.status.retry_after = None;
        stage
    }

    #[cfg(test)]
    pub(crate) fn add_past_down(&mut self, bytes: u64) {
        self.traffic.past_down += bytes;
    }
}

#[cfg(test)]
mod tests;
