//! The coordinator: one task per torrent that owns the peer list, reacts to commands, peer
//! events and tracker updates, runs the choker and publishes snapshots. It never waits on the
//! UI: snapshots go out through a `watch` channel where the latest value wins.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::api::*;
use crate::engine::disk::Storage;
use crate::engine::peer::{self, PeerCmd, PeerTask};
use crate::engine::picker::Picker;
use crate::engine::shared::{Event, PeerLive, Shared};
use crate::engine::stats::RateWindow;
use crate::net::mse::MSE_TIMEOUT;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;
use crate::protocol::peer_id;
use crate::tracker::{self, Progress, TrackerCommand, TrackerUpdate};

const TICK: Duration = Duration::from_millis(250);
const RECHOKE_EVERY: Duration = Duration::from_secs(10);
const OPTIMISTIC_EVERY: Duration = Duration::from_secs(30);
const UPLOAD_SLOTS: usize = 4;
/// Connections being set up at once.
const HALF_OPEN: usize = 16;
/// Failed and dropped rows stay visible this long, then go.
const KEEP_GONE: Duration = Duration::from_secs(600);
const MAX_GONE_ROWS: usize = 300;
const LOG_KEEP: usize = 200;
const LOG_IN_SNAPSHOT: usize = 50;
/// A dropped peer may come back after this.
const DROP_COOL_DOWN: Duration = Duration::from_secs(60);
/// Hash failures after which a peer is banned (a piece it alone sent counts double).
const BAN_AFTER_FAILURES: u32 = 4;
/// Memory for pieces being received or waiting for their hash check. Beyond it no new piece is
/// started, which also throttles receiving when hashing or the disk falls behind.
const PIECE_MEMORY: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct Options {
    pub output: PathBuf,
    /// 0 picks a free port; a busy port is followed by the next few, then a free one.
    pub port: u16,
    pub bind: IpAddr,
    /// Dialed as well as the trackers' peers.
    pub peers: Vec<SocketAddr>,
    /// Keep running and uploading after the download completes.
    pub seed: bool,
    pub max_peers: usize,
    /// Announce to the torrent's trackers.
    pub use_trackers: bool,
    pub check_threads: usize,
    pub encryption: crate::net::EncryptionPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            output: PathBuf::from("."),
            port: 6881,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            peers: Vec::new(),
            seed: false,
            max_peers: 50,
            use_trackers: true,
            check_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            encryption: crate::net::EncryptionPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every piece verified (and not seeding).
    Complete,
    /// Stopped by the user.
    Quit,
    Failed(String),
}

pub struct Engine {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub done: tokio::task::JoinHandle<Outcome>,
}

/// Starts the engine for one torrent on the current tokio runtime.
pub fn start(meta: Metainfo, opts: Options) -> Engine {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let initial = initial_snapshot(&meta, &opts);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial));
    let done = tokio::spawn(run(meta, opts, cmd_rx, snap_tx));
    Engine {
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

fn initial_snapshot(meta: &Metainfo, opts: &Options) -> Snapshot {
    let n = meta.info.num_pieces();
    Snapshot {
        name: meta.info.name.clone(),
        info_hash: meta.info_hash,
        output: opts.output.clone(),
        total_length: meta.info.total_length,
        piece_length: meta.info.piece_length,
        num_pieces: n,
        state: TorrentState::Checking {
            checked: 0,
            total: n,
        },
        verified_bytes: 0,
        downloaded: 0,
        uploaded: 0,
        wasted: 0,
        down_rate: 0.0,
        up_rate: 0.0,
        elapsed: Duration::ZERO,
        pieces: vec![PieceState::Missing; n as usize],
        availability: vec![0; n as usize],
        peers: Vec::new(),
        trackers: meta
            .trackers
            .iter()
            .enumerate()
            .flat_map(|(tier, urls)| {
                urls.iter().map(move |url| TrackerRow {
                    url: url.clone(),
                    tier,
                    status: TrackerStatus::NotContacted,
                    last_announce: None,
                    next_announce: None,
                    seeders: None,
                    leechers: None,
                    warning: None,
                })
            })
            .collect(),
        log: Vec::new(),
        listen_port: 0,
    }
}

async fn run(
    meta: Metainfo,
    opts: Options,
    mut commands: mpsc::UnboundedReceiver<Command>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> Outcome {
    let started = Instant::now();
    let mut snap = initial_snapshot(&meta, &opts);
    let fail = |snap: &mut Snapshot, snapshots: &watch::Sender<Arc<Snapshot>>, msg: String| {
        snap.state = TorrentState::Error(msg.clone());
        snap.log.push(LogLine {
            at: started.elapsed(),
            level: LogLevel::Error,
            text: msg.clone(),
        });
        let _ = snapshots.send(Arc::new(snap.clone()));
        Outcome::Failed(msg)
    };
    let info = Arc::new(meta.info.clone());
    // Listen before the (possibly long) resume check, so peers that dial us meanwhile wait in
    // the accept backlog instead of being refused and backing off.
    let (listener, listen_log) = bind_listener(&opts).await;

    // Open files (creating them at their final length) and check what is already there.
    let (root, info2) = (opts.output.clone(), Arc::clone(&info));
    let storage = match tokio::task::spawn_blocking(move || Storage::open(&root, &info2)).await {
        Ok(Ok(s)) => Arc::new(s),
        Ok(Err(e)) => return fail(&mut snap, &snapshots, e.to_string()),
        Err(e) => return fail(&mut snap, &snapshots, format!("opening files: {e}")),
    };
    let checked = Arc::new(AtomicU32::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    let check = {
        let (storage, info, checked, cancel) = (
            Arc::clone(&storage),
            Arc::clone(&info),
            Arc::clone(&checked),
            Arc::clone(&cancel),
        );
        let threads = opts.check_threads.max(1);
        tokio::task::spawn_blocking(move || {
            storage.check_existing(
                &info,
                threads,
                &|n| checked.store(n, Ordering::Relaxed),
                &cancel,
            )
        })
    };
    tokio::pin!(check);
    let mut tick = tokio::time::interval(TICK);
    let mut paused_early = false;
    let have = loop {
        tokio::select! {
            r = &mut check => match r {
                Ok(Ok(v)) => break Bitfield::from_bools(&v),
                Ok(Err(e)) => return fail(&mut snap, &snapshots, e.to_string()),
                Err(e) => return fail(&mut snap, &snapshots, format!("checking files: {e}")),
            },
            c = commands.recv() => match c {
                None | Some(Command::Quit) => {
                    cancel.store(true, Ordering::Relaxed);
                    return Outcome::Quit;
                }
                // Kept for when the check ends; there are no peers to drop or ban yet.
                Some(Command::Pause) => paused_early = true,
                Some(Command::Resume) => paused_early = false,
                Some(_) => {}
            },
            _ = tick.tick() => {
                snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total: info.num_pieces() };
                snap.elapsed = started.elapsed();
                let _ = snapshots.send(Arc::new(snap.clone()));
            }
        }
    };

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let mut picker = Picker::new(
        info.num_pieces(),
        info.piece_length,
        info.total_length,
        have,
    );
    picker.set_max_partial((PIECE_MEMORY / info.piece_length.max(1) as usize).max(4));
    let shared = Arc::new(Shared {
        info: Arc::clone(&info),
        info_hash: meta.info_hash,
        info_bytes: meta.info_bytes.clone(),
        our_id: peer_id::our_peer_id(),
        bind: (!opts.bind.is_unspecified()).then_some(opts.bind),
        encryption: opts.encryption,
        listen_port: AtomicU16::new(0),
        picker: Mutex::new(picker),
        storage,
        write_lock: Mutex::new(()),
        paused: AtomicBool::new(false),
        downloaded: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        wasted: AtomicU64::new(0),
        events: events_tx,
    });
    let mut c = Coordinator::new(meta, opts, Arc::clone(&shared), snap, started);
    if let Some(l) = listener.first() {
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        shared.listen_port.store(port, Ordering::Relaxed);
        c.snap.listen_port = port;
    }
    let (level, text) = listen_log;
    c.log(level, text);
    c.log(
        LogLevel::Info,
        format!(
            "checked existing data: {} of {} pieces verified",
            shared.picker().have().count(),
            info.num_pieces()
        ),
    );
    if paused_early {
        c.on_command(Command::Pause);
    }
    c.main_loop(listener, commands, events_rx, snapshots).await
}

struct PeerEntry {
    addr: SocketAddr,
    source: PeerSource,
    conn: Option<u64>,
    tx: Option<mpsc::UnboundedSender<PeerCmd>>,
    live: Arc<PeerLive>,
    client: Option<String>,
    peer_id: Option<[u8; 20]>,
    stage: PeerStage,
    end: Option<PeerEnd>,
    stage_since: Instant,
    attempts: u32,
    retry_at: Option<Instant>,
    /// Dropped by the user: not dialed and not accepted before this.
    cool_until: Option<Instant>,
    banned: bool,
    hash_failures: u32,
    handshake_time: Option<Duration>,
    was_connected: bool,
    down: RateWindow,
    up: RateWindow,
    /// Totals from earlier connections to this address.
    past_down: u64,
    past_up: u64,
}

impl PeerEntry {
    fn new(addr: SocketAddr, source: PeerSource, now: Instant) -> Self {
        PeerEntry {
            addr,
            source,
            conn: None,
            tx: None,
            live: Arc::new(PeerLive::new()),
            client: None,
            peer_id: None,
            stage: PeerStage::Queued,
            end: None,
            stage_since: now,
            attempts: 0,
            retry_at: Some(now),
            cool_until: None,
            banned: false,
            hash_failures: 0,
            handshake_time: None,
            was_connected: false,
            down: RateWindow::new(Duration::from_secs(3)),
            up: RateWindow::new(Duration::from_secs(3)),
            past_down: 0,
            past_up: 0,
        }
    }

    fn is_active(&self) -> bool {
        self.conn.is_some()
    }

    fn set_stage(&mut self, stage: PeerStage, now: Instant) {
        if self.stage != stage {
            self.stage = stage;
            self.stage_since = now;
        }
    }

    fn send(&self, cmd: PeerCmd) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(cmd);
        }
    }
}

struct Coordinator {
    meta: Metainfo,
    opts: Options,
    shared: Arc<Shared>,
    snap: Snapshot,
    started: Instant,
    peers: HashMap<SocketAddr, PeerEntry>,
    conns: HashMap<u64, SocketAddr>,
    next_conn: u64,
    log: VecDeque<LogLine>,
    paused: bool,
    complete: bool,
    tracker_tx: Option<mpsc::Sender<TrackerCommand>>,
    progress_tx: watch::Sender<Progress>,
    down: RateWindow,
    up: RateWindow,
    last_rechoke: Instant,
    last_optimistic: Instant,
    optimistic: Option<SocketAddr>,
    fatal: Option<String>,
}

impl Coordinator {
    fn new(
        meta: Metainfo,
        opts: Options,
        shared: Arc<Shared>,
        snap: Snapshot,
        started: Instant,
    ) -> Self {
        let complete = shared.picker().is_complete();
        let left = shared.picker().left();
        let (progress_tx, _) = watch::channel(Progress {
            uploaded: 0,
            downloaded: 0,
            left,
        });
        let now = Instant::now();
        Coordinator {
            meta,
            opts,
            shared,
            snap,
            started,
            peers: HashMap::new(),
            conns: HashMap::new(),
            next_conn: 1,
            log: VecDeque::new(),
            paused: false,
            complete,
            tracker_tx: None,
            progress_tx,
            down: RateWindow::new(Duration::from_secs(3)),
            up: RateWindow::new(Duration::from_secs(3)),
            last_rechoke: now,
            last_optimistic: now,
            optimistic: None,
            fatal: None,
        }
    }

    fn log(&mut self, level: LogLevel, text: String) {
        match level {
            LogLevel::Info => tracing::info!("{text}"),
            LogLevel::Warn => tracing::warn!("{text}"),
            LogLevel::Error => tracing::error!("{text}"),
        }
        if self.log.len() >= LOG_KEEP {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            at: self.started.elapsed(),
            level,
            text,
        });
    }

    async fn main_loop(
        mut self,
        listeners: Vec<TcpListener>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<Event>,
        snapshots: watch::Sender<Arc<Snapshot>>,
    ) -> Outcome {
        let listener_tasks: Vec<_> = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, Arc::clone(&self.shared))))
            .collect();
        let (tracker_upd_tx, mut tracker_upd) = mpsc::channel(64);
        let mut tracker_task = None;
        if self.opts.use_trackers && !self.meta.trackers.is_empty() {
            let (tx, rx) = mpsc::channel(8);
            self.tracker_tx = Some(tx);
            tracker_task = Some(tracker::spawn(
                self.meta.trackers.clone(),
                self.meta.info_hash,
                self.shared.our_id,
                self.shared.listen_port.load(Ordering::Relaxed),
                self.progress_tx.subscribe(),
                rx,
                tracker_upd_tx,
            ));
        } else {
            drop(tracker_upd_tx);
        }
        let now = Instant::now();
        for addr in self.opts.peers.clone() {
            self.peers
                .entry(addr)
                .or_insert_with(|| PeerEntry::new(addr, PeerSource::Manual, now));
        }
        if self.complete {
            self.on_complete();
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let outcome = loop {
            if let Some(msg) = self.fatal.take() {
                break Outcome::Failed(msg);
            }
            if self.complete && !self.opts.seed {
                break Outcome::Complete;
            }
            tokio::select! {
                c = commands.recv() => match c {
                    None | Some(Command::Quit) => break Outcome::Quit,
                    Some(c) => self.on_command(c),
                },
                Some(e) = events.recv() => self.on_event(e),
                Some(u) = tracker_upd.recv() => self.on_tracker(u),
                _ = tick.tick() => {
                    self.on_tick();
                    let _ = snapshots.send(Arc::new(self.build_snapshot()));
                }
            }
        };
        // Graceful stop: peers first (so they stop requesting), then trackers, then files.
        for p in self.peers.values() {
            p.send(PeerCmd::Disconnect(PeerEnd::Shutdown));
        }
        for l in listener_tasks {
            l.abort();
        }
        if let Some(tx) = self.tracker_tx.take() {
            let (done_tx, done_rx) = oneshot::channel();
            if tx.send(TrackerCommand::Stop(done_tx)).await.is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(4), done_rx).await;
            }
        }
        if let Some(t) = tracker_task {
            t.abort();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.peers.values().any(|p| p.is_active()) {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(e)) => self.on_event(e),
                _ => break,
            }
        }
        // Every piece went to the kernel when it was verified, so a killed process loses
        // nothing; syncing to the device is only worth its cost (one fdatasync per file) when
        // the user stops us, not when a headless download simply ends.
        if outcome == Outcome::Quit {
            let storage = Arc::clone(&self.shared.storage);
            let _ = tokio::task::spawn_blocking(move || storage.flush()).await;
        }
        if let Outcome::Failed(msg) = &outcome {
            self.snap.state = TorrentState::Error(msg.clone());
        }
        self.on_tick();
        let _ = snapshots.send(Arc::new(self.build_snapshot()));
        outcome
    }

    fn on_command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Quit => {}
            Command::Pause => {
                if !self.paused {
                    self.paused = true;
                    self.shared.paused.store(true, Ordering::Relaxed);
                    for p in self.peers.values() {
                        p.send(PeerCmd::Pause);
                    }
                    self.log(
                        LogLevel::Info,
                        "paused: no requests, no uploads; connections kept".into(),
                    );
                }
            }
            Command::Resume => {
                if self.paused {
                    self.paused = false;
                    self.shared.paused.store(false, Ordering::Relaxed);
                    for p in self.peers.values() {
                        p.send(PeerCmd::Resume);
                    }
                    self.log(LogLevel::Info, "resumed".into());
                    self.rechoke(now);
                }
            }
            Command::DropPeer(addr) => {
                if let Some(p) = self.peers.get_mut(&addr) {
                    p.send(PeerCmd::Disconnect(PeerEnd::DroppedByUser));
                    p.retry_at = Some(now + DROP_COOL_DOWN);
                    p.cool_until = Some(now + DROP_COOL_DOWN);
                    if !p.is_active() {
                        p.end = Some(PeerEnd::DroppedByUser);
                    }
                    self.log(
                        LogLevel::Info,
                        format!(
                            "dropped {addr} (may return after {}s)",
                            DROP_COOL_DOWN.as_secs()
                        ),
                    );
                }
            }
            Command::BanPeer(addr) => {
                if let Some(p) = self.peers.get_mut(&addr) {
                    p.banned = true;
                    p.retry_at = None;
                    p.send(PeerCmd::Disconnect(PeerEnd::Banned));
                    if !p.is_active() {
                        p.end = Some(PeerEnd::Banned);
                        p.set_stage(PeerStage::Failed, now);
                    }
                    self.log(LogLevel::Warn, format!("banned {addr} for this session"));
                }
            }
        }
    }

    fn entry_by_conn(&mut self, conn: u64) -> Option<&mut PeerEntry> {
        let addr = self.conns.get(&conn)?;
        let p = self.peers.get_mut(addr)?;
        (p.conn == Some(conn)).then_some(p)
    }

    fn on_event(&mut self, e: Event) {
        let now = Instant::now();
        match e {
            Event::Stage { conn, stage } => {
                if let Some(p) = self.entry_by_conn(conn) {
                    p.set_stage(stage, now);
                    if stage == PeerStage::Connected {
                        p.was_connected = true;
                    }
                }
            }
            Event::Handshaken {
                conn,
                peer_id,
                elapsed,
            } => {
                let other = self
                    .peers
                    .values()
                    .find(|p| {
                        p.conn.is_some() && p.conn != Some(conn) && p.peer_id == Some(peer_id)
                    })
                    .map(|p| (p.addr, p.source == PeerSource::Incoming));
                let we_are_lower = self.shared.our_id < peer_id;
                let Some(p) = self.entry_by_conn(conn) else {
                    return;
                };
                p.peer_id = Some(peer_id);
                p.handshake_time = Some(elapsed);
                if p.client.is_none() {
                    p.client = peer_id::decode_client(&peer_id);
                }
                // Two connections to one peer (we both dialed at once): both sides keep the one
                // the lower peer id started, so they agree without talking about it.
                if let Some((other_addr, other_incoming)) = other {
                    let this_incoming = p.source == PeerSource::Incoming;
                    let drop_this = if this_incoming == other_incoming {
                        true
                    } else {
                        // Keep ours (outgoing) when we are lower, theirs (incoming) otherwise.
                        this_incoming == we_are_lower
                    };
                    if drop_this {
                        p.send(PeerCmd::Disconnect(PeerEnd::Duplicate));
                    } else if let Some(o) = self.peers.get(&other_addr) {
                        o.send(PeerCmd::Disconnect(PeerEnd::Duplicate));
                    }
                }
            }
            Event::Client { conn, name } => {
                if let Some(p) = self.entry_by_conn(conn) {
                    p.client = Some(name);
                }
            }
            Event::Interest { conn } => {
                let slots_free = self.unchoked_count() < UPLOAD_SLOTS + 1;
                let paused = self.paused;
                if let Some(p) = self.entry_by_conn(conn) {
                    let f = p.live.flags();
                    if f.peer_interested && f.am_choking && slots_free && !paused {
                        p.send(PeerCmd::Unchoke);
                    }
                }
            }
            Event::Ended { conn, end } => self.on_peer_end(conn, end, now),
            Event::PieceDone {
                index,
                ok,
                contributors,
            } => self.on_piece_done(index, ok, contributors),
            Event::BlockDone { index, begin, conn } => {
                for p in self.peers.values() {
                    if p.conn.is_some()
                        && p.conn != Some(conn)
                        && p.live.in_flight.load(Ordering::Relaxed) > 0
                    {
                        p.send(PeerCmd::Cancel { index, begin });
                    }
                }
            }
            Event::DiskError(msg) => {
                let msg = format!("disk error: {msg}");
                self.log(LogLevel::Error, msg.clone());
                self.fatal = Some(msg);
            }
            Event::Incoming {
                stream,
                addr,
                handshake,
            } => self.on_incoming(stream, addr, handshake, now),
        }
    }

    fn on_peer_end(&mut self, conn: u64, end: PeerEnd, now: Instant) {
        let Some(addr) = self.conns.remove(&conn) else {
            return;
        };
        let complete = self.complete;
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        if p.conn != Some(conn) {
            return;
        }
        p.conn = None;
        p.tx = None;
        p.past_down += p.live.downloaded.swap(0, Ordering::Relaxed);
        p.past_up += p.live.uploaded.swap(0, Ordering::Relaxed);
        p.live.pieces.store(0, Ordering::Relaxed);
        let stage = if p.was_connected {
            PeerStage::Disconnected
        } else {
            PeerStage::Failed
        };
        p.set_stage(stage, now);
        p.was_connected = false;
        // Whether and when to try again.
        p.retry_at = match &end {
            _ if p.banned => None,
            PeerEnd::Banned
            | PeerEnd::WrongInfoHash
            | PeerEnd::NotBitTorrent
            | PeerEnd::SelfConnection => None,
            PeerEnd::Duplicate | PeerEnd::Shutdown | PeerEnd::NotNeeded => None,
            PeerEnd::Protocol(_) | PeerEnd::HashFailures(_) => None,
            _ if p.source == PeerSource::Incoming => None,
            PeerEnd::DroppedByUser => Some(now + DROP_COOL_DOWN),
            _ if complete => None,
            _ if p.attempts >= 4 => None,
            // 5 s, 10 s, 20 s, 40 s: a peer that was just starting up gets a quick second try.
            _ => Some(now + Duration::from_secs(5u64 << p.attempts.saturating_sub(1).min(3))),
        };
        if matches!(end, PeerEnd::Banned) {
            p.banned = true;
        }
        let text = match stage {
            PeerStage::Failed => format!("{addr}: failed: {end}"),
            _ => format!(
                "{addr} ({}): disconnected: {end}",
                p.client.as_deref().unwrap_or("?")
            ),
        };
        p.end = Some(end.clone());
        let quiet = matches!(end, PeerEnd::Shutdown | PeerEnd::Duplicate);
        if !quiet {
            let level = if matches!(
                end,
                PeerEnd::Protocol(_) | PeerEnd::HashFailures(_) | PeerEnd::WrongInfoHash
            ) {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            self.log(level, text);
        }
    }

    fn on_incoming(
        &mut self,
        stream: crate::net::PeerConn,
        addr: SocketAddr,
        hs: crate::protocol::handshake::Handshake,
        now: Instant,
    ) {
        let active = self.peers.values().filter(|p| p.is_active()).count();
        // A banned or recently dropped peer that dials back from another port stays out: the
        // user said so, and the cool-down promised in the log holds for incoming connections
        // too. Matched by IP, as other clients do: libtorrent sends a new random peer id on
        // every connection, so the id cannot recognise it.
        let refused = self.peers.values().any(|p| {
            p.addr.ip() == addr.ip() && (p.banned || p.cool_until.is_some_and(|t| t > now))
        });
        if active >= self.opts.max_peers || refused || hs.peer_id == self.shared.our_id {
            return;
        }
        if self
            .peers
            .get(&addr)
            .is_some_and(|p| p.is_active() || p.banned)
        {
            return;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let entry = self
            .peers
            .entry(addr)
            .or_insert_with(|| PeerEntry::new(addr, PeerSource::Incoming, now));
        let (tx, rx) = mpsc::unbounded_channel();
        entry.conn = Some(conn);
        entry.tx = Some(tx);
        entry.end = None;
        entry.retry_at = None;
        entry.live = Arc::new(PeerLive::new());
        entry.set_stage(PeerStage::Handshaking, now);
        if self.paused {
            entry.send(PeerCmd::Pause);
        }
        let task = PeerTask {
            conn,
            addr,
            shared: Arc::clone(&self.shared),
            live: Arc::clone(&entry.live),
            cmds: rx,
        };
        self.conns.insert(conn, addr);
        tokio::spawn(task.run_incoming(stream, hs, now));
    }

    fn on_piece_done(&mut self, index: u32, ok: bool, contributors: Vec<u64>) {
        if ok {
            for p in self.peers.values() {
                if p.is_active() {
                    p.send(PeerCmd::Have(index));
                }
            }
            if !self.complete && self.shared.picker().is_complete() {
                self.on_complete();
            }
            return;
        }
        let sole = contributors.len() == 1;
        let mut names = Vec::new();
        let mut to_ban = Vec::new();
        for conn in &contributors {
            if let Some(p) = self.entry_by_conn(*conn) {
                p.hash_failures += if sole { 2 } else { 1 };
                names.push(p.addr.to_string());
                if p.hash_failures >= BAN_AFTER_FAILURES {
                    to_ban.push((p.addr, p.hash_failures));
                }
            }
        }
        self.log(
            LogLevel::Warn,
            format!(
                "piece {index} failed its hash check (from {}); fetching it again",
                names.join(", ")
            ),
        );
        for (addr, n) in to_ban {
            if let Some(p) = self.peers.get_mut(&addr) {
                p.banned = true;
                p.send(PeerCmd::Disconnect(PeerEnd::HashFailures(n.div_ceil(2))));
            }
            self.log(
                LogLevel::Warn,
                format!("banned {addr}: repeated hash failures"),
            );
        }
    }

    fn on_complete(&mut self) {
        self.complete = true;
        let n = self.shared.info.num_pieces();
        let downloaded = self.shared.downloaded.load(Ordering::Relaxed);
        self.log(
            LogLevel::Info,
            format!(
                "complete: all {n} pieces verified ({} downloaded this session)",
                human(downloaded)
            ),
        );
        if let Some(tx) = &self.tracker_tx {
            let _ = tx.try_send(TrackerCommand::Completed);
        }
        for p in self.peers.values() {
            if p.is_active() && p.live.pieces.load(Ordering::Relaxed) == n {
                p.send(PeerCmd::Disconnect(PeerEnd::NotNeeded));
            }
        }
    }

    fn on_tracker(&mut self, u: TrackerUpdate) {
        match u {
            TrackerUpdate::Peers(addrs) => {
                let now = Instant::now();
                let port = self.shared.listen_port.load(Ordering::Relaxed);
                let mut added = 0;
                for addr in addrs {
                    if addr.port() == 0
                        || (addr.port() == port
                            && (addr.ip().is_loopback() || addr.ip().is_unspecified()))
                    {
                        continue;
                    }
                    if let Some(p) = self.peers.get_mut(&addr) {
                        // A peer the tracker still lists may be tried again once its back-off is over.
                        if !p.is_active()
                            && p.retry_at.is_none()
                            && !p.banned
                            && matches!(
                                p.end,
                                Some(PeerEnd::ClosedByPeer | PeerEnd::Reset | PeerEnd::Idle)
                            )
                            && !self.complete
                        {
                            p.retry_at = Some(now + Duration::from_secs(30));
                        }
                        continue;
                    }
                    self.peers
                        .insert(addr, PeerEntry::new(addr, PeerSource::Tracker, now));
                    added += 1;
                }
                if added > 0 {
                    tracing::debug!("{added} new peers from trackers");
                }
            }
            TrackerUpdate::Status(rows) => self.snap.trackers = rows,
            TrackerUpdate::Log(level, text) => self.log(level, text),
        }
    }

    fn unchoked_count(&self) -> usize {
        self.peers
            .values()
            .filter(|p| p.is_active() && !p.live.flags().am_choking)
            .count()
    }

    fn connect_more(&mut self, now: Instant) {
        if self.complete {
            return;
        }
        let active = self.peers.values().filter(|p| p.is_active()).count();
        let half_open = self
            .peers
            .values()
            .filter(|p| p.is_active() && p.stage != PeerStage::Connected)
            .count();
        let mut budget = self
            .opts
            .max_peers
            .saturating_sub(active)
            .min(HALF_OPEN.saturating_sub(half_open));
        if budget == 0 {
            return;
        }
        let mut due: Vec<SocketAddr> = self
            .peers
            .values()
            .filter(|p| !p.is_active() && !p.banned && p.retry_at.is_some_and(|t| t <= now))
            .map(|p| p.addr)
            .collect();
        due.sort_by_key(|a| self.peers.get(a).map(|p| p.attempts).unwrap_or(0));
        for addr in due {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let conn = self.next_conn;
            self.next_conn += 1;
            let Some(p) = self.peers.get_mut(&addr) else {
                continue;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            p.conn = Some(conn);
            p.tx = Some(tx);
            p.attempts += 1;
            p.retry_at = None;
            p.end = None;
            p.live = Arc::new(PeerLive::new());
            p.set_stage(PeerStage::Connecting, now);
            if self.paused {
                p.send(PeerCmd::Pause);
            }
            let task = PeerTask {
                conn,
                addr,
                shared: Arc::clone(&self.shared),
                live: Arc::clone(&p.live),
                cmds: rx,
            };
            self.conns.insert(conn, addr);
            tokio::spawn(task.run_outgoing());
        }
    }

    /// Regular upload slots go to the peers that give us the most (or, seeding, take the
    /// most); one optimistic slot rotates so newcomers get a chance to prove themselves.
    fn rechoke(&mut self, now: Instant) {
        self.last_rechoke = now;
        if self.paused {
            return;
        }
        if now.duration_since(self.last_optimistic) >= OPTIMISTIC_EVERY || self.optimistic.is_none()
        {
            self.last_optimistic = now;
            let mut choked: Vec<SocketAddr> = self
                .peers
                .values()
                .filter(|p| p.is_active() && p.stage == PeerStage::Connected)
                .filter(|p| {
                    let f = p.live.flags();
                    f.peer_interested && f.am_choking
                })
                .map(|p| p.addr)
                .collect();
            choked.shuffle(&mut rand::thread_rng());
            self.optimistic = choked.first().copied();
        }
        let seeding = self.complete;
        let mut interested: Vec<(f64, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| {
                p.is_active() && p.stage == PeerStage::Connected && p.live.flags().peer_interested
            })
            .map(|p| (if seeding { p.up.rate() } else { p.down.rate() }, p.addr))
            .collect();
        interested.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut unchoke: Vec<SocketAddr> = interested
            .iter()
            .take(UPLOAD_SLOTS)
            .map(|(_, a)| *a)
            .collect();
        if let Some(o) = self.optimistic {
            if !unchoke.contains(&o) {
                unchoke.push(o);
            }
        }
        for p in self.peers.values() {
            if !p.is_active() {
                continue;
            }
            let f = p.live.flags();
            if unchoke.contains(&p.addr) {
                if f.am_choking {
                    p.send(PeerCmd::Unchoke);
                }
            } else if !f.am_choking {
                p.send(PeerCmd::Choke);
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.connect_more(now);
        if now.duration_since(self.last_rechoke) >= RECHOKE_EVERY {
            self.rechoke(now);
        }
        for p in self.peers.values_mut() {
            p.down
                .sample(now, p.past_down + p.live.downloaded.load(Ordering::Relaxed));
            p.up.sample(now, p.past_up + p.live.uploaded.load(Ordering::Relaxed));
        }
        let downloaded = self.shared.downloaded.load(Ordering::Relaxed);
        let uploaded = self.shared.uploaded.load(Ordering::Relaxed);
        self.down.sample(now, downloaded);
        self.up.sample(now, uploaded);
        let left = self.shared.picker().left();
        self.progress_tx.send_replace(Progress {
            uploaded,
            downloaded,
            left,
        });
        // Forget old failed rows so the table does not grow without bound.
        let mut gone: Vec<(Instant, SocketAddr)> = self
            .peers
            .values()
            .filter(|p| !p.is_active() && p.retry_at.is_none() && !p.banned)
            .map(|p| (p.stage_since, p.addr))
            .collect();
        gone.sort();
        let excess = gone.len().saturating_sub(MAX_GONE_ROWS);
        for (i, (since, addr)) in gone.into_iter().enumerate() {
            if i < excess || now.duration_since(since) > KEEP_GONE {
                self.peers.remove(&addr);
            }
        }
    }

    fn build_snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        let picker = self.shared.picker();
        let mut pieces = std::mem::take(&mut self.snap.pieces);
        picker.piece_states(&mut pieces);
        let availability = picker.availability().to_vec();
        let verified = picker.verified_bytes();
        drop(picker);
        let n = self.shared.info.num_pieces().max(1);
        let peers = self
            .peers
            .values()
            .map(|p| PeerRow {
                addr: p.addr,
                source: p.source,
                client: p.client.clone(),
                peer_id: p.peer_id,
                stage: p.stage,
                end: p.end.clone(),
                since: now.duration_since(p.stage_since),
                flags: p.live.flags(),
                down_rate: if p.is_active() { p.down.rate() } else { 0.0 },
                up_rate: if p.is_active() { p.up.rate() } else { 0.0 },
                downloaded: p.past_down + p.live.downloaded.load(Ordering::Relaxed),
                uploaded: p.past_up + p.live.uploaded.load(Ordering::Relaxed),
                progress: p.live.pieces.load(Ordering::Relaxed) as f32 / n as f32,
                requests_in_flight: p.live.in_flight.load(Ordering::Relaxed),
                hash_failures: p.hash_failures.div_ceil(2),
                attempts: p.attempts,
                handshake_time: p.handshake_time,
            })
            .collect();
        let state = match &self.snap.state {
            TorrentState::Error(e) => TorrentState::Error(e.clone()),
            _ if self.fatal.is_some() => {
                TorrentState::Error(self.fatal.clone().unwrap_or_default())
            }
            _ if self.paused => TorrentState::Paused,
            _ if self.complete && self.opts.seed => TorrentState::Seeding,
            _ if self.complete => TorrentState::Complete,
            _ => TorrentState::Downloading,
        };
        let skip = self.log.len().saturating_sub(LOG_IN_SNAPSHOT);
        let snap = Snapshot {
            state,
            verified_bytes: verified,
            downloaded: self.shared.downloaded.load(Ordering::Relaxed),
            uploaded: self.shared.uploaded.load(Ordering::Relaxed),
            wasted: self.shared.wasted.load(Ordering::Relaxed),
            down_rate: self.down.rate(),
            up_rate: self.up.rate(),
            elapsed: self.started.elapsed(),
            pieces,
            availability,
            peers,
            trackers: self.snap.trackers.clone(),
            log: self.log.iter().skip(skip).cloned().collect(),
            listen_port: self.shared.listen_port.load(Ordering::Relaxed),
            ..self.snap.clone()
        };
        self.snap.pieces = snap.pieces.clone();
        snap
    }
}

pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

/// Binds the peer port: the one asked for, else the next few, else any free one. With the
/// default "any" address, the same port is also bound on IPv6 when the machine has it.
async fn bind_listener(opts: &Options) -> (Vec<TcpListener>, (LogLevel, String)) {
    let ports: Vec<u16> = if opts.port == 0 {
        vec![0]
    } else {
        (opts.port..opts.port.saturating_add(9))
            .chain([0])
            .collect()
    };
    let mut last_err = String::new();
    for port in ports {
        match TcpListener::bind(SocketAddr::new(opts.bind, port)).await {
            Ok(l) => {
                let port = l.local_addr().map(|a| a.port()).unwrap_or(port);
                let mut listeners = vec![l];
                let mut text = format!("listening for peers on port {port}");
                if opts.bind == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
                    match bind_v6_only(port) {
                        Ok(l6) => {
                            listeners.push(l6);
                            text.push_str(" (IPv4 and IPv6)");
                        }
                        Err(e) => tracing::info!("no IPv6 listener: {e}"),
                    }
                }
                return (listeners, (LogLevel::Info, text));
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    (
        Vec::new(),
        (
            LogLevel::Warn,
            format!("cannot listen for peers: {last_err}"),
        ),
    )
}

/// An IPv6-only socket, so it can share the port with the IPv4 listener whatever the
/// `net.ipv6.bindv6only` setting is.
fn bind_v6_only(port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), port).into())?;
    s.listen(128)?;
    s.set_nonblocking(true)?;
    TcpListener::from_std(s.into())
}

/// Accepts incoming connections; each is handshaken in its own task and handed to the
/// coordinator only when it is for our torrent.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let (ih, req2) = (
                shared.info_hash,
                crate::protocol::mse::req2(&shared.info_hash),
            );
            let lookup = move |h: &[u8; 20]| (*h == req2).then_some(ih);
            let hs = tokio::time::timeout(peer::HANDSHAKE_TIMEOUT + MSE_TIMEOUT, async {
                let (mut stream, enc) = crate::net::incoming(stream, shared.encryption, &lookup)
                    .await
                    .map_err(peer::mse_end)?;
                tracing::info!("{addr}: incoming, payload {enc}");
                let hs = peer::read_handshake(&mut stream).await?;
                Ok::<_, PeerEnd>((stream, hs))
            })
            .await;
            match hs {
                Ok(Ok((stream, hs))) if hs.info_hash == shared.info_hash => {
                    shared.send(Event::Incoming {
                        stream,
                        addr,
                        handshake: hs,
                    });
                }
                Ok(Ok(_)) => tracing::info!("{addr}: incoming for another torrent, refused"),
                Ok(Err(e)) => tracing::info!("{addr}: incoming handshake failed: {e}"),
                Err(_) => tracing::info!("{addr}: incoming handshake timed out"),
            }
        });
    }
}
