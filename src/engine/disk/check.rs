//! The resume check: which pieces are already on disk with the right hash (all of them, or
//! the ones a restart's plan names).
//!
//! Built to run at the hashing floor: one reader thread walks the pieces in payload order
//! with large reads (runs of whole pieces, `RUN_BYTES`), so the device sees one sequential
//! stream and always has a read to serve, while `threads` workers hash the runs it filled, so
//! every core hashes even while the disk is busy. (Before, each worker read one piece and then
//! hashed it: its core idled during the read, and neighbouring workers' reads interleaved.)
//! The files are advised sequential (`posix_fadvise`, through rustix, already a dependency
//! for the file layer) so the kernel's readahead runs ahead of the reader.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Mutex};

use std::os::unix::fs::FileExt;

use super::{read_error, segment_bug, DiskError, Storage};
use crate::protocol::metainfo::Info;

/// Bytes one read of the check asks for at most (but always whole pieces, at least one).
/// Large enough that the per-read cost (syscall, page-cache lookup, a worker's wake-up) is
/// lost in the copy, and that two workers never read near each other; small enough that
/// `threads + 2` of them are little memory.
const RUN_BYTES: u64 = 8 << 20;

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
    /// reported missing without reading. The rest are read in order in runs of several pieces
    /// by one reader and hashed by `threads` workers (the module's header says why).
    /// `progress` gets the number of pieces checked so far (skipped ones included, so it ends at
    /// `num_pieces`), after every piece, with increasing values. Setting `cancel` stops the reader
    /// and the workers after their current run and returns `DiskError::Cancelled`.
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
        self.check_in_runs(info, pieces, threads, RUN_BYTES, progress, cancel)
    }

    /// `check_pieces`, reading runs of at most `run_bytes` (tests make them small).
    pub(super) fn check_in_runs(
        &self,
        info: &Info,
        pieces: &[u32],
        threads: usize,
        run_bytes: u64,
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
        // The reader walks the disk in order, whatever order the plan named them in.
        to_check.sort_unstable();
        to_check.dedup();
        let mut solo = Vec::with_capacity(to_check.len());
        for &index in &to_check {
            solo.push(self.touches_absent_file(index)?);
        }
        let total = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
        let skipped = total.saturating_sub(to_check.len() as u32);
        let reporter = Progress::new(progress);
        reporter.report(skipped);
        let mut good = self.hash_pieces(
            info, &to_check, &solo, skipped, &reporter, threads, run_bytes, cancel,
        )?;
        good.sort_unstable();
        good.dedup();
        Ok(good)
    }

    /// Whether piece `index` has bytes of a file that is not on disk (skipped, its bytes in
    /// the parts file).
    fn touches_absent_file(&self, index: u32) -> Result<bool, DiskError> {
        let (start, len) = self.checked_piece(index)?;
        let mut absent = false;
        self.for_each_segment(start, len as usize, |_, file, _, _| {
            absent |= file.absent.load(Ordering::Acquire);
            Ok(())
        })?;
        Ok(absent)
    }

    /// Reads and hashes `to_check` (increasing, no repeats): one reader thread walks the pieces
    /// in order in runs (`runs`), `threads` workers hash the runs it filled. The good ones, in
    /// any order.
    ///
    /// Memory: `threads + 2` buffers of at most `max(run_bytes, piece length)` each, reused
    /// for the whole check: one being filled, one being hashed by each worker, one ready for
    /// the next free worker. With 8 MiB runs that is 32 MiB on 2 cores.
    #[allow(clippy::too_many_arguments)]
    fn hash_pieces(
        &self,
        info: &Info,
        to_check: &[u32],
        solo: &[bool],
        skipped: u32,
        reporter: &Progress<'_>,
        threads: usize,
        run_bytes: u64,
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>, DiskError> {
        if to_check.is_empty() {
            return Ok(Vec::new());
        }
        let runs = self.runs(to_check, solo, run_bytes)?;
        let workers = threads.clamp(1, runs.len());
        let buffers = workers + 2;
        let done = AtomicU32::new(skipped);
        let failed = AtomicBool::new(false);
        // Runs filled by the reader, for the workers. Never full: there are only `buffers`
        // buffers in all, so the reader never blocks on a send.
        let (filled_tx, filled_rx) = mpsc::sync_channel::<Filled>(buffers);
        let filled_rx = Mutex::new(filled_rx);
        // Buffers hashed, back to the reader. The workers hold its senders: once they are all
        // gone (cancelled), the reader's wait for a buffer ends too.
        let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(buffers);
        for _ in 0..buffers {
            // Cannot fail: the receiver is alive and the channel holds exactly `buffers`.
            let _ = free_tx.send(Vec::new());
        }
        let stop = || cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
        let (read, outcomes) = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let free_tx = free_tx.clone();
                    let (filled_rx, done, stop) = (&filled_rx, &done, &stop);
                    scope.spawn(move || {
                        let mut good = Vec::new();
                        loop {
                            // The lock is held only while waiting for the next run, never
                            // while hashing one.
                            let next = match filled_rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => break,
                            };
                            let Ok(filled) = next else { break };
                            if !stop() {
                                for (piece, range, readable) in filled.pieces() {
                                    let bytes = filled.buf.get(range).unwrap_or_default();
                                    if readable && info.piece_matches(piece, bytes) {
                                        good.push(piece);
                                    }
                                    reporter.report(done.fetch_add(1, Ordering::Relaxed) + 1);
                                }
                            }
                            // The reader may have ended: the buffer is then simply dropped.
                            let _ = free_tx.send(filled.buf);
                        }
                        good
                    })
                })
                .collect();
            drop(free_tx);
            let read = self.read_runs(&runs, &free_rx, &filled_tx, &stop);
            if read.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            // The workers end once they have taken every run sent.
            drop(filled_tx);
            let outcomes: Vec<Vec<u32>> = handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect();
            (read, outcomes)
        });
        read?;
        if cancel.load(Ordering::Relaxed) {
            return Err(DiskError::Cancelled);
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// `to_check` cut into runs of consecutive pieces, each one read: at most `run_bytes`
    /// (but at least one piece). A piece flagged in `solo` (it has bytes in the parts file,
    /// which is read a piece at a time) is a run of its own.
    fn runs(&self, to_check: &[u32], solo: &[bool], run_bytes: u64) -> Result<Vec<Run>, DiskError> {
        let mut runs: Vec<Run> = Vec::new();
        let mut last_solo = true;
        for (&index, &alone) in to_check.iter().zip(solo) {
            let (start, len) = self.checked_piece(index)?;
            let len64 = u64::from(len);
            match runs.last_mut() {
                Some(run)
                    if !alone
                        && !last_solo
                        && run.first + run.count == index
                        && run.len + len64 <= run_bytes =>
                {
                    run.count += 1;
                    run.len += len64;
                }
                _ => runs.push(Run {
                    first: index,
                    count: 1,
                    start,
                    len: len64,
                }),
            }
            last_solo = alone;
        }
        Ok(runs)
    }

    /// The reader: fills a free buffer with each run in turn and sends it to the workers,
    /// until the runs end, `stop` says so or a read fails for another reason than a file
    /// being short.
    fn read_runs(
        &self,
        runs: &[Run],
        free: &mpsc::Receiver<Vec<u8>>,
        filled: &mpsc::SyncSender<Filled>,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), DiskError> {
        let mut advised = None;
        // Per file: whether it was in the page cache when the reader reached it (`read_run`).
        let mut cached = vec![None; self.files.len()];
        for run in runs {
            if stop() {
                break;
            }
            let Ok(mut buf) = free.recv() else { break };
            self.advise_sequential(run, &mut advised);
            let len = usize::try_from(run.len).map_err(|_| segment_bug())?;
            buf.resize(len, 0);
            let unreadable = match self.read_run(run, &mut buf, &mut cached) {
                Ok(()) => Vec::new(),
                // One whole read failed: piece by piece, to learn which ones are missing
                // (a file shrunk since `open`, or another program truncated it) and which
                // are not.
                Err(_) => self.read_piecewise(run, &mut buf)?,
            };
            let sent = filled.send(Filled {
                first: run.first,
                count: run.count,
                piece_length: self.geometry.piece_length(),
                unreadable,
                buf,
            });
            if sent.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Reads the whole of `run` into `buf` (already its length), as `read_payload` does, and
    /// leaves the page cache about as the check found it: a file that was not cached when the
    /// check reached it is dropped behind the reader (`POSIX_FADV_DONTNEED` on what was read),
    /// so a 4 GiB check does not push 4 GiB of other programs' (and other torrents') pages
    /// out. A file that was cached stays: a check of data just downloaded or being seeded
    /// leaves it there. Whether it was is what a first `RWF_NOWAIT` read of its first bytes
    /// says (it copies only what is cached and never waits for the device), decided once per
    /// file in `cached` (by file index): later runs would find the check's own readahead.
    /// Cached data costs one read, as before.
    fn read_run(
        &self,
        run: &Run,
        buf: &mut [u8],
        cached: &mut [Option<bool>],
    ) -> Result<(), DiskError> {
        self.for_each_segment(run.start, buf.len(), |i, file, file_offset, range| {
            let run_offset = range.start as u64;
            let dst = buf.get_mut(range).ok_or_else(segment_bug)?;
            if file.padding {
                dst.fill(0);
                return Ok(());
            }
            if self.read_parts(file, run.start + run_offset, dst)? {
                return Ok(());
            }
            self.with_handle(i, file, |handle| {
                let Some(was_cached) = cached.get_mut(i) else {
                    return Err(segment_bug());
                };
                let got = match *was_cached {
                    Some(_) => 0,
                    None => {
                        let got = cached_prefix(handle, dst, file_offset);
                        *was_cached = Some(got == dst.len());
                        got
                    }
                };
                let rest = dst.get_mut(got..).ok_or_else(segment_bug)?;
                if !rest.is_empty() {
                    handle
                        .read_exact_at(rest, file_offset + got as u64)
                        .map_err(|e| {
                            read_error(&file.path, file_offset + got as u64, rest.len(), e)
                        })?;
                }
                if *was_cached == Some(false) {
                    // Advice only: a failure costs cache, not correctness.
                    let _ = rustix::fs::fadvise(
                        handle,
                        file_offset,
                        std::num::NonZeroU64::new(dst.len() as u64),
                        rustix::fs::Advice::DontNeed,
                    );
                }
                Ok(())
            })
        })
    }

    /// Reads `run` into `buf` a piece at a time; the pieces that could not be read because
    /// their file is short. Any other error ends the check.
    fn read_piecewise(&self, run: &Run, buf: &mut [u8]) -> Result<Vec<u32>, DiskError> {
        let mut unreadable = Vec::new();
        let mut at = 0usize;
        for index in run.first..run.first + run.count {
            let (start, len) = self.checked_piece(index)?;
            let end = at + len as usize;
            let dst = buf.get_mut(at..end).ok_or_else(segment_bug)?;
            match self.read_payload(start, dst) {
                Ok(()) => {}
                // A short file, or a bad sector: that piece fails its check, the rest go on.
                Err(e) if e.costs_the_piece() => unreadable.push(index),
                Err(e) => return Err(e),
            }
            at = end;
        }
        Ok(unreadable)
    }

    /// Tells the kernel the files of `run` are read from start to end, once per file (the
    /// check reads files in torrent order, so `advised` is the last file told): on Linux it
    /// doubles the readahead window. Advice only: a failure changes nothing but speed.
    fn advise_sequential(&self, run: &Run, advised: &mut Option<usize>) {
        let _ = self.for_each_segment(run.start, run.len as usize, |i, file, _, _| {
            if file.padding || advised.is_some_and(|a| a >= i) {
                return Ok(());
            }
            *advised = Some(i);
            if file.absent.load(Ordering::Acquire) || file.late.load(Ordering::Acquire) {
                return Ok(());
            }
            self.with_handle(i, file, |handle| {
                let _ = rustix::fs::fadvise(handle, 0, None, rustix::fs::Advice::Sequential);
                Ok(())
            })
        });
    }
}

/// How many bytes from the start of `dst` (file bytes from `at`) the page cache held: read
/// into `dst` without waiting for the device (`preadv2` with `RWF_NOWAIT`, Linux 4.14+). 0
/// when nothing at `at` is cached, or where the flag is not supported (then every read counts
/// as uncached and is dropped behind).
#[cfg(target_os = "linux")]
fn cached_prefix(handle: &std::fs::File, dst: &mut [u8], at: u64) -> usize {
    let mut got = 0;
    while let Some(rest) = dst.get_mut(got..).filter(|r| !r.is_empty()) {
        match rustix::io::preadv2(
            handle,
            &mut [io::IoSliceMut::new(rest)],
            at + got as u64,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

#[cfg(not(target_os = "linux"))]
fn cached_prefix(_: &std::fs::File, _: &mut [u8], _: u64) -> usize {
    0
}

/// Consecutive pieces read with one read.
struct Run {
    first: u32,
    count: u32,
    /// Payload offset of the first piece.
    start: u64,
    /// Bytes of all its pieces.
    len: u64,
}

/// A run read into `buf`, for the hashing workers.
struct Filled {
    first: u32,
    count: u32,
    piece_length: u32,
    /// Pieces of the run that could not be read (their file is short): missing, not hashed.
    unreadable: Vec<u32>,
    buf: Vec<u8>,
}

impl Filled {
    /// Each piece of the run: its index, its bytes in `buf`, whether it was read.
    fn pieces(&self) -> impl Iterator<Item = (u32, std::ops::Range<usize>, bool)> + '_ {
        let plen = self.piece_length as usize;
        (0..self.count).map(move |k| {
            let at = k as usize * plen;
            // Only the torrent's last piece is short, and it ends its run.
            let end = (at + plen).min(self.buf.len());
            let index = self.first + k;
            (index, at..end, !self.unreadable.contains(&index))
        })
    }
}

/// Keeps the reported values increasing even though workers finish pieces in any order. Every
/// piece is told (the callback stores a number): a check held by its disk then shows exactly
/// how far it came, and a lock a piece costs nothing beside hashing it.
struct Progress<'a> {
    last: Mutex<Option<u32>>,
    callback: &'a (dyn Fn(u32) + Sync),
}

impl<'a> Progress<'a> {
    fn new(callback: &'a (dyn Fn(u32) + Sync)) -> Self {
        Progress {
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
            Some(prev) => done > prev,
        };
        if due {
            *last = Some(done);
            (self.callback)(done);
        }
    }
}
