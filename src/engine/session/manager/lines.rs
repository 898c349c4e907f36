//! The line of each torrent as the session shows it: its task's line, with the queue's and
//! the goals' words over it, and a parked torrent's state and reason (held by the queue,
//! waiting for its check, paused by a goal) in place of a task's.

use std::sync::Arc;

use tokio::sync::watch;

use super::parked::Parked;
use super::{policy, Manager, Slot};
use crate::engine::api::{QueueState, TorrentLine, TorrentState};
use crate::engine::session::queue::Verdict;

/// A slot's line: the one its task writes, or, with no task, the slot's own copy. A watch
/// channel costs some 400 bytes beyond the line (its notifiers) and nothing writes it once the
/// task has ended, while most slots of a large library have no task (asleep or waiting).
pub(super) enum Line {
    Task(watch::Receiver<TorrentLine>),
    /// Once published, a parked slot's copy is the published line itself (`share`): a
    /// library of 100,000 sleeping torrents would otherwise hold every line twice (about
    /// 50 MB).
    Own(Arc<TorrentLine>),
}
/// A borrowed [`Line`]: the watch's read guard, or the slot's copy.
pub(super) enum LineRef<'a> {
    Task(watch::Ref<'a, TorrentLine>),
    Own(&'a TorrentLine),
}

impl std::ops::Deref for LineRef<'_> {
    type Target = TorrentLine;
    fn deref(&self) -> &TorrentLine {
        match self {
            LineRef::Task(r) => r,
            LineRef::Own(l) => l,
        }
    }
}

impl Line {
    pub(super) fn borrow(&self) -> LineRef<'_> {
        match self {
            Line::Task(rx) => LineRef::Task(rx.borrow()),
            Line::Own(l) => LineRef::Own(l),
        }
    }

    /// The slot's own line to change, when no task writes it.
    pub(super) fn own_mut(&mut self) -> Option<&mut TorrentLine> {
        match self {
            Line::Own(l) => Some(Arc::make_mut(l)),
            Line::Task(_) => None,
        }
    }

    /// Its task has ended: the last line it wrote becomes the slot's own.
    pub(super) fn keep(&mut self) {
        if let Line::Task(rx) = self {
            let last = rx.borrow().clone();
            *self = Line::Own(Arc::new(last));
        }
    }
}

impl Slot {
    /// Takes the line just published for this slot as its own copy, when that copy only
    /// stands in for a task's. Only a parked slot's, with no task: `line_of` then takes
    /// every field the queue, the goals or the park decide from the slot, not from the
    /// copy, so `line_of` of the published line is that line again. A running slot's `why`
    /// is the task's first, and an ended one's state is its error: their copies stay theirs.
    pub(super) fn share(&mut self, published: &Arc<TorrentLine>) {
        if self.state.has_task() || self.state.parked().is_none() {
            return;
        }
        if let Line::Own(own) = &mut self.line {
            if !Arc::ptr_eq(own, published) {
                *own = Arc::clone(published);
            }
        }
    }
}

/// Its piece count (0 for a magnet still without its metadata).
fn pieces_of(slot: &Slot) -> u32 {
    slot.meta.as_ref().map_or(0, |m| m.info.num_pieces())
}

impl policy::SlotPolicy {
    /// What a parked torrent's line says it is: waiting for its check, it is checking (none
    /// of its `pieces` yet).
    fn parked_state(&self, parked: &Parked, pieces: u32) -> TorrentState {
        match self.verdict {
            Verdict::CheckQueued { .. } if !parked.paused => TorrentState::checking(
                0,
                match parked.stored.as_ref().map_or(0, |s| s.to_check.len()) {
                    0 => pieces,
                    n => n as u32,
                },
            ),
            _ => parked.state(),
        }
    }

    /// Why a parked torrent does not run: the goal that paused it, else the queue's words;
    /// a failed `on_complete` over either (it is news until the user acts on it).
    fn parked_why(&self, parked: &Parked) -> Option<&String> {
        if let Some(moving) = &self.moving_words {
            return Some(moving);
        }
        if let Some(failed) = &self.after_complete {
            return Some(failed);
        }
        if parked.paused {
            self.kept.goal_reached.as_ref()
        } else {
            self.why.as_ref()
        }
    }

    /// Whether a seeding goal is what holds the torrent: it paused it, and no failure after
    /// completing (a move that failed) speaks over it, as `parked_why` shows.
    fn goal_holds(&self, parked: Option<&Parked>) -> bool {
        parked.is_some_and(|p| p.paused)
            && self.after_complete.is_none()
            && self.kept.goal_reached.is_some()
    }

    /// The queue's word on the torrent as its line shows it: none while a goal paused it.
    fn queue_shown(&self, parked: Option<&Parked>) -> Option<QueueState> {
        match parked {
            Some(parked) if parked.paused => None,
            _ => self.queue,
        }
    }

    /// A running torrent's words: its task's own (an error, a move), else a failed
    /// `on_complete`, else the queue's.
    fn running_why<'a>(&'a self, task: Option<&'a String>) -> Option<&'a String> {
        (self.moving_words.as_ref())
            .or(task)
            .or(self.after_complete.as_ref())
            .or(self.why.as_ref())
    }

    /// Its data moves: it switches to a new place (`moving`, journaled), or copies there in
    /// the background meanwhile (a user's move not yet switched, `copies.rs`).
    fn moving_shown(&self) -> bool {
        self.kept.moving || (self.kept.user_move && self.kept.target.is_some())
    }
}

impl Manager {
    /// Whether a torrent fetches in order: as its task published it (`task`), or while it
    /// is parked, as the plan the next task starts with says (`parked.rs`).
    fn sequential_of(slot: &Slot, task: bool) -> bool {
        Self::parked_plan(slot).map_or(task, |files| files.sequential)
    }

    /// Whether the first and last pieces come first, read as `sequential_of`.
    fn first_last_of(slot: &Slot, task: bool) -> bool {
        Self::parked_plan(slot).map_or(task, |files| files.first_last)
    }

    /// The plan a parked torrent's next task starts with; None while a task runs.
    fn parked_plan(slot: &Slot) -> Option<&crate::engine::torrent::priorities::FilePlan> {
        let parked = slot.state.parked()?;
        let stored = parked.stored.as_ref().map(|s| &s.files);
        stored.or(slot.last.as_deref().map(|p| &p.files))
    }

    /// The line as the session shows it: the queue's and the goals' words over the task's.
    pub(super) fn line_of(slot: &Slot, rules: &crate::engine::api::TrackerRules) -> TorrentLine {
        let mut l = slot.line.borrow().clone();
        l.queue_position = slot.queue_position;
        let p = &slot.policy;
        l.labels.clone_from(&p.kept.labels);
        l.final_dir.clone_from(&p.kept.target);
        l.moving = p.moving_shown();
        l.queue = p.queue_shown(slot.state.parked());
        l.super_seeding = p.kept.super_seeding;
        l.sequential = Self::sequential_of(slot, l.sequential);
        l.goal_reached = p.goal_holds(slot.state.parked());
        l.first_last = Self::first_last_of(slot, l.first_last);
        l.own = Self::own_settings(slot, rules).into();
        l.seeding = p.seed_clock;
        if let Some(parked) = slot.state.parked() {
            (l.down_rate, l.up_rate, l.peers, l.seeds) = (0.0, 0.0, 0, 0);
            (l.peers_interested, l.availability) = (0, None);
            l.state = p.parked_state(parked, pieces_of(slot));
            l.why = p.parked_why(parked).cloned();
            l.next_announce = p.announce_unix;
        } else {
            l.why = p.running_why(l.why.as_ref()).cloned();
        }
        l
    }

    /// `line_of(slot) == *shown`, without building the line: the tick asks it of every
    /// torrent, and an idle session must not clone thousands of lines to learn nothing
    /// changed. Destructuring names every field, so a new one must be compared here.
    pub(super) fn line_is(
        slot: &Slot,
        shown: &TorrentLine,
        rules: &crate::engine::api::TrackerRules,
    ) -> bool {
        let task = slot.line.borrow();
        let p = &slot.policy;
        let (state, why, rates, peers, next_announce, availability) = match slot.state.parked() {
            Some(parked) => (
                p.parked_state(parked, pieces_of(slot)),
                p.parked_why(parked),
                (0.0, 0.0),
                (0, 0, 0),
                p.announce_unix,
                None,
            ),
            None => (
                task.state.clone(),
                p.running_why(task.why.as_ref()),
                (task.down_rate, task.up_rate),
                (task.peers, task.seeds, task.peers_interested),
                task.next_announce,
                task.availability,
            ),
        };
        let TorrentLine {
            id,
            info_hash,
            info_hash_v2,
            name,
            state: _,
            why: _,
            total_bytes,
            wanted_bytes,
            verified_bytes,
            downloaded,
            uploaded,
            down_rate: _,
            up_rate: _,
            peers: _,
            seeds: _,
            peers_interested: _,
            next_announce: _,
            save_path,
            added,
            completed,
            queue_position: _,
            labels: _,
            final_dir: _,
            queue: _,
            blocked,
            super_seeding: _,
            sequential,
            goal_reached: _,
            first_last,
            own: _,
            seeding: _,
            // Set by the publication, never by the task.
            rev: _,
            trackers,
            availability: _,
            last_activity,
            private,
            seen_complete,
            // The session's, never the task's.
            moving: _,
        } = &*task;
        shown.state == state
            && shown.why.as_ref() == why
            && (shown.down_rate, shown.up_rate) == rates
            && (shown.peers, shown.seeds, shown.peers_interested) == peers
            && shown.next_announce == next_announce
            && shown.queue_position == slot.queue_position
            && shown.labels == p.kept.labels
            && shown.final_dir == p.kept.target
            && shown.moving == p.moving_shown()
            && shown.queue == p.queue_shown(slot.state.parked())
            && shown.id == *id
            && shown.info_hash == *info_hash
            && shown.info_hash_v2 == *info_hash_v2
            && shown.name == *name
            && shown.total_bytes == *total_bytes
            && shown.wanted_bytes == *wanted_bytes
            && shown.verified_bytes == *verified_bytes
            && shown.downloaded == *downloaded
            && shown.uploaded == *uploaded
            && shown.save_path == *save_path
            && shown.added == *added
            && shown.completed == *completed
            && shown.blocked == *blocked
            && shown.super_seeding == p.kept.super_seeding
            && shown.sequential == Self::sequential_of(slot, *sequential)
            && shown.goal_reached == p.goal_holds(slot.state.parked())
            && shown.first_last == Self::first_last_of(slot, *first_last)
            && *shown.own == Self::own_settings(slot, rules)
            && shown.seeding == p.seed_clock
            && shown.trackers == *trackers
            && shown.availability == availability
            && shown.last_activity == *last_activity
            && shown.private == *private
            && shown.seen_complete == *seen_complete
    }
}
