//! A torrent completed: the session runs its `on_complete` command
//! (`session/on_complete.rs`). A run that failed (a non-zero exit, killed over its time
//! limit, or unable to start) shows on the torrent's line, `on_complete failed: exit 3`,
//! until the torrent completes again or the user resumes or verifies it; it is not kept
//! across a restart of the session (the log keeps it).

use super::*;
use crate::engine::session::on_complete::{Facts, ScriptError};

impl Manager {
    /// Its task says it has just completed.
    pub(super) fn on_completed(&mut self, i: usize, downloaded: u64) {
        let slot = &mut self.slots[i];
        slot.policy.script_failed = None;
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
            dir: slot.save_path(),
            labels: slot.policy.kept.labels.clone(),
            downloaded,
            trackers: meta.trackers.iter().flatten().cloned().collect(),
        };
        self.scripts.start(facts, slot.span());
    }

    /// A run ended: a failure goes on the torrent's line.
    pub(super) fn on_script_done(&mut self, id: TorrentId, outcome: Result<(), ScriptError>) {
        self.dirty = true;
        if let Some(slot) = self.slots.iter_mut().find(|s| s.id == id) {
            slot.policy.script_failed = outcome.err().map(|e| format!("on_complete failed: {e}"));
        }
    }

    /// The user resumed or verified the torrent: a failed run is no longer news.
    pub(super) fn forget_script_failure(&mut self, id: TorrentId, c: Option<&Command>) {
        let Some(slot) = self.slots.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let paused = slot.policy.stopped.as_ref().is_some_and(|p| p.paused)
            || slot.line.borrow().state == TorrentState::Paused;
        let resumed = c.is_none_or(|c| crate::engine::api::pause_wanted(c, paused) == Some(false));
        if resumed {
            slot.policy.script_failed = None;
        }
    }
}
