//! Blocks coming back: requests released unanswered, a block received (and whether it
//! completes its piece), and whether a connection sent any.

use super::*;

impl Picker {
    /// Gives back requests that will not be answered (peer choked us, left, or was snubbed).
    pub fn release(&mut self, blocks: impl IntoIterator<Item = BlockRef>) {
        for r in blocks {
            let Some(b) = self.block_of(&r) else {
                continue;
            };
            let Some(p) = self.partial.get_mut(&r.index) else {
                continue;
            };
            if let Some(st) = p.blocks.get_mut(b) {
                if let Block::Requested(n) = *st {
                    if n <= 1 {
                        *st = Block::Missing;
                        self.unrequested_blocks += 1;
                    } else {
                        *st = Block::Requested(n - 1);
                    }
                }
            }
        }
        // A piece with nothing received and nothing requested goes back to the pool so the
        // partial set stays small.
        let before = self.partial.len();
        self.partial
            .retain(|_, p| p.received > 0 || p.blocks.iter().any(|b| *b != Block::Missing));
        if self.partial.len() != before {
            // A piece that left `partial` unwanted no longer counts its blocks (invariant 7).
            self.recount();
        }
    }

    /// Records a block that arrived. The caller has checked that it was requested from this
    /// peer and has the requested length.
    pub fn block_received(&mut self, r: BlockRef, conn: u64) -> Received {
        let Some(b) = self.block_of(&r) else {
            return Received::Duplicate;
        };
        let nblocks = self.blocks_in(r.index);
        // A late block for a piece that went back to the pool (its requests were released)
        // is still good data: take it rather than throw it away.
        if !self.partial.contains_key(&r.index)
            && r.index < self.num_pieces()
            && self.is_fresh(r.index)
            && self.priority_of(r.index).wanted()
        {
            self.partial.insert(r.index, Partial::new(nblocks as usize));
        }
        let Some(p) = self.partial.get_mut(&r.index) else {
            return Received::Duplicate;
        };
        let Some(st) = p.blocks.get_mut(b) else {
            return Received::Duplicate;
        };
        match *st {
            Block::Received => return Received::Duplicate,
            Block::Missing => self.unrequested_blocks -= 1,
            Block::Requested(_) => {}
        }
        *st = Block::Received;
        p.received += 1;
        if let Some(s) = p.senders.get_mut(b) {
            *s = Some(conn);
        }
        if !p.contributors.contains(&conn) {
            p.contributors.push(conn);
        }
        if p.received < nblocks {
            return Received::Stored;
        }
        let Some(p) = self.partial.remove(&r.index) else {
            return Received::Stored;
        };
        self.hashing.push(r.index);
        Received::Complete {
            contributors: p.contributors,
            senders: p.senders,
        }
    }

    /// True when `conn` sent a block of a piece still being received.
    pub fn sent_any(&self, conn: u64) -> bool {
        self.partial
            .values()
            .any(|p| p.senders.contains(&Some(conn)))
    }
}
