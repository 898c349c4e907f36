//! Magnet links that are still fetching their metadata, across a restart: there is no
//! .torrent to save yet, so the torrent's resume data alone keeps it (its link, where it
//! goes, and the `--only-files` still to apply). The arrival of the metadata replaces that
//! with the usual .torrent and resume data (`Report::Metadata`). A pause or a queue move
//! before then rewrites that resume data.

use super::Manager;
use crate::engine::api::{AddFiles, Command, TorrentId};
use crate::engine::session::persist::{KeptBox, SavedMagnet};
use crate::engine::session::store::Resume;
use crate::engine::torrent;
use crate::protocol::magnet::Magnet;

impl Manager {
    /// Saves the magnet torrent `id` as it was just added (or brought back).
    pub(super) fn save_magnet(
        &mut self,
        id: TorrentId,
        link: &str,
        (paused, files): (bool, &AddFiles),
    ) {
        let Some(slot) = self.slots.find(id) else {
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
        r.first_last = files.first_last;
        let kept = &slot.policy.kept;
        r.labels.clone_from(&kept.labels);
        r.target.clone_from(&kept.target);
        r.seed_ratio = kept.goals.ratio;
        r.seed_time_secs = kept.goals.seed_time.map(|d| d.as_secs());
        r.seed_idle_secs = kept.goals.idle.map(|d| d.as_secs());
        r.goals_off = kept.goals.off;
        if let Err(e) = p.save_magnet(&r) {
            tracing::warn!("{e}");
        }
    }

    /// A magnet still fetching its metadata: its kept resume data follows its queue position
    /// and the pause `command` asks for, so a restart brings it back as it was. The saved
    /// state is the one a toggle flips (the task's line shows a pause only once it has the
    /// command). Once the metadata has arrived the torrent's usual saves do this.
    pub(super) fn update_saved_magnet(&mut self, i: usize, command: Option<&Command>) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        if slot.meta.is_some() || slot.state.parked().is_some() {
            return;
        }
        let (hash, position) = (slot.info_hash, slot.queue_position);
        let labels = slot.policy.kept.labels.clone();
        if let Some(p) = self.persist.as_mut() {
            p.update_magnet(&hash, |r| {
                if let Some(paused) = command.and_then(|c| torrent::pause_wanted(c, r.paused)) {
                    r.paused = paused;
                }
                r.queue_position = position;
                r.labels = labels;
            });
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
        if self.slots.id_of(&magnet.info_hash).is_some() {
            return;
        }
        let id = self.new_slot_id();
        self.launch_magnet(id, (magnet, None), m.save_path, (m.paused, m.files));
        if let Some(slot) = self.slots.find_mut(id) {
            slot.added = m.added;
            slot.queue_position = m.queue_position;
            slot.policy.kept = KeptBox::new(m.kept);
        }
    }
}
