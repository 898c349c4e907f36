//! Our requests to one peer (`Requests`) and how many of them to keep outstanding (`Pacing`).

use std::collections::VecDeque;
use std::time::Instant;

use crate::engine::peer::conn::{LIMITED_MIN_PIPELINE, MAX_PIPELINE, MIN_PIPELINE, START_PIPELINE};
use crate::protocol::geometry::BlockRef;
use crate::protocol::message::BLOCK_LEN;

/// Requests given up on that we still accept a late block for.
pub(crate) const MAX_STALE: usize = 4096;

/// Invariant (why the fields are private): `in_flight` holds each request we sent and the peer
/// has not answered, once, in the order sent; a request leaves it answered, rejected, or given
/// up on, and one given up on (cancel, choke, snub) joins `stale`, which keeps the last
/// `MAX_STALE` of them so a block that crossed our cancel is not taken for an unrequested one.
#[derive(Default)]
pub(crate) struct Requests {
    in_flight: VecDeque<BlockRef>,
    stale: VecDeque<BlockRef>,
}

/// Which of our requests a block answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// One in flight; it is no longer.
    Requested(BlockRef),
    /// One in flight for another length: a protocol violation (the request stays).
    WrongLength {
        asked: u32,
    },
    /// One we gave up on.
    Stale(BlockRef),
    Unrequested,
}

impl Requests {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.in_flight.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    #[inline]
    pub(crate) fn contains(&self, r: &BlockRef) -> bool {
        self.in_flight.contains(r)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &BlockRef> {
        self.in_flight.iter()
    }

    /// A request sent (the picker gives only blocks not in flight here).
    #[inline]
    pub(crate) fn sent(&mut self, r: BlockRef) {
        debug_assert!(!self.in_flight.contains(&r));
        self.in_flight.push_back(r);
    }

    /// Matches a block of `len` bytes at `index`/`begin` with what we asked for.
    pub(crate) fn answer(&mut self, index: u32, begin: u32, len: u32) -> Answer {
        let pos = self
            .in_flight
            .iter()
            .position(|r| r.index == index && r.begin == begin);
        if let Some(p) = pos {
            let r = self.in_flight[p];
            if r.length != len {
                return Answer::WrongLength { asked: r.length };
            }
            self.in_flight.remove(p);
            return Answer::Requested(r);
        }
        let r = BlockRef {
            index,
            begin,
            length: len,
        };
        if self.stale.contains(&r) {
            Answer::Stale(r)
        } else {
            Answer::Unrequested
        }
    }

    /// The peer rejected `r`: it leaves without becoming stale (no block will come).
    pub(crate) fn rejected(&mut self, r: BlockRef) -> bool {
        let Some(pos) = self.in_flight.iter().position(|x| *x == r) else {
            return false;
        };
        self.in_flight.remove(pos);
        true
    }

    /// Gives up on the request at `index`/`begin`, if one is in flight.
    pub(crate) fn cancel(&mut self, index: u32, begin: u32) -> Option<BlockRef> {
        let p = self
            .in_flight
            .iter()
            .position(|r| r.index == index && r.begin == begin)?;
        let r = self.in_flight.remove(p)?;
        self.remember_stale(r);
        Some(r)
    }

    /// Gives up on every request (choke, snub, pause).
    pub(crate) fn give_up_all(&mut self) -> Vec<BlockRef> {
        let blocks: Vec<BlockRef> = self.in_flight.drain(..).collect();
        for r in &blocks {
            self.remember_stale(*r);
        }
        blocks
    }

    /// The connection ends: every request, none kept as stale.
    pub(crate) fn take_all(&mut self) -> Vec<BlockRef> {
        self.in_flight.drain(..).collect()
    }

    fn remember_stale(&mut self, r: BlockRef) {
        if self.stale.len() >= MAX_STALE {
            self.stale.pop_front();
        }
        self.stale.push_back(r);
    }
}

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

/// The receive rate and the pipeline depth it calls for.
///
/// Invariant (why the fields are private): `1 <= depth <= reqq <= MAX_PIPELINE`; `rate` is the
/// smoothed receive rate in bytes/s over windows of at least half a second, 0 before the first.
pub(crate) struct Pacing {
    reqq: usize,
    depth: usize,
    rate: f64,
    window_bytes: u64,
    window_start: Instant,
}

impl Pacing {
    /// Under a down limit a connection starts as low as the limit will keep it: 64 requests
    /// to each of 50 peers at 100 KiB/s would be minutes of data asked for at once.
    pub(crate) fn new(limited: bool, now: Instant) -> Pacing {
        Pacing {
            reqq: MAX_PIPELINE,
            depth: if limited {
                LIMITED_MIN_PIPELINE
            } else {
                START_PIPELINE
            },
            rate: 0.0,
            window_bytes: 0,
            window_start: now,
        }
    }

    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// The peer's `reqq`: most requests it queues.
    #[cfg(test)]
    pub(crate) fn reqq(&self) -> usize {
        self.reqq
    }

    #[cfg(test)]
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The peer's `reqq` from its extended handshake caps our outstanding requests.
    pub(crate) fn set_reqq(&mut self, reqq: usize) {
        self.reqq = reqq.clamp(1, MAX_PIPELINE);
        self.depth = self.depth.min(self.reqq);
    }

    #[inline]
    pub(crate) fn received(&mut self, len: u64) {
        self.window_bytes += len;
    }

    /// Closes the rate window once it is half a second old and sizes the pipeline anew.
    pub(crate) fn update(&mut self, now: Instant, limited: bool) {
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
            self.depth = pipeline_depth(self.rate, self.reqq, limited);
        }
    }

    /// Tests start from a given depth (kept within the invariant).
    #[cfg(test)]
    pub(crate) fn set_depth(&mut self, depth: usize) {
        self.depth = depth.clamp(1, self.reqq);
    }
}

#[cfg(test)]
mod tests;
