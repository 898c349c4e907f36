//! What a slot is doing: one [`SlotState`], each state owning what only it has (its task's
//! handle, the hold the session put it under, the removal waiting for it). The manager asks it
//! questions and moves it through the transitions below; only this file matches its variants,
//! so a new state changes one file.
//!
//! ```text
//!                  launch_magnet / restart / relaunch (task spawned)
//!                                   │
//!                                   ▼
//!   ┌──────────────────────────► Running ──── task ends on its own ────► Ended
//!   │                               │                                      │
//!   │ relaunch (queue lets it   park (queue holds a download,    park (queue, goal)
//!   │ run, or a wake)           a goal pauses it, it sleeps)               │
//!   │                               ▼                                      │
//!   │                            Parking ──── task ends ────► Parked ◄─────┘
//!   └────────────────────────────────────────────────────────── │ (launch: a torrent
//!                                                                   restored or added)
//!   any state ── remove ──► Removing (with a task) ── task ends ──► gone from the table
//!             └─ remove, no task ───────────────────────────────► gone at once
//!   any state ── restart (verify, move, rename) ──► Running (the old task, carried, is
//!                                                   waited for by the new one)
//! ```
//! A parked slot may be asleep (`Parked::dormant`): a wake relaunches it (`sleep.rs`); one
//! still `Parking` when woken keeps the wake (`Parked::wake`) and relaunches once its task
//! has ended.
//!
//! Invariants it guards:
//! - a slot has a task exactly in `Running`, `Parking` and `Removing`: at most one task, whose
//!   `Ended` report moves it on (reports of tasks a restart replaced are the slot's
//!   `ignore_ended`, not a state);
//! - commands for a task that is ending or gone are held in the hold (`Parked::held`), never
//!   sent to a task that will not read them;
//! - a removal's reply is answered once: when its task has ended, or at once without a task;
//! - the torrent's metadata is not here: once known it outlives every state (a magnet's
//!   arrives while it runs), so it is the slot's.

use tokio::task::JoinHandle;

use super::parked::Parked;
use super::Removal;
use crate::engine::torrent::options::TorrentEnd;

pub(super) enum SlotState {
    /// Its task runs: a magnet fetching its metadata, a check, a download, a seed, or a pause
    /// by hand (a pause keeps the task and its connections).
    Running { task: JoinHandle<TorrentEnd> },
    /// The session stopped it (the queue, a goal, sleep) and its task is ending: commands
    /// wait in the hold for the next task.
    Parking {
        task: JoinHandle<TorrentEnd>,
        parked: Parked,
    },
    /// No task: held back by the session (queued, waiting for its check, paused by a goal,
    /// restored paused), or asleep (`Parked::dormant`).
    Parked(Parked),
    /// Its task ended without the session stopping it (a failure): listed with its last line
    /// until it is removed, restarted or parked by the queue.
    Ended,
    /// Asked to go away while its task runs or ends: once the task has ended, the slot, its
    /// saved state and (if asked) its data go. The hold it was under, if any, still shows on
    /// its line meanwhile.
    Removing {
        task: JoinHandle<TorrentEnd>,
        removal: Removal,
        parked: Option<Parked>,
    },
}

impl SlotState {
    /// A task of this slot runs or is ending.
    pub(super) fn has_task(&self) -> bool {
        matches!(
            self,
            SlotState::Running { .. } | SlotState::Parking { .. } | SlotState::Removing { .. }
        )
    }

    /// Its task runs and the session holds nothing over it (being removed, it still runs
    /// until its task has read the quit).
    pub(super) fn runs(&self) -> bool {
        self.has_task() && self.parked().is_none()
    }

    pub(super) fn is_removing(&self) -> bool {
        matches!(self, SlotState::Removing { .. })
    }

    /// Its task ended without the session stopping it (a failure), and nothing holds it.
    pub(super) fn has_ended(&self) -> bool {
        matches!(self, SlotState::Ended)
    }

    /// The hold the session put it under, with or without a task still ending.
    pub(super) fn parked(&self) -> Option<&Parked> {
        match self {
            SlotState::Parking { parked, .. } | SlotState::Parked(parked) => Some(parked),
            SlotState::Removing { parked, .. } => parked.as_ref(),
            SlotState::Running { .. } | SlotState::Ended => None,
        }
    }

    pub(super) fn parked_mut(&mut self) -> Option<&mut Parked> {
        match self {
            SlotState::Parking { parked, .. } | SlotState::Parked(parked) => Some(parked),
            SlotState::Removing { parked, .. } => parked.as_mut(),
            SlotState::Running { .. } | SlotState::Ended => None,
        }
    }

    /// Puts it under `parked` (replacing any hold it had); a task it has keeps ending.
    pub(super) fn park(&mut self, parked: Parked) {
        *self = match std::mem::replace(self, SlotState::Ended) {
            SlotState::Running { task } | SlotState::Parking { task, .. } => {
                SlotState::Parking { task, parked }
            }
            SlotState::Parked(_) | SlotState::Ended => SlotState::Parked(parked),
            SlotState::Removing { task, removal, .. } => SlotState::Removing {
                task,
                removal,
                parked: Some(parked),
            },
        };
    }

    /// A parked slot without a task gives its hold up to start again: the caller spawns its
    /// task from it and hands the task to [`SlotState::started`] at once. Any other state is
    /// left as it is (None): a task still ending is never replaced.
    pub(super) fn unpark(&mut self) -> Option<Parked> {
        if !matches!(self, SlotState::Parked(_)) {
            return None;
        }
        match std::mem::replace(self, SlotState::Ended) {
            SlotState::Parked(parked) => Some(parked),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Its new task runs (after [`SlotState::unpark`], or a restart's).
    pub(super) fn started(&mut self, task: JoinHandle<TorrentEnd>) {
        debug_assert!(!self.has_task(), "a slot runs one task at a time");
        *self = SlotState::Running { task };
    }

    /// Its task has ended: a running slot has ended, a parking one is parked, a removed one
    /// gives its removal back to be finished.
    pub(super) fn task_ended(&mut self) -> Option<Removal> {
        let (next, removal) = match std::mem::replace(self, SlotState::Ended) {
            SlotState::Running { .. } | SlotState::Ended => (SlotState::Ended, None),
            SlotState::Parking { parked, .. } | SlotState::Parked(parked) => {
                (SlotState::Parked(parked), None)
            }
            SlotState::Removing { removal, .. } => (SlotState::Ended, Some(removal)),
        };
        *self = next;
        removal
    }

    /// Asked to go: with a task, it waits for the task to end (a second removal replaces the
    /// first); without one the removal is given back, to be finished now.
    pub(super) fn remove(&mut self, removal: Removal) -> Option<Removal> {
        let (next, now) = match std::mem::replace(self, SlotState::Ended) {
            SlotState::Running { task } => (
                SlotState::Removing {
                    task,
                    removal,
                    parked: None,
                },
                None,
            ),
            SlotState::Parking { task, parked } => (
                SlotState::Removing {
                    task,
                    removal,
                    parked: Some(parked),
                },
                None,
            ),
            SlotState::Removing { task, parked, .. } => (
                SlotState::Removing {
                    task,
                    removal,
                    parked,
                },
                None,
            ),
            other @ (SlotState::Parked(_) | SlotState::Ended) => (other, Some(removal)),
        };
        *self = next;
        now
    }

    /// For a restart: the task it has (for the next to wait for) and its hold, taken; a
    /// removal waiting goes (its client hears the session dropped it). The caller starts the
    /// next task at once ([`SlotState::started`]).
    pub(super) fn take_for_restart(&mut self) -> (Option<JoinHandle<TorrentEnd>>, Option<Parked>) {
        match std::mem::replace(self, SlotState::Ended) {
            SlotState::Running { task } => (Some(task), None),
            SlotState::Parking { task, parked } => (Some(task), Some(parked)),
            SlotState::Parked(parked) => (None, Some(parked)),
            SlotState::Ended => (None, None),
            SlotState::Removing { task, parked, .. } => (Some(task), parked),
        }
    }
}

#[cfg(test)]
mod tests;
