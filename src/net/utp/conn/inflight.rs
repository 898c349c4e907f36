//! The send window: every packet sent and not yet cumulatively acknowledged.
//!
//! Invariant (kept by the methods, which is why `data` and `sacked` are private): the segments
//! are in sequence order with no gaps, so a sequence number's index is its distance from the
//! front; `bytes` is the payload of the segments not yet SACKed. A segment is SACKed at most
//! once, and leaves only from the front.

use crate::protocol::utp_packet::{self as utp, PacketType};
use std::collections::VecDeque;
use std::time::Instant;

pub(super) struct Seg {
    pub(super) seq: u16,
    pub(super) ty: PacketType,
    data: Vec<u8>,
    pub(super) last_sent: Instant,
    pub(super) tx: u32,
    sacked: bool,
    pub(super) resend: bool,
    pub(super) fast_resent: bool,
    /// Our next sequence number when this was last resent: three SACKs of packets from
    /// there on mean the resend was lost too.
    pub(super) resent_mark: u16,
}

impl Seg {
    pub(super) fn new(seq: u16, ty: PacketType, data: Vec<u8>, now: Instant) -> Seg {
        Seg {
            seq,
            ty,
            data,
            last_sent: now,
            tx: 0,
            sacked: false,
            resend: false,
            fast_resent: false,
            resent_mark: seq,
        }
    }

    #[inline]
    pub(super) fn data(&self) -> &[u8] {
        &self.data
    }

    #[inline]
    pub(super) fn sacked(&self) -> bool {
        self.sacked
    }

    /// The round-trip sample this segment gives when acknowledged: only a segment sent once
    /// is unambiguous (Karn's rule).
    #[inline]
    pub(super) fn rtt_sample(&self, now: Instant) -> Option<std::time::Duration> {
        (self.tx == 1).then(|| now.duration_since(self.last_sent))
    }
}

/// What a selective ACK of one index did.
pub(super) enum Sack {
    /// No segment there (already acknowledged, or not sent).
    Missing,
    /// SACKed before.
    Again,
    /// SACKed now: its payload left the window.
    New {
        bytes: usize,
        rtt: Option<std::time::Duration>,
    },
}

#[derive(Default)]
pub(super) struct Inflight {
    segs: VecDeque<Seg>,
    bytes: usize,
}

impl Inflight {
    /// Appends the next segment; its sequence number must follow the last one's.
    #[inline]
    pub(super) fn push(&mut self, seg: Seg) -> usize {
        debug_assert!(self
            .segs
            .back()
            .is_none_or(|b| b.seq.wrapping_add(1) == seg.seq));
        self.bytes += seg.data.len();
        self.segs.push_back(seg);
        self.segs.len() - 1
    }

    /// Removes the front segment if `ack` covers it.
    #[inline]
    pub(super) fn pop_acked(&mut self, ack: u16) -> Option<Seg> {
        if !utp::seq_le(self.segs.front()?.seq, ack) {
            return None;
        }
        let seg = self.segs.pop_front()?;
        if !seg.sacked {
            self.bytes -= seg.data.len();
        }
        Some(seg)
    }

    pub(super) fn sack(&mut self, idx: usize, now: Instant) -> Sack {
        let Some(seg) = self.segs.get_mut(idx) else {
            return Sack::Missing;
        };
        if seg.sacked {
            return Sack::Again;
        }
        seg.sacked = true;
        self.bytes -= seg.data.len();
        Sack::New {
            bytes: seg.data.len(),
            rtt: seg.rtt_sample(now),
        }
    }

    /// Payload bytes sent and neither acknowledged nor SACKed.
    #[inline]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.segs.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    #[inline]
    pub(super) fn front_seq(&self) -> Option<u16> {
        self.segs.front().map(|s| s.seq)
    }

    #[inline]
    pub(super) fn get(&self, idx: usize) -> Option<&Seg> {
        self.segs.get(idx)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, idx: usize) -> Option<&mut Seg> {
        self.segs.get_mut(idx)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Seg> {
        self.segs.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(first: u16, sizes: &[usize]) -> Inflight {
        let now = Instant::now();
        let mut w = Inflight::default();
        for (i, n) in sizes.iter().enumerate() {
            let seq = first.wrapping_add(i as u16);
            w.push(Seg::new(seq, PacketType::Data, vec![0; *n], now));
        }
        w
    }

    #[test]
    fn bytes_count_what_is_neither_acked_nor_sacked() {
        let mut w = window(65_534, &[100, 200, 300, 400]);
        assert_eq!(w.bytes(), 1000);
        assert!(matches!(
            w.sack(2, Instant::now()),
            Sack::New { bytes: 300, .. }
        ));
        assert_eq!(w.bytes(), 700);
        // A second SACK of the same packet frees nothing more.
        assert!(matches!(w.sack(2, Instant::now()), Sack::Again));
        assert_eq!(w.bytes(), 700);
        assert!(matches!(w.sack(9, Instant::now()), Sack::Missing));
        // An ACK across the wrap takes the front three; the SACKed one is not subtracted twice.
        let mut popped = 0;
        while w.pop_acked(0).is_some() {
            popped += 1;
        }
        assert_eq!(popped, 3);
        assert_eq!(w.bytes(), 400);
        assert_eq!(w.front_seq(), Some(1));
        assert!(w.pop_acked(0).is_none());
        assert_eq!(w.pop_acked(1).map(|s| s.data().len()), Some(400));
        assert_eq!((w.bytes(), w.len(), w.is_empty()), (0, 0, true));
    }

    #[test]
    fn only_a_segment_sent_once_gives_an_rtt_sample() {
        let mut w = window(7, &[10, 10]);
        let now = Instant::now();
        if let Some(s) = w.get_mut(0) {
            s.tx = 2;
        }
        if let Some(s) = w.get_mut(1) {
            s.tx = 1;
        }
        assert!(matches!(w.sack(0, now), Sack::New { rtt: None, .. }));
        assert!(matches!(w.sack(1, now), Sack::New { rtt: Some(_), .. }));
    }
}
