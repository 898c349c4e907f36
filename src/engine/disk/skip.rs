//! Skipped files that are not on disk: their bytes in pieces shared with wanted files live
//! in the parts file (`parts.rs`) until the file is wanted, when `want_file` creates it and
//! moves them into place.
//!
//! Lock rule: a file leaves the absent state only under the parts lock, and every access to
//! an absent file's bytes checks the flag again under that lock, so no write lands in the
//! parts file after its bytes were moved out.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use super::layout::{open_file, prepare_file_path};
use super::parts::Parts;
use super::{io_error, storage_error, DiskError, Storage, StoredFile};

/// True when nothing (not even a dangling link) is at `root/relative`.
pub(super) fn fs_missing(root: &Path, relative: &Path) -> bool {
    matches!(std::fs::symlink_metadata(root.join(relative)), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

impl Storage {
    pub(super) fn lock_parts(&self) -> MutexGuard<'_, Parts> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Piece and offset inside it of payload byte `at`.
    fn piece_of(&self, at: u64) -> (u32, u32) {
        let plen = u64::from(self.geometry.piece_length().max(1));
        ((at / plen) as u32, (at % plen) as u32)
    }

    /// Writes `data` (payload bytes from `at`) to the parts file when `file` is absent;
    /// false when the file is on disk and the caller writes it there.
    pub(super) fn write_parts(
        &self,
        file: &StoredFile,
        at: u64,
        data: &[u8],
    ) -> Result<bool, DiskError> {
        if !file.absent.load(Ordering::Acquire) {
            return Ok(false);
        }
        let mut parts = self.lock_parts();
        if !file.absent.load(Ordering::Acquire) {
            return Ok(false);
        }
        let (piece, within) = self.piece_of(at);
        parts
            .write(piece, within, data)
            .map_err(|e| storage_error("write", &parts.path, e))?;
        Ok(true)
    }

    /// Reads into `dst` (payload bytes from `at`) from the parts file when `file` is absent.
    /// A piece with no slot there reads as "unexpected end of file": missing, as a truncated
    /// file's pieces are.
    pub(super) fn read_parts(
        &self,
        file: &StoredFile,
        at: u64,
        dst: &mut [u8],
    ) -> Result<bool, DiskError> {
        if !file.absent.load(Ordering::Acquire) {
            return Ok(false);
        }
        let mut parts = self.lock_parts();
        if !file.absent.load(Ordering::Acquire) {
            return Ok(false);
        }
        let (piece, within) = self.piece_of(at);
        match parts.read(piece, within, dst) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io_error(
                "read",
                &file.path,
                io::ErrorKind::UnexpectedEof.into(),
            )),
            Err(e) => Err(io_error("read", &parts.path, e)),
        }
    }

    /// Whether piece `index` touches an absent file whose bytes of it are not in the parts
    /// file (the resume check then need not read it).
    pub(super) fn touches_absent_gap(&self, index: u32) -> Result<bool, DiskError> {
        let (start, len) = self.checked_piece(index)?;
        let mut absent = false;
        self.for_each_segment(start, len as usize, |_, file, _, _| {
            absent |= file.absent.load(Ordering::Acquire);
            Ok(())
        })?;
        Ok(absent && !self.lock_parts().has(index))
    }

    /// Pieces with bytes in the parts file, in increasing order.
    pub(crate) fn parts_pieces(&self) -> Vec<u32> {
        self.lock_parts().pieces()
    }

    /// File `index` (of `info.files`) is wanted again: create it at its length if it is absent
    /// and move its bytes out of the parts file. Parts slots no absent file needs any more are
    /// freed. Nothing to do for a file already on disk.
    pub(crate) fn want_file(&self, index: usize) -> Result<(), DiskError> {
        let Some(file) = self.files.get(index) else {
            return Ok(());
        };
        let mut parts = self.lock_parts();
        if !file.absent.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some((components, executable)) = &file.entry else {
            return Ok(());
        };
        let path = prepare_file_path(&self.root, components)?;
        let (handle, _) = open_file(&path, file.length, *executable)?;
        let mut pieces = Vec::new();
        if file.length > 0 {
            let (first, _) = self.piece_of(file.offset);
            let (last, _) = self.piece_of(file.offset + file.length - 1);
            pieces.extend((first..=last).filter(|p| parts.has(*p)));
        }
        let plen = u64::from(self.geometry.piece_length());
        let mut buf = Vec::new();
        for &piece in &pieces {
            let piece_start = u64::from(piece) * plen;
            let s = piece_start.max(file.offset);
            let e = (piece_start + plen).min(file.offset + file.length);
            buf.resize((e - s) as usize, 0);
            parts
                .read(piece, (s - piece_start) as u32, &mut buf)
                .map_err(|err| io_error("read", &parts.path, err))?;
            handle
                .write_all_at(&buf, s - file.offset)
                .map_err(|err| storage_error("write", &path, err))?;
        }
        // Closed here: the session's budget opens it again when it is next used.
        drop(handle);
        file.dirty.store(true, Ordering::Relaxed);
        file.absent.store(false, Ordering::Release);
        for piece in pieces {
            let (start, len) = self.checked_piece(piece)?;
            let mut still = false;
            self.for_each_segment(start, len as usize, |_, f, _, _| {
                still |= f.absent.load(Ordering::Acquire);
                Ok(())
            })?;
            if !still {
                parts
                    .free(piece)
                    .map_err(|err| io_error("update", &parts.path, err))?;
            }
        }
        Ok(())
    }
}
