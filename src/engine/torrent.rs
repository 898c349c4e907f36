//! One torrent's life: a session to live in, the check of what is already on disk (pause and
//! quit work meanwhile), then the coordinator (`coordinator.rs`) until the download ends or
//! the user quits.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, watch};

use crate::engine::api::*;
use crate::engine::coordinator::{Coordinator, TICK};
use crate::engine::disk::Storage;
use crate::engine::download::Download;
use crate::engine::magnet;
use crate::engine::picker::Picker;
use crate::engine::priorities::FilePlan;
use crate::engine::session::{Session, SessionCtx};
use crate::engine::shared::Shared;
use crate::engine::snapshot;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::{Info, Metainfo};
/// Memory for pieces being received or waiting for their hash check. Beyond it no new piece is
/// started, which also throttles receiving when hashing or the disk falls behind.
const PIECE_MEMORY: usize = 16 << 20;
/// Verified pieces a slow connection may fall behind on before it catches up from the picker.
const VERIFIED_BACKLOG: usize = 1024;

pub use crate::engine::options::{Options, Outcome};
pub(crate) use crate::engine::report::{Lifetime, Report};

/// The handle of one running torrent.
pub struct Engine {
    /// Names the torrent; its snapshots carry the same id.
    pub id: TorrentId,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub done: tokio::task::JoinHandle<Outcome>,
}

fn next_id() -> TorrentId {
    static NEXT_ID: AtomicU32 = AtomicU32::new(0);
    TorrentId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// What a torrent started by a session gets besides its metainfo and options.
pub(crate) struct Start {
    pub id: TorrentId,
    pub ctx: SessionCtx,
    /// Pieces the session's store vouches for (their files unchanged since they were saved):
    /// they are not hashed again. None: check everything on disk.
    pub trusted: Option<Bitfield>,
    /// Pieces hashed again on top of `trusted` (their files changed since the last save).
    pub to_check: Vec<u32>,
    /// Lifetime counters from earlier runs.
    pub lifetime: Lifetime,
    pub paused: bool,
    /// File priorities and piece order (empty priorities: every file wanted).
    pub files: crate::engine::priorities::FilePlan,
    /// The torrent's rate limiters (its own limits from its resume data, under the session's).
    pub rates: crate::engine::rate::TorrentRates,
    /// The torrent's full snapshot, built only while someone holds a receiver.
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// The torrent's light line, every tick.
    pub line: watch::Sender<TorrentLine>,
    /// Where resume points go (None: nothing is saved, as in headless runs).
    pub reports: Option<mpsc::UnboundedSender<(TorrentId, Report)>>,
}

/// Starts a session with a magnet link's torrent: its metadata is fetched (BEP 9) from the
/// magnet's `x.pe` and `extra_peers`, its trackers and the session's DHT, then the torrent
/// runs as with `start`. With `echo` the fetch's lines also go to stderr (headless runs).
pub fn start_magnet(
    magnet: Magnet,
    extra_peers: Vec<SocketAddr>,
    opts: Options,
    echo: bool,
) -> Engine {
    let id = next_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let first = magnet::magnet_snapshot(id, &magnet, &opts.output);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(first));
    let done = tokio::spawn(async move {
        let (mut session, listen_log) = Session::start(&opts).await;
        let start = headless_start(id, &session, snap_tx, opts.files.sequential);
        let only = opts.files.only.clone();
        let outcome = run_magnet(
            start,
            magnet,
            extra_peers,
            opts,
            echo,
            listen_log,
            cmd_rx,
            only,
        )
        .await;
        session.close().await;
        outcome
    });
    Engine {
        id,
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

/// A magnet link's torrent in a session: the metadata fetch, then the torrent itself. `only`
/// (`--only-files`) becomes its file plan the moment the metadata arrives, before any file is
/// opened or piece requested.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_magnet(
    mut start: Start,
    magnet: Magnet,
    extra_peers: Vec<SocketAddr>,
    mut opts: Options,
    echo: bool,
    mut listen_log: Vec<(LogLevel, String)>,
    mut cmd_rx: mpsc::UnboundedReceiver<Command>,
    only: Option<Vec<usize>>,
) -> Outcome {
    let fetched =
        magnet::fetch_in_session(&mut start, &magnet, &extra_peers, echo, &mut cmd_rx).await;
    match fetched {
        Ok(meta) => {
            if let Some(only) = only {
                start.files = FilePlan::only_once_known(&meta.info, &only, start.files.sequential);
                if let Some(note) = &start.files.note {
                    if echo {
                        eprintln!("magnet: {note}");
                    }
                    listen_log.push((LogLevel::Warn, note.clone()));
                }
            }
            if let Some(r) = &start.reports {
                let report = Report::Metadata(Box::new(meta.clone()), start.files.clone());
                let _ = r.send((start.id, report));
            }
            opts.peers.extend(magnet.peers.iter().copied());
            run(start, listen_log, meta, opts, cmd_rx).await
        }
        Err(outcome) => outcome,
    }
}

/// Starts a session with one torrent on the current tokio runtime; the session ends with it.
pub fn start(meta: Metainfo, opts: Options) -> Engine {
    let id = next_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let mut initial = snapshot::initial(id, &meta, &opts.output, 0);
    drop_unused_trackers(&mut initial, &opts);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial));
    let done = tokio::spawn(async move {
        // Listen before the (possibly long) resume check, so peers that dial us meanwhile
        // wait for our handshake instead of being refused and backing off.
        let (mut session, listen_log) = Session::start(&opts).await;
        let mut start = headless_start(id, &session, snap_tx, opts.files.sequential);
        if let Some(only) = &opts.files.only {
            // The CLI refused an index past the last file already.
            start.files = FilePlan::only_once_known(&meta.info, only, opts.files.sequential);
        }
        let outcome = run(start, listen_log, meta, opts, cmd_rx).await;
        session.close().await;
        outcome
    });
    Engine {
        id,
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

/// A torrent that has its session to itself and saves nothing.
fn headless_start(
    id: TorrentId,
    session: &Session,
    snapshots: watch::Sender<Arc<Snapshot>>,
    sequential: bool,
) -> Start {
    Start {
        id,
        ctx: session.ctx.clone(),
        trusted: None,
        to_check: Vec::new(),
        lifetime: Lifetime::default(),
        paused: false,
        files: FilePlan {
            sequential,
            ..FilePlan::default()
        },
        rates: session.ctx.rates.torrent(Default::default()),
        snapshots,
        line: watch::channel(TorrentLine::placeholder(id)).0,
        reports: None,
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

/// With `--no-trackers` the torrent's trackers are never asked: the snapshot lists none, so
/// the UI says "no tracker" instead of "not contacted yet" forever.
fn drop_unused_trackers(snap: &mut Snapshot, opts: &Options) {
    if !opts.use_trackers {
        snap.trackers.clear();
    }
}

pub(crate) async fn run(
    mut start: Start,
    listen_log: Vec<(LogLevel, String)>,
    meta: Metainfo,
    opts: Options,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> Outcome {
    let started = Instant::now();
    let snapshots = start.snapshots.clone();
    let mut snap = snapshot::initial(start.id, &meta, &opts.output, start.ctx.listen_port);
    drop_unused_trackers(&mut snap, &opts);
    let fail = |snap: &mut Snapshot, snapshots: &watch::Sender<Arc<Snapshot>>, msg: String| {
        failed(snap, snapshots, &start.line, started, msg)
    };
    let info = Arc::new(meta.info.clone());
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    start.ctx.route(meta.info_hash, events_tx.clone());
    let _unroute = Unroute(&start.ctx, meta.info_hash);

    // Open files (creating them at their final length) and check what is already there.
    let mut plan = FilePlan::new(&info, &start.files.saved(), start.files.sequential);
    plan.note.clone_from(&start.files.note);
    let storage = match open_storage(&opts.output, &info, &plan, &meta.info_hash).await {
        Ok(s) => s,
        Err(msg) => return fail(&mut snap, &snapshots, msg),
    };
    let mut paused_early = start.paused;
    if start.trusted.is_some() {
        recheck_parts(&mut start.to_check, &storage);
    }
    let trusted = start
        .trusted
        .clone()
        .filter(|t| t.len() == info.num_pieces());
    let have = match trusted {
        Some(trusted) if start.to_check.is_empty() => trusted,
        trusted => {
            let job = Check {
                storage: &storage,
                info: &info,
                threads: opts.check_threads,
                only: trusted.as_ref().map(|_| start.to_check.as_slice()),
            };
            let checked = job
                .run(
                    &mut snap,
                    &snapshots,
                    &start.line,
                    &mut commands,
                    &mut paused_early,
                    started,
                )
                .await
                .map(|found| {
                    found.map(|mut have| {
                        for i in trusted.iter().flat_map(|t| t.ones()) {
                            have.set(i);
                        }
                        have
                    })
                });
            match checked {
                Ok(Some(have)) => have,
                Ok(None) => return Outcome::Quit,
                Err(msg) => return fail(&mut snap, &snapshots, msg),
            }
        }
    };
    let trusted = start.trusted.is_some() && start.to_check.is_empty();

    let picker = picker_for(&info, have, &plan);
    for (row, p) in snap.files.iter_mut().zip(&plan.priorities) {
        row.priority = *p;
    }
    let ctx = &start.ctx;
    let rates = start.rates.clone();
    let shared = shared_state(&meta, &info, ctx, storage, picker, rates, events_tx);
    snap.listen_port = ctx.listen_port;
    let half_open = ctx.limits.half_open;
    let mut c = Coordinator::new(meta, opts, Arc::clone(&shared), snap, started, half_open);
    c.plan = plan;
    c.attach(
        start.id,
        start.line.clone(),
        start.reports.clone(),
        start.lifetime,
    );
    log_opening(&mut c, listen_log, &shared, trusted);
    if paused_early {
        c.on_command(Command::Pause);
    }
    c.main_loop(commands, events_rx, snapshots).await
}

/// The torrent could not start: its snapshot, its line and the outcome say why.
fn failed(
    snap: &mut Snapshot,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    line: &watch::Sender<TorrentLine>,
    started: Instant,
    msg: String,
) -> Outcome {
    snap.state = TorrentState::Error(msg.clone());
    snap.log.push(LogLine {
        at: started.elapsed(),
        level: LogLevel::Error,
        text: msg.clone(),
    });
    let _ = snapshots.send(Arc::new(snap.clone()));
    line.send_modify(|l| {
        l.state = snap.state.clone();
        l.why = Some(msg.clone());
    });
    Outcome::Failed(msg)
}

/// The torrent's first log lines: the listener's, then how much of the data was there.
/// `trusted`: the resume data vouched for everything, nothing was hashed.
fn log_opening(
    c: &mut Coordinator,
    listen_log: Vec<(LogLevel, String)>,
    shared: &Shared,
    trusted: bool,
) {
    for (level, text) in listen_log {
        c.log(level, text);
    }
    let verified = shared.download().picker.have().count();
    let how = if trusted {
        "from the saved resume data (files unchanged)"
    } else {
        "checked existing data"
    };
    c.log(
        LogLevel::Info,
        format!(
            "{how}: {verified} of {} pieces verified",
            shared.info.num_pieces()
        ),
    );
}

/// Opens the files, creating them at their final length, off the async threads.
async fn open_storage(
    output: &Path,
    info: &Arc<Info>,
    plan: &FilePlan,
    info_hash: &[u8; 20],
) -> Result<Arc<Storage>, String> {
    let (root, info2) = (output.to_path_buf(), Arc::clone(info));
    let skipped = plan.skipped_entries(info);
    let parts_name = crate::engine::priorities::parts_file_name(info_hash);
    let open = move || Storage::open_skipping(&root, &info2, &skipped, &parts_name);
    match tokio::task::spawn_blocking(open).await {
        Ok(Ok(s)) => Ok(Arc::new(s)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("opening files: {e}")),
    }
}

/// A skipped file is missing to the restart plan, so the pieces it shares with wanted files
/// are not trusted: those whose bytes the parts file holds are hashed again.
fn recheck_parts(to_check: &mut Vec<u32>, storage: &Storage) {
    for piece in storage.parts_pieces() {
        if !to_check.contains(&piece) {
            to_check.push(piece);
        }
    }
    to_check.sort_unstable();
}

/// The picker over what we have, in the plan's priorities and order.
fn picker_for(info: &Info, have: Bitfield, plan: &FilePlan) -> Picker {
    let mut picker = Picker::with_geometry(info.geometry(), have);
    picker.set_max_partial((PIECE_MEMORY / info.piece_length.max(1) as usize).max(4));
    picker.set_priorities(plan.piece_priorities(info));
    picker.set_order(plan.sequential, plan.boosted_pieces(info));
    picker
}

/// What the torrent's coordinator and peer tasks share: the torrent, the session's settings
/// as they apply to it (no PEX or DHT for a private torrent), the download and its counters.
fn shared_state(
    meta: &Metainfo,
    info: &Arc<Info>,
    ctx: &SessionCtx,
    storage: Arc<Storage>,
    picker: Picker,
    rates: crate::engine::rate::TorrentRates,
    events: mpsc::UnboundedSender<crate::engine::shared::Event>,
) -> Arc<Shared> {
    Arc::new(Shared {
        info: Arc::clone(info),
        info_hash: meta.info_hash,
        info_bytes: meta.info_bytes.clone(),
        our_id: ctx.our_id,
        bind: ctx.bind,
        encryption: ctx.encryption,
        transport: ctx.transport,
        utp: ctx.utp.clone(),
        pex: ctx.pex && !info.private,
        listen_port: AtomicU16::new(ctx.listen_port),
        dht: ctx.dht.clone().filter(|_| !info.private),
        download: Mutex::new(Download::new(picker)),
        storage,
        pool: Arc::clone(&ctx.pool),
        // tokio allocates every slot up front (48 KiB at 1024): a small torrent cannot fall
        // further behind than its piece count, so thousands of them do not pay for it.
        verified: broadcast::channel(VERIFIED_BACKLOG.min(info.num_pieces().max(1) as usize)).0,
        paused: AtomicBool::new(false),
        downloaded: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        wasted: AtomicU64::new(0),
        rates,
        events,
    })
}

/// Takes the torrent out of the session's router when `run` ends, however it ends.
struct Unroute<'a>(&'a SessionCtx, [u8; 20]);

impl Drop for Unroute<'_> {
    fn drop(&mut self) {
        self.0.unroute(&self.1);
    }
}

/// A check of what is on disk: every piece, or `only` these.
struct Check<'a> {
    storage: &'a Arc<Storage>,
    info: &'a Arc<crate::protocol::metainfo::Info>,
    threads: usize,
    only: Option<&'a [u32]>,
}

impl Check<'_> {
    /// Hashes while commands are still taken: a quit ends it (`Ok(None)`), pause and resume
    /// are remembered for when it ends.
    async fn run(
        self,
        snap: &mut Snapshot,
        snapshots: &watch::Sender<Arc<Snapshot>>,
        line: &watch::Sender<TorrentLine>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        paused_early: &mut bool,
        started: Instant,
    ) -> Result<Option<Bitfield>, String> {
        let checked = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let n = self.info.num_pieces();
        let total = self.only.map_or(n, |o| o.len() as u32);
        let check = {
            let (storage, info, checked, cancel) = (
                Arc::clone(self.storage),
                Arc::clone(self.info),
                Arc::clone(&checked),
                Arc::clone(&cancel),
            );
            let threads = self.threads.max(1);
            let only = self.only.map(<[u32]>::to_vec);
            tokio::task::spawn_blocking(move || {
                let progress = |c| checked.store(c, Ordering::Relaxed);
                match only {
                    None => storage
                        .check_existing(&info, threads, &progress, &cancel)
                        .map(|v| Bitfield::from_bools(&v)),
                    Some(pieces) => storage
                        .check_pieces(&info, &pieces, threads, &progress, &cancel)
                        .map(|good| {
                            let mut have = Bitfield::new(n);
                            for i in good {
                                have.set(i);
                            }
                            have
                        }),
                }
            })
        };
        tokio::pin!(check);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                r = &mut check => return match r {
                    Ok(Ok(have)) => Ok(Some(have)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("checking files: {e}")),
                },
                c = commands.recv() => match c {
                    None | Some(Command::Quit) => {
                        cancel.store(true, Ordering::Relaxed);
                        return Ok(None);
                    }
                    // Kept for when the check ends; there are no peers to drop or ban yet.
                    Some(c) => *paused_early = pause_wanted(&c, *paused_early).unwrap_or(*paused_early),
                },
                _ = tick.tick() => {
                    snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total };
                    snap.elapsed = started.elapsed();
                    line.send_modify(|l| l.state = snap.state.clone());
                    if snapshots.receiver_count() > 0 {
                        let _ = snapshots.send(Arc::new(snap.clone()));
                    }
                }
            }
        }
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

    #[test]
    fn no_trackers_means_no_tracker_rows() {
        let mut snap = Snapshot {
            trackers: vec![TrackerRow::not_contacted("http://127.0.0.1:1/a".into(), 0)],
            ..Snapshot::empty("x", 1, 1)
        };
        drop_unused_trackers(&mut snap, &Options::default());
        assert_eq!(snap.trackers.len(), 1);
        let off = Options {
            use_trackers: false,
            ..Options::default()
        };
        drop_unused_trackers(&mut snap, &off);
        assert!(snap.trackers.is_empty());
    }
}
