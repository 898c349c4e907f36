//! The tracker task of one torrent: every tier works in parallel, each tier fails over
//! along its (shuffled) URL list and keeps the URL that answered at the front (BEP 12),
//! re-announces on the tracker's interval and backs off on failure. It reports plain
//! `TrackerUpdate`s; the contract types live in `tracker` (mod.rs).
//!
//! This file holds the task's state, its loop and its end (`stopped`); `task/announce.rs`
//! sends the announces that are due and takes their outcomes, `task/tier.rs` is one tier's
//! answer or failure (BEP 12 order, back-off), `task/outbox.rs` what waits for the engine.

mod announce;
mod outbox;
#[cfg(test)]
mod tests;
mod tier;

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::*;
use tier::fmt_secs;

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
    /// Where and how announces leave (`--bind`, `--proxy`).
    pub egress: super::Egress,
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
            egress: Default::default(),
        }
    }
}

/// Starts the tracker task. It ends when `commands` closes, when `updates` is dropped, or
/// after `Stop`.
#[allow(clippy::too_many_arguments)]
pub fn spawn_with_config(
    config: TaskConfig,
    tiers: Vec<Vec<String>>,
    hashes: impl Into<SwarmHashes>,
    peer_id: [u8; 20],
    port: u16,
    progress: watch::Receiver<Progress>,
    commands: mpsc::Receiver<TrackerCommand>,
    updates: mpsc::Sender<TrackerUpdate>,
) -> JoinHandle<()> {
    let task = Task::new(config, tiers, hashes.into(), peer_id, port, progress);
    tokio::spawn(tracing::Instrument::in_current_span(
        task.run(commands, updates),
    ))
}

struct Tracker {
    url: String,
    status: TrackerStatus,
    last_done: Option<Instant>,
    seeders: Option<u32>,
    leechers: Option<u32>,
    warning: Option<String>,
    min_interval: Option<Duration>,
    /// What this tracker was told under the main hash.
    main: Told,
    /// ... and under a hybrid's short v2 hash, a swarm of its own on the tracker: its
    /// `started` and `completed` are owed separately (one may fail while the other works).
    also: Told,
    /// The v2 hash's answer to the announce in flight, for the main answer to show.
    also_counts: (Option<u32>, Option<u32>),
    also_warning: Option<String>,
}

/// What one tracker has acknowledged for one of the torrent's hashes.
#[derive(Debug, Clone, Copy, Default)]
struct Told {
    /// `started` was acknowledged.
    started_ok: bool,
    /// The tracker knows we are complete (a `completed`, or a `started` with nothing left).
    completed_ok: bool,
    /// Any announce succeeded: it gets a `stopped` at shutdown.
    ever_ok: bool,
    /// The `uploaded` and `downloaded` of the last announce answered: a torrent going to
    /// sleep tells the tracker what it has not heard yet (`Task::settle`).
    counts: (u64, u64),
}

impl Told {
    /// The event the next announce under this hash carries.
    fn next_event(&self, complete: bool) -> AnnounceEvent {
        if !self.started_ok {
            AnnounceEvent::Started
        } else if complete && !self.completed_ok {
            AnnounceEvent::Completed
        } else {
            AnnounceEvent::None
        }
    }

    /// An announce carrying `event`, sent with `left` bytes to go and `counts`, was answered.
    fn answered(&mut self, event: AnnounceEvent, left: u64, counts: (u64, u64)) {
        self.ever_ok = true;
        self.counts = counts;
        match event {
            AnnounceEvent::Started => {
                self.started_ok = true;
                if left == 0 {
                    self.completed_ok = true;
                }
            }
            AnnounceEvent::Completed => self.completed_ok = true,
            AnnounceEvent::None | AnnounceEvent::Stopped => {}
        }
    }
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

type AnnounceFuture = Pin<Box<dyn Future<Output = AnnounceDone> + Send>>;

/// An announce that went out: to which tracker, saying what.
struct Sent {
    tier: usize,
    url: String,
    event: AnnounceEvent,
    left: u64,
    /// The `uploaded` and `downloaded` it carried.
    counts: (u64, u64),
    /// The event sent under a hybrid's v2 hash, when there is one.
    also_event: Option<AnnounceEvent>,
}

/// An announce that came back (or failed), with what it said.
struct AnnounceDone {
    sent: Sent,
    result: Result<AnnounceResponse, TrackerError>,
    /// The answer under a hybrid's v2 hash.
    also: Option<Result<AnnounceResponse, TrackerError>>,
}

/// Log lines gathered while a tier is borrowed, written once it is not.
type Logs = Vec<(LogLevel, String)>;

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
    hashes: SwarmHashes,
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
        hashes: SwarmHashes,
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
                    main: Told::default(),
                    also: Told::default(),
                    also_counts: (None, None),
                    also_warning: None,
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
        let http = match http_client_from(&config.egress) {
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
            hashes,
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
                        return self.last_word(AnnounceEvent::Stopped, reply, &updates).await;
                    }
                    Some(TrackerCommand::Settle(reply)) => {
                        drop(inflight);
                        return self.last_word(AnnounceEvent::None, reply, &updates).await;
                    }
                    Some(TrackerCommand::Completed) => self.on_completed(),
                    Some(TrackerCommand::Reannounce) => self.on_reannounce(),
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

    fn request(&self, info_hash: [u8; 20], event: AnnounceEvent, numwant: u32) -> AnnounceRequest {
        AnnounceRequest {
            info_hash,
            peer_id: self.peer_id,
            port: self.port,
            progress: *self.progress.borrow(),
            event,
            numwant,
        }
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

    fn on_reannounce(&mut self) {
        let now = Instant::now();
        let soonest = self
            .tiers
            .iter_mut()
            .filter(|t| !t.busy)
            .map(|t| t.reannounce(now))
            .min();
        let when = match soonest {
            None => "an announce is under way".to_string(),
            Some(at) if at <= now => "announcing now".to_string(),
            Some(at) => format!(
                "next announce in {} (the tracker's minimum interval)",
                fmt_secs(at - now)
            ),
        };
        self.log(LogLevel::Info, format!("announce asked for: {when}"));
    }

    /// The task's end: `stopped` to every tracker that ever answered (`Stop`), or before the
    /// torrent sleeps (`Settle`, no event: the tracker keeps listing it) what each has not
    /// heard of the bytes moved. A private tracker counts only what is announced, and the next
    /// wake starts the counts from 0 with `started`, so the bytes served to a leecher since the
    /// last announce were never credited before. Then the last updates, and the answer.
    async fn last_word(
        &mut self,
        event: AnnounceEvent,
        reply: tokio::sync::oneshot::Sender<()>,
        updates: &mpsc::Sender<TrackerUpdate>,
    ) {
        self.tell_all(event).await;
        self.push_status();
        // Best effort only: the engine reads them once the answer came (`shut_down`).
        while let Some(u) = self.outbox.pop_front() {
            if updates.try_send(u).is_err() {
                break;
            }
        }
        let _ = reply.send(());
    }

    /// `event` to every tracker that ever answered (for `None`: those whose last answered
    /// counts are not the current ones), all at once, bounded in time.
    async fn tell_all(&mut self, event: AnnounceEvent) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let limit = self.config.stop_timeout;
        let schedule = udp::UdpSchedule {
            timeouts: vec![limit],
        };
        let now = {
            let p = self.progress.borrow();
            (p.uploaded, p.downloaded)
        };
        let owed =
            |told: &Told| told.ever_ok && (event == AnnounceEvent::Stopped || told.counts != now);
        // One announce per swarm the tracker listed us in.
        let mut sends: Vec<(String, AnnounceRequest)> = Vec::new();
        for t in self.tiers.iter().flat_map(|t| t.trackers.iter()) {
            if owed(&t.main) {
                sends.push((t.url.clone(), self.request(self.hashes.main, event, 0)));
            }
            if let (Some(also), true) = (self.hashes.also, owed(&t.also)) {
                sends.push((t.url.clone(), self.request(also, event, 0)));
            }
        }
        if sends.is_empty() {
            return;
        }
        let all = futures::future::join_all(
            sends
                .iter()
                .map(|(u, req)| announce_from(u, req, &http, &schedule, &self.config.egress)),
        );
        let what = match event {
            AnnounceEvent::Stopped => "stopped",
            _ => "the counts before sleeping",
        };
        match tokio::time::timeout(limit, all).await {
            Ok(results) => {
                let ok = results.iter().filter(|r| r.is_ok()).count();
                // Each tracker's row says what it heard last (under the main hash).
                let main_ok = sends.iter().zip(&results).filter_map(|((url, req), r)| {
                    (r.is_ok() && req.info_hash == self.hashes.main).then_some(url)
                });
                let heard: HashSet<&String> = main_ok.collect();
                for t in self.tiers.iter_mut().flat_map(|t| t.trackers.iter_mut()) {
                    if heard.contains(&t.url) {
                        t.main.counts = now;
                    }
                }
                let n = sends.len();
                let text = if self.hashes.also.is_some() {
                    format!("sent {what} {ok} of {n} times (each tracker under both hashes)")
                } else {
                    format!("sent {what} to {ok} of {n} trackers")
                };
                self.log(LogLevel::Info, text);
            }
            Err(_) => self.log(
                LogLevel::Warn,
                format!("{what} announce gave up after {}", fmt_secs(limit)),
            ),
        }
    }
}
