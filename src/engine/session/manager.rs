//! The session of many torrents: one task that owns the process's `Session` (listeners, UDP,
//! DHT, disk pool) and every torrent in it. Requests come in (`SessionRequest`), one light
//! line per torrent goes out every tick (`SessionSnapshot`), and a torrent's full snapshot only
//! to whoever subscribes. Torrents tell it their resume points; with a store it saves them
//! (`persist.rs`), so a restart resumes without re-hashing.
//!
//! Invariant: one slot per info hash; a slot's id never changes and is never reused while the
//! process runs. A slot whose task ended stays listed (with its error) until it is removed.

#[path = "limits.rs"]
mod limits;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::engine::api::*;
use crate::engine::options::{Options, Outcome};
use crate::engine::priorities::FilePlan;
use crate::engine::report::{unix_now, Lifetime, Report, ResumePoint};
use crate::engine::session::persist::{Kept, Persist, SavedTorrent};
use crate::engine::session::publish;
use crate::engine::session::{Session, SessionCtx};
use crate::engine::snapshot;
use crate::engine::torrent::{self, Start};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::Metainfo;

#[path = "magnets.rs"]
mod magnets;
#[path = "policy.rs"]
mod policy;

/// How often the session's line-up is published.
const SESSION_TICK: Duration = Duration::from_millis(500);
/// How long a shutdown waits for its torrents to say goodbye to their trackers and save.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The handle of a running session.
pub struct SessionHandle {
    pub requests: mpsc::UnboundedSender<SessionRequest>,
    pub snapshot: watch::Receiver<Arc<SessionSnapshot>>,
    pub done: JoinHandle<()>,
}

impl SessionHandle {
    /// Adds a torrent and waits for the answer.
    pub async fn add(
        &self,
        source: AddSource,
        save_path: Option<PathBuf>,
        (paused, files): (bool, AddFiles),
    ) -> Result<Added, String> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                reply,
            })
            .map_err(|_| "the session has stopped".to_string())?;
        rx.await
            .map_err(|_| "the session has stopped".to_string())?
    }

    /// The torrent's full snapshot, for as long as the receiver is kept.
    pub async fn subscribe(&self, id: TorrentId) -> Option<watch::Receiver<Arc<Snapshot>>> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(SessionRequest::Subscribe { id, reply })
            .ok()?;
        rx.await.ok().flatten()
    }
}

/// Starts a session on the current runtime. `opts` holds the session's settings and the
/// defaults of its torrents (`opts.output` is the default save path); with `state_dir`
/// every torrent and its resume data are kept there and the saved ones start again.
pub fn spawn(opts: Options, persist: Option<Persist>) -> SessionHandle {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(SessionSnapshot {
        default_save_path: opts.output.clone(),
        ..SessionSnapshot::default()
    }));
    let done = tokio::spawn(async move {
        let (session, listen_log) = Session::start(&opts).await;
        let (mut m, reports) = Manager::new(session, listen_log, opts, persist);
        m.restore().await;
        m.run(req_rx, reports, snap_tx).await;
    });
    SessionHandle {
        requests: req_tx,
        snapshot: snap_rx,
        done,
    }
}

/// What a torrent brings back from the store.
#[derive(Default)]
struct Resumed {
    /// The saved place in the list (None: after every torrent listed).
    queue_position: Option<u32>,
    trusted: Option<Bitfield>,
    to_check: Vec<u32>,
    lifetime: Lifetime,
    notes: Vec<String>,
    files: FilePlan,
    kept: Kept,
    /// The torrent's own rate limits.
    rates: crate::engine::rate::RatePair,
}

/// One torrent of the session.
struct Slot {
    id: TorrentId,
    info_hash: [u8; 20],
    save_path: PathBuf,
    added: u64,
    /// Order in the session's list, kept across restarts (the queue issue reorders it).
    queue_position: u32,
    commands: mpsc::UnboundedSender<Command>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    line: watch::Receiver<TorrentLine>,
    task: Option<JoinHandle<Outcome>>,
    /// Known once the metadata is (a magnet's arrives later).
    meta: Option<Arc<Metainfo>>,
    /// Asked to go away: once its task has ended, its files (and data, if asked) go too.
    removing: Option<Removal>,
    /// The newest resume point its task sent (lifetime counters, verified pieces).
    last: Option<ResumePoint>,
    /// `Ended` reports still to come from tasks this slot replaced (verify, move).
    ignore_ended: u32,
    /// The queue's and the seeding goals' state (`policy.rs`).
    policy: policy::SlotPolicy,
    /// Its rate limiters (shared with its task; `ttui limit ID` changes them here).
    rates: crate::engine::rate::TorrentRates,
}

impl Slot {
    /// Where its files are now (a move changes it once the files are there).
    fn save_path(&self) -> PathBuf {
        let line = self.line.borrow();
        if line.save_path.as_os_str().is_empty() {
            self.save_path.clone()
        } else {
            line.save_path.clone()
        }
    }
}

/// A removal waiting for its torrent's task to end.
struct Removal {
    delete_data: bool,
    reply: oneshot::Sender<Result<(), String>>,
}

struct Manager {
    session: Session,
    listen_log: Vec<(LogLevel, String)>,
    opts: Options,
    slots: Vec<Slot>,
    by_hash: HashMap<[u8; 20], TorrentId>,
    next_id: u32,
    reports_tx: mpsc::UnboundedSender<(TorrentId, Report)>,
    persist: Option<Persist>,
    shutting_down: bool,
    scratch: policy::Scratch,
}

impl Manager {
    fn new(
        session: Session,
        listen_log: Vec<(LogLevel, String)>,
        opts: Options,
        persist: Option<Persist>,
    ) -> (Manager, mpsc::UnboundedReceiver<(TorrentId, Report)>) {
        for (level, text) in &listen_log {
            match level {
                LogLevel::Info => tracing::info!("session: {text}"),
                _ => tracing::warn!("session: {text}"),
            }
        }
        // The receiver goes to the caller, for `run`: it exists once, so it is run once.
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let m = Manager {
            session,
            listen_log,
            opts,
            slots: Vec::new(),
            by_hash: HashMap::new(),
            next_id: 1,
            reports_tx,
            persist,
            shutting_down: false,
            scratch: policy::Scratch::default(),
        };
        (m, reports_rx)
    }

    fn ctx(&self) -> SessionCtx {
        self.session.ctx.clone()
    }

    /// Starts every torrent the store kept, in the order they were added.
    async fn restore(&mut self) {
        let Some(persist) = &self.persist else {
            return;
        };
        let (saved, magnets) = persist.load_all().await;
        for t in saved {
            self.start_saved(t);
        }
        for m in magnets {
            self.start_saved_magnet(m);
        }
        self.renumber();
        self.evaluate(false);
    }

    fn start_saved(&mut self, t: SavedTorrent) {
        let paused = t.paused;
        let id = self.new_slot_id();
        let save_path = t
            .save_path
            .clone()
            .unwrap_or_else(|| self.opts.output.clone());
        let start_meta = Arc::new(t.meta);
        let resume = Resumed {
            queue_position: Some(t.queue_position),
            trusted: t.trusted,
            to_check: t.to_check,
            lifetime: t.lifetime,
            notes: t.notes,
            files: t.files,
            kept: t.kept,
            rates: t.rates,
        };
        self.launch(id, start_meta, save_path, t.added, paused, resume);
    }

    /// After every torrent listed: saved torrents come back in their order, new ones go last.
    fn next_queue_position(&self) -> u32 {
        self.slots
            .iter()
            .map(|s| s.queue_position.saturating_add(1))
            .max()
            .unwrap_or(0)
    }

    fn new_slot_id(&mut self) -> TorrentId {
        let id = TorrentId(self.next_id);
        self.next_id += 1;
        id
    }

    async fn run(
        &mut self,
        mut requests: mpsc::UnboundedReceiver<SessionRequest>,
        mut reports: mpsc::UnboundedReceiver<(TorrentId, Report)>,
        snapshots: watch::Sender<Arc<SessionSnapshot>>,
    ) {
        let mut tick = tokio::time::interval(SESSION_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = requests.recv() => match r {
                    None | Some(SessionRequest::Shutdown) => break,
                    Some(r) => self.on_request(r).await,
                },
                Some((id, report)) = reports.recv() => self.on_report(id, report),
                _ = tick.tick() => {
                    self.session.ctx.rates.follow_schedule();
                    self.evaluate(true);
                    let prev = Arc::clone(&snapshots.borrow());
                    let head = self.head().await;
                    if !(publish::same_lines(&prev.torrents, &self.slots, Self::line_is)
                        && publish::same_head(&prev, &head))
                    {
                        snapshots.send_replace(Arc::new(self.with_lines(head)));
                    }
                    if let Some(p) = &mut self.persist {
                        p.retry_due();
                    }
                }
            }
        }
        self.shutdown(&mut reports).await;
        snapshots.send_replace(Arc::new(self.snapshot().await));
    }

    /// Every torrent stops (trackers told, resume points sent and saved), then the session.
    async fn shutdown(&mut self, reports: &mut mpsc::UnboundedReceiver<(TorrentId, Report)>) {
        self.shutting_down = true;
        for s in &self.slots {
            let _ = s.commands.send(Command::Quit);
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.slots.iter().any(|s| s.task.is_some()) {
            match tokio::time::timeout_at(deadline, reports.recv()).await {
                Ok(Some((id, report))) => self.on_report(id, report),
                _ => break,
            }
        }
        if let Some(p) = &mut self.persist {
            p.flush();
        }
        self.session.close().await;
    }

    async fn on_request(&mut self, r: SessionRequest) {
        match r {
            SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                reply,
            } => {
                let _ = reply.send(self.add(source, save_path, paused, files));
                self.evaluate(false);
            }
            SessionRequest::Torrent { id, command } => {
                if !self.pause_command(id, &command) {
                    if let Some(s) = self.slot(id) {
                        let _ = s.commands.send(command);
                    }
                }
                self.evaluate(false);
            }
            SessionRequest::Force { id, on, reply } => {
                let _ = reply.send(self.force(id, on));
                self.evaluate(false);
            }
            SessionRequest::Queue { id, to, reply } => {
                let _ = reply.send(self.queue_move(id, to));
                self.evaluate(false);
            }
            SessionRequest::Goals {
                id,
                ratio,
                seed_time,
                idle,
                reply,
            } => {
                let _ = reply.send(self.set_goals(id, ratio, seed_time, idle));
                self.evaluate(false);
            }
            SessionRequest::Verify { id } => self.verify(id),
            SessionRequest::Remove {
                id,
                delete_data,
                reply,
            } => {
                self.remove(id, delete_data, reply);
                self.evaluate(false);
            }
            SessionRequest::Move { id, dir, reply } => self.start_move(id, dir, reply),
            SessionRequest::Subscribe { id, reply } => {
                let rx = self.slot(id).map(|s| {
                    // An idle torrent builds no snapshot and ticks slowly: ask for one now.
                    let _ = s.commands.send(Command::Refresh);
                    s.snapshots.subscribe()
                });
                let _ = reply.send(rx);
            }
            SessionRequest::Files { id, reply } => {
                let files = self.slot(id).and_then(|s| s.meta.as_ref()).map(|m| {
                    m.info
                        .files
                        .iter()
                        .map(|f| FileLine {
                            path: f.path.join("/"),
                            size: f.length,
                            offset: f.offset,
                            padding: f.padding,
                        })
                        .collect()
                });
                let _ = reply.send(files);
            }
            SessionRequest::Shutdown => {}
            SessionRequest::Limit {
                target,
                change,
                reply,
            } => {
                let _ = reply.send(self.limit(target, change));
            }
        }
    }

    fn slot(&self, id: TorrentId) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    fn add(
        &mut self,
        source: AddSource,
        save_path: Option<PathBuf>,
        paused: bool,
        files: AddFiles,
    ) -> Result<Added, String> {
        if self.shutting_down {
            return Err("the session is stopping".into());
        }
        let save_path = save_path.unwrap_or_else(|| self.opts.output.clone());
        match source {
            AddSource::Torrent { name, bytes } => {
                let meta = Metainfo::from_bytes(&bytes)
                    .map_err(|e| format!("{}: {e}", crate::protocol::text::shorten(&name)))?;
                if let Some(id) = self.by_hash.get(&meta.info_hash) {
                    return Ok(Added::Already {
                        id: *id,
                        name: meta.info.name.clone(),
                        info_hash: meta.info_hash,
                    });
                }
                let name = meta.info.name.clone();
                let info_hash = meta.info_hash;
                let plan = match &files.only {
                    Some(only) => FilePlan::only(&meta.info, only, files.sequential)?,
                    None => FilePlan::new(&meta.info, &[], files.sequential),
                };
                if let Some(p) = &mut self.persist {
                    p.save_torrent(&meta.info_hash, &bytes)
                        .map_err(|e| e.to_string())?;
                }
                let id = self.new_slot_id();
                let added = unix_now();
                self.launch(
                    id,
                    Arc::new(meta),
                    save_path,
                    added,
                    paused,
                    Resumed {
                        files: plan.clone(),
                        ..Resumed::default()
                    },
                );
                self.save_now(id, paused, plan);
                Ok(Added::New {
                    id,
                    name,
                    info_hash,
                })
            }
            AddSource::Magnet(link) => {
                let magnet = Magnet::parse(&link).map_err(|e| e.to_string())?;
                if let Some(id) = self.by_hash.get(&magnet.info_hash) {
                    let name = self.slot(*id).map(|s| s.line.borrow().name.clone());
                    return Ok(Added::Already {
                        id: *id,
                        name: name.unwrap_or_default(),
                        info_hash: magnet.info_hash,
                    });
                }
                let id = self.new_slot_id();
                let name = magnet
                    .display_name
                    .clone()
                    .unwrap_or_else(|| crate::protocol::metainfo::to_hex(&magnet.info_hash));
                let info_hash = magnet.info_hash;
                self.launch_magnet(id, magnet, save_path, (paused, files.clone()));
                self.save_magnet(id, &link, (paused, &files));
                Ok(Added::New {
                    id,
                    name,
                    info_hash,
                })
            }
        }
    }

    /// A resume point for a torrent that has not sent one yet, so an acknowledged add survives
    /// a crash that comes before its first tick.
    fn save_now(&mut self, id: TorrentId, paused: bool, files: FilePlan) {
        let Some(slot) = self.slots.iter().find(|s| s.id == id) else {
            return;
        };
        let (Some(meta), Some(p)) = (slot.meta.clone(), self.persist.as_mut()) else {
            return;
        };
        let point = ResumePoint {
            have: Bitfield::new(meta.info.num_pieces()),
            lifetime: Lifetime::default(),
            paused,
            peers: Vec::new(),
            clean: false,
            files,
            rates: slot.rates.own(),
        };
        p.save_resume(
            &meta,
            &slot.save_path,
            (slot.added, slot.queue_position),
            &point,
            &slot.policy.kept(),
        );
    }

    fn launch(
        &mut self,
        id: TorrentId,
        meta: Arc<Metainfo>,
        save_path: PathBuf,
        added: u64,
        paused: bool,
        resume: Resumed,
    ) {
        let Resumed {
            queue_position,
            trusted,
            to_check,
            lifetime,
            notes,
            files,
            kept,
            rates,
        } = resume;
        let rates = self.session.ctx.rates.torrent(rates);
        let queue_position = queue_position.unwrap_or_else(|| self.next_queue_position());
        let first = snapshot::initial(id, &meta, &save_path, self.session.ctx.listen_port);
        let (snap_tx, _) = watch::channel(Arc::new(first));
        let complete = trusted.as_ref().is_some_and(|b| b.is_complete()) && to_check.is_empty();
        let mut first_line = TorrentLine::placeholder(id);
        first_line.info_hash = meta.info_hash;
        first_line.name.clone_from(&meta.info.name);
        first_line.state = TorrentState::Downloading;
        first_line.total_bytes = meta.info.total_length;
        first_line.wanted_bytes = meta.info.total_length;
        first_line.verified_bytes = trusted.as_ref().map_or(0, |b| {
            (u64::from(b.count()) * u64::from(meta.info.piece_length)).min(meta.info.total_length)
        });
        first_line.save_path.clone_from(&save_path);
        first_line.added = added;
        first_line.downloaded = lifetime.downloaded;
        first_line.uploaded = lifetime.uploaded;
        first_line.completed = lifetime.completed;
        // The sender goes with the task when the queue starts one (`policy::relaunch`).
        let (_, line_rx) = watch::channel(first_line);
        let (cmd_tx, _) = mpsc::unbounded_channel();
        self.by_hash.insert(meta.info_hash, id);
        let mut policy = policy::SlotPolicy::new(kept, lifetime.seeding_secs);
        policy.stopped = Some(policy::Parked {
            paused,
            complete,
            trusted,
            to_check,
            lifetime,
            notes,
            files,
        });
        self.slots.push(Slot {
            id,
            info_hash: meta.info_hash,
            save_path,
            added,
            queue_position,
            commands: cmd_tx,
            snapshots: snap_tx,
            line: line_rx,
            task: None,
            meta: Some(meta),
            removing: None,
            last: None,
            ignore_ended: 0,
            policy,
            rates,
        });
    }

    fn launch_magnet(
        &mut self,
        id: TorrentId,
        magnet: Magnet,
        save_path: PathBuf,
        (paused, files): (bool, AddFiles),
    ) {
        let rates = self.session.ctx.rates.torrent(Default::default());
        let opts = Options {
            output: save_path.clone(),
            seed: true,
            ..self.opts.clone()
        };
        let first = crate::engine::magnet::magnet_snapshot(id, &magnet, &save_path);
        let (snap_tx, _) = watch::channel(Arc::new(first));
        let mut first_line = TorrentLine::placeholder(id);
        first_line.info_hash = magnet.info_hash;
        first_line.name = magnet
            .display_name
            .clone()
            .unwrap_or_else(|| crate::protocol::metainfo::to_hex(&magnet.info_hash));
        first_line.state = TorrentState::Downloading;
        first_line.why = Some("fetching metadata".into());
        first_line.save_path.clone_from(&save_path);
        let added = unix_now();
        first_line.added = added;
        let (line_tx, line_rx) = watch::channel(first_line);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let start = Start {
            id,
            ctx: self.ctx(),
            trusted: None,
            to_check: Vec::new(),
            lifetime: Lifetime::default(),
            paused,
            files: FilePlan {
                sequential: files.sequential,
                ..FilePlan::default()
            },
            rates: rates.clone(),
            snapshots: snap_tx.clone(),
            line: line_tx,
            reports: Some(self.reports_tx.clone()),
        };
        let extra = opts.peers.clone();
        let log = self.listen_log.clone();
        let only = files.only;
        let run = torrent::run_magnet(start, magnet.clone(), extra, opts, false, log, cmd_rx, only);
        let task = tokio::spawn(report_end(id, self.reports_tx.clone(), run));
        self.by_hash.insert(magnet.info_hash, id);
        self.slots.push(Slot {
            id,
            info_hash: magnet.info_hash,
            save_path,
            added,
            queue_position: self.next_queue_position(),
            commands: cmd_tx,
            snapshots: snap_tx,
            line: line_rx,
            task: Some(task),
            meta: None,
            removing: None,
            last: None,
            ignore_ended: 0,
            policy: policy::SlotPolicy::new(Kept::default(), 0),
            rates,
        });
    }

    fn on_report(&mut self, id: TorrentId, report: Report) {
        let Some(i) = self.slots.iter().position(|s| s.id == id) else {
            return;
        };
        match report {
            Report::Metadata(meta, plan) => {
                if let Some(p) = &mut self.persist {
                    let bytes = crate::engine::session::persist::torrent_file_of(&meta);
                    if let Err(e) = p.save_torrent(&meta.info_hash, &bytes) {
                        tracing::warn!("saving the metadata of {}: {e}", meta.info.name);
                    }
                }
                self.slots[i].meta = Some(Arc::new(*meta));
                // Its `--only-files` saved with it at once: a restart before the torrent's
                // first resume point must not fetch (and create) the skipped files.
                let paused = self.slots[i].line.borrow().state == TorrentState::Paused;
                self.save_now(id, paused, plan);
            }
            Report::Resume(point) => {
                let slot = &mut self.slots[i];
                if slot.removing.is_some() {
                    return;
                }
                slot.last = Some((*point).clone());
                let path = slot.save_path();
                if let (Some(meta), Some(p)) = (slot.meta.clone(), self.persist.as_mut()) {
                    let kept = slot.policy.kept();
                    p.save_resume(
                        &meta,
                        &path,
                        (slot.added, slot.queue_position),
                        &point,
                        &kept,
                    );
                }
            }
            Report::Ended(_) if self.slots[i].ignore_ended > 0 => {
                self.slots[i].ignore_ended -= 1;
            }
            Report::Ended(outcome) => {
                self.slots[i].task = None;
                if let Outcome::Failed(msg) = &outcome {
                    tracing::warn!("torrent {id} stopped: {msg}");
                }
                if self.slots[i].removing.is_some() {
                    self.finish_remove(i);
                }
                self.evaluate(false);
            }
        }
    }

    /// Stops the torrent and starts it again with a full check of its files.
    fn verify(&mut self, id: TorrentId) {
        if let Some(i) = self.slots.iter().position(|s| s.id == id) {
            self.restart(i, None);
        }
    }

    /// Stops the torrent, moves its files to `dir` (a rename when it can, else a copy), and
    /// starts it again from there with the pieces it had. On any failure what was copied is
    /// removed, the old files stay where they were and the torrent starts there again.
    fn start_move(
        &mut self,
        id: TorrentId,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), String>>,
    ) {
        let Some(i) = self.slots.iter().position(|s| s.id == id) else {
            let _ = reply.send(Err(format!("no torrent {id}")));
            return;
        };
        if self.slots[i].meta.is_none() {
            let _ = reply.send(Err("its metadata has not arrived yet".into()));
            return;
        }
        if self.slots[i].save_path == dir {
            let _ = reply.send(Ok(()));
            return;
        }
        self.restart(i, Some((dir, reply)));
    }

    /// Ends the slot's task and starts a new one on the same torrent: a full check (verify),
    /// or after moving its files.
    fn restart(
        &mut self,
        i: usize,
        moving: Option<(PathBuf, oneshot::Sender<Result<(), String>>)>,
    ) {
        let Some(meta) = self.slots[i].meta.clone() else {
            return;
        };
        let old = self.slots.remove(i);
        let id = old.id;
        let _ = old.commands.send(Command::Quit);
        let mut line = Self::line_of(&old);
        line.why = None;
        let point = old.last.clone();
        let lifetime = point.as_ref().map_or(lifetime_of(&line), |p| p.lifetime);
        let paused = matches!(line.state, TorrentState::Paused);
        let old_path = old.save_path.clone();
        // The old task lets go of the files and the router before the new one opens them; its
        // `Ended` report arrives for a slot that has moved on.
        let task = old.task;
        let ignore_ended = old.ignore_ended + u32::from(task.is_some());
        let (ctx, listen_log, opts, reports) = (
            self.ctx(),
            self.listen_log.clone(),
            self.opts.clone(),
            self.reports_tx.clone(),
        );
        let snap_tx = old.snapshots;
        let snap_keep = snap_tx.clone();
        let target = moving.as_ref().map(|(d, _)| d.clone());
        if let Some(dir) = &target {
            line.why = Some(format!("moving to {}", dir.display()));
        }
        let (line_tx, line_rx) = watch::channel(line);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        // A move keeps the verified pieces; a verify starts from nothing.
        let trusted = match (&moving, &point) {
            (Some(_), Some(p)) => Some(p.have.clone()),
            _ => None,
        };
        let new_path = target.clone().unwrap_or_else(|| old_path.clone());
        let files = point.as_ref().map(|p| p.files.clone()).unwrap_or_default();
        let meta2 = Arc::clone(&meta);
        let moved_rates = old.rates.clone();
        let ended = self.reports_tx.clone();
        let new_task = tokio::spawn(report_end(id, ended, async move {
            if let Some(t) = task {
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, t).await;
            }
            let mut output = old_path.clone();
            let mut trusted = trusted;
            if let Some((dir, reply)) = moving {
                if move_off_thread(&old_path, &dir, &meta2, reply).await {
                    output = dir;
                } else {
                    // Still at the old place: check it, the copy may have touched nothing,
                    // but the pieces are cheap to trust only when nothing moved.
                    trusted = None;
                }
            }
            line_tx.send_modify(|l| {
                l.why = None;
                l.save_path.clone_from(&output);
            });
            let first = snapshot::initial(id, &meta2, &output, ctx.listen_port);
            snap_tx.send_replace(Arc::new(first));
            let start = Start {
                id,
                ctx,
                trusted,
                to_check: Vec::new(),
                lifetime,
                paused,
                files,
                rates: moved_rates,
                snapshots: snap_tx,
                line: line_tx,
                reports: Some(reports),
            };
            let opts = Options {
                output,
                seed: true,
                ..opts
            };
            torrent::run(start, listen_log, (*meta2).clone(), opts, cmd_rx).await
        }));
        self.slots.insert(
            i,
            Slot {
                id,
                info_hash: meta.info_hash,
                save_path: new_path,
                added: old.added,
                queue_position: old.queue_position,
                commands: cmd_tx,
                snapshots: snap_keep,
                line: line_rx,
                task: Some(new_task),
                meta: Some(meta),
                removing: None,
                last: point,
                ignore_ended,
                policy: policy::SlotPolicy {
                    stopped: None,
                    ..old.policy
                },
                rates: old.rates.clone(),
            },
        );
    }

    fn remove(
        &mut self,
        id: TorrentId,
        delete_data: bool,
        reply: oneshot::Sender<Result<(), String>>,
    ) {
        let Some(i) = self.slots.iter().position(|s| s.id == id) else {
            let _ = reply.send(Err(format!("no torrent {id}")));
            return;
        };
        let slot = &mut self.slots[i];
        slot.removing = Some(Removal { delete_data, reply });
        let _ = slot.commands.send(Command::Quit);
        if slot.task.is_none() {
            self.finish_remove(i);
        }
    }

    /// The torrent's task has ended: forget it, its saved state and (if asked) its data.
    fn finish_remove(&mut self, i: usize) {
        let slot = self.slots.remove(i);
        self.by_hash.remove(&slot.info_hash);
        let path = slot.save_path();
        let Some(Removal { delete_data, reply }) = slot.removing else {
            return;
        };
        if let Some(p) = &mut self.persist {
            p.remove(&slot.info_hash);
        }
        let mut result = Ok(());
        if delete_data {
            if let Some(meta) = &slot.meta {
                result = delete_files(&path, meta);
            }
        }
        let _ = reply.send(result);
    }

    async fn snapshot(&self) -> SessionSnapshot {
        self.with_lines(self.head().await)
    }

    /// `head` with every torrent's line and the rates summed from them.
    fn with_lines(&self, head: SessionSnapshot) -> SessionSnapshot {
        let torrents: Vec<TorrentLine> = self.slots.iter().map(Self::line_of).collect();
        SessionSnapshot {
            down_rate: torrents.iter().map(|t| t.down_rate).sum(),
            up_rate: torrents.iter().map(|t| t.up_rate).sum(),
            torrents,
            ..head
        }
    }

    /// The session's list without its lines.
    async fn head(&self) -> SessionSnapshot {
        let ctx = &self.session.ctx;
        let dht_nodes = match &ctx.dht {
            Some(d) => Some(d.stats().await.map_or(0, |s| s.nodes)),
            None => None,
        };
        SessionSnapshot {
            torrents: Vec::new(),
            down_rate: 0.0,
            up_rate: 0.0,
            listen_port: ctx.listen_port,
            dht_nodes,
            incoming: ctx.incoming(),
            default_save_path: self.opts.output.clone(),
            save_error: self.persist.as_ref().and_then(|p| p.error()),
            down_limit: ctx.rates.down.rate(),
            up_limit: ctx.rates.up.rate(),
            turtle: ctx.rates.view().turtle,
        }
    }
}

/// Runs a torrent's task and tells the manager when it ends, however it ends: an early error
/// (files that cannot be opened), a quit during the check, a panic. Without this report a
/// removal would wait forever for a torrent that failed to start.
async fn report_end(
    id: TorrentId,
    reports: mpsc::UnboundedSender<(TorrentId, Report)>,
    run: impl std::future::Future<Output = Outcome>,
) -> Outcome {
    struct Guard {
        id: TorrentId,
        reports: mpsc::UnboundedSender<(TorrentId, Report)>,
        outcome: Option<Outcome>,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            let outcome = self
                .outcome
                .take()
                .unwrap_or_else(|| Outcome::Failed("the torrent's task stopped".into()));
            let _ = self.reports.send((self.id, Report::Ended(outcome)));
        }
    }
    let mut guard = Guard {
        id,
        reports,
        outcome: None,
    };
    let outcome = run.await;
    guard.outcome = Some(outcome.clone());
    outcome
}

/// Removes the torrent's files under `root`, then the directories it made that are left
/// empty. Paths come from the sanitised metainfo, so they stay inside `root`.
fn delete_files(root: &std::path::Path, meta: &Metainfo) -> Result<(), String> {
    let mut first_err = None;
    let parts = PathBuf::from(crate::engine::priorities::parts_file_name(&meta.info_hash));
    let files = meta.info.files.iter().filter(|f| !f.padding);
    for rel in files.map(|f| f.relative_path()).chain([parts]) {
        let path = root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                first_err.get_or_insert_with(|| format!("{}: {e}", path.display()));
            }
        }
    }
    delete_empty_dirs(root, meta);
    first_err.map_or(Ok(()), Err)
}

/// Moves the torrent's files from `from` to `to`: a rename per file when both are on one file
/// system, else a copy (synced) and then the removal of the originals. Either every file ends
/// up in `to` or none does: on an error the files moved so far go back (or the copies are
/// removed) and the error is returned.
/// Counters for a torrent that never saved a resume point: what its line last showed.
fn lifetime_of(line: &TorrentLine) -> Lifetime {
    Lifetime {
        downloaded: line.downloaded,
        uploaded: line.uploaded,
        completed: line.completed,
        ..Lifetime::default()
    }
}

/// [`move_files`] off the async threads, the client told how it went; true when it worked.
async fn move_off_thread(
    from: &std::path::Path,
    to: &std::path::Path,
    meta: &Arc<Metainfo>,
    reply: oneshot::Sender<Result<(), String>>,
) -> bool {
    let (from, to, m) = (from.to_path_buf(), to.to_path_buf(), Arc::clone(meta));
    let moved = tokio::task::spawn_blocking(move || move_files(&from, &to, &m))
        .await
        .unwrap_or_else(|e| Err(format!("moving: {e}")));
    let ok = moved.is_ok();
    let _ = reply.send(moved);
    ok
}

fn move_files(from: &std::path::Path, to: &std::path::Path, meta: &Metainfo) -> Result<(), String> {
    use std::fs;
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let files: Vec<PathBuf> = meta
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.relative_path())
        .chain([PathBuf::from(crate::engine::priorities::parts_file_name(
            &meta.info_hash,
        ))])
        .filter(|rel| from.join(rel).exists())
        .collect();
    let mut done: Vec<(PathBuf, bool)> = Vec::new();
    let undo = |done: &[(PathBuf, bool)]| {
        for (rel, renamed) in done.iter().rev() {
            if *renamed {
                let _ = fs::rename(to.join(rel), from.join(rel));
            } else {
                let _ = fs::remove_file(to.join(rel));
            }
        }
    };
    for rel in &files {
        let (src, dst) = (from.join(rel), to.join(rel));
        if dst.exists() {
            undo(&done);
            return Err(format!("{} exists already", dst.display()));
        }
        if let Some(parent) = dst.parent() {
            if let Err(e) = fs::create_dir_all(parent) {
                undo(&done);
                return Err(format!("{}: {e}", parent.display()));
            }
        }
        match fs::rename(&src, &dst) {
            Ok(()) => done.push((rel.clone(), true)),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                let copied = fs::copy(&src, &dst)
                    .and_then(|_| fs::File::open(&dst))
                    .and_then(|f| f.sync_all());
                if let Err(e) = copied {
                    let _ = fs::remove_file(&dst);
                    undo(&done);
                    return Err(format!("copying to {}: {e}", dst.display()));
                }
                done.push((rel.clone(), false));
            }
            Err(e) => {
                undo(&done);
                return Err(format!("moving to {}: {e}", dst.display()));
            }
        }
    }
    // Everything is in place: the originals that were copied go, then empty folders.
    for (rel, renamed) in &done {
        if !renamed {
            let _ = fs::remove_file(from.join(rel));
        }
    }
    delete_empty_dirs(from, meta);
    Ok(())
}

/// Removes the folders a torrent's files lived in, when they are empty.
fn delete_empty_dirs(root: &std::path::Path, meta: &Metainfo) {
    let mut dirs = Vec::new();
    for f in &meta.info.files {
        let mut dir = root.join(f.relative_path());
        while let Some(d) = dir.parent().map(std::path::Path::to_path_buf) {
            if d == root || !d.starts_with(root) {
                break;
            }
            dirs.push(d.clone());
            dir = d;
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        let _ = std::fs::remove_dir(&d);
    }
}
