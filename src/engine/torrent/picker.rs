//! Piece and block state for one torrent, and the choice of what to request next.
//!
//! Invariants (checked by `debug_check` in tests; every method keeps them):
//! 1. A piece is in exactly one of: verified (`have`), hashing (`hashing`), in progress
//!    (`partial`), or missing (none of those).
//! 2. A partial piece's `received` equals the number of `Block::Received` entries. When
//!    `received` reaches the block count the piece leaves `partial` for `hashing` in the same
//!    call, so a complete piece is never requestable. The picker holds no block bytes: they
//!    go to the writers (`download.rs`, `verify.rs`), whose queues share this lock.
//! 3. `Block::Requested(n)` counts outstanding requests for that block across all peers
//!    (n > 1 only in endgame or in a piece a stream needs now, and n <= `ENDGAME_COPIES`). Every request a peer task tracks in flight was counted here and
//!    is given back through `release` or consumed by `block_received`.
//! 4. `unrequested_blocks` is the number of blocks of missing and partial pieces that nobody
//!    has requested; zero means endgame.
//! 5. `have` grows, but for one way out: a verified piece whose data is gone from disk
//!    (`piece_lost`: a read to upload it found its file short or missing) is missing again.
//!    A piece that fails its hash goes from `hashing` back to missing and is marked `failed`
//!    for the UI.
//! 6. `availability[i]` is the number of connected peers that have piece `i`; a peer task adds
//!    its pieces when it learns them and removes them all when it ends.
//!
//! 7. `missing_wanted` is the number of pieces with a priority above `Skip` that are not in
//!    `have`; `unrequested_blocks` counts the blocks of partial pieces and of missing wanted
//!    ones, so a piece only in skipped files is never requested and never holds up endgame.
//!
//! Lock rule: the picker lives in a std Mutex inside `Shared` (with the block buffers, see
//! `download::Download`); nobody holds it across `.await`.

use std::collections::HashMap;

use rand::Rng;

use crate::engine::api::{FilePriority, PieceState};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::BlockRef;
use crate::protocol::geometry::{Geometry, BLOCK_LEN};

/// How many pieces we pick at random before switching to rarest-first: a new peer then has
/// something to trade quickly (the BitTorrent "random first piece" policy).
const RANDOM_FIRST: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Missing,
    Requested(u8),
    Received,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<Block>,
    received: u32,
    /// Connection ids that contributed at least one block, for hash-failure accounting.
    contributors: Vec<u64>,
    /// Per block: the connection whose copy was stored (the first to arrive), so a piece
    /// that fails can later name who sent which block (`verify/blame.rs`).
    senders: Vec<Option<u64>>,
    /// Per block: when it was requested, meaningful while it is `Requested`. Endgame copies
    /// only late requests, the newest first (`picker/endgame.rs`).
    asked: Vec<endgame::Asked>,
}

impl Partial {
    fn new(blocks: usize) -> Partial {
        Partial {
            blocks: vec![Block::Missing; blocks],
            received: 0,
            contributors: Vec::new(),
            senders: vec![None; blocks],
            asked: vec![endgame::Asked::default(); blocks],
        }
    }
}

#[derive(Debug)]
pub enum Received {
    /// Already had it (endgame duplicate, or the piece was finished meanwhile).
    Duplicate,
    Stored,
    /// The last block of a piece: it now waits for its hash check.
    Complete {
        contributors: Vec<u64>,
        /// Per block of the piece, who sent the copy that was stored.
        senders: Vec<Option<u64>>,
    },
}

#[derive(Debug)]
pub struct Picker {
    geometry: Geometry,
    have: Bitfield,
    failed: Vec<bool>,
    availability: Vec<u16>,
    partial: HashMap<u32, Partial>,
    hashing: Vec<u32>,
    /// Blocks not yet requested by anyone, over pieces that are missing or partial.
    /// Zero means every remaining block is in flight: endgame.
    unrequested_blocks: u64,
    max_partial: usize,
    /// Per piece: the highest priority of the files it overlaps (`files.rs`).
    priority: Vec<FilePriority>,
    missing_wanted: u32,
    /// Bytes of those pieces, kept so `left` costs nothing each tick.
    wanted_left: u64,
    /// The highest priority any piece has: a candidate of that class can end the search.
    top: FilePriority,
    /// Lowest index first instead of rarest first.
    sequential: bool,
    /// Counts requests of blocks from `partial`: the next one's `Partial::asked` number.
    stamp: u64,
    /// How long a request waits before endgame may ask another peer too.
    endgame_late: std::time::Duration,
    /// Pieces fetched before any other of their class (first and last of each wanted file,
    /// for previews), sorted.
    boost: Vec<u32>,
    /// Pieces open streams need now, the most urgent first (`picker/deadline.rs`).
    urgent: Vec<u32>,
    /// Pieces of skipped files a stream asked for: wanted from then on, sorted.
    streamed: Vec<u32>,
}

impl Picker {
    /// A picker for `total_length` bytes in pieces of `piece_length` (kept for callers that
    /// have no `Geometry` at hand; `num_pieces` must match it).
    pub fn new(num_pieces: u32, piece_length: u32, total_length: u64, have: Bitfield) -> Self {
        let geometry = Geometry::new(piece_length, total_length).unwrap_or(Geometry::EMPTY);
        debug_assert_eq!(geometry.num_pieces(), num_pieces);
        Self::with_geometry(geometry, have)
    }

    /// A picker for the pieces of `geometry`, of which `have` are verified already.
    pub fn with_geometry(geometry: Geometry, have: Bitfield) -> Self {
        let num_pieces = have.len();
        let mut p = Picker {
            geometry,
            failed: vec![false; num_pieces as usize],
            availability: vec![0; num_pieces as usize],
            partial: HashMap::new(),
            hashing: Vec::new(),
            unrequested_blocks: 0,
            have,
            max_partial: 64,
            priority: vec![FilePriority::Normal; num_pieces as usize],
            missing_wanted: 0,
            wanted_left: 0,
            top: FilePriority::Normal,
            sequential: false,
            boost: Vec::new(),
            urgent: Vec::new(),
            streamed: Vec::new(),
            stamp: 0,
            endgame_late: endgame::ENDGAME_LATE,
        };
        p.recount();
        p
    }

    pub fn num_pieces(&self) -> u32 {
        self.have.len()
    }

    pub fn piece_len(&self, index: u32) -> u32 {
        self.geometry.piece_len(index).unwrap_or(0)
    }

    /// Blocks in piece `index` (0 for no such piece).
    pub fn blocks_in(&self, index: u32) -> u32 {
        self.geometry.blocks_in(index).unwrap_or(0)
    }

    fn block_len(&self, index: u32, block: u32) -> u32 {
        self.geometry.block_len(index, block).unwrap_or(0)
    }

    /// The block `r` starts, when it is on a block boundary inside its piece.
    fn block_of(&self, r: &BlockRef) -> Option<usize> {
        self.geometry
            .block_index(r.index, r.begin)
            .map(|b| b as usize)
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Nothing left to fetch: every wanted piece verified (skipped ones may be missing).
    pub fn is_complete(&self) -> bool {
        self.wanted_complete()
    }

    pub fn verified_bytes(&self) -> u64 {
        let with_last = self
            .geometry
            .last_piece()
            .is_some_and(|last| self.have.get(last));
        self.geometry.bytes_of_count(self.have.count(), with_last)
    }

    /// Bytes of wanted pieces still missing (what a tracker's `left` means).
    pub fn left(&self) -> u64 {
        self.wanted_left
    }

    pub fn in_endgame(&self) -> bool {
        self.unrequested_blocks == 0 && !self.wanted_complete()
    }

    /// Limits the pieces in progress (each holds up to a piece of memory until verified).
    pub fn set_max_partial(&mut self, n: usize) {
        self.max_partial = n.max(2);
    }

    // --- availability -------------------------------------------------------------------

    pub fn add_availability(&mut self, index: u32) {
        if let Some(a) = self.availability.get_mut(index as usize) {
            *a = a.saturating_add(1);
        }
    }

    pub fn remove_availability(&mut self, index: u32) {
        if let Some(a) = self.availability.get_mut(index as usize) {
            *a = a.saturating_sub(1);
        }
    }

    pub fn add_bitfield(&mut self, bf: &Bitfield) {
        for i in bf.ones() {
            self.add_availability(i);
        }
    }

    pub fn remove_bitfield(&mut self, bf: &Bitfield) {
        for i in bf.ones() {
            self.remove_availability(i);
        }
    }

    pub fn availability(&self) -> &[u16] {
        &self.availability
    }

    /// True when the peer has a piece we still need.
    pub fn wants_any(&self, peer: &Bitfield) -> bool {
        if self.wanted_complete() {
            return false;
        }
        if peer.is_complete() {
            return true;
        }
        peer.ones().any(|i| self.wants(i))
    }

    pub fn wants(&self, index: u32) -> bool {
        index < self.num_pieces() && !self.have.get(index) && self.priority_of(index).wanted()
    }

    // --- picking ------------------------------------------------------------------------

    /// Picks up to `max` blocks for a peer that has `peer` pieces; `mine` are the blocks this
    /// peer already has in flight (endgame never duplicates onto the same peer).
    pub fn pick(
        &mut self,
        peer: &Bitfield,
        max: usize,
        mine: &dyn Fn(BlockRef) -> bool,
        out: &mut Vec<BlockRef>,
    ) {
        if max == 0 || self.wanted_complete() {
            return;
        }
        // 0. What open streams need now, before anything else; and a block of theirs that
        //    waits late on another peer is asked of this one too, as endgame does at the end
        //    of a download: a player must not wait on the slowest peer's queue.
        self.pick_urgent(peer, max, mine, out);
        if out.len() < max && !self.urgent.is_empty() {
            let urgent: Vec<u32> = self
                .urgent
                .iter()
                .copied()
                .filter(|i| peer.get(*i))
                .collect();
            self.pick_endgame(&urgent, max, mine, out, std::time::Instant::now());
        }
        if out.len() >= max {
            return;
        }
        // 1. Finish pieces already started, so memory and partial pieces stay few.
        let mut started: Vec<u32> = self
            .partial
            .keys()
            .copied()
            .filter(|i| peer.get(*i))
            .collect();
        started.sort_unstable();
        for index in &started {
            self.take_missing(*index, max, mine, out);
            if out.len() >= max {
                return;
            }
        }
        // 2. Start new pieces, rarest first after a few random ones.
        while out.len() < max && self.partial.len() + self.hashing.len() < self.max_partial {
            let Some(index) = self.choose_new(peer) else {
                break;
            };
            let blocks = self.blocks_in(index) as usize;
            self.partial.insert(index, Partial::new(blocks));
            self.take_missing(index, max, mine, out);
        }
        // 3. Endgame: every block is requested; ask this peer too for blocks in flight elsewhere.
        if out.len() < max && self.unrequested_blocks == 0 {
            self.pick_endgame(&started, max, mine, out, std::time::Instant::now());
        }
    }

    /// Reserves every block of one piece nobody has started, for a source that fetches whole
    /// pieces (a web seed); `None` when no such piece is left. Released like a peer's requests.
    pub fn claim_piece(&mut self, out: &mut Vec<BlockRef>) -> Option<u32> {
        if self.wanted_complete() {
            return None;
        }
        let index = self.choose_new(&Bitfield::full(self.num_pieces()))?;
        let blocks = self.blocks_in(index) as usize;
        self.partial.insert(index, Partial::new(blocks));
        self.take_missing(index, usize::MAX, &|_| false, out);
        Some(index)
    }

    /// Requests the missing blocks of piece `index`, but none the peer still has in flight
    /// (`mine`): a piece that failed its check is missing again while a request of its first
    /// try may still wait at that peer, and a block is asked of a peer once.
    fn take_missing(
        &mut self,
        index: u32,
        max: usize,
        mine: &dyn Fn(BlockRef) -> bool,
        out: &mut Vec<BlockRef>,
    ) {
        let nblocks = self.blocks_in(index);
        let last_len = self.block_len(index, nblocks - 1);
        let Some(p) = self.partial.get_mut(&index) else {
            return;
        };
        let now = std::time::Instant::now();
        for (b, st) in p.blocks.iter_mut().enumerate() {
            if out.len() >= max {
                return;
            }
            if *st == Block::Missing {
                let b32 = b as u32;
                let length = if b32 + 1 == nblocks {
                    last_len
                } else {
                    BLOCK_LEN
                };
                let r = BlockRef {
                    index,
                    begin: b32 * BLOCK_LEN,
                    length,
                };
                if mine(r) {
                    continue;
                }
                *st = Block::Requested(1);
                if let Some(a) = p.asked.get_mut(b) {
                    *a = endgame::Asked {
                        seq: self.stamp,
                        at: Some(now),
                    };
                }
                self.stamp += 1;
                self.unrequested_blocks -= 1;
                out.push(r);
            }
        }
    }

    /// The next piece to start: the highest priority class first; within it the boosted
    /// pieces, then the lowest index (sequential) or the rarest (after a few random ones).
    fn choose_new(&self, peer: &Bitfield) -> Option<u32> {
        let n = self.num_pieces();
        if n == 0 {
            return None;
        }
        let candidate = |i: u32| peer.get(i) && self.is_fresh(i);
        let random = !self.sequential && self.have.count() < RANDOM_FIRST;
        let start = if self.sequential {
            0
        } else {
            rand::thread_rng().gen_range(0..n)
        };
        // Smaller is better: (class from the top, not boosted, index or availability).
        let mut best: Option<((u8, bool, u32), u32)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            let prio = self.priority_of(i);
            if !prio.wanted() || !candidate(i) {
                continue;
            }
            let boosted = self.boost.binary_search(&i).is_ok();
            let rank = if self.sequential {
                i
            } else if random {
                0
            } else {
                u32::from(self.availability[i as usize])
            };
            let key = (self.top as u8 - prio as u8, !boosted, rank);
            if best.is_none_or(|(b, _)| key < b) {
                best = Some((key, i));
                // Nothing can beat it: top class, boosted or nothing boosted left to find,
                // and first in order (sequential and random) or as rare as it gets.
                let boost_done = boosted || self.boost.is_empty();
                if key.0 == 0 && boost_done && (self.sequential || random || rank <= 1) {
                    break;
                }
            }
        }
        best.map(|(_, i)| i)
    }

    pub fn piece_verified(&mut self, index: u32) {
        self.hashing.retain(|i| *i != index);
        if index < self.num_pieces() && !self.have.get(index) {
            self.have.set(index);
            if self.priority_of(index).wanted() {
                self.missing_wanted = self.missing_wanted.saturating_sub(1);
                self.wanted_left = self
                    .wanted_left
                    .saturating_sub(u64::from(self.piece_len(index)));
            }
        }
    }

    /// Verified piece `index` is no longer on disk: missing again, and fetched again when
    /// wanted. False (nothing changed) when it was not verified.
    pub fn piece_lost(&mut self, index: u32) -> bool {
        if !self.have.get(index) {
            return false;
        }
        self.have.clear(index);
        if self.priority_of(index).wanted() {
            self.missing_wanted += 1;
            self.wanted_left += u64::from(self.piece_len(index));
            self.unrequested_blocks += u64::from(self.blocks_in(index));
        }
        true
    }

    /// A piece that failed its hash check: missing again, and shown as a bad hash.
    pub fn piece_failed(&mut self, index: u32) {
        if let Some(f) = self.failed.get_mut(index as usize) {
            *f = true;
        }
        self.piece_unwritten(index);
    }

    /// A piece whose blocks could not all be written (a full disk, a write error): missing
    /// again and fetched again, as a failed one, but not shown as a bad hash, for its data
    /// was never checked.
    pub fn piece_unwritten(&mut self, index: u32) {
        self.hashing.retain(|i| *i != index);
        if self.priority_of(index).wanted() {
            self.unrequested_blocks += self.blocks_in(index) as u64;
        }
    }

    /// A failed piece held as hashing whose bad blocks are known (a v2 piece narrowed by a
    /// peer's block hashes): it becomes partial again with only the `bad` blocks missing; the
    /// others stay received, from their `senders` (per block), as they are on disk and good.
    /// False (nothing changed) when the piece is not held or no bad block lies inside it:
    /// the caller fails it whole.
    pub fn refetch_blocks(&mut self, index: u32, bad: &[u32], senders: &[Option<u64>]) -> bool {
        let n = self.blocks_in(index);
        if !self.hashing.contains(&index) || !bad.iter().any(|b| *b < n) {
            return false;
        }
        self.hashing.retain(|i| *i != index);
        if let Some(f) = self.failed.get_mut(index as usize) {
            *f = true;
        }
        let mut p = Partial::new(n as usize);
        for b in 0..n as usize {
            if bad.contains(&(b as u32)) {
                continue;
            }
            p.blocks[b] = Block::Received;
            p.received += 1;
            let sender = senders.get(b).copied().flatten();
            p.senders[b] = sender;
            if let Some(c) = sender.filter(|c| !p.contributors.contains(c)) {
                p.contributors.push(c);
            }
        }
        // A partial piece's missing blocks count whatever its priority (invariant 7).
        self.unrequested_blocks += u64::from(n - p.received);
        self.partial.insert(index, p);
        true
    }

    /// True while this block is still wanted (not received, piece not complete).
    pub fn block_wanted(&self, r: BlockRef) -> bool {
        if self.have.get(r.index) || self.hashing.contains(&r.index) {
            return false;
        }
        match self.partial.get(&r.index) {
            Some(p) => self
                .block_of(&r)
                .and_then(|b| p.blocks.get(b))
                .is_some_and(|b| *b != Block::Received),
            None => self.wants(r.index),
        }
    }

    pub fn piece_states(&self, out: &mut Vec<PieceState>) {
        out.clear();
        out.extend((0..self.num_pieces()).map(|i| {
            if self.have.get(i) {
                PieceState::Verified
            } else if self.partial.contains_key(&i) || self.hashing.contains(&i) {
                PieceState::InFlight
            } else if self.failed[i as usize] {
                PieceState::Failed
            } else {
                PieceState::Missing
            }
        }));
    }

    #[cfg(test)]
    fn debug_check(&self) {
        let mut unreq = 0u64;
        for i in 0..self.num_pieces() {
            let states = [
                self.have.get(i),
                self.hashing.contains(&i),
                self.partial.contains_key(&i),
            ];
            assert!(
                states.iter().filter(|s| **s).count() <= 1,
                "piece {i} in two states"
            );
            if let Some(p) = self.partial.get(&i) {
                let rec = p.blocks.iter().filter(|b| **b == Block::Received).count() as u32;
                assert_eq!(rec, p.received);
                assert!(p.received < self.blocks_in(i));
                assert!(p
                    .blocks
                    .iter()
                    .all(|b| !matches!(b, Block::Requested(n) if *n > endgame::ENDGAME_COPIES)));
                unreq += p.blocks.iter().filter(|b| **b == Block::Missing).count() as u64;
            } else if !states[0] && !states[1] && self.priority_of(i).wanted() {
                unreq += self.blocks_in(i) as u64;
            }
        }
        assert_eq!(unreq, self.unrequested_blocks);
        let missing = (0..self.num_pieces())
            .filter(|i| !self.have.get(*i) && self.priority_of(*i).wanted())
            .count() as u32;
        assert_eq!(missing, self.missing_wanted);
    }
}

mod prio;
mod received;

mod deadline;

mod endgame;

#[cfg(test)]
mod tests;
