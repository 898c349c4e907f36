//! A torrent's files on disk, moved or deleted: plain file system work, run off the async
//! threads by the manager (`restart.rs`, `remove.rs`).

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
/// system, else a copy (synced) and then the removal of the originals. Either every file ends
/// up in `to` or none does: on an error the files moved so far go back (or the copies are
/// removed) and the error is returned.
pub(in crate::engine::session) fn move_files(
    from: &Path,
    to: &Path,
    meta: &Metainfo,
) -> Result<(), DiskFilesError> {
    use std::fs;
    fs::create_dir_all(to).map_err(at(to))?;
    let files: Vec<PathBuf> = meta
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.relative_path())
        .chain([PathBuf::from(
            crate::engine::torrent::priorities::parts_file_name(&meta.info_hash),
        )])
        .filter(|rel| from.join(rel).exists())
        .collect();
    let mut done: Vec<(PathBuf, bool)> = Vec::new();
    let undo = |done: &[(PathBuf, bool)]| {
        for (rel, renamed) in done.iter().rev() {
            if *renamed {
                let _ = fs::rename(to.join(rel), from.join(rel));
            } else {
                let _ = fs::remove_file(to.join(rel));
            }
        }
    };
    for rel in &files {
        let (src, dst) = (from.join(rel), to.join(rel));
        if dst.exists() {
            undo(&done);
            return Err(DiskFilesError::Exists(dst));
        }
        if let Some(parent) = dst.parent() {
            if let Err(e) = fs::create_dir_all(parent) {
                undo(&done);
                return Err(at(parent)(e));
            }
        }
        match fs::rename(&src, &dst) {
            Ok(()) => done.push((rel.clone(), true)),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                let copied = fs::copy(&src, &dst)
                    .and_then(|_| fs::File::open(&dst))
                    .and_then(|f| f.sync_all());
                if let Err(e) = copied {
                    let _ = fs::remove_file(&dst);
                    undo(&done);
                    return Err(DiskFilesError::Copy {
                        path: dst,
                        source: e,
                    });
                }
                done.push((rel.clone(), false));
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
    // Everything is in place: the originals that were copied go, then empty folders.
    for (rel, renamed) in &done {
        if !renamed {
            let _ = fs::remove_file(from.join(rel));
        }
    }
    delete_empty_dirs(from, meta);
    Ok(())
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
