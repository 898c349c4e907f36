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
                        snap.state = TorrentState::checking(0, total);
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
        let mut pace = Pace::new(u64::from(self.info.piece_length), total);
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
                    let now = checked.load(Ordering::Relaxed);
                    snap.state = pace.state(now, Instant::now());
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

/// How fast a check goes: the pieces checked over the last seconds (`WINDOW`), so the rate
/// follows a check that moves from cached data to the disk, and the time left at that rate.
/// Pieces count as whole: the last piece's shortfall is too small to show.
struct Pace {
    piece_length: u64,
    total: u32,
    /// (when, pieces checked then), oldest first, within `WINDOW` of the newest.
    samples: std::collections::VecDeque<(Instant, u32)>,
}

/// How far back the rate looks: long enough to smooth a slow piece, short enough to follow
/// a change of device.
const WINDOW: Duration = Duration::from_secs(5);

impl Pace {
    fn new(piece_length: u64, total: u32) -> Pace {
        Pace {
            piece_length,
            total,
            samples: std::collections::VecDeque::new(),
        }
    }

    /// The check's state with `checked` pieces done at `now`.
    fn state(&mut self, checked: u32, now: Instant) -> TorrentState {
        self.samples.push_back((now, checked));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
        let (rate, eta) = match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 && c1 > c0 => {
                let secs = t1.duration_since(t0).as_secs_f64();
                let rate = (f64::from(c1 - c0) * self.piece_length as f64 / secs) as u64;
                let left = u64::from(self.total.saturating_sub(checked)) * self.piece_length;
                (rate, Some(left.div_ceil(rate.max(1))))
            }
            _ => (0, None),
        };
        TorrentState::Checking {
            checked,
            total: self.total,
            rate,
            eta,
        }
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
    fn a_checks_pace_is_its_last_seconds() {
        use super::{Pace, TorrentState};
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut pace = Pace::new(1 << 20, 1000);
        // Nothing to go on yet: no rate, no time left.
        assert_eq!(pace.state(0, t0), TorrentState::checking(0, 1000));
        // 100 pieces of 1 MiB a second, 900 left: 9 seconds.
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(
            pace.state(100, at(1)),
            TorrentState::Checking {
                checked: 100,
                total: 1000,
                rate: 100 << 20,
                eta: Some(9),
            }
        );
        // The disk turns slow: 10 seconds later the window holds only the slow part.
        for s in 2..=11 {
            pace.state(100 + 10 * (s as u32 - 1), at(s));
        }
        let TorrentState::Checking { rate, eta, .. } = pace.state(200, at(11)) else {
            panic!("a check");
        };
        assert_eq!(rate, 10 << 20);
        assert_eq!(eta, Some(80));
    }

    #[test]
    fn a_waiting_check_says_what_it_waits_for() {
        assert_eq!(
            super::waiting_words(1),
            "another torrent's check is using the hashing threads"
        );
        assert!(super::waiting_words(3).ends_with("(2 more waiting)"));
    }
}
