//! The tracker task of one torrent: every tier works in parallel, each tier fails over
//! along its (shuffled) URL list and keeps the URL that answered at the front (BEP 12),
//! re-announces on the tracker's interval and backs off on failure. It reports plain
//! `TrackerUpdate`s; the contract types live in `tracker` (mod.rs).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::*;
/// Knobs of the tracker task; `Default` is what the client uses, tests shorten the waits.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// Shuffle each tier once at start (BEP 12). Tests turn it off for a fixed order.
    pub shuffle: bool,
    pub numwant: u32,
    pub udp_schedule: udp::UdpSchedule,
    /// First wait after every URL of a tier failed; doubles per failed round.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// Bound on the whole `stopped` round at shutdown.
    pub stop_timeout: Duration,
    /// Status rows are re-sent this often so their relative times stay fresh.
    pub refresh: Duration,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            shuffle: true,
            numwant: 50,
            udp_schedule: udp::UdpSchedule::default(),
            backoff_first: Duration::from_secs(15),
            backoff_max: Duration::from_secs(30 * 60),
            stop_timeout: Duration::from_secs(3),
            refresh: Duration::from_secs(1),
        }
    }
}

/// Starts the tracker task with the default configuration. It ends when `commands` closes,
/// when `updates` is dropped, or after `Stop`.
pub fn spawn(
    tiers: Vec<Vec<String>>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    progress: watch::Receiver<Progress>,
    commands: mpsc::Receiver<TrackerCommand>,
    updates: mpsc::Sender<TrackerUpdate>,
) -> JoinHandle<()> {
    spawn_with_config(
        TaskConfig::default(),
        tiers,
        info_hash,
        peer_id,
        port,
        progress,
        commands,
        updates,
    )
}

/// [`spawn`] with explicit knobs.
#[allow(clippy::too_many_arguments)]
pub fn spawn_with_config(
    config: TaskConfig,
    tiers: Vec<Vec<String>>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    progress: watch::Receiver<Progress>,
    commands: mpsc::Receiver<TrackerCommand>,
    updates: mpsc::Sender<TrackerUpdate>,
) -> JoinHandle<()> {
    let task = Task::new(config, tiers, info_hash, peer_id, port, progress);
    tokio::spawn(task.run(commands, updates))
}

struct Tracker {
    url: String,
    status: TrackerStatus,
    last_done: Option<Instant>,
    seeders: Option<u32>,
    leechers: Option<u32>,
    warning: Option<String>,
    min_interval: Option<Duration>,
    /// `started` was acknowledged by this tracker.
    started_ok: bool,
    /// The tracker knows we are complete (a `completed`, or a `started` with nothing left).
    completed_ok: bool,
    /// Any announce succeeded: it gets a `stopped` at shutdown.
    ever_ok: bool,
}

struct Tier {
    /// Try order; the front is the URL that worked last (BEP 12).
    trackers: Vec<Tracker>,
    next_at: Instant,
    /// An announce to `trackers[cursor]` is in flight.
    busy: bool,
    cursor: usize,
    /// Consecutive rounds in which every URL failed.
    failed_rounds: u32,
}

type AnnounceFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// An announce that went out: to which tracker, saying what.
struct Sent {
    tier: usize,
    url: String,
    event: Event,
    left: u64,
}

struct Outcome {
    sent: Sent,
    result: Result<AnnounceResponse, TrackerError>,
}

/// Log lines gathered while a tier is borrowed, written once it is not.
type Logs = Vec<(LogLevel, String)>;

/// Updates waiting for room in the channel. Sending never blocks the loop, so a busy engine
/// cannot stall `Stop`; only the newest Status is kept.
const MAX_OUTBOX: usize = 512;

/// Announces in flight at once across the process (libtorrent's
/// `max_concurrent_http_announces` is 50 too). A session that starts thousands of torrents
/// would otherwise open thousands of sockets in the same instant; the rest wait their turn,
/// and their timeouts start only once they are sent. `stopped` at shutdown is not held back:
/// it goes only to trackers that answered and is bounded in time.
pub const MAX_CONCURRENT_ANNOUNCES: usize = 50;

fn announce_slots() -> &'static tokio::sync::Semaphore {
    // A tokio semaphore belongs to no runtime, so one static serves every session and test.
    static SLOTS: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(MAX_CONCURRENT_ANNOUNCES);
    &SLOTS
}

struct Task {
    config: TaskConfig,
    tiers: Vec<Tier>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    progress: watch::Receiver<Progress>,
    complete: bool,
    http: Option<reqwest::Client>,
    outbox: VecDeque<TrackerUpdate>,
}

impl Task {
    fn new(
        config: TaskConfig,
        tiers: Vec<Vec<String>>,
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        port: u16,
        progress: watch::Receiver<Progress>,
    ) -> Task {
        let now = Instant::now();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for tier in tiers {
            let mut trackers: Vec<Tracker> = tier
                .into_iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty() && seen.insert(u.clone()))
                .map(|url| Tracker {
                    url,
                    status: TrackerStatus::NotContacted,
                    last_done: None,
                    seeders: None,
                    leechers: None,
                    warning: None,
                    min_interval: None,
                    started_ok: false,
                    completed_ok: false,
                    ever_ok: false,
                })
                .collect();
            if trackers.is_empty() {
                continue;
            }
            if config.shuffle {
                trackers.shuffle(&mut rand::thread_rng());
            }
            out.push(Tier {
                trackers,
                next_at: now,
                busy: false,
                cursor: 0,
                failed_rounds: 0,
            });
        }
        let mut outbox = VecDeque::new();
        let http = match http_client() {
            Ok(c) => Some(c),
            Err(e) => {
                outbox.push_back(TrackerUpdate::Log(
                    LogLevel::Error,
                    format!("cannot set up HTTP for trackers: {e}"),
                ));
                None
            }
        };
        Task {
            config,
            tiers: out,
            info_hash,
            peer_id,
            port,
            progress,
            complete: false,
            http,
            outbox,
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<TrackerCommand>,
        updates: mpsc::Sender<TrackerUpdate>,
    ) {
        let mut inflight: FuturesUnordered<AnnounceFuture> = FuturesUnordered::new();
        let mut refresh = tokio::time::interval(self.config.refresh);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.push_status();
        loop {
            self.start_due(&mut inflight);
            let wake = self
                .tiers
                .iter()
                .filter(|t| !t.busy)
                .map(|t| t.next_at)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None => return,
                    Some(TrackerCommand::Stop(reply)) => {
                        drop(inflight);
                        self.stop().await;
                        // Best effort only: the engine may not read updates while it waits.
                        while let Some(u) = self.outbox.pop_front() {
                            if updates.try_send(u).is_err() {
                                break;
                            }
                        }
                        let _ = reply.send(());
                        return;
                    }
                    Some(TrackerCommand::Completed) => self.on_completed(),
                },
                Some(outcome) = inflight.next(), if !inflight.is_empty() => {
                    self.on_outcome(outcome, &mut inflight);
                }
                permit = updates.reserve(), if !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(u) = self.outbox.pop_front() {
                            permit.send(u);
                        }
                    }
                    Err(_) => return,
                },
                _ = updates.closed() => return,
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
                _ = refresh.tick(), if !self.tiers.is_empty() => self.push_status(),
            }
        }
    }

    fn request(&self, event: Event, numwant: u32) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            progress: *self.progress.borrow(),
            event,
            numwant,
        }
    }

    fn event_for(&self, t: &Tracker) -> Event {
        if !t.started_ok {
            Event::Started
        } else if self.complete && !t.completed_ok {
            Event::Completed
        } else {
            Event::None
        }
    }

    fn start_due(&mut self, inflight: &mut FuturesUnordered<AnnounceFuture>) {
        let now = Instant::now();
        let mut changed = false;
        for i in 0..self.tiers.len() {
            let due = self
                .tiers
                .get(i)
                .is_some_and(|t| !t.busy && t.next_at <= now);
            if due {
                if let Some(tier) = self.tiers.get_mut(i) {
                    tier.cursor = 0;
                }
                self.start_announce(i, inflight);
                changed = true;
            }
        }
        if changed {
            self.push_status();
        }
    }

    /// Announces to `trackers[cursor]` of the tier.
    fn start_announce(&mut self, tier_idx: usize, inflight: &mut FuturesUnordered<AnnounceFuture>) {
        let Some(t) = self
            .tiers
            .get(tier_idx)
            .and_then(|tier| tier.trackers.get(tier.cursor))
        else {
            return;
        };
        let event = self.event_for(t);
        let url = t.url.clone();
        let req = self.request(event, self.config.numwant);
        let http = self.http.clone();
        let schedule = self.config.udp_schedule.clone();
        if let Some(tier) = self.tiers.get_mut(tier_idx) {
            tier.busy = true;
            if let Some(t) = tier.trackers.get_mut(tier.cursor) {
                t.status = TrackerStatus::Announcing;
            }
        }
        inflight.push(Box::pin(async move {
            // Never closed, so acquire only fails if it were; then go without a slot.
            let _slot = announce_slots().acquire().await.ok();
            let result = match &http {
                Some(http) => announce_with(&url, &req, http, &schedule).await,
                None => Err(TrackerError::Io {
                    kind: None,
                    reason: "HTTP client unavailable".into(),
                }),
            };
            Outcome {
                sent: Sent {
                    tier: tier_idx,
                    url,
                    event,
                    left: req.progress.left,
                },
                result,
            }
        }));
    }

    fn on_outcome(&mut self, o: Outcome, inflight: &mut FuturesUnordered<AnnounceFuture>) {
        let now = Instant::now();
        let complete = self.complete;
        let config = &self.config;
        let Some(tier) = self.tiers.get_mut(o.sent.tier) else {
            return;
        };
        tier.busy = false;
        let Some(pos) = tier.trackers.iter().position(|t| t.url == o.sent.url) else {
            return;
        };
        let mut logs = Vec::new();
        let mut batch = None;
        let mut fail_over = false;
        match o.result {
            Ok(resp) => {
                let peers = tier.on_answer(pos, resp, &o.sent, complete, now, &mut logs);
                if !peers.is_empty() {
                    batch = Some(peers);
                }
            }
            Err(e) => fail_over = tier.on_failure(pos, &e, &o.sent, config, now, &mut logs),
        }
        for (level, text) in logs {
            self.log(level, text);
        }
        if let Some(peers) = batch {
            self.outbox.push_back(TrackerUpdate::Peers(peers));
        }
        if fail_over {
            self.start_announce(o.sent.tier, inflight);
        }
        self.push_status();
    }

    fn on_completed(&mut self) {
        if self.complete {
            return;
        }
        self.complete = true;
        let now = Instant::now();
        for tier in &mut self.tiers {
            if !tier.busy {
                tier.next_at = now;
            }
        }
    }

    /// `stopped` to every tracker that ever answered, all at once, bounded in time.
    async fn stop(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let req = self.request(Event::Stopped, 0);
        let limit = self.config.stop_timeout;
        let schedule = udp::UdpSchedule {
            timeouts: vec![limit],
        };
        let urls: Vec<String> = self
            .tiers
            .iter()
            .flat_map(|t| t.trackers.iter())
            .filter(|t| t.ever_ok)
            .map(|t| t.url.clone())
            .collect();
        if urls.is_empty() {
            return;
        }
        let all = futures::future::join_all(
            urls.iter()
                .map(|u| announce_with(u, &req, &http, &schedule)),
        );
        match tokio::time::timeout(limit, all).await {
            Ok(results) => {
                let ok = results.iter().filter(|r| r.is_ok()).count();
                self.log(
                    LogLevel::Info,
                    format!("sent stopped to {ok} of {} trackers", urls.len()),
                );
            }
            Err(_) => self.log(
                LogLevel::Warn,
                format!("stopped announce gave up after {}", fmt_secs(limit)),
            ),
        }
    }

    fn log(&mut self, level: LogLevel, text: String) {
        if self.outbox.len() >= MAX_OUTBOX {
            // Keep peers; drop the oldest log or status line.
            if let Some(i) = self
                .outbox
                .iter()
                .position(|u| !matches!(u, TrackerUpdate::Peers(_)))
            {
                self.outbox.remove(i);
            }
        }
        self.outbox.push_back(TrackerUpdate::Log(level, text));
    }

    fn push_status(&mut self) {
        self.outbox
            .retain(|u| !matches!(u, TrackerUpdate::Status(_)));
        let rows = self.rows(Instant::now());
        self.outbox.push_back(TrackerUpdate::Status(rows));
    }

    fn rows(&self, now: Instant) -> Vec<TrackerReport> {
        let mut rows = Vec::new();
        for (tier_idx, tier) in self.tiers.iter().enumerate() {
            for (pos, t) in tier.trackers.iter().enumerate() {
                let next_announce =
                    (!tier.busy && pos == 0).then(|| tier.next_at.saturating_duration_since(now));
                rows.push(TrackerReport {
                    url: t.url.clone(),
                    tier: tier_idx,
                    status: t.status.clone(),
                    last_announce: t.last_done.map(|d| now.saturating_duration_since(d)),
                    next_announce,
                    seeders: t.seeders,
                    leechers: t.leechers,
                    warning: t.warning.clone(),
                });
            }
        }
        rows
    }
}

impl Tier {
    /// `trackers[pos]` answered: it moves to the front (BEP 12) and the tier waits the
    /// tracker's interval. Returns the peers it listed, capped and without repeats.
    fn on_answer(
        &mut self,
        pos: usize,
        mut resp: AnnounceResponse,
        sent: &Sent,
        complete: bool,
        now: Instant,
        logs: &mut Logs,
    ) -> Vec<SocketAddr> {
        let mut t = self.trackers.remove(pos);
        let peers = peer_list(std::mem::take(&mut resp.peers), &t.url, logs);
        t.status = TrackerStatus::Ok { peers: peers.len() };
        t.last_done = Some(now);
        t.seeders = resp.seeders;
        t.leechers = resp.leechers;
        t.warning = resp.warning.clone();
        t.min_interval = resp.min_interval;
        t.ever_ok = true;
        match sent.event {
            Event::Started => {
                t.started_ok = true;
                if sent.left == 0 {
                    t.completed_ok = true;
                }
            }
            Event::Completed => t.completed_ok = true,
            Event::None | Event::Stopped => {}
        }
        // A `completed` that arrived while `started` was in flight goes out at once.
        let owe_completed = complete && t.started_ok && !t.completed_ok;
        let url = t.url.clone();
        self.trackers.insert(0, t);
        self.cursor = 0;
        self.failed_rounds = 0;
        self.next_at = if owe_completed {
            now
        } else {
            now + resp.interval
        };
        let counts = match (resp.seeders, resp.leechers) {
            (Some(s), Some(l)) => format!(" ({s} seeders, {l} leechers)"),
            _ => String::new(),
        };
        let ev = event_note(sent.event);
        logs.push((
            LogLevel::Info,
            format!("announce{ev} to {url} ok: {} peers{counts}", peers.len()),
        ));
        if let Some(w) = resp.warning {
            logs.push((LogLevel::Warn, format!("tracker {url} warns: {w}")));
        }
        peers
    }

    /// `trackers[pos]` failed: the next URL of the tier is tried at once (returns true), or,
    /// when it was the last, the tier backs off, doubling per failed round.
    fn on_failure(
        &mut self,
        pos: usize,
        e: &TrackerError,
        sent: &Sent,
        config: &TaskConfig,
        now: Instant,
        logs: &mut Logs,
    ) -> bool {
        if let Some(t) = self.trackers.get_mut(pos) {
            t.status = TrackerStatus::Failed(e.to_string());
            t.last_done = Some(now);
        }
        let next = pos + 1;
        let len = self.trackers.len();
        let url = &sent.url;
        let ev = event_note(sent.event);
        if next < len {
            self.cursor = next;
            logs.push((LogLevel::Warn, format!("announce{ev} to {url} failed: {e}")));
            return true;
        }
        self.cursor = 0;
        self.failed_rounds = self.failed_rounds.saturating_add(1);
        let shift = self.failed_rounds.saturating_sub(1).min(16);
        let wait = config
            .backoff_first
            .saturating_mul(1u32 << shift)
            .min(config.backoff_max);
        self.next_at = now + wait;
        let what = if len > 1 {
            "every tracker of its tier failed; "
        } else {
            ""
        };
        logs.push((
            LogLevel::Warn,
            format!(
                "announce{ev} to {url} failed: {e} ({what}retry in {})",
                fmt_secs(wait)
            ),
        ));
        false
    }
}

/// The peers a reply listed, at most [`MAX_PEERS_PER_REPLY`] of them (a random pick when
/// there are more), each once.
fn peer_list(mut listed: Vec<SocketAddr>, url: &str, logs: &mut Logs) -> Vec<SocketAddr> {
    if listed.len() > MAX_PEERS_PER_REPLY {
        logs.push((
            LogLevel::Warn,
            format!(
                "tracker {url} listed {} peers; keeping {MAX_PEERS_PER_REPLY}",
                listed.len()
            ),
        ));
        let (kept, _) = listed.partial_shuffle(&mut rand::thread_rng(), MAX_PEERS_PER_REPLY);
        listed = kept.to_vec();
    }
    let mut seen = HashSet::new();
    listed.into_iter().filter(|p| seen.insert(*p)).collect()
}

/// " (started)" and the like, after "announce" in the log; nothing for a plain re-announce.
fn event_note(event: Event) -> String {
    match event.as_str() {
        Some(e) => format!(" ({e})"),
        None => String::new(),
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else if s >= 1 {
        format!("{s} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}
