//! The sending half of a connection: transmitting and retransmitting, what an ACK (and its
//! SACK mask) acknowledges, loss detection, and filling the window from the written bytes.

use super::inflight::{Sack, Seg};
use super::owed::Fin;
use super::{State, UtpConn};
use crate::protocol::utp_packet::{self as utp, Header, PacketType};
use std::time::Instant;

impl UtpConn {
    fn transmit(&mut self, idx: usize, now: Instant) {
        let Some((ty, seq)) = self.inflight.get(idx).map(|s| (s.ty, s.seq)) else {
            return;
        };
        let h = self.header(ty, seq);
        let Some(seg) = self.inflight.get_mut(idx) else {
            return;
        };
        let data = seg.data();
        let mut d = Vec::with_capacity(utp::HEADER_LEN + data.len());
        utp::encode(&h, None, data, &mut d);
        if seg.tx > 0 {
            self.stats.retransmits += 1;
            self.stats.resent_bytes += data.len() as u64;
            seg.resent_mark = self.seq_nr;
        }
        seg.tx += 1;
        seg.last_sent = now;
        seg.resend = false;
        self.out.push(d);
        self.stats.packets_sent += 1;
        self.owed.ack_sent();
        if !self.timers.rto_running() {
            self.timers.arm_rto(now + self.rtt.rto());
        }
    }

    pub(super) fn push_seg(&mut self, ty: PacketType, data: Vec<u8>, now: Instant) {
        let seq = self.seq_nr;
        self.seq_nr = self.seq_nr.wrapping_add(1);
        let idx = self.inflight.push(Seg::new(seq, ty, data, now));
        self.transmit(idx, now);
    }

    pub(super) fn on_ack(
        &mut self,
        h: &Header,
        sack: Option<&[u8]>,
        no_payload: bool,
        now: Instant,
    ) {
        let mut acked = 0usize;
        let mut sample = None;
        let mut advanced = false;
        while let Some(seg) = self.inflight.pop_acked(h.ack) {
            advanced = true;
            if !seg.sacked() {
                acked += seg.data().len();
            }
            if let Some(s) = seg.rtt_sample(now) {
                sample = Some(s);
            }
            if seg.ty == PacketType::Fin {
                self.fin = Fin::Acked;
            }
        }
        if advanced {
            self.dup_acks = 0;
            self.timeouts = 0;
            self.rtt.reset_backoff();
            self.timers
                .reset_rto((!self.inflight.is_empty()).then(|| now + self.rtt.rto()));
        } else if h.ack == self.last_ack
            && no_payload
            && h.ty == PacketType::State
            && !self.inflight.is_empty()
        {
            self.dup_acks += 1;
            if self.dup_acks == 3 {
                self.mark_lost(0);
            }
        }
        self.last_ack = h.ack;
        if let (Some(mask), Some(front_seq)) = (sack, self.inflight.front_seq()) {
            let mut highest = None;
            for s in utp::sack_iter(h.ack, mask) {
                let idx = s.wrapping_sub(front_seq) as usize;
                match self.inflight.sack(idx, now) {
                    Sack::Missing => continue,
                    Sack::Again => {}
                    Sack::New { bytes, rtt } => {
                        acked += bytes;
                        if rtt.is_some() {
                            sample = rtt;
                        }
                    }
                }
                highest = Some(idx);
            }
            // A packet with three SACKed packets after it is lost (libtorrent's rule).
            if let Some(top) = highest {
                self.sack_losses(top, front_seq);
            }
        }
        if let Some(s) = sample {
            self.rtt.sample(s);
            self.stats.rtt = self.rtt.srtt();
        }
        if acked > 0 {
            self.cc.on_ack(acked);
            self.resend_holes();
            self.wakers.wake_write();
        }
    }

    /// Marks the packets below the highest SACKed one (`top`) that three SACKed packets
    /// follow as lost, and a resend that three packets sent after it overtook as lost again.
    fn sack_losses(&mut self, top: usize, front_seq: u16) {
        let mut after = 0;
        for idx in (0..=top).rev() {
            let Some(seg) = self.inflight.get(idx) else {
                continue;
            };
            if seg.sacked() {
                after += 1;
            } else if after >= 3 && !seg.fast_resent {
                self.mark_lost(idx);
            } else if after >= 3 && !seg.resend {
                let from = seg.resent_mark.wrapping_sub(front_seq) as usize;
                let newer = (from..=top)
                    .filter(|i| self.inflight.get(*i).is_some_and(|s| s.sacked()))
                    .count();
                if from <= top && newer >= 3 {
                    if let Some(seg) = self.inflight.get_mut(idx) {
                        seg.resend = true;
                    }
                }
            }
        }
    }

    /// Marks presumed-lost segments for resending while fewer than a window's worth of
    /// resent ones are outstanding.
    pub(super) fn resend_holes(&mut self) {
        let Some(t) = self.recover_before else { return };
        let budget = (self.cc.cwnd() / self.cfg.mss).max(1);
        let mut outstanding = 0;
        let mut left = false;
        for seg in self.inflight.iter_mut().filter(|s| !s.sacked()) {
            if seg.resend || seg.last_sent >= t {
                outstanding += 1;
            } else if outstanding < budget {
                seg.resend = true;
                outstanding += 1;
            } else {
                left = true;
            }
        }
        if !left {
            self.recover_before = None;
        }
    }

    fn mark_lost(&mut self, idx: usize) {
        let Some(seg) = self.inflight.get_mut(idx) else {
            return;
        };
        if seg.sacked() || seg.fast_resent {
            return;
        }
        seg.resend = true;
        seg.fast_resent = true;
        // One window reduction per window of data.
        if !utp::seq_lt(seg.seq, self.recovery_until) {
            self.cc.on_loss();
            self.recovery_until = self.seq_nr;
        }
    }

    pub(crate) fn send_space(&self) -> usize {
        self.cfg
            .send_buf
            .saturating_sub(self.wbuf.len() + self.inflight.bytes())
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.send_space());
        self.wbuf.extend(&data[..n]);
        n
    }

    pub(crate) fn shutdown(&mut self, now: Instant) {
        self.fin.queue();
        self.flush(now);
    }

    /// Sends what the windows allow: retransmissions first, then new data, the FIN, and an
    /// ACK if nothing else carried one.
    pub(crate) fn flush(&mut self, now: Instant) {
        self.send(now, true);
    }

    pub(super) fn send(&mut self, now: Instant, ack: bool) {
        if self.state == State::Closed {
            return;
        }
        for i in 0..self.inflight.len() {
            if self.inflight.get(i).is_some_and(|s| s.resend) {
                self.transmit(i, now);
            }
        }
        if self.state == State::Connected || self.state == State::SynRecv {
            let window = self.cc.cwnd().min(self.peer_wnd);
            while !self.wbuf.is_empty() {
                let n = self.wbuf.len().min(self.cfg.mss);
                if self.inflight.bytes() + n > window {
                    if self.peer_wnd < n && self.inflight.is_empty() && !self.timers.probe_running()
                    {
                        self.timers.arm_probe(now + self.rtt.rto());
                    }
                    break;
                }
                let data: Vec<u8> = self.wbuf.drain(..n).collect();
                self.push_seg(PacketType::Data, data, now);
            }
            if self.fin == Fin::Queued && self.wbuf.is_empty() {
                self.fin = Fin::Sent;
                self.push_seg(PacketType::Fin, Vec::new(), now);
            }
        }
        if ack && self.owed.ack() {
            self.send_state();
        }
    }
}
