//! A file or folder of a torrent renamed (`torrent-rename-path`, `ttui rename`). The new
//! names are planned over the file list (`api::plan_rename`), taken at once by the slot (so
//! the next request sees them), and the torrent restarts on them (`restart.rs`): the old task
//! ends and closes its files, the one rename(2) is made, and the new task runs with the
//! pieces it had, nothing checked again. A rename that fails on disk is undone
//! (`rename_on_disk.rs`).
//!
//! A power cut must find the files under one name and the torrent knowing which. The order:
//! the resume data with both the old and the new names (`Kept::renaming`) is saved and
//! synced, then the rename(2) is made and its directory synced, then the journal is dropped
//! (`Report::Renamed`); a restart in between takes the names the files are under
//! (`persist::settle_rename`).

use std::sync::Arc;

use tokio::sync::oneshot;

use super::rename_on_disk::OnDisk;
use super::restart::Change;
use super::Manager;
use crate::engine::api::{RenameError, Renaming, RequestError, TorrentId};
use crate::engine::session::manager::plan_rename;
use crate::protocol::metainfo::Metainfo;

impl Manager {
    pub(super) fn rename_path(
        &mut self,
        id: TorrentId,
        (path, name): (&str, &str),
        reply: oneshot::Sender<Result<(), RequestError>>,
    ) {
        let (i, r, old) = match self.plan_rename(id, path, name) {
            Ok(Some(planned)) => planned,
            Ok(None) => {
                let _ = reply.send(Ok(()));
                return;
            }
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let slot = &mut self.slots[i];
        let undo = (Arc::clone(&old), slot.policy.kept.renamed.clone());
        slot.policy.kept.renamed.record(&r);
        // The journal: both names are on disk, synced, before the rename(2), so a power cut
        // on either side of it leaves a restart the names the files are under.
        slot.policy.kept.renaming = Some(undo.1.clone());
        let mut meta = (*old).clone();
        meta.info = r.info;
        slot.meta = Some(Arc::new(meta));
        if let Err(e) = self.save_journal(i) {
            let slot = &mut self.slots[i];
            slot.meta = Some(Arc::clone(&undo.0));
            slot.policy.kept.renamed = undo.1;
            slot.policy.kept.renaming = None;
            let _ = reply.send(Err(RenameError::Disk(format!(
                "saving the journal of the rename: {e}"
            ))
            .into()));
            return;
        }
        let slot = &mut self.slots[i];
        slot.span().in_scope(|| {
            tracing::info!("renamed {} to {}", r.from.display(), r.to.display());
        });
        let on_disk = OnDisk {
            from: r.from,
            to: r.to,
            undo,
            reply,
        };
        self.restart(i, Some(Change::Rename(Box::new(on_disk))));
    }

    /// The slot, the plan and the torrent as it is; `None`: the name is the one it has.
    fn plan_rename(
        &self,
        id: TorrentId,
        path: &str,
        name: &str,
    ) -> Result<Option<(usize, Renaming, Arc<Metainfo>)>, RequestError> {
        let i = self
            .slots
            .iter()
            .position(|s| s.id == id && !s.state.is_removing())
            .ok_or(RequestError::NoTorrent(id))?;
        let slot = &self.slots[i];
        let meta = slot.meta.clone().ok_or(RequestError::NoMetadata)?;
        let Some(r) = plan_rename(&meta.info, path, name)? else {
            return Ok(None);
        };
        // A file of someone else's in the way is never replaced.
        let to = slot.save_path.join(&r.to);
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(RenameError::Exists(to).into());
        }
        Ok(Some((i, r, meta)))
    }
}
