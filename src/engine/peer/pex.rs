//! Peer exchange (BEP 11, `ut_pex`), the receiving side: what one connection takes from its
//! peer's lists (`PexInbox`) and tells its torrent (`PexEvent`). The sending side is the
//! torrent's (`torrent::pex`).
//!
//! Why the limits: a PEX list is unauthenticated input from one peer, so one sender can only
//! ever add a bounded number of addresses to our table (`MAX_TAKEN_PER_SENDER`), a message
//! bigger than any real client sends or messages faster than any real client sends them mark
//! the sender as flooding, and it is ignored for the rest of the connection.

use std::time::{Duration, Instant};

use crate::protocol::extension::Pex;

/// The message id we receive `ut_pex` under (our extended handshake's `m`).
pub(crate) const UT_PEX_ID: u8 = 1;
/// Our extension id for ut_metadata (what peers must use when they send to us); kept beside
/// `UT_PEX_ID` so the two can never collide.
pub(crate) const UT_METADATA_ID: u8 = 3;
/// Our ids for BEP 21's `upload_only` and BEP 54's `lt_donthave` messages, beside the others
/// for the same reason.
pub(crate) const UPLOAD_ONLY_ID: u8 = 2;
pub(crate) const LT_DONTHAVE_ID: u8 = 4;
/// Our id for BEP 55's `ut_holepunch`.
pub(crate) const UT_HOLEPUNCH_ID: u8 = 5;
/// Added peers taken from one message; the rest are ignored.
pub(crate) const MAX_TAKEN_PER_MESSAGE: usize = 100;
/// Added peers taken from one sender over one connection.
pub(crate) const MAX_TAKEN_PER_SENDER: usize = 300;
/// A message with more entries than this (all lists) is a flood: real clients send ≤ 200.
pub(crate) const FLOOD_ENTRIES: usize = 400;
/// Messages a sender may send in a burst, then one per `REFILL` (real clients: one a
/// minute, libtorrent's first within seconds of the handshake).
const BURST: u32 = 3;
const REFILL: Duration = Duration::from_secs(20);

/// What a connection tells the coordinator about PEX.
#[derive(Debug)]
pub(crate) enum PexEvent {
    /// The peer's extended handshake: whether it takes `ut_pex` and `ut_holepunch`, and its
    /// listen port.
    Extensions {
        ut_pex: bool,
        holepunch: bool,
        listen_port: Option<u16>,
    },
    /// Peers the sender listed, already cut to the per-message and per-sender caps.
    Peers(Pex),
    /// The sender flooded (why); it is ignored from now on.
    Flooded(String),
}

/// What to do with one received message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Take at most this many of its added peers.
    Take(usize),
    /// Ignore it quietly (sender already flooded, or its allowance is used up).
    Ignore,
    /// The sender floods from this message on.
    Flood(String),
}

/// The receiving side of one connection.
#[derive(Debug)]
pub(crate) struct PexInbox {
    tokens: u32,
    refilled: Instant,
    taken: usize,
    flooded: bool,
}

impl PexInbox {
    pub(crate) fn new(now: Instant) -> Self {
        PexInbox {
            tokens: BURST,
            refilled: now,
            taken: 0,
            flooded: false,
        }
    }

    /// Judges a message carrying `entries` entries in all its lists, `added` of them added.
    pub(crate) fn accept(&mut self, now: Instant, entries: usize, added: usize) -> Verdict {
        if self.flooded {
            return Verdict::Ignore;
        }
        let gained = now.duration_since(self.refilled).as_secs() / REFILL.as_secs();
        if gained > 0 {
            self.tokens = (self.tokens + u32::try_from(gained).unwrap_or(BURST)).min(BURST);
            self.refilled = now;
        }
        if entries > FLOOD_ENTRIES {
            self.flooded = true;
            return Verdict::Flood(format!("{entries} entries in one message"));
        }
        if self.tokens == 0 {
            self.flooded = true;
            return Verdict::Flood("messages too often".into());
        }
        self.tokens -= 1;
        let take = added
            .min(MAX_TAKEN_PER_MESSAGE)
            .min(MAX_TAKEN_PER_SENDER - self.taken);
        self.taken += take;
        if take == 0 {
            Verdict::Ignore
        } else {
            Verdict::Take(take)
        }
    }
}

#[cfg(test)]
mod tests;
