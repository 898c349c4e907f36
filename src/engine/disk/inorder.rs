//! In-order hashing of a piece as its blocks arrive, so a piece never waits whole in memory.
//!
//! `InOrder` (under the download lock) decides which bytes are next: a block that continues
//! the piece is released at once, one that arrives ahead of a gap waits here until the gap
//! fills. Released blocks go, in order, to the writer (`verify.rs`), which writes each and
//! feeds it to the piece's `PieceHash`; the piece is verified only when the hash of all its
//! bytes matches. Memory per piece in flight is then its out-of-order blocks, not the piece,
//! and at most `AHEAD_CAP` of those: past it they are written at once and read back later.
//!
//! Uses the `sha1` crate (already the crate's SHA-1, with its run-time SHA-NI backend): its
//! state is a small `Clone` value, so one per piece in flight costs about 100 bytes. A v2
//! piece keeps the SHA-256 of each of its 16 KiB blocks until its end (32 bytes a block);
//! `sha2` picks its SHA-NI backend at run time too.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::protocol::merkle::{self, Hash};
use crate::protocol::metainfo::{Info, V2Piece};

/// Bytes of a piece that may wait here ahead of a gap. Past them, a block ahead of the gap is
/// written at once and read back for its hash when the gap fills: a seeder that answers a
/// large piece out of order (its disk threads) left up to 11 MiB of a 16 MiB piece waiting
/// behind one late block, so memory grew with the piece size. Reading back from the page
/// cache costs a copy, only for bytes past this much.
pub(crate) const AHEAD_CAP: usize = 1 << 20;

/// What a block did to its piece's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Already released, already waiting, or not inside the piece: dropped.
    Ignored,
    /// Ahead of a gap: it waits.
    Waiting,
    /// Ahead of a gap, with `AHEAD_CAP` already waiting: it goes to the writer as `Job::Ahead`.
    WrittenAhead,
    /// It (and any waiting blocks it joined) went to `out`, in order.
    Released,
}

/// What the writer of a piece does, in the order the cursor gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job {
    /// The piece's next bytes: write them, then hash them.
    Next(u32, Bytes),
    /// Bytes ahead of a gap: write them now; their `Reread` comes when the gap fills.
    Ahead(u32, Bytes),
    /// Bytes that went as `Ahead` and are next now: read them back and hash them.
    Reread(u32, u32),
}

impl Job {
    /// Bytes of memory the job holds until the writer takes it.
    pub(crate) fn held(&self) -> usize {
        match self {
            Job::Next(_, data) | Job::Ahead(_, data) => data.len(),
            Job::Reread(..) => 0,
        }
    }
}

/// A block waiting for its gap: in memory, or already written (`Job::Ahead`) with its length.
#[derive(Debug)]
enum Waiting {
    Held(Bytes),
    Written(u32),
}

/// The cursor of one piece being received.
///
/// Invariants: `next <= len`; every waiting block starts after `next` and ends within `len`;
/// `held` is the byte count of the `Held` ones and stays within `cap` (a block that would
/// pass it is written ahead instead).
#[derive(Debug)]
pub(crate) struct InOrder {
    len: u32,
    /// Bytes released so far: the piece's prefix `0..next` has gone to the writer.
    next: u32,
    waiting: BTreeMap<u32, Waiting>,
    held: usize,
    cap: usize,
}

impl InOrder {
    pub(crate) fn new(len: u32) -> Self {
        InOrder::with_cap(len, AHEAD_CAP)
    }

    pub(crate) fn with_cap(len: u32, cap: usize) -> Self {
        InOrder {
            len,
            next: 0,
            waiting: BTreeMap::new(),
            held: 0,
            cap,
        }
    }

    /// Takes the block at `begin`; what the writer is to do with it, and with any waiting
    /// blocks it joined, goes to `out` in order.
    pub(crate) fn push(&mut self, begin: u32, data: Bytes, mut out: impl FnMut(Job)) -> Push {
        let end = u64::from(begin) + data.len() as u64;
        if data.is_empty() || end > u64::from(self.len) || begin < self.next {
            return Push::Ignored;
        }
        if begin > self.next {
            if self.waiting.contains_key(&begin) {
                return Push::Ignored;
            }
            if self.held + data.len() > self.cap {
                // Fits in u32: it ends within the piece (checked above).
                self.waiting
                    .insert(begin, Waiting::Written(data.len() as u32));
                out(Job::Ahead(begin, data));
                return Push::WrittenAhead;
            }
            self.held += data.len();
            self.waiting.insert(begin, Waiting::Held(data));
            return Push::Waiting;
        }
        self.next += data.len() as u32;
        out(Job::Next(begin, data));
        self.release_waiting(&mut out);
        Push::Released
    }

    /// The cursor of a piece whose blocks at `written` (begin, length) are on disk already
    /// and good: a failed v2 piece whose bad blocks alone are fetched again. They are read
    /// back for the piece's hash in order (`Job::Reread`), those from the piece's start at
    /// once (into `out`), the others when the gap before them fills.
    pub(crate) fn resumed(
        len: u32,
        written: impl IntoIterator<Item = (u32, u32)>,
        mut out: impl FnMut(Job),
    ) -> Self {
        let mut c = InOrder::new(len);
        for (begin, n) in written {
            if n > 0 && u64::from(begin) + u64::from(n) <= u64::from(len) {
                c.waiting.insert(begin, Waiting::Written(n));
            }
        }
        c.release_waiting(&mut out);
        c
    }

    /// Releases the waiting blocks that continue the released bytes.
    fn release_waiting(&mut self, out: &mut impl FnMut(Job)) {
        // Blocks that waited for this gap follow it; one overlapping released bytes (a peer
        // sending odd offsets) is dropped, and the piece's hash decides.
        while let Some(entry) = self.waiting.first_entry() {
            let at = *entry.key();
            if at > self.next {
                break;
            }
            let block = entry.remove();
            let n = match &block {
                Waiting::Held(data) => {
                    self.held -= data.len();
                    data.len() as u32
                }
                Waiting::Written(n) => *n,
            };
            if at == self.next {
                self.next += n;
                out(match block {
                    Waiting::Held(data) => Job::Next(at, data),
                    Waiting::Written(n) => Job::Reread(at, n),
                });
            }
        }
    }

    /// True once every byte of the piece was released.
    #[cfg(test)]
    pub(crate) fn is_complete(&self) -> bool {
        self.next == self.len
    }

    /// Bytes held here in memory, ahead of a gap.
    #[cfg(test)]
    pub(crate) fn waiting_bytes(&self) -> usize {
        self.held
    }
}

/// A piece's hash, fed its bytes in order by the writer: the SHA-1 of them all (v1), or the
/// SHA-256 of each 16 KiB block of the file's bytes in it (v2, BEP 52), the leaves of a
/// subtree whose root the piece must have.
#[derive(Debug, Clone, Default)]
pub(crate) struct PieceHash {
    kind: Kind,
    hashed: u64,
    /// A block of the piece could not be written: it is failed, whatever its hash.
    pub(crate) unwritten: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Sha1(Sha1),
    /// `data`: the file's bytes in the piece; past them is alignment padding, not hashed.
    /// `block` holds the bytes of the leaf being hashed (`in_block` of them).
    Merkle {
        leaves: Vec<Hash>,
        block: Sha256,
        in_block: usize,
        data: u32,
    },
}

impl Default for Kind {
    fn default() -> Self {
        Kind::Sha1(Sha1::default())
    }
}

/// What a piece's hash is compared with: its SHA-1 from `pieces`, or its v2 root.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected<'a> {
    Sha1(Option<&'a [u8; 20]>),
    Merkle(Option<&'a V2Piece>),
}

impl<'a> Expected<'a> {
    pub(crate) fn of(info: &'a Info, index: u32) -> Self {
        match &info.v2 {
            Some(v2) => Expected::Merkle(v2.pieces.get(index as usize)),
            None => Expected::Sha1(info.pieces.get(index as usize)),
        }
    }
}

impl<'a> From<Option<&'a [u8; 20]>> for Expected<'a> {
    fn from(h: Option<&'a [u8; 20]>) -> Self {
        Expected::Sha1(h)
    }
}

impl PieceHash {
    /// The hash state for a piece checked against `v2` (None: SHA-1).
    pub(crate) fn new(v2: Option<&V2Piece>) -> PieceHash {
        match v2 {
            Some(p) => PieceHash {
                kind: Kind::Merkle {
                    leaves: Vec::with_capacity(p.leaves.min(1024) as usize),
                    block: Sha256::default(),
                    in_block: 0,
                    data: p.data,
                },
                ..PieceHash::default()
            },
            None => PieceHash::default(),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        let start = self.hashed;
        self.hashed += data.len() as u64;
        match &mut self.kind {
            Kind::Sha1(sha) => sha.update(data),
            Kind::Merkle {
                leaves,
                block,
                in_block,
                data: end,
            } => {
                let keep = u64::from(*end).saturating_sub(start).min(data.len() as u64);
                let mut rest = data.get(..keep as usize).unwrap_or(data);
                while !rest.is_empty() {
                    let room = LEAF - *in_block;
                    let (now, later) = rest.split_at(room.min(rest.len()));
                    block.update(now);
                    *in_block += now.len();
                    if *in_block == LEAF {
                        leaves.push(block.finalize_reset().into());
                        *in_block = 0;
                    }
                    rest = later;
                }
            }
        }
    }

    /// True when exactly `len` bytes were hashed and they are the expected piece.
    #[cfg(test)]
    pub(crate) fn matches<'a>(self, len: u32, expected: impl Into<Expected<'a>>) -> bool {
        self.verdict(len, expected).0
    }

    /// As `matches`, with the leaves of a v2 piece as hashed (the file's blocks in it): a
    /// failed piece is narrowed to its bad blocks by comparing them with a peer's proven
    /// block hashes (`merkle::blocks`). None for a v1 piece.
    pub(crate) fn verdict<'a>(
        self,
        len: u32,
        expected: impl Into<Expected<'a>>,
    ) -> (bool, Option<Vec<Hash>>) {
        let whole = self.hashed == u64::from(len);
        match (self.kind, expected.into()) {
            (Kind::Sha1(sha), Expected::Sha1(want)) => {
                let digest: [u8; 20] = sha.finalize().into();
                (whole && want == Some(&digest), None)
            }
            (
                Kind::Merkle {
                    mut leaves,
                    block,
                    in_block,
                    ..
                },
                Expected::Merkle(want),
            ) => {
                if in_block > 0 {
                    leaves.push(block.finalize().into());
                }
                let ok = whole && want.is_some_and(|w| w.matches(&leaves));
                (ok, Some(leaves))
            }
            // Hashed one way, expected another: a bug, never a match.
            _ => (false, None),
        }
    }
}

/// A v2 leaf: 16 KiB of a file.
const LEAF: usize = merkle::BLOCK as usize;

#[cfg(test)]
mod tests;
