//! In-order hashing of a piece as its blocks arrive, so a piece never waits whole in memory.
//!
//! `InOrder` (under the download lock) decides which bytes are next: a block that continues
//! the piece is released at once, one that arrives ahead of a gap waits here until the gap
//! fills. Released blocks go, in order, to the writer (`verify.rs`), which writes each and
//! feeds it to the piece's `PieceHash`; the piece is verified only when the hash of all its
//! bytes matches. Memory per piece in flight is then its out-of-order blocks, not the piece.
//!
//! Uses the `sha1` crate (already the crate's SHA-1, with its run-time SHA-NI backend): its
//! state is a small `Clone` value, so one per piece in flight costs about 100 bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha1::{Digest, Sha1};

/// What a block did to its piece's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Already released, already waiting, or not inside the piece: dropped.
    Ignored,
    /// Ahead of a gap: it waits.
    Waiting,
    /// It (and any waiting blocks it joined) went to `out`, in order.
    Released,
}

/// The cursor of one piece being received.
///
/// Invariants: `next <= len`; every waiting block starts after `next` and ends within `len`.
#[derive(Debug)]
pub(crate) struct InOrder {
    len: u32,
    /// Bytes released so far: the piece's prefix `0..next` has gone to the writer.
    next: u32,
    waiting: BTreeMap<u32, Bytes>,
}

impl InOrder {
    pub(crate) fn new(len: u32) -> Self {
        InOrder {
            len,
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// Takes the block at `begin`; blocks that are now next in order go to `out(begin, data)`.
    pub(crate) fn push(
        &mut self,
        begin: u32,
        data: Bytes,
        mut out: impl FnMut(u32, Bytes),
    ) -> Push {
        let end = u64::from(begin) + data.len() as u64;
        if data.is_empty() || end > u64::from(self.len) || begin < self.next {
            return Push::Ignored;
        }
        if begin > self.next {
            if self.waiting.contains_key(&begin) {
                return Push::Ignored;
            }
            self.waiting.insert(begin, data);
            return Push::Waiting;
        }
        self.next += data.len() as u32;
        out(begin, data);
        // Blocks that waited for this gap follow it; one overlapping released bytes (a peer
        // sending odd offsets) is dropped, and the piece's hash decides.
        while let Some(entry) = self.waiting.first_entry() {
            let at = *entry.key();
            if at > self.next {
                break;
            }
            let data = entry.remove();
            if at == self.next {
                self.next += data.len() as u32;
                out(at, data);
            }
        }
        Push::Released
    }

    /// True once every byte of the piece was released.
    #[cfg(test)]
    pub(crate) fn is_complete(&self) -> bool {
        self.next == self.len
    }

    /// Bytes held here, ahead of a gap.
    #[cfg(test)]
    pub(crate) fn waiting_bytes(&self) -> usize {
        self.waiting.values().map(Bytes::len).sum()
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
#[path = "inorder_tests.rs"]
mod tests;
