//! The coordinator: one task per torrent that ties the peers, the picker, the disk stage and
//! the peer sources together. It reacts to commands, peer events and tracker updates
//! (`events.rs`), dials peers by their connection plan (`peers.rs`), runs the choker
//! (`choker.rs`) and publishes snapshots (`snapshot.rs`). It never waits on the UI: snapshots
//! go out through a `watch` channel where the latest value wins.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::api::*;
use crate::engine::peer::descriptors;
use crate::engine::peer::link::{PeerCmd, TorrentLink};
use crate::engine::peer::{PeerTask, Start};
use crate::engine::torrent::choker::{self, Candidate, Choke, UPLOAD_SLOTS};
use crate::engine::torrent::options::{Options, TorrentEnd};
use crate::engine::torrent::peers::{OwnAddr, PeerTable};
use crate::engine::torrent::report::{Lifetime, Report};
use crate::engine::torrent::shared::{Event, Shared};
use crate::engine::torrent::snapshot::Snapshots;
use crate::engine::torrent::uplink::RoundTrips;
use crate::protocol::metainfo::Metainfo;
use crate::tracker::{self, Progress, TrackerCommand};
use parts::{ChokeSchedule, Given, RunState, SessionLink, Shown, SourceLinks};

pub(crate) const TICK: Duration = Duration::from_millis(250);
/// How often the uplink watch samples (`torrent/uplink.rs`).
const UPLINK_EVERY: Duration = Duration::from_secs(1);
/// How often a torrent with no connection, no web seed at work and nobody watching ticks:
/// thousands of seeding torrents at rest cost next to nothing (at 5 s, 10,000 of them still
/// made 2,000 ticks a second; tests/bench/session_scale.sh). Events wake it at once.
const IDLE_TICK: Duration = Duration::from_secs(30);

/// One torrent's task, in parts. Every field is private: the coordinator's other files
/// (events, files, DHT, PEX) are child modules, and everything else goes through methods.
pub(crate) struct Coordinator {
    given: Given,
    /// Which files are wanted, and in what order pieces come (`priorities.rs`).
    plan: crate::engine::torrent::priorities::FilePlan,
    /// What the coordinator and the peer tasks share.
    shared: Arc<Shared>,
    peers: PeerTable,
    /// One task per web seed URL (BEP 19), with its row in the peer table.
    webseeds: Vec<crate::engine::torrent::webseed::WebSeed>,
    /// WebRTC connections coming up, each with its row until the peer joins.
    rtc_setups: crate::engine::torrent::rtc_setup::Setups,
    run: RunState,
    choke: ChokeSchedule,
    shown: Shown,
    sources: SourceLinks,
    /// The session's side: the torrent's line and where resume points go.
    link: SessionLink,
    /// Failed v2 pieces waiting for a peer's block hashes (`events/block_hashes.rs`).
    block_hashes: events::block_hashes::BlockHashes,
    /// BEP 55: the bound on the rendezvous we relay for our peers (`torrent/holepunch.rs`).
    relay: crate::engine::torrent::holepunch::Relay,
    /// The same bound on the BEP 55 `connect` messages we act on (each is a dial).
    connects: crate::engine::torrent::holepunch::Relay,
    /// The session's open file streams, read into the snapshot (none in a one-shot run).
    streams: Option<Arc<crate::engine::torrent::stream::Streams>>,
    /// BEP 16 super-seeding (`coordinator/superseed.rs`).
    superseed: superseed::SuperSeeding,
    /// The session's log ring, where each log line goes too (none in a one-shot run).
    journal: Option<Arc<crate::engine::torrent::journal::Journal>>,
    /// Commands sent while its files were checked, read before the first turn.
    early: Vec<Command>,
    /// The session's accounting, and the counts last added to it (`report_progress`).
    ledger: Option<(Arc<crate::engine::ledger::Ledger>, (u64, u64))>,
    /// Going to sleep: the trackers hear the last counts without a `stopped`.
    sleeping: bool,
}

impl Coordinator {
    pub(crate) fn new(
        meta: Metainfo,
        opts: Options,
        shared: Arc<Shared>,
        snap: Snapshot,
        started: Instant,
        half_open: usize,
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
        let own = OwnAddr {
            bind: shared.bind,
            port: shared.listen_port.load(Ordering::Relaxed),
        };
        let mut peers = PeerTable::new(own);
        // Through a proxy the proxy dials, whatever our own routes are.
        if opts.proxy.is_none() {
            peers.check_routes();
        }
        Coordinator {
            given: Given {
                meta,
                opts,
                half_open,
            },
            plan: Default::default(),
            shared,
            peers,
            webseeds: Vec::new(),
            rtc_setups: Default::default(),
            run: RunState {
                complete,
                ..RunState::default()
            },
            choke: ChokeSchedule::new(now),
            shown: Shown::new(started, snap),
            sources: SourceLinks {
                tracker_tx: None,
                progress_tx,
                dht_wanting: None,
            },
            link: SessionLink::new(now),
            block_hashes: Default::default(),
            relay: crate::engine::torrent::holepunch::Relay::new(now),
            connects: crate::engine::torrent::holepunch::Relay::new(now),
            streams: None,
            superseed: Default::default(),
            journal: None,
            early: Vec::new(),
            ledger: None,
            sleeping: false,
        }
    }

    /// Shows the session's streams of this torrent in its snapshot.
    pub(crate) fn show_streams(&mut self, streams: Arc<crate::engine::torrent::stream::Streams>) {
        self.streams = Some(streams);
    }

    /// What cross-seeding's proof decided (`torrent/borrowed.rs`), for its log and its line.
    pub(crate) fn cross_seeded(
        &mut self,
        s: &crate::engine::torrent::borrowed::Settled,
        words: String,
    ) {
        let name = |i: &u32| {
            self.given
                .meta
                .info
                .files
                .get(*i as usize)
                .map_or(String::new(), |f| f.path.join("/"))
        };
        let mut text = format!(
            "{words}: {} file(s) found on disk proven and shared",
            s.kept.len()
        );
        if !s.replaced.is_empty() {
            let names: Vec<String> = s.replaced.iter().map(name).collect();
            text.push_str(&format!(
                "; {} had the right size but other bytes, and get files of their own: {}",
                s.replaced.len(),
                names.join(", ")
            ));
        }
        self.log(LogLevel::Info, text);
        self.run.cross_seed = Some(words);
    }

    /// Adds what its announces carry to the session's accounting.
    pub(crate) fn count_into(&mut self, ledger: Arc<crate::engine::ledger::Ledger>) {
        self.ledger = Some((ledger, (0, 0)));
    }

    /// The counts trackers are told (`Progress`) updated from the transfer counters, and
    /// their change added to the session's accounting: the ledger holds exactly what the
    /// trackers hear, however the task ends (`shut_down` updates them once the peers are
    /// gone, before the last announce).
    fn report_progress(&mut self, uploaded: u64, downloaded: u64) {
        let left = self.shared.download().picker.left();
        self.sources.progress_tx.send_replace(Progress {
            uploaded,
            downloaded,
            left,
        });
        if let Some((ledger, counted)) = &mut self.ledger {
            let moved = crate::engine::api::Moved {
                uploaded: uploaded.saturating_sub(counted.0),
                downloaded: downloaded.saturating_sub(counted.1),
            };
            if !moved.is_zero() {
                *counted = (uploaded, downloaded);
                let urls: Vec<&str> = if self.given.opts.use_trackers {
                    self.given
                        .meta
                        .trackers
                        .iter()
                        .flatten()
                        .map(String::as_str)
                        .collect()
                } else {
                    Vec::new()
                };
                let day = crate::engine::ledger::today();
                let meta = &self.given.meta;
                ledger.count(&meta.info_hash, &meta.info.name, &urls, moved, day);
            }
        }
    }

    /// Copies each log line and each refused peer into the session's log ring.
    pub(crate) fn write_journal(&mut self, journal: Arc<crate::engine::torrent::journal::Journal>) {
        self.journal = Some(journal);
    }

    /// Commands the user sent while the files were checked (`check::Early`).
    pub(crate) fn keep_early(&mut self, commands: Vec<Command>) {
        self.early = commands;
    }

    /// A peer refused, into the session's peer log.
    pub(crate) fn journal_peer(&self, ip: std::net::IpAddr, blocked: bool, reason: &'static str) {
        if let Some(j) = &self.journal {
            j.peer(ip, blocked, reason);
        }
    }

    #[cfg(test)]
    pub(crate) fn peers_mut(&mut self) -> &mut PeerTable {
        &mut self.peers
    }

    /// Why the torrent must stop, once something fatal happened.
    #[cfg(test)]
    pub(crate) fn fatal(&self) -> Option<&str> {
        self.run.fatal.as_deref()
    }

    /// The file plan a resumed torrent comes back with.
    pub(crate) fn set_file_plan(&mut self, plan: crate::engine::torrent::priorities::FilePlan) {
        self.plan = plan;
    }

    /// Connects the torrent to the session that runs it. `checked`: its data was hashed at
    /// the start (all or some of it), so what it has may differ from its saved resume data:
    /// the result is saved at the first tick, not only once a piece more arrives (a torrent
    /// that gets none would otherwise lose its check to a crash).
    pub(crate) fn attach(
        &mut self,
        id: TorrentId,
        line: watch::Sender<TorrentLine>,
        reports: Option<mpsc::UnboundedSender<(TorrentId, Report)>>,
        (lifetime, checked): (Lifetime, bool),
    ) {
        self.link.id = id;
        self.link.line = Some(line);
        self.link.resume_have = self.shared.download().picker.have().count();
        self.link.resume_due = checked;
        self.link.reports = reports;
        self.link.lifetime = lifetime;
        self.link.resume_bytes = lifetime.downloaded + lifetime.uploaded;
    }

    pub(crate) fn log(&mut self, level: LogLevel, text: String) {
        match level {
            LogLevel::Info => tracing::info!("{text}"),
            LogLevel::Warn => tracing::warn!("{text}"),
            LogLevel::Error => tracing::error!("{text}"),
        }
        if let Some(j) = &self.journal {
            j.push(level, format!("{}: {text}", self.given.meta.info.name));
        }
        self.shown.push_log(level, text);
    }

    pub(crate) async fn main_loop(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<Event>,
        snapshots: Snapshots,
    ) -> TorrentEnd {
        let early = std::mem::take(&mut self.early);
        // Trackers edited during the check: the tracker task starts on the new list.
        for c in &early {
            if let Command::SetTrackers(tiers) = c {
                self.given.meta.trackers.clone_from(tiers);
            }
        }
        let (mut tracker_task, mut tracker_upd) = self.start_trackers().unzip();
        let (dht_task, mut dht_rx) = self.start_dht().unzip();
        let now = Instant::now();
        let manual = self.given.opts.peers.clone();
        self.peers.add(manual, PeerSource::Manual, now);
        self.ban_bad_sources(now);
        self.dial_new_peers(now);
        for c in early {
            self.on_command(c);
        }
        self.webseeds = crate::engine::torrent::webseed::start_all(
            &self.given.meta.web_seeds,
            &self.shared,
            self.run.complete,
        );
        if self.run.complete {
            // Complete for the first time (data found whole on its first check): that is a
            // completion too; back complete as it was saved is not.
            let first = self.link.lifetime.completed.is_none();
            self.on_complete();
            if first {
                self.tell_completed();
            }
        }
        let mut next_tick = tokio::time::Instant::now() + TICK;
        let outcome = loop {
            if let Some(msg) = self.run.fatal.take() {
                break TorrentEnd::Failed(msg);
            }
            if self.run.complete && !self.given.opts.seed {
                break TorrentEnd::Complete;
            }
            let mut ticked = false;
            tokio::select! {
                c = commands.recv() => match c {
                    None | Some(Command::Quit) => break TorrentEnd::Quit,
                    Some(Command::Sleep) => {
                        // No `stopped` announce: the tracker keeps listing us while we sleep
                        // (`shut_down` tells it the last counts instead).
                        self.sleeping = true;
                        break TorrentEnd::Quit;
                    }
                    Some(Command::Refresh) => next_tick = tokio::time::Instant::now(),
                    Some(Command::SetTrackers(tiers)) => {
                        // The old task goes without a `stopped`: a tracker left in the list
                        // hears from the new one at once.
                        if let Some(old) = tracker_task.take() {
                            old.abort();
                        }
                        self.given.meta.trackers = tiers;
                        self.sources.tracker_tx = None;
                        (tracker_task, tracker_upd) = self.start_trackers().unzip();
                        if tracker_task.is_none() {
                            self.on_tracker(tracker::TrackerUpdate::Status(Vec::new()));
                        }
                        self.log(LogLevel::Info, "trackers edited: announcing to the new list".into());
                    }
                    Some(c) => self.on_command(c),
                },
                Some(e) = events.recv() => self.on_event(e),
                Some(u) = recv_if_any(&mut tracker_upd) => self.on_tracker(u),
                Some(r) = recv_if_any_unbounded(&mut dht_rx) => self.on_dht(r),
                _ = tokio::time::sleep_until(next_tick) => {
                    self.on_tick();
                    // Cost follows attention: the full snapshot (per-piece and per-peer
                    // vectors) is built only while a UI or a script holds a receiver.
                    let watched = snapshots.watched();
                    if watched {
                        snapshots.send_if_made(|| self.build_snapshot());
                    }
                    let every = if !watched && self.is_idle() { IDLE_TICK } else { TICK };
                    next_tick = tokio::time::Instant::now() + every;
                    ticked = true;
                }
            }
            if !ticked {
                // Anything that happened may have ended the idleness: tick soon.
                next_tick = next_tick.min(tokio::time::Instant::now() + TICK);
            }
        };
        let tasks = (tracker_task, tracker_upd, dht_task);
        // Boxed: an async fn's state holds room for every future it awaits, so the stop's
        // would sit, unused, in the task of every running torrent.
        Box::pin(self.shut_down(outcome, tasks, &mut events, &snapshots)).await
    }

    /// The tracker task, when the torrent has trackers and may use them, and where its
    /// updates arrive. Without one no channel is made: tokio allocates a block of 32 slots
    /// per channel up front, which thousands of torrents without trackers would pay for.
    fn start_trackers(
        &mut self,
    ) -> Option<(
        tokio::task::JoinHandle<()>,
        mpsc::Receiver<tracker::TrackerUpdate>,
    )> {
        if !self.given.opts.use_trackers || self.given.meta.trackers.is_empty() {
            return None;
        }
        let (tracker_upd_tx, tracker_upd) = mpsc::channel(64);
        let (tx, rx) = mpsc::channel(8);
        self.sources.tracker_tx = Some(tx);
        let config = tracker::TaskConfig {
            egress: crate::engine::torrent::start::egress(
                self.shared.bind,
                self.shared.proxy.as_deref(),
                self.shared.webrtc.as_ref(),
                self.shared.ws_off,
            ),
            ..Default::default()
        };
        let task = tracker::spawn_with_config(
            config,
            self.given.meta.trackers.clone(),
            tracker::SwarmHashes::new(self.given.meta.info_hash, self.given.meta.hybrid_v2_hash()),
            self.shared.our_id,
            self.shared.listen_port.load(Ordering::Relaxed),
            self.sources.progress_tx.subscribe(),
            rx,
            tracker_upd_tx,
        );
        Some((task, tracker_upd))
    }

    /// Graceful stop: peers first (so they stop requesting), then trackers, then files; the
    /// last snapshot and resume point go out.
    async fn shut_down(
        &mut self,
        outcome: TorrentEnd,
        (tracker_task, mut tracker_upd, dht_task): SideTasks,
        events: &mut mpsc::UnboundedReceiver<Event>,
        snapshots: &Snapshots,
    ) -> TorrentEnd {
        for p in self.peers.values() {
            p.send(PeerCmd::Disconnect(PeerEnd::Shutdown));
        }
        for w in &self.webseeds {
            w.stop();
        }
        if let Some(t) = dht_task {
            t.abort();
        }
        // The peers end first, so the last announce carries every byte they moved (a private
        // tracker credits only what it is told).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.peers.active().next().is_some() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(e)) => self.on_event(e),
                _ => break,
            }
        }
        let (up, down) = (
            self.shared.uploaded.load(Ordering::Relaxed),
            self.shared.downloaded.load(Ordering::Relaxed),
        );
        self.report_progress(up, down);
        if let Some(tx) = self.sources.tracker_tx.take() {
            let (done_tx, done_rx) = oneshot::channel();
            let last = if self.sleeping {
                TrackerCommand::Settle(done_tx)
            } else {
                TrackerCommand::Stop(done_tx)
            };
            if tx.send(last).await.is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(4), done_rx).await;
            }
        }
        // What the last announce changed (each tracker's row with the counts it heard, and
        // the log's line): a sleeping torrent's line keeps them. New peers are not dialed now.
        for u in std::iter::from_fn(|| tracker_upd.as_mut()?.try_recv().ok()) {
            if matches!(
                u,
                tracker::TrackerUpdate::Status(_) | tracker::TrackerUpdate::Log(..)
            ) {
                self.on_tracker(u);
            }
        }
        if let Some(t) = tracker_task {
            t.abort();
        }
        self.wait_for_writers(Duration::from_secs(2)).await;
        // Every piece went to the kernel when it was verified, so a killed process loses
        // nothing; syncing to the device is only worth its cost (one fdatasync per file) when
        // the user stops us, not when a headless download simply ends.
        if outcome == TorrentEnd::Quit {
            let storage = Arc::clone(&self.shared.storage);
            let _ = tokio::task::spawn_blocking(move || storage.flush()).await;
        }
        if let TorrentEnd::Failed(msg) = &outcome {
            self.shown.snap.state = TorrentState::Error(msg.clone());
        }
        self.on_tick();
        // A failure is kept for whoever looks later; otherwise the last snapshot goes only
        // where someone subscribed (a later one gets what the session's slot shows).
        if matches!(outcome, TorrentEnd::Failed(_)) {
            snapshots.send_kept(self.build_snapshot());
        } else {
            snapshots.send_if_made(|| self.build_snapshot());
        }
        // The session learns of the end from the task itself (`report_end` in
        // session/reports.rs), which also covers the ways out that never reach this loop.
        self.send_resume(true);
        outcome
    }

    /// Lets the piece writers still at work finish (bounded): one that wrote after the last
    /// resume point's file stamps would have the next start check that file again, and a
    /// piece it verifies after that point would be fetched again.
    async fn wait_for_writers(&self, at_most: Duration) {
        let deadline = tokio::time::Instant::now() + at_most;
        while self.shared.download().writers_running() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sets up the entry for a new connection and spawns its task: the one way a peer task
    /// starts, dialed or accepted.
    pub(crate) fn spawn_peer(
        &mut self,
        addr: SocketAddr,
        start: Start,
        stage: PeerStage,
        now: Instant,
    ) {
        let Some(place) = descriptors::peers().take() else {
            // An accepted connection closes with `start`; a dial waits for a free place.
            self.run.out_of_places = Some(now);
            return;
        };
        let conn = self.peers.new_conn(addr);
        // Held by the user or for the storage (`apply_pause`): the new connection too.
        let paused = self.shared.paused.load(Ordering::Relaxed);
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let (cmds, live) = p.begin(conn, stage, now);
        if paused {
            p.send(PeerCmd::Pause);
        }
        let task = PeerTask {
            conn,
            addr,
            torrent: Arc::clone(&self.shared) as Arc<dyn TorrentLink>,
            live,
            cmds,
            place: Some(place),
        };
        task.spawn(start);
    }

    /// Peers just learned of (given, from a tracker or the DHT) are dialed at once while we
    /// download, not at the next tick: that was up to a quarter of a second at every start.
    /// A seed keeps dialing only at its ticks (`SEED_DIALS_PER_TICK` paces it).
    fn dial_new_peers(&mut self, now: Instant) {
        if !self.run.complete && !self.run.interface_down {
            self.connect_more(now);
        }
    }

    fn connect_more(&mut self, now: Instant) {
        let active = self.peers.active().count();
        let half_open = self
            .peers
            .active()
            .filter(|p| p.stage() != PeerStage::Connected)
            .count();
        let budget = self
            .given
            .opts
            .max_peers
            .saturating_sub(active)
            .min(self.given.half_open.saturating_sub(half_open));
        if budget == 0 {
            return;
        }
        let places = descriptors::peers().usage();
        let budget = budget.min(places.capacity - places.in_use);
        if budget == 0 {
            // Only when there is someone to dial: the explainer names the limit then.
            if !self.peers.to_dial(now, self.run.complete, 1).is_empty() {
                self.run.out_of_places = Some(now);
            }
            return;
        }
        for addr in self.peers.to_dial(now, self.run.complete, budget) {
            if self.refuse_blocked(addr, now) {
                continue;
            }
            if let Some(p) = self.peers.get_mut(&addr) {
                p.dial.attempts += 1;
                p.known.punched_via = None;
            }
            let under_v2 = self.peers.get(&addr).is_some_and(|p| p.known.v2_swarm);
            let start = Start::Dial {
                under_v2,
                punch: false,
            };
            self.spawn_peer(addr, start, PeerStage::Connecting, now);
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.sync_super_seeding();
        self.drop_newly_blocked();
        if !self.interface_tick() {
            self.connect_more(now);
        }
        self.dht_tick();
        self.storage_hold_tick(now);
        self.pex_tick(now);
        self.block_hashes_tick(now);
        // The session granted or took a seed slot: act on it now, not at the next round.
        if self.choke.rechoke_due(now) || self.choke.held != self.uploads_held() {
            self.rechoke(now);
        }
        for p in self.peers.values_mut() {
            p.sample_rates(now);
        }
        let downloaded = self.shared.downloaded.load(Ordering::Relaxed);
        let uploaded = self.shared.uploaded.load(Ordering::Relaxed);
        self.shown.down.sample(now, downloaded);
        self.shown.up.sample(now, uploaded);
        if uploaded != self.shown.last_upload.0 {
            self.shown.last_upload = (uploaded, now);
        }
        let (_, behind, written) = self.shared.download().disk_state();
        self.shown.written.sample(now, written);
        self.shown.held_ticks = (self.shown.held_ticks << 1) | u32::from(behind);
        self.shown.down_peak = self.shown.down_peak.max(self.shown.down.rate());
        self.sample_uplink(now, downloaded);
        self.report_progress(uploaded, downloaded);
        self.peers.prune(now);
        let lines: Vec<String> = self.webseeds.iter_mut().flat_map(|w| w.tick(now)).collect();
        for line in lines {
            self.log(LogLevel::Warn, line);
        }
        for line in self.rtc_setups.tick(now) {
            self.log(LogLevel::Info, line);
        }
        self.count_time(now);
        self.see_full_copy(now);
        self.publish_line();
        self.maybe_resume(now);
    }

    /// Once a second: the session's upload, this torrent's download and its TCP peers'
    /// round trips, for the explainer's full-uplink check.
    fn sample_uplink(&mut self, now: Instant, downloaded: u64) {
        if now.saturating_duration_since(self.shown.uplink_sampled) < UPLINK_EVERY {
            return;
        }
        self.shown.uplink_sampled = now;
        let mut pairs: Vec<_> = self
            .peers
            .values()
            .filter_map(|p| p.live()?.round_trip())
            .collect();
        let rtt = RoundTrips::median(&mut pairs);
        let session_up = self.shared.rates.session.acked.load(Ordering::Relaxed);
        self.shown.uplink.sample(now, session_up, downloaded, rtt);
    }

    /// Nothing to drive: no connection (or dial) under way, nothing to download, or paused.
    fn is_idle(&self) -> bool {
        // A WebRTC connection coming up is activity: its row changes stage by stage, and its
        // failure is logged on the tick after it.
        self.peers.active().next().is_none()
            && !self.rtc_setups.coming_up()
            && (self.run.complete || self.run.paused)
    }
}

/// The next message of a channel that may not exist; without one, never.
/// The tracker task with the updates it sends, and the DHT task: what a stop ends.
type SideTasks = (
    Option<tokio::task::JoinHandle<()>>,
    Option<mpsc::Receiver<tracker::TrackerUpdate>>,
    Option<tokio::task::JoinHandle<()>>,
);

async fn recv_if_any<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `recv_if_any` for an unbounded channel.
async fn recv_if_any_unbounded<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

// The coordinator's other halves: child modules, so its fields stay private to it.
mod bad_sources;
mod blocked;
mod chokes;
mod dht_peers;
mod events;
mod files;
mod holepunch;
mod interface;
mod parts;
mod pex_round;
mod publish;
mod storage_hold;
mod superseed;

#[cfg(test)]
mod tests;
