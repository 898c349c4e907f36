//! Block states and block bytes of one torrent, behind one lock (`Shared::download`). The
//! bytes wait here, not in the picker, until their piece is whole; then they go to the
//! hash-and-write job (`verify.rs`). Recording a block and storing it take one lock, as when
//! the picker held the bytes, so the download path takes no extra lock.

use std::collections::HashMap;

use bytes::Bytes;

use crate::engine::picker::{self, BlockRef, Picker};
use crate::protocol::message::BLOCK_LEN;

/// Blocks of the pieces being received, by piece and block.
#[derive(Debug, Default)]
pub(crate) struct PieceBuffers {
    pieces: HashMap<u32, Vec<Option<Bytes>>>,
}

impl PieceBuffers {
    fn put(&mut self, r: BlockRef, blocks_in_piece: u32, data: Bytes) {
        let slots = self
            .pieces
            .entry(r.index)
            .or_insert_with(|| vec![None; blocks_in_piece as usize]);
        if let Some(slot) = slots.get_mut((r.begin / BLOCK_LEN) as usize) {
            *slot = Some(data);
        }
    }

    /// The piece's blocks in order. A missing block (which the picker's bookkeeping rules
    /// out) leaves a short piece that fails its hash and is fetched again.
    fn take(&mut self, index: u32) -> Vec<Bytes> {
        self.pieces
            .remove(&index)
            .map(|v| v.into_iter().flatten().collect())
            .unwrap_or_default()
    }

    #[cfg(test)]
    #[cfg(test)]
    pub(crate) fn pieces(&self) -> usize {
        self.pieces.len()
    }
}

/// What a received block led to.
#[derive(Debug)]
pub(crate) enum Received {
    /// Already had it (endgame duplicate, or the piece was finished meanwhile).
    Duplicate,
    Stored,
    /// The last block of a piece: its blocks in order, ready for hashing.
    PieceComplete {
        blocks: Vec<Bytes>,
        contributors: Vec<u64>,
    },
}

/// Block states and block bytes of one torrent, behind one lock (`Shared::download`).
#[derive(Debug)]
pub(crate) struct Download {
    pub picker: Picker,
    pub buffers: PieceBuffers,
}

impl Download {
    pub(crate) fn new(picker: Picker) -> Self {
        Download {
            picker,
            buffers: PieceBuffers::default(),
        }
    }

    /// Records a block that arrived and keeps its bytes until the piece is whole. The caller
    /// has checked that it was requested from this peer and has the requested length.
    pub(crate) fn receive(&mut self, r: BlockRef, data: Bytes, conn: u64) -> Received {
        let blocks = self.picker.blocks_in(r.index);
        match self.picker.block_received(r, conn) {
            picker::Received::Duplicate => Received::Duplicate,
            picker::Received::Stored => {
                self.buffers.put(r, blocks, data);
                Received::Stored
            }
            picker::Received::Complete { contributors } => {
                self.buffers.put(r, blocks, data);
                Received::PieceComplete {
                    blocks: self.buffers.take(r.index),
                    contributors,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::bitfield::Bitfield;

    #[test]
    fn bytes_wait_here_until_the_piece_is_whole() {
        // One piece of three blocks, the last one short.
        let len = 2 * BLOCK_LEN + 10;
        let mut d = Download::new(Picker::new(1, len, len as u64, Bitfield::new(1)));
        let mut want = Vec::new();
        d.picker.pick(&Bitfield::full(1), 10, &|_| false, &mut want);
        assert_eq!(want.len(), 3);
        let block = |r: &BlockRef| Bytes::from(vec![r.begin as u8 + 1; r.length as usize]);
        // Out of order, from two peers.
        assert!(matches!(
            d.receive(want[2], block(&want[2]), 1),
            Received::Stored
        ));
        assert!(matches!(
            d.receive(want[0], block(&want[0]), 2),
            Received::Stored
        ));
        assert_eq!(d.buffers.pieces(), 1);
        assert!(matches!(
            d.receive(want[0], block(&want[0]), 2),
            Received::Duplicate
        ));
        match d.receive(want[1], block(&want[1]), 1) {
            Received::PieceComplete {
                blocks,
                mut contributors,
            } => {
                let lens: Vec<usize> = blocks.iter().map(|b| b.len()).collect();
                assert_eq!(lens, vec![BLOCK_LEN as usize, BLOCK_LEN as usize, 10]);
                assert_eq!(blocks[1][0], block(&want[1])[0]);
                contributors.sort();
                assert_eq!(contributors, vec![1, 2]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.buffers.pieces(), 0, "nothing is left behind");
    }
}
