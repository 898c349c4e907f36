//! The receiving half of a connection: in-order delivery, the reorder buffer, FIN, and the
//! window update a reader's progress triggers.

use super::{UtpConn, MAX_REORDER};
use crate::protocol::utp_packet as utp;

impl UtpConn {
    pub(super) fn on_data(&mut self, seq: u16, data: &[u8]) {
        self.owed.ack_due();
        let dist = seq.wrapping_sub(self.ack_nr);
        if dist == 0 || dist > MAX_REORDER {
            // A duplicate, or beyond any window we advertised.
            self.stats.wasted_recv_bytes += data.len() as u64;
            return;
        }
        if let Some(eof) = self.eof_seq {
            if !utp::seq_lt(seq, eof) {
                self.stats.wasted_recv_bytes += data.len() as u64;
                return;
            }
        }
        let discard = self.dropped_at.is_some();
        if dist == 1 {
            if !discard && !self.rx.deliver(data) {
                self.stats.dropped_packets += 1;
                self.stats.wasted_recv_bytes += data.len() as u64;
                return;
            }
            self.ack_nr = seq;
            while self.rx.release(self.ack_nr.wrapping_add(1), !discard) {
                self.ack_nr = self.ack_nr.wrapping_add(1);
            }
            self.check_eof();
            // Woken by `ack_now` when the batch of datagrams this came in is handled.
            self.owed.data_ready();
        } else if !self.rx.hold(seq, data) {
            self.stats.wasted_recv_bytes += data.len() as u64;
        }
    }

    pub(super) fn on_fin(&mut self, seq: u16) {
        self.owed.ack_due();
        if self.eof_seq.is_none() && utp::seq_lt(self.ack_nr, seq) {
            self.eof_seq = Some(seq);
            // Anything held beyond the FIN can never be delivered.
            self.rx.drop_from(seq);
        }
        self.check_eof();
    }

    pub(super) fn check_eof(&mut self) {
        if !self.got_fin && self.eof_seq == Some(self.ack_nr.wrapping_add(1)) {
            self.ack_nr = self.ack_nr.wrapping_add(1);
            self.got_fin = true;
            self.wakers.wake_all();
        }
    }

    /// Moves what is in order into `buf`.
    pub(crate) fn read(&mut self, buf: &mut tokio::io::ReadBuf<'_>) -> usize {
        let n = self.rx.read(buf);
        // Tell a peer we had throttled that room has opened up.
        if n > 0
            && self.last_adv_wnd < self.cfg.mss * 2
            && self.recv_window() >= self.cfg.recv_buf / 4
        {
            self.send_state();
        }
        n
    }

    pub(crate) fn has_data(&self) -> bool {
        self.rx.unread() > 0
    }
}
