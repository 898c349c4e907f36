//! Our requests to one peer: how many to keep outstanding, topping them up, and the blocks
//! that answer them (handed on to the hash-and-write stage).

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::engine::api::PeerEnd;
use crate::engine::peer::conn::requests::Answer;
use crate::engine::peer::conn::{protocol, PeerConn, MIN_PIPELINE};
use crate::engine::peer::link::{Ask, PeerEvent};
use crate::protocol::geometry::BlockRef;
use crate::protocol::message::{encode_into, Message, BLOCK_LEN};

/// A peer that unchoked us but answers none of our requests for this long is snubbed: its
/// requests go back to the pool for others.
const SNUB_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether `room` free slots of a pipeline `depth` deep are worth a round of requests. Each
/// round costs a send and wakes us again for the peer's answer, so requests go in batches of
/// a quarter of the pipeline; a slow connection under a down limit (a pipeline shallower than
/// `MIN_PIPELINE`, about a second of data) asks for half of it at a time, where a quarter
/// would be one request per block read. Half still leaves half a second of requests with the
/// peer, so it never runs dry. (Deeper pipelines keep a quarter: batching them by half made
/// two torrents under one limit share it unevenly in tests/net/ratelimit.rs.)
pub(crate) fn worth_a_batch(room: usize, depth: usize, in_flight: usize, limited: bool) -> bool {
    let batch = if limited && depth < MIN_PIPELINE {
        depth / 2
    } else {
        depth / 4
    };
    room > 0 && (room >= batch || in_flight == 0)
}

/// How many requests a peer with `in_flight` outstanding may add in endgame, where all it can
/// get are copies of blocks in flight elsewhere. Only a peer close to running dry takes them
/// (and then a quarter of its pipeline at most): a copy queued behind a long pipeline would
/// arrive after the original, and then it is a block received twice.
pub(crate) fn endgame_room(room: usize, depth: usize, in_flight: usize) -> usize {
    let cap = (depth / 4).max(ENDGAME_MIN_BATCH);
    room.min(cap.saturating_sub(in_flight))
}

/// Requests a preempting pipeline keeps: the oldest, which the peer is likely sending already.
const KEEP_ON_PREEMPT: usize = 2;

/// Copies a peer with a shallow pipeline may still ask for at once in endgame.
const ENDGAME_MIN_BATCH: usize = 4;

impl PeerConn {
    /// The peer's `reqq` from its extended handshake: caps our outstanding requests.
    pub(super) fn set_reqq(&mut self, reqq: usize) {
        self.pacing.set_reqq(reqq);
    }

    /// Every half second: the receive rate, the pipeline depth it calls for, and snubbing.
    pub(super) fn update_rate(&mut self, now: Instant) {
        self.pacing.update(now, self.throttle.down_limited());
        // Snubbed once: the probe request it keeps is not given back each tick, so it ages
        // and endgame copies it to another peer (`picker/endgame.rs`) instead of asking the
        // silent peer anew every half second.
        // Requests a choke kept (fast extension, `on_choked`) time out the same way.
        if !self.snubbed
            && !self.requests.is_empty()
            && (!self.flags.peer_choking || self.fast)
            && now.duration_since(self.last_block) > SNUB_AFTER
        {
            self.snubbed = true;
            tracing::debug!(
                "conn {} snubbed: {} requests released",
                self.conn,
                self.requests.len()
            );
            self.release_all();
        }
    }

    fn store_in_flight(&self) {
        self.live
            .in_flight
            .store(self.requests.len() as u32, Ordering::Relaxed);
    }

    pub(super) fn release_all(&mut self) {
        if self.requests.is_empty() {
            return;
        }
        let blocks = self.requests.give_up_all();
        self.torrent.release(blocks);
        self.live.in_flight.store(0, Ordering::Relaxed);
    }

    /// The peer choked us. Without the fast extension a choke rejects every request in
    /// flight: they go back to the picker (a block already on its way is still taken, as
    /// stale). With it, a choke rejects nothing (BEP 6): the peer sends a `reject` for each
    /// request it drops and may serve the others, so they stay ours until rejected, answered
    /// or timed out (the snub rule, from now), and no other peer is asked for them meanwhile.
    /// libtorrent serves the blocks it had read before choking: released and asked again,
    /// they came twice (0.25–1 MiB of a throttled seeder's quota at a cold start).
    pub(super) fn on_choked(&mut self) {
        if self.fast {
            tracing::debug!(
                "conn {} choked us: {} requests kept until rejected (fast extension)",
                self.conn,
                self.requests.len()
            );
            self.last_block = Instant::now();
            return;
        }
        tracing::debug!(
            "conn {} choked us: {} requests released",
            self.conn,
            self.requests.len()
        );
        self.release_all();
    }

    pub(super) fn on_reject(&mut self, r: BlockRef) {
        if self.requests.rejected(r) {
            tracing::debug!("conn {} rejected {}/{}", self.conn, r.index, r.begin);
            self.torrent.release(vec![r]);
            self.store_in_flight();
        }
    }

    /// Another peer delivered this block (endgame): cancel our request for it.
    pub(super) fn cancel(&mut self, index: u32, begin: u32) {
        if let Some(r) = self.requests.cancel(index, begin) {
            self.push(&Message::Cancel {
                index,
                begin,
                length: r.length,
            });
            self.torrent.release(vec![r]);
            self.store_in_flight();
        }
    }

    /// A stream jumped to `due` (`torrent/stream.rs`). A pipeline holds about a second of
    /// requests, which the peer answers in order, so a piece asked for now would come after
    /// all of them. If the peer has a piece of `due`, the requests for other pieces are
    /// cancelled (all but the oldest `KEEP_ON_PREEMPT`, likely on the wire already) and given
    /// back to the picker, and the pipeline is filled again, `due` first. A block that crossed
    /// our cancel is still taken (`Requests` keeps it as stale).
    pub(super) fn preempt(&mut self, due: &[u32]) {
        if !due.iter().any(|i| self.peer_has.get(*i)) {
            return;
        }
        let others: Vec<BlockRef> = self
            .requests
            .iter()
            .skip(KEEP_ON_PREEMPT)
            .filter(|r| !due.contains(&r.index))
            .copied()
            .collect();
        if others.is_empty() {
            return;
        }
        tracing::debug!(
            "conn {}: a stream jumped; {} queued requests cancelled",
            self.conn,
            others.len()
        );
        for r in others {
            self.cancel(r.index, r.begin);
        }
        self.fill_pipeline();
    }

    /// Tops the request pipeline up to its depth, in batches so the picker lock is taken
    /// rarely.
    pub(crate) fn fill_pipeline(&mut self) {
        if self.paused || self.flags.peer_choking || !self.flags.am_interested {
            return;
        }
        let depth = if self.snubbed { 1 } else { self.pacing.depth() };
        let room = depth.saturating_sub(self.requests.len());
        if !worth_a_batch(
            room,
            depth,
            self.requests.len(),
            self.throttle.down_limited(),
        ) {
            return;
        }
        let mut picked = std::mem::take(&mut self.picked);
        picked.clear();
        let in_flight = &self.requests;
        let ask = Ask {
            conn: self.conn,
            has: &self.peer_has,
            room,
            endgame_room: endgame_room(room, depth, in_flight.len()),
            asked: &|r| in_flight.contains(&r),
            none_asked: in_flight.is_empty(),
        };
        let got = self.torrent.pick(ask, &mut picked);
        self.held_back = got.held_back;
        if got.nothing_wanted {
            self.set_interest(false);
        }
        for r in &picked {
            self.requests.sent(*r);
            encode_into(
                &Message::Request {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                },
                &mut self.out,
            );
        }
        self.picked = picked;
        self.store_in_flight();
    }

    /// A block arrived: it must answer one of our requests (or one we gave up on). Its bytes
    /// go to the hash-and-write stage; the picker only records that it came.
    pub(super) fn on_piece(&mut self, index: u32, begin: u32, data: Bytes) -> Result<(), PeerEnd> {
        let len = data.len() as u32;
        if len > BLOCK_LEN {
            return Err(protocol(format!("piece block of {len} bytes")));
        }
        // Every payload byte read counts against the down limit, requested or not; the next
        // message waits until it is paid for (TCP or uTP back-pressure then slows the peer).
        self.throttle.read(len as u64, tokio::time::Instant::now());
        let mut stale = false;
        let r = match self.requests.answer(index, begin, len) {
            Answer::Requested(r) => {
                self.store_in_flight();
                r
            }
            Answer::Stale(r) => {
                stale = true;
                r
            }
            Answer::WrongLength { asked } => {
                return Err(protocol(format!(
                    "piece block of {len} bytes, asked for {asked}"
                )));
            }
            Answer::Unrequested => {
                // Read and thrown away: wasted like a duplicate, though it ends the peer.
                self.torrent.wasted.fetch_add(len as u64, Ordering::Relaxed);
                return Err(protocol("unrequested piece"));
            }
        };
        self.last_block = Instant::now();
        self.snubbed = false;
        self.pacing.received(len as u64);
        self.live
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        self.torrent
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        let got = self.torrent.receive(r, data, self.conn);
        // Only a block adds to the writers' backlog, so this is where reading stops.
        self.held_back = got.held_back;
        if got.duplicate {
            tracing::debug!(
                "duplicate block {index}/{begin} from conn {}: stale {stale}, endgame {}",
                self.conn,
                got.endgame
            );
            self.torrent.wasted.fetch_add(len as u64, Ordering::Relaxed);
        }
        if got.endgame {
            self.torrent.send(PeerEvent::BlockDone {
                index,
                begin,
                conn: self.conn,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endgame_copies_go_to_a_peer_close_to_running_dry() {
        // 256 deep: a quarter (64) in all, so a peer with 200 in flight takes none.
        assert_eq!(endgame_room(56, 256, 200), 0);
        assert_eq!(endgame_room(246, 256, 10), 54);
        assert_eq!(endgame_room(256, 256, 0), 64);
        // A shallow (or snubbed) pipeline still gets a few, never more than its room.
        assert_eq!(endgame_room(16, 16, 0), 4);
        assert_eq!(endgame_room(1, 1, 0), 1);
        assert_eq!(endgame_room(15, 16, 1), 3);
    }

    #[test]
    fn requests_go_in_batches_half_a_slow_limited_pipeline() {
        // 16 deep, limited or not: a batch is 4.
        assert!(!worth_a_batch(3, 16, 13, false));
        assert!(worth_a_batch(4, 16, 12, false));
        assert!(!worth_a_batch(3, 16, 13, true));
        // Limited, 6 deep (100 KiB/s): a batch is 3, not one request per block read.
        assert!(!worth_a_batch(1, 6, 5, true));
        assert!(!worth_a_batch(2, 6, 4, true));
        assert!(worth_a_batch(3, 6, 3, true));
        // The floor of 2 still asks for each block; an empty pipeline is always refilled.
        assert!(worth_a_batch(1, 2, 1, true));
        assert!(worth_a_batch(1, 16, 0, false));
        assert!(!worth_a_batch(0, 16, 16, false));
    }
}
