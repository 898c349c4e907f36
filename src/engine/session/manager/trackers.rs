//! A torrent's trackers edited (qBittorrent's `addTrackers`, `editTracker`,
//! `removeTrackers`): the edit is applied to the slot's metainfo (what its next task starts
//! with), kept in its resume data (the .torrent stays as it came, web seeds and all), and a
//! running task is told to announce to the new list at once.

use std::sync::Arc;

use super::Manager;
use crate::engine::api::{Command, RequestError, TorrentId, TrackerEdit, TrackerMark};
use crate::engine::session::dormancy::Wake;

impl Manager {
    /// Applies `edit` to the torrent's trackers; the answer is its tiers as they are now.
    pub(super) fn edit_trackers(
        &mut self,
        id: TorrentId,
        edit: &TrackerEdit,
    ) -> Result<Vec<Vec<String>>, RequestError> {
        let i = (self.slots.index(id))
            .filter(|i| !self.slots[*i].state.is_removing())
            .ok_or(RequestError::NoTorrent(id))?;
        let slot = &mut self.slots[i];
        let old = slot.meta.clone().ok_or(RequestError::NoMetadata)?;
        let mut tiers = old.trackers.clone();
        if !edit.apply(&mut tiers)? {
            return Ok(tiers);
        }
        let mut meta = (*old).clone();
        meta.trackers.clone_from(&tiers);
        slot.meta = Some(Arc::new(meta));
        slot.policy.kept.trackers = Some(tiers.clone());
        // Without a task, its line lists the new tiers now (a task's trackers report them).
        if let Some(line) = slot.line.own_mut() {
            line.trackers = TrackerMark::listed(&tiers, line.trackers.as_deref());
        }
        self.dirty = true;
        slot.span()
            .in_scope(|| tracing::info!("trackers edited: {} now", tiers.len()));
        self.save_policy(i);
        // A sleeping torrent wakes to announce to the new list (its task starts with it);
        // a parked one holds the command for its next task, which has the list anyway.
        self.wake_id(id, Wake::Command);
        self.tell(id, Command::SetTrackers(tiers.clone()));
        Ok(tiers)
    }
}
