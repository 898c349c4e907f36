//! Who sent the bad blocks of a piece that failed its hash check ("smart ban").
//!
//! A piece fetched from several peers that fails its check says only that one of them lied.
//! Its bytes are on disk when it fails, so the writer keeps the SHA-256 of each of its blocks
//! and who sent it (an `Attempt`) before fetching the piece again. Once the piece verifies,
//! each block of an attempt whose digest differs from the verified block's was bad, and its
//! sender is the one to blame: proof, not suspicion, so honest peers that shared the piece
//! are not charged. Works alike for v1 and v2 pieces (for a v2 piece a block's digest is its
//! merkle leaf); the digests cost a read of the piece only when it failed.

use sha2::{Digest, Sha256};

use crate::engine::disk::DiskError;
use crate::protocol::geometry::BLOCK_LEN;
use crate::protocol::merkle::Hash;

/// Failed attempts kept per piece: a piece that keeps failing has told us enough by then.
pub(crate) const ATTEMPTS_PER_PIECE: usize = 4;

/// Pieces whose failed attempts are kept, so memory stays bounded (40 bytes a block) whatever
/// a swarm sends.
pub(crate) const PIECES_KEPT: usize = 64;

/// One failed try of a piece: per block, the SHA-256 of what was written and its sender.
///
/// Invariant: `digests` and `senders` have one entry per block of the piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub digests: Vec<[u8; 32]>,
    pub senders: Vec<Option<u64>>,
}

/// A connection proven to have sent bad blocks of a piece, and which blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Culprit {
    pub conn: u64,
    pub blocks: Vec<u32>,
}

/// What the coordinator is to do with the senders of a piece that was hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Blame {
    /// Charge every contributor a hash failure, as when nothing better is known: a piece
    /// from one sender, or one that failed again (a v2 piece: too often).
    Contributors,
    /// A failure from several senders: its attempt is kept and the blame waits until the
    /// piece verifies and shows whose blocks were bad.
    Deferred,
    /// The piece verified: these sent blocks of an earlier attempt that differ from it.
    Proven(Vec<Culprit>),
    /// As `Deferred` (its attempt is kept, and the piece is fetched again), for a v2 piece of
    /// several blocks: a peer can be asked for its block hashes, which name the bad blocks
    /// at once (`coordinator/events/block_hashes.rs`). `leaves` are the blocks' leaves as we
    /// hashed them and `senders` who sent each; `width` is the piece subtree's leaf count.
    Narrow {
        width: u32,
        leaves: Vec<Hash>,
        senders: Vec<Option<u64>>,
    },
}

/// The SHA-256 of each block of a piece of `len` bytes, read with `read(begin, buf)`.
pub(crate) fn block_digests(
    len: u32,
    mut read: impl FnMut(u32, &mut [u8]) -> Result<(), DiskError>,
) -> Result<Vec<[u8; 32]>, DiskError> {
    let mut buf = vec![0u8; BLOCK_LEN as usize];
    let mut out = Vec::with_capacity(len.div_ceil(BLOCK_LEN) as usize);
    let mut begin = 0;
    while begin < len {
        let n = (len - begin).min(BLOCK_LEN) as usize;
        read(begin, &mut buf[..n])?;
        out.push(Sha256::digest(&buf[..n]).into());
        begin += n as u32;
    }
    Ok(out)
}

/// The senders of the blocks of `attempts` that differ from the verified piece's `good`
/// digests, each with its bad blocks (sorted, once each), in order of first bad block.
pub(crate) fn culprits(attempts: &[Attempt], good: &[[u8; 32]]) -> Vec<Culprit> {
    let mut out: Vec<Culprit> = Vec::new();
    for a in attempts {
        for (block, (digest, sender)) in a.digests.iter().zip(&a.senders).enumerate() {
            let bad = good.get(block).is_some_and(|g| g != digest);
            let Some(conn) = sender.filter(|_| bad) else {
                continue;
            };
            let block = block as u32;
            match out.iter_mut().find(|c| c.conn == conn) {
                Some(c) => {
                    if let Err(at) = c.blocks.binary_search(&block) {
                        c.blocks.insert(at, block);
                    }
                }
                None => out.push(Culprit {
                    conn,
                    blocks: vec![block],
                }),
            }
        }
    }
    out
}

/// How the coordinator is to blame the senders of a piece that just failed: `contributors`
/// sent it, and `kept` failed attempts of it are now on record (this one included, 0 when it
/// could not be kept). A v1 piece waits for its proof on its first failure only. A v2 piece
/// of several blocks (`v2`) waits while its attempts are kept, however often it failed: its
/// block hashes may be refused or never come (`coordinator/events/block_hashes.rs`), and a
/// liar that keeps sending its half of the piece would otherwise have its honest partners
/// charged each time the piece failed again. Past `ATTEMPTS_PER_PIECE` it has told us
/// enough, and every sender is charged.
pub(crate) fn on_failure(contributors: &[u64], kept: usize, v2: bool) -> Blame {
    let most = if v2 { ATTEMPTS_PER_PIECE } else { 1 };
    if contributors.len() > 1 && (1..=most).contains(&kept) {
        Blame::Deferred
    } else {
        Blame::Contributors
    }
}

/// A deferred blame of a v2 piece of `width` leaves (0 for a v1 piece) becomes `Narrow`
/// when its leaves, as hashed, are known: a piece of one block has nothing to narrow.
pub(crate) fn narrow(
    blame: Blame,
    width: u32,
    leaves: Option<Vec<Hash>>,
    senders: Vec<Option<u64>>,
) -> Blame {
    match (blame, leaves) {
        (Blame::Deferred, Some(leaves)) if width >= 2 => Blame::Narrow {
            width,
            leaves,
            senders,
        },
        (blame, _) => blame,
    }
}

/// "3", "3, 7" or "3, 7, 9 and 12 more": the blocks named in a log line.
pub(crate) fn block_list(blocks: &[u32]) -> String {
    const SHOWN: usize = 8;
    let mut s = blocks
        .iter()
        .take(SHOWN)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if blocks.len() > SHOWN {
        s.push_str(&format!(" and {} more", blocks.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests;
