//! Magnet links that are still fetching their metadata, across a restart: there is no
//! .torrent to save yet, so the torrent's resume data alone keeps it (its link, where it
//! goes, and the `--only-files` still to apply). The arrival of the metadata replaces that
//! with the usual .torrent and resume data (`Report::Metadata`).

use super::*;
use crate::engine::session::persist::SavedMagnet;
use crate::engine::store::Resume;

impl Manager {
    /// Saves the magnet torrent `id` as it was just added (or brought back).
    pub(super) fn save_magnet(
        &mut self,
        id: TorrentId,
        link: &str,
        (paused, files): (bool, &AddFiles),
    ) {
        let Some(slot) = self.slots.iter().find(|s| s.id == id) else {
            return;
        };
        let Some(p) = self.persist.as_mut() else {
            return;
        };
        let name = slot.line.borrow().name.clone();
        let mut r = Resume::new(slot.info_hash, name, slot.save_path.clone(), 0);
        r.added = slot.added;
        r.queue_position = slot.queue_position;
        r.paused = paused;
        r.magnet = Some(link.to_string());
        r.only_files = files.only.as_ref().map(|l| {
            l.iter()
                .map(|i| u32::try_from(*i).unwrap_or(u32::MAX))
                .collect()
        });
        r.sequential = files.sequential;
        if let Err(e) = p.save_magnet(&r) {
            tracing::warn!("{e}");
        }
    }

    /// Starts a magnet the store kept from before its metadata arrived.
    pub(super) fn start_saved_magnet(&mut self, m: SavedMagnet) {
        let magnet = match Magnet::parse(&m.link) {
            Ok(magnet) => magnet,
            Err(e) => {
                tracing::error!("saved magnet link not started: {e}");
                return;
            }
        };
        if self.by_hash.contains_key(&magnet.info_hash) {
            return;
        }
        let id = self.new_slot_id();
        self.launch_magnet(id, magnet, m.save_path, (m.paused, m.files));
        if let Some(slot) = self.slots.iter_mut().find(|s| s.id == id) {
            slot.added = m.added;
            slot.queue_position = m.queue_position;
        }
    }
}
