//! Reads that never wait for the device: served from the page cache or not at all. A seeder
//! reads its blocks on the connection's own thread this way and skips the hop to a blocking
//! thread and back, which cost more CPU than the copies (measured: context switches were 40 %
//! of ttui's seeding profile). Linux ≥ 4.14 with glibc has `preadv2(RWF_NOWAIT)`; elsewhere,
//! or when the kernel or file system declines, every read is "not cached" and the caller
//! takes the blocking path (`Storage::read_block`), which also reports any real error.

use std::fs::File;
use std::sync::atomic::Ordering;

use super::read_cache::{read_cache, UNIT_MAX};
use super::{DiskError, Storage};

impl Storage {
    /// The unit of the read cache that holds block `begin..begin + len` of piece `index`, and
    /// where the block starts in it: (run, unit begin, unit length, offset). None for a block
    /// that crosses a run (no peer asks that; read directly) or lies outside the piece.
    fn unit_of(&self, index: u32, begin: u32, len: usize) -> Option<(u32, u32, u32, usize)> {
        let piece_len = self.piece_len(index)?;
        let run = begin / UNIT_MAX;
        let start = run * UNIT_MAX;
        let unit_len = (piece_len - start.min(piece_len)).min(UNIT_MAX);
        let at = (begin - start) as usize;
        (at + len <= unit_len as usize).then_some((run, start, unit_len, at))
    }

    /// Copies block `begin..begin + buf.len()` of piece `index` from the session's read cache
    /// when it holds it: true. Never waits for the device.
    pub(crate) fn read_block_held(&self, index: u32, begin: u32, buf: &mut [u8]) -> bool {
        self.unit_of(index, begin, buf.len())
            .is_some_and(|(run, _, _, at)| read_cache().copy((self.cache_id, index, run), at, buf))
    }

    /// Reads block `begin..begin + buf.len()` of piece `index` for a peer, through the read
    /// cache: its whole unit (the piece, or a run of a large one) is read in one call and kept
    /// for the blocks that follow; a unit another thread reads is waited for. Falls back to
    /// reading the block alone (which reports any error) when the unit cannot be had. May wait
    /// for the device: blocking threads only.
    pub(crate) fn read_block_through_cache(
        &self,
        index: u32,
        begin: u32,
        buf: &mut [u8],
    ) -> Result<(), DiskError> {
        if let Some((run, start, unit_len, at)) = self.unit_of(index, begin, buf.len()) {
            let load = || {
                let mut unit = vec![0; unit_len as usize];
                let at = self.block_start(index, start, unit.len()).ok()?;
                self.read_unit(at, &mut unit).ok().map(|()| unit)
            };
            let got =
                read_cache().get_or_load((self.cache_id, index, run), unit_len as usize, load);
            if let Some(src) = got.as_deref().and_then(|u| u.get(at..at + buf.len())) {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        self.read_block(index, begin, buf)
    }

    /// Reads payload bytes `start..start + buf.len()` (a unit of the read cache) with the
    /// kernel's readahead off for the files it touches: the unit is all the seeder wants from
    /// there, and readahead beyond it is read for nothing when memory is short (evicted before
    /// a peer asks for it). The advice stays on the descriptor, which suits seeding; the check
    /// sets its own (sequential) when it runs.
    fn read_unit(&self, start: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.read_payload_advised(start, buf, Some(rustix::fs::Advice::Random))
    }

    /// Reads block `begin..begin + buf.len()` of piece `index` into `buf` when every byte of it
    /// is in the page cache: true. False when some byte would wait for the device, sits in the
    /// parts file of a skipped file or in a file not open now, or the read failed: `buf` then
    /// holds nothing usable and the caller reads the block with `read_block` on a blocking
    /// thread, which reports any real error. Err only for a block outside the torrent.
    pub(crate) fn read_block_cached(
        &self,
        index: u32,
        begin: u32,
        buf: &mut [u8],
    ) -> Result<bool, DiskError> {
        let start = self.block_start(index, begin, buf.len())?;
        let mut cached = true;
        self.for_each_segment(start, buf.len(), |i, file, file_offset, range| {
            if !cached {
                return Ok(());
            }
            let Some(dst) = buf.get_mut(range) else {
                cached = false;
                return Ok(());
            };
            if file.padding {
                dst.fill(0);
            } else if file.absent.load(Ordering::Acquire) {
                cached = false;
            } else {
                // A file not open now is opened on the blocking path: an open may wait too.
                cached = match self.handles.get_open(i) {
                    Ok(Some(h)) => read_nowait(&h, dst, file_offset),
                    Ok(None) | Err(_) => false,
                };
            }
            Ok(())
        })?;
        Ok(cached)
    }
}

/// Fills `dst` from `file` at `at` if the page cache holds every byte; false otherwise (not
/// cached, past the end of the file, or any error: the blocking read sorts those out).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn read_nowait(file: &File, mut dst: &mut [u8], mut at: u64) -> bool {
    use std::os::fd::AsRawFd;
    while !dst.is_empty() {
        let Ok(offset) = libc::off_t::try_from(at) else {
            return false;
        };
        let iov = libc::iovec {
            iov_base: dst.as_mut_ptr().cast(),
            iov_len: dst.len(),
        };
        // SAFETY: `iov` describes `dst`, a live buffer of `iov_len` bytes borrowed mutably for
        // the whole call, so the kernel writes only memory we own exclusively; the descriptor
        // is `file`'s, open for as long as the borrow of `file` lasts; `iov` is one valid
        // iovec and we pass a count of 1.
        let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
        // -1 is EAGAIN (not all cached), EOPNOTSUPP or ENOSYS (no RWF_NOWAIT here), EINTR...;
        // 0 is the end of the file. The blocking read handles each of them.
        let Ok(n) = usize::try_from(n) else {
            return false;
        };
        if n == 0 || n > dst.len() {
            return false;
        }
        let rest = dst;
        dst = &mut rest[n..];
        at += n as u64;
    }
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn read_nowait(_file: &File, _dst: &mut [u8], _at: u64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::read_nowait;

    #[test]
    fn a_cached_read_fills_the_buffer_or_declines_past_the_end() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let mut buf = vec![0u8; 16_384];
        let cached = read_nowait(&f, &mut buf, 1000);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            // Just written, so in the page cache.
            assert!(cached);
            assert_eq!(buf, data[1000..1000 + 16_384]);
        } else {
            assert!(!cached, "no RWF_NOWAIT: every read goes the blocking way");
        }
        // Past the end, or running over it: the blocking read reports the short file.
        assert!(!read_nowait(&f, &mut buf, 40_000));
        assert!(!read_nowait(&f, &mut buf, 30_000));
    }
}
