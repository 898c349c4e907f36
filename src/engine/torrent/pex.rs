//! Peer exchange (BEP 11, `ut_pex`), the sending side: what we tell each peer that supports
//! it (`PexOutbox`). What we take from a peer's lists is the connection's (`peer::pex`); the
//! coordinator's side (learning peers, the once-a-minute round) is `coordinator/pex_round.rs`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::protocol::extension::{Pex, PexFlags};

/// We send to one peer at most this often (BEP 11 asks for at most once a minute).
pub(crate) const SEND_EVERY: Duration = Duration::from_secs(60);
/// The first message to a peer waits this long, so the peers we are dialing meanwhile can
/// be in it.
pub(crate) const FIRST_AFTER: Duration = Duration::from_secs(3);
/// Added (and dropped) peers per message we send.
pub(crate) const MAX_SEND: usize = 50;
/// The sending side for one peer that takes `ut_pex`: what it was told so far.
#[derive(Debug)]
pub(crate) struct PexOutbox {
    since: Instant,
    last: Option<Instant>,
    told: HashSet<SocketAddr>,
}

impl PexOutbox {
    pub(crate) fn new(now: Instant) -> Self {
        PexOutbox {
            since: now,
            last: None,
            told: HashSet::new(),
        }
    }

    /// A message may go out at `now` (whether there is anything to say or not).
    pub(crate) fn due(&self, now: Instant) -> bool {
        match self.last {
            None => now.duration_since(self.since) >= FIRST_AFTER,
            Some(t) => now.duration_since(t) >= SEND_EVERY,
        }
    }

    /// The message due at `now` given the peers connected now (without the recipient), if
    /// one is due and there is something to say.
    pub(crate) fn next(&mut self, now: Instant, current: &[(SocketAddr, PexFlags)]) -> Option<Pex> {
        if !self.due(now) {
            return None;
        }
        let now_set: HashSet<SocketAddr> = current.iter().map(|(a, _)| *a).collect();
        let added: Vec<(SocketAddr, PexFlags)> = current
            .iter()
            .filter(|(a, _)| !self.told.contains(a))
            .take(MAX_SEND)
            .copied()
            .collect();
        let mut dropped: Vec<SocketAddr> = self
            .told
            .iter()
            .filter(|a| !now_set.contains(a))
            .copied()
            .collect();
        dropped.sort();
        dropped.truncate(MAX_SEND);
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        for (a, _) in &added {
            self.told.insert(*a);
        }
        for a in &dropped {
            self.told.remove(a);
        }
        self.last = Some(now);
        Some(Pex { added, dropped })
    }
}

#[cfg(test)]
mod tests;
