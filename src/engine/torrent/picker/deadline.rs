//! Piece deadlines: the pieces open streams need now (`torrent/stream.rs`), fetched before
//! any other whatever their class, rarity or the partial-piece limit (a window is a few
//! pieces). Picking them first is the whole mechanism: a seek gives a new list, whose pieces
//! the next request of every peer goes to, and the old window's pieces go back to the
//! torrent's own order. A skipped piece on the list is fetched: it becomes `Low` (wanted, so
//! invariant 7 counts it) for as long as the picker lives, whatever the files' priorities say
//! later, since a player may read it again.

use super::{Block, Partial, Picker};
use crate::engine::api::FilePriority;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::{BlockRef, BLOCK_LEN};

impl Picker {
    /// Sets the pieces due now, the most urgent first (indices past the last piece and
    /// repeats are left out).
    pub fn set_deadlines(&mut self, urgent: Vec<u32>) {
        let n = self.num_pieces();
        let mut list: Vec<u32> = Vec::with_capacity(urgent.len());
        let mut unskipped = false;
        for i in urgent {
            if i >= n || list.contains(&i) {
                continue;
            }
            if !self.priority_of(i).wanted() {
                self.streamed.push(i);
                unskipped = true;
            }
            list.push(i);
        }
        self.urgent = list;
        if unskipped {
            self.streamed.sort_unstable();
            self.streamed.dedup();
            self.apply_streamed();
            self.recount();
        }
    }

    /// The blocks of `pieces` requested and not received yet.
    pub fn requested_in(&self, pieces: &[u32]) -> Vec<BlockRef> {
        let mut out = Vec::new();
        for &index in pieces {
            let Some(p) = self.partial.get(&index) else {
                continue;
            };
            for (b, st) in p.blocks.iter().enumerate() {
                if matches!(st, Block::Requested(_)) {
                    let block = b as u32;
                    out.push(BlockRef {
                        index,
                        begin: block * BLOCK_LEN,
                        length: self.block_len(index, block),
                    });
                }
            }
        }
        out
    }

    /// The pieces due now, the most urgent first.
    pub fn deadlines(&self) -> &[u32] {
        &self.urgent
    }

    /// Skipped pieces a stream read are wanted (`Low`) in `priority`.
    pub(super) fn apply_streamed(&mut self) {
        for i in &self.streamed {
            if let Some(p) = self.priority.get_mut(*i as usize) {
                *p = (*p).max(FilePriority::Low);
            }
        }
    }

    /// Step 0 of `pick`: the blocks of the pieces due now that `peer` has, most urgent first.
    pub(super) fn pick_urgent(
        &mut self,
        peer: &Bitfield,
        max: usize,
        mine: &dyn Fn(BlockRef) -> bool,
        out: &mut Vec<BlockRef>,
    ) {
        for k in 0..self.urgent.len() {
            if out.len() >= max {
                return;
            }
            let i = self.urgent[k];
            if !peer.get(i) || !self.priority_of(i).wanted() {
                continue;
            }
            if self.is_fresh(i) {
                let blocks = self.blocks_in(i) as usize;
                self.partial.insert(i, Partial::new(blocks));
            }
            if self.partial.contains_key(&i) {
                self.take_missing(i, max, mine, out);
            }
        }
    }
}
