//! A torrent's files on disk, moved or deleted: plain file system work, run off the async
//! threads by the manager (`restart.rs`, `remove.rs`), and at start for a move out of the
//! incomplete directory that a stop interrupted (`persist::finish_move`).

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
pub(super) fn delete_files(root: &Path, meta: &Metainfo) -> Result<(), DiskFilesError> {
    let mut first_err = None;
    let parts = PathBuf::from(crate::engine::torrent::priorities::parts_file_name(
        &meta.info_hash,
    ));
    let files = meta.info.files.iter().filter(|f| !f.padding);
    for rel in files.map(|f| f.relative_path()).chain([parts]) {
        let path = root.join(rel);
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
    use std::fs;
    fs::create_dir_all(to).map_err(at(to))?;
    let rels = meta
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.relative_path())
        .chain([PathBuf::from(
            crate::engine::torrent::priorities::parts_file_name(&meta.info_hash),
        )]);
    // First every destination, before anything is touched.
    let mut plan: Vec<(PathBuf, bool)> = Vec::new();
    for rel in rels {
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
    Ok(())
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
