//! A torrent completed. Downloaded in the incomplete directory, it moves to its save path
//! first (the session's move, `restart.rs`, keeping its verified pieces), with a journal in
//! its resume data (`moving`) written before the first file moves, so a restart meanwhile
//! finishes the move (`persist::finish_move`); then the session runs its `on_complete`
//! command (`session/on_complete.rs`) with the directory the data is in.
//!
//! What fails on the way (the move, or the command: a non-zero exit, killed over its time
//! limit, unable to start) shows on the torrent's line, `on_complete failed: exit 3`, until
//! the torrent completes again or the user resumes or verifies it; it is not kept across a
//! restart of the session (the log keeps it).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::Manager;
use crate::engine::api::{Command, LogLevel, RequestError, TorrentId, TorrentState};
use crate::engine::session::on_complete::{Facts, ScriptError};
use crate::engine::session::store::StoreError;

impl Manager {
    /// Its task says it has just completed.
    pub(super) fn on_completed(&mut self, i: usize, downloaded: u64) {
        let slot = &mut self.slots[i];
        if slot.state.is_removing() {
            return;
        }
        slot.policy.after_complete = None;
        let id = slot.id;
        self.journal(LogLevel::Info, id, "download completed");
        let slot = &mut self.slots[i];
        let Some(target) = slot.policy.kept.target.clone() else {
            self.run_on_complete(i, downloaded);
            return;
        };
        if slot.save_path() == target {
            slot.policy.kept.target = None;
            self.save_policy(i);
            self.run_on_complete(i, downloaded);
            return;
        }
        // The journal first: once a file has moved, a restart must know where the rest goes.
        self.slots[i].policy.kept.moving = true;
        if let Err(e) = self.save_journal(i) {
            let slot = &mut self.slots[i];
            slot.policy.kept.moving = false;
            let why = format!("not moved to {}: {e}", target.display());
            slot.span().in_scope(|| tracing::warn!("{why}"));
            slot.policy.after_complete = Some(why);
            self.run_on_complete(i, downloaded);
            return;
        }
        self.slots[i].policy.run_after_move = Some(downloaded);
        let (reply, answer) = oneshot::channel();
        let moved = self.moves_tx.clone();
        let to = target.clone();
        tokio::spawn(async move {
            let outcome = answer.await.unwrap_or(Err(RequestError::Stopped));
            let _ = moved.send((id, to, outcome));
        });
        let span = self.slots[i].span();
        span.in_scope(|| tracing::info!("complete: moving to {}", target.display()));
        self.start_move(id, target, reply);
    }

    /// A move asked for by a user (`ttui move`, set location). To another file system it
    /// copies in the background while the torrent runs (`copies.rs`). Within one, it is
    /// journaled as the move out of
    /// the incomplete directory is: the resume data names the old place with the new one as
    /// its target (`moving`), synced, before the first file moves, and names the new place
    /// only once the move is done and its directories synced (`on_moved`). A power cut in
    /// between leaves a journal that the restart finishes (`persist::finish_move`), so the
    /// torrent is found where its data is and trusts its pieces there, never re-downloading
    /// beside the files it left in the other place.
    pub(super) fn user_move(
        &mut self,
        id: TorrentId,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), RequestError>>,
    ) {
        let moves = |i: &usize| self.slots[*i].meta.is_some() && self.slots[*i].save_path != dir;
        let Some(i) = self.slots.index(id).filter(moves) else {
            // Nothing moves (no such torrent, no metadata, the same place): `start_move`
            // answers.
            self.start_move(id, dir, reply);
            return;
        };
        if self.copies_in_background(i, &dir) {
            self.queue_copy(i, dir, reply);
            return;
        }
        let kept = &mut self.slots[i].policy.kept;
        (kept.target, kept.moving, kept.user_move) = (Some(dir.clone()), true, true);
        if let Err(e) = self.save_journal(i) {
            let kept = &mut self.slots[i].policy.kept;
            (kept.target, kept.moving, kept.user_move) = (None, false, false);
            let why = format!("not moved to {}: saving its journal: {e}", dir.display());
            let _ = reply.send(Err(RequestError::Disk(why)));
            return;
        }
        let (to_task, answer) = oneshot::channel();
        let moved = self.moves_tx.clone();
        let to = dir.clone();
        tokio::spawn(async move {
            let outcome = answer.await.unwrap_or(Err(RequestError::Stopped));
            let _ = reply.send(outcome.clone());
            let _ = moved.send((id, to, outcome));
        });
        self.start_move(id, dir, to_task);
    }

    /// Saves the torrent's resume data now, synced, and says whether it could.
    pub(super) fn save_journal(&mut self, i: usize) -> Result<(), Arc<StoreError>> {
        self.save_policy(i);
        match self.persist.as_mut() {
            None => Ok(()),
            Some(p) => {
                p.flush();
                p.error().map_or(Ok(()), Err)
            }
        }
    }

    /// The move out of the incomplete directory ended: the journal is closed, and its
    /// `on_complete` runs where the data is.
    pub(super) fn on_moved(
        &mut self,
        id: TorrentId,
        target: PathBuf,
        outcome: Result<(), RequestError>,
    ) {
        self.dirty = true;
        let Some(i) = self.slots.index(id) else {
            return;
        };
        let slot = &mut self.slots[i];
        (slot.policy.kept.moving, slot.policy.kept.user_move) = (false, false);
        let at = match outcome {
            Ok(()) => {
                slot.policy.kept.target = None;
                slot.save_path.clone_from(&target);
                target
            }
            Err(e) => {
                // Still whole where it was (a failed move puts back what it moved).
                let why = format!("not moved to {}: {e}", target.display());
                slot.span().in_scope(|| tracing::warn!("{why}"));
                if slot.policy.run_after_move.is_some() {
                    slot.policy.after_complete = Some(why);
                } else {
                    // A user's move: the user was told; nothing is left to move later.
                    slot.policy.kept.target = None;
                }
                slot.save_path.clone()
            }
        };
        self.save_policy_at(i, &at);
        if let Some(downloaded) = self.slots[i].policy.run_after_move.take() {
            self.run_on_complete_in(i, downloaded, at);
        }
    }

    /// Runs `on_complete` for the torrent, in the directory its data is in now.
    pub(super) fn run_on_complete(&mut self, i: usize, downloaded: u64) {
        let dir = self.slots[i].save_path();
        self.run_on_complete_in(i, downloaded, dir);
    }

    fn run_on_complete_in(&mut self, i: usize, downloaded: u64, dir: PathBuf) {
        let slot = &self.slots[i];
        let Some(meta) = &slot.meta else {
            return;
        };
        if self.scripts.program().is_none() {
            return;
        }
        let facts = Facts {
            id: slot.id,
            name: meta.info.name.clone(),
            info_hash: slot.info_hash,
            dir,
            labels: slot.policy.kept.labels.clone(),
            downloaded,
            trackers: meta.trackers.iter().flatten().cloned().collect(),
        };
        self.scripts.start(facts, slot.span());
    }

    /// A run ended: a failure goes on the torrent's line.
    pub(super) fn on_script_done(&mut self, id: TorrentId, outcome: Result<(), ScriptError>) {
        self.dirty = true;
        if let Some(slot) = self.slots.find_mut(id) {
            if let Err(e) = outcome {
                slot.policy.after_complete = Some(format!("on_complete failed: {e}"));
            }
        }
    }

    /// The user resumed or verified the torrent: what failed is no longer news.
    pub(super) fn forget_after_complete(&mut self, id: TorrentId, c: Option<&Command>) {
        let Some(slot) = self.slots.find_mut(id) else {
            return;
        };
        let paused = slot.state.parked().is_some_and(|p| p.paused)
            || slot.line.borrow().state == TorrentState::Paused;
        let resumed = c.is_none_or(|c| crate::engine::api::pause_wanted(c, paused) == Some(false));
        if resumed {
            slot.policy.after_complete = None;
        }
    }
}
