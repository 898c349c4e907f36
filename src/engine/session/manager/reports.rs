//! What a torrent's task tells the manager: its metadata (a magnet's), its resume points,
//! and its end, which `report_end` guarantees however the task ends.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::sleep::Asleep;
use super::Manager;
use crate::engine::api::{LogLevel, TorrentId, TorrentState};
use crate::engine::session::queue::Verdict;
use crate::engine::torrent::options::TorrentEnd;
use crate::engine::torrent::report::Report;

impl Manager {
    pub(super) fn on_report(&mut self, id: TorrentId, report: Report) {
        self.dirty = true;
        if matches!(report, Report::Ended(_)) {
            self.tasks_alive = self.tasks_alive.saturating_sub(1);
        }
        let Some(i) = self.slots.index(id) else {
            return;
        };
        match report {
            Report::Metadata(meta, plan) => {
                // A hybrid fetched from its `btmh`-only magnet is named by its SHA-1 from
                // now on, as its .torrent is; the magnet's saved name goes once the new one's
                // resume data is on disk.
                let old = self.slots[i].info_hash;
                let renamed = old != meta.info_hash && self.slots.rename(i, meta.info_hash);
                if old != meta.info_hash && !renamed {
                    // Its .torrent is in the session already: saving this one would write
                    // over the other's resume data.
                    let span = self.slots[i].span();
                    span.in_scope(|| {
                        tracing::warn!(
                            "its metadata names a torrent already in the session: not saved"
                        );
                    });
                    self.slots[i].meta = Some(Arc::new(*meta));
                    return;
                }
                if let Some(p) = &mut self.persist {
                    let bytes = crate::engine::session::persist::torrent_file_of(&meta);
                    if let Err(e) = p.save_torrent(&meta.info_hash, &bytes) {
                        tracing::warn!("saving the metadata of {}: {e}", meta.info.name);
                    }
                }
                let meta_hash = meta.info_hash;
                self.slots[i].meta = Some(Arc::new(*meta));
                // Its `--only-files` saved with it at once: a restart before the torrent's
                // first resume point must not fetch (and create) the skipped files.
                let paused = self.slots[i].line.borrow().state == TorrentState::Paused;
                self.save_now(id, paused, plan);
                if let (true, Some(p)) = (renamed, &mut self.persist) {
                    p.replace_after_save(old, meta_hash);
                }
                // It wants a download slot from now on: weighed soon, not at the next tick,
                // as its task goes on to download at once and a small torrent on a fast
                // swarm would finish in the half second before that (never held in turn).
                self.evaluate_due = true;
            }
            Report::Unrenamed(meta, renamed) => {
                let slot = &mut self.slots[i];
                slot.meta = Some(meta);
                slot.policy.kept.renamed = *renamed;
                slot.policy.kept.renaming = None;
                self.save_policy(i);
            }
            Report::Renamed => {
                self.slots[i].policy.kept.renaming = None;
                self.save_policy(i);
            }
            Report::Resume(mut point) => {
                let slot = &mut self.slots[i];
                if slot.state.is_removing() {
                    return;
                }
                // From a task that a restart (a move, a rename, a verify) replaced: it quit
                // cleanly, but the next task writes to the same files, so a power cut before
                // that one's first save would find them changed under a clean save and hash
                // them all again (issue 58).
                if slot.ignore_ended > 0 {
                    point.clean = false;
                }
                if let Some(p) = self.persist.as_mut() {
                    slot.save_resume(p, &point);
                }
                // Kept without its files: a parked torrent holds no open file.
                point.durable = None;
                slot.last = Some(point);
            }
            Report::Opened => {
                // Its check proved or replaced the files cross-seeding linked: nothing is
                // left to prove at the next start.
                if !self.slots[i].policy.kept.borrowed.is_empty() {
                    self.slots[i].policy.kept.borrowed.clear();
                    self.save_policy(i);
                }
                let slot = &mut self.slots[i];
                // Its line was published just before (`torrent::open`): found complete or not.
                let complete = matches!(
                    slot.line.borrow().state,
                    TorrentState::Seeding | TorrentState::Complete
                );
                let p = &mut slot.policy;
                if std::mem::take(&mut p.checking) {
                    // Only a seed found complete: a download that finishes between two
                    // session ticks must not be taken for one that never had a peer.
                    p.just_checked = complete;
                    // It held a download slot, which it frees by seeding (a seed re-checked
                    // ran in a seed's slot, and frees no download's).
                    let freed = complete && p.verdict == Verdict::Run && !p.seed_slot;
                    // The next waiting for its check starts now, not at the next tick, and
                    // the queue is weighed again soon (once for the checks that end together).
                    // With none waiting, a download found complete hands its download slot
                    // to the next one held, who is not in the check queue yet (a library
                    // added at once waits on exactly that). With neither listed, the torrents
                    // added since the last evaluation wait for the next: at once in a small
                    // library, spaced by its cost in a large one (`EVALUATE_SPACING`), where
                    // weighing at once per check made adding 100,000 quadratic again.
                    self.checks_ended = true;
                    if !self.start_next_check() && freed {
                        self.start_next_held();
                    }
                    self.evaluate_due = true;
                }
            }
            Report::Completed { downloaded } => self.on_completed(i, downloaded),
            Report::Ended(_) if self.slots[i].ignore_ended > 0 => {
                self.slots[i].ignore_ended -= 1;
            }
            Report::Ended(outcome) => {
                let removal = self.slots[i].state.task_ended();
                self.slots[i].line.keep();
                self.slots[i].rates.task_ended();
                self.slots[i].policy.just_checked = false;
                if std::mem::take(&mut self.slots[i].policy.checking) {
                    self.start_next_check();
                    self.checks_ended = true;
                }
                // Its task's channel goes with it.
                self.slots[i].commands = self.no_task.clone();
                if let TorrentEnd::Failed(msg) = &outcome {
                    self.journal(LogLevel::Error, id, &format!("stopped: {msg}"));
                    let span = self.slots[i].span();
                    span.in_scope(|| tracing::warn!("stopped: {msg}"));
                }
                if let Some(removal) = removal {
                    self.finish_remove(i, removal);
                } else {
                    self.fell_asleep(i, Asleep::Now);
                }
                self.evaluate_due = true;
            }
        }
    }
}

/// Runs a torrent's task and tells the manager when it ends, however it ends: an early error
/// (files that cannot be opened), a quit during the check, a panic. Without this report a
/// removal would wait forever for a torrent that failed to start.
pub(super) async fn report_end(
    id: TorrentId,
    reports: mpsc::UnboundedSender<(TorrentId, Report)>,
    run: impl std::future::Future<Output = TorrentEnd>,
) -> TorrentEnd {
    struct Guard {
        id: TorrentId,
        reports: mpsc::UnboundedSender<(TorrentId, Report)>,
        outcome: Option<TorrentEnd>,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            let outcome = self
                .outcome
                .take()
                .unwrap_or_else(|| TorrentEnd::Failed("the torrent's task stopped".into()));
            let _ = self.reports.send((self.id, Report::Ended(outcome)));
        }
    }
    let mut guard = Guard {
        id,
        reports,
        outcome: None,
    };
    let outcome = run.await;
    guard.outcome = Some(outcome.clone());
    outcome
}
