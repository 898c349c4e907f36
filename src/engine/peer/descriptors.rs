//! Peer connections the process may hold at once, every torrent's together.
//!
//! Descriptors are a process-wide resource (RLIMIT_NOFILE): a session of many active
//! torrents under a low `ulimit -n` used to open connections until the limit, and then a
//! piece write, a save or an accept failed with EMFILE. Of the limit, the open payload files
//! take a quarter (`disk::open_files_budget`), TCP connections in their handshake an eighth
//! (`session/accept_budget.rs`), and a reserve stays for the listeners, the UDP sockets,
//! trackers, the state files, the control socket and the terminal; peer connections get the
//! rest. Each torrent's own limit (`--max-peers`) still applies beside it. uTP and WebRTC
//! connections take no descriptor of their own, but they are counted too: the transport is
//! known only once a dial went through, and under a limit this low the cap errs on the safe
//! side. A torrent that wants a connection and finds none left says so on the explainer's
//! `descriptors` line.

use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::disk::fds::nofile_limit;
use crate::engine::disk::open_files_budget;

/// Descriptors kept for everything that is not a payload file or a peer.
const RESERVE: u64 = 32;
/// At least this many peers, however low the limit (a limit this low fails elsewhere first).
const AT_LEAST: usize = 8;

/// TCP connections in their handshake at once, for a descriptor limit of `nofile`.
pub(crate) fn handshake_slots(nofile: u64) -> usize {
    usize::try_from(nofile / 8)
        .unwrap_or(usize::MAX)
        .clamp(4, 256)
}

/// Peer connections at once for a descriptor limit of `nofile`.
pub(crate) fn peer_slots(nofile: u64) -> usize {
    let others = open_files_budget(nofile) as u64 + handshake_slots(nofile) as u64 + RESERVE;
    usize::try_from(nofile.saturating_sub(others))
        .unwrap_or(usize::MAX)
        .max(AT_LEAST)
}

/// The process's budget of peer connections, sized from its descriptor limit when first used
/// (after the session raised its soft limit to the hard one).
pub(crate) fn peers() -> &'static PeerBudget {
    static BUDGET: OnceLock<PeerBudget> = OnceLock::new();
    BUDGET.get_or_init(|| PeerBudget::new(nofile_limit()))
}

/// See the module's header.
#[derive(Debug)]
pub(crate) struct PeerBudget {
    slots: Arc<Semaphore>,
    capacity: usize,
    nofile: u64,
}

/// What the budget stands at, for the explainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetUse {
    pub(crate) nofile: u64,
    pub(crate) capacity: usize,
    pub(crate) in_use: usize,
}

impl PeerBudget {
    pub(crate) fn new(nofile: u64) -> PeerBudget {
        let capacity = peer_slots(nofile);
        PeerBudget {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            nofile,
        }
    }

    /// A place for one connection, held for as long as the connection's task runs; none when
    /// every place is taken.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    pub(crate) fn usage(&self) -> BudgetUse {
        BudgetUse {
            nofile: self.nofile,
            capacity: self.capacity,
            in_use: self.capacity - self.slots.available_permits(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_get_what_the_files_handshakes_and_reserve_leave() {
        // 256: 64 files, 32 handshakes, 32 kept.
        assert_eq!(peer_slots(256), 128);
        assert_eq!(peer_slots(1024), 1024 - 256 - 128 - 32);
        assert_eq!(peer_slots(16), AT_LEAST);
        assert_eq!(peer_slots(1 << 20), (1 << 20) - 2048 - 256 - 32);
        assert_eq!(handshake_slots(1024), 128);
        assert_eq!(handshake_slots(256), 32);
        assert_eq!(handshake_slots(16), 4);
        assert_eq!(handshake_slots(1 << 20), 256);
    }

    #[test]
    fn a_place_is_held_until_dropped() {
        let b = PeerBudget::new(16);
        let held: Vec<_> = (0..AT_LEAST).map_while(|_| b.take()).collect();
        assert_eq!(held.len(), AT_LEAST);
        assert!(b.take().is_none());
        assert_eq!(b.usage().in_use, AT_LEAST);
        drop(held);
        assert_eq!(b.usage().in_use, 0);
        assert!(b.take().is_some());
    }
}
