//! The session of many torrents: one task that owns the process's `Session` (listeners, UDP,
//! DHT, disk pool) and every torrent in it. Requests come in (`SessionRequest`), one light
//! line per torrent goes out every tick (`SessionSnapshot`), and a torrent's full snapshot only
//! to whoever subscribes. Torrents tell it their resume points; with a store it saves them
//! (`persist.rs`), so a restart resumes without re-hashing.
//!
//! Invariant: one slot per info hash; a slot's id never changes and is never reused while the
//! process runs. A slot whose task ended stays listed (with its error) until it is removed.
//!
//! This file holds the types, the loop and the published list; the rest of the manager is
//! split by what it does: `requests.rs` (each request to its handler), `add.rs` (a torrent
//! added or brought back), `reports.rs` (what a torrent's task says), `restart.rs` (verify,
//! move and rename), `rename.rs` and `rename_on_disk.rs` (a file or folder renamed),
//! `remove.rs`, `disk_files.rs` (files moved or deleted), `policy.rs` (the queue, the checks a
//! few at a time, and the seeding goals), `parked.rs` (commands for a torrent without a
//! task), `lines.rs` (each torrent's line as the session shows it), `limits.rs`,
//! `magnets.rs`, `sleep.rs` (dormant torrents: no task until a peer, an announce, a command
//! or a subscriber wakes them; see `dormancy.rs`).

mod limits;
mod slot_rates;
mod slots;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::engine::api::*;
use crate::engine::session::persist::{Kept, Persist};
use crate::engine::session::Session;
use crate::engine::session::{dormancy, on_complete, publish};
use crate::engine::torrent::options::Options;
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::report::{Lifetime, Report, ResumePoint};
use crate::engine::torrent::snapshot::{self, Snapshots};
use crate::engine::torrent::start::SessionCtx;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;

mod accounts;
mod add;
mod completed;
mod copies;
mod cross_seed;
pub(super) mod disk_files;
mod labels;
mod launch;
mod lines;
mod magnets;
mod parked;
mod policy;
mod remove;
mod rename;
mod rename_on_disk;
mod reports;
mod requests;
mod restart;
mod sleep;
mod slot;
mod state;
mod streams;
mod torrent_saves;
mod trackers;

use state::SlotState;

/// How often the session's line-up is published.
const SESSION_TICK: Duration = Duration::from_millis(500);
/// With every torrent dormant (no task) and nothing asked, the pass over every slot (queue,
/// seeding goals, the published list) runs this seldom: nothing in it can change but the
/// seeding time the goals count.
const IDLE_PASS: Duration = Duration::from_secs(30);
/// How long a shutdown waits for its torrents to say goodbye to their trackers and save.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Most requests served in one go before the queue is weighed and the loop looks at reports
/// and the tick again.
const REQUEST_BATCH: usize = 512;

/// The handle of a running session.
pub(crate) struct SessionHandle {
    pub requests: mpsc::UnboundedSender<SessionRequest>,
    pub snapshot: watch::Receiver<Arc<SessionSnapshot>>,
    pub done: JoinHandle<()>,
}

impl SessionHandle {
    /// The one way a face asks this session for something.
    pub(crate) fn client(&self) -> crate::engine::api::Client {
        crate::engine::api::Client::new(self.requests.clone(), self.snapshot.clone())
    }
}

/// Starts a session on the current runtime. `opts` holds the session's settings and the
/// defaults of its torrents (`opts.output` is the default save path); with `state_dir`
/// every torrent and its resume data are kept there and the saved ones start again.
pub(crate) fn spawn(opts: Options, persist: Option<Persist>) -> SessionHandle {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(SessionSnapshot {
        default_save_path: opts.output.clone(),
        ..SessionSnapshot::default()
    }));
    let done = tokio::spawn(async move {
        let (session, listen_log) = Session::start(&opts).await;
        let (mut m, inboxes) = Manager::new(session, listen_log, opts, persist);
        m.restore().await;
        m.run(req_rx, inboxes, snap_tx).await;
    });
    SessionHandle {
        requests: req_tx,
        snapshot: snap_rx,
        done,
    }
}

/// The receivers of the manager's loop, made with it: `run` takes them, once.
struct Inboxes {
    reports: mpsc::UnboundedReceiver<(TorrentId, Report)>,
    wakes: mpsc::UnboundedReceiver<[u8; 20]>,
    /// Moves out of the incomplete directory that ended: the torrent, where to, how.
    moves: mpsc::UnboundedReceiver<(TorrentId, PathBuf, Result<(), RequestError>)>,
    /// Background copies of moves that ended (`copies.rs`).
    copied: mpsc::UnboundedReceiver<copies::Copied>,
    /// Outcomes of `on_complete` runs.
    scripts: mpsc::UnboundedReceiver<(TorrentId, Result<(), on_complete::ScriptError>)>,
    /// Batches of added torrents' .torrent files written (`torrent_saves.rs`).
    saved: mpsc::UnboundedReceiver<Vec<torrent_saves::Saved>>,
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
    rates: crate::engine::api::RatePair,
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
    /// Its full-snapshot channel, in a cell shared with its task. None while no task or
    /// subscriber can want it: a slot added without a task yet, or asleep unwatched
    /// (`dormancy::keep_asleep`). A task gets the cell when it starts (`cell()`), filled only
    /// once someone subscribes (`subscribe()`): until then neither holds a snapshot.
    snapshots: Option<Snapshots>,
    line: lines::Line,
    /// What it is doing: running, parking, parked or asleep, ended, being removed
    /// (`state.rs`, with its transitions).
    state: SlotState,
    /// Known once the metadata is (a magnet's arrives later); kept through every state.
    meta: Option<Arc<Metainfo>>,
    /// The newest resume point its task sent (lifetime counters, verified pieces). Boxed:
    /// a library restored from the store has none (192 bytes a slot).
    last: Option<Box<ResumePoint>>,
    /// `Ended` reports still to come from tasks this slot replaced (verify, move): not its
    /// state's, whose own task's `Ended` is the one that moves it on.
    ignore_ended: u32,
    /// The queue's and the seeding goals' state (`policy.rs`).
    policy: policy::SlotPolicy,
    /// Its rate limiters (shared with its task; `ttui limit ID` changes them here), or only
    /// its own limits while it has no task (`slot_rates.rs`).
    rates: slot_rates::SlotRates,
}

/// A removal waiting for its torrent's task to end.
struct Removal {
    delete_data: bool,
    reply: oneshot::Sender<Result<(), RequestError>>,
}

struct Manager {
    session: Session,
    listen_log: Vec<(LogLevel, String)>,
    opts: Options,
    slots: slots::Slots,
    reports_tx: mpsc::UnboundedSender<(TorrentId, Report)>,
    persist: Option<Persist>,
    shutting_down: bool,
    scratch: policy::Scratch,
    /// When torrents sleep (`dormancy.rs`).
    dormancy: crate::engine::session::dormancy::Settings,
    /// Where the router asks for a dormant torrent to wake (by info hash).
    wakes_tx: mpsc::UnboundedSender<[u8; 20]>,
    /// The dormant torrents' next announces, and a buffer for the due ones.
    announces: crate::engine::session::dormancy::Announces,
    due: Vec<(std::time::Instant, TorrentId)>,
    /// Tasks woken only to announce whose trackers have not answered yet, as the last pass
    /// counted them plus those woken since (`dormancy::MAX_ANNOUNCING`).
    announcing: usize,
    /// Torrent tasks started and not yet reported ended.
    tasks_alive: usize,
    /// When the session started (Unix seconds): a torrent with no activity since has been
    /// idle at least this long (`Slot::idle_for`).
    started_unix: u64,
    /// Something happened since the last pass over every slot (a request, a report, a wake).
    dirty: bool,
    /// A torrent fell asleep since the last tick: its task's memory can go back.
    trim_due: bool,
    /// A request or a report changed what the queue weighs: `evaluate` runs once after the
    /// requests that came together (or before the next read; after a report, at
    /// `evaluate_at`), not once each. That pass visits every slot,
    /// and once per add it made adding cost grow with the library (100,000 torrents).
    evaluate_due: bool,
    /// The earliest a report's evaluation may run (`EVALUATE_SPACING` in `policy.rs`).
    evaluate_at: tokio::time::Instant,
    /// A check ended since the last evaluation: it looks whether the burst settled.
    checks_ended: bool,
    /// The command sender of every slot without a task (its receiver was dropped at once):
    /// one channel for all of them, where each would otherwise keep its own (a channel holds
    /// a block of 32 commands from its creation, over a KiB a slot in a library that sleeps).
    /// What is sent there is dropped, as it would be on an ended task's channel.
    no_task: mpsc::UnboundedSender<Command>,
    /// Runs `on_complete` (`completed.rs`).
    scripts: on_complete::Runner,
    /// Where a move out of the incomplete directory says it ended (`completed.rs`).
    moves_tx: mpsc::UnboundedSender<(TorrentId, PathBuf, Result<(), RequestError>)>,
    /// Moves to another file system copying while their torrents run, or waiting to
    /// (`copies.rs`), and where each says its copy ended.
    copies: Vec<copies::Job>,
    copied_tx: mpsc::UnboundedSender<copies::Copied>,
    /// Adds waiting for their .torrent to be kept, and where a written batch says so.
    saves: torrent_saves::TorrentSaves,
    saved_tx: mpsc::UnboundedSender<Vec<torrent_saves::Saved>>,
    /// Reads the blocklist, when one is set (`session/blocklist.rs`).
    blocklist: Option<crate::engine::session::blocklist::Loader>,
    /// `[labels.X]` of the config; `opts.labels` is this with the runtime catalog over it.
    config_labels: crate::engine::api::LabelTable,
    /// The categories and tags made at runtime (`labels.rs`).
    kept_catalog: labels::Kept,
    /// The catalog as published on the line-up, and what it was computed from
    /// (`labels.rs`: `refresh_catalog`).
    catalog: labels::Published,
    /// Catalog edits applied and not answered yet: each is answered once a line-up that
    /// carries it is published, so a face that lists right after its edit sees it.
    catalog_replies: Vec<labels::Reply>,
    /// Torrents were added since the last publication: their adders wait for the line-up to
    /// list them (`Client::wait_listed`), so it is published at `publish_at`, not at the
    /// next tick. A `torrents/add` form waited a tick each, and 10,000 torrents added 25
    /// files a form took 25 s, where qBittorrent takes 4.
    publish_due: bool,
    /// The earliest that publication may run: after the last one, its cost times
    /// `EVALUATE_SPACING`, so that adds arriving all the time take a tenth of a core.
    publish_at: tokio::time::Instant,
    /// When the ledger is next saved (`accounts.rs`), how often, and the save under way.
    ledger_at: tokio::time::Instant,
    ledger_every: Duration,
    ledger_saving: Option<JoinHandle<()>>,
}

impl Manager {
    fn new(
        session: Session,
        listen_log: Vec<(LogLevel, String)>,
        opts: Options,
        persist: Option<Persist>,
    ) -> (Manager, Inboxes) {
        for (level, text) in &listen_log {
            session.ctx.journal.push(*level, format!("session: {text}"));
            match level {
                LogLevel::Info => tracing::info!("session: {text}"),
                _ => tracing::warn!("session: {text}"),
            }
        }
        // The receiver goes to the caller, for `run`: it exists once, so it is run once.
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let (wakes_tx, wakes_rx) = mpsc::unbounded_channel();
        let (no_task, _) = mpsc::unbounded_channel();
        let (scripts_tx, scripts_rx) = mpsc::unbounded_channel();
        let (moves_tx, moves_rx) = mpsc::unbounded_channel();
        let (copied_tx, copied_rx) = mpsc::unbounded_channel();
        let (saved_tx, saved_rx) = mpsc::unbounded_channel();
        let kept_catalog = persist
            .as_ref()
            .map(|p| labels::Kept::load(p.store().dir()))
            .unwrap_or_default();
        let config_labels = opts.labels.clone();
        let mut opts = opts;
        opts.labels = labels::merged(&config_labels, &kept_catalog);
        let scripts = on_complete::Runner::new(opts.on_complete.clone(), scripts_tx);
        let blocklist = opts.blocklist.clone().map(|source| {
            let filter = Arc::clone(&session.ctx.ip_filter);
            crate::engine::session::blocklist::Loader::spawn(source, opts.blocklist_every, filter)
        });
        let m = Manager {
            session,
            listen_log,
            opts,
            slots: slots::Slots::new(),
            reports_tx,
            persist,
            shutting_down: false,
            scratch: policy::Scratch::default(),
            dormancy: crate::engine::session::dormancy::Settings::from_env(),
            wakes_tx,
            announces: Default::default(),
            due: Vec::new(),
            announcing: 0,
            tasks_alive: 0,
            started_unix: crate::engine::torrent::report::unix_now(),
            dirty: true,
            trim_due: false,
            evaluate_due: false,
            evaluate_at: tokio::time::Instant::now(),
            checks_ended: false,
            no_task,
            scripts,
            moves_tx,
            copies: Vec::new(),
            copied_tx,
            saves: Default::default(),
            saved_tx,
            blocklist,
            config_labels,
            kept_catalog,
            catalog: labels::Published::default(),
            catalog_replies: Vec::new(),
            publish_due: false,
            publish_at: tokio::time::Instant::now(),
            ledger_at: tokio::time::Instant::now() + accounts::save_every(),
            ledger_every: accounts::save_every(),
            ledger_saving: None,
        };
        let inboxes = Inboxes {
            reports: reports_rx,
            wakes: wakes_rx,
            scripts: scripts_rx,
            moves: moves_rx,
            copied: copied_rx,
            saved: saved_rx,
        };
        (m, inboxes)
    }

    fn ctx(&self) -> SessionCtx {
        self.session.ctx.clone()
    }

    /// After every torrent listed: saved torrents come back in their order, new ones go last.
    fn next_queue_position(&self) -> u32 {
        self.slots.queue_end()
    }

    fn new_slot_id(&mut self) -> TorrentId {
        self.slots.new_id()
    }

    async fn run(
        &mut self,
        mut requests: mpsc::UnboundedReceiver<SessionRequest>,
        mut inboxes: Inboxes,
        snapshots: watch::Sender<Arc<SessionSnapshot>>,
    ) {
        let mut last_pass = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(SESSION_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.resume_copies();
        loop {
            tokio::select! {
                r = requests.recv() => match r {
                    None | Some(SessionRequest::Shutdown) => break,
                    Some(r) => {
                        self.on_request(r).await;
                        // Requests that came together are served together, and the queue is
                        // weighed after them at `evaluate_at` (a read weighs it first): a
                        // `ttui add` of 500 files sends them one after another, and a pass over
                        // every slot after each made adding 100,000 quadratic.
                        let mut stop = false;
                        for _ in 1..REQUEST_BATCH {
                            match requests.try_recv() {
                                Ok(SessionRequest::Shutdown)
                                | Err(mpsc::error::TryRecvError::Disconnected) => {
                                    stop = true;
                                    break;
                                }
                                Ok(r) => self.on_request(r).await,
                                Err(mpsc::error::TryRecvError::Empty) => break,
                            }
                        }
                        if !self.catalog_replies.is_empty() {
                            self.publish_now(&snapshots).await;
                            for (reply, answer) in self.catalog_replies.drain(..) {
                                let _ = reply.send(answer);
                            }
                        }
                        if stop {
                            break;
                        }
                    }
                },
                Some((id, report)) = inboxes.reports.recv() => self.on_report(id, report),
                // Requests and reports ask for an evaluation; it comes once for those that
                // came together, spaced by its own cost.
                _ = tokio::time::sleep_until(self.evaluate_at), if self.evaluate_due => {
                    self.evaluate_due = false;
                    self.evaluate(false);
                }
                Some(info_hash) = inboxes.wakes.recv() => self.on_wake(info_hash),
                Some((id, outcome)) = inboxes.scripts.recv() => self.on_script_done(id, outcome),
                Some((id, to, outcome)) = inboxes.moves.recv() => self.on_moved(id, to, outcome),
                Some((id, staged)) = inboxes.copied.recv() => self.on_copied(id, staged),
                Some(batch) = inboxes.saved.recv() => self.on_saved(batch),
                _ = tokio::time::sleep_until(self.publish_at), if self.publish_due => {
                    let started = tokio::time::Instant::now();
                    self.publish_now(&snapshots).await;
                    self.publish_at = started + started.elapsed() * policy::EVALUATE_SPACING;
                }
                _ = tick.tick() => {
                    self.session.ctx.rates.follow_schedule();
                    if !self.copies.is_empty() {
                        self.show_copies();
                    }
                    self.wake_due_announces();
                    // Per-tick work follows what is awake: a session whose torrents all
                    // sleep, and that nothing touched, skips the pass over every slot.
                    let pass = self.dirty
                        || self.tasks_alive > 0
                        || last_pass.elapsed() >= IDLE_PASS;
                    if pass {
                        self.dirty = false;
                        last_pass = tokio::time::Instant::now();
                        self.evaluate(true);
                    }
                    self.refresh_catalog();
                    let prev = Arc::clone(&snapshots.borrow());
                    let head = self.head().await;
                    // Without a pass nothing of a line moved. With one, the lines before the
                    // first change are not compared again when the list is built.
                    let change = if pass {
                        let rules = &self.opts.trackers;
                        publish::first_change(&prev.torrents, &self.slots, |slot, line| {
                            Self::line_is(slot, line, rules)
                        })
                    } else {
                        None
                    };
                    if change.is_some() || !publish::same_head(&prev, &head) {
                        let same = change.unwrap_or(usize::MAX);
                        snapshots.send_replace(Arc::new(self.with_lines(head, &prev, same)));
                    }
                    // The adds answered before this pass are listed in what it published.
                    self.publish_due &= !pass;
                    if let Some(p) = &mut self.persist {
                        p.retry_due();
                    }
                    if tokio::time::Instant::now() >= self.ledger_at {
                        self.ledger_at = tokio::time::Instant::now() + self.ledger_every;
                        self.save_ledger(false).await;
                    }
                    if std::mem::take(&mut self.trim_due) {
                        sleep::give_back_memory();
                    }
                }
            }
        }
        // Copies stop between two reads (what they staged whole is kept for the next start:
        // their journals still ask for them), so the runtime's end does not wait for them.
        for job in &self.copies {
            job.stop();
        }
        self.shutdown(&mut inboxes.reports).await;
        self.refresh_catalog();
        let prev = Arc::clone(&snapshots.borrow());
        snapshots.send_replace(Arc::new(self.snapshot(&prev).await));
        for (reply, answer) in self.catalog_replies.drain(..) {
            let _ = reply.send(answer);
        }
    }

    /// Publishes the line-up now, out of the tick, for the faces waiting on it: the queue
    /// weighed first, as for a read, and every line compared.
    async fn publish_now(&mut self, snapshots: &watch::Sender<Arc<SessionSnapshot>>) {
        self.publish_due = false;
        if std::mem::take(&mut self.evaluate_due) {
            self.evaluate(false);
        }
        self.refresh_catalog();
        let prev = Arc::clone(&snapshots.borrow());
        let head = self.head().await;
        snapshots.send_replace(Arc::new(self.with_lines(head, &prev, 0)));
    }

    /// Every torrent stops (trackers told, resume points sent and saved), then the session.
    async fn shutdown(&mut self, reports: &mut mpsc::UnboundedReceiver<(TorrentId, Report)>) {
        self.shutting_down = true;
        for s in &self.slots {
            let _ = s.commands.send(Command::Quit);
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.slots.iter().any(|s| s.state.has_task()) {
            match tokio::time::timeout_at(deadline, reports.recv()).await {
                Ok(Some((id, report))) => self.on_report(id, report),
                _ => break,
            }
        }
        self.save_sleepers();
        self.save_queued_now();
        if let Some(t) = self.ledger_saving.take() {
            let _ = t.await;
        }
        self.save_ledger(true).await;
        if let Some(p) = &mut self.persist {
            p.flush();
        }
        self.session.close().await;
    }

    /// A line of the session's log ring (`torrent/journal.rs`), naming the torrent.
    fn journal(&self, level: LogLevel, id: TorrentId, what: &str) {
        let name = self.slot(id).map(|s| s.line.borrow().name.clone());
        let name = name.unwrap_or_default();
        self.session
            .ctx
            .journal
            .push(level, format!("{name}: {what}"));
    }

    fn slot(&self, id: TorrentId) -> Option<&Slot> {
        self.slots.find(id)
    }

    async fn snapshot(&mut self, prev: &SessionSnapshot) -> SessionSnapshot {
        let head = self.head().await;
        self.with_lines(head, prev, 0)
    }

    /// `head` with every torrent's line and the rates summed from them: the publication
    /// after `prev`. A line that did not change since `prev` is `prev`'s, with its `rev`;
    /// the others carry this publication's. The first `same` lines are known to be `prev`'s
    /// (`publish::first_change`) and are not compared again. A parked slot keeps the line
    /// published for it as its own copy (`Slot::share`).
    fn with_lines(
        &mut self,
        head: SessionSnapshot,
        prev: &SessionSnapshot,
        same: usize,
    ) -> SessionSnapshot {
        let rev = prev.rev + 1;
        let mut before = publish::Before::new(&prev.torrents).same_up_to(same);
        let rules = &self.opts.trackers;
        let torrents: Vec<Arc<TorrentLine>> = self
            .slots
            .iter_mut()
            .enumerate()
            .map(|(i, slot)| {
                let line = match before.unchanged(i) {
                    Some(p) => Arc::clone(p),
                    None => match before.line(i, slot.id) {
                        Some(p) if Self::line_is(slot, p, rules) => Arc::clone(p),
                        _ => Arc::new(TorrentLine {
                            rev,
                            ..Self::line_of(slot, rules)
                        }),
                    },
                };
                slot.share(&line);
                line
            })
            .collect();
        SessionSnapshot {
            down_rate: torrents.iter().map(|t| t.down_rate).sum(),
            up_rate: torrents.iter().map(|t| t.up_rate).sum(),
            torrents,
            rev,
            ..head
        }
    }

    /// The session's list without its lines.
    async fn head(&self) -> SessionSnapshot {
        SessionSnapshot {
            default_save_path: self.opts.output.clone(),
            save_error: self
                .persist
                .as_ref()
                .and_then(|p| p.error())
                .map(|e| e.to_string()),
            blocklist: self.blocklist.as_ref().map(|b| b.status()),
            catalog: Arc::clone(&self.catalog.catalog),
            ..self.session.head(self.opts.reachability_window).await
        }
    }
}

#[cfg(test)]
mod sizes;
