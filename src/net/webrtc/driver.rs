//! The driver: one task owning the UDP socket and every connection's `str0m::Rtc`.
//!
//! str0m's contract (its crate docs): after each mutation of an `Rtc` (a datagram, a
//! timeout, a write, an SDP change) `poll_output` is drained to its `Timeout` before the
//! next. `drive` is that drain, and every path that touches an `Rtc` ends in it. A datagram
//! goes to the one `Rtc` that `accepts` it (ICE's credentials in STUN, then the address ICE
//! chose). Sends never wait: a datagram the kernel's buffer cannot take is lost, as any
//! datagram may be, and ICE, DTLS and SCTP retransmit; the task never waits on one
//! connection's sends while others have input. The datagrams one drain produced leave
//! together at its end, a run to one address in as few calls as UDP GSO allows
//! (`net::udp_gso`, as uTP's): SCTP sends a window's worth at once, and a `sendto` each
//! was a third of a seeder's time.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use str0m::change::SdpPendingOffer;
use str0m::channel::ChannelId;
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use super::sdp;
use super::stun::Stun;
use super::{
    Connecting, Offer, OfferId, Stage, StunStatus, WebRtc, WebRtcConfig, WebRtcError, WebRtcStream,
    MAX_MESSAGE,
};
use crate::net::udp_batch::BatchRecv;
use crate::net::udp_gso::UdpOut;

pub(crate) type ConnId = u64;

/// How long a closed stream's connection may take to send what was written before it
/// closed, and to say goodbye (SCTP's shutdown, DTLS's close_notify).
const LINGER: Duration = Duration::from_secs(5);

/// The largest datagram we take: ICE and DTLS stay under the path MTU (str0m sends at most
/// 1200-byte datagrams by default, browsers about as much); a larger one is not WebRTC.
const MAX_DATAGRAM: usize = 4096;

/// Batches read per wake of the socket (each up to `udp_batch::BATCH` datagrams).
const READS_PER_WAKE: usize = 8;

/// The socket's kernel buffers: a burst of SCTP at loopback speed fits, so a datagram is
/// seldom lost to a full buffer.
const SOCKET_BUFFER: usize = 2 << 20;

pub(super) enum Command {
    Offer {
        reply: oneshot::Sender<Result<Offer, WebRtcError>>,
    },
    Connect {
        offer: OfferId,
        sdp: String,
        reply: oneshot::Sender<Result<Connecting, WebRtcError>>,
    },
    Answer {
        sdp: String,
        reply: oneshot::Sender<Result<(String, Connecting), WebRtcError>>,
    },
    Withdraw {
        offer: OfferId,
    },
    /// Ask this STUN server from now on.
    Stun {
        server: SocketAddr,
    },
    /// A STUN server is on its way (its name is being resolved): offers wait for it; false
    /// when it will not come after all (its name did not resolve).
    ExpectStun {
        coming: bool,
        /// Answered once the status says so: a reader of `stun_status` after it sees it.
        done: oneshot::Sender<()>,
    },
}

/// From a stream to the driver: bytes to send (with the credit they hold), or the end.
pub(crate) enum Write {
    Data {
        conn: ConnId,
        bytes: Bytes,
        permit: OwnedSemaphorePermit,
    },
    Close {
        conn: ConnId,
    },
}

/// The stream's side of an open connection.
struct Open {
    reader: Option<mpsc::UnboundedSender<io::Result<Bytes>>>,
    unread: Arc<AtomicUsize>,
    credit: Arc<Semaphore>,
    outgoing: VecDeque<(Bytes, OwnedSemaphorePermit)>,
    /// The stream closed: send what is queued, then close, by this time at the latest.
    closing: Option<Instant>,
}

struct Conn {
    rtc: Rtc,
    stage: Stage,
    stage_tx: watch::Sender<Stage>,
    /// When the current stage fails for want of progress.
    deadline: Option<Instant>,
    next_timeout: Instant,
    /// Our offer's state, until its answer comes.
    pending: Option<SdpPendingOffer>,
    /// The caller's half, until it is handed out (our offer: at `connect`).
    connecting: Option<Connecting>,
    done: Option<oneshot::Sender<Result<WebRtcStream, WebRtcError>>>,
    /// Our data channel: known from the start when we offer, from its opening otherwise.
    channel: Option<ChannelId>,
    /// Where the last datagram went: the peer's address on the pair ICE uses.
    remote: Option<SocketAddr>,
    open: Option<Open>,
}

/// What a connection's drain needs besides the connection.
struct Ctx<'a> {
    id: ConnId,
    /// Where the drain's datagrams wait until its end, in order.
    outbox: &'a std::cell::RefCell<Vec<(SocketAddr, Vec<u8>)>>,
    config: &'a WebRtcConfig,
    writes: &'a mpsc::UnboundedSender<Write>,
}

struct Driver {
    config: WebRtcConfig,
    local: SocketAddr,
    hosts: Vec<SocketAddr>,
    conns: HashMap<ConnId, Conn>,
    next_id: ConnId,
    writes: mpsc::UnboundedSender<Write>,
    outbox: std::cell::RefCell<Vec<(SocketAddr, Vec<u8>)>>,
    /// Sends the outbox: GSO where the kernel has it (None until `run` starts).
    out: Option<UdpOut>,
    /// The STUN client, when a server is set; what it learns goes to `config.reflexive`
    /// (for connections made from then on) and to `reflexive`.
    stun: Option<Stun>,
    /// A server was named but not yet given (`Command::ExpectStun`).
    stun_expected: bool,
    reflexive: watch::Sender<StunStatus>,
}

pub(super) async fn start(mut config: WebRtcConfig) -> Result<WebRtc, WebRtcError> {
    // A write takes at most MAX_MESSAGE permits at once; fewer in all would never do.
    config.send_buffer = config.send_buffer.max(MAX_MESSAGE);
    config.max_connections = config.max_connections.max(1);
    let socket = bind(config.bind)?;
    let local = socket.local_addr()?;
    let hosts = host_addrs(&config, local);
    let (commands, crx) = mpsc::channel(64);
    let (writes, wrx) = mpsc::unbounded_channel();
    // A server of the socket's family; the other family's cannot be reached from it.
    let stun = (config.stun)
        .filter(|s| s.is_ipv4() == local.is_ipv4())
        .map(|s| Stun::new(s, Instant::now()));
    let (reflexive, reflexive_rx) = watch::channel(StunStatus {
        server: stun.as_ref().map(|s| s.server),
        mapped: config.reflexive,
        silent: false,
        pending: false,
    });
    let driver = Driver {
        config,
        local,
        hosts,
        conns: HashMap::new(),
        next_id: 1,
        writes,
        outbox: Default::default(),
        out: None,
        stun,
        stun_expected: false,
        reflexive,
    };
    tokio::spawn(driver.run(socket, crx, wrx));
    Ok(WebRtc {
        commands,
        local,
        reflexive: reflexive_rx,
    })
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Larger buffers are a help, not a need: the kernel may cap them.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Our host candidates: the configured addresses, else the bound one, else (a wildcard)
/// the addresses of the machine's interfaces of its family (`pick_hosts`).
fn host_addrs(config: &WebRtcConfig, local: SocketAddr) -> Vec<SocketAddr> {
    let port = local.port();
    let ips: Vec<IpAddr> = if !config.host_addrs.is_empty() {
        config.host_addrs.clone()
    } else if !local.ip().is_unspecified() {
        vec![local.ip()]
    } else {
        pick_hosts(interface_addrs(), local.is_ipv4())
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

/// The interface addresses of the socket's family worth offering. Loopback only when there
/// is nothing else: as libwebrtc does, since a remote peer's checks to 127.0.0.1 reach its
/// own machine, not ours. Link-local addresses (str0m refuses IPv4's) are left out too.
fn pick_hosts(all: Vec<IpAddr>, v4: bool) -> Vec<IpAddr> {
    let family: Vec<IpAddr> = all.into_iter().filter(|ip| ip.is_ipv4() == v4).collect();
    let link_local = |ip: &IpAddr| match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    };
    let routable: Vec<IpAddr> = family
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback() && !link_local(ip))
        .collect();
    if routable.is_empty() {
        family.into_iter().filter(|ip| ip.is_loopback()).collect()
    } else {
        routable
    }
}

fn interface_addrs() -> Vec<IpAddr> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = all
        .filter_map(|a| {
            let s = a.address?;
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

impl Driver {
    async fn run(
        mut self,
        socket: UdpSocket,
        mut commands: mpsc::Receiver<Command>,
        mut writes: mpsc::UnboundedReceiver<Write>,
    ) {
        // Batched reads (recvmmsg) that also tell each datagram's local address.
        let mut rx = BatchRecv::new(&socket);
        let socket = Arc::new(socket);
        self.out = Some(UdpOut::new(Arc::clone(&socket), None));
        let mut handles = true;
        loop {
            if !handles && self.conns.is_empty() {
                return;
            }
            self.ask_stun(&socket);
            let wake = self.next_wake();
            tokio::select! {
                c = commands.recv(), if handles => match c {
                    Some(c) => self.command(c, &socket),
                    None => handles = false,
                },
                // `self.writes` keeps the channel open: never `None`.
                Some(w) = writes.recv() => self.write(w, &socket),
                r = socket.readable() => match r {
                    Ok(()) => self.read(&socket, &mut rx),
                    Err(e) => tracing::trace!("webrtc: readable: {e}"),
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                    self.tick(&socket)
                }
            }
        }
    }

    /// Sends the STUN request when one is due.
    fn ask_stun(&mut self, socket: &UdpSocket) {
        let Some(stun) = self.stun.as_mut() else {
            return;
        };
        if let Some(req) = stun.poll(Instant::now()) {
            if let Err(e) = socket.try_send_to(&req, stun.server) {
                tracing::debug!(server = %stun.server, "WebRTC: STUN request not sent: {e}");
            }
        }
        self.publish_stun();
    }

    /// What the STUN client knows, to `WebRtc::stun_status` watchers when it changed.
    fn publish_stun(&self) {
        let now = StunStatus {
            server: self.stun.as_ref().map(|s| s.server),
            mapped: self.config.reflexive,
            silent: self.stun.as_ref().is_some_and(|s| s.silent),
            pending: match &self.stun {
                Some(s) => s.mapped.is_none() && !s.silent,
                None => self.stun_expected,
            },
        };
        self.reflexive.send_if_modified(|was| {
            let changed = *was != now;
            *was = now;
            changed
        });
    }

    fn next_wake(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let far = self.stun.as_ref().map_or(far, |s| s.next.min(far));
        self.conns
            .values()
            .flat_map(|c| {
                [
                    Some(c.next_timeout),
                    c.deadline,
                    c.open.as_ref().and_then(|o| o.closing),
                ]
            })
            .flatten()
            .fold(far, Instant::min)
    }

    fn command(&mut self, c: Command, socket: &UdpSocket) {
        match c {
            Command::Offer { reply } => {
                let _ = reply.send(self.offer(socket));
            }
            Command::Connect { offer, sdp, reply } => {
                let _ = reply.send(self.connect(offer, &sdp, socket));
            }
            Command::Answer { sdp, reply } => {
                let _ = reply.send(self.answer(&sdp, socket));
            }
            Command::Stun { server } => {
                self.stun_expected = false;
                if server.is_ipv4() == self.local.is_ipv4() {
                    self.stun = Some(Stun::new(server, Instant::now()));
                } else {
                    tracing::info!("WebRTC: STUN server {server} is of the other address family than {}: not asked", self.local);
                }
                self.publish_stun();
            }
            Command::ExpectStun { coming, done } => {
                self.stun_expected = coming && self.stun.is_none();
                self.publish_stun();
                let _ = done.send(());
            }
            Command::Withdraw { offer } => {
                if self
                    .conns
                    .get(&offer.0)
                    .is_some_and(|c| c.stage == Stage::Signalling)
                {
                    self.conns.remove(&offer.0);
                }
            }
        }
    }

    fn new_conn(&mut self, stage: Stage) -> Result<(ConnId, Conn), WebRtcError> {
        if self.conns.len() >= self.config.max_connections {
            return Err(WebRtcError::TooMany(self.config.max_connections));
        }
        let now = Instant::now();
        let reflexive = self.config.reflexive.and_then(|r| {
            let base = self.hosts.iter().find(|h| h.is_ipv4() == r.is_ipv4())?;
            Some((r, *base))
        });
        let rtc = sdp::new_rtc(now, &self.hosts, reflexive, self.config.sctp_buffer);
        let (stage_tx, stage_rx) = watch::channel(stage);
        let (done, done_rx) = oneshot::channel();
        let id = self.next_id;
        self.next_id += 1;
        let conn = Conn {
            rtc,
            stage,
            stage_tx,
            deadline: Some(now + stage_timeout(&self.config, stage)),
            next_timeout: now,
            pending: None,
            connecting: Some(Connecting {
                stage: stage_rx,
                named: None,
                done: done_rx,
            }),
            done: Some(done),
            channel: None,
            remote: None,
            open: None,
        };
        Ok((id, conn))
    }

    fn offer(&mut self, socket: &UdpSocket) -> Result<Offer, WebRtcError> {
        let (id, mut conn) = self.new_conn(Stage::Signalling)?;
        let (sdp, pending, channel) = sdp::make_offer(&mut conn.rtc)?;
        conn.pending = Some(pending);
        conn.channel = Some(channel);
        self.conns.insert(id, conn);
        self.drive(id, socket);
        tracing::debug!(conn = id, "webrtc: offer made");
        Ok(Offer {
            sdp,
            id: OfferId(id),
        })
    }

    fn connect(
        &mut self,
        offer: OfferId,
        answer: &str,
        socket: &UdpSocket,
    ) -> Result<Connecting, WebRtcError> {
        let conn = self
            .conns
            .get_mut(&offer.0)
            .filter(|c| c.stage == Stage::Signalling)
            .ok_or(WebRtcError::UnknownOffer)?;
        let pending = conn.pending.take().ok_or(WebRtcError::UnknownOffer)?;
        let named = match sdp::accept_answer(&mut conn.rtc, pending, answer) {
            Ok(named) => named,
            Err(e) => {
                // The offer is spent: str0m took its state.
                self.conns.remove(&offer.0);
                return Err(e);
            }
        };
        advance(conn, Stage::Ice, &self.config, Instant::now());
        let mut connecting = conn.connecting.take().ok_or(WebRtcError::UnknownOffer)?;
        connecting.named = named;
        self.drive(offer.0, socket);
        Ok(connecting)
    }

    fn answer(
        &mut self,
        offer: &str,
        socket: &UdpSocket,
    ) -> Result<(String, Connecting), WebRtcError> {
        let (id, mut conn) = self.new_conn(Stage::Ice)?;
        let (answer, named) = sdp::accept_offer(&mut conn.rtc, offer)?;
        let mut connecting = conn.connecting.take().ok_or(WebRtcError::DriverGone)?;
        connecting.named = named;
        self.conns.insert(id, conn);
        self.drive(id, socket);
        tracing::debug!(conn = id, "webrtc: answered an offer");
        Ok((answer, connecting))
    }

    fn write(&mut self, w: Write, socket: &UdpSocket) {
        let id = match w {
            Write::Data {
                conn,
                bytes,
                permit,
            } => {
                let Some(open) = self.conns.get_mut(&conn).and_then(|c| c.open.as_mut()) else {
                    return;
                };
                open.outgoing.push_back((bytes, permit));
                conn
            }
            Write::Close { conn } => {
                let Some(open) = self.conns.get_mut(&conn).and_then(|c| c.open.as_mut()) else {
                    return;
                };
                open.closing.get_or_insert(Instant::now() + LINGER);
                conn
            }
        };
        self.drive(id, socket);
    }

    /// What the socket holds, a bounded number of batches at a time, so that commands,
    /// writes and timers get their turn under a flood of datagrams.
    fn read(&mut self, socket: &UdpSocket, rx: &mut BatchRecv) {
        for _ in 0..READS_PER_WAKE {
            let r = rx.try_recv_to(socket, |d, from, to| {
                if d.len() <= MAX_DATAGRAM {
                    self.receive(d, from, to, socket);
                }
            });
            match r {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // ICMP's port unreachable and the like: one peer's, not the socket's.
                Err(e) => tracing::trace!("webrtc: recv: {e}"),
            }
        }
    }

    fn receive(&mut self, data: &[u8], from: SocketAddr, to: Option<IpAddr>, socket: &UdpSocket) {
        let now = Instant::now();
        if let Some(stun) = self.stun.as_mut().filter(|s| s.is_server(from)) {
            if stun.on_datagram(data, from, now) {
                self.config.reflexive = stun.mapped;
                self.publish_stun();
            }
            return;
        }
        let destination = self.destination_for(from, to);
        // Not STUN, DTLS, RTP or RTCP: not ours to read.
        let Ok(receive) = Receive::new(Protocol::Udp, from, destination, data) else {
            return;
        };
        let input = Input::Receive(now, receive);
        let Some(id) = self
            .conns
            .iter()
            .find(|(_, c)| c.rtc.accepts(&input))
            .map(|(id, _)| *id)
        else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Err(e) = conn.rtc.handle_input(input) {
            let stage = conn.stage;
            self.fail(id, failed(stage, e), socket);
            return;
        }
        self.drive(id, socket);
    }

    /// The address a datagram came to: the bound one, unless it is a wildcard; then the one
    /// the kernel told (IP_PKTINFO), else the first host address of the sender's family.
    fn destination_for(&self, from: SocketAddr, to: Option<IpAddr>) -> SocketAddr {
        if !self.local.ip().is_unspecified() {
            return self.local;
        }
        if let Some(ip) = to {
            return SocketAddr::new(ip, self.local.port());
        }
        self.hosts
            .iter()
            .find(|h| h.is_ipv4() == from.is_ipv4())
            .copied()
            .unwrap_or(self.local)
    }

    fn tick(&mut self, socket: &UdpSocket) {
        let now = Instant::now();
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.next_timeout <= now
                    || c.deadline.is_some_and(|d| d <= now)
                    || c.open
                        .as_ref()
                        .and_then(|o| o.closing)
                        .is_some_and(|d| d <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            if let Err(e) = conn.rtc.handle_input(Input::Timeout(now)) {
                let stage = conn.stage;
                self.fail(id, failed(stage, e), socket);
                continue;
            }
            self.drive(id, socket);
        }
    }

    /// Drains the connection's output, sends what the stream queued while SCTP has room,
    /// and applies the deadlines; ends the connection when it failed or closed.
    fn drive(&mut self, id: ConnId, socket: &UdpSocket) {
        let ctx = Ctx {
            id,
            outbox: &self.outbox,
            config: &self.config,
            writes: &self.writes,
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let r = step(conn, &ctx);
        self.send_out();
        match r {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(conn = id, "webrtc: closed");
                self.conns.remove(&id);
            }
            Err(e) => self.fail(id, e, socket),
        }
    }

    /// Sends what the drain left in the outbox: each run to one address in one go.
    fn send_out(&self) {
        let mut outbox = self.outbox.borrow_mut();
        let Some(out) = self.out.as_ref() else {
            outbox.clear();
            return;
        };
        let mut run: Vec<Vec<u8>> = Vec::new();
        let mut to: Option<SocketAddr> = None;
        for (dest, d) in outbox.drain(..) {
            if to.is_some_and(|t| t != dest) {
                if let Some(t) = to {
                    out.send_all(&run, t);
                }
                run.clear();
            }
            to = Some(dest);
            run.push(d);
        }
        if let Some(t) = to {
            out.send_all(&run, t);
        }
    }

    fn fail(&mut self, id: ConnId, e: WebRtcError, socket: &UdpSocket) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        tracing::debug!(conn = id, "webrtc: {e}");
        if conn.stage >= Stage::Dtls && conn.rtc.is_alive() && conn.rtc.close().is_ok() {
            // A goodbye (SCTP's abort, DTLS's close_notify) tells the peer now, rather than
            // when its ICE gives up on us.
            goodbye(&mut conn.rtc, socket);
        }
        conn.rtc.disconnect();
        if let Some(done) = conn.done.take() {
            let _ = done.send(Err(e));
        } else if let Some(open) = conn.open.as_mut() {
            open.credit.close();
            if let Some(reader) = open.reader.take() {
                let _ = reader.send(Err(io::Error::other(e.to_string())));
            }
        }
    }
}

/// Sends what a closing `Rtc` has to say, a bounded number of datagrams, without acting
/// on anything else: the connection is being dropped.
fn goodbye(rtc: &mut Rtc, socket: &UdpSocket) {
    for _ in 0..32 {
        match rtc.poll_output() {
            Ok(Output::Transmit(t)) => {
                let _ = socket.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(_)) => {}
            Ok(Output::Timeout(_)) | Err(_) => return,
        }
    }
}

/// One round of `drive`: Ok(false) when the connection has ended without error.
fn step(conn: &mut Conn, ctx: &Ctx<'_>) -> Result<bool, WebRtcError> {
    let now = Instant::now();
    drain(conn, ctx, now)?;
    flush(conn, ctx, now)?;
    if let Some(d) = conn.deadline.filter(|d| *d <= now) {
        let _ = d;
        return Err(WebRtcError::Timeout {
            stage: conn.stage,
            after: stage_timeout(ctx.config, conn.stage),
        });
    }
    if let Some(open) = conn.open.as_mut() {
        if let Some(by) = open.closing {
            let sent = open.outgoing.is_empty()
                && conn
                    .channel
                    .and_then(|c| conn.rtc.channel(c))
                    .is_none_or(|mut c| c.buffered_amount() == 0);
            if by <= now {
                return Ok(false);
            }
            if sent && conn.rtc.is_alive() {
                // Everything written has been acknowledged: say goodbye.
                conn.rtc.close().map_err(|e| failed(Stage::Open, e))?;
                drain(conn, ctx, now)?;
            }
        }
    }
    Ok(conn.rtc.is_alive())
}

/// `poll_output` to its `Timeout`, acting on each event.
fn drain(conn: &mut Conn, ctx: &Ctx<'_>, now: Instant) -> Result<(), WebRtcError> {
    loop {
        let out = conn.rtc.poll_output().map_err(|e| failed(conn.stage, e))?;
        match out {
            Output::Timeout(t) => {
                conn.next_timeout = t;
                return Ok(());
            }
            Output::Transmit(t) => {
                conn.remote = Some(t.destination);
                let d: Vec<u8> = t.contents.into();
                ctx.outbox.borrow_mut().push((t.destination, d));
            }
            Output::Event(e) => event(conn, ctx, e, now)?,
        }
    }
}

fn event(conn: &mut Conn, ctx: &Ctx<'_>, e: Event, now: Instant) -> Result<(), WebRtcError> {
    match e {
        Event::IceConnectionStateChange(s) => match s {
            IceConnectionState::Connected | IceConnectionState::Completed
                if conn.stage == Stage::Ice =>
            {
                advance(conn, Stage::Dtls, ctx.config, now);
            }
            // While ICE checks, a pair may come and go: the stage's deadline judges.
            IceConnectionState::Disconnected if conn.stage > Stage::Ice => {
                return Err(WebRtcError::Failed {
                    stage: conn.stage,
                    reason: "ICE lost the peer".into(),
                });
            }
            _ => {}
        },
        Event::Connected if conn.stage < Stage::DataChannel => {
            advance(conn, Stage::DataChannel, ctx.config, now);
        }
        Event::ChannelOpen(id, _label) => {
            if conn.stage < Stage::Open && conn.channel.is_none_or(|c| c == id) {
                conn.channel = Some(id);
                open(conn, ctx, now);
            } else if conn.channel != Some(id) {
                // WebTorrent uses one channel; another one the peer opens is closed.
                conn.rtc.direct_api().close_data_channel(id);
            }
        }
        Event::ChannelData(d) if Some(d.id) == conn.channel => {
            if let Some(open) = conn.open.as_mut() {
                let unread = open.unread.load(Ordering::Acquire);
                if unread + d.data.len() > ctx.config.receive_buffer {
                    return Err(WebRtcError::Flood(ctx.config.receive_buffer));
                }
                if let Some(reader) = &open.reader {
                    open.unread.fetch_add(d.data.len(), Ordering::AcqRel);
                    if reader.send(Ok(Bytes::from(d.data))).is_err() {
                        // The stream is gone; its `Close` is on its way.
                        open.unread.store(0, Ordering::Release);
                    }
                }
            }
        }
        Event::ChannelClose(id) if Some(id) == conn.channel => {
            if conn.stage < Stage::Open {
                return Err(WebRtcError::Closed(conn.stage));
            }
            end_of_stream(conn);
        }
        Event::Closed => {
            if conn.stage < Stage::Open {
                return Err(WebRtcError::Closed(conn.stage));
            }
            end_of_stream(conn);
        }
        _ => {}
    }
    Ok(())
}

/// The peer closed: the reader sees the end after what arrived, the writer a broken pipe,
/// and the connection says goodbye.
fn end_of_stream(conn: &mut Conn) {
    if let Some(open) = conn.open.as_mut() {
        open.reader = None;
        open.credit.close();
        open.outgoing.clear();
        open.closing.get_or_insert(Instant::now() + LINGER);
    }
    if conn.rtc.is_alive() {
        // Inside the drain: str0m allows a mutation there, the drain goes on after it.
        let _ = conn.rtc.close();
    }
}

/// The data channel opened: the stream goes to whoever waits for it.
fn open(conn: &mut Conn, ctx: &Ctx<'_>, now: Instant) {
    advance(conn, Stage::Open, ctx.config, now);
    let (reader, incoming) = mpsc::unbounded_channel();
    let unread = Arc::new(AtomicUsize::new(0));
    let credit = Arc::new(Semaphore::new(ctx.config.send_buffer));
    let stream = WebRtcStream::new(
        ctx.id,
        conn.remote,
        incoming,
        Arc::clone(&unread),
        ctx.writes.clone(),
        Arc::clone(&credit),
    );
    conn.open = Some(Open {
        reader: Some(reader),
        unread,
        credit,
        outgoing: VecDeque::new(),
        closing: None,
    });
    tracing::debug!(conn = ctx.id, remote = ?conn.remote, "webrtc: data channel open");
    if let Some(done) = conn.done.take() {
        if let Err(Ok(stream)) = done.send(Ok(stream)) {
            // Nobody waits for it any more: it closes, as a dropped stream does.
            drop(stream);
        }
    }
}

/// Sends what the stream queued, joined into messages of at most MAX_MESSAGE bytes,
/// while SCTP takes them; the rest waits for SCTP's acknowledgements to make room.
fn flush(conn: &mut Conn, ctx: &Ctx<'_>, now: Instant) -> Result<(), WebRtcError> {
    let Some(channel) = conn.channel else {
        return Ok(());
    };
    loop {
        let Some(open) = conn.open.as_mut() else {
            return Ok(());
        };
        if open.outgoing.is_empty() {
            return Ok(());
        }
        let mut take = 0;
        let mut len = 0;
        for (b, _) in &open.outgoing {
            if take > 0 && len + b.len() > MAX_MESSAGE {
                break;
            }
            len += b.len();
            take += 1;
        }
        let message: Bytes = if take == 1 {
            open.outgoing
                .front()
                .map(|(b, _)| b.clone())
                .unwrap_or_default()
        } else {
            let mut m = Vec::with_capacity(len);
            for (b, _) in open.outgoing.iter().take(take) {
                m.extend_from_slice(b);
            }
            Bytes::from(m)
        };
        let Some(mut ch) = conn.rtc.channel(channel) else {
            return Err(WebRtcError::Failed {
                stage: Stage::Open,
                reason: "the data channel is gone".into(),
            });
        };
        match ch.write(true, &message) {
            Ok(true) => {
                if let Some(open) = conn.open.as_mut() {
                    // Dropping the permits gives the writer its credit back.
                    open.outgoing.drain(..take);
                }
                drain(conn, ctx, now)?;
            }
            // SCTP's buffer is full: again when acknowledgements come in.
            Ok(false) => return Ok(()),
            Err(e) => return Err(failed(Stage::Open, e)),
        }
    }
}

fn advance(conn: &mut Conn, stage: Stage, config: &WebRtcConfig, now: Instant) {
    conn.stage = stage;
    conn.stage_tx.send_replace(stage);
    conn.deadline = (stage < Stage::Open).then(|| now + stage_timeout(config, stage));
}

fn stage_timeout(config: &WebRtcConfig, stage: Stage) -> Duration {
    match stage {
        Stage::Signalling => config.answer_timeout,
        Stage::Ice => config.ice_timeout,
        Stage::Dtls => config.dtls_timeout,
        Stage::DataChannel => config.channel_timeout,
        Stage::Open => Duration::MAX,
    }
}

fn failed(stage: Stage, e: str0m::RtcError) -> WebRtcError {
    WebRtcError::Failed {
        stage,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod host_tests {
    use super::pick_hosts;
    use std::net::IpAddr;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().filter_map(|s| s.parse().ok()).collect()
    }

    #[test]
    fn loopback_and_link_local_only_when_nothing_else() {
        let all = ips(&[
            "127.0.0.1",
            "192.0.2.10",
            "169.254.1.1",
            "::1",
            "fe80::1",
            "2001:db8::1",
        ]);
        assert_eq!(pick_hosts(all.clone(), true), ips(&["192.0.2.10"]));
        assert_eq!(pick_hosts(all, false), ips(&["2001:db8::1"]));
        // A namespace with only `lo`: loopback it is.
        assert_eq!(
            pick_hosts(ips(&["127.0.0.1", "::1"]), true),
            ips(&["127.0.0.1"])
        );
        assert_eq!(pick_hosts(Vec::new(), true), Vec::<IpAddr>::new());
    }
}
