//! The resume check: which pieces are already on disk with the right hash.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{hash_blocks, DiskError, Storage};
use crate::protocol::metainfo::Info;

impl Storage {
    /// Whether piece `index` has bytes in a file that was created or resized by `open`.
    fn touches_fresh_file(&self, index: u32) -> Result<bool, DiskError> {
        let (start, len) = self.checked_piece(index)?;
        let mut fresh = false;
        self.for_each_segment(start, len as usize, |_, file, _, _| {
            fresh |= file.fresh;
            Ok(())
        })?;
        Ok(fresh)
    }

    /// Resume check: which pieces are already on disk with the right hash.
    ///
    /// Pieces that touch a file which was missing or had the wrong length before `open` are
    /// reported missing without reading. The rest are read and hashed by `threads` workers that
    /// take piece numbers from a shared counter, each reading into its own reused buffer.
    /// `progress` gets the number of pieces checked so far (skipped ones included, so it ends at
    /// `num_pieces`), about every 1%, with increasing values. Setting `cancel` stops the workers
    /// after their current piece and returns `DiskError::Cancelled`.
    pub fn check_existing(
        &self,
        info: &Info,
        threads: usize,
        progress: &(dyn Fn(u32) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<bool>, DiskError> {
        let count = self.geometry.num_pieces();
        if info.pieces.len() != count as usize || info.geometry() != self.geometry {
            return Err(DiskError::Layout(
                "check_existing called with a different torrent than Storage::open".into(),
            ));
        }
        let mut to_check = Vec::new();
        for index in 0..count {
            if !self.touches_fresh_file(index)? {
                to_check.push(index);
            }
        }
        let mut verified = vec![false; count as usize];
        let skipped = count - to_check.len() as u32;
        let reporter = Progress::new(count, progress);
        reporter.report(skipped);
        if to_check.is_empty() {
            return Ok(verified);
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
                                    let expected = info.pieces.get(index as usize);
                                    if expected == Some(&hash_blocks(&[&buf])) {
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
        for outcome in outcomes {
            for index in outcome? {
                if let Some(flag) = verified.get_mut(index as usize) {
                    *flag = true;
                }
            }
        }
        Ok(verified)
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
