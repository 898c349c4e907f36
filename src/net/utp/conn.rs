//! One uTP connection as a synchronous state machine: packets in, datagrams out, timers asked
//! for by deadline. The async stream and the socket multiplexer drive it under a mutex.
//!
//! Invariants: `inflight` holds every sent-but-unacknowledged packet (data and FIN) in sequence
//! order with no gaps, so a sequence number's index is its distance from the front;
//! `inflight_bytes` is the payload of its un-SACKed entries; received bytes in `rbuf` plus the
//! reorder buffer never exceed `cfg.recv_buf`, written bytes in `wbuf` plus `inflight_bytes`
//! never exceed `cfg.send_buf`.

use super::cc::{Ledbat, Rtt};
use super::{UtpConfig, UtpStats};
use crate::protocol::utp_packet::{self as utp, Header, Packet, PacketType};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::task::Waker;
use std::time::{Duration, Instant};

mod recv;

/// Received packets further ahead than this are dropped (also bounds the reorder map).
const MAX_REORDER: u16 = 1024;
/// An ACK more than this far behind our last sent packet is not from this connection.
const MAX_ACK_LAG: u16 = 4096;
/// Consecutive retransmission timeouts before a connection counts as stalled.
const MAX_TIMEOUTS: u32 = 7;
/// An accepted connection that never hears from its peer again.
const IDLE_SYN_RECV: Duration = Duration::from_secs(20);
/// How long a dropped stream keeps delivering its unsent bytes and FIN.
const LINGER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    SynSent,
    /// Accepted, no packet seen after the SYN yet.
    SynRecv,
    Connected,
    Closed,
}

struct Seg {
    seq: u16,
    ty: PacketType,
    data: Vec<u8>,
    last_sent: Instant,
    tx: u32,
    sacked: bool,
    resend: bool,
    fast_resent: bool,
    /// Our next sequence number when this was last resent: three SACKs of packets from
    /// there on mean the resend was lost too.
    resent_mark: u16,
}

pub(crate) struct UtpConn {
    pub cfg: UtpConfig,
    pub state: State,
    recv_id: u16,
    send_id: u16,
    seq_nr: u16,
    ack_nr: u16,
    epoch: Instant,
    // sending
    wbuf: VecDeque<u8>,
    inflight: VecDeque<Seg>,
    inflight_bytes: usize,
    peer_wnd: usize,
    last_ack: u16,
    dup_acks: u32,
    pub fin_queued: bool,
    fin_sent: bool,
    pub fin_acked: bool,
    rto_at: Option<Instant>,
    probe_at: Option<Instant>,
    timeouts: u32,
    recovery_until: u16,
    /// After a timeout: segments last sent before this instant are presumed lost and are
    /// resent a congestion window at a time as ACKs come back.
    recover_before: Option<Instant>,
    // receiving
    rbuf: VecDeque<u8>,
    ooo: HashMap<u16, Vec<u8>>,
    ooo_bytes: usize,
    eof_seq: Option<u16>,
    pub got_fin: bool,
    reply_us: u32,
    need_ack: bool,
    /// On the socket's list of connections owing an ACK or a reader wake-up (see
    /// `UtpSocket::flush_acks`).
    pub ack_queued: bool,
    /// In-order data arrived since the reader was last woken: it is woken once per batch of
    /// datagrams (`ack_now`), not once per datagram.
    read_ready: bool,
    last_adv_wnd: usize,
    // shared
    rtt: Rtt,
    cc: Ledbat,
    last_recv: Instant,
    pub dropped_at: Option<Instant>,
    pub err: Option<io::ErrorKind>,
    pub stats: UtpStats,
    pub out: Vec<Vec<u8>>,
    /// A deadline appeared that the driver task may be sleeping past.
    pub timer_dirty: bool,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
}

impl UtpConn {
    fn base(cfg: UtpConfig, recv_id: u16, send_id: u16, seq_nr: u16, epoch: Instant) -> UtpConn {
        let now = Instant::now();
        UtpConn {
            cc: Ledbat::new(cfg.mss, cfg.send_buf, now),
            cfg,
            state: State::SynSent,
            recv_id,
            send_id,
            seq_nr,
            ack_nr: 0,
            epoch,
            wbuf: VecDeque::new(),
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            peer_wnd: cfg.mss,
            last_ack: seq_nr.wrapping_sub(1),
            dup_acks: 0,
            fin_queued: false,
            fin_sent: false,
            fin_acked: false,
            rto_at: None,
            probe_at: None,
            timeouts: 0,
            recovery_until: seq_nr,
            recover_before: None,
            rbuf: VecDeque::new(),
            ooo: HashMap::new(),
            ooo_bytes: 0,
            eof_seq: None,
            got_fin: false,
            reply_us: 0,
            need_ack: false,
            ack_queued: false,
            read_ready: false,
            last_adv_wnd: cfg.recv_buf,
            rtt: Rtt::new(),
            last_recv: now,
            dropped_at: None,
            err: None,
            stats: UtpStats::default(),
            out: Vec::new(),
            timer_dirty: false,
            read_waker: None,
            write_waker: None,
        }
    }

    /// Initiator: `recv_id` is ours, the peer sends with it; we send with `recv_id + 1`.
    pub(crate) fn outgoing(cfg: UtpConfig, recv_id: u16, seq: u16, epoch: Instant) -> UtpConn {
        let mut c = UtpConn::base(cfg, recv_id, recv_id.wrapping_add(1), seq, epoch);
        let now = Instant::now();
        c.push_seg(PacketType::Syn, Vec::new(), now);
        c
    }

    /// Responder to a SYN whose header said `conn_id` and `seq`.
    pub(crate) fn incoming(cfg: UtpConfig, syn: &Header, seq: u16, epoch: Instant) -> UtpConn {
        let mut c = UtpConn::base(cfg, syn.conn_id.wrapping_add(1), syn.conn_id, seq, epoch);
        c.state = State::SynRecv;
        c.ack_nr = syn.seq;
        c.peer_wnd = (syn.wnd as usize).min(cfg.send_buf);
        c.reply_us = c.now_us().wrapping_sub(syn.ts_us);
        c.send_state();
        c
    }

    fn now_us(&self) -> u32 {
        Instant::now().duration_since(self.epoch).as_micros() as u32
    }

    fn recv_window(&self) -> usize {
        self.cfg
            .recv_buf
            .saturating_sub(self.rbuf.len() + self.ooo_bytes)
    }

    fn header(&mut self, ty: PacketType, seq: u16) -> Header {
        let wnd = self.recv_window();
        self.last_adv_wnd = wnd;
        Header {
            ty,
            conn_id: if ty == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            ts_us: self.now_us(),
            ts_diff_us: self.reply_us,
            wnd: wnd as u32,
            seq,
            ack: self.ack_nr,
        }
    }

    fn send_state(&mut self) {
        let h = self.header(PacketType::State, self.seq_nr);
        let sack = if self.ooo.is_empty() {
            None
        } else {
            utp::sack_mask(self.ack_nr, self.ooo.keys().copied())
        };
        let mut d = Vec::with_capacity(60);
        utp::encode(&h, sack.as_deref(), &[], &mut d);
        self.out.push(d);
        self.need_ack = false;
    }

    fn transmit(&mut self, idx: usize, now: Instant) {
        let (ty, seq) = (self.inflight[idx].ty, self.inflight[idx].seq);
        let h = self.header(ty, seq);
        let seg = &mut self.inflight[idx];
        let mut d = Vec::with_capacity(utp::HEADER_LEN + seg.data.len());
        utp::encode(&h, None, &seg.data, &mut d);
        if seg.tx > 0 {
            self.stats.retransmits += 1;
            self.stats.resent_bytes += seg.data.len() as u64;
            seg.resent_mark = self.seq_nr;
        }
        seg.tx += 1;
        seg.last_sent = now;
        seg.resend = false;
        self.out.push(d);
        self.stats.packets_sent += 1;
        self.need_ack = false;
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
            self.timer_dirty = true;
        }
    }

    fn push_seg(&mut self, ty: PacketType, data: Vec<u8>, now: Instant) {
        let seq = self.seq_nr;
        self.seq_nr = self.seq_nr.wrapping_add(1);
        self.inflight_bytes += data.len();
        self.inflight.push_back(Seg {
            seq,
            ty,
            data,
            last_sent: now,
            tx: 0,
            sacked: false,
            resend: false,
            fast_resent: false,
            resent_mark: seq,
        });
        let idx = self.inflight.len() - 1;
        self.transmit(idx, now);
    }

    /// Whether an ACK or a reader wake-up is owed and the connection is not yet on the
    /// socket's list.
    pub(crate) fn owes_ack(&mut self) -> bool {
        (self.need_ack || self.read_ready) && !std::mem::replace(&mut self.ack_queued, true)
    }

    pub(crate) fn fail(&mut self, kind: io::ErrorKind) {
        if self.err.is_none() {
            self.err = Some(kind);
        }
        self.state = State::Closed;
        self.timer_dirty = true;
        self.wake_all();
    }

    fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    /// Processes one decoded packet addressed to this connection.
    pub(crate) fn on_packet(&mut self, p: &Packet<'_>, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        let h = &p.header;
        if h.ty == PacketType::Reset {
            self.fail(io::ErrorKind::ConnectionReset);
            return;
        }
        if h.ty == PacketType::Syn {
            // The initiator did not get our reply.
            if self.state == State::SynRecv && h.seq == self.ack_nr {
                self.send_state();
            }
            return;
        }
        let last_sent = self.seq_nr.wrapping_sub(1);
        if utp::seq_lt(last_sent, h.ack)
            || last_sent.wrapping_sub(h.ack) > MAX_ACK_LAG
            || (self.state == State::SynSent && h.ack != last_sent)
        {
            self.stats.dropped_packets += 1;
            return;
        }
        match self.state {
            State::SynSent => {
                if h.ty != PacketType::State {
                    return;
                }
                self.state = State::Connected;
                self.ack_nr = h.seq.wrapping_sub(1);
                self.wake_all();
            }
            State::SynRecv => self.state = State::Connected,
            _ => {}
        }
        self.stats.packets_recv += 1;
        self.last_recv = now;
        self.reply_us = self.now_us().wrapping_sub(h.ts_us);
        self.peer_wnd = (h.wnd as usize).min(self.cfg.send_buf);
        self.cc.delay_sample(h.ts_diff_us, now);
        self.on_ack(h, p.sack, p.payload.is_empty(), now);
        match h.ty {
            PacketType::Data => self.on_data(h.seq, p.payload),
            PacketType::Fin => self.on_fin(h.seq),
            _ => {}
        }
        // The ACK waits until the socket is drained (`ack_now`): one ACK per burst of
        // datagrams, not one per datagram, unless data going out carries it first. A hole
        // in the sequence is told at once (as TCP does), so the sender repairs it quickly.
        let hole = !self.ooo.is_empty() || h.ty != PacketType::Data;
        self.send(now, hole);
    }

    /// Sends the ACK `on_packet` deferred, if nothing carried it since, and wakes the reader
    /// if data came.
    pub(crate) fn ack_now(&mut self) {
        self.ack_queued = false;
        if std::mem::take(&mut self.read_ready) {
            if let Some(w) = self.read_waker.take() {
                w.wake();
            }
        }
        if self.need_ack && self.state != State::Closed {
            self.send_state();
        }
    }

    fn on_ack(&mut self, h: &Header, sack: Option<&[u8]>, no_payload: bool, now: Instant) {
        let mut acked = 0usize;
        let mut sample = None;
        let mut advanced = false;
        while let Some(front) = self.inflight.front() {
            if !utp::seq_le(front.seq, h.ack) {
                break;
            }
            let Some(seg) = self.inflight.pop_front() else {
                break;
            };
            advanced = true;
            if !seg.sacked {
                acked += seg.data.len();
                self.inflight_bytes -= seg.data.len();
            }
            if seg.tx == 1 {
                sample = Some(now.duration_since(seg.last_sent));
            }
            if seg.ty == PacketType::Fin {
                self.fin_acked = true;
            }
        }
        if advanced {
            self.dup_acks = 0;
            self.timeouts = 0;
            self.rtt.reset_backoff();
            self.rto_at = (!self.inflight.is_empty()).then(|| now + self.rtt.rto());
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
        if let (Some(mask), Some(front_seq)) = (sack, self.inflight.front().map(|s| s.seq)) {
            let mut highest = None;
            for s in utp::sack_iter(h.ack, mask) {
                let idx = s.wrapping_sub(front_seq) as usize;
                if let Some(seg) = self.inflight.get_mut(idx) {
                    if !seg.sacked {
                        seg.sacked = true;
                        acked += seg.data.len();
                        self.inflight_bytes -= seg.data.len();
                        if seg.tx == 1 {
                            sample = Some(now.duration_since(seg.last_sent));
                        }
                    }
                    highest = Some(idx);
                }
            }
            // A packet with three SACKed packets after it is lost (libtorrent's rule).
            if let Some(top) = highest {
                let mut after = 0;
                for idx in (0..=top).rev() {
                    let seg = &self.inflight[idx];
                    if seg.sacked {
                        after += 1;
                    } else if after >= 3 && !seg.fast_resent {
                        self.mark_lost(idx);
                    } else if after >= 3 && !seg.resend {
                        let from = seg.resent_mark.wrapping_sub(front_seq) as usize;
                        let newer = (from..=top)
                            .filter(|i| self.inflight.get(*i).is_some_and(|s| s.sacked))
                            .count();
                        if from <= top && newer >= 3 {
                            self.inflight[idx].resend = true;
                        }
                    }
                }
            }
        }
        if let Some(s) = sample {
            self.rtt.sample(s);
            self.stats.rtt = self.rtt.srtt();
        }
        if acked > 0 {
            self.cc.on_ack(acked);
            self.resend_holes();
            if let Some(w) = self.write_waker.take() {
                w.wake();
            }
        }
    }

    /// Marks presumed-lost segments for resending while fewer than a window's worth of
    /// resent ones are outstanding.
    fn resend_holes(&mut self) {
        let Some(t) = self.recover_before else { return };
        let budget = (self.cc.cwnd() / self.cfg.mss).max(1);
        let mut outstanding = 0;
        let mut left = false;
        for seg in self.inflight.iter_mut().filter(|s| !s.sacked) {
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
        let seq = self.inflight[idx].seq;
        let seg = &mut self.inflight[idx];
        if seg.sacked || seg.fast_resent {
            return;
        }
        seg.resend = true;
        seg.fast_resent = true;
        // One window reduction per window of data.
        if !utp::seq_lt(seq, self.recovery_until) {
            self.cc.on_loss();
            self.recovery_until = self.seq_nr;
        }
    }

    pub(crate) fn send_space(&self) -> usize {
        self.cfg
            .send_buf
            .saturating_sub(self.wbuf.len() + self.inflight_bytes)
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.send_space());
        self.wbuf.extend(&data[..n]);
        n
    }

    pub(crate) fn shutdown(&mut self, now: Instant) {
        self.fin_queued = true;
        self.flush(now);
    }

    /// Sends what the windows allow: retransmissions first, then new data, the FIN, and an
    /// ACK if nothing else carried one.
    pub(crate) fn flush(&mut self, now: Instant) {
        self.send(now, true);
    }

    fn send(&mut self, now: Instant, ack: bool) {
        if self.state == State::Closed {
            return;
        }
        for i in 0..self.inflight.len() {
            if self.inflight[i].resend {
                self.transmit(i, now);
            }
        }
        if self.state == State::Connected || self.state == State::SynRecv {
            let window = self.cc.cwnd().min(self.peer_wnd);
            while !self.wbuf.is_empty() {
                let n = self.wbuf.len().min(self.cfg.mss);
                if self.inflight_bytes + n > window {
                    if self.peer_wnd < n && self.inflight.is_empty() && self.probe_at.is_none() {
                        self.probe_at = Some(now + self.rtt.rto());
                        self.timer_dirty = true;
                    }
                    break;
                }
                let data: Vec<u8> = self.wbuf.drain(..n).collect();
                self.push_seg(PacketType::Data, data, now);
            }
            if self.fin_queued && !self.fin_sent && self.wbuf.is_empty() {
                self.fin_sent = true;
                self.push_seg(PacketType::Fin, Vec::new(), now);
            }
        }
        if ack && self.need_ack {
            self.send_state();
        }
    }

    /// Timer work; returns when it next wants to run.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        if self.state == State::SynRecv && now.duration_since(self.last_recv) > IDLE_SYN_RECV {
            self.fail(io::ErrorKind::TimedOut);
            return None;
        }
        if let Some(t) = self.dropped_at {
            if self.fin_acked || now.duration_since(t) > LINGER {
                self.state = State::Closed;
                return None;
            }
        }
        if self.rto_at.is_some_and(|at| now >= at) {
            self.timeouts += 1;
            self.stats.timeouts += 1;
            let limit = if self.state == State::SynSent {
                self.cfg.syn_tries
            } else {
                MAX_TIMEOUTS
            };
            if self.timeouts >= limit {
                self.fail(io::ErrorKind::TimedOut);
                return None;
            }
            self.rtt.back_off();
            if self.state != State::SynSent {
                self.cc.on_timeout();
            }
            self.recover_before = Some(now);
            self.resend_holes();
            self.rto_at = None;
            self.flush(now);
            if self.rto_at.is_none() && !self.inflight.is_empty() {
                self.rto_at = Some(now + self.rtt.rto());
            }
        }
        if self.probe_at.is_some_and(|at| now >= at) {
            self.probe_at = None;
            if self.inflight.is_empty() && !self.wbuf.is_empty() && self.peer_wnd < self.cfg.mss {
                // Zero-window probe: one byte, retransmitted and backed off like data.
                let data: Vec<u8> = self.wbuf.drain(..1).collect();
                self.push_seg(PacketType::Data, data, now);
            } else {
                self.flush(now);
            }
        }
        [self.rto_at, self.probe_at]
            .into_iter()
            .flatten()
            .min()
            .or(Some(now + Duration::from_secs(1)))
    }

    pub(crate) fn snapshot_stats(&self) -> UtpStats {
        let mut s = self.stats.clone();
        s.rtt = self.rtt.srtt();
        s.rto = self.rtt.rto();
        s.cwnd = self.cc.cwnd();
        s.queueing_delay = Duration::from_micros(self.cc.our_delay_us.max(0) as u64);
        s.peer_window = self.peer_wnd;
        s.inflight_bytes = self.inflight_bytes;
        s.inflight_packets = self.inflight.len();
        s.unsent_bytes = self.wbuf.len();
        s.unread_bytes = self.rbuf.len();
        s.reorder_bytes = self.ooo_bytes;
        s
    }

    /// Bytes this connection holds in buffers (for the memory caps' tests).
    pub(crate) fn buffered(&self) -> usize {
        self.rbuf.len() + self.ooo_bytes + self.wbuf.len() + self.inflight_bytes
    }
}
