//! Where a slot's task starts: the one place that makes a task's channels (commands in,
//! its line out), spawns its run with its end reported whatever way it ends
//! (`reports::report_end`), and counts it alive. A new magnet (`add.rs`), a parked torrent
//! resumed or woken (`relaunch`, here) and one started again after a move, a rename or a
//! check (`restart.rs`) all start through it, so the queue (`policy.rs`) decides what runs
//! without knowing how a task is made; the manager's modules no longer import in a circle.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::lines::Line;
use super::reports::report_end;
use super::Manager;
use crate::engine::api::{Command, LogLevel, TorrentId, TorrentLine, TorrentState};
use crate::engine::torrent::options::Options;
use crate::engine::torrent::{self, Start, TorrentEnd};

/// The slot's ends of a new task's channels: where commands go, and its line.
pub(super) struct TaskEnds {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) line: Line,
}

/// The task's ends of the same channels, for its `Start` and its run.
pub(super) struct TaskSide {
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) line: watch::Sender<TorrentLine>,
}

impl TaskEnds {
    /// A task's channels, its line starting as `first`.
    pub(super) fn new(first: TorrentLine) -> (TaskEnds, TaskSide) {
        let (line_tx, line_rx) = watch::channel(first);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        (
            TaskEnds {
                commands: cmd_tx,
                line: Line::Task(line_rx),
            },
            TaskSide {
                commands: cmd_rx,
                line: line_tx,
            },
        )
    }
}

impl Manager {
    /// Spawns torrent `id`'s task `run`; its end reaches the manager as a report however it
    /// ends (a panic included), and the session waits for it at shutdown.
    pub(super) fn spawn_task(
        &mut self,
        id: TorrentId,
        run: impl Future<Output = TorrentEnd> + Send + 'static,
    ) -> JoinHandle<TorrentEnd> {
        self.tasks_alive += 1;
        tokio::spawn(report_end(id, self.reports_tx.clone(), run))
    }

    /// Starts a parked torrent again, from its last resume point (or what the store gave).
    pub(super) fn relaunch(&mut self, i: usize) {
        let Some(meta) = self.slots[i].meta.clone() else {
            return;
        };
        let slot = &mut self.slots[i];
        // Only a parked slot without a task: one still ending is never given a second.
        if slot.state.parked().is_none() || slot.state.has_task() {
            return;
        }
        let snapshots = slot.cell();
        let Some(parked) = slot.state.unpark() else {
            return;
        };
        let id = slot.id;
        // Counted until its task says the check is done (or ends): the queue starts only a
        // few such at once.
        slot.policy.checking = parked.checks_first(slot.last.as_deref());
        slot.policy.just_checked = false;
        let stored = parked.stored.map(|s| *s).unwrap_or_default();
        let from_run = stored.trusted.is_none() && slot.last.is_some();
        let (trusted, lifetime, files) = match (&slot.last, stored.trusted) {
            (_, Some(t)) => (Some(t), stored.lifetime, stored.files),
            (Some(p), None) => (Some(p.have.clone()), p.lifetime, p.files.clone()),
            (None, None) => (None, stored.lifetime, stored.files),
        };
        slot.policy.seeding_base = lifetime.seeding_secs;
        slot.policy.seeding_run = Duration::ZERO;
        let mut line = slot.line.borrow().clone();
        line.why = None;
        if parked.complete {
            // Until its task says otherwise: a seed woken to announce (or restored asleep,
            // whose own line was never a task's) must not flicker to `downloading`.
            line.state = TorrentState::Seeding;
        }
        let (ends, side) = TaskEnds::new(line);
        parked.held.replay(&ends.commands);
        let save_path = slot.save_path();
        let start = Start {
            id,
            ctx: self.session.ctx.clone(),
            trusted,
            trusted_from_run: from_run,
            to_check: stored.to_check,
            lifetime,
            paused: false,
            files,
            rates: slot
                .rates
                .for_task(&self.session.ctx.rates, slot.meta.as_deref()),
            super_seeding: slot.policy.kept.super_seeding,
            snapshots,
            line: side.line,
            reports: Some(self.reports_tx.clone()),
            borrowed: (
                slot.policy.kept.borrowed.clone(),
                slot.policy.kept.borrowed_from.clone(),
            ),
        };
        let opts = Options {
            output: save_path,
            seed: true,
            ..self.opts.clone()
        };
        let mut log = self.listen_log.clone();
        log.extend(stored.notes.into_iter().map(|n| (LogLevel::Warn, n)));
        let run = torrent::run(start, log, (*meta).clone(), opts, side.commands);
        let task = self.spawn_task(id, run);
        let slot = &mut self.slots[i];
        slot.state.started(task);
        slot.commands = ends.commands;
        slot.line = ends.line;
    }
}
