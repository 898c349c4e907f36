//! Removing a torrent: its task is asked to quit, and once it has ended the slot, its saved
//! state and (if asked) its data go.

use tokio::sync::oneshot;

use super::disk_files::delete_files;
use super::{Manager, Removal};
use crate::engine::api::{Command, RequestError, TorrentId};

impl Manager {
    pub(super) fn remove(
        &mut self,
        id: TorrentId,
        delete_data: bool,
        reply: oneshot::Sender<Result<(), RequestError>>,
    ) {
        let Some(i) = self.slots.index(id) else {
            let _ = reply.send(Err(RequestError::NoTorrent(id)));
            return;
        };
        self.cancel_copy(id);
        let slot = &mut self.slots[i];
        let _ = slot.commands.send(Command::Quit);
        if let Some(now) = slot.state.remove(Removal { delete_data, reply }) {
            self.finish_remove(i, now);
        }
    }

    /// The torrent's task has ended (or it had none): forget it, its saved state and (if
    /// asked) its data.
    pub(super) fn finish_remove(&mut self, i: usize, removal: Removal) {
        let slot = self.slots.remove(i);
        self.session.unroute_dormant(&slot.info_hash);
        self.session.ctx.streams.remove(&slot.info_hash);
        let path = slot.save_path();
        let Removal { delete_data, reply } = removal;
        if let Some(p) = &mut self.persist {
            p.remove(&slot.info_hash);
        }
        self.session.ctx.ledger.forget(&slot.info_hash);
        let mut result = Ok(());
        if delete_data {
            if let Some(meta) = &slot.meta {
                result = delete_files(&path, meta).map_err(|e| RequestError::Disk(e.to_string()));
            }
        }
        let _ = reply.send(result);
        // Its remover waits for a line-up without it (`ttui remove`): published at
        // `publish_at`, as after an add, not at the next tick (up to half a second on).
        self.publish_due = true;
    }
}
