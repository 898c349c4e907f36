//! A torrent's labels changed after it was added (`ttui label`, the RPC's `torrent-set`):
//! kept in its resume data at once. Its directory and goals stay: a label's defaults are
//! for torrents added with it, as in qBittorrent, where changing a category later does not
//! move the files unless asked (`ttui move` does that).

use super::Manager;
use crate::engine::api::{LabelEdit, RequestError, TorrentId};

impl Manager {
    pub(super) fn edit_labels(
        &mut self,
        id: TorrentId,
        edit: &LabelEdit,
    ) -> Result<Vec<String>, RequestError> {
        let i = self.slots.index(id).ok_or(RequestError::NoTorrent(id))?;
        let now = edit.apply(&self.slots[i].policy.kept.labels)?;
        if now != self.slots[i].policy.kept.labels {
            self.slots[i].policy.kept.labels.clone_from(&now);
            self.save_policy(i);
        }
        Ok(now)
    }
}
