//! Commands for a torrent the session stopped (queued, waiting for its check, paused by a
//! goal, asleep): it has no task to tell, so pause, resume and file priorities change what it
//! will start with.

use std::time::Duration;

use super::*;
use crate::engine::session::goals::{self, Progress};

impl Manager {
    /// Pause, resume and toggle for a torrent the session stopped (it has no task to tell).
    /// A resume by hand clears a reached goal and switches that goal off for the torrent, as
    /// Transmission does, so it seeds on. Returns false when the torrent's task should get
    /// the command.
    pub(super) fn pause_command(&mut self, id: TorrentId, c: &Command) -> bool {
        let Some(i) = self.slots.iter().position(|s| s.id == id) else {
            return true;
        };
        let slot = &mut self.slots[i];
        let dormant = slot.policy.stopped.as_ref().is_some_and(|p| p.dormant);
        if dormant
            && matches!(
                c,
                Command::SetFilePriority { .. } | Command::SetSequential(_)
            )
        {
            // A file wanted again may need downloading: its task decides (woken for it).
            return false;
        }
        if let (Some(parked), Command::SetFilePriority { .. } | Command::SetSequential(_)) =
            (&mut slot.policy.stopped, c)
        {
            // No task to tell: the plan it starts with changes. A file wanted again gets its
            // bytes from the peers: the pieces kept in the parts file are checked at start.
            for plan in
                std::iter::once(&mut parked.files).chain(slot.last.as_mut().map(|p| &mut p.files))
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
                    _ => {}
                }
            }
            self.save_policy(i);
            return true;
        }
        let resume = match (&slot.policy.stopped, c) {
            (Some(p), Command::TogglePause) => p.paused,
            (_, Command::Resume) => true,
            (_, Command::Pause) => false,
            _ => return false,
        };
        if resume {
            if slot.policy.kept.goal_reached.take().is_some() {
                let goals = slot.policy.kept.goals.effective(&self.opts.goals);
                let l = slot.line.borrow();
                let progress = Progress {
                    ratio: l.ratio(),
                    seeded: Duration::from_secs(slot.policy.seeding_base) + slot.policy.seeding_run,
                    idle: Duration::ZERO,
                };
                drop(l);
                if let Some(r) = goals::check(&goals, &progress) {
                    slot.policy.kept.goals.off |= r.kind() as u8;
                }
            }
            if let Some(p) = &mut slot.policy.stopped {
                p.paused = false;
            }
        } else if slot.policy.stopped.is_some() {
            self.not_dormant(i);
            if let Some(p) = &mut self.slots[i].policy.stopped {
                p.paused = true;
            }
        }
        let handled = self.slots[i].policy.stopped.is_some();
        self.save_policy(i);
        self.update_saved_magnet(i, Some(c));
        handled
    }
}
