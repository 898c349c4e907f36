//! Cross-seeding's proof, at a torrent's first check. Files the session found in another
//! torrent's data (same path below the torrent's folder and same length) were linked into
//! this torrent's place when it was added (`session/manager/cross_seed.rs`); nothing about
//! them is trusted. The check hashes them like any file, and here, before anything is
//! written, each linked file is kept only if it is proven: every piece lying wholly in it
//! verified (a file too small to hold a whole piece: every piece touching it). A file that is
//! not proven (the right size, other bytes) gets a file of its own in place of the link, so
//! the pieces this torrent then downloads can never change the other torrent's data; its
//! pieces are fetched. A proven file stays shared: a piece straddling it and a missing file
//! writes over its part the bytes that are already there.

use crate::engine::disk::{DiskError, Storage};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::Info;

/// What the proof decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// Linked files proven, kept shared.
    pub kept: Vec<u32>,
    /// Linked files that were not the torrent's bytes: replaced by files of their own.
    pub replaced: Vec<u32>,
}

/// The pieces touching file `index` (first, last), and those lying wholly in it.
fn pieces_of(info: &Info, index: usize) -> Option<(u32, u32, Vec<u32>)> {
    let f = info.files.get(index)?;
    if f.length == 0 || f.padding {
        return None;
    }
    let plen = u64::from(info.piece_length);
    let first = f.offset / plen;
    let last = (f.offset + f.length - 1) / plen;
    let end = f.offset + f.length;
    let whole = (first..=last)
        .filter(|p| p * plen >= f.offset && ((p + 1) * plen).min(info.total_length) <= end)
        .map(|p| p as u32)
        .collect();
    Some((first as u32, last as u32, whole))
}

/// Which linked files `have` proves: pure, so the rule is tested without a disk.
pub(crate) fn decide(info: &Info, have: &Bitfield, borrowed: &[u32]) -> Settled {
    let mut out = Settled::default();
    for &index in borrowed {
        let Some((first, last, whole)) = pieces_of(info, index as usize) else {
            continue;
        };
        let proven = if whole.is_empty() {
            (first..=last).all(|p| have.get(p))
        } else {
            whole.iter().all(|&p| have.get(p))
        };
        if proven {
            out.kept.push(index);
        } else {
            out.replaced.push(index);
        }
    }
    out
}

/// Applies `decide`: each linked file not proven gets a file of its own, and no piece touching
/// it stays verified. Files no longer linked (a restart after the replacement) are left alone.
pub(crate) fn settle(
    storage: &Storage,
    info: &Info,
    have: &mut Bitfield,
    borrowed: &[u32],
) -> Result<Settled, DiskError> {
    let settled = decide(info, have, borrowed);
    for &index in &settled.replaced {
        if let Some((first, last, _)) = pieces_of(info, index as usize) {
            storage.unshare(index as usize)?;
            for p in first..=last {
                have.clear(p);
            }
        }
    }
    Ok(settled)
}

/// The line's words while it downloads the rest: "cross-seed: 97 % found on disk (from #12)".
pub(crate) fn words(info: &Info, have: &Bitfield, from: &str) -> String {
    let plen = u64::from(info.piece_length);
    let found = (u64::from(have.count()) * plen).min(info.total_length);
    let pct = (found * 100).checked_div(info.total_length).unwrap_or(100);
    if from.is_empty() {
        format!("cross-seed: {pct} % found on disk")
    } else {
        format!("cross-seed: {pct} % found on disk (from {from})")
    }
}

#[cfg(test)]
mod tests;
