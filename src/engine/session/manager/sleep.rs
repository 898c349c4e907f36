//! The manager's side of dormancy (the decisions are in `dormancy.rs`): a quiet torrent put
//! to sleep, its route and announce kept while it sleeps, and woken for a reason.
//!
//! A dormant slot is parked (`Parked::dormant`): no task, its line says seeding with rates
//! 0. Its seeding time keeps counting (`SlotPolicy::seeding_run`), and is folded into its
//! counters when it wakes, or kept at a clean stop in the store's one seeding file
//! (`save_sleepers`).

use std::time::Instant;

use super::parked::Parked;
use super::{Manager, Slot};
use crate::engine::api::{Command, TorrentId, TorrentLine, TorrentState};
use crate::engine::session::dormancy::{self, Facts, Wake};
use crate::engine::session::store::resume::SeedingTime;
use crate::engine::torrent::snapshot::Snapshots;

/// How a slot came to sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asleep {
    /// Its task just ended: its trackers' schedule holds.
    Now,
    /// Restored asleep at the session's start: its trackers' schedule is unknown, and those
    /// it stopped at the last exit no longer list it.
    Restored,
    /// Resumed by hand (`sleep_resumed`): its `started` is owed now, as a task's would be.
    Resumed,
}

impl Manager {
    /// What the dormancy decision needs of a running slot (`announces`: see
    /// `policy::announces`).
    pub(super) fn facts(slot: &Slot, line: &TorrentLine, announces: bool, trackers: bool) -> Facts {
        Facts {
            complete: matches!(line.state, TorrentState::Seeding | TorrentState::Complete),
            paused: line.state == TorrentState::Paused,
            peers: line.peers,
            subscribed: slot.snapshots.as_ref().is_some_and(Snapshots::watched),
            busy: slot.state.is_removing() || slot.ignore_ended > 0 || slot.meta.is_none(),
            announces,
            just_checked: slot.policy.just_checked,
            woke_to_announce: slot.policy.woke_to_announce,
            announce_done: line.next_announce.is_some(),
            tracker_pending: trackers && line.next_announce.is_none(),
        }
    }

    /// Ends a quiet torrent's task: a complete one becomes dormant (its trackers are not told
    /// `stopped`), a paused one is parked paused.
    pub(super) fn sleep(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if !slot.state.runs() {
            return;
        }
        let paused = slot.line.borrow().state == TorrentState::Paused;
        let complete = matches!(
            slot.line.borrow().state,
            TorrentState::Seeding | TorrentState::Complete
        );
        let dormant = complete && !paused;
        let _ = slot.commands.send(if dormant {
            Command::Sleep
        } else {
            Command::Quit
        });
        slot.span().in_scope(|| {
            tracing::info!("quiet, {}", if dormant { "dormant" } else { "parked" });
        });
        slot.policy.quiet_since = None;
        slot.policy.just_checked = false;
        slot.policy.woke_to_announce = false;
        slot.state.park(Parked {
            paused,
            complete,
            dormant,
            ..Parked::default()
        });
    }

    /// The task of a slot put to sleep has ended (or a slot was restored asleep): connections
    /// naming it now wake it, and its next announce is scheduled (when it has anyone to
    /// announce to). A wake asked for while it was ending happens now.
    pub(super) fn fell_asleep(&mut self, i: usize, how: Asleep) {
        let slot = &mut self.slots[i];
        let Some(parked) = slot.state.parked_mut().filter(|p| p.dormant) else {
            return;
        };
        if let Some(why) = parked.wake.take() {
            return self.wake(i, why);
        }
        dormancy::keep_asleep(&mut slot.snapshots);
        self.session.route_dormant(
            slot.info_hash,
            slot.meta.as_ref().and_then(|m| m.hybrid_v2_hash()),
            self.wakes_tx.clone(),
        );
        self.trim_due = true;
        let (trackers, dht) = slot.meta.as_ref().map_or((false, false), |m| {
            (
                self.opts.use_trackers && !m.trackers.is_empty(),
                self.session.ctx.dht.is_some() && !m.info.private,
            )
        });
        let tracker_due = trackers.then(|| slot.line.borrow().next_announce).flatten();
        let now = Instant::now();
        let at = match how {
            // Paced like every due announce: the wakes a tick, within `MAX_ANNOUNCING`.
            Asleep::Resumed => (trackers || dht).then_some(now),
            Asleep::Now | Asleep::Restored => dormancy::wake_for_announce(
                now,
                how == Asleep::Restored,
                &slot.info_hash,
                &self.dormancy,
                trackers.then_some(tracker_due),
                dht,
            ),
        };
        if let Some(at) = at {
            slot.policy.announce_at = Some(at);
            slot.policy.announce_unix = Some(unix_at(at));
            self.announces.push(at, slot.id);
        }
    }

    /// A complete torrent resumed by hand, with nothing to check or tell, goes back to sleep
    /// instead of starting a task, as one restored at the session's start does (`add.rs`):
    /// it is woken for its `started` announce in turn with every other due one (a task of
    /// its own each would announce at the trackers' pace anyway), and a peer or a command
    /// wakes it before. `resume all` at 100,000 torrents otherwise started 100,000 tasks at
    /// once: 5.4 GiB, and every request for the next minute waited behind them (a `remove`
    /// 40 s, a `show` 6 s).
    pub(super) fn sleep_resumed(&mut self, i: usize) {
        if self.dormancy.after.is_zero() {
            return;
        }
        let slot = &mut self.slots[i];
        if slot.meta.is_none() || slot.state.has_task() {
            return;
        }
        let last = slot.last.as_deref();
        let Some(parked) = slot.state.parked_mut() else {
            return;
        };
        if !parked.sleeps_when_resumed(last) {
            return;
        }
        parked.dormant = true;
        self.fell_asleep(i, Asleep::Resumed);
    }

    /// Starts a dormant torrent's task again, from its last resume point, with no check.
    pub(super) fn wake(&mut self, i: usize, why: Wake) {
        let slot = &mut self.slots[i];
        let has_task = slot.state.has_task();
        let Some(parked) = slot.state.parked_mut().filter(|p| p.dormant) else {
            return;
        };
        if has_task {
            // Still falling asleep: woken once its task has ended.
            parked.wake = Some(why);
            return;
        }
        slot.span()
            .in_scope(|| tracing::info!("waking: {}", why.words()));
        slot.policy.announce_at = None;
        slot.policy.announce_unix = None;
        slot.policy.woke_to_announce = why == Wake::Announce;
        // The seeding time it slept through is its own: `relaunch` starts counting afresh
        // from the resume point's counters.
        self.fold_seeding(i);
        self.relaunch(i);
        self.dirty = true;
    }

    /// Puts the seeding time a dormant torrent has slept through into the counters it will
    /// start (or be saved) with.
    fn fold_seeding(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let seeding_secs = slot.policy.seeding_base + slot.policy.seeding_run.as_secs();
        if let Some(parked) = slot.state.parked_mut() {
            // Where `relaunch` takes its counters from: the store's, or the last resume
            // point's (a slot asleep after a run has no stored part to make for it).
            if parked.stored.is_some() || slot.last.is_none() {
                parked.stored_mut().lifetime.seeding_secs = seeding_secs;
            }
        }
        if let Some(last) = &mut slot.last {
            last.lifetime.seeding_secs = seeding_secs;
        }
    }

    /// At exit: the seeding time of every dormant torrent, kept in one file rather than a
    /// resume save each (`resume::SeedingTime`: 60,000 saves took 10 s). Should that file
    /// fail, those that have seeded a second or more since they slept are saved one by one,
    /// as before it (a running torrent's task saves its own).
    pub(super) fn save_sleepers(&mut self) {
        // Seeding time since the last pass counted it.
        let since = self
            .scratch
            .last_tick
            .map(|t| t.elapsed())
            .unwrap_or_default();
        let mut times = Vec::new();
        let mut seeded = Vec::new();
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            let parked = slot.state.parked();
            if parked.is_some_and(|p| p.dormant && !p.paused) {
                slot.policy.seeding_run += since;
            }
            if !slot.state.parked().is_some_and(|p| p.dormant) {
                continue;
            }
            if slot.policy.seeding_run >= std::time::Duration::from_secs(1) {
                self.fold_seeding(i);
                seeded.push(i);
            }
            let slot = &self.slots[i];
            times.push(SeedingTime {
                info_hash: slot.info_hash,
                added: slot.added,
                seeding_secs: slot.policy.seeded().as_secs(),
            });
        }
        let Some(p) = &mut self.persist else {
            return;
        };
        if let Err(e) = p.save_seeding(&times) {
            tracing::warn!("{e}: saving each sleeping torrent's seeding time instead");
            for i in seeded {
                self.save_policy(i);
            }
        }
    }

    /// Sends `command` to the torrent's task. A parked torrent's task, ending (falling asleep,
    /// being paused or queued) or gone, reads no command: it is held for the task that starts
    /// next (`Parked::held`, replayed by `relaunch` and `restart`). A dormant torrent woken
    /// for the command (`wake` just before) is no longer parked, and its new task gets it now.
    pub(super) fn tell(&mut self, id: TorrentId, command: Command) {
        let Some(slot) = self.slots.find_mut(id) else {
            return;
        };
        match slot.state.parked_mut() {
            Some(parked) => parked.held.hold(command),
            None => {
                // A command is someone at work on it: it sleeps only after the whole quiet
                // time, and not before its task has read the command (a pause sent while it
                // fell asleep at once after its announce was lost with the task).
                slot.policy.just_checked = false;
                slot.policy.woke_to_announce = false;
                slot.policy.quiet_since = None;
                let _ = slot.commands.send(command);
            }
        }
    }

    /// `wake` by id, when the torrent is dormant.
    pub(super) fn wake_id(&mut self, id: TorrentId, why: Wake) {
        if let Some(i) = self.slots.index(id) {
            self.wake(i, why);
        }
    }

    /// A connection named a dormant torrent (the router holds it until the task routes).
    pub(super) fn on_wake(&mut self, info_hash: [u8; 20]) {
        if let Some(id) = self.slots.id_of(&info_hash) {
            self.wake_id(id, Wake::Incoming);
        }
    }

    /// Wakes the dormant torrents whose announce is due, a few a tick.
    pub(super) fn wake_due_announces(&mut self) {
        let mut due = std::mem::take(&mut self.due);
        let max = self.announces.wakes_now(&self.dormancy, self.announcing);
        self.announces.due(Instant::now(), max, &mut due);
        for &(at, id) in &due {
            let Some(i) = self.slots.index(id) else {
                continue;
            };
            if self.slots[i].policy.announce_at == Some(at) {
                self.wake(i, Wake::Announce);
                self.announcing += 1;
            }
        }
        self.due = due;
    }

    /// A dormant slot that stops being one (paused, queued, removed) takes its route with it.
    pub(super) fn not_dormant(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(p) = slot.state.parked_mut().filter(|p| p.dormant) {
            p.dormant = false;
            slot.policy.announce_at = None;
            slot.policy.announce_unix = None;
            self.session.unroute_dormant(&slot.info_hash);
        }
    }
}

/// An instant as Unix seconds, for a line.
fn unix_at(at: Instant) -> u64 {
    let now = Instant::now();
    let unix = crate::engine::torrent::report::unix_now();
    match at.checked_duration_since(now) {
        Some(ahead) => unix + ahead.as_secs(),
        None => unix.saturating_sub(now.duration_since(at).as_secs()),
    }
}

/// Hands the memory freed by tasks that went to sleep back to the kernel. glibc keeps freed
/// small blocks in its arenas, so without this a session whose torrents all fell asleep
/// would show the resident size it had while they ran. Called at most once a tick.
pub(super) fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a plain integer, touches only the allocator's own state
    // under its own locks, and is documented safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
