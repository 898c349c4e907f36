//! Several contiguous blocks of a piece written in one `pwritev`. A writer holds its blocks
//! as separate 16 KiB buffers (each is a slice of the socket's read buffer, never copied), and
//! one `pwrite` each cost ext4 a system call, its inode lock and a 16 KiB folio per block:
//! 65,536 of each per GiB. Written together, a run takes one call and the page cache gives it
//! larger folios (the kernel sizes a new folio by the length of the write).
//!
//! Only a run inside one file that is on disk (not padding, not in the parts file of a skipped
//! file) takes this path; anything else goes block by block through `write_block`, which
//! splits at file boundaries and knows the parts file and padding.

use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;

use super::{write_error, DiskError, Storage};

impl Storage {
    /// Writes `blocks`, contiguous in piece `index` from `begin`, as one run: one `pwritev`
    /// when they lie in one file on disk, else each through `write_block`. A range outside
    /// the piece is an error, as for `write_block`.
    pub(crate) fn write_run(
        &self,
        index: u32,
        begin: u32,
        blocks: &[&[u8]],
    ) -> Result<(), DiskError> {
        if let [one] = blocks {
            return self.write_block(index, begin, one);
        }
        let total: usize = blocks.iter().map(|b| b.len()).sum();
        // The whole run is checked first: none of it is written if it does not fit.
        let start = self.checked_range(index, begin, total)?;
        super::read_cache::read_cache().forget_piece(self.cache_id, index);
        let end = start + total as u64;
        let i = self.files.partition_point(|f| f.offset + f.length <= start);
        if let Some(file) = self.files.get(i) {
            let inside = file.offset <= start && end <= file.offset + file.length;
            if inside && !file.padding && !file.absent.load(Ordering::Acquire) {
                self.with_handle(i, file, |handle| {
                    write_all_vectored_at(handle, blocks, start - file.offset)
                        .map_err(|e| write_error(&file.path, e))
                })?;
                file.mark_dirty();
                return Ok(());
            }
        }
        let mut at = begin;
        for block in blocks.iter().filter(|b| !b.is_empty()) {
            self.write_block(index, at, block)?;
            // Within the piece: the whole run was checked above.
            at += block.len() as u32;
        }
        Ok(())
    }
}

/// Most iovecs one call takes: a writer's run is 16 blocks, so one call each; a longer list
/// goes in several. Built on the stack, so a write allocates nothing.
const IOV_BATCH: usize = 64;

/// Writes every byte of `bufs`, in order, at `at` in `file`: `pwritev` until all went (a
/// short write goes on from where it stopped).
#[cfg(target_os = "linux")]
pub(super) fn write_all_vectored_at(file: &File, bufs: &[&[u8]], mut at: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let iov = |b: &[u8]| libc::iovec {
        iov_base: b.as_ptr() as *mut libc::c_void,
        iov_len: b.len(),
    };
    // The next byte to write is `bufs[first][skip]`.
    let (mut first, mut skip) = (0, 0);
    while let Some(head) = bufs.get(first) {
        if skip >= head.len() {
            (first, skip) = (first + 1, 0);
            continue;
        }
        let Ok(offset) = libc::off_t::try_from(at) else {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        };
        let mut iovs = [iov(&[]); IOV_BATCH];
        let mut count = 0;
        let rest = std::iter::once(&head[skip..]).chain(bufs[first + 1..].iter().copied());
        for (slot, b) in iovs.iter_mut().zip(rest.filter(|b| !b.is_empty())) {
            *slot = iov(b);
            count += 1;
        }
        // SAFETY: the first `count` iovecs were made from live, non-empty `&[u8]` slices of
        // `bufs` (pointer and length of the slice itself), borrowed for the whole call, and
        // the kernel only reads through them (`pwritev` never writes to the buffers, so the
        // `*mut` cast grants nothing); `count` is at least 1 (the head is not empty) and at
        // most `IOV_BATCH`, within `c_int` and the kernel's limit; the descriptor is
        // `file`'s, open while `file` is borrowed.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                iovs.as_ptr(),
                count as libc::c_int,
                offset,
            )
        };
        let mut left = match usize::try_from(n) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
        };
        at += left as u64;
        // Skip what went; the buffer it stopped in may have gone in part.
        while let Some(b) = bufs.get(first) {
            let avail = b.len() - skip;
            if left < avail {
                skip += left;
                break;
            }
            left -= avail;
            (first, skip) = (first + 1, 0);
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(super) fn write_all_vectored_at(file: &File, bufs: &[&[u8]], mut at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    for b in bufs {
        file.write_all_at(b, at)?;
        at += b.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
