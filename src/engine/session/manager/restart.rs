//! A torrent started again on a new task: a verify (a full check of its files), a move (its
//! files to another directory, then the pieces it had) or a rename (one file or folder, then
//! the pieces it had). The old task ends first, so it lets go of the files and the router
//! before anything is moved and the new one opens them.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::disk_files::move_files;
use super::launch::TaskEnds;
use super::parked::Parked;
use super::state::SlotState;
use super::{Manager, Slot, SHUTDOWN_GRACE};
use crate::engine::api::{Command, LogLevel, RequestError, TorrentId, TorrentLine, TorrentState};
use crate::engine::torrent;
use crate::engine::torrent::options::{Options, TorrentEnd};
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::report::{Lifetime, Report};
use crate::engine::torrent::snapshot::Snapshots;
use crate::engine::torrent::start::SessionCtx;
use crate::engine::torrent::{snapshot, Start};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Metainfo;

impl Manager {
    /// Stops the torrent and starts it again with a full check of its files.
    pub(super) fn verify(&mut self, id: TorrentId) {
        if let Some(i) = self.slots.index(id) {
            self.restart(i, None);
        }
    }

    /// Points the torrent at `dir` without moving anything, and checks every piece there (the
    /// data is the user's to put there; what is missing is downloaded again).
    pub(super) fn locate(&mut self, id: TorrentId, dir: PathBuf) -> Result<(), RequestError> {
        let i = self.slots.index(id).ok_or(RequestError::NoTorrent(id))?;
        if self.slots[i].meta.is_none() {
            return Err(RequestError::NoMetadata);
        }
        if self.slots[i].save_path != dir {
            let span = self.slots[i].span();
            span.in_scope(|| tracing::info!("its data is now looked for in {}", dir.display()));
            self.slots[i].save_path = dir;
            self.restart(i, None);
        }
        Ok(())
    }

    /// Stops the torrent, moves its files to `dir` (a rename when it can, else a copy), and
    /// starts it again from there with the pieces it had. On any failure what was copied is
    /// removed, the old files stay where they were and the torrent starts there again.
    pub(super) fn start_move(
        &mut self,
        id: TorrentId,
        dir: PathBuf,
        reply: oneshot::Sender<Result<(), RequestError>>,
    ) {
        let Some(i) = self.slots.index(id) else {
            let _ = reply.send(Err(RequestError::NoTorrent(id)));
            return;
        };
        if self.slots[i].meta.is_none() {
            let _ = reply.send(Err(RequestError::NoMetadata));
            return;
        }
        if self.slots[i].save_path == dir {
            let _ = reply.send(Ok(()));
            return;
        }
        self.restart(i, Some(Change::Move(dir, reply)));
    }

    /// Ends the slot's task and starts a new one on the same torrent: a full check (verify),
    /// or after moving or renaming its files.
    pub(super) fn restart(&mut self, i: usize, change: Option<Change>) {
        let Some(meta) = self.slots[i].meta.clone() else {
            return;
        };
        let mut old = self.slots.remove(i);
        let _ = old.commands.send(Command::Quit);
        let target = match &change {
            Some(Change::Move(d, _)) => Some(d.clone()),
            _ => None,
        };
        let mut line = Self::line_of(&old, &self.opts.trackers);
        // A move is its phase (`moving`, `final_dir`), not words.
        line.why = None;
        line.name.clone_from(&meta.info.name);
        // The old task (waited for by the new one) and the hold it was under; a removal
        // waiting is dropped with it.
        let (old_task, parked) = old.state.take_for_restart();
        // The old task's `Ended` report arrives for a slot that has moved on.
        let ignore_ended = old.ignore_ended + u32::from(old_task.is_some());
        let carried = self.carry(
            &mut old,
            (old_task, parked.as_ref()),
            meta,
            &line,
            change.is_some(),
        );
        let (ends, side) = TaskEnds::new(line);
        if let Some(parked) = parked {
            parked.held.replay(&ends.commands);
        }
        let run = run_again(carried, change, side.line, side.commands);
        let task = self.spawn_task(old.id, run);
        let new_path = target.unwrap_or_else(|| old.save_path.clone());
        let next = successor(old, new_path, ends, (task, ignore_ended));
        self.slots.insert(i, next);
    }

    /// What the new task takes over from `old` (its task and snapshot sender among them) and
    /// from the session.
    fn carry(
        &self,
        old: &mut Slot,
        (task, parked): (Option<JoinHandle<TorrentEnd>>, Option<&Parked>),
        meta: Arc<Metainfo>,
        line: &TorrentLine,
        keep_pieces: bool,
    ) -> Carried {
        let point = old.last.as_deref();
        Carried {
            id: old.id,
            meta,
            task,
            old_path: old.save_path.clone(),
            // A move or a rename keeps the verified pieces (a parked torrent's stored ones
            // when it has sent no point); a verify starts from nothing.
            trusted: match point {
                Some(p) => Some(p.have.clone()),
                None => parked
                    .and_then(|p| p.stored.as_ref())
                    .and_then(|s| s.trusted.clone()),
            }
            .filter(|_| keep_pieces),
            lifetime: point.map_or(lifetime_of(line), |p| p.lifetime),
            paused: matches!(line.state, TorrentState::Paused),
            files: point.map(|p| p.files.clone()).unwrap_or_default(),
            rates: old
                .rates
                .for_task(&self.session.ctx.rates, old.meta.as_deref()),
            super_seeding: old.policy.kept.super_seeding,
            snapshots: old.cell(),
            ctx: self.ctx(),
            listen_log: self.listen_log.clone(),
            opts: self.opts.clone(),
            reports: self.reports_tx.clone(),
        }
    }
}

/// What is done to the files between the old task and the new one.
pub(super) enum Change {
    /// To this directory; the client is told how it went.
    Move(PathBuf, oneshot::Sender<Result<(), RequestError>>),
    Rename(Box<super::rename_on_disk::OnDisk>),
}

/// Everything a restarted torrent's task needs, owned, so the task outlives the request.
struct Carried {
    id: TorrentId,
    meta: Arc<Metainfo>,
    /// The old task, waited for: it lets go of the files and the router first.
    task: Option<JoinHandle<TorrentEnd>>,
    old_path: PathBuf,
    trusted: Option<Bitfield>,
    lifetime: Lifetime,
    paused: bool,
    files: FilePlan,
    rates: crate::engine::peer::rate::TorrentRates,
    super_seeding: bool,
    snapshots: Snapshots,
    ctx: SessionCtx,
    listen_log: Vec<(LogLevel, String)>,
    opts: Options,
    reports: mpsc::UnboundedSender<(TorrentId, Report)>,
}

/// The new task: waits for the old one to end, moves or renames the files if asked, then
/// runs the torrent where its files are.
async fn run_again(
    c: Carried,
    change: Option<Change>,
    line_tx: watch::Sender<TorrentLine>,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
) -> TorrentEnd {
    if let Some(t) = c.task {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, t).await;
    }
    let mut output = c.old_path.clone();
    let mut trusted = c.trusted;
    let mut meta = c.meta;
    match change {
        Some(Change::Move(dir, reply)) => {
            if move_off_thread(&c.old_path, &dir, &meta, reply).await {
                output = dir;
            } else {
                // Still at the old place: check it, the copy may have touched nothing,
                // but the pieces are cheap to trust only when nothing moved.
                trusted = None;
            }
        }
        Some(Change::Rename(r)) => {
            if let Some(old) = r.rename(&output, c.id, &c.reports).await {
                // Nothing was renamed: the files keep their names, and so does the torrent.
                meta = old;
            }
        }
        None => {}
    }
    line_tx.send_modify(|l| {
        l.why = None;
        l.save_path.clone_from(&output);
    });
    // Its subscribers see it start again (here, after a move); nobody else wants it.
    c.snapshots
        .send_if_made(|| snapshot::initial(c.id, &meta, &output, c.ctx.listen_port));
    let start = Start {
        id: c.id,
        ctx: c.ctx,
        trusted,
        trusted_from_run: false,
        to_check: Vec::new(),
        lifetime: c.lifetime,
        paused: c.paused,
        files: c.files,
        rates: c.rates,
        super_seeding: c.super_seeding,
        snapshots: c.snapshots,
        line: line_tx,
        reports: Some(c.reports),
        borrowed: Default::default(),
    };
    let opts = Options {
        output,
        seed: true,
        ..c.opts
    };
    torrent::run(start, c.listen_log, (*meta).clone(), opts, cmd_rx).await
}

/// The slot that replaces `old`: the same torrent, place in the list and policy (no longer
/// parked: it has a task again), with the new task's channels.
fn successor(
    old: Slot,
    save_path: PathBuf,
    ends: TaskEnds,
    (task, ignore_ended): (JoinHandle<TorrentEnd>, u32),
) -> Slot {
    Slot {
        id: old.id,
        info_hash: old.info_hash,
        save_path,
        added: old.added,
        queue_position: old.queue_position,
        commands: ends.commands,
        snapshots: old.snapshots,
        line: ends.line,
        state: SlotState::Running { task },
        meta: old.meta,
        last: old.last,
        ignore_ended,
        policy: old.policy,
        rates: old.rates,
    }
}

/// Counters for a torrent that never saved a resume point: what its line last showed.
fn lifetime_of(line: &TorrentLine) -> Lifetime {
    Lifetime {
        downloaded: line.downloaded,
        uploaded: line.uploaded,
        completed: line.completed,
        last_activity: line.last_activity,
        ..Lifetime::default()
    }
}

/// [`move_files`] off the async threads, the client told how it went; true when it worked.
async fn move_off_thread(
    from: &std::path::Path,
    to: &std::path::Path,
    meta: &Arc<Metainfo>,
    reply: oneshot::Sender<Result<(), RequestError>>,
) -> bool {
    let (from, to, m) = (from.to_path_buf(), to.to_path_buf(), Arc::clone(meta));
    let moved = tokio::task::spawn_blocking(move || move_files(&from, &to, &m))
        .await
        .map_err(|e| RequestError::Disk(format!("moving: {e}")))
        .and_then(|r| r.map_err(|e| RequestError::Disk(e.to_string())));
    let ok = moved.is_ok();
    let _ = reply.send(moved);
    ok
}
