//! A slot's own doings: its span, where its files are, its snapshot channel (made when
//! someone subscribes) and the snapshot a subscriber sees before its task sends one, and
//! its resume data saved with the slot's place and settings.

use super::*;

impl Slot {
    /// The span its task logs in (`torrent{id=3 name="debian.iso"}`), entered for the
    /// session's own lines about it, so every line about a torrent names it the same way.
    pub(super) fn span(&self) -> tracing::Span {
        crate::engine::torrent::torrent_span(self.id, &self.line.borrow().name)
    }

    /// Where its files are now (a move changes it once the files are there).
    pub(super) fn save_path(&self) -> PathBuf {
        let line = self.line.borrow();
        if line.save_path.as_os_str().is_empty() {
            self.save_path.clone()
        } else {
            line.save_path.clone()
        }
    }

    /// A receiver of its full snapshots, the channel made now (in its task's cell too, so
    /// the task starts publishing at its next tick) if it has none.
    pub(super) fn subscribe(&mut self, listen_port: u16) -> watch::Receiver<Arc<Snapshot>> {
        let cell = self.snapshots.take().unwrap_or_default();
        let rx = cell
            .get_or_make(|| self.first_snapshot(listen_port))
            .subscribe();
        self.snapshots = Some(cell);
        rx
    }

    /// The cell a task it starts publishes into (already filled if someone subscribed).
    pub(super) fn cell(&mut self) -> Snapshots {
        self.snapshots
            .get_or_insert_with(Snapshots::default)
            .clone()
    }

    /// What a subscriber sees until the task sends its own: what its line says, over the
    /// initial snapshot with the pieces it is known to have (a magnet's cell is always
    /// filled: it starts with its task).
    pub(super) fn first_snapshot(&self, listen_port: u16) -> Snapshot {
        // Its state and name are all it takes from the line: no goals to show.
        let line = Manager::line_of(self, &crate::engine::api::TrackerRules::new());
        let Some(meta) = &self.meta else {
            return Snapshot {
                id: self.id,
                info_hash: self.info_hash,
                output: self.save_path(),
                state: line.state,
                ..Snapshot::empty(line.name, 0, 0)
            };
        };
        let first = snapshot::initial(self.id, meta, &self.save_path(), listen_port);
        let parked = self.state.parked();
        let done = matches!(line.state, TorrentState::Seeding | TorrentState::Complete);
        let complete = done || parked.is_some_and(|p| p.complete);
        let have = (self.last.as_deref().map(|p| &p.have)).or(parked
            .and_then(|p| p.stored.as_ref())
            .and_then(|s| s.trusted.as_ref()));
        let mut shown = dormancy::shown_parked(first, line.state, complete, have);
        // What its trackers said before it slept, not "not contacted".
        if let Some(marks) = &line.trackers {
            shown.trackers = marks.iter().map(TrackerMark::row).collect();
        }
        shown
    }

    /// How long a torrent without a task has moved no payload: since its last activity, or
    /// since the session started when it had none in it (`session_started`, Unix seconds).
    /// A sleeping seed's snapshot says so (`Snapshot::since_upload`), so the explainer
    /// still names why it uploads nothing when nobody woke it to look.
    pub(super) fn idle_for(&self, session_started: u64) -> Duration {
        let last = self.line.borrow().last_activity;
        let since = if last > 0 { last } else { session_started };
        Duration::from_secs(crate::engine::torrent::report::unix_now().saturating_sub(since))
    }

    /// Saves `point` with the slot's place, queue position and goal settings (nothing for a
    /// magnet still without its metadata: `update_saved_magnet` keeps those).
    pub(super) fn save_resume(&self, persist: &mut Persist, point: &ResumePoint) {
        self.save_resume_at(persist, point, &self.save_path());
    }

    pub(super) fn save_resume_at(
        &self,
        persist: &mut Persist,
        point: &ResumePoint,
        at: &std::path::Path,
    ) {
        if let Some(meta) = &self.meta {
            let place = (self.added, self.queue_position);
            persist.save_resume(meta, at, place, point, &self.kept());
        }
    }

    /// What the store should know of it now (`paused` when the session knows better than the
    /// last word of a task that is gone).
    pub(super) fn kept(&self) -> Kept {
        Kept {
            paused: self.state.parked().map(|p| p.paused),
            ..self.policy.kept.clone()
        }
    }
}
