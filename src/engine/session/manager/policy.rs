//! The manager's side of the queue and the seeding goals: what each slot keeps for them, the
//! evaluation run after every request that changes a torrent's state and on every session
//! tick, and acting on it. The decisions themselves are the pure `queue::decide` and
//! `goals::check`; this file only feeds them and stops or starts torrents.
//!
//! A torrent the session holds back (queued, waiting for its check, paused by a goal, or
//! restored paused) has no task: no peers, no announces, no open files; it costs its line.
//! A torrent added (or back with changed files) waits in its slot until fewer than
//! `queue::MAX_CHECKS` are opening and checking; each task that is done says so
//! (`Report::Opened`) and the next starts then, not at the next tick. Starting it again trusts
//! the pieces of its last resume point, as a move does, so a torrent leaving the queue does
//! not hash its data again. A torrent paused by hand while it runs keeps its task (pause
//! keeps connections, as before): only the queue and the goals stop tasks.
//!
//! Cost per tick: one pass over the slots into buffers kept between ticks (no allocation
//! once they have grown), one sort of indices, and text made only when a verdict changes;
//! and only while a torrent is awake or something changed (the loop in manager.rs skips it
//! otherwise, but for one pass every 30 s for the goals of dormant torrents). The same pass
//! puts quiet torrents to sleep (`dormancy.rs`, `sleep.rs`); a dormant torrent counts as
//! seeding for the queue and the goals, and the queue never starts it (a wake does).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

mod changes;
pub(super) use super::parked::{Parked, Stored};
use super::{Manager, Slot};
use crate::engine::api::{Command, QueueState, RequestError, TorrentId, TorrentLine, TorrentState};
use crate::engine::session::goals::{self, GoalAction, Progress, Reached};
use crate::engine::session::persist::{Kept, KeptBox};
use crate::engine::session::queue::{self, Entry, Move, Verdict, Want};
use crate::engine::torrent::options::Options;
use crate::engine::torrent::report::ResumePoint;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;

/// What a slot keeps for the queue and the goals.
pub(super) struct SlotPolicy {
    /// Saved with the torrent: forced, its own goals, the goal that paused it.
    pub kept: KeptBox,
    pub verdict: Verdict,
    /// It holds a seed slot: its last verdict was `Run` while it wanted to seed (a
    /// download's slot is not a seed's, so a download that completes asks for one).
    pub seed_slot: bool,
    /// The verdict as the torrent's line shows it (None: nothing holds it back), and in
    /// words, both made when it changed.
    pub queue: Option<QueueState>,
    pub why: Option<String>,
    /// Since when it has downloaded below the slow rate (None: fast, or not running); for a
    /// seed, since when it has uploaded below it with a peer wanting data, while it held a
    /// slot or was counted out for that (`queue::Entry::slow_for`).
    pub slow_since: Option<Instant>,
    /// Lifetime upload when last seen rising, and when.
    pub upload_seen: (u64, Instant),
    /// Lifetime seeding seconds when this run started, and what this run has added.
    pub seeding_base: u64,
    pub seeding_run: Duration,
    /// The same as its line shows it (`SeedClock`), moved only when it starts or stops
    /// seeding.
    pub seed_clock: crate::engine::api::SeedClock,
    /// Since when a running torrent has been quiet (`dormancy::Facts::quiet`).
    pub quiet_since: Option<Instant>,
    /// A dormant torrent's next announce (its entry in `Manager::announces`), and the same
    /// in Unix seconds for its line.
    pub announce_at: Option<Instant>,
    pub announce_unix: Option<u64>,
    /// Its task was started to open and check its data and has not said it is done
    /// (`Report::Opened`) nor ended: it counts against the checks at a time (`queue.rs`).
    pub checking: bool,
    /// Its task has checked the data since it started and found it complete, and no peer nor
    /// subscriber has come since: with nothing to announce (or its announce done), it sleeps
    /// at once (`dormancy.rs`).
    pub just_checked: bool,
    /// Its task was woken from sleep only to announce, and no peer nor subscriber has come
    /// since (`dormancy::Facts::woke_to_announce`).
    pub woke_to_announce: bool,
    /// What failed after it completed, in words for its line: the move out of the
    /// incomplete directory, or its `on_complete` run (`completed.rs`).
    pub after_complete: Option<String>,
    /// Its `on_complete` waits for its move out of the incomplete directory: the lifetime
    /// download count to tell it.
    pub run_after_move: Option<u64>,
    /// A move copying in the background, in words for its line (`copies.rs`).
    pub moving_words: Option<String>,
}

impl SlotPolicy {
    /// Its lifetime seeding time as counted so far.
    pub(super) fn seeded(&self) -> Duration {
        Duration::from_secs(self.seeding_base) + self.seeding_run
    }

    pub(super) fn new(kept: Kept, seeding_base: u64) -> SlotPolicy {
        SlotPolicy {
            kept: KeptBox::new(kept),
            verdict: Verdict::Run,
            seed_slot: false,
            queue: None,
            why: None,
            slow_since: None,
            upload_seen: (0, Instant::now()),
            seeding_base,
            seeding_run: Duration::ZERO,
            seed_clock: crate::engine::api::SeedClock::Stopped { secs: seeding_base },
            quiet_since: None,
            announce_at: None,
            announce_unix: None,
            checking: false,
            just_checked: false,
            woke_to_announce: false,
            after_complete: None,
            run_after_move: None,
            moving_words: None,
        }
    }
}

/// An evaluation asked for by requests or reports (an add, a check done, a task ended) comes
/// at least this many times its own last cost after the last one: at once for a small
/// library, spaced for a large one, where one each made a burst of them quadratic (adding
/// 100,000 torrents). So they take at most a tenth of a core. A read still weighs the queue
/// first (`requests.rs`).
pub(super) const EVALUATE_SPACING: u32 = 9;

/// Buffers the evaluation keeps between ticks.
#[derive(Default)]
pub(super) struct Scratch {
    entries: Vec<Entry>,
    order: Vec<usize>,
    verdicts: Vec<Verdict>,
    /// The last evaluation's torrents waiting for a check slot, in turn, each with the verdict
    /// it gets then: a check's end starts the next from here (`start_next_check`).
    waiting_checks: Vec<(usize, Verdict)>,
    check_next: std::collections::VecDeque<(TorrentId, Verdict)>,
    /// The last evaluation's downloads held for want of a download slot, in turn: a check
    /// that finds a download complete frees its slot for the next from here
    /// (`start_next_held`).
    held_next: std::collections::VecDeque<TorrentId>,
    /// When seeding time was last counted.
    pub(super) last_tick: Option<Instant>,
}

/// Whether a torrent has anyone to tell it exists: trackers, the DHT (not for a private
/// torrent), or peers given to dial. One that has not must not wait to announce `started`
/// before it sleeps, and a dormant one has no announce to wake for.
pub(super) fn announces(opts: &Options, dht: bool, meta: &Metainfo) -> bool {
    (opts.use_trackers && !meta.trackers.is_empty())
        || (dht && !meta.info.private)
        || !opts.peers.is_empty()
}

fn want(slot: &Slot, line: &TorrentLine) -> Want {
    if slot.state.is_removing() || slot.meta.is_none() {
        return Want::Nothing;
    }
    if let Some(p) = slot.state.parked() {
        return match (p.paused, p.complete) {
            (true, _) => Want::Nothing,
            (false, true) => Want::Seed,
            (false, false) => Want::Download,
        };
    }
    if !slot.state.has_task() {
        return Want::Nothing;
    }
    match line.state {
        TorrentState::Paused | TorrentState::Error(_) => Want::Nothing,
        TorrentState::Seeding | TorrentState::Complete => Want::Seed,
        TorrentState::Downloading | TorrentState::Checking { .. } => Want::Download,
    }
}

impl Manager {
    /// Decides the queue again and acts on it; on a tick (`tick`) also counts seeding time
    /// and checks the seeding goals.
    pub(super) fn evaluate(&mut self, tick: bool) {
        let now = Instant::now();
        let settings = self.opts.queue;
        let dt = match self.scratch.last_tick.replace(now) {
            Some(t) if tick => now.duration_since(t),
            Some(t) => {
                self.scratch.last_tick = Some(t);
                Duration::ZERO
            }
            None => Duration::ZERO,
        };
        let unix_now = crate::engine::torrent::report::unix_now();
        let mut reached: Vec<(usize, Reached)> = Vec::new();
        let mut sleepers: Vec<usize> = Vec::new();
        let mut entries = std::mem::take(&mut self.scratch.entries);
        entries.clear();
        let dht = self.session.ctx.dht.is_some();
        let mut announcing = 0;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let line = slot.line.borrow();
            let want = want(slot, &line);
            let running = slot.state.runs();
            let checks_first = !slot.state.has_task()
                && slot.meta.is_some()
                && slot
                    .state
                    .parked()
                    .is_some_and(|p| !p.dormant && p.checks_first(slot.last.as_deref()));
            let dormant = slot.state.parked().is_some_and(|p| p.dormant && !p.paused);
            if running {
                let announces = slot
                    .meta
                    .as_ref()
                    .is_some_and(|m| announces(&self.opts, dht, m));
                let trackers = self.opts.use_trackers
                    && slot.meta.as_ref().is_some_and(|m| !m.trackers.is_empty());
                let facts = Self::facts(slot, &line, announces, trackers);
                if facts.woke_to_announce && facts.tracker_pending {
                    announcing += 1;
                }
                if facts.peers > 0 || facts.subscribed {
                    slot.policy.just_checked = false;
                    slot.policy.woke_to_announce = false;
                }
                let since = &mut slot.policy.quiet_since;
                *since = facts.quiet().then(|| since.unwrap_or(now));
                if crate::engine::session::dormancy::may_sleep(&facts, *since, now, &self.dormancy)
                {
                    sleepers.push(i);
                }
            }
            let p = &mut slot.policy;
            let demand = running && line.peers_interested > 0;
            let slow = running
                && match want {
                    Want::Download => {
                        line.state == TorrentState::Downloading
                            && line.down_rate < settings.slow_rate as f64
                    }
                    // Counted only while it may upload (with a slot, or counted out): a seed
                    // waiting for a slot uploads nothing by the queue's own doing.
                    Want::Seed => {
                        demand
                            && line.up_rate < settings.slow_rate as f64
                            && (p.seed_slot || matches!(p.verdict, Verdict::Idle { slow: Some(_) }))
                    }
                    Want::Nothing => false,
                };
            if !slow {
                p.slow_since = None;
            } else if p.slow_since.is_none() {
                p.slow_since = Some(now);
            }
            let seeding = (running && line.state == TorrentState::Seeding) || dormant;
            if !seeding || line.uploaded != p.upload_seen.0 {
                p.upload_seen = (line.uploaded, now);
            }
            if seeding && tick {
                p.seeding_run += dt;
                p.seed_clock = p.seed_clock.next(true, p.seeded(), unix_now);
                let progress = Progress {
                    ratio: line.ratio(),
                    seeded: p.seeded(),
                    idle: now.duration_since(p.upload_seen.1),
                };
                let base =
                    goals::base_for(&self.opts.trackers, &self.opts.goals, slot.meta.as_deref());
                let goals = p.kept.goals.effective(&base);
                if let Some(r) = goals::check(&goals, &progress) {
                    reached.push((i, r));
                }
            } else if !seeding {
                p.seed_clock = p.seed_clock.next(false, p.seeded(), unix_now);
            }
            entries.push(Entry {
                position: slot.queue_position,
                want,
                forced: p.kept.forced,
                slow_for: p
                    .slow_since
                    .map_or(Duration::ZERO, |t| now.duration_since(t)),
                checks_first,
                checking: p.checking,
                demand,
                slotted: p.seed_slot,
            });
        }
        self.announcing = announcing;
        let (mut order, mut verdicts) = (
            std::mem::take(&mut self.scratch.order),
            std::mem::take(&mut self.scratch.verdicts),
        );
        let mut waiting = std::mem::take(&mut self.scratch.waiting_checks);
        queue::decide(&entries, &settings, &mut order, &mut verdicts, &mut waiting);
        for (i, v) in verdicts.iter().enumerate() {
            self.apply(i, *v, entries[i].want);
        }
        self.scratch.check_next.clear();
        let slots = &self.slots;
        self.scratch
            .check_next
            .extend(waiting.iter().map(|&(i, v)| (slots[i].id, v)));
        self.scratch.waiting_checks = waiting;
        self.scratch.held_next.clear();
        self.scratch.held_next.extend(
            order
                .iter()
                .filter(|&&i| {
                    matches!(
                        verdicts[i],
                        Verdict::Held {
                            want: Want::Download,
                            ..
                        }
                    )
                })
                .map(|&i| slots[i].id),
        );
        for i in sleepers {
            self.sleep(i);
        }
        self.scratch.entries = entries;
        self.scratch.order = order;
        self.scratch.verdicts = verdicts;
        if std::mem::take(&mut self.checks_ended) {
            self.checks_done();
        }
        // Last: acting on a goal may remove a slot, which moves the indices.
        for (i, r) in reached.into_iter().rev() {
            self.goal_reached(i, r);
        }
        // What reports ask for waits at least this pass's cost times the spacing: the
        // evaluations they cause take at most a tenth of a core, however large the library.
        self.evaluate_at = tokio::time::Instant::now() + now.elapsed() * EVALUATE_SPACING;
    }

    /// A check ended: the next torrent waiting for one starts now, with the verdict the last
    /// evaluation gave it, without deciding every torrent again (that waits for the next
    /// evaluation, `evaluate_soon`). A pass over every slot per check made adding 100,000
    /// torrents quadratic: each check's end waited for a pass over all the others.
    /// False when none was waiting.
    pub(super) fn start_next_check(&mut self) -> bool {
        while let Some((id, v)) = self.scratch.check_next.pop_front() {
            let Some(i) = self.slots.index(id) else {
                continue;
            };
            let slot = &self.slots[i];
            // Paused, removed or started since: its turn passes to the next.
            if !matches!(slot.policy.verdict, Verdict::CheckQueued { .. }) || slot.state.has_task()
            {
                continue;
            }
            let want = want(slot, &slot.line.borrow());
            if want == Want::Nothing {
                continue;
            }
            self.apply(i, v, want);
            return true;
        }
        false
    }

    /// A check found a download complete: it seeds now, and the download slot it held goes to
    /// the next download held for one in the last evaluation, without deciding every torrent
    /// again (that waits for the next evaluation). A library added at once waits on exactly
    /// that, a check at a time, and a pass over every slot per check made adding 100,000
    /// torrents quadratic. False when none was held.
    pub(super) fn start_next_held(&mut self) -> bool {
        while let Some(id) = self.scratch.held_next.pop_front() {
            let Some(i) = self.slots.index(id) else {
                continue;
            };
            let slot = &self.slots[i];
            // Paused, removed or started since: its turn passes to the next.
            let held = matches!(
                slot.policy.verdict,
                Verdict::Held {
                    want: Want::Download,
                    ..
                }
            );
            if !held || slot.state.has_task() {
                continue;
            }
            if want(slot, &slot.line.borrow()) != Want::Download {
                continue;
            }
            self.apply(i, Verdict::Run, Want::Download);
            return true;
        }
        false
    }

    /// A task's check is done, or it ended before: once none checks and none waits, the
    /// burst of an add has settled, and the memory its tasks freed goes back to the system
    /// (glibc keeps it in its arenas otherwise).
    pub(super) fn checks_done(&mut self) {
        let settled = self.slots.iter().all(|s| {
            !s.policy.checking && !matches!(s.policy.verdict, Verdict::CheckQueued { .. })
        });
        self.trim_due |= settled;
    }

    /// Acts on a torrent's verdict: a held download is stopped, a download allowed to run
    /// is started; a seed's new unchokes are held back or let go (its task reads the flag
    /// from its rates: no message, and a task started later finds it already set).
    fn apply(&mut self, i: usize, v: Verdict, want: Want) {
        let slot = &mut self.slots[i];
        if slot.policy.verdict != v {
            slot.policy.verdict = v;
            slot.policy.queue = v.public(&self.opts.queue);
            slot.policy.why = slot.policy.queue.map(|q| q.why());
        }
        slot.policy.seed_slot = want == Want::Seed && v == Verdict::Run;
        // A download under a seed limit is held already: its task ignores the flag until it
        // completes, and then asks for a slot before it unchokes anyone new.
        let seed_may_upload = v.may_upload() && (want == Want::Seed || v == Verdict::Forced);
        slot.rates
            .hold_uploads(self.opts.queue.max_seeds > 0 && !seed_may_upload);
        let stopped = slot.state.parked().is_some();
        let dormant = slot.state.parked().is_some_and(|p| p.dormant);
        // Only a download is stopped by the queue: a seed waiting for a slot keeps its peers
        // and its announces.
        let held_download = matches!(
            v,
            Verdict::Held {
                want: Want::Download,
                ..
            }
        );
        if v.runs() && stopped && !dormant && !slot.state.has_task() {
            self.relaunch(i);
        } else if held_download && dormant {
            self.not_dormant(i);
        } else if held_download && !stopped {
            self.stop(i, false);
        }
    }

    /// Ends the torrent's task (tracker told, resume point saved); its slot stays, parked.
    fn stop(&mut self, i: usize, paused: bool) {
        self.not_dormant(i);
        let slot = &mut self.slots[i];
        let complete = {
            let l = slot.line.borrow();
            matches!(l.state, TorrentState::Seeding | TorrentState::Complete)
                || (l.wanted_bytes > 0 && l.verified_bytes >= l.wanted_bytes)
        };
        let _ = slot.commands.send(Command::Quit);
        slot.policy.slow_since = None;
        slot.state.park(Parked {
            paused,
            complete,
            ..Parked::default()
        });
    }

    fn goal_reached(&mut self, i: usize, r: Reached) {
        let action = self.opts.goal_action;
        let why = r.why(action);
        let slot = &mut self.slots[i];
        slot.span().in_scope(|| tracing::info!("{why}"));
        match action {
            GoalAction::Pause => {
                slot.policy.kept.goal_reached = Some(r.cause());
                self.stop(i, true);
                self.save_policy(i);
            }
            GoalAction::Remove => {
                let (reply, _) = oneshot::channel();
                let id = slot.id;
                self.remove(id, false, reply);
            }
        }
    }

    /// Saves the torrent's resume data with its queue and goal settings now: a parked
    /// torrent sends no resume points of its own.
    pub(super) fn save_policy(&mut self, i: usize) {
        let at = self.slots[i].save_path();
        self.save_policy_at(i, &at);
    }

    /// `save_policy` with its data in `at` (a move has just put it there, and its task's
    /// line may not say so yet).
    pub(super) fn save_policy_at(&mut self, i: usize, at: &std::path::Path) {
        let slot = &self.slots[i];
        if slot.meta.is_none() {
            self.update_saved_magnet(i, None);
            return;
        }
        let (Some(meta), Some(p)) = (&slot.meta, self.persist.as_mut()) else {
            return;
        };
        let point = match (&slot.last, slot.state.parked()) {
            // `clean` says no write came after the point; a task that runs (the one a move
            // or a rename started after the point's task quit) may have written since, and a
            // power cut would then find its files changed under a clean save and hash them
            // all again (issue 58).
            (Some(point), parked) => ResumePoint {
                clean: point.clean && parked.is_some(),
                ..(**point).clone()
            },
            (None, Some(parked)) => {
                let stored = parked.stored.as_deref();
                ResumePoint {
                    have: stored
                        .and_then(|s| s.trusted.clone())
                        .unwrap_or_else(|| Bitfield::new(meta.info.num_pieces())),
                    lifetime: stored.map(|s| s.lifetime).unwrap_or_default(),
                    paused: parked.paused,
                    peers: Vec::new(),
                    clean: false,
                    files: stored.map(|s| s.files.clone()).unwrap_or_default(),
                    rates: slot.rates.own(),
                    durable: None,
                }
            }
            (None, None) => return,
        };
        slot.save_resume_at(p, &point, at);
    }
}
