//! A torrent's files on disk, moved or deleted: plain file system work, run off the async
//! threads by the manager (`restart.rs`, `remove.rs`), and at start for a move out of the
//! incomplete directory that a stop interrupted (`persist::finish_move`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::protocol::metainfo::Metainfo;

/// Why moving or deleting a torrent's files failed: the path, what was being done and the
/// OS error with its kind (a full target disk and a missing permission stay told apart). The
/// words, shown to the user as one line, are the same as before the kind was kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiskFilesError {
    #[error("{}: {source}", path.display())]
    At {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("copying to {}: {source}", path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("moving to {}: {source}", path.display())]
    Move {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} exists already", .0.display())]
    Exists(PathBuf),
}

impl DiskFilesError {
    /// The OS error's kind, when an OS call failed (not for a target that exists already).
    /// Nothing decides on it yet (a failed move keeps the old place whatever the kind); the
    /// tests read it to prove the kind survives.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> Option<io::ErrorKind> {
        match self {
            DiskFilesError::At { source, .. }
            | DiskFilesError::Copy { source, .. }
            | DiskFilesError::Move { source, .. } => Some(source.kind()),
            DiskFilesError::Exists(_) => None,
        }
    }
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> DiskFilesError + '_ {
    move |source| DiskFilesError::At {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes the torrent's files under `root`, then the directories it made that are left
/// empty. Paths come from the sanitised metainfo, so they stay inside `root`.
pub(super) fn delete_files(
    root: &Path,
    meta: &Metainfo,
    keep: &std::collections::HashSet<PathBuf>,
) -> Result<(), DiskFilesError> {
    let mut first_err = None;
    let parts = PathBuf::from(crate::engine::torrent::priorities::parts_file_name(
        &meta.info_hash,
    ));
    let files = meta.info.files.iter().filter(|f| !f.padding);
    for rel in files.map(|f| f.relative_path()).chain([parts]) {
        let path = root.join(rel);
        if keep.contains(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                first_err.get_or_insert_with(|| at(&path)(e));
            }
        }
    }
    delete_empty_dirs(root, meta);
    first_err.map_or(Ok(()), Err)
}

/// Moves the torrent's files from `from` to `to`: a rename per file when both are on one file
/// system, else a crash-safe copy (`copy_into_place`), the originals removed only once every
/// file is in place. Either every file ends up in `to` or none does: nothing is touched when
/// one of them exists there already, and on an error the files moved so far go back (or the
/// copies are removed) and the error is returned.
pub(in crate::engine::session) fn move_files(
    from: &Path,
    to: &Path,
    meta: &Metainfo,
) -> Result<(), DiskFilesError> {
    move_with(from, to, meta, false)
}

/// Finishes a move that a stop interrupted (its journal said so): what it left is read as
/// ours. A temporary copy beside its destination is removed (it may be cut short); a file in
/// place at `to` whose original is gone, or is the same size and modification time (a copy
/// keeps the original's), is done; the rest moves as `move_files` moves it.
pub(in crate::engine::session) fn finish_moving(
    from: &Path,
    to: &Path,
    meta: &Metainfo,
) -> Result<(), DiskFilesError> {
    move_with(from, to, meta, true)
}

/// What became of one file of a move.
enum Moved {
    Renamed,
    Copied,
    /// In place already (a move finished after a stop): its original is left for the end.
    Found,
}

fn move_with(
    from: &Path,
    to: &Path,
    meta: &Metainfo,
    resuming: bool,
) -> Result<(), DiskFilesError> {
    fs::create_dir_all(to).map_err(at(to))?;
    // First every destination, before anything is touched.
    let mut plan: Vec<(PathBuf, bool)> = Vec::new();
    for rel in rels(meta) {
        let (src, dst) = (from.join(&rel), to.join(&rel));
        if resuming {
            let _ = fs::remove_file(temp_beside(&dst));
        }
        if fs::symlink_metadata(&src).is_err() {
            // Moved already, or never made (a skipped file).
            continue;
        }
        if fs::symlink_metadata(&dst).is_ok() {
            if resuming && same_stamp(&src, &dst) {
                plan.push((rel, true));
                continue;
            }
            return Err(DiskFilesError::Exists(dst));
        }
        plan.push((rel, false));
    }
    let mut done: Vec<(PathBuf, Moved)> = Vec::new();
    let undo = |done: &[(PathBuf, Moved)]| {
        for (rel, how) in done.iter().rev() {
            match how {
                Moved::Renamed => {
                    let _ = fs::rename(to.join(rel), from.join(rel));
                }
                Moved::Copied => {
                    let _ = fs::remove_file(to.join(rel));
                }
                Moved::Found => {}
            }
        }
    };
    for (rel, found) in plan {
        if found {
            done.push((rel, Moved::Found));
            continue;
        }
        let (src, dst) = (from.join(&rel), to.join(&rel));
        if let Some(parent) = dst.parent() {
            if let Err(e) = fs::create_dir_all(parent) {
                undo(&done);
                return Err(at(parent)(e));
            }
        }
        // A copy made in the background while the torrent kept running (`stage_files`),
        // still the same as its original: renamed into place, on the target's file system.
        let staged = staging_dir(to, meta).join(&rel);
        if same_stamp(&src, &staged) && fs::rename(&staged, &dst).is_ok() {
            done.push((rel, Moved::Copied));
            continue;
        }
        match fs::rename(&src, &dst) {
            Ok(()) => done.push((rel, Moved::Renamed)),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                if let Err(e) = copy_into_place(&src, &dst) {
                    undo(&done);
                    return Err(DiskFilesError::Copy {
                        path: dst,
                        source: e,
                    });
                }
                done.push((rel, Moved::Copied));
            }
            Err(e) => {
                undo(&done);
                return Err(DiskFilesError::Move {
                    path: dst,
                    source: e,
                });
            }
        }
    }
    // Every file is in place: their directories' entries are made durable before any
    // original goes, so a crash from here on finds them.
    let dirs: std::collections::BTreeSet<PathBuf> = done
        .iter()
        .flat_map(|(rel, _)| {
            to.join(rel)
                .ancestors()
                .skip(1)
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .filter(|d| d.starts_with(to) || to.parent() == Some(d.as_path()))
        .collect();
    for d in dirs {
        if let Err(e) = sync_dir(&d) {
            undo(&done);
            return Err(at(&d)(e));
        }
    }
    for (rel, how) in &done {
        if !matches!(how, Moved::Renamed) {
            let _ = fs::remove_file(from.join(rel));
        }
    }
    delete_empty_dirs(from, meta);
    // What is left of the background copy (a file that had changed since) is not needed.
    let _ = fs::remove_dir_all(staging_dir(to, meta));
    Ok(())
}

/// Where a move to `to` copies the torrent's files while it keeps running from where they
/// are: a hidden folder of its own in the target, on the target's file system, so the switch
/// is one rename a file (`move_with`) and a copy cut short is never taken for the files.
pub(in crate::engine::session) fn staging_dir(to: &Path, meta: &Metainfo) -> PathBuf {
    to.join(format!(
        ".ttui-move-{}",
        crate::protocol::hex::encode(&meta.info_hash)
    ))
}

/// Whether a move from `from` to `to` crosses file systems, so that it copies: then it
/// copies in the background while the torrent runs (`stage_files`); within one file system
/// it renames, at once. `to` may not exist yet: its nearest existing folder decides.
pub(in crate::engine::session) fn crosses_devices(from: &Path, to: &Path) -> bool {
    match (device_of(from), device_of(to)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// The device a path is on (its nearest existing folder's), for one move a device at a time.
pub(in crate::engine::session) fn device_of(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    p.ancestors()
        .find_map(|a| fs::metadata(a).ok())
        .map(|m| m.dev())
}

/// A background copy's progress: bytes copied so far of `total`, written by the copying
/// thread and read by the session's tick; `cancel` stops it between two reads.
#[derive(Debug, Default)]
pub(in crate::engine::session) struct CopyProgress {
    pub(in crate::engine::session) copied: std::sync::atomic::AtomicU64,
    pub(in crate::engine::session) cancel: std::sync::atomic::AtomicBool,
}

/// Bytes a move copies: the torrent's files that exist under `from`, and its parts file.
pub(in crate::engine::session) fn bytes_to_move(from: &Path, meta: &Metainfo) -> u64 {
    rels(meta)
        .filter_map(|rel| fs::metadata(from.join(rel)).ok())
        .map(|m| m.len())
        .sum()
}

/// Bytes free to an unprivileged writer on the file system of `dir`; None when it cannot be
/// told (the move then finds out as it copies).
pub(in crate::engine::session) fn free_bytes(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The files a move takes: every file of the torrent (not padding), and its parts file.
fn rels(meta: &Metainfo) -> impl Iterator<Item = PathBuf> + '_ {
    meta.info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.relative_path())
        .chain([PathBuf::from(
            crate::engine::torrent::priorities::parts_file_name(&meta.info_hash),
        )])
}

/// Copies the torrent's files from `from` into the move's staging folder in `to`
/// (`staging_dir`), each whole and synced with its original's modification time, while the
/// torrent keeps running from `from`. A file staged already and still the same as its
/// original (a copy a stop interrupted) is kept. Fails before copying anything when a file
/// exists at `to` already; on any error but a stop (a full disk among them) the staging
/// folder is removed, and nothing at `from` was touched. The switch (`move_files`) then takes each
/// staged copy that is still the same as its original, and copies the rest.
pub(in crate::engine::session) fn stage_files(
    from: &Path,
    to: &Path,
    meta: &Metainfo,
    progress: &CopyProgress,
) -> Result<(), DiskFilesError> {
    use std::sync::atomic::Ordering;
    let staging = staging_dir(to, meta);
    for rel in rels(meta) {
        let dst = to.join(&rel);
        if fs::symlink_metadata(from.join(&rel)).is_ok() && fs::symlink_metadata(&dst).is_ok() {
            return Err(DiskFilesError::Exists(dst));
        }
    }
    let staged = (|| {
        for rel in rels(meta) {
            let (src, dst) = (from.join(&rel), staging.join(&rel));
            if fs::symlink_metadata(&src).is_err() {
                continue;
            }
            if same_stamp(&src, &dst) {
                let len = fs::metadata(&dst).map_or(0, |m| m.len());
                progress.copied.fetch_add(len, Ordering::Relaxed);
                continue;
            }
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent).map_err(at(parent))?;
            }
            copy_counted(&src, &dst, progress).map_err(|source| DiskFilesError::Copy {
                path: to.join(&rel),
                source,
            })?;
        }
        Ok(())
    })();
    match &staged {
        // Stopped (the session ends): what is staged whole is kept for the next start, or
        // dropped by the session when the move is not wanted any more (`drop_staging`).
        Err(DiskFilesError::Copy { source, .. }) if source.kind() == io::ErrorKind::Interrupted => {
        }
        Err(_) => {
            let _ = fs::remove_dir_all(&staging);
        }
        Ok(()) => {}
    }
    staged
}

/// The staging folder of a move that will not happen (cancelled, or the torrent removed).
pub(in crate::engine::session) fn drop_staging(to: &Path, meta: &Metainfo) {
    let _ = fs::remove_dir_all(staging_dir(to, meta));
}

/// Copies `src` to `dst` as `copy_into_place` does, counting the bytes into `progress` and
/// stopping when it is cancelled (`Interrupted`). Reads in 4 MiB runs: sequential on both
/// disks, and few enough calls that the counter costs nothing.
fn copy_counted(src: &Path, dst: &Path, progress: &CopyProgress) -> io::Result<()> {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let tmp = temp_beside(dst);
    let copied = (|| {
        let mut input = fs::File::open(src)?;
        let mut out = fs::File::create(&tmp)?;
        let mut buf = vec![0u8; 4 << 20];
        loop {
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "move cancelled"));
            }
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            progress.copied.fetch_add(n as u64, Ordering::Relaxed);
        }
        out.set_modified(input.metadata()?.modified()?)?;
        out.sync_all()?;
        drop(out);
        fs::rename(&tmp, dst)?;
        match dst.parent() {
            Some(parent) => sync_dir(parent),
            None => Ok(()),
        }
    })();
    if copied.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    copied
}

/// Where a file is copied before it is renamed into place: beside it, hidden, so a copy cut
/// short by a crash is never taken for the file.
fn temp_beside(dst: &Path) -> PathBuf {
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dst.with_file_name(format!(".{name}.ttui-moving"))
}

/// Copies `src` to a temporary name beside `dst`, with its modification time (the resume
/// data's stamps then still match), synced, then renames it into place and syncs the
/// directory: `dst` exists only whole.
fn copy_into_place(src: &Path, dst: &Path) -> io::Result<()> {
    let tmp = temp_beside(dst);
    let copied = (|| {
        let mut input = std::fs::File::open(src)?;
        let mut out = std::fs::File::create(&tmp)?;
        io::copy(&mut input, &mut out)?;
        out.set_modified(input.metadata()?.modified()?)?;
        out.sync_all()?;
        drop(out);
        std::fs::rename(&tmp, dst)?;
        match dst.parent() {
            Some(parent) => sync_dir(parent),
            None => Ok(()),
        }
    })();
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

/// Same size and modification time: a copy of ours (`copy_into_place` keeps the time).
fn same_stamp(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => {
            a.len() == b.len()
                && a.modified().ok().is_some()
                && a.modified().ok() == b.modified().ok()
        }
        _ => false,
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Removes the folders a torrent's files lived in, when they are empty.
fn delete_empty_dirs(root: &Path, meta: &Metainfo) {
    let mut dirs = Vec::new();
    for f in &meta.info.files {
        let mut dir = root.join(f.relative_path());
        while let Some(d) = dir.parent().map(Path::to_path_buf) {
            if d == root || !d.starts_with(root) {
                break;
            }
            dirs.push(d.clone());
            dir = d;
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        let _ = std::fs::remove_dir(&d);
    }
}

#[cfg(test)]
mod tests;
