//! Crash-safe replacement of one file: a half-written save never takes the place of a good one.
//!
//! The new bytes go to a temporary file in the same directory, which is fsynced, renamed over
//! the old name (atomic on POSIX file systems), and then the directory is fsynced so the rename
//! itself survives a power cut (rtorrent and Transmission do the same; ext4 without
//! `auto_da_alloc` and XFS can otherwise leave a zero-length file after a crash). On any error
//! the temporary file is removed and the old file is untouched.
//!
//! Temporary names carry the process id and a counter, and are created exclusively, so two
//! saves racing for the same name can never write into one temporary file; the later rename
//! wins. `Store::open` removes what an interrupted save left behind (`is_temporary`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

const TMP_SUFFIX: &str = ".tmp";

/// Whether `name` is a temporary file of an unfinished save.
pub(crate) fn is_temporary(name: &str) -> bool {
    name.ends_with(TMP_SUFFIX)
}

/// Replace `dir/name` with `bytes`: write `dir/name.<pid>.<n>.tmp`, fsync it, rename it over
/// `name`, fsync `dir`. The old file stays whole unless the rename happened.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    write_renamed(dir, name, bytes)?;
    sync_dir(dir)
}

/// `write_atomic` without the directory's fsync, for a batch of saves that syncs the directory
/// once at its end (a clean stop of thousands of torrents): until then a power cut may bring
/// back the old file, never half of the new one.
pub(crate) fn write_renamed(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.{}.{n}{TMP_SUFFIX}", std::process::id()));
    let target = dir.join(name);
    let written = write_synced(&tmp, &target, bytes)
        .and_then(|()| fs::rename(&tmp, &target).map_err(|e| StoreError::new("save", &target, e)));
    if let Err(e) = written {
        // Best effort: on a read-only or vanished directory there is nothing to remove.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Errors name the file being saved, not the temporary one: that is what a person knows.
fn write_synced(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let save_error = |e| StoreError::new("save", target, e);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(save_error)?;
    file.write_all(bytes).map_err(save_error)?;
    // sync_all, not sync_data: the size is metadata, and a file renamed into place with its
    // length unwritten reads back truncated.
    file.sync_all().map_err(save_error)
}

/// fsync a directory so the entries created, renamed or removed in it are on disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .or_else(|e| match e.kind() {
            // Some file systems cannot fsync a directory; the rename is then as durable as
            // they make it.
            io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported => Ok(()),
            _ => Err(e),
        })
        .map_err(|e| StoreError::new("sync directory", dir, e))
}
