//! Which files of a torrent to fetch and in what order: the per-file priorities a user sets
//! (`FilePriority`), turned into per-piece priorities for the picker, the skip flags of the
//! storage (a skipped file is never created; see `disk/parts.rs`) and what the torrent's
//! line and snapshot say. Files are numbered as `Snapshot.files` lists them: the torrent's
//! order, padding files left out.

pub(crate) use crate::engine::api::check_indices;
use crate::engine::api::{FilePriority, FileRow, ValueError};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Info;

/// The user's choices for one torrent.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FilePlan {
    /// One per file (padding left out).
    pub priorities: Vec<FilePriority>,
    pub sequential: bool,
    /// The first and last piece of each wanted file before the others, in any order mode
    /// (`Command::SetFirstLast`); in-order mode boosts them anyway.
    pub first_last: bool,
    /// What went wrong applying `--only-files` to a magnet's late file list; the torrent's
    /// line says it until the priorities change (never saved).
    pub note: Option<String>,
}

impl FilePlan {
    /// Every file at `Normal`, except those the saved bytes (`to_byte`) say otherwise.
    pub(crate) fn new(info: &Info, saved: &[u8], sequential: bool) -> FilePlan {
        let n = real_files(info).count();
        let mut priorities: Vec<FilePriority> = saved.iter().map(|b| from_byte(*b)).collect();
        priorities.resize(n, FilePriority::Normal);
        FilePlan {
            priorities,
            sequential,
            first_last: false,
            note: None,
        }
    }

    /// Only these files wanted, the others skipped; an index past the last file is an error.
    pub(crate) fn only(
        info: &Info,
        files: &[usize],
        sequential: bool,
    ) -> Result<FilePlan, ValueError> {
        let n = real_files(info).count();
        check_indices(files, n)?;
        let priorities = (0..n)
            .map(|i| {
                if files.contains(&i) {
                    FilePriority::Normal
                } else {
                    FilePriority::Skip
                }
            })
            .collect();
        Ok(FilePlan {
            priorities,
            sequential,
            first_last: false,
            note: None,
        })
    }

    /// `only` for a list given before the file count was known (a magnet's `--only-files`):
    /// the indices past the last file are left out and named in `note`, as a torrent client
    /// that already started cannot refuse its add any more.
    pub(crate) fn only_once_known(info: &Info, files: &[usize], sequential: bool) -> FilePlan {
        let n = real_files(info).count();
        let (valid, past): (Vec<usize>, Vec<usize>) = files.iter().partition(|i| **i < n);
        let mut plan = match FilePlan::only(info, &valid, sequential) {
            Ok(plan) => plan,
            Err(_) => FilePlan::new(info, &[], sequential),
        };
        plan.note = past_last_note("--only-files", &past, n);
        plan
    }

    /// A magnet link's BEP 53 `so` (select only), applied once its metadata arrived: only the
    /// named files wanted, the others skipped. Unlike `--only-files`, its indices count every
    /// entry of the info dictionary's file list, BEP 47 padding files included: that is
    /// libtorrent's `file_storage` numbering, which its `make_magnet_uri` writes `so` in, so a
    /// link it made selects the same files here. A padding entry named is nothing to fetch;
    /// indices past the last entry are left out and named in `note`.
    pub(crate) fn select_only(info: &Info, entries: &[usize], sequential: bool) -> FilePlan {
        let mut real = 0;
        let numbering: Vec<Option<usize>> = info
            .files
            .iter()
            .map(|f| {
                if f.padding {
                    return None;
                }
                real += 1;
                Some(real - 1)
            })
            .collect();
        let files: Vec<usize> = entries
            .iter()
            .filter_map(|e| numbering.get(*e).copied().flatten())
            .collect();
        let past: Vec<usize> = entries
            .iter()
            .copied()
            .filter(|e| *e >= numbering.len())
            .collect();
        let mut plan = match FilePlan::only(info, &files, sequential) {
            Ok(plan) => plan,
            Err(_) => FilePlan::new(info, &[], sequential),
        };
        plan.note = past_last_note("magnet so=", &past, numbering.len());
        plan
    }

    /// As saved in the resume data (`Resume::file_priorities`).
    pub(crate) fn saved(&self) -> Vec<u8> {
        if self.priorities.iter().all(|p| *p == FilePriority::Normal) {
            return Vec::new();
        }
        self.priorities.iter().map(|p| to_byte(*p)).collect()
    }

    pub(crate) fn priority(&self, file: usize) -> FilePriority {
        self.priorities
            .get(file)
            .copied()
            .unwrap_or(FilePriority::Normal)
    }

    /// Per entry of `info.files` (padding included, never skipped): whether it is skipped.
    pub(crate) fn skipped_entries(&self, info: &Info) -> Vec<bool> {
        let mut real = 0;
        info.files
            .iter()
            .map(|f| {
                if f.padding {
                    return false;
                }
                real += 1;
                !self.priority(real - 1).wanted()
            })
            .collect()
    }

    /// (wanted files, all files).
    pub(crate) fn wanted_count(&self) -> (usize, usize) {
        let wanted = self.priorities.iter().filter(|p| p.wanted()).count();
        (wanted, self.priorities.len())
    }

    /// Bytes of the wanted files.
    pub(crate) fn wanted_bytes(&self, info: &Info) -> u64 {
        real_files(info)
            .enumerate()
            .filter(|(i, _)| self.priority(*i).wanted())
            .map(|(_, f)| f.length)
            .sum()
    }

    /// One priority per piece: the highest of the files it overlaps (padding and empty files
    /// overlap nothing).
    pub(crate) fn piece_priorities(&self, info: &Info) -> Vec<FilePriority> {
        let g = info.geometry();
        let mut out = vec![FilePriority::Skip; g.num_pieces() as usize];
        for (i, f) in real_files(info).enumerate() {
            let Some((first, last)) = piece_span(info, f.offset, f.length) else {
                continue;
            };
            let p = self.priority(i);
            for slot in out.iter_mut().take(last as usize + 1).skip(first as usize) {
                *slot = (*slot).max(p);
            }
        }
        out
    }

    /// The first and last piece of each wanted file, fetched first in sequential mode or
    /// with `first_last` so a media player can read a file's header and index while the
    /// rest arrives (libtorrent gives them piece priority 7; here they lead their class).
    pub(crate) fn boosted_pieces(&self, info: &Info) -> Vec<u32> {
        if !self.sequential && !self.first_last {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, f) in real_files(info).enumerate() {
            if let (true, Some((first, last))) = (
                self.priority(i).wanted(),
                piece_span(info, f.offset, f.length),
            ) {
                out.push(first);
                out.push(last);
            }
        }
        out
    }
}

/// The hidden parts file of a torrent in its save directory (`disk/parts.rs`); it goes with
/// the torrent's files when they are moved or deleted.
pub(crate) fn parts_file_name(info_hash: &[u8; 20]) -> String {
    format!(".{}.parts", crate::protocol::hex::encode(info_hash))
}

fn real_files(info: &Info) -> impl Iterator<Item = &crate::protocol::metainfo::FileEntry> {
    info.files.iter().filter(|f| !f.padding)
}

/// First and last piece holding bytes of `offset .. offset + length`; None when empty.
fn piece_span(info: &Info, offset: u64, length: u64) -> Option<(u32, u32)> {
    let plen = u64::from(info.piece_length);
    if length == 0 || plen == 0 {
        return None;
    }
    let first = u32::try_from(offset / plen).ok()?;
    let last = u32::try_from((offset + length - 1) / plen).ok()?;
    Some((first, last.min(info.num_pieces().saturating_sub(1))))
}

/// libtorrent's scale, so a resume file reads the same to both: 0 skip, 1 low, 4 normal,
/// 7 high.
pub(crate) fn to_byte(p: FilePriority) -> u8 {
    match p {
        FilePriority::Skip => 0,
        FilePriority::Low => 1,
        FilePriority::Normal => 4,
        FilePriority::High => 7,
    }
}

pub(crate) fn from_byte(b: u8) -> FilePriority {
    match b {
        0 => FilePriority::Skip,
        1..=3 => FilePriority::Low,
        4..=5 => FilePriority::Normal,
        _ => FilePriority::High,
    }
}

/// `--only-files: 7, 9 are past the last file (3), ignored` (None when nothing was).
fn past_last_note(what: &str, past: &[usize], count: usize) -> Option<String> {
    if past.is_empty() {
        return None;
    }
    let shown: Vec<String> = past.iter().take(5).map(usize::to_string).collect();
    let more = if past.len() > 5 { ", …" } else { "" };
    let verb = if past.len() == 1 { "is" } else { "are" };
    Some(match count {
        0 => format!(
            "{what}: the torrent has no files, {} ignored",
            shown.join(", ")
        ),
        n => format!(
            "{what}: {}{more} {verb} past the last file ({}), ignored",
            shown.join(", "),
            n - 1
        ),
    })
}

/// Sets each row's `done`: its bytes inside verified pieces. One pass over the pieces.
pub(crate) fn fill_done(info: &Info, have: &Bitfield, rows: &mut [FileRow]) {
    let plen = u64::from(info.piece_length);
    for row in rows.iter_mut() {
        let Some((first, last)) = piece_span(info, row.offset, row.size) else {
            row.done = 0;
            continue;
        };
        let end = row.offset + row.size;
        row.done = (first..=last)
            .filter(|p| have.get(*p))
            .map(|p| {
                let (s, e) = (u64::from(p) * plen, (u64::from(p) + 1) * plen);
                e.min(end).saturating_sub(s.max(row.offset))
            })
            .sum();
    }
}

#[cfg(test)]
mod tests;
