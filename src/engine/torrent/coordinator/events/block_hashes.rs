//! A failed v2 piece narrowed to its bad blocks (BEP 52). Each 16 KiB block of a v2 piece is
//! a leaf of its hash tree, so a peer that has the piece can send its block hashes, which we
//! check against the piece's hash we know (`merkle::blocks`). The blocks whose leaf, as we
//! hashed them, differs are the bad ones: their senders are banned at once, and only those
//! blocks are fetched again (the good ones are on disk and are read back for the piece's
//! hash). libtorrent does the same after a piece fails.
//!
//! While it waits for an answer the failed piece stays held (as hashing), so nothing of it is
//! requested. One request a piece, of one peer at a time, at most `MAX_WAITING` pieces: a peer
//! that does not answer within `ANSWER_WITHIN`, rejects, or leaves is replaced by another that
//! speaks v2 (and is not asked again), and when none is left the piece is fetched again whole, its
//! failed attempt kept so the bad blocks' senders are still found once it verifies (the
//! smart-ban fallback, `verify/blame.rs`). A peer whose hashes do not lead to the piece's
//! hash sent bad data and is charged a hash failure.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::engine::api::{LogLevel, PeerEnd};
use crate::engine::peer::link::PeerCmd;
use crate::engine::torrent::coordinator::Coordinator;
use crate::engine::torrent::peers::Plan;
use crate::engine::torrent::verify::blame::{block_list, Culprit};
use crate::protocol::geometry::BLOCK_LEN;
use crate::protocol::merkle::{self, proof::HashRequest, Hash};

use super::BAN_AFTER_FAILURES;

/// Failed pieces that may wait for block hashes at once; past them a failed piece is fetched
/// again whole, as before there was anyone to ask.
pub(crate) const MAX_WAITING: usize = 16;

/// How long a peer has to answer before another is asked: libtorrent answers from memory.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Peers that may be asked, and the failed pieces waiting for an answer.
///
/// Invariant: one entry in `waiting` per piece; each names the connection asked now.
#[derive(Debug, Default)]
pub(crate) struct BlockHashes {
    /// Connections whose handshake set the v2 bit: only they take hash requests (another
    /// client may end the connection over an unknown message).
    v2: HashSet<u64>,
    /// Connections that refused block hashes or let a request time out: not asked again
    /// (a ttui seed always refuses them; a client that ignores the message stays silent).
    quiet: HashSet<u64>,
    /// Connections that answered with hashes that proved: asked first.
    answered: HashSet<u64>,
    /// Connections proven to have sent bad blocks (`bad_blocks.rs`), the newest
    /// `PROVEN_KEPT`: a piece that fails with their blocks in it is fetched again for those
    /// blocks alone, without asking anyone (their other blocks were in flight when they were
    /// banned).
    proven: Vec<u64>,
    waiting: Vec<Waiting>,
}

/// Liars remembered (`BlockHashes::proven`).
const PROVEN_KEPT: usize = 64;

/// A failed piece waiting for its block hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiting {
    pub index: u32,
    pub head: HashRequest,
    /// The piece's hash (the root of its subtree) and the subtree's leaf count.
    pub hash: Hash,
    pub width: u32,
    /// The piece's leaves as we hashed them, and who sent each block.
    pub leaves: Vec<Hash>,
    pub senders: Vec<Option<u64>>,
    /// The connection asked now (0: nobody yet), and every one asked so far.
    pub conn: u64,
    pub asked: Vec<u64>,
    pub due: Instant,
}

impl BlockHashes {
    pub(crate) fn handshaken(&mut self, conn: u64, v2: bool) {
        if v2 {
            self.v2.insert(conn);
        }
    }

    /// Connection `conn` ended: it is asked nothing more, and the pieces waiting on it are
    /// handed back to be asked of another.
    pub(crate) fn ended(&mut self, conn: u64) -> Vec<Waiting> {
        self.v2.remove(&conn);
        self.quiet.remove(&conn);
        self.answered.remove(&conn);
        self.take(|w| w.conn == conn)
    }

    /// Whether another failed piece may wait.
    pub(crate) fn has_room(&self) -> bool {
        self.waiting.len() < MAX_WAITING
    }

    /// The peer to ask next among `peers` (connection, pieces it has): one that speaks v2,
    /// has pieces, has not gone quiet and was not asked for this piece yet; one that
    /// answered before first, then the one with the fewest questions still unanswered (so
    /// pieces that fail together are asked of several peers, and one that never answers
    /// holds up only its share for `ANSWER_WITHIN`), then the one with most pieces (a seed
    /// has them all), the lowest connection among equals.
    pub(crate) fn choose(
        &self,
        peers: impl Iterator<Item = (u64, u32)>,
        asked: &[u64],
    ) -> Option<u64> {
        peers
            .filter(|(c, n)| {
                *n > 0 && self.v2.contains(c) && !self.quiet.contains(c) && !asked.contains(c)
            })
            .max_by_key(|(c, n)| {
                let pending = self.waiting.iter().filter(|w| w.conn == *c).count();
                (
                    self.answered.contains(c),
                    std::cmp::Reverse(pending),
                    *n,
                    std::cmp::Reverse(*c),
                )
            })
            .map(|(c, _)| c)
    }

    /// `conn` refused, or did not answer in time: it is not asked again.
    pub(crate) fn went_quiet(&mut self, conn: u64) {
        self.quiet.insert(conn);
    }

    /// `conn` answered with hashes that proved.
    pub(crate) fn proved(&mut self, conn: u64) {
        self.answered.insert(conn);
    }

    /// `conn` is proven to have sent bad blocks.
    pub(crate) fn liar(&mut self, conn: u64) {
        if self.proven.contains(&conn) {
            return;
        }
        if self.proven.len() >= PROVEN_KEPT {
            self.proven.remove(0);
        }
        self.proven.push(conn);
    }

    /// The blocks of a failed piece that proven liars sent (`senders`: per block), when
    /// someone else sent the rest; empty otherwise.
    pub(crate) fn liars_blocks(&self, senders: &[Option<u64>]) -> Vec<u32> {
        let theirs = |s: &Option<u64>| s.is_some_and(|c| self.proven.contains(&c));
        if senders.iter().all(theirs) {
            return Vec::new();
        }
        senders
            .iter()
            .enumerate()
            .filter(|(_, s)| theirs(s))
            .map(|(b, _)| b as u32)
            .collect()
    }

    pub(crate) fn wait(&mut self, w: Waiting) {
        self.waiting.retain(|x| x.index != w.index);
        self.waiting.push(w);
    }

    /// The piece the answer of `conn` to `head` is for, if it was asked.
    pub(crate) fn answered(&mut self, conn: u64, head: &HashRequest) -> Option<Waiting> {
        self.take(|w| w.conn == conn && w.head == *head).pop()
    }

    /// The pieces whose peer did not answer by `now`; that peer has gone quiet.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Waiting> {
        let late = self.take(|w| w.due <= now);
        for w in &late {
            self.quiet.insert(w.conn);
        }
        late
    }

    fn take(&mut self, mut f: impl FnMut(&Waiting) -> bool) -> Vec<Waiting> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            if f(&self.waiting[i]) {
                out.push(self.waiting.swap_remove(i));
            } else {
                i += 1;
            }
        }
        out
    }
}

/// The senders of the `bad` blocks, each with its blocks, in order of first bad block.
pub(crate) fn culprits(bad: &[u32], senders: &[Option<u64>]) -> Vec<Culprit> {
    let mut out: Vec<Culprit> = Vec::new();
    for &b in bad {
        let Some(conn) = senders.get(b as usize).copied().flatten() else {
            continue;
        };
        match out.iter_mut().find(|c| c.conn == conn) {
            Some(c) => c.blocks.push(b),
            None => out.push(Culprit {
                conn,
                blocks: vec![b],
            }),
        }
    }
    out
}

impl Coordinator {
    /// Piece `index` failed from several senders and is held: its block hashes are asked
    /// of a peer, or (nobody to ask, no room) it is fetched again whole.
    pub(super) fn narrow_failed_piece(
        &mut self,
        index: u32,
        names: &str,
        width: u32,
        leaves: Vec<Hash>,
        senders: Vec<Option<u64>>,
        now: Instant,
    ) {
        let known = self.block_hashes.liars_blocks(&senders);
        if !known.is_empty() && self.refetch_liars_blocks(index, &known, &senders) {
            self.log(
                LogLevel::Warn,
                format!(
                    "piece {index} failed its hash check (from {names}); fetching again \
                     block{} {}, sent by a peer proven to send bad blocks",
                    if known.len() == 1 { "" } else { "s" },
                    block_list(&known)
                ),
            );
            return;
        }
        let request = self.block_request(index, width);
        if let (Some((head, hash)), true) = (request, self.block_hashes.has_room()) {
            let w = Waiting {
                index,
                head,
                hash,
                width,
                leaves,
                senders,
                conn: 0,
                asked: Vec::new(),
                due: now,
            };
            match self.ask_block_hashes(w, now) {
                Some(addr) => self.log(
                    LogLevel::Warn,
                    format!(
                        "piece {index} failed its hash check (from {names}); asking {addr} \
                         for its block hashes"
                    ),
                ),
                None => {
                    self.fail_whole(index);
                    self.log_refetch_whole(index, names);
                }
            }
            return;
        }
        self.fail_whole(index);
        self.log_refetch_whole(index, names);
    }

    fn log_refetch_whole(&mut self, index: u32, names: &str) {
        self.log(
            LogLevel::Warn,
            format!(
                "piece {index} failed its hash check (from {names}); fetching it again, to see \
                 whose blocks were bad once it verifies"
            ),
        );
    }

    /// The request for piece `index`'s block hashes and the piece's hash, when it is a v2
    /// piece of several blocks in a file we know.
    fn block_request(&self, index: u32, width: u32) -> Option<(HashRequest, Hash)> {
        let layers = self.shared.piece_layers.as_ref()?;
        let piece = self.shared.info.v2.as_ref()?.pieces.get(index as usize)?;
        let (file, in_file) = layers.piece_file(index)?;
        let head = merkle::blocks::request(file.root, file.leaves, in_file, width)?;
        Some((head, piece.hash))
    }

    /// Asks the next peer for `w`'s block hashes: whom, or None when nobody is left.
    fn ask_block_hashes(&mut self, mut w: Waiting, now: Instant) -> Option<SocketAddr> {
        let peers = self
            .peers
            .active()
            .filter_map(|p| Some((p.conn_id()?, p.pieces())));
        let conn = self.block_hashes.choose(peers, &w.asked)?;
        let p = self.peers.by_conn(conn)?;
        p.send(PeerCmd::AskHashes(w.head));
        let addr = p.addr;
        tracing::debug!(
            "piece {}: hash request (layer 0, {} at {}) sent to {addr}",
            w.index,
            w.head.length,
            w.head.index
        );
        w.conn = conn;
        w.asked.push(conn);
        w.due = now + ANSWER_WITHIN;
        self.block_hashes.wait(w);
        Some(addr)
    }

    /// A held piece is fetched again for the `bad` blocks alone; what they wasted counts
    /// now. Its failed attempt stays kept, so the piece names them again once it verifies.
    fn refetch_liars_blocks(&mut self, index: u32, bad: &[u32], senders: &[Option<u64>]) -> bool {
        let mut d = self.shared.download();
        if !d.refetch_blocks(index, bad, senders) {
            return false;
        }
        let len = d.picker.piece_len(index);
        drop(d);
        let wasted: u64 = bad
            .iter()
            .map(|b| u64::from(len.saturating_sub(b * BLOCK_LEN).min(BLOCK_LEN)))
            .sum();
        self.shared.wasted.fetch_add(wasted, Ordering::Relaxed);
        true
    }

    /// A held piece is fetched again whole: what it wasted counts now.
    fn fail_whole(&mut self, index: u32) {
        let mut d = self.shared.download();
        let len = d.picker.piece_len(index);
        d.picker.piece_failed(index);
        drop(d);
        self.shared
            .wasted
            .fetch_add(u64::from(len), Ordering::Relaxed);
    }

    /// The asked peer gave no usable answer (`why`): another is asked, or the piece is
    /// fetched again whole.
    fn ask_another(&mut self, w: Waiting, why: &str, now: Instant) {
        let index = w.index;
        match self.ask_block_hashes(w, now) {
            Some(addr) => self.log(
                LogLevel::Info,
                format!("piece {index}: {why}; asking {addr} for its block hashes"),
            ),
            None => {
                self.fail_whole(index);
                self.log(
                    LogLevel::Warn,
                    format!(
                        "piece {index}: {why}; fetching it again whole, to see whose blocks \
                         were bad once it verifies"
                    ),
                );
            }
        }
    }

    pub(super) fn on_hash_reject(&mut self, conn: u64, head: HashRequest, now: Instant) {
        let Some(w) = self.block_hashes.answered(conn, &head) else {
            return;
        };
        self.block_hashes.went_quiet(conn);
        let who = self.sender(conn).unwrap_or_else(|| "the peer".into());
        self.ask_another(w, &format!("{who} refused its block hashes"), now);
    }

    pub(super) fn on_block_hashes(
        &mut self,
        conn: u64,
        head: HashRequest,
        hashes: Bytes,
        now: Instant,
    ) {
        let Some(w) = self.block_hashes.answered(conn, &head) else {
            tracing::debug!("conn {conn}: unasked hashes dropped");
            return;
        };
        let index = w.index;
        let who = self.sender(conn).unwrap_or_else(|| "the peer".into());
        let bad = match merkle::blocks::bad_blocks(&w.hash, w.width, &hashes, &w.leaves) {
            Ok(bad) => {
                self.block_hashes.proved(conn);
                bad
            }
            Err(e) => {
                self.log(
                    LogLevel::Warn,
                    format!("piece {index}: block hashes from {who} refused ({e})"),
                );
                self.charge_bad_hashes(conn);
                return self.ask_another(w, &format!("{who}'s block hashes were bad"), now);
            }
        };
        let refetched = !bad.is_empty()
            && self
                .shared
                .download()
                .refetch_blocks(index, &bad, &w.senders);
        if !refetched {
            // Every block as the peer proved it, yet the piece failed: nothing to narrow.
            self.fail_whole(index);
            self.log(
                LogLevel::Warn,
                format!(
                    "piece {index}: its block hashes from {who} name no bad block; fetching \
                     it again whole"
                ),
            );
            return;
        }
        // Proven: the failed attempt kept for the fallback has nothing more to tell.
        self.shared.download().take_failed(index);
        let wasted: u64 = {
            let d = self.shared.download();
            let len = d.picker.piece_len(index);
            bad.iter()
                .map(|b| u64::from(len.saturating_sub(b * BLOCK_LEN).min(BLOCK_LEN)))
                .sum()
        };
        self.shared.wasted.fetch_add(wasted, Ordering::Relaxed);
        let found = culprits(&bad, &w.senders);
        if found.is_empty() {
            self.log(
                LogLevel::Warn,
                format!(
                    "piece {index}: block{} {} failed (from a peer already forgotten); \
                     fetching those again",
                    if bad.len() == 1 { "" } else { "s" },
                    block_list(&bad)
                ),
            );
        }
        self.blame_bad_blocks(index, found, "fetching those again");
    }

    /// A peer whose block hashes did not prove: charged as a sender of a bad piece.
    fn charge_bad_hashes(&mut self, conn: u64) {
        let Some(p) = self.peers.by_conn(conn) else {
            return;
        };
        p.known.hash_failures += 1;
        let (addr, n) = (p.addr, p.known.hash_failures);
        if n >= BAN_AFTER_FAILURES && p.dial.plan != Plan::Banned {
            p.dial.plan = Plan::Banned;
            p.send(PeerCmd::Disconnect(PeerEnd::HashFailures(n.div_ceil(2))));
            self.journal_peer(addr.ip(), false, "repeated hash failures");
            self.log(
                LogLevel::Warn,
                format!("banned {addr}: repeated hash failures"),
            );
        }
    }

    /// Once a second: peers that did not answer in time are replaced.
    pub(crate) fn block_hashes_tick(&mut self, now: Instant) {
        for w in self.block_hashes.expired(now) {
            let who = self.sender(w.conn).unwrap_or_else(|| "the peer".into());
            self.ask_another(w, &format!("{who} sent no block hashes in time"), now);
        }
    }

    /// Connection `conn` ended: pieces waiting on it ask another.
    pub(super) fn block_hashes_gone(&mut self, conn: u64, now: Instant) {
        for w in self.block_hashes.ended(conn) {
            let who = self.sender(conn).unwrap_or_else(|| "the peer".into());
            self.ask_another(w, &format!("{who} left before sending block hashes"), now);
        }
    }
}

#[cfg(test)]
mod tests;
