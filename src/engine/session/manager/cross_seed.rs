//! Cross-seeding, the session's side: the same content is often posted as several torrents
//! (other piece sizes, another name, an extra file), so a torrent added with no data of its own
//! looks for its files in the data of the torrents the session already seeds. A file matches
//! on its path below the torrent's folder (its name, for a single file) and its length; in two
//! v2 or hybrid torrents (BEP 52), on its `pieces root` alone, so a renamed file matches too.
//! A match is linked into the new torrent's place (a hard link; a reflink across file systems
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

/// Each file's `pieces root` (BEP 52), by file index: for a v2 or hybrid torrent whose piece
/// layers are all there (they list the files with data, in order).
fn roots(meta: &Metainfo) -> Vec<(u32, crate::protocol::merkle::Hash)> {
    let Some(layers) = &meta.piece_layers else {
        return Vec::new();
    };
    let files: Vec<u32> = meta
        .info
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.padding && f.symlink.is_none() && f.length > 0)
        .map(|(i, _)| i as u32)
        .collect();
    if files.len() != layers.files().len() {
        return Vec::new();
    }
    files
        .into_iter()
        .zip(layers.files().iter().map(|l| l.root))
        .collect()
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
        let by_root: HashMap<crate::protocol::merkle::Hash, u32> =
            roots(meta).into_iter().map(|(i, r)| (r, i)).collect();
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
            let other_roots: HashMap<u32, crate::protocol::merkle::Hash> = if by_root.is_empty() {
                HashMap::new()
            } else {
                roots(other).into_iter().collect()
            };
            for (n, f) in other.info.files.iter().enumerate() {
                if f.padding || f.length == 0 {
                    continue;
                }
                let by_path = wanted.get(&(key(&other.info, f), f.length)).copied();
                let by_tree = other_roots
                    .get(&(n as u32))
                    .and_then(|r| by_root.get(r))
                    .copied()
                    .filter(|&i| {
                        info.files
                            .get(i as usize)
                            .is_some_and(|e| e.length == f.length)
                    });
                let Some(file) = by_tree.or(by_path) else {
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

impl Manager {
    /// How each .torrent matches the data the session seeds, nothing added or linked.
    pub(super) fn cross_seed_report(
        &self,
        torrents: Vec<(String, Vec<u8>)>,
    ) -> Vec<crate::engine::api::CrossSeedRow> {
        use crate::engine::api::{CrossSeedMatch, CrossSeedRow};
        torrents
            .into_iter()
            .map(|(file, bytes)| {
                let mut row = CrossSeedRow {
                    file,
                    name: String::new(),
                    info_hash: None,
                    matched: CrossSeedMatch::Bad,
                    total_bytes: 0,
                    found_bytes: 0,
                    from: Vec::new(),
                    error: None,
                    added: None,
                };
                let meta = match Metainfo::from_bytes(&bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        row.error = Some(e.to_string());
                        return row;
                    }
                };
                row.name.clone_from(&meta.info.name);
                row.info_hash = Some(crate::protocol::hex::encode(&meta.info_hash));
                row.total_bytes = meta.info.total_length;
                if self.slots.id_of(&meta.info_hash).is_some() {
                    row.matched = CrossSeedMatch::Already;
                    return row;
                }
                let found = self.find_on_disk(&meta);
                let files = meta
                    .info
                    .files
                    .iter()
                    .filter(|f| !f.padding && f.symlink.is_none() && f.length > 0)
                    .count();
                row.found_bytes = found
                    .iter()
                    .filter_map(|f| meta.info.files.get(f.file as usize))
                    .map(|f| f.length)
                    .sum();
                let from: BTreeSet<u32> = found.iter().map(|f| f.source.0).collect();
                row.from = from.into_iter().collect();
                row.matched = if found.is_empty() {
                    CrossSeedMatch::None
                } else if found.len() == files {
                    CrossSeedMatch::Full
                } else {
                    CrossSeedMatch::Partial
                };
                row
            })
            .collect()
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
