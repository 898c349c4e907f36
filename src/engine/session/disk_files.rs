//! A torrent's files on disk, moved or deleted: plain file system work, run off the async
//! threads by the manager (`restart.rs`, `remove.rs`).

use std::path::PathBuf;

use crate::protocol::metainfo::Metainfo;

/// Removes the torrent's files under `root`, then the directories it made that are left
/// empty. Paths come from the sanitised metainfo, so they stay inside `root`.
pub(super) fn delete_files(root: &std::path::Path, meta: &Metainfo) -> Result<(), String> {
    let mut first_err = None;
    let parts = PathBuf::from(crate::engine::priorities::parts_file_name(&meta.info_hash));
    let files = meta.info.files.iter().filter(|f| !f.padding);
    for rel in files.map(|f| f.relative_path()).chain([parts]) {
        let path = root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                first_err.get_or_insert_with(|| format!("{}: {e}", path.display()));
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
pub(super) fn move_files(
    from: &std::path::Path,
    to: &std::path::Path,
    meta: &Metainfo,
) -> Result<(), String> {
    use std::fs;
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let files: Vec<PathBuf> = meta
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.relative_path())
        .chain([PathBuf::from(crate::engine::priorities::parts_file_name(
            &meta.info_hash,
        ))])
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
            return Err(format!("{} exists already", dst.display()));
        }
        if let Some(parent) = dst.parent() {
            if let Err(e) = fs::create_dir_all(parent) {
                undo(&done);
                return Err(format!("{}: {e}", parent.display()));
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
                    return Err(format!("copying to {}: {e}", dst.display()));
                }
                done.push((rel.clone(), false));
            }
            Err(e) => {
                undo(&done);
                return Err(format!("moving to {}: {e}", dst.display()));
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
fn delete_empty_dirs(root: &std::path::Path, meta: &Metainfo) {
    let mut dirs = Vec::new();
    for f in &meta.info.files {
        let mut dir = root.join(f.relative_path());
        while let Some(d) = dir.parent().map(std::path::Path::to_path_buf) {
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
