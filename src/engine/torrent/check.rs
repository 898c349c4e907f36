//! The check of what is on disk when a torrent starts: every piece, or only those the restart
//! plan names, hashed off the async threads while the torrent still takes commands (a quit
//! ends it, pause and resume are kept for after). Checks share the session's hashing threads
//! (`DiskPool::hashing_permit`): one waiting for another says so on its line.

use std::time::Duration;

use super::*;
use crate::engine::disk::pool::DiskPool;
use crate::engine::disk::DiskError;

/// Why a torrent's files could not be opened or checked at its start; the torrent then ends
/// in the error state, its line saying this.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FilesError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The blocking task that opened or hashed them panicked or was cancelled.
    #[error("{what}: {source}")]
    Lost {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// A check of what is on disk: every piece, or `only` these.
pub(super) struct Check<'a> {
    pub(super) storage: &'a Arc<Storage>,
    pub(super) info: &'a Arc<crate::protocol::metainfo::Info>,
    pub(super) pool: &'a DiskPool,
    pub(super) threads: usize,
    pub(super) only: Option<&'a [u32]>,
}

impl Check<'_> {
    /// Hashes while commands are still taken: a quit ends it (`Ok(None)`), pause and resume
    /// are remembered for when it ends.
    pub(super) async fn run(
        self,
        snap: &mut Snapshot,
        snapshots: &Snapshots,
        line: &watch::Sender<TorrentLine>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        early: &mut Early,
        started: Instant,
    ) -> Result<Option<(Bitfield, Duration)>, FilesError> {
        let checked = Arc::new(AtomicU32::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let n = self.info.num_pieces();
        let total = self.only.map_or(n, |o| o.len() as u32);
        let threads = self.pool.hashing_threads(self.threads);
        let mut tick = tokio::time::interval(TICK);
        let asked = Instant::now();
        let permit = {
            let wait = self.pool.hashing_permit(threads);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    p = &mut wait => break p,
                    c = commands.recv() => match c {
                        None | Some(Command::Quit) => return Ok(None),
                        Some(c) => early.take(c),
                    },
                    _ = tick.tick() => {
                        let why = waiting_words(self.pool.checks_waiting());
                        snap.state = TorrentState::Checking { checked: 0, total };
                        snap.elapsed = started.elapsed();
                        line.send_modify(|l| {
                            l.state = snap.state.clone();
                            l.why = Some(why.clone());
                        });
                        if snapshots.watched() {
                            snapshots.send_if_made(|| snap.clone());
                        }
                    }
                }
            }
        };
        line.send_modify(|l| l.why = None);
        let waited = asked.elapsed();
        let check = {
            let (storage, info, checked, cancel) = (
                Arc::clone(self.storage),
                Arc::clone(self.info),
                Arc::clone(&checked),
                Arc::clone(&cancel),
            );
            let only = self.only.map(<[u32]>::to_vec);
            tokio::task::spawn_blocking(move || {
                // Held by the threads' owner: the budget is free again only when they end,
                // even if this task was told to quit meanwhile.
                let _permit = permit;
                let progress = |c| checked.store(c, Ordering::Relaxed);
                match only {
                    None => storage
                        .check_existing(&info, threads, &progress, &cancel)
                        .map(|v| Bitfield::from_bools(&v)),
                    Some(pieces) => storage
                        .check_pieces(&info, &pieces, threads, &progress, &cancel)
                        .map(|good| {
                            let mut have = Bitfield::new(n);
                            for i in good {
                                have.set(i);
                            }
                            have
                        }),
                }
            })
        };
        tokio::pin!(check);
        loop {
            tokio::select! {
                r = &mut check => return match r {
                    Ok(Ok(have)) => Ok(Some((have, waited))),
                    Ok(Err(e)) => Err(e.into()),
                    Err(source) => Err(FilesError::Lost { what: "checking files", source }),
                },
                c = commands.recv() => match c {
                    None | Some(Command::Quit) => {
                        cancel.store(true, Ordering::Relaxed);
                        return Ok(None);
                    }
                    // Kept for when the check ends: there are no peers or trackers yet.
                    Some(c) => early.take(c),
                },
                _ = tick.tick() => {
                    snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total };
                    snap.elapsed = started.elapsed();
                    line.send_modify(|l| l.state = snap.state.clone());
                    if snapshots.watched() {
                        snapshots.send_if_made(|| snap.clone());
                    }
                }
            }
        }
    }
}

/// The line's `why` for a check waiting for the session's hashing threads (its state says
/// `checking`); `waiting` counts it too.
fn waiting_words(waiting: usize) -> String {
    match waiting.saturating_sub(1) {
        0 => "another torrent's check is using the hashing threads".into(),
        n => format!("another torrent's check is using the hashing threads ({n} more waiting)"),
    }
}

/// Commands kept from the check at most (one user's clicks while a torrent is checked).
const MAX_EARLY: usize = 64;

/// What the user asked while the files were checked: whether the torrent is to be paused,
/// and the other commands (peers to add, trackers, file priorities...), kept for the
/// running torrent, which reads them before its first turn (`Coordinator::keep_early`).
#[derive(Debug, Default)]
pub(super) struct Early {
    pub(super) paused: bool,
    pub(super) commands: Vec<Command>,
}

impl Early {
    fn take(&mut self, c: Command) {
        match pause_wanted(&c, self.paused) {
            Some(paused) => self.paused = paused,
            None if self.commands.len() < MAX_EARLY => self.commands.push(c),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_waiting_check_says_what_it_waits_for() {
        assert_eq!(
            super::waiting_words(1),
            "another torrent's check is using the hashing threads"
        );
        assert!(super::waiting_words(3).ends_with("(2 more waiting)"));
    }
}
