//! The receiving half of a connection: in-order delivery, the reorder buffer, FIN, and the
//! window update a reader's progress triggers.

use super::{UtpConn, MAX_REORDER};
use crate::protocol::utp_packet as utp;

impl UtpConn {
    pub(super) fn on_data(&mut self, seq: u16, data: &[u8]) {
        self.need_ack = true;
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
            if !discard && self.rbuf.len() + self.ooo_bytes + data.len() > self.cfg.recv_buf {
                self.stats.dropped_packets += 1;
                self.stats.wasted_recv_bytes += data.len() as u64;
                return;
            }
            if !discard {
                self.rbuf.extend(data);
            }
            self.ack_nr = seq;
            while let Some(d) = self.ooo.remove(&self.ack_nr.wrapping_add(1)) {
                self.ooo_bytes -= d.len();
                if !discard {
                    self.rbuf.extend(&d);
                }
                self.ack_nr = self.ack_nr.wrapping_add(1);
            }
            self.check_eof();
            // Woken by `ack_now` when the batch of datagrams this came in is handled.
            self.read_ready = true;
        } else if !self.ooo.contains_key(&seq)
            && self.rbuf.len() + self.ooo_bytes + data.len() <= self.cfg.recv_buf
        {
            self.ooo_bytes += data.len();
            self.ooo.insert(seq, data.to_vec());
        } else {
            self.stats.wasted_recv_bytes += data.len() as u64;
        }
    }

    pub(super) fn on_fin(&mut self, seq: u16) {
        self.need_ack = true;
        if self.eof_seq.is_none() && utp::seq_lt(self.ack_nr, seq) {
            self.eof_seq = Some(seq);
            // Anything held beyond the FIN can never be delivered.
            self.ooo.retain(|s, _| utp::seq_lt(*s, seq));
            self.ooo_bytes = self.ooo.values().map(Vec::len).sum();
        }
        self.check_eof();
    }

    pub(super) fn check_eof(&mut self) {
        if !self.got_fin && self.eof_seq == Some(self.ack_nr.wrapping_add(1)) {
            self.ack_nr = self.ack_nr.wrapping_add(1);
            self.got_fin = true;
            self.wake_all();
        }
    }

    /// Moves what is in order into `buf`. `put_slice` writes into the caller's uninitialised
    /// room as it is, without zeroing it first as `initialize_unfilled` would on every read.
    pub(crate) fn read(&mut self, buf: &mut tokio::io::ReadBuf<'_>) -> usize {
        let n = buf.remaining().min(self.rbuf.len());
        let (a, b) = self.rbuf.as_slices();
        let k = n.min(a.len());
        buf.put_slice(&a[..k]);
        buf.put_slice(&b[..n - k]);
        self.rbuf.drain(..n);
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
        !self.rbuf.is_empty()
    }
}
