//! The resume check: which pieces are already on disk with the right hash (all of them, or
//! the ones a restart's plan names).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{DiskError, Storage};
use crate::protocol::metainfo::Info;

impl Storage {
    /// Whether piece `index` has bytes in a file that was created or resized by `open`.
    fn touches_fresh_file(&self, index: u32) -> Result<bool, DiskError> {
        let (start, len) = self.checked_piece(index)?;
        let mut fresh = false;
        self.for_each_segment(start, len as usize, |_, file, _, _| {
            fresh |= file.fresh && !file.absent.load(std::sync::atomic::Ordering::Acquire);
            Ok(())
        })?;
        Ok(fresh || self.touches_absent_gap(index)?)
    }

    /// Resume check: which pieces are already on disk with the right hash.
    ///
    /// Pieces that touch a file which was missing or had the wrong length before `open` are
    /// reported missing without reading. The rest are read and hashed by `threads` workers that
    /// take piece numbers from a shared counter, each reading into its own reused buffer.
    /// `progress` gets the number of pieces checked so far (skipped ones included, so it ends at
    /// `num_pieces`), about every 1%, with increasing values. Setting `cancel` stops the workers
    /// after their current piece and returns `DiskError::Cancelled`.
    pub(crate) fn check_existing(
        &self,
        info: &Info,
        threads: usize,
        progress: &(dyn Fn(u32) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<bool>, DiskError> {
        let all: Vec<u32> = (0..self.geometry.num_pieces()).collect();
        let good = self.check_pieces(info, &all, threads, progress, cancel)?;
        let mut verified = vec![false; all.len()];
        for index in good {
            if let Some(flag) = verified.get_mut(index as usize) {
                *flag = true;
            }
        }
        Ok(verified)
    }

    /// The check of a restart (`store::restart::plan`): hashes only `pieces` and returns the
    /// good ones in increasing order. As `check_existing` otherwise: pieces that touch a file
    /// `open` created or resized are missing unread, `progress` counts up to `pieces.len()`,
    /// `cancel` stops it. A piece number outside the torrent is an error.
    pub(crate) fn check_pieces(
        &self,
        info: &Info,
        pieces: &[u32],
        threads: usize,
        progress: &(dyn Fn(u32) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>, DiskError> {
        let count = self.geometry.num_pieces();
        if info.num_pieces() != count || info.geometry() != self.geometry {
            return Err(DiskError::Layout(
                "a piece check called with a different torrent than Storage::open".into(),
            ));
        }
        let mut to_check = Vec::with_capacity(pieces.len());
        for &index in pieces {
            if !self.touches_fresh_file(index)? {
                to_check.push(index);
            }
        }
        let total = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
        let skipped = total.saturating_sub(to_check.len() as u32);
        let reporter = Progress::new(total, progress);
        reporter.report(skipped);
        let mut good = self.hash_pieces(info, &to_check, skipped, &reporter, threads, cancel)?;
        good.sort_unstable();
        good.dedup();
        Ok(good)
    }

    /// Reads and hashes `to_check` on `threads` scoped workers; the good ones, in any order.
    fn hash_pieces(
        &self,
        info: &Info,
        to_check: &[u32],
        skipped: u32,
        reporter: &Progress<'_>,
        threads: usize,
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>, DiskError> {
        if to_check.is_empty() {
            return Ok(Vec::new());
        }
        let next = AtomicUsize::new(0);
        let done = AtomicU32::new(skipped);
        let failed = AtomicBool::new(false);
        let workers = threads.clamp(1, to_check.len());
        let outcomes: Vec<Result<Vec<u32>, DiskError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut buf = Vec::new();
                        let mut good = Vec::new();
                        while !cancel.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
                            let Some(&index) = to_check.get(next.fetch_add(1, Ordering::Relaxed))
                            else {
                                break;
                            };
                            match self.read_piece(index, &mut buf) {
                                Ok(()) => {
                                    if info.piece_matches(index, &buf) {
                                        good.push(index);
                                    }
                                }
                                // A file shrunk since `open` (another program truncated it):
                                // the piece is simply missing.
                                Err(DiskError::Io { source, .. })
                                    if source.kind() == io::ErrorKind::UnexpectedEof => {}
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                            reporter.report(done.fetch_add(1, Ordering::Relaxed) + 1);
                        }
                        Ok(good)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        if cancel.load(Ordering::Relaxed) {
            return Err(DiskError::Cancelled);
        }
        let mut good = Vec::new();
        for outcome in outcomes {
            good.extend(outcome?);
        }
        Ok(good)
    }
}

/// Rate-limits progress calls to about every 1% and keeps the reported values increasing even
/// though workers finish pieces in any order.
struct Progress<'a> {
    step: u32,
    total: u32,
    last: Mutex<Option<u32>>,
    callback: &'a (dyn Fn(u32) + Sync),
}

impl<'a> Progress<'a> {
    fn new(total: u32, callback: &'a (dyn Fn(u32) + Sync)) -> Self {
        Progress {
            step: (total / 100).max(1),
            total,
            last: Mutex::new(None),
            callback,
        }
    }

    fn report(&self, done: u32) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let due = match *last {
            None => true,
            Some(prev) => done > prev && (done - prev >= self.step || done == self.total),
        };
        if due {
            *last = Some(done);
            (self.callback)(done);
        }
    }
}
