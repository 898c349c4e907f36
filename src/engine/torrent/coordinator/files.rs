//! The torrent's side of file priorities: a change from `ttui files` or the Files tab
//! applied to its plan, its storage (a file wanted again is created and its bytes leave the
//! parts file) and its picker. Apart from `priorities.rs` so the plan does not depend on the
//! coordinator.

use crate::engine::api::{FilePriority, LogLevel};
use crate::engine::peer::link::PeerCmd;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::priorities::check_indices;

impl Coordinator {
    pub(crate) fn set_file_priority(&mut self, files: &[usize], priority: FilePriority) {
        if let Err(e) = check_indices(files, self.plan.priorities.len()) {
            return self.log(LogLevel::Warn, e.to_string());
        }
        let info = std::sync::Arc::clone(&self.shared.info);
        let mut real = info.files.iter().enumerate().filter(|(_, f)| !f.padding);
        let entries: Vec<usize> = (0..self.plan.priorities.len())
            .map(|_| real.next().map(|(e, _)| e).unwrap_or(0))
            .collect();
        // The user chose for themselves since: what `--only-files` missed no longer matters.
        self.plan.note = None;
        for &i in files {
            let was = self.plan.priority(i);
            self.plan.priorities[i] = priority;
            if !was.wanted() && priority.wanted() {
                // A few pieces' bytes at most (its boundary pieces): done in place.
                if let Err(e) = self.shared.storage.want_file(entries[i]) {
                    self.on_disk_error(e);
                }
            }
        }
        let list = files
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.log(LogLevel::Info, format!("files {list}: priority {priority}"));
        self.apply_plan();
    }

    pub(crate) fn set_sequential(&mut self, on: bool) {
        self.plan.sequential = on;
        let word = if on { "in order" } else { "rarest first" };
        self.log(LogLevel::Info, format!("pieces now fetched {word}"));
        self.apply_plan();
    }

    pub(crate) fn set_first_last(&mut self, on: bool) {
        self.plan.first_last = on;
        let word = if on { "before" } else { "with" };
        self.log(
            LogLevel::Info,
            format!("first and last piece of each file now fetched {word} the others"),
        );
        self.apply_plan();
    }

    /// The plan into the picker, the snapshot and the completion state; connections weigh
    /// their interest again.
    fn apply_plan(&mut self) {
        let info = std::sync::Arc::clone(&self.shared.info);
        let done = {
            let mut d = self.shared.download();
            d.picker.set_priorities(self.plan.piece_priorities(&info));
            d.picker
                .set_order(self.plan.sequential, self.plan.boosted_pieces(&info));
            d.picker.is_complete()
        };
        for (row, p) in self.shown.snap.files.iter_mut().zip(&self.plan.priorities) {
            row.priority = *p;
        }
        self.link.resume_due = true;
        if self.run.complete && !done {
            self.run.complete = false;
            self.log(
                LogLevel::Info,
                "downloading again: more files wanted".into(),
            );
        } else if !self.run.complete && done {
            self.on_complete();
            self.tell_completed();
        }
        if !self.run.paused {
            // Resume on a running connection only re-weighs its interest.
            for p in self.peers.active() {
                p.send(PeerCmd::Resume);
            }
        }
    }

    /// What the torrent's line says of its files: the wanted bytes, and `done (2 of 5 files
    /// wanted)` once those are complete; the plan's note (a magnet's `--only-files` past
    /// its last file) before or after it.
    pub(crate) fn wanted_words(&self) -> (u64, Option<String>) {
        let (wanted, all) = self.plan.wanted_count();
        let note = self.plan.note.clone();
        if wanted == all {
            return (self.given.meta.info.total_length, note);
        }
        let bytes = self.plan.wanted_bytes(&self.given.meta.info);
        let done = self
            .run
            .complete
            .then(|| format!("done ({wanted} of {all} files wanted)"));
        let why = match (done, note) {
            (Some(done), Some(note)) => Some(format!("{done}; {note}")),
            (done, note) => done.or(note),
        };
        (bytes, why)
    }
}
