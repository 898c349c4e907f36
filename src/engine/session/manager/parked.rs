//! Commands for a torrent the session stopped (queued, waiting for its check, paused by a
//! goal, asleep): it has no task to tell, so pause, resume and file priorities change what it
//! will start with.

use std::time::Duration;

use super::Manager;
use crate::engine::api::{Command, TorrentId, TorrentState};
use crate::engine::session::goals::{self, Progress};
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::report::{Lifetime, ResumePoint};
use crate::protocol::bitfield::Bitfield;

/// A torrent without a task, and what starting it needs.
#[derive(Default)]
pub(super) struct Parked {
    pub paused: bool,
    /// Every piece verified: it would seed.
    pub complete: bool,
    /// What a torrent never started in this run starts with (from the store, or the add);
    /// one parked in this run has its last resume point instead. Boxed: most parked slots
    /// of a library, those asleep after their first run, have none, and inline it made a
    /// slot 176 bytes larger (`manager::sizes`).
    pub stored: Option<Box<Stored>>,
    /// Asleep (`dormancy.rs`): seeding as far as anyone can tell, woken by a peer, its
    /// announce, a command or a subscriber; the queue does not start it.
    pub dormant: bool,
    /// Woken while its task was still ending: started again once it has.
    pub wake: Option<crate::engine::session::dormancy::Wake>,
    /// Commands that came while its task was ending, for the next task.
    pub held: crate::engine::session::dormancy::Held,
}

/// What a parked torrent not yet started in this run starts with.
#[derive(Default)]
pub(super) struct Stored {
    /// Pieces the store vouches for.
    pub trusted: Option<Bitfield>,
    pub to_check: Vec<u32>,
    pub lifetime: Lifetime,
    pub notes: Vec<String>,
    /// File priorities from the store or the add.
    pub files: FilePlan,
}

impl Parked {
    /// Starting it opens and checks its data (some pieces or all): nothing vouches for them,
    /// neither the store nor a resume point of this run (`last`).
    pub(super) fn checks_first(&self, last: Option<&ResumePoint>) -> bool {
        let (trusted, to_check) = self.stored.as_ref().map_or((false, false), |s| {
            (s.trusted.is_some(), !s.to_check.is_empty())
        });
        to_check || (!trusted && last.is_none())
    }

    /// Resumed (no longer paused), it sleeps at once rather than start a task
    /// (`Manager::sleep_resumed`): complete, with nothing to check (`checks_first`) and no
    /// note its task would tell, and not asleep already.
    pub(super) fn sleeps_when_resumed(&self, last: Option<&ResumePoint>) -> bool {
        let notes = self.stored.as_ref().is_some_and(|s| !s.notes.is_empty());
        !self.paused && !self.dormant && self.complete && !notes && !self.checks_first(last)
    }

    /// What it starts with, made now if it has none: for what must outlive the parking
    /// (a plan changed, seeding time) when there is no resume point of this run to keep it.
    pub(super) fn stored_mut(&mut self) -> &mut Stored {
        self.stored.get_or_insert_with(Box::default)
    }

    /// What a parked torrent's line says it is.
    pub(super) fn state(&self) -> TorrentState {
        match (self.paused, self.complete) {
            (true, _) => TorrentState::Paused,
            (false, true) => TorrentState::Seeding,
            (false, false) => TorrentState::Downloading,
        }
    }
}

impl Manager {
    /// Pause, resume and toggle for a torrent the session stopped (it has no task to tell).
    /// A resume by hand clears a reached goal and switches that goal off for the torrent, as
    /// Transmission does, so it seeds on. Returns false when the torrent's task should get
    /// the command.
    pub(super) fn pause_command(&mut self, id: TorrentId, c: &Command) -> bool {
        let Some(i) = self.slots.index(id) else {
            return true;
        };
        let slot = &mut self.slots[i];
        let dormant = slot.state.parked().is_some_and(|p| p.dormant);
        if dormant
            && matches!(
                c,
                Command::SetFilePriority { .. }
                    | Command::SetSequential(_)
                    | Command::SetFirstLast(_)
            )
        {
            // A file wanted again may need downloading: its task decides (woken for it).
            return false;
        }
        if let (
            Some(parked),
            Command::SetFilePriority { .. } | Command::SetSequential(_) | Command::SetFirstLast(_),
        ) = (slot.state.parked_mut(), c)
        {
            // No task to tell: the plan it starts with changes. A file wanted again gets its
            // bytes from the peers: the pieces kept in the parts file are checked at start.
            // Its stored plan when it has one or nothing else keeps a plan (see `relaunch`).
            let stored = (parked.stored.is_some() || slot.last.is_none())
                .then(|| &mut parked.stored_mut().files);
            for plan in stored
                .into_iter()
                .chain(slot.last.as_mut().map(|p| &mut p.files))
            {
                match c {
                    Command::SetFilePriority { files, priority } => {
                        for &f in files {
                            if let Some(p) = plan.priorities.get_mut(f) {
                                *p = *priority;
                            }
                        }
                    }
                    Command::SetSequential(on) => plan.sequential = *on,
                    Command::SetFirstLast(on) => plan.first_last = *on,
                    _ => {}
                }
            }
            self.save_policy(i);
            return true;
        }
        if slot.state.has_ended() && matches!(c, Command::Resume | Command::TogglePause) {
            // Its task failed (a disk error, say): resumed, it starts again under the queue
            // from the pieces it had, checked first when its last stop was not clean. If the
            // cause is still there it fails again, with the same words.
            let was = match &slot.line.borrow().state {
                TorrentState::Error(why) => why.clone(),
                other => other.label().to_string(),
            };
            slot.span()
                .in_scope(|| tracing::info!("resumed after its task ended: {was}"));
            slot.state.park(Parked::default());
        }
        let resume = match (slot.state.parked(), c) {
            (Some(p), Command::TogglePause) => p.paused,
            (_, Command::Resume) => true,
            (_, Command::Pause) => false,
            _ => return false,
        };
        if resume {
            if slot.policy.kept.goal_reached.take().is_some() {
                let base =
                    goals::base_for(&self.opts.trackers, &self.opts.goals, slot.meta.as_deref());
                let goals = slot.policy.kept.goals.effective(&base);
                let l = slot.line.borrow();
                let progress = Progress {
                    ratio: l.ratio(),
                    seeded: slot.policy.seeded(),
                    idle: Duration::ZERO,
                };
                drop(l);
                if let Some(r) = goals::check(&goals, &progress) {
                    slot.policy.kept.goals.off |= r.kind() as u8;
                }
            }
            if let Some(p) = slot.state.parked_mut() {
                p.paused = false;
            }
            self.sleep_resumed(i);
        } else if slot.state.parked().is_some() {
            self.not_dormant(i);
            if let Some(p) = self.slots[i].state.parked_mut() {
                p.paused = true;
            }
        }
        let handled = self.slots[i].state.parked().is_some();
        self.save_policy(i);
        self.update_saved_magnet(i, Some(c));
        handled
    }
}

#[cfg(test)]
mod tests;
