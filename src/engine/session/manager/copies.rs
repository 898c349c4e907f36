//! A user's move to another file system, while the torrent keeps running: its files are
//! copied in the background into a hidden folder in the target (`disk_files::stage_files`)
//! as the torrent seeds (or downloads) from where it is, then it switches: its task stops,
//! each copy still the same as its original is renamed into place (a file written since is
//! copied again), and it starts again from the new place with the pieces it had. The old
//! files go only then. qBittorrent and Transmission stop a torrent for the whole copy
//! ("set location" stalls it, and shows no progress); a library moved between disks would
//! stop seeding for hours.
//!
//! One move a device at a time: a copy waits while another copy reads or writes either of
//! its devices, since two at once thrash one disk for both.
//!
//! The journal (`Kept`): a move wanted and not switched yet is `target` with `user_move`
//! and not `moving`; the old place stays the truth, and a restart copies again, keeping what
//! was copied whole (`stage_files`). The switch sets `moving` first, as every move does
//! (`completed.rs`), so a stop during it is finished at the next start.
//!
//! A move within one file system renames at once and does not come here.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::disk_files::{self, CopyProgress, DiskFilesError};
use super::Manager;
use crate::engine::api::{RequestError, TorrentId};
use crate::protocol::metainfo::Metainfo;

/// A move's copy, waiting for its devices or under way.
pub(super) struct Job {
    id: TorrentId,
    from: PathBuf,
    to: PathBuf,
    meta: Arc<Metainfo>,
    progress: Arc<CopyProgress>,
    /// Bytes to copy, as the files were when it was asked.
    total: u64,
    /// The source's and the target's devices: no other copy touches them meanwhile.
    devices: [Option<u64>; 2],
    /// When its copy started; None while it waits.
    started: Option<Instant>,
}

impl Job {
    /// Stops its copy between two reads.
    pub(super) fn stop(&self) {
        self.progress.cancel.store(true, Ordering::Relaxed);
    }
}

/// A copy that ended: the torrent, and how.
pub(super) type Copied = (TorrentId, Result<(), DiskFilesError>);

impl Manager {
    /// Whether a move of slot `i` to `dir` copies in the background: across file systems.
    pub(super) fn copies_in_background(&self, i: usize, dir: &std::path::Path) -> bool {
        disk_files::crosses_devices(&self.slots[i].save_path, dir)
    }

    /// Queues the copy of slot `i` to `dir`, journaled first (the module's header).
    pub(super) fn queue_copy(
        &mut self,
        i: usize,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), RequestError>>,
    ) {
        let id = self.slots[i].id;
        if let Some(job) = self.copies.iter().find(|j| j.id == id) {
            let why = format!("already moving to {}", job.to.display());
            let _ = reply.send(Err(RequestError::Disk(why)));
            return;
        }
        // A disk without the room says so now, before anything is journaled or copied.
        if let Some(meta) = &self.slots[i].meta {
            let need = disk_files::bytes_to_move(&self.slots[i].save_path, meta);
            if let Some(free) = disk_files::free_bytes(&dir).filter(|f| *f < need) {
                let why = format!(
                    "not moved to {}: it has {} free, the torrent's files take {}",
                    dir.display(),
                    crate::fmt::bytes(free),
                    crate::fmt::bytes(need)
                );
                let _ = reply.send(Err(RequestError::Disk(why)));
                return;
            }
        }
        let kept = &mut self.slots[i].policy.kept;
        (kept.target, kept.moving, kept.user_move) = (Some(dir.clone()), false, true);
        if let Err(e) = self.save_journal(i) {
            let kept = &mut self.slots[i].policy.kept;
            (kept.target, kept.user_move) = (None, false);
            let why = format!("not moved to {}: saving its journal: {e}", dir.display());
            let _ = reply.send(Err(RequestError::Disk(why)));
            return;
        }
        // Accepted: the faces answer now, as Transmission's and qBittorrent's set-location do
        // (a copy can take hours; a client's request must not). Its progress, and its failure
        // if it fails, are on the torrent's line from here on.
        let _ = reply.send(Ok(()));
        self.push_copy(i, dir);
    }

    /// A queued job for slot `i` (asked now, or found in its journal at start).
    fn push_copy(&mut self, i: usize, to: PathBuf) {
        let slot = &self.slots[i];
        let Some(meta) = slot.meta.clone() else {
            return;
        };
        let from = slot.save_path.clone();
        let span = slot.span();
        span.in_scope(|| tracing::info!("moving to {}: copying while it runs", to.display()));
        self.copies.push(Job {
            id: slot.id,
            total: disk_files::bytes_to_move(&from, &meta),
            devices: [disk_files::device_of(&from), disk_files::device_of(&to)],
            from,
            to,
            meta,
            progress: Arc::default(),
            started: None,
        });
        self.pump_copies();
        self.show_copies();
    }

    /// Copies the journal asked for before a restart (the module's header).
    pub(super) fn resume_copies(&mut self) {
        let wanted: Vec<(usize, PathBuf)> = (0..self.slots.len())
            .filter_map(|i| {
                let kept = &self.slots[i].policy.kept;
                match (&kept.target, kept.user_move, kept.moving) {
                    (Some(to), true, false) => Some((i, to.clone())),
                    _ => None,
                }
            })
            .collect();
        for (i, to) in wanted {
            self.push_copy(i, to);
        }
    }

    /// Starts every waiting copy whose devices no running copy uses.
    fn pump_copies(&mut self) {
        let busy: Vec<u64> = self
            .copies
            .iter()
            .filter(|j| j.started.is_some())
            .flat_map(|j| j.devices.into_iter().flatten())
            .collect();
        let mut busy = busy;
        for job in self.copies.iter_mut().filter(|j| j.started.is_none()) {
            if job.devices.iter().flatten().any(|d| busy.contains(d)) {
                continue;
            }
            busy.extend(job.devices.into_iter().flatten());
            job.started = Some(Instant::now());
            let (from, to, meta, progress) = (
                job.from.clone(),
                job.to.clone(),
                Arc::clone(&job.meta),
                Arc::clone(&job.progress),
            );
            let (id, done) = (job.id, self.copied_tx.clone());
            tokio::task::spawn_blocking(move || {
                let staged = disk_files::stage_files(&from, &to, &meta, &progress);
                let _ = done.send((id, staged));
            });
        }
    }

    /// A copy ended: the torrent switches to its copy, or stays where it is and says why.
    pub(super) fn on_copied(&mut self, id: TorrentId, staged: Result<(), DiskFilesError>) {
        self.dirty = true;
        let Some(at) = self.copies.iter().position(|j| j.id == id) else {
            return;
        };
        let job = self.copies.swap_remove(at);
        self.pump_copies();
        let Some(i) = self
            .slots
            .index(id)
            .filter(|&i| !self.slots[i].state.is_removing())
        else {
            // Removed meanwhile: its copy is not wanted.
            disk_files::drop_staging(&job.to, &job.meta);
            return;
        };
        self.slots[i].policy.moving_words = None;
        if job.progress.cancel.load(Ordering::Relaxed) {
            return;
        }
        match staged {
            Ok(()) => {
                let span = self.slots[i].span();
                span.in_scope(|| tracing::info!("copied to {}: switching", job.to.display()));
                // The switch is every move's: journaled as `moving`, then renames.
                self.slots[i].policy.kept.moving = true;
                if let Err(e) = self.save_journal(i) {
                    self.slots[i].policy.kept.moving = false;
                    self.copy_failed(i, &job.to, &job.meta, format!("saving its journal: {e}"));
                    return;
                }
                let (to_task, answer) = oneshot::channel();
                let moved = self.moves_tx.clone();
                let to = job.to.clone();
                tokio::spawn(async move {
                    let outcome = answer.await.unwrap_or(Err(RequestError::Stopped));
                    let _ = moved.send((id, to, outcome));
                });
                self.start_move(id, job.to, to_task);
            }
            Err(e) => {
                let why = e.to_string();
                self.copy_failed(i, &job.to, &job.meta, why);
            }
        }
    }

    /// The copy to `to` failed: the torrent stays where it is, its line says why until the
    /// user acts on it, and nothing of the copy is left.
    fn copy_failed(&mut self, i: usize, to: &std::path::Path, meta: &Metainfo, why: String) {
        disk_files::drop_staging(to, meta);
        let slot = &mut self.slots[i];
        let why = format!("not moved to {}: {why}", to.display());
        slot.span().in_scope(|| tracing::warn!("{why}"));
        let kept = &mut slot.policy.kept;
        (kept.target, kept.user_move) = (None, false);
        slot.policy.after_complete = Some(why);
        self.save_policy(i);
    }

    /// A removed torrent's copy stops (its staging folder goes when the copy has ended).
    pub(super) fn cancel_copy(&mut self, id: TorrentId) {
        if let Some(at) = self.copies.iter().position(|j| j.id == id) {
            let job = &self.copies[at];
            job.stop();
            if job.started.is_none() {
                self.copies.swap_remove(at);
            }
        }
    }

    /// Each copy's progress on its torrent's line (called every tick while there are some).
    pub(super) fn show_copies(&mut self) {
        for job in &self.copies {
            let Some(i) = self.slots.index(job.id) else {
                continue;
            };
            let words = copy_words(job, Instant::now());
            let policy = &mut self.slots[i].policy;
            if policy.moving_words.as_deref() != Some(words.as_str()) {
                policy.moving_words = Some(words);
                self.dirty = true;
            }
        }
    }
}

/// What a move's line says while it copies: "to /data: 40% copied (1.2 GiB of 3 GiB), 25s
/// left; runs from where it is until then", or that it waits for its devices.
fn copy_words(job: &Job, now: Instant) -> String {
    let to = job.to.display();
    let Some(started) = job.started else {
        return format!("to {to}: waits for another move on the same disk");
    };
    let copied = job.progress.copied.load(Ordering::Relaxed).min(job.total);
    let pct = copied * 100 / job.total.max(1);
    let mut words = format!(
        "to {to}: {pct}% copied ({} of {})",
        crate::fmt::bytes(copied),
        crate::fmt::bytes(job.total)
    );
    let secs = now.duration_since(started).as_secs_f64();
    if copied > 0 && secs >= 1.0 {
        let rate = copied as f64 / secs;
        let left = (job.total - copied) as f64 / rate;
        words.push_str(&format!(
            ", {} left",
            crate::fmt::duration(std::time::Duration::from_secs_f64(left))
        ));
    }
    words.push_str("; runs from where it is until then");
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(total: u64, copied: u64, started: Option<Instant>) -> Job {
        let meta = crate::protocol::metainfo::Metainfo::from_bytes(
            &crate::protocol::metainfo::encode_torrent(
                "x",
                &[(vec!["a".into()], 1)],
                16384,
                &[[0; 20]],
                &[],
                false,
                None,
            ),
        )
        .expect("a torrent");
        let progress = Arc::new(CopyProgress::default());
        progress.copied.store(copied, Ordering::Relaxed);
        Job {
            id: TorrentId(1),
            from: "/a".into(),
            to: "/b".into(),
            meta: Arc::new(meta),
            progress,
            total,
            devices: [None, None],
            started,
        }
    }

    #[test]
    fn a_copys_words_say_how_far_where_and_how_long() {
        let t0 = Instant::now();
        assert_eq!(
            copy_words(&job(100 << 20, 0, None), t0),
            "to /b: waits for another move on the same disk"
        );
        let j = job(100 << 20, 40 << 20, Some(t0));
        assert_eq!(
            copy_words(&j, t0 + std::time::Duration::from_secs(4)),
            "to /b: 40% copied (40 MiB of 100 MiB), 6s left; runs from where it is until then"
        );
    }
}
