//! The receive side's bytes: in-order bytes waiting for the reader, and packets that came
//! ahead of a hole (the reorder buffer).
//!
//! Invariant (why the fields are private): `ooo_bytes` is the payload held in `ooo`, and what
//! is kept (`unread` plus `ooo_bytes`) never exceeds `cap`, the receive buffer the advertised
//! window is cut from.

use crate::protocol::utp_packet as utp;
use std::collections::{HashMap, VecDeque};

pub(super) struct RecvBuf {
    unread: VecDeque<u8>,
    ooo: HashMap<u16, Vec<u8>>,
    ooo_bytes: usize,
    cap: usize,
}

impl RecvBuf {
    pub(super) fn new(cap: usize) -> RecvBuf {
        RecvBuf {
            unread: VecDeque::new(),
            ooo: HashMap::new(),
            ooo_bytes: 0,
            cap,
        }
    }

    /// Bytes kept: unread plus reordered.
    #[inline]
    pub(super) fn held(&self) -> usize {
        self.unread.len() + self.ooo_bytes
    }

    /// Room left: the window to advertise.
    #[inline]
    pub(super) fn window(&self) -> usize {
        self.cap.saturating_sub(self.held())
    }

    #[inline]
    pub(super) fn unread(&self) -> usize {
        self.unread.len()
    }

    #[inline]
    pub(super) fn reorder_bytes(&self) -> usize {
        self.ooo_bytes
    }

    /// Whether packets are held beyond a hole.
    #[inline]
    pub(super) fn has_holes(&self) -> bool {
        !self.ooo.is_empty()
    }

    pub(super) fn held_seqs(&self) -> impl Iterator<Item = u16> + '_ {
        self.ooo.keys().copied()
    }

    /// Appends in-order bytes for the reader; false, keeping nothing, if they do not fit.
    #[inline]
    pub(super) fn deliver(&mut self, data: &[u8]) -> bool {
        if self.held() + data.len() > self.cap {
            return false;
        }
        self.unread.extend(data);
        true
    }

    /// Keeps a packet that came ahead of a hole; false if it is held already or does not fit.
    pub(super) fn hold(&mut self, seq: u16, data: &[u8]) -> bool {
        if self.ooo.contains_key(&seq) || self.held() + data.len() > self.cap {
            return false;
        }
        self.ooo_bytes += data.len();
        self.ooo.insert(seq, data.to_vec());
        true
    }

    /// The hole before the held packet `seq` was filled: its bytes move to the reader's
    /// (or are dropped when `keep` is false). False if `seq` is not held.
    #[inline]
    pub(super) fn release(&mut self, seq: u16, keep: bool) -> bool {
        if self.ooo.is_empty() {
            return false;
        }
        let Some(d) = self.ooo.remove(&seq) else {
            return false;
        };
        self.ooo_bytes -= d.len();
        if keep {
            self.unread.extend(&d);
        }
        true
    }

    /// Drops held packets at or after `seq` (the FIN's): they can never be delivered.
    pub(super) fn drop_from(&mut self, seq: u16) {
        self.ooo.retain(|s, _| utp::seq_lt(*s, seq));
        self.ooo_bytes = self.ooo.values().map(Vec::len).sum();
    }

    /// Moves unread bytes into `buf`. `put_slice` writes into the caller's uninitialised
    /// room as it is, without zeroing it first as `initialize_unfilled` would on every read.
    pub(super) fn read(&mut self, buf: &mut tokio::io::ReadBuf<'_>) -> usize {
        let n = buf.remaining().min(self.unread.len());
        let (a, b) = self.unread.as_slices();
        let k = n.min(a.len());
        buf.put_slice(&a[..k]);
        buf.put_slice(&b[..n - k]);
        self.unread.drain(..n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_kept_never_exceeds_the_cap() {
        let mut r = RecvBuf::new(100);
        assert!(r.deliver(&[1; 60]));
        assert!(r.hold(5, &[2; 30]));
        assert_eq!((r.held(), r.window()), (90, 10));
        // Neither in-order nor reordered data may go past the cap.
        assert!(!r.deliver(&[3; 11]));
        assert!(!r.hold(6, &[3; 11]));
        assert!(r.hold(6, &[3; 10]));
        assert_eq!((r.held(), r.window()), (100, 0));
        // A duplicate of a held packet is not kept twice.
        assert!(!r.hold(6, &[]));
        assert_eq!(r.reorder_bytes(), 40);
    }

    #[test]
    fn released_and_dropped_packets_leave_the_reorder_count() {
        let mut r = RecvBuf::new(1000);
        for (seq, n) in [(3u16, 10), (4, 20), (65_535, 40), (9, 80)] {
            assert!(r.hold(seq, &vec![seq as u8; n]));
        }
        assert_eq!(r.reorder_bytes(), 150);
        assert!(r.release(3, true));
        assert!(!r.release(3, true));
        assert!(r.release(4, false));
        assert_eq!((r.unread(), r.reorder_bytes()), (10, 120));
        // A FIN at 5: 9 is beyond it, 65535 (before 5, across the wrap) stays.
        r.drop_from(5);
        assert_eq!(r.reorder_bytes(), 40);
        assert_eq!(r.held_seqs().collect::<Vec<_>>(), vec![65_535]);
        let mut room = [0u8; 64];
        let mut buf = tokio::io::ReadBuf::new(&mut room);
        assert_eq!(r.read(&mut buf), 10);
        assert_eq!(buf.filled(), &[3; 10]);
        assert_eq!((r.held(), r.has_holes()), (40, true));
    }
}
