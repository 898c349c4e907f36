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
//! state is a small `Clone` value, so one per piece in flight costs about 100 bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha1::{Digest, Sha1};

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
        Push::Released
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

/// The SHA-1 of a piece's prefix, fed in order by the writer.
#[derive(Debug, Clone, Default)]
pub(crate) struct PieceHash {
    sha: Sha1,
    hashed: u64,
    /// A block of the piece could not be written: it is failed, whatever its hash.
    pub(crate) unwritten: bool,
}

impl PieceHash {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.hashed += data.len() as u64;
    }

    /// True when exactly `len` bytes were hashed and their digest is `expected`.
    pub(crate) fn matches(self, len: u32, expected: Option<&[u8; 20]>) -> bool {
        if self.hashed != u64::from(len) {
            return false;
        }
        let digest: [u8; 20] = self.sha.finalize().into();
        expected == Some(&digest)
    }
}

#[cfg(test)]
mod tests;
