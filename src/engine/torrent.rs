//! One torrent: checks what is on disk, then runs the coordinator, a task that ties the
//! peers, the picker, the disk stage and the peer sources together. It reacts to commands,
//! peer events and tracker updates (`events.rs`), dials peers by their connection plan
//! (`peers.rs`), runs the choker (`choker.rs`) and publishes snapshots (`snapshot.rs`). It
//! never waits on the UI: snapshots go out through a `watch` channel where the latest wins.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::engine::api::*;
use crate::engine::choker::{self, Candidate, Choke, UPLOAD_SLOTS};
use crate::engine::disk::Storage;
use crate::engine::peer::{PeerCmd, PeerTask, Start};
use crate::engine::peers::PeerTable;
use crate::engine::picker::Picker;
use crate::engine::session::Session;
use crate::engine::shared::{Event, Shared};
use crate::engine::snapshot::{self, Totals};
use crate::engine::stats::RateWindow;
use crate::engine::verify::Download;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;
use crate::tracker::{self, Progress, TrackerCommand};

const TICK: Duration = Duration::from_millis(250);
const RECHOKE_EVERY: Duration = Duration::from_secs(10);
const OPTIMISTIC_EVERY: Duration = Duration::from_secs(30);
const LOG_KEEP: usize = 200;
/// Memory for pieces being received or waiting for their hash check. Beyond it no new piece is
/// started, which also throttles receiving when hashing or the disk falls behind.
const PIECE_MEMORY: usize = 16 << 20;
/// Verified pieces a slow connection may fall behind on before it catches up from the picker.
const VERIFIED_BACKLOG: usize = 1024;

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

/// The handle of one running torrent.
pub struct Engine {
    /// Names the torrent; its snapshots carry the same id.
    pub id: TorrentId,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub done: tokio::task::JoinHandle<Outcome>,
}

/// Starts a session with one torrent on the current tokio runtime.
pub fn start(meta: Metainfo, opts: Options) -> Engine {
    static NEXT_ID: AtomicU32 = AtomicU32::new(0);
    let id = TorrentId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let initial = snapshot::initial(id, &meta, &opts.output, 0);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial.clone()));
    let done = tokio::spawn(async move {
        // Listen before the (possibly long) resume check, so peers that dial us meanwhile
        // wait for our handshake instead of being refused and backing off.
        let (session, listen_log) = Session::start(opts.port, opts.bind).await;
        run(session, listen_log, meta, opts, initial, cmd_rx, snap_tx).await
    });
    Engine {
        id,
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

/// The paused state a command asks for, decided against the engine's own state (a UI's
/// snapshot may be a tick old); `None` for commands that do not touch it.
pub(crate) fn pause_wanted(c: &Command, paused: bool) -> Option<bool> {
    match c {
        Command::Pause => Some(true),
        Command::Resume => Some(false),
        Command::TogglePause => Some(!paused),
        _ => None,
    }
}

async fn run(
    mut session: Session,
    listen_log: (LogLevel, String),
    meta: Metainfo,
    opts: Options,
    mut snap: Snapshot,
    mut commands: mpsc::UnboundedReceiver<Command>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> Outcome {
    let started = Instant::now();
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
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    session.add(meta.info_hash, events_tx.clone());

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
                Some(c) => paused_early = pause_wanted(&c, paused_early).unwrap_or(paused_early),
            },
            _ = tick.tick() => {
                snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total: info.num_pieces() };
                snap.elapsed = started.elapsed();
                let _ = snapshots.send(Arc::new(snap.clone()));
            }
        }
    };

    let mut picker = Picker::with_geometry(info.geometry(), have);
    picker.set_max_partial((PIECE_MEMORY / info.piece_length.max(1) as usize).max(4));
    let shared = Arc::new(Shared {
        info: Arc::clone(&info),
        info_hash: meta.info_hash,
        info_bytes: meta.info_bytes.clone(),
        our_id: session.our_id,
        bind: session.bind,
        listen_port: AtomicU16::new(session.listen_port),
        download: Mutex::new(Download::new(picker)),
        storage,
        pool: Arc::clone(&session.pool),
        verified: broadcast::channel(VERIFIED_BACKLOG).0,
        paused: AtomicBool::new(false),
        downloaded: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        wasted: AtomicU64::new(0),
        events: events_tx,
    });
    snap.listen_port = session.listen_port;
    let mut c = Coordinator::new(meta, opts, Arc::clone(&shared), snap, started, &session);
    let (level, text) = listen_log;
    c.log(level, text);
    let verified = shared.download().picker.have().count();
    c.log(
        LogLevel::Info,
        format!(
            "checked existing data: {verified} of {} pieces verified",
            info.num_pieces()
        ),
    );
    if paused_early {
        c.on_command(Command::Pause);
    }
    let outcome = c.main_loop(commands, events_rx, snapshots).await;
    session.remove(&shared.info_hash);
    session.shutdown();
    outcome
}

pub(crate) struct Coordinator {
    pub meta: Metainfo,
    pub opts: Options,
    pub shared: Arc<Shared>,
    pub snap: Snapshot,
    pub started: Instant,
    pub peers: PeerTable,
    pub log: VecDeque<LogLine>,
    pub paused: bool,
    pub complete: bool,
    pub tracker_tx: Option<mpsc::Sender<TrackerCommand>>,
    pub progress_tx: watch::Sender<Progress>,
    pub down: RateWindow,
    pub up: RateWindow,
    pub last_rechoke: Instant,
    pub last_optimistic: Instant,
    pub optimistic: Option<SocketAddr>,
    pub fatal: Option<String>,
    pub half_open: usize,
}

impl Coordinator {
    fn new(
        meta: Metainfo,
        opts: Options,
        shared: Arc<Shared>,
        snap: Snapshot,
        started: Instant,
        session: &Session,
    ) -> Self {
        let (complete, left) = {
            let d = shared.download();
            (d.picker.is_complete(), d.picker.left())
        };
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
            peers: PeerTable::default(),
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
            half_open: session.limits.half_open,
        }
    }

    pub fn log(&mut self, level: LogLevel, text: String) {
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
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<Event>,
        snapshots: watch::Sender<Arc<Snapshot>>,
    ) -> Outcome {
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
        let manual = self.opts.peers.clone();
        self.peers.add(manual, PeerSource::Manual, now);
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
        while self.peers.active().next().is_some() {
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

    /// Sets up the entry for a new connection and spawns its task: the one way a peer task
    /// starts, dialed or accepted.
    pub fn spawn_peer(&mut self, addr: SocketAddr, start: Start, stage: PeerStage, now: Instant) {
        let conn = self.peers.new_conn(addr);
        let paused = self.paused;
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let cmds = p.begin(conn, stage, now);
        if paused {
            p.send(PeerCmd::Pause);
        }
        let task = PeerTask {
            conn,
            addr,
            shared: Arc::clone(&self.shared),
            live: Arc::clone(&p.live),
            cmds,
        };
        task.spawn(start);
    }

    fn connect_more(&mut self, now: Instant) {
        if self.complete {
            return;
        }
        let active = self.peers.active().count();
        let half_open = self
            .peers
            .active()
            .filter(|p| p.stage != PeerStage::Connected)
            .count();
        let budget = self
            .opts
            .max_peers
            .saturating_sub(active)
            .min(self.half_open.saturating_sub(half_open));
        if budget == 0 {
            return;
        }
        for addr in self.peers.due(now).into_iter().take(budget) {
            if let Some(p) = self.peers.get_mut(&addr) {
                p.attempts += 1;
            }
            self.spawn_peer(addr, Start::Dial, PeerStage::Connecting, now);
        }
    }

    /// The connected peers as the choker sees them.
    pub fn choke_candidates(&self) -> Vec<Candidate> {
        let seeding = self.complete;
        self.peers
            .active()
            .map(|p| {
                let f = p.live.flags();
                Candidate {
                    addr: p.addr,
                    connected: p.stage == PeerStage::Connected,
                    peer_interested: f.peer_interested,
                    am_choking: f.am_choking,
                    rate: if seeding { p.up.rate() } else { p.down.rate() },
                }
            })
            .collect()
    }

    pub fn rechoke(&mut self, now: Instant) {
        self.last_rechoke = now;
        if self.paused {
            return;
        }
        let candidates = self.choke_candidates();
        if now.duration_since(self.last_optimistic) >= OPTIMISTIC_EVERY || self.optimistic.is_none()
        {
            self.last_optimistic = now;
            let mut choked = choker::optimistic_candidates(&candidates);
            choked.shuffle(&mut rand::thread_rng());
            self.optimistic = choked.first().copied();
        }
        for c in choker::rechoke(&candidates, UPLOAD_SLOTS, self.optimistic) {
            let (addr, cmd) = match c {
                Choke::Choke(a) => (a, PeerCmd::Choke),
                Choke::Unchoke(a) => (a, PeerCmd::Unchoke),
            };
            if let Some(p) = self.peers.get(&addr) {
                p.send(cmd);
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
        let left = self.shared.download().picker.left();
        self.progress_tx.send_replace(Progress {
            uploaded,
            downloaded,
            left,
        });
        self.peers.prune(now);
    }

    fn build_snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        let d = self.shared.download();
        let mut pieces = std::mem::take(&mut self.snap.pieces);
        d.picker.piece_states(&mut pieces);
        let availability = d.picker.availability().to_vec();
        let verified = d.picker.verified_bytes();
        drop(d);
        let n = self.shared.info.num_pieces();
        let peers = self
            .peers
            .values()
            .map(|p| snapshot::peer_row(p, now, n))
            .collect();
        let state = snapshot::torrent_state(
            &self.snap.state,
            self.fatal.as_deref(),
            self.paused,
            self.complete,
            self.opts.seed,
        );
        let totals = Totals {
            verified,
            downloaded: self.shared.downloaded.load(Ordering::Relaxed),
            uploaded: self.shared.uploaded.load(Ordering::Relaxed),
            wasted: self.shared.wasted.load(Ordering::Relaxed),
            down_rate: self.down.rate(),
            up_rate: self.up.rate(),
            elapsed: self.started.elapsed(),
            listen_port: self.shared.listen_port.load(Ordering::Relaxed),
        };
        let log = snapshot::log_tail(&self.log);
        let snap = snapshot::build(&self.snap, state, totals, pieces, availability, peers, log);
        self.snap.pieces = snap.pieces.clone();
        snap
    }
}

pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggle_pause_is_decided_against_the_engine_state() {
        assert_eq!(pause_wanted(&Command::TogglePause, false), Some(true));
        assert_eq!(pause_wanted(&Command::TogglePause, true), Some(false));
        // Two quick presses end where they started, whatever the UI last saw.
        let mut paused = false;
        for _ in 0..2 {
            paused = pause_wanted(&Command::TogglePause, paused).unwrap();
        }
        assert!(!paused);
        assert_eq!(pause_wanted(&Command::Pause, true), Some(true));
        assert_eq!(pause_wanted(&Command::Resume, true), Some(false));
        assert_eq!(pause_wanted(&Command::Quit, true), None);
    }
}
