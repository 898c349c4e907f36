//! Endgame (invariant 4 of `picker.rs`): every remaining block is requested, and a peer with
//! room asks for blocks that are in flight elsewhere, so one slow peer does not hold up the
//! end of the download.
//!
//! Each copy costs a block's bytes when both answers arrive, so copies are few: only of a
//! request that is late (`ENDGAME_LATE`: a pipeline is about a second of data, so a request
//! older than that waits on a peer slower than it was), at most one extra per block
//! (`ENDGAME_COPIES`), and the newest late requests first. Peers that keep up deliver the
//! last blocks without copies: on loopback, where every pipeline sits in socket buffers, a
//! copy made at once was almost always a block received twice. A peer sends our
//! requests in the order it got them, so the newest are the ones the other peer reaches
//! last: the copy fetches them from the other end of its queue, and when a copy arrives the
//! other request is cancelled (`Event::BlockDone`) while the peer has not sent it yet. The
//! oldest requests are the ones already in the peer's send buffer, where a cancel comes too
//! late and both copies arrive. How much a peer takes is capped by its caller
//! (`pipeline::endgame_room`): only a peer that has nearly run dry takes copies.

use std::time::{Duration, Instant};

use super::{Block, BlockRef, Picker};
use crate::protocol::geometry::BLOCK_LEN;

/// Most outstanding requests for one block in endgame: the first and one copy.
pub(super) const ENDGAME_COPIES: u8 = 2;

/// A request this old is late: endgame may ask another peer for its block too.
pub(super) const ENDGAME_LATE: Duration = Duration::from_secs(1);

/// When a block was requested: `seq` orders requests (ties of `at` included), `at` is `None`
/// before the first.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Asked {
    pub(super) seq: u64,
    pub(super) at: Option<Instant>,
}

impl Picker {
    /// How long a request waits before endgame copies it (tests make it 0).
    #[cfg(test)]
    pub(crate) fn set_endgame_late(&mut self, late: Duration) {
        self.endgame_late = late;
    }

    /// Adds to `out`, up to `max` in all, copies of blocks in flight at other peers in the
    /// `started` pieces (those this peer has) that are late at `now`, the most recently
    /// requested first.
    pub(super) fn pick_endgame(
        &mut self,
        started: &[u32],
        max: usize,
        mine: &dyn Fn(BlockRef) -> bool,
        out: &mut Vec<BlockRef>,
        now: Instant,
    ) {
        // (first asked, piece, block): at most a few thousand (`max_partial` pieces).
        let mut copyable: Vec<(u64, u32, u32)> = Vec::new();
        for &index in started {
            let Some(p) = self.partial.get(&index) else {
                continue;
            };
            for (b, st) in p.blocks.iter().enumerate() {
                if let Block::Requested(n) = *st {
                    let asked = p.asked.get(b).copied().unwrap_or_default();
                    let late = asked
                        .at
                        .is_some_and(|t| now.saturating_duration_since(t) >= self.endgame_late);
                    if n < ENDGAME_COPIES && late {
                        copyable.push((asked.seq, index, b as u32));
                    }
                }
            }
        }
        copyable.sort_unstable_by(|x, y| y.cmp(x));
        for (_, index, b) in copyable {
            if out.len() >= max {
                return;
            }
            let r = BlockRef {
                index,
                begin: b * BLOCK_LEN,
                length: self.block_len(index, b),
            };
            // `out` holds what this call took already: never ask one peer twice.
            if mine(r) || out.contains(&r) {
                continue;
            }
            let Some(st) = self
                .partial
                .get_mut(&index)
                .and_then(|p| p.blocks.get_mut(b as usize))
            else {
                continue;
            };
            if let Block::Requested(n) = *st {
                *st = Block::Requested(n + 1);
                out.push(r);
            }
        }
    }
}
