//! One task per connection: connect → handshake → message loop (requests, pieces, uploads).
//!
//! The task owns its socket and its list of requests in flight (`conn.rs` holds the per-
//! connection state and message handling, `pipeline.rs` our requests, `upload.rs` theirs).
//! Blocks it has asked for are counted in the picker; whenever the task stops asking (choke,
//! reject, snub, pause, end — a panic included) it gives them back, so another peer can fetch
//! them.

pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod descriptors;
pub(crate) mod dial;
pub(crate) mod hashes;
pub(crate) mod ip_filter;
pub(crate) mod link;
pub(crate) mod pex;
pub(crate) mod pipeline;
pub(crate) mod proxy;
pub(crate) mod proxy_udp;
pub(crate) mod rate;
pub(crate) mod stream;
pub(crate) mod upload;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::FramedRead;

use crate::engine::api::{PeerEnd, PeerStage};
use crate::engine::peer::conn::PeerConn;
use crate::engine::peer::connect::{connect_encrypted_as, io_end};
use crate::engine::peer::dial::Transports;
use crate::engine::peer::link::{PeerCmd, PeerEvent, PeerLive, TorrentLink};
use crate::engine::peer::stream::PeerStream;
use crate::protocol::handshake::Handshake;
use crate::protocol::message::{Message, MessageCodec, WireError};

/// How a connection starts.
pub(crate) enum Start {
    /// We dial the peer, under a hybrid's short v2 hash when `under_v2` (it was listed in
    /// the v2 swarm only, and a v2-only client may know no other name), else the main one.
    /// `punch`: a BEP 55 `connect` told us to dial now, over uTP only, so that our NAT opens
    /// for the peer dialing us at the same time.
    Dial { under_v2: bool, punch: bool },
    /// The peer dialed us; its handshake was read and routed to this torrent.
    Accepted {
        stream: Box<PeerStream>,
        handshake: Handshake,
        since: Instant,
        /// Ours went already (`Event::Incoming::answered`).
        answered: bool,
    },
}

pub(crate) struct PeerTask {
    pub conn: u64,
    pub addr: SocketAddr,
    pub torrent: Arc<dyn TorrentLink>,
    pub live: Arc<PeerLive>,
    pub cmds: mpsc::UnboundedReceiver<PeerCmd>,
    /// Its place in the process's budget of peer connections (`descriptors.rs`), given back
    /// when the task ends.
    pub place: Option<tokio::sync::OwnedSemaphorePermit>,
}

thread_local! {
    static IN_PEER_TASK: Cell<bool> = const { Cell::new(false) };
}

/// True while the current thread runs a peer task, whose panics the engine catches: a panic
/// hook can then leave the process running (the connection ends as "internal error").
pub(crate) fn panic_is_caught() -> bool {
    IN_PEER_TASK.with(|c| c.get())
}

/// Marks the thread as inside a peer task while the inner future is polled.
struct Marked<F>(F);

impl<F: Future + Unpin> Future for Marked<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let was = IN_PEER_TASK.with(|c| c.replace(true));
        let out = Pin::new(&mut self.0).poll(cx);
        IN_PEER_TASK.with(|c| c.set(was));
        out
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    let s = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    s.chars().take(200).collect()
}

/// A stream failure under the codec, in a row's words: a reset by its kind (not by matching
/// std's text, which other platforms word differently), anything else as std says it.
fn wire_io_end(e: WireError) -> PeerEnd {
    match e {
        WireError::Io {
            kind: std::io::ErrorKind::ConnectionReset,
            ..
        } => PeerEnd::Reset,
        WireError::Io { text, .. } => PeerEnd::Io(text),
        other => PeerEnd::Protocol(other.to_string()),
    }
}

impl PeerTask {
    /// Runs the connection on a task of its own and reports its end to the coordinator. A
    /// panic ends only this connection, as a last line of defence: its requests go back to the
    /// picker (the connection state's `Drop`), its slot is freed, its row shows why.
    pub(crate) fn spawn(mut self, start: Start) {
        let (conn, addr, torrent) = (self.conn, self.addr, Arc::clone(&self.torrent));
        let place = self.place.take();
        // Inside its torrent's span (the caller's); `client` is filled in at the handshake.
        let span = tracing::info_span!("peer", %addr, client = tracing::field::Empty);
        let task = async move {
            let run = AssertUnwindSafe(Box::pin(self.run(start))).catch_unwind();
            let end = match Marked(Box::pin(run)).await {
                Ok(end) => end,
                Err(p) => {
                    let what = panic_text(p.as_ref());
                    tracing::error!("{addr}: peer task panicked: {what}");
                    PeerEnd::Internal(what)
                }
            };
            // Its place goes back before the torrent hears of the end, so the torrent's next
            // dial finds it free.
            drop(place);
            torrent.send(PeerEvent::Ended { conn, end });
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }

    async fn run(mut self, start: Start) -> PeerEnd {
        match start {
            Start::Dial { under_v2, punch } => self.outgoing(under_v2, punch).await,
            Start::Accepted {
                stream,
                handshake,
                since,
                answered,
            } => self.incoming(*stream, handshake, since, answered).await,
        }
    }

    async fn outgoing(&mut self, under_v2: bool, punch: bool) -> PeerEnd {
        self.stage(PeerStage::Connecting);
        let (conn, torrent) = (self.conn, Arc::clone(&self.torrent));
        let transports = Transports {
            policy: if punch && torrent.transport.utp() {
                crate::engine::api::TransportPolicy::Utp
            } else {
                torrent.transport
            },
            utp: torrent.utp.clone(),
            filter: Arc::clone(&torrent.ip_filter),
            proxy: torrent.proxy.clone(),
        };
        let name = match torrent.hybrid_v2 {
            Some(v2) if under_v2 => v2,
            _ => torrent.info_hash,
        };
        let ours = Handshake::new(name, torrent.our_id)
            .with_dht(torrent.dht.is_some())
            .with_v2(torrent.piece_layers.is_some());
        let connect = connect_encrypted_as(
            self.addr,
            torrent.bind,
            ours,
            torrent.encryption,
            &transports,
            move || {
                torrent.send(PeerEvent::Stage {
                    conn,
                    stage: PeerStage::Handshaking,
                })
            },
        );
        // A user's drop or quit must not wait for a slow connect. Other commands can wait:
        // the session starts from the shared state (pause flag, our pieces) and the choker
        // repeats its decisions.
        tokio::pin!(connect);
        let res = loop {
            tokio::select! {
                r = &mut connect => break r,
                cmd = self.cmds.recv() => match cmd {
                    Some(PeerCmd::Disconnect(end)) => break Err(end),
                    None => break Err(PeerEnd::Shutdown),
                    Some(_) => {}
                },
            }
        };
        match res {
            Err(end) => end,
            Ok((stream, hs, elapsed, enc, note)) => {
                tracing::info!("{}: connected, payload {enc}", self.addr);
                self.handshaken(&hs, elapsed, enc, stream.get_ref().kind(), note);
                self.session(stream, hs).await
            }
        }
    }

    /// An incoming connection: their handshake was read and checked; ours goes back.
    async fn incoming(
        &mut self,
        mut stream: PeerStream,
        hs: Handshake,
        since: Instant,
        answered: bool,
    ) -> PeerEnd {
        // The router gave us this connection because it names this torrent, by its info hash
        // or (a hybrid) by its v2 hash cut to 20 bytes: we answer with the name the peer
        // used, which is how it knows the torrent is the same (BEP 52).
        let ours = Handshake::new(hs.info_hash, self.torrent.our_id)
            .with_dht(self.torrent.dht.is_some())
            .with_v2(self.torrent.piece_layers.is_some());
        if !answered {
            if let Err(e) = stream.write_all(&ours.encode()).await {
                return io_end(&e, true);
            }
        }
        let transport = stream.get_ref().kind();
        self.handshaken(&hs, since.elapsed(), stream.encryption(), transport, None);
        self.session(stream, hs).await
    }

    fn handshaken(
        &self,
        hs: &Handshake,
        elapsed: Duration,
        encryption: crate::net::Encryption,
        transport: Option<crate::net::TransportKind>,
        encryption_note: Option<String>,
    ) {
        self.torrent.send(PeerEvent::Handshaken {
            conn: self.conn,
            peer_id: hs.peer_id,
            elapsed,
            encryption,
            transport,
            encryption_note,
            // libtorrent sets the v2 bit only on a hybrid's v1 connections: one made under a
            // v2 name (every connection of a v2-only torrent, a hybrid's v2 swarm) speaks v2
            // by that alone.
            v2: self.torrent.piece_layers.is_some()
                && (hs.supports_v2()
                    || self.torrent.info.v2.is_some()
                    || self.torrent.hybrid_v2 == Some(hs.info_hash)),
        });
    }

    /// A BEP 5 `port` message: the peer's DHT node, pinged and added when it answers.
    fn on_port(&self, m: &Message) {
        if let (Message::Port(port), Some(dht)) = (m, &self.torrent.dht) {
            if *port != 0 {
                // Of either family: the node drops it when it does not use that one.
                dht.try_add_node(SocketAddr::new(self.addr.ip(), *port));
            }
        }
    }

    fn stage(&self, stage: PeerStage) {
        self.torrent.send(PeerEvent::Stage {
            conn: self.conn,
            stage,
        });
    }

    /// The message loop: one select over the socket, the coordinator's commands, verified
    /// pieces (to announce) and a tick; after each step the request pipeline is topped up and
    /// queued uploads are served.
    async fn session(&mut self, stream: PeerStream, hs: Handshake) -> PeerEnd {
        tracing::Span::current().record(
            "client",
            tracing::field::display(crate::protocol::peer_id::describe_client(None, &hs.peer_id)),
        );
        let num_pieces = self.torrent.info.num_pieces();
        // Subscribed before our bitfield is taken, so no piece verified meanwhile is missed.
        let mut verified = self.torrent.verified.subscribe();
        let mut lost = self.torrent.lost.subscribe();
        // What the kernel says of a TCP connection, and the bytes acknowledged at the last
        // reading: each reading adds the difference to the session's count.
        let (mut probe, mut acked) = (None, 0u64);
        match stream.get_ref() {
            crate::net::Transport::Utp(u) => {
                let _ = self.live.utp.set(u.stats_handle());
            }
            crate::net::Transport::Tcp(t) => {
                probe = Some(crate::net::tcp_info::TcpProbe::of(t));
            }
            crate::net::Transport::WebRtc(_) => {}
            #[cfg(test)]
            crate::net::Transport::Other(_) => {}
        }
        let (rd, mut wr) = stream.split();
        let mut reader = FramedRead::with_capacity(rd, MessageCodec::new(num_pieces), 64 * 1024);
        let mut s = PeerConn::new(self.conn, &self.torrent, &self.live, hs.supports_fast());
        let (down, up) = self.torrent.rates.for_peer(self.addr.ip());
        s.set_limiters(down, up);
        let mut limits = self.torrent.rates.session.subscribe();
        let mut limits_live = true;
        self.stage(PeerStage::Connected);
        if hs.supports_extensions() {
            s.send_ext_handshake();
        }
        s.send_have_state();
        if hs.supports_dht() && self.torrent.dht.is_some() {
            // BEP 5: after the handshake, where our DHT node listens.
            s.push(&Message::Port(
                self.torrent.listen_port.load(Ordering::Relaxed),
            ));
        }
        // One timer for the tick and the rate gates, kept across turns of the loop: a sleep
        // made anew on every message would register and cancel a timer per block, and a tick
        // on a timer of its own would wake a limited connection between its turns
        // (`timer_deadline`). Due at once: the first tick comes straight away.
        let mut next_tick = tokio::time::Instant::now();
        let timer = tokio::time::sleep_until(next_tick);
        tokio::pin!(timer);
        // What the timer is set to; None once it fired (a fired sleep stays ready until reset).
        let mut armed: Option<tokio::time::Instant> = Some(next_tick);
        let backlog = self.torrent.writers_backlog();
        // Registered before `held_back` is next set, and again each time it fires: a wake
        // between that check and the select below is kept, not lost (a connection held back
        // reads nothing, so no later block would look again).
        let caught_up = backlog.notified();
        tokio::pin!(caught_up);
        caught_up.as_mut().enable();
        let end = loop {
            if let Err(end) = s.flush(&mut wr).await {
                break end;
            }
            let now = tokio::time::Instant::now();
            let may_read = s.may_read(now);
            let wake = timer_deadline(s.next_wake(now), next_tick);
            if armed != Some(wake) {
                timer.as_mut().reset(wake);
                armed = Some(wake);
            }
            let step = tokio::select! {
                msg = reader.next(), if may_read => match msg {
                    None => Err(PeerEnd::ClosedByPeer),
                    Some(Err(e @ WireError::Io { .. })) => Err(wire_io_end(e)),
                    Some(Err(e)) => Err(PeerEnd::Protocol(e.to_string())),
                    Some(Ok(m)) => {
                        self.on_port(&m);
                        s.on_message(m)
                    }
                },
                cmd = self.cmds.recv() => match cmd {
                    None => Err(PeerEnd::Shutdown),
                    Some(c) => s.on_command(c),
                },
                v = verified.recv() => {
                    match v {
                        Ok(index) => s.on_verified(index),
                        Err(broadcast::error::RecvError::Lagged(_)) => s.on_verified_lagged(),
                        // The sender lives in `Shared`, which this task holds.
                        Err(broadcast::error::RecvError::Closed) => {}
                    }
                    Ok(())
                },
                l = lost.recv() => {
                    match l {
                        Ok(index) => s.on_lost(index),
                        Err(broadcast::error::RecvError::Lagged(_)) => s.on_lost_lagged(),
                        // The sender lives in `Shared`, which this task holds.
                        Err(broadcast::error::RecvError::Closed) => {}
                    }
                    Ok(())
                },
                // The writers caught up: read again and ask for more (below, as after every
                // step).
                _ = caught_up.as_mut(), if s.held_back => {
                    caught_up.set(backlog.notified());
                    caught_up.as_mut().enable();
                    s.writers_caught_up();
                    Ok(())
                },
                // A gate opens (read or send again, no polling in between), the tick is due,
                // or both.
                _ = &mut timer => {
                    armed = None;
                    let now = tokio::time::Instant::now();
                    if tick_rides_along(next_tick, now) {
                        next_tick = now + TICK;
                        // `probe` names this connection's socket: the halves that own it
                        // live until this loop ends.
                        if let Some(f) = probe.and_then(|p| p.read()) {
                            self.live.set_round_trip(f.rtt, f.min_rtt);
                            let sent = f.bytes_acked.saturating_sub(acked);
                            acked = f.bytes_acked;
                            self.torrent.rates.session.acked.fetch_add(sent, Ordering::Relaxed);
                        }
                        s.on_tick()
                    } else {
                        Ok(())
                    }
                },
                r = limits.changed(), if limits_live => {
                    match r {
                        Ok(()) => s.limits_changed(),
                        Err(_) => limits_live = false,
                    }
                    Ok(())
                },
            };
            if let Err(end) = step {
                break end;
            }
            s.fill_pipeline();
            if let Err(end) = s.serve_uploads().await {
                break end;
            }
        };
        // Best effort: a last flush so a peer we drop sees our final messages.
        let _ = tokio::time::timeout(Duration::from_millis(200), s.flush(&mut wr)).await;
        end
    }
}

/// How often a connection checks its timers (idle, keep-alive, snub) and its rate.
const TICK: Duration = Duration::from_millis(500);

/// How late a tick may come while a rate gate is shut: it waits for the gate's wake-up, so a
/// limited connection wakes once per turn (`rate::TURN`) and not also for its tick, unless the
/// gate stays shut longer than this (many connections sharing a slow limit). The tick's work
/// is timeouts counted in seconds (snub 15 s, keep-alive 90 s), a rate sampled over the time
/// since the last tick, and leaving an idle gate's round (`LEAVE_AFTER`, 2 s): none minds a
/// tick a second or two late.
const TICK_WAITS_FOR_GATE: Duration = Duration::from_millis(1500);

/// Whether a tick due at `next_tick` is done at a wake-up happening `now` anyway: when due
/// within half a period. The tick's work does not mind coming up to half a tick early, and
/// then it starts its period over, so a connection woken once per turn by its gate does the
/// tick's work on those wake-ups.
fn tick_rides_along(next_tick: tokio::time::Instant, now: tokio::time::Instant) -> bool {
    next_tick.saturating_duration_since(now) <= TICK / 2
}

/// When the connection's one timer is to fire: when a shut gate (`gate`, its wake-up) opens,
/// where the tick rides along if due (`tick_rides_along`), up to `TICK_WAITS_FOR_GATE` past
/// the tick's due time; with no gate shut, at the tick. Never before `next_tick - TICK / 2`
/// for the tick alone, and a gate's wake is never in the past (`Gate::wake`), so a timer
/// that fires always finds work: nothing spins.
fn timer_deadline(
    gate: Option<tokio::time::Instant>,
    next_tick: tokio::time::Instant,
) -> tokio::time::Instant {
    match gate {
        Some(g) => g.min(next_tick + TICK_WAITS_FOR_GATE),
        None => next_tick,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_tick_due_within_half_a_period_rides_along_with_a_gate_wake() {
        let now = tokio::time::Instant::now();
        assert!(tick_rides_along(now, now), "due now");
        assert!(tick_rides_along(now - TICK, now), "overdue");
        assert!(tick_rides_along(now + TICK / 2, now));
        assert!(!tick_rides_along(
            now + TICK / 2 + Duration::from_millis(1),
            now
        ));
        assert!(!tick_rides_along(now + TICK, now));
    }

    /// A limited connection whose gate opens once per turn (`rate::TURN`, plus the few ms its
    /// reads take) wakes only then: its tick rides along with every gate wake-up and never
    /// wakes it alone (with a timer of its own, a 500 ms tick woke it twice a turn).
    #[test]
    fn a_limited_connection_wakes_once_per_turn_and_ticks_on_those_wake_ups() {
        let start = tokio::time::Instant::now();
        let turn = crate::engine::peer::rate::TURN + Duration::from_millis(5);
        let mut next_tick = start;
        let (mut ticks, mut wakes_without_gate) = (0, 0);
        let mut now = start;
        let mut gate = start + turn;
        for _ in 0..200 {
            let fire = timer_deadline(Some(gate), next_tick);
            assert!(fire >= now, "a timer in the past");
            now = fire;
            if now < gate {
                wakes_without_gate += 1;
            } else {
                gate += turn;
            }
            if tick_rides_along(next_tick, now) {
                ticks += 1;
                next_tick = now + TICK;
            }
        }
        assert_eq!(wakes_without_gate, 0);
        assert_eq!(ticks, 200, "the tick ran at every gate wake-up");
    }

    #[test]
    fn a_gate_shut_for_long_still_lets_the_tick_run_every_few_seconds() {
        let start = tokio::time::Instant::now();
        let gate = start + Duration::from_secs(20);
        let mut next_tick = start + TICK;
        let mut now = start;
        let mut ticks = 0;
        while now < gate {
            let fire = timer_deadline(Some(gate), next_tick);
            assert!(fire > now && fire <= now + TICK + TICK_WAITS_FOR_GATE);
            now = fire;
            if tick_rides_along(next_tick, now) {
                ticks += 1;
                next_tick = now + TICK;
            }
        }
        // One tick per TICK + TICK_WAITS_FOR_GATE (2 s) while shut, then the gate's.
        assert_eq!(ticks, 10);
        // No gate shut: the timer is the tick's.
        assert_eq!(timer_deadline(None, next_tick), next_tick);
        // A gate opening before the tick is due wakes the connection without it.
        let soon = now + Duration::from_millis(100);
        assert_eq!(timer_deadline(Some(soon), now + TICK), soon);
        assert!(!tick_rides_along(now + TICK, soon));
    }

    #[test]
    fn a_reset_is_told_by_its_kind_whatever_its_words() {
        let reset = Error::new(ErrorKind::ConnectionReset, "peer went away");
        assert_eq!(wire_io_end(WireError::from(reset)), PeerEnd::Reset);
        let other = Error::new(ErrorKind::BrokenPipe, "reset? no: a broken pipe");
        assert_eq!(
            wire_io_end(WireError::from(other)),
            PeerEnd::Io("reset? no: a broken pipe".into())
        );
    }
}
