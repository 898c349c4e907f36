//! The picker's priorities (invariant 7 of `picker.rs`): which pieces are wanted and in
//! what class, set from the files' priorities (`torrent/priorities.rs`), and the order new
//! pieces are started in.

use super::{Block, Picker};
use crate::engine::api::FilePriority;

impl Picker {
    /// Recomputes the counts of invariant 7 from scratch (after a priority change).
    pub(super) fn recount(&mut self) {
        let n = self.num_pieces();
        let missing: Vec<u32> = (0..n)
            .filter(|i| !self.have.get(*i) && self.priority_of(*i).wanted())
            .collect();
        self.missing_wanted = missing.len() as u32;
        self.wanted_left = self.geometry.bytes_in(missing);
        let partial_missing: u64 = self
            .partial
            .values()
            .map(|p| p.blocks.iter().filter(|b| **b == Block::Missing).count() as u64)
            .sum();
        self.unrequested_blocks = partial_missing
            + (0..n)
                .filter(|i| self.is_fresh(*i) && self.priority_of(*i).wanted())
                .map(|i| self.blocks_in(i) as u64)
                .sum::<u64>();
        self.top = self
            .priority
            .iter()
            .copied()
            .max()
            .unwrap_or(FilePriority::Normal);
    }

    /// Missing and not started: neither verified, hashing nor partial.
    pub(super) fn is_fresh(&self, i: u32) -> bool {
        !self.have.get(i) && !self.partial.contains_key(&i) && !self.hashing.contains(&i)
    }

    pub(super) fn priority_of(&self, index: u32) -> FilePriority {
        self.priority
            .get(index as usize)
            .copied()
            .unwrap_or(FilePriority::Skip)
    }

    /// Sets every piece's priority (one per piece; missing entries count as `Skip`). A piece
    /// already in progress is finished whatever its new priority.
    pub fn set_priorities(&mut self, priority: Vec<FilePriority>) {
        let n = self.num_pieces() as usize;
        self.priority = priority;
        self.priority.resize(n, FilePriority::Skip);
        self.apply_streamed();
        self.recount();
    }

    /// Lowest index first (`on`) or rarest first; `boost` pieces (first and last of each
    /// wanted file) go before the others of their class either way.
    pub fn set_order(&mut self, sequential: bool, mut boost: Vec<u32>) {
        boost.sort_unstable();
        boost.dedup();
        self.sequential = sequential;
        self.boost = boost;
    }

    /// Every piece of a wanted file verified (pieces only in skipped files aside).
    pub fn wanted_complete(&self) -> bool {
        self.missing_wanted == 0
    }
}
