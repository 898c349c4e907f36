//! Removing a torrent: its task is asked to quit, and once it has ended the slot, its saved
//! state and (if asked) its data go.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

use crate::protocol::metainfo::Metainfo;

use super::disk_files::delete_files;
use super::{Manager, Removal};
use crate::engine::api::{Command, RequestError, TorrentId};

impl Manager {
    /// The files of `meta` under `root` that another torrent of the session has at the same
    /// path (two torrents of the same content in one folder): removing one with its data keeps
    /// them. Files shared by cross-seeding are hard links, each torrent's own name, and need
    /// no keeping.
    fn used_by_others(&self, root: &Path, meta: &Metainfo) -> HashSet<PathBuf> {
        let mine: HashSet<PathBuf> = meta
            .info
            .files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| root.join(f.relative_path()))
            .collect();
        let mut keep = HashSet::new();
        for s in self.slots.iter() {
            let Some(other) = s.meta.as_ref().filter(|m| m.info_hash != meta.info_hash) else {
                continue;
            };
            let at = s.save_path();
            for f in other.info.files.iter().filter(|f| !f.padding) {
                let p = at.join(f.relative_path());
                if mine.contains(&p) {
                    keep.insert(p);
                }
            }
        }
        keep
    }

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
                let keep = self.used_by_others(&path, meta);
                if !keep.is_empty() {
                    slot.span().in_scope(|| {
                        tracing::info!(
                            "removed with its data: {} file(s) kept, which other torrents of the \
                             session use in the same place",
                            keep.len()
                        )
                    });
                }
                result =
                    delete_files(&path, meta, &keep).map_err(|e| RequestError::Disk(e.to_string()));
            }
        }
        let _ = reply.send(result);
        // Its remover waits for a line-up without it (`ttui remove`): published at
        // `publish_at`, as after an add, not at the next tick (up to half a second on).
        self.publish_due = true;
    }
}
