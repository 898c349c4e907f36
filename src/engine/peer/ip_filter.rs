//! The session's blocklist as every dial and every accept sees it: one shared handle, read
//! on each new connection (a read lock and a binary search), swapped whole when a new list
//! is loaded (`engine/session/blocklist.rs`). Its generation tells each torrent's task that
//! a new list is in force, so it drops the connected peers the new list blocks.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::protocol::blocklist::RangeSet;

#[derive(Default)]
pub(crate) struct IpFilter {
    set: RwLock<Arc<RangeSet>>,
    /// Bumped at each swap; 0 while no list was ever loaded.
    generation: AtomicU64,
    refused_incoming: AtomicU64,
    refused_dials: AtomicU64,
}

impl IpFilter {
    /// Whether the list in force blocks `ip`.
    pub(crate) fn blocks(&self, ip: IpAddr) -> bool {
        let set = self.set.read().unwrap_or_else(|e| e.into_inner());
        !set.is_empty() && set.contains(ip)
    }

    /// Puts `set` in force.
    pub(crate) fn replace(&self, set: RangeSet) {
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether to refuse an incoming connection from `ip` (counted when refused).
    pub(crate) fn refuses_incoming(&self, ip: IpAddr) -> bool {
        let blocked = self.blocks(ip);
        if blocked {
            self.refused_incoming.fetch_add(1, Ordering::Relaxed);
        }
        blocked
    }

    /// Whether to refuse a dial to `ip` (counted when refused).
    pub(crate) fn refuses_dial(&self, ip: IpAddr) -> bool {
        let blocked = self.blocks(ip);
        if blocked {
            self.refused_dials.fetch_add(1, Ordering::Relaxed);
        }
        blocked
    }

    /// Incoming connections and dials refused since the session started.
    pub(crate) fn refused(&self) -> (u64, u64) {
        (
            self.refused_incoming.load(Ordering::Relaxed),
            self.refused_dials.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_and_counts() {
        let f = IpFilter::default();
        let ip: IpAddr = "127.0.0.12".parse().unwrap();
        assert!(!f.refuses_dial(ip));
        assert_eq!(f.generation(), 0);
        let parsed = crate::protocol::blocklist::parse(b"x:127.0.0.12-127.0.0.12\n").unwrap();
        f.replace(parsed.set);
        assert_eq!(f.generation(), 1);
        assert!(f.refuses_dial(ip));
        assert!(f.refuses_incoming(ip));
        assert!(!f.refuses_incoming("127.0.0.11".parse().unwrap()));
        assert_eq!(f.refused(), (1, 1));
        f.replace(RangeSet::default());
        assert!(!f.blocks(ip));
    }
}
