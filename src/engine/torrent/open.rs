//! A started torrent's life: its files opened (created at their final length), what is on
//! disk checked or trusted, then what the coordinator and the peer tasks share, and the
//! coordinator until the end.

use super::check::{Check, FilesError};
use super::*;
use crate::engine::peer::link::TorrentFacts;
use crate::engine::torrent::shared::Event;
use crate::engine::torrent::start::SessionCtx;

/// Runs the torrent until it ends: opening, the check, then the coordinator.
pub(crate) fn run(
    start: Start,
    listen_log: Vec<(LogLevel, String)>,
    meta: Metainfo,
    opts: Options,
    commands: mpsc::UnboundedReceiver<Command>,
) -> impl std::future::Future<Output = TorrentEnd> {
    // Opening is boxed, and the arguments go straight into its box: an async fn keeps room
    // for its arguments and its locals (the metainfo, the options, the first snapshot, the
    // storage...) until it ends, moved out or not, so with the coordinator's loop in the same
    // fn a running torrent's task took 11.7 KiB, of which the loop 3.7; now 5.7. Boxed, that
    // room is freed once the loop runs (2,000 torrents added at once are all awake a while).
    let span = torrent_span(start.id, &meta.info.name);
    let prepared = Box::pin(prepare(start, listen_log, meta, opts, commands));
    let run = async move {
        match prepared.await {
            Ok(Prepared {
                coordinator,
                commands,
                events,
                snapshots,
                unroute,
            }) => {
                let end = coordinator.main_loop(commands, events, snapshots).await;
                drop(unroute);
                end
            }
            Err(end) => end,
        }
    };
    tracing::Instrument::instrument(run, span)
}

/// The span every log line of a torrent's task is written in (and those of the peers,
/// trackers, lookups and web seeds it spawns): `torrent{id=3 name="debian.iso"}`, so a
/// daemon's log of 12 torrents says which one each line is about.
pub(crate) fn torrent_span(id: TorrentId, name: &str) -> tracing::Span {
    // Debug-quoted, so a name with spaces or control characters reads as one quoted field.
    let name: String = name.chars().take(60).collect();
    tracing::info_span!("torrent", id = id.0, name = ?name)
}

/// A torrent opened and checked, ready for its coordinator's loop.
struct Prepared {
    coordinator: Coordinator,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedReceiver<Event>,
    snapshots: Snapshots,
    /// Held until the loop ends.
    unroute: Unroute,
}

/// Opening and the check; `Err` with how the torrent ended when it did not get further.
async fn prepare(
    mut start: Start,
    listen_log: Vec<(LogLevel, String)>,
    meta: Metainfo,
    opts: Options,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> Result<Prepared, TorrentEnd> {
    let started = Instant::now();
    let snapshots = start.snapshots.clone();
    let mut snap = snapshot::initial(start.id, &meta, &opts.output, start.ctx.listen_port);
    drop_unused_trackers(&mut snap, &opts);
    let fail = |snap: &mut Snapshot, snapshots: &Snapshots, msg: String| {
        failed(snap, snapshots, &start.line, started, msg)
    };
    let info = Arc::new(meta.info.clone());
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    start.ctx.route(meta.info_hash, events_tx.clone());
    if let Some(v2) = meta.hybrid_v2_hash() {
        start.ctx.alias(v2, meta.info_hash);
    }
    let unroute = Unroute(start.ctx.clone(), meta.info_hash);
    // Never a private torrent: its peers come from its trackers only (BEP 27).
    if let Some(lsd) = start.ctx.lsd.as_ref().filter(|_| !meta.info.private) {
        lsd.register(meta.info_hash, events_tx.clone());
    }

    // Open files (creating them at their final length) and check what is already there.
    let mut plan = FilePlan::new(&info, &start.files.saved(), start.files.sequential);
    plan.note.clone_from(&start.files.note);
    plan.first_last = start.files.first_last;
    let budget = &start.ctx.open_files;
    let storage = match open_storage(budget, &opts.output, &info, &plan, &meta.info_hash).await {
        Ok(s) => s,
        Err(e) => return Err(fail(&mut snap, &snapshots, e.to_string())),
    };
    let mut early = super::check::Early {
        paused: start.paused,
        commands: Vec::new(),
    };
    if start.trusted.is_some() {
        recheck_parts(&mut start.to_check, &storage);
    }
    let trusted = start
        .trusted
        .clone()
        .filter(|t| t.len() == info.num_pieces());
    let mut check_waited = std::time::Duration::ZERO;
    let have = match trusted {
        Some(trusted) if start.to_check.is_empty() => trusted,
        trusted => {
            let job = Check {
                storage: &storage,
                info: &info,
                pool: &start.ctx.pool,
                threads: opts.check_threads,
                only: trusted.as_ref().map(|_| start.to_check.as_slice()),
            };
            // Boxed: the check's state is needed once, not for the life of the torrent's task
            // (an async fn keeps room for every future it awaits).
            let checked = Box::pin(job.run(
                &mut snap,
                &snapshots,
                &start.line,
                &mut commands,
                &mut early,
                started,
            ))
            .await
            .map(|found| {
                found.map(|(mut have, waited)| {
                    for i in trusted.iter().flat_map(|t| t.ones()) {
                        have.set(i);
                    }
                    (have, waited)
                })
            });
            match checked {
                Ok(Some((have, waited))) => {
                    check_waited = waited;
                    have
                }
                Ok(None) => return Err(TorrentEnd::Quit),
                Err(e) => return Err(fail(&mut snap, &snapshots, e.to_string())),
            }
        }
    };
    let trusted = start.trusted.is_some() && start.to_check.is_empty();
    let mut have = have;
    let cross_seed = match start.borrowed.0.is_empty() {
        true => None,
        false => match super::borrowed::settle(&storage, &info, &mut have, &start.borrowed.0) {
            Ok(s) => Some((s, super::borrowed::words(&info, &have, &start.borrowed.1))),
            Err(e) => return Err(fail(&mut snap, &snapshots, e.to_string())),
        },
    };

    let picker = picker_for(&info, have, &plan);
    for (row, p) in snap.files.iter_mut().zip(&plan.priorities) {
        row.priority = *p;
    }
    let ctx = &start.ctx;
    let rates = start.rates.clone();
    let shared = shared_state(&meta, &info, ctx, storage, picker, rates, events_tx);
    ctx.streams.attach(&shared);
    snap.listen_port = ctx.listen_port;
    let half_open = ctx.limits.half_open;
    let mut c = Coordinator::new(meta, opts, Arc::clone(&shared), snap, started, half_open);
    c.set_file_plan(plan);
    c.want_super_seeding(start.super_seeding);
    c.show_streams(Arc::clone(&ctx.streams));
    c.write_journal(Arc::clone(&ctx.journal));
    c.count_into(Arc::clone(&ctx.ledger));
    c.attach(
        start.id,
        start.line.clone(),
        start.reports.clone(),
        (start.lifetime, !trusted),
    );
    let trusted = match (trusted, start.trusted_from_run) {
        (false, _) => Trusted::No,
        (true, false) => Trusted::Store,
        (true, true) => Trusted::LastRun,
    };
    log_opening(&mut c, listen_log, &shared, trusted, check_waited);
    if let Some((settled, words)) = cross_seed {
        c.cross_seeded(&settled, words);
    }
    if early.paused {
        c.on_command(Command::Pause);
    }
    c.keep_early(early.commands);
    if let Some(r) = &start.reports {
        // The line first: a torrent found complete is a seed now, not a download holding
        // one of the session's download slots until its first tick (in a library added at
        // once, that wait was what paced the whole add: 5 slots a 500 ms session tick).
        c.publish_line();
        // The session starts the next torrent waiting for its check.
        let _ = r.send((start.id, Report::Opened));
    }
    Ok(Prepared {
        coordinator: c,
        commands,
        events: events_rx,
        snapshots,
        unroute,
    })
}

/// The torrent could not start: its snapshot, its line and the outcome say why.
fn failed(
    snap: &mut Snapshot,
    snapshots: &Snapshots,
    line: &watch::Sender<TorrentLine>,
    started: Instant,
    msg: String,
) -> TorrentEnd {
    snap.state = TorrentState::Error(msg.clone());
    snap.log.push(LogLine {
        at: started.elapsed(),
        level: LogLevel::Error,
        text: msg.clone(),
    });
    // Kept even unwatched: whoever looks later sees why, with its log line.
    snapshots.send_kept(snap.clone());
    line.send_modify(|l| {
        l.state = snap.state.clone();
        l.why = Some(msg.clone());
    });
    TorrentEnd::Failed(msg)
}

/// Who vouched for the pieces a torrent starts with, when nothing was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trusted {
    /// Pieces were hashed (all, or those whose files changed).
    No,
    /// The store's resume data, its files unchanged since they were saved.
    Store,
    /// Its own last run in this session (woken from sleep, or resumed).
    LastRun,
}

/// The torrent's first log lines: the listener's, then how much of the data was there.
/// `trusted`: who vouched for everything, when nothing was hashed. `waited`: how long
/// the check waited for the session's hashing threads (other torrents' checks).
fn log_opening(
    c: &mut Coordinator,
    listen_log: Vec<(LogLevel, String)>,
    shared: &Shared,
    trusted: Trusted,
    waited: std::time::Duration,
) {
    for (level, text) in listen_log {
        c.log(level, text);
    }
    let verified = shared.download().picker.have().count();
    let how = match trusted {
        Trusted::Store => "from the saved resume data (files unchanged)",
        Trusted::LastRun => "as its last run in this session left it",
        Trusted::No => "checked existing data",
    };
    // Under 10 ms is no wait a person would want explained.
    let after = if waited.as_millis() >= 10 {
        format!(
            " (after waiting {:.1} s for another torrent's check)",
            waited.as_secs_f64()
        )
    } else {
        String::new()
    };
    c.log(
        LogLevel::Info,
        format!(
            "{how}: {verified} of {} pieces verified{after}",
            shared.info.num_pieces()
        ),
    );
}

/// Opens the files, creating them at their final length, off the async threads.
async fn open_storage(
    budget: &Arc<OpenFiles>,
    output: &Path,
    info: &Arc<Info>,
    plan: &FilePlan,
    info_hash: &[u8; 20],
) -> Result<Arc<Storage>, FilesError> {
    let (root, info2) = (output.to_path_buf(), Arc::clone(info));
    let skipped = plan.skipped_entries(info);
    let parts_name = crate::engine::torrent::priorities::parts_file_name(info_hash);
    let budget = Arc::clone(budget);
    let open = move || Storage::open_skipping(&budget, &root, &info2, &skipped, &parts_name);
    match tokio::task::spawn_blocking(open).await {
        Ok(Ok(s)) => Ok(Arc::new(s)),
        Ok(Err(e)) => Err(e.into()),
        Err(source) => Err(FilesError::Lost {
            what: "opening files",
            source,
        }),
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
    rates: crate::engine::peer::rate::TorrentRates,
    events: mpsc::UnboundedSender<crate::engine::torrent::shared::Event>,
) -> Arc<Shared> {
    Shared::new(
        TorrentFacts {
            info: Arc::clone(info),
            info_hash: meta.info_hash,
            hybrid_v2: meta.hybrid_v2_hash(),
            info_bytes: meta.info_bytes.clone(),
            piece_layers: meta.piece_layers.clone(),
            our_id: ctx.our_id,
            bind: ctx.bind,
            encryption: ctx.encryption,
            transport: ctx.transport,
            utp: ctx.utp.clone(),
            pex: ctx.pex && !info.private,
            listen_port: Arc::clone(&ctx.announce_port),
            dht: ctx.dht.clone().filter(|_| !info.private),
            storage,
            // tokio allocates every slot up front (48 KiB at 1024): a small torrent cannot fall
            // further behind than its piece count, so thousands of them do not pay for it.
            verified: broadcast::channel(VERIFIED_BACKLOG.min(info.num_pieces().max(1) as usize)).0,
            // Rare (a file cut short under us): a lagging connection compares its pieces. As
            // with `verified`, bounded by the piece count: 64 slots were 2 KiB in the task of
            // every small torrent awake.
            lost: broadcast::channel(LOST_BACKLOG.min(info.num_pieces().max(1) as usize)).0,
            paused: AtomicBool::new(false),
            super_seeding: AtomicBool::new(false),
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            wasted: AtomicU64::new(0),
            rates,
            ip_filter: Arc::clone(&ctx.ip_filter),
            proxy: ctx.proxy.clone(),
            // Private torrents' peers come from their trackers alone, never browsers.
            webrtc: ctx.webrtc.clone().filter(|_| !info.private),
            ws_off: if info.private {
                Some(crate::tracker::websocket::PRIVATE_NO_BROWSERS)
            } else if !ctx.webtorrent {
                Some(crate::tracker::websocket::WEBTORRENT_OFF)
            } else {
                None
            },
        },
        Download::new(picker, ctx.pool.backlog()).with_v2(info.v2.clone()),
        Arc::clone(&ctx.pool),
        events,
    )
}

/// Takes the torrent out of the session's router when `run` ends, however it ends.
struct Unroute(SessionCtx, [u8; 20]);

impl Drop for Unroute {
    fn drop(&mut self) {
        self.0.unroute(&self.1);
    }
}
