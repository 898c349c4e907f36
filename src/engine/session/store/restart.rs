//! The restart policy: which pieces a torrent can trust from its resume data and which it
//! must hash again, decided from each file's size and modification time (as libtorrent and
//! Transmission do) without reading any content.
//!
//! A file whose size and mtime (nanoseconds) match the last save kept its verified pieces. One
//! with another mtime gets every piece that touches it hashed again, verified or not (someone
//! may have copied the finished file in) — except, when the last save was not a clean stop, a
//! file that was still incomplete then and only has another mtime: that is our own writing
//! after the save, cut short by a crash or a power cut, and its saved pieces stand (a verified
//! piece is synced to the device before it is saved as verified, `persist::writer`). Newer is
//! a crash after more writes; older is a power cut that kept the synced data but not the
//! inode's last mtime. One that is missing or of another size is about to
//! be created or resized by `Storage::open`, so its pieces are simply missing: hashing them
//! would only read zeros. A piece is as bad as the worst file it touches.
//!
//! Stamps must be taken before `Storage::open`, which creates and resizes files and so changes
//! their mtimes; and when saving, after the last write to the files (flush, then stamp, then
//! save), or the next start sees its own writes as changes (harmless: a check, never a wrong
//! piece).

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::resume::{FileStamp, Resume};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Info;

/// Each of the torrent's files under `root` as it stands: size and mtime from one `stat`, no
/// read of its content. `None` for a file that is missing or is not a regular file; BEP 47
/// padding files (never on disk) get a zero stamp.
pub fn stamp_files(root: &Path, info: &Info) -> Vec<Option<FileStamp>> {
    info.files
        .iter()
        .map(|entry| {
            if entry.padding {
                return Some(FileStamp {
                    size: 0,
                    mtime_ns: 0,
                });
            }
            let meta = fs::metadata(root.join(entry.relative_path())).ok()?;
            if !meta.is_file() {
                return None;
            }
            Some(FileStamp {
                size: meta.len(),
                mtime_ns: unix_nanos(meta.modified().ok()?),
            })
        })
        .collect()
}

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// What to do with a torrent's pieces at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckPlan {
    /// Saved verified pieces kept without hashing.
    pub trusted: Bitfield,
    /// Pieces to hash (`Storage::check_pieces`), in increasing order.
    pub to_check: Vec<u32>,
    /// Files that are missing or differ in size or mtime from the last save.
    pub changed_files: usize,
    /// For the torrent's line and log: why pieces are checked; `None` when nothing is.
    pub why: Option<String>,
}

impl CheckPlan {
    /// Hash every piece: no usable resume data (`why` says what was wrong with it).
    pub(crate) fn full(info: &Info, why: impl Into<String>) -> CheckPlan {
        let count = info.num_pieces();
        CheckPlan {
            trusted: Bitfield::new(count),
            to_check: (0..count).collect(),
            changed_files: 0,
            why: Some(why.into()),
        }
    }
}

/// How a file stands against the last save; ordered so that a piece takes the worst of its
/// files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileState {
    Unchanged,
    /// Same size, another mtime (or it appeared): its pieces are hashed.
    Changed,
    /// Missing or of another size: its pieces are missing without a look.
    Missing,
}

/// From the saved resume data and today's stamps (`stamp_files`), which pieces are trusted and
/// which are hashed. Resume data that does not fit the torrent gives a full check.
pub(crate) fn plan(info: &Info, saved: &Resume, now: &[Option<FileStamp>]) -> CheckPlan {
    let count = info.num_pieces();
    let Some(have) = saved.have_bitfield().filter(|b| b.len() == count) else {
        return CheckPlan::full(
            info,
            format!(
                "resume data has {} pieces, the torrent {count}: all pieces checked",
                saved.num_pieces
            ),
        );
    };
    if saved.files.len() != info.files.len() || now.len() != info.files.len() {
        return CheckPlan::full(
            info,
            format!(
                "resume data has {} files, the torrent {}: all pieces checked",
                saved.files.len(),
                info.files.len()
            ),
        );
    }
    let geometry = info.geometry();
    let mut pieces = vec![FileState::Unchanged; count as usize];
    let (mut changed, mut missing) = (0usize, 0usize);
    for ((entry, was), is) in info.files.iter().zip(&saved.files).zip(now) {
        if entry.padding || entry.length == 0 {
            continue;
        }
        let first = geometry.piece_at(entry.offset);
        let last = geometry.piece_at(entry.offset + entry.length - 1);
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let state = match is {
            None => FileState::Missing,
            Some(s) if s.size != entry.length => FileState::Missing,
            // Another mtime while the file was still being downloaded and we did not stop
            // cleanly: our own writes after that save (newer), or a power cut that lost the
            // inode's last update (older). Its saved pieces were synced before they were
            // saved, so they stand; the rest are missing, as they were.
            Some(s)
                if !saved.clean
                    && was.as_ref().is_some_and(|w| s.mtime_ns != w.mtime_ns)
                    && !(first..=last).all(|p| have.get(p)) =>
            {
                continue
            }
            Some(_) if was != is => FileState::Changed,
            Some(_) => continue,
        };
        if was != is {
            changed += 1;
            missing += usize::from(state == FileState::Missing);
        }
        for piece in pieces
            .iter_mut()
            .take(last as usize + 1)
            .skip(first as usize)
        {
            *piece = (*piece).max(state);
        }
    }
    let mut trusted = Bitfield::new(count);
    let mut to_check = Vec::new();
    for (index, state) in (0u32..).zip(&pieces) {
        match state {
            FileState::Unchanged if have.get(index) => {
                trusted.set(index);
            }
            FileState::Changed => to_check.push(index),
            _ => {}
        }
    }
    let why = (changed > 0).then(|| {
        let missing = match missing {
            0 => String::new(),
            n => format!(" ({n} missing or resized)"),
        };
        format!(
            "{changed} {} changed since the last run{missing}: {} {} checked",
            plural(changed, "file"),
            to_check.len(),
            plural(to_check.len(), "piece"),
        )
    });
    CheckPlan {
        trusted,
        to_check,
        changed_files: changed,
        why,
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}
