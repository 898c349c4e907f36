//! One uTP connection as a synchronous state machine: packets in, datagrams out, timers asked
//! for by deadline. The async stream and the socket multiplexer drive it under a mutex.
//!
//! It is made of parts that each keep their own invariant: the send window (`Inflight`), the
//! received bytes and reorder buffer (`RecvBuf`), the deadlines (`Timers`), the parked tasks
//! (`Wakers`), the ACK and wake-up owed at the end of a batch (`Owed`), our FIN's progress
//! (`Fin`), the round-trip estimate (`Rtt`) and LEDBAT (`Ledbat`).
//!
//! Invariant across the parts: written bytes in `wbuf` plus the send window's never exceed
//! `cfg.send_buf` (`write` takes only `send_space`).

use super::cc::{Ledbat, Rtt};
use super::{UtpConfig, UtpStats};
use crate::protocol::utp_packet::{self as utp, Header, Packet, PacketType};
use inflight::Inflight;
use owed::{Fin, Owed};
use recv_buf::RecvBuf;
use std::collections::VecDeque;
use std::io;
use std::task::Waker;
use std::time::{Duration, Instant};
use timers::{Timers, Wakers};

mod inflight;
mod owed;
mod recv;
mod recv_buf;
mod send;
mod timers;

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

pub(crate) struct UtpConn {
    cfg: UtpConfig,
    state: State,
    recv_id: u16,
    send_id: u16,
    seq_nr: u16,
    ack_nr: u16,
    epoch: Instant,
    // sending
    wbuf: VecDeque<u8>,
    inflight: Inflight,
    peer_wnd: usize,
    last_ack: u16,
    dup_acks: u32,
    fin: Fin,
    timeouts: u32,
    recovery_until: u16,
    /// After a timeout: segments last sent before this instant are presumed lost and are
    /// resent a congestion window at a time as ACKs come back.
    recover_before: Option<Instant>,
    // receiving
    rx: RecvBuf,
    eof_seq: Option<u16>,
    got_fin: bool,
    reply_us: u32,
    owed: Owed,
    last_adv_wnd: usize,
    // shared
    rtt: Rtt,
    cc: Ledbat,
    timers: Timers,
    wakers: Wakers,
    last_recv: Instant,
    dropped_at: Option<Instant>,
    err: Option<io::ErrorKind>,
    stats: UtpStats,
    out: Vec<Vec<u8>>,
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
            inflight: Inflight::default(),
            peer_wnd: cfg.mss,
            last_ack: seq_nr.wrapping_sub(1),
            dup_acks: 0,
            fin: Fin::No,
            timeouts: 0,
            recovery_until: seq_nr,
            recover_before: None,
            rx: RecvBuf::new(cfg.recv_buf),
            eof_seq: None,
            got_fin: false,
            reply_us: 0,
            owed: Owed::default(),
            last_adv_wnd: cfg.recv_buf,
            rtt: Rtt::new(),
            timers: Timers::default(),
            wakers: Wakers::default(),
            last_recv: now,
            dropped_at: None,
            err: None,
            stats: UtpStats::default(),
            out: Vec::new(),
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
        self.rx.window()
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
        let sack = if self.rx.has_holes() {
            utp::sack_mask(self.ack_nr, self.rx.held_seqs())
        } else {
            None
        };
        let mut d = Vec::with_capacity(60);
        utp::encode(&h, sack.as_deref(), &[], &mut d);
        self.out.push(d);
        self.owed.ack_sent();
    }

    /// Whether an ACK or a reader wake-up is owed and the connection is not yet on the
    /// socket's list.
    pub(crate) fn owes_ack(&mut self) -> bool {
        self.owed.enqueue()
    }

    pub(crate) fn fail(&mut self, kind: io::ErrorKind) {
        if self.err.is_none() {
            self.err = Some(kind);
        }
        self.state = State::Closed;
        self.timers.touch();
        self.wakers.wake_all();
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
                self.wakers.wake_all();
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
        let hole = self.rx.has_holes() || h.ty != PacketType::Data;
        self.send(now, hole);
    }

    /// Sends the ACK `on_packet` deferred, if nothing carried it since, and wakes the reader
    /// if data came.
    pub(crate) fn ack_now(&mut self) {
        if self.owed.dequeue() {
            self.wakers.wake_read();
        }
        if self.owed.ack() && self.state != State::Closed {
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
            if self.fin == Fin::Acked || now.duration_since(t) > LINGER {
                self.state = State::Closed;
                return None;
            }
        }
        if self.timers.rto_due(now) {
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
            self.timers.reset_rto(None);
            self.flush(now);
            if !self.timers.rto_running() && !self.inflight.is_empty() {
                self.timers.reset_rto(Some(now + self.rtt.rto()));
            }
        }
        if self.timers.take_probe(now) {
            if self.inflight.is_empty() && !self.wbuf.is_empty() && self.peer_wnd < self.cfg.mss {
                // Zero-window probe: one byte, retransmitted and backed off like data.
                let data: Vec<u8> = self.wbuf.drain(..1).collect();
                self.push_seg(PacketType::Data, data, now);
            } else {
                self.flush(now);
            }
        }
        self.timers.next().or(Some(now + Duration::from_secs(1)))
    }

    pub(crate) fn snapshot_stats(&self) -> UtpStats {
        let mut s = self.stats.clone();
        s.rtt = self.rtt.srtt();
        s.rto = self.rtt.rto();
        s.cwnd = self.cc.cwnd();
        s.queueing_delay = Duration::from_micros(self.cc.our_delay_us.max(0) as u64);
        s.peer_window = self.peer_wnd;
        s.inflight_bytes = self.inflight.bytes();
        s.inflight_packets = self.inflight.len();
        s.unsent_bytes = self.wbuf.len();
        s.unread_bytes = self.rx.unread();
        s.reorder_bytes = self.rx.reorder_bytes();
        s
    }

    /// Bytes this connection holds in buffers (for the memory caps' tests).
    pub(crate) fn buffered(&self) -> usize {
        self.rx.held() + self.wbuf.len() + self.inflight.bytes()
    }

    // What the stream (`stream.rs`) reads and sets.

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn error(&self) -> Option<io::ErrorKind> {
        self.err
    }

    /// The peer's FIN arrived and every byte before it was delivered.
    pub(crate) fn got_fin(&self) -> bool {
        self.got_fin
    }

    pub(crate) fn fin_queued(&self) -> bool {
        self.fin.asked()
    }

    pub(crate) fn park_reader(&mut self, w: &Waker) {
        self.wakers.park_read(w);
    }

    pub(crate) fn park_writer(&mut self, w: &Waker) {
        self.wakers.park_write(w);
    }

    /// The datagrams to send, and whether the driver must look at the deadlines again.
    pub(crate) fn take_output(&mut self) -> (Vec<Vec<u8>>, bool) {
        (std::mem::take(&mut self.out), self.timers.take_dirty())
    }

    /// The stream was dropped: deliver what is unsent and the FIN, for a while.
    pub(crate) fn linger(&mut self, now: Instant) {
        self.dropped_at = Some(now);
        self.timers.touch();
        self.shutdown(now);
    }
}
