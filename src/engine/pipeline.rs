//! Our requests to one peer: how many to keep outstanding, topping them up, and the blocks
//! that answer them (handed on to the hash-and-write stage).

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use crate::engine::api::PeerEnd;
use crate::engine::conn::{protocol, PeerConn, LIMITED_MIN_PIPELINE, MAX_PIPELINE, MIN_PIPELINE};
use crate::engine::download::Received;
use crate::engine::picker::BlockRef;
use crate::engine::shared::Event;
use crate::engine::verify;
use crate::protocol::message::{encode_into, Message, BLOCK_LEN};

/// A peer that unchoked us but answers none of our requests for this long is snubbed: its
/// requests go back to the pool for others.
const SNUB_AFTER: std::time::Duration = std::time::Duration::from_secs(15);
/// Requests given up on that we still accept a late block for.
const MAX_STALE: usize = 4096;

/// Requests to keep outstanding: about one second of data at `rate` bytes/s, at least
/// `MIN_PIPELINE` (`LIMITED_MIN_PIPELINE` under a limit), never more than the peer's `reqq`
/// (which may be as low as 1) or ours.
pub(crate) fn pipeline_depth(rate: f64, reqq: usize, limited: bool) -> usize {
    let want = (rate / BLOCK_LEN as f64) as usize;
    let floor = if limited {
        LIMITED_MIN_PIPELINE
    } else {
        MIN_PIPELINE
    };
    want.max(floor).min(reqq.clamp(1, MAX_PIPELINE))
}

/// Whether `room` free slots of a pipeline `depth` deep are worth a round of requests. Each
/// round costs a send and wakes us again for the peer's answer, so requests go in batches of
/// a quarter of the pipeline; a slow connection under a down limit (a pipeline shallower than
/// `MIN_PIPELINE`, about a second of data) asks for half of it at a time, where a quarter
/// would be one request per block read. Half still leaves half a second of requests with the
/// peer, so it never runs dry. (Deeper pipelines keep a quarter: batching them by half made
/// two torrents under one limit share it unevenly in tests/ratelimit.rs.)
pub(crate) fn worth_a_batch(room: usize, depth: usize, in_flight: usize, limited: bool) -> bool {
    let batch = if limited && depth < MIN_PIPELINE {
        depth / 2
    } else {
        depth / 4
    };
    room > 0 && (room >= batch || in_flight == 0)
}

impl PeerConn {
    /// The peer's `reqq` from its extended handshake: caps our outstanding requests.
    pub(super) fn set_reqq(&mut self, reqq: usize) {
        self.reqq = reqq.clamp(1, MAX_PIPELINE);
        self.depth = self.depth.min(self.reqq);
    }

    /// Every half second: the receive rate, the pipeline depth it calls for, and snubbing.
    pub(super) fn update_rate(&mut self, now: Instant) {
        let dt = now.duration_since(self.window_start).as_secs_f64();
        if dt >= 0.5 {
            let sample = self.window_bytes as f64 / dt;
            self.rate = if self.rate == 0.0 {
                sample
            } else {
                0.6 * sample + 0.4 * self.rate
            };
            self.window_bytes = 0;
            self.window_start = now;
            self.depth = pipeline_depth(self.rate, self.reqq, self.down.is_limited());
        }
        if !self.in_flight.is_empty()
            && !self.flags.peer_choking
            && now.duration_since(self.last_block) > SNUB_AFTER
        {
            self.snubbed = true;
            self.release_all();
        }
    }

    fn store_in_flight(&self) {
        self.live
            .in_flight
            .store(self.in_flight.len() as u32, Ordering::Relaxed);
    }

    pub(super) fn remember_stale(&mut self, r: BlockRef) {
        if self.stale.len() >= MAX_STALE {
            self.stale.pop_front();
        }
        self.stale.push_back(r);
    }

    pub(super) fn release_all(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        let blocks: Vec<BlockRef> = self.in_flight.drain(..).collect();
        for r in &blocks {
            self.remember_stale(*r);
        }
        self.shared.download().picker.release(blocks);
        self.live.in_flight.store(0, Ordering::Relaxed);
    }

    pub(super) fn on_reject(&mut self, r: BlockRef) {
        if let Some(pos) = self.in_flight.iter().position(|x| *x == r) {
            self.in_flight.remove(pos);
            self.shared.download().picker.release([r]);
            self.store_in_flight();
        }
    }

    /// Another peer delivered this block (endgame): cancel our request for it.
    pub(super) fn cancel(&mut self, index: u32, begin: u32) {
        if let Some(p) = self
            .in_flight
            .iter()
            .position(|r| r.index == index && r.begin == begin)
        {
            let r = self.in_flight[p];
            self.in_flight.remove(p);
            self.push(&Message::Cancel {
                index,
                begin,
                length: r.length,
            });
            self.remember_stale(r);
            self.shared.download().picker.release([r]);
            self.store_in_flight();
        }
    }

    /// Tops the request pipeline up to its depth, in batches so the picker lock is taken
    /// rarely.
    pub(crate) fn fill_pipeline(&mut self) {
        if self.paused || self.flags.peer_choking || !self.flags.am_interested {
            return;
        }
        let depth = if self.snubbed { 1 } else { self.depth };
        let room = depth.saturating_sub(self.in_flight.len());
        if !worth_a_batch(room, depth, self.in_flight.len(), self.down.is_limited()) {
            return;
        }
        let mut picked = std::mem::take(&mut self.picked);
        picked.clear();
        {
            let in_flight = &self.in_flight;
            let mut d = self.shared.download();
            self.held_back = d.writers_behind();
            if !self.held_back {
                d.picker.pick(
                    &self.peer_has,
                    room,
                    &|r| in_flight.contains(&r),
                    &mut picked,
                );
            }
            if picked.is_empty() && in_flight.is_empty() && !d.picker.wants_any(&self.peer_has) {
                drop(d);
                self.set_interest(false);
            }
        }
        for r in &picked {
            self.in_flight.push_back(*r);
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
        self.read_gate
            .take(&self.down, len as u64, tokio::time::Instant::now());
        let pos = self
            .in_flight
            .iter()
            .position(|r| r.index == index && r.begin == begin);
        let r = match pos {
            Some(p) => {
                let r = self.in_flight[p];
                if r.length != len {
                    return Err(protocol(format!(
                        "piece block of {len} bytes, asked for {}",
                        r.length
                    )));
                }
                self.in_flight.remove(p);
                self.store_in_flight();
                r
            }
            None => {
                let r = BlockRef {
                    index,
                    begin,
                    length: len,
                };
                if !self.stale.contains(&r) {
                    // Read and thrown away: wasted like a duplicate, though it ends the peer.
                    self.shared.wasted.fetch_add(len as u64, Ordering::Relaxed);
                    return Err(protocol("unrequested piece"));
                }
                r
            }
        };
        self.last_block = Instant::now();
        self.snubbed = false;
        self.window_bytes += len as u64;
        self.live
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        self.shared
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        let mut d = self.shared.download();
        let endgame = d.picker.in_endgame();
        let outcome = d.receive(r, data, self.conn);
        drop(d);
        match outcome {
            Received::Duplicate => {
                self.shared.wasted.fetch_add(len as u64, Ordering::Relaxed);
            }
            Received::Stored { wake } => {
                if wake {
                    verify::start(&self.shared, index);
                }
            }
        }
        if endgame {
            self.shared.send(Event::BlockDone {
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
    fn depth_follows_the_rate_within_reqq() {
        assert_eq!(pipeline_depth(0.0, 500, false), MIN_PIPELINE);
        assert_eq!(pipeline_depth(100.0 * BLOCK_LEN as f64, 500, false), 100);
        assert_eq!(pipeline_depth(1e12, 500, false), MAX_PIPELINE);
        assert_eq!(pipeline_depth(1e12, 40, false), 40);
        // Under a limit a slow connection keeps two requests out, a fast one what it needs.
        assert_eq!(
            pipeline_depth(5.0 * 1024.0, 500, true),
            LIMITED_MIN_PIPELINE
        );
        assert_eq!(pipeline_depth(100.0 * BLOCK_LEN as f64, 500, true), 100);
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

    #[test]
    fn a_small_reqq_is_obeyed_not_a_panic() {
        // `reqq` 1..=15 is legal; it once made `clamp(min, max)` panic with min > max.
        for reqq in 0..=16 {
            for rate in [0.0, 1e3, 1e9, f64::NAN, f64::INFINITY] {
                for limited in [false, true] {
                    let d = pipeline_depth(rate, reqq, limited);
                    assert!(
                        (1..=reqq.max(1)).contains(&d),
                        "reqq {reqq} rate {rate}: {d}"
                    );
                }
            }
        }
    }
}
