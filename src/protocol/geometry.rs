//! Where pieces and blocks sit in a torrent's payload. Pure arithmetic, one place for it: the
//! parser, the storage layer and the picker all ask this type instead of each redoing the
//! short-last-piece and short-last-block computation.
//!
//! Every query that takes an index or a range returns `Option`: `None` means "no such piece,
//! block or range", never a wrapped or truncated value, whatever numbers a peer sent.

use std::ops::Range;

pub(crate) use super::message::BLOCK_LEN;

/// Piece and block layout of one torrent. `Copy`: three integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    piece_length: u32,
    total_length: u64,
    num_pieces: u32,
}

impl Geometry {
    /// No pieces at all: every query answers `None`.
    pub const EMPTY: Geometry = Geometry {
        piece_length: 1,
        total_length: 0,
        num_pieces: 0,
    };

    /// `None` when `piece_length` is 0 or the payload needs more than `u32::MAX` pieces (piece
    /// indices are 32 bits on the wire). A total of 0 gives a geometry with no pieces.
    pub fn new(piece_length: u32, total_length: u64) -> Option<Geometry> {
        if piece_length == 0 {
            return None;
        }
        let num_pieces = u32::try_from(total_length.div_ceil(u64::from(piece_length))).ok()?;
        Some(Geometry {
            piece_length,
            total_length,
            num_pieces,
        })
    }

    /// The nominal piece length (every piece but the last has exactly this length).
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Index of the last piece, `None` when there are no pieces.
    pub fn last_piece(&self) -> Option<u32> {
        self.num_pieces.checked_sub(1)
    }

    /// Where piece `piece` starts in the concatenated payload.
    pub fn piece_offset(&self, piece: u32) -> Option<u64> {
        (piece < self.num_pieces).then(|| u64::from(piece) * u64::from(self.piece_length))
    }

    /// Length of piece `piece`: `piece_length`, except for a short last piece.
    pub fn piece_len(&self, piece: u32) -> Option<u32> {
        let start = self.piece_offset(piece)?;
        // start < total_length because piece < num_pieces, so the subtraction cannot wrap,
        // and the minimum fits in u32 because piece_length does.
        Some((self.total_length - start).min(u64::from(self.piece_length)) as u32)
    }

    /// The payload bytes of piece `piece`.
    pub fn piece_range(&self, piece: u32) -> Option<Range<u64>> {
        let start = self.piece_offset(piece)?;
        let len = self.piece_len(piece)?;
        Some(start..start + u64::from(len))
    }

    /// The piece that holds payload byte `offset`.
    pub fn piece_at(&self, offset: u64) -> Option<u32> {
        if offset >= self.total_length {
            return None;
        }
        // offset < total_length, so the quotient is below num_pieces and fits in u32.
        Some((offset / u64::from(self.piece_length)) as u32)
    }

    /// Blocks in a full-length piece.
    pub fn blocks_per_piece(&self) -> u32 {
        self.piece_length.div_ceil(BLOCK_LEN)
    }

    /// Blocks in piece `piece` (fewer in a short last piece).
    pub fn blocks_in(&self, piece: u32) -> Option<u32> {
        Some(self.piece_len(piece)?.div_ceil(BLOCK_LEN))
    }

    /// Blocks in the whole torrent.
    pub fn total_blocks(&self) -> u64 {
        match self.last_piece() {
            None => 0,
            Some(last) => {
                u64::from(last) * u64::from(self.blocks_per_piece())
                    + u64::from(self.blocks_in(last).unwrap_or(0))
            }
        }
    }

    /// Offset inside its piece of block `block` (the `begin` of a request for it).
    pub fn block_offset(&self, piece: u32, block: u32) -> Option<u32> {
        if block >= self.blocks_in(piece)? {
            return None;
        }
        // block * BLOCK_LEN < piece_len <= u32::MAX here.
        Some(block * BLOCK_LEN)
    }

    /// Length of block `block` of piece `piece`: `BLOCK_LEN`, except for the last block of a
    /// piece whose length is not a multiple of it.
    pub fn block_len(&self, piece: u32, block: u32) -> Option<u32> {
        let begin = self.block_offset(piece, block)?;
        let piece_len = self.piece_len(piece)?;
        Some((piece_len - begin).min(BLOCK_LEN))
    }

    /// The block index of a block that starts at `begin` in piece `piece`; `None` when `begin`
    /// is not on a block boundary or past the piece.
    pub fn block_index(&self, piece: u32, begin: u32) -> Option<u32> {
        if !begin.is_multiple_of(BLOCK_LEN) {
            return None;
        }
        let block = begin / BLOCK_LEN;
        (block < self.blocks_in(piece)?).then_some(block)
    }

    /// The block that `(begin, length)` is exactly (what a received `piece` message must match
    /// to be one of the blocks we request).
    pub fn exact_block(&self, piece: u32, begin: u32, length: u32) -> Option<u32> {
        let block = self.block_index(piece, begin)?;
        (self.block_len(piece, block)? == length).then_some(block)
    }

    /// Payload offset of `length` bytes at `begin` in piece `piece`, when that range is
    /// non-empty and lies inside the piece (a peer's request when we seed).
    pub fn range_offset(&self, piece: u32, begin: u32, length: u32) -> Option<u64> {
        let piece_len = self.piece_len(piece)?;
        let end = u64::from(begin) + u64::from(length);
        if length == 0 || end > u64::from(piece_len) {
            return None;
        }
        Some(self.piece_offset(piece)? + u64::from(begin))
    }

    /// Bytes in the pieces of `pieces` (indices out of range count 0): what a set of verified
    /// pieces amounts to.
    pub fn bytes_in(&self, pieces: impl IntoIterator<Item = u32>) -> u64 {
        pieces
            .into_iter()
            .map(|p| u64::from(self.piece_len(p).unwrap_or(0)))
            .sum()
    }

    /// Bytes in `count` pieces that include the last piece when `with_last` is set, without
    /// walking them: `count` full pieces, minus what the short last one lacks.
    pub fn bytes_of_count(&self, count: u32, with_last: bool) -> u64 {
        let count = count.min(self.num_pieces);
        let full = u64::from(count) * u64::from(self.piece_length);
        match self.last_piece() {
            Some(last) if with_last && count > 0 => {
                let short =
                    u64::from(self.piece_length) - u64::from(self.piece_len(last).unwrap_or(0));
                full - short
            }
            _ => full,
        }
    }
}

/// A block of a piece, as a `request`, `piece`, `cancel` or `reject` message names it: what
/// the picker hands out and a connection asks its peer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: u32 = BLOCK_LEN;

    #[test]
    fn short_last_piece() {
        // 3 full pieces of 2.5 blocks and a last piece of 1 000 bytes.
        let pl = 2 * B + B / 2;
        let total = 3 * u64::from(pl) + 1_000;
        let g = Geometry::new(pl, total).unwrap();
        assert_eq!(g.num_pieces(), 4);
        assert_eq!(g.last_piece(), Some(3));
        assert_eq!(g.piece_len(0), Some(pl));
        assert_eq!(g.piece_len(2), Some(pl));
        assert_eq!(g.piece_len(3), Some(1_000));
        assert_eq!(g.piece_len(4), None);
        assert_eq!(g.piece_offset(3), Some(3 * u64::from(pl)));
        assert_eq!(g.piece_range(3), Some(3 * u64::from(pl)..total));
        assert_eq!(g.blocks_per_piece(), 3);
        assert_eq!(g.blocks_in(0), Some(3));
        assert_eq!(g.blocks_in(3), Some(1));
        assert_eq!(g.total_blocks(), 10);
        assert_eq!(g.block_len(0, 0), Some(B));
        assert_eq!(g.block_len(0, 2), Some(B / 2));
        assert_eq!(g.block_len(0, 3), None);
        assert_eq!(g.block_len(3, 0), Some(1_000));
        assert_eq!(g.block_len(3, 1), None);
        assert_eq!(g.block_offset(0, 2), Some(2 * B));
        assert_eq!(g.block_offset(3, 1), None);
        assert_eq!(g.block_index(0, 2 * B), Some(2));
        assert_eq!(g.block_index(0, 3 * B), None);
        assert_eq!(g.block_index(0, 1), None);
        assert_eq!(g.exact_block(0, 2 * B, B / 2), Some(2));
        assert_eq!(g.exact_block(0, 2 * B, B), None);
        assert_eq!(g.exact_block(3, 0, 1_000), Some(0));
        assert_eq!(g.exact_block(3, 0, B), None);
        assert_eq!(g.piece_at(total - 1), Some(3));
        assert_eq!(g.piece_at(u64::from(pl)), Some(1));
        assert_eq!(g.piece_at(total), None);
        assert_eq!(g.bytes_in([0, 3]), u64::from(pl) + 1_000);
        assert_eq!(g.bytes_in([3, 9]), 1_000);
        assert_eq!(g.bytes_of_count(2, true), u64::from(pl) + 1_000);
        assert_eq!(g.bytes_of_count(2, false), 2 * u64::from(pl));
        assert_eq!(g.bytes_of_count(4, true), total);
        assert_eq!(g.bytes_of_count(9, true), total);
        assert_eq!(g.bytes_of_count(0, true), 0);
    }

    #[test]
    fn exact_multiple() {
        let g = Geometry::new(4 * B, 8 * u64::from(B)).unwrap();
        assert_eq!(g.num_pieces(), 2);
        assert_eq!(g.piece_len(1), Some(4 * B));
        assert_eq!(g.blocks_in(1), Some(4));
        assert_eq!(g.block_len(1, 3), Some(B));
        assert_eq!(g.total_blocks(), 8);
        assert_eq!(g.bytes_of_count(2, true), 8 * u64::from(B));
        assert_eq!(g.bytes_of_count(1, true), 4 * u64::from(B));
    }

    #[test]
    fn one_piece_smaller_than_a_block() {
        let g = Geometry::new(1 << 20, 10).unwrap();
        assert_eq!(g.num_pieces(), 1);
        assert_eq!(g.piece_len(0), Some(10));
        assert_eq!(g.blocks_per_piece(), 64);
        assert_eq!(g.blocks_in(0), Some(1));
        assert_eq!(g.block_len(0, 0), Some(10));
        assert_eq!(g.total_blocks(), 1);
        assert_eq!(g.range_offset(0, 0, 10), Some(0));
        assert_eq!(g.range_offset(0, 5, 6), None);
        assert_eq!(g.range_offset(0, 9, 1), Some(9));
        assert_eq!(g.range_offset(0, 3, 0), None);
        assert_eq!(g.range_offset(1, 0, 1), None);
    }

    #[test]
    fn piece_length_not_a_multiple_of_the_block() {
        // Legal in BEP 3 though no client makes it: every piece ends in a short block.
        let g = Geometry::new(B + 1, 3 * u64::from(B + 1)).unwrap();
        assert_eq!(g.blocks_per_piece(), 2);
        assert_eq!(g.block_len(1, 1), Some(1));
        assert_eq!(g.block_offset(2, 1), Some(B));
        assert_eq!(
            g.range_offset(1, B, 1),
            Some(u64::from(B + 1) + u64::from(B))
        );
        assert_eq!(g.total_blocks(), 6);
    }

    #[test]
    fn zero_lengths() {
        assert_eq!(Geometry::new(0, 100), None);
        for g in [Geometry::new(B, 0).unwrap(), Geometry::EMPTY] {
            assert_eq!(g.num_pieces(), 0);
            assert_eq!(g.last_piece(), None);
            assert_eq!(g.piece_len(0), None);
            assert_eq!(g.blocks_in(0), None);
            assert_eq!(g.block_len(0, 0), None);
            assert_eq!(g.piece_at(0), None);
            assert_eq!(g.total_blocks(), 0);
            assert_eq!(g.range_offset(0, 0, 1), None);
            assert_eq!(g.bytes_of_count(1, true), 0);
        }
    }

    #[test]
    fn huge_totals() {
        // The largest payload with u32::MAX pieces of the largest piece length: offsets need all
        // 64 bits and nothing may wrap.
        let pl = 1u32 << 31;
        let total = u64::from(u32::MAX) * u64::from(pl);
        let g = Geometry::new(pl, total).unwrap();
        assert_eq!(g.num_pieces(), u32::MAX);
        let last = u32::MAX - 1;
        assert_eq!(g.piece_len(last), Some(pl));
        assert_eq!(g.piece_offset(last), Some(total - u64::from(pl)));
        assert_eq!(g.piece_len(u32::MAX), None);
        assert_eq!(g.block_len(last, g.blocks_per_piece() - 1), Some(B));
        assert_eq!(g.block_len(last, u32::MAX), None);
        assert_eq!(g.block_index(last, u32::MAX - u32::MAX % B), None);
        assert_eq!(g.range_offset(last, pl - 1, 1), Some(total - 1));
        assert_eq!(g.range_offset(last, u32::MAX, u32::MAX), None);
        assert_eq!(g.piece_at(total - 1), Some(last));
        assert_eq!(g.total_blocks(), u64::from(u32::MAX) * u64::from(pl / B));
        assert_eq!(g.bytes_of_count(u32::MAX, true), total);
        // One byte more needs a piece index past 32 bits.
        assert_eq!(Geometry::new(pl, total + 1), None);
        assert_eq!(Geometry::new(1, u64::MAX), None);
        // (2^64 - 1) / (2^32 - 1) = 2^32 + 1 pieces: one too many.
        assert_eq!(Geometry::new(u32::MAX, u64::MAX), None);
    }
}
