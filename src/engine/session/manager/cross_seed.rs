//! Cross-seeding, the session's side: the same content is often posted as several torrents
//! (other piece sizes, another name, an extra file), so a torrent added with no data of its own
//! looks for its files in the data of the torrents the session already seeds. A file matches
//! on its path below the torrent's folder (its name, for a single file) and its length; a
//! match is linked into the new torrent's place (a hard link; a reflink across file systems
//! that have them; never a copy), so each torrent keeps its own tree and removing one never
//! takes the other's data. Nothing is trusted: the new torrent's first check proves each
//! linked file or gives it a file of its own before anything is written
//! (`torrent/borrowed.rs`), and only the pieces not found are fetched.
//!
//! Cost: one pass over the library's file lists per add that finds no data in its own place
//! (none when `cross_seed` is off); the files are statted only where path and length match.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::Manager;
use crate::engine::api::{TorrentId, TorrentState};
use crate::protocol::metainfo::{FileEntry, Info, Metainfo};

/// A file of the new torrent found on disk.
#[derive(Debug)]
pub(super) struct Found {
    pub file: u32,
    pub from: PathBuf,
    pub source: TorrentId,
}

/// What linking found: the files linked, their bytes, the torrents they came from ("#12").
#[derive(Debug, Default)]
pub(super) struct Linked {
    pub files: Vec<u32>,
    pub bytes: u64,
    pub from: String,
}

/// The path a file matches on: below the torrent's folder, or the name of a single file.
fn key(info: &Info, f: &FileEntry) -> Vec<String> {
    if info.single_file {
        f.path.clone()
    } else {
        f.path.iter().skip(1).cloned().collect()
    }
}

/// Whether any of the torrent's files is already in its place: then it is checked there, as
/// always, and nothing is linked.
pub(super) fn has_data(meta: &Metainfo, save_path: &Path) -> bool {
    meta.info
        .files
        .iter()
        .filter(|f| !f.padding && f.symlink.is_none())
        .any(|f| save_path.join(f.relative_path()).exists())
}

impl Manager {
    /// The files of `meta` found in the data of the complete torrents of the session.
    pub(super) fn find_on_disk(&self, meta: &Metainfo) -> Vec<Found> {
        let info = &meta.info;
        let mut wanted: HashMap<(Vec<String>, u64), u32> = HashMap::new();
        for (i, f) in info.files.iter().enumerate() {
            if !f.padding && f.symlink.is_none() && f.length > 0 {
                wanted.insert((key(info, f), f.length), i as u32);
            }
        }
        let mut found: HashMap<u32, Found> = HashMap::new();
        for slot in self.slots.iter() {
            let Some(other) = &slot.meta else { continue };
            if other.info_hash == meta.info_hash || !slot.policy.kept.renamed.is_empty() {
                continue;
            }
            let complete = {
                let l = slot.line.borrow();
                matches!(l.state, TorrentState::Seeding | TorrentState::Complete)
                    || (l.total_bytes > 0 && l.verified_bytes >= l.total_bytes)
            };
            if !complete {
                continue;
            }
            let root = slot.save_path();
            for f in &other.info.files {
                if f.padding || f.length == 0 {
                    continue;
                }
                let Some(&file) = wanted.get(&(key(&other.info, f), f.length)) else {
                    continue;
                };
                if found.contains_key(&file) {
                    continue;
                }
                let from = root.join(f.relative_path());
                let on_disk =
                    std::fs::metadata(&from).is_ok_and(|m| m.is_file() && m.len() == f.length);
                if on_disk {
                    found.insert(
                        file,
                        Found {
                            file,
                            from,
                            source: slot.id,
                        },
                    );
                }
            }
        }
        let mut out: Vec<Found> = found.into_values().collect();
        out.sort_by_key(|f| f.file);
        out
    }
}

/// Links each found file into `save_path` (where the new torrent's files go): a hard link, or
/// a reflink where the two places are on different file systems that have them. A file that
/// can be linked neither way is fetched.
pub(super) fn link(meta: &Metainfo, save_path: &Path, found: &[Found]) -> Linked {
    let mut out = Linked::default();
    let mut sources = BTreeSet::new();
    for f in found {
        let Some(entry) = meta.info.files.get(f.file as usize) else {
            continue;
        };
        let to = save_path.join(entry.relative_path());
        if to.exists() {
            continue;
        }
        if let Some(parent) = to.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                tracing::warn!("cross-seed: cannot make {}: {e}", parent.display());
                continue;
            }
        }
        match std::fs::hard_link(&f.from, &to).or_else(|e| reflink(&f.from, &to, e)) {
            Ok(()) => {
                out.files.push(f.file);
                out.bytes += entry.length;
                sources.insert(f.source.0);
            }
            Err(e) => tracing::info!(
                "cross-seed: {} not linked from {} ({e}): it is fetched",
                to.display(),
                f.from.display()
            ),
        }
    }
    out.from = sources
        .iter()
        .map(|id| format!("#{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    out
}

/// A copy-on-write clone of `from` at `to` (FICLONE: btrfs, XFS, bcachefs), tried when a hard
/// link failed with `first`; never a byte copy.
fn reflink(from: &Path, to: &Path, first: std::io::Error) -> std::io::Result<()> {
    if first.raw_os_error() != Some(libc::EXDEV) {
        return Err(first);
    }
    let src = std::fs::File::open(from)?;
    let dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    if let Err(e) = rustix::fs::ioctl_ficlone(&dst, &src) {
        drop(dst);
        let _ = std::fs::remove_file(to);
        return Err(std::io::Error::from(e));
    }
    Ok(())
}
