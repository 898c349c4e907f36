//! BEP 55 hole punching, the relay's side: what we answer a peer's `rendezvous`, and how often
//! we answer at all. Pure (the coordinator looks the target up among its peers and sends what
//! this decides), so the error codes and the bound are tested without sockets.
//!
//! The bound is what keeps ttui from being used to amplify traffic: each rendezvous we act on
//! makes us send one message to the target and one back, so at most [`PER_PEER`] rendezvous a
//! second are taken from one peer and at most [`PER_SECOND`] from all of a torrent's peers;
//! the rest are dropped unanswered (an error is traffic too).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::holepunch::{HoleError, HoleMsg};

/// Rendezvous taken from one peer per second.
pub(crate) const PER_PEER: u32 = 2;
/// Rendezvous taken from all of one torrent's peers per second.
pub const PER_SECOND: u32 = 10;
/// Peers whose counts are kept; past this, counts older than a window are forgotten first.
const MAX_TRACKED: usize = 1024;
const WINDOW: Duration = Duration::from_secs(1);

/// The target of a rendezvous as the coordinator finds it among its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Not in our peer list.
    Unknown,
    /// Known, but no connection to it is up.
    NotConnected,
    /// Connected; whether it announced `ut_holepunch` in its extended handshake.
    Connected { supports: bool },
}

/// What to do with one rendezvous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send `to_initiator` on the initiator's connection and `to_target` on the target's:
    /// each side is told the other's endpoint.
    Introduce {
        to_initiator: HoleMsg,
        to_target: HoleMsg,
    },
    /// Answer the initiator with this error.
    Refuse(HoleMsg),
    /// Over the bound: nothing is sent.
    Drop,
}

/// One second's count.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            start: now,
            count: 0,
        }
    }

    /// Counts one more at `now` when fewer than `max` were taken in the current window.
    fn take(&mut self, now: Instant, max: u32) -> bool {
        if now.saturating_duration_since(self.start) >= WINDOW {
            *self = Window::new(now);
        }
        if self.count >= max {
            return false;
        }
        self.count += 1;
        true
    }
}

/// The relay of one torrent: the counts behind the bound.
#[derive(Debug)]
pub struct Relay {
    all: Window,
    per_peer: HashMap<SocketAddr, Window>,
}

impl Relay {
    pub fn new(now: Instant) -> Relay {
        Relay {
            all: Window::new(now),
            per_peer: HashMap::new(),
        }
    }

    /// Our answer to `initiator`'s rendezvous naming `target`, found as `found`; `ours` are
    /// the endpoints that are ours (our listen address as peers see it), which no one may ask
    /// to be introduced to, nor to itself.
    pub fn rendezvous(
        &mut self,
        now: Instant,
        initiator: SocketAddr,
        target: SocketAddr,
        found: Target,
        ours: &[SocketAddr],
    ) -> Verdict {
        if !self.admit(now, initiator) {
            return Verdict::Drop;
        }
        let refuse = |e| Verdict::Refuse(HoleMsg::error(target, e));
        if target == initiator || ours.contains(&target) {
            return refuse(HoleError::NoSelf);
        }
        match found {
            Target::Unknown => refuse(HoleError::NoSuchPeer),
            Target::NotConnected => refuse(HoleError::NotConnected),
            Target::Connected { supports: false } => refuse(HoleError::NoSupport),
            Target::Connected { supports: true } => Verdict::Introduce {
                to_initiator: HoleMsg::connect(target),
                to_target: HoleMsg::connect(initiator),
            },
        }
    }

    /// Counts one message from `initiator` against both bounds; false when either is used
    /// up. A peer over its own bound does not use up the torrent's. The coordinator also
    /// bounds the `connect` messages it acts on this way (each makes us dial someone).
    pub(crate) fn admit(&mut self, now: Instant, initiator: SocketAddr) -> bool {
        if self.per_peer.len() >= MAX_TRACKED && !self.per_peer.contains_key(&initiator) {
            self.per_peer
                .retain(|_, w| now.saturating_duration_since(w.start) < WINDOW);
            if self.per_peer.len() >= MAX_TRACKED {
                return false;
            }
        }
        let mine = self
            .per_peer
            .entry(initiator)
            .or_insert_with(|| Window::new(now));
        let mut probe = *mine;
        if !probe.take(now, PER_PEER) {
            *mine = probe;
            return false;
        }
        if !self.all.take(now, PER_SECOND) {
            return false;
        }
        *mine = probe;
        true
    }
}

#[cfg(test)]
mod tests;
