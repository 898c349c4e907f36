//! One task per connection: connect → handshake → message loop (requests, pieces, uploads).
//!
//! The task owns its socket and its list of requests in flight. Blocks it has asked for are
//! counted in the picker; whenever the task stops asking (choke, reject, snub, pause, end) it
//! gives them back with `Picker::release`, so another peer can fetch them.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::engine::api::{ChokeFlags, PeerEnd, PeerStage};
use crate::engine::picker::{BlockRef, Received};
use crate::engine::shared::{Event, PeerLive, Shared};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::handshake::{self, Handshake};
use crate::protocol::message::{encode_into, Message, MessageCodec, WireError, BLOCK_LEN};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Send a keep-alive after this much silence from our side (peers drop at 2 minutes).
const KEEPALIVE_AFTER: Duration = Duration::from_secs(90);
/// Drop a peer that sent nothing at all for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
/// A peer that unchoked us but answers none of our requests for this long is snubbed: its
/// requests go back to the pool for others.
const SNUB_AFTER: Duration = Duration::from_secs(15);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most requests we keep outstanding to one peer. 256 × 16 KiB = 4 MiB in flight, enough for
/// hundreds of MB/s on a low-latency link while keeping memory bounded.
const MAX_PIPELINE: usize = 256;
const MIN_PIPELINE: usize = 16;
/// Where a new connection starts, before its rate is known: deep enough that a fast peer is
/// not held back in its first second, shallow enough to cost a slow one little.
const START_PIPELINE: usize = 64;
/// Most of their requests we queue for upload; beyond it they are rejected (fast extension) or
/// the peer is dropped.
const MAX_UPLOAD_QUEUE: usize = 500;
/// The `reqq` we advertise.
const OUR_REQQ: usize = 500;

#[derive(Debug)]
pub(crate) enum PeerCmd {
    Have(u32),
    Cancel { index: u32, begin: u32 },
    Choke,
    Unchoke,
    Pause,
    Resume,
    Disconnect(PeerEnd),
}

pub(crate) struct PeerTask {
    pub conn: u64,
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub live: Arc<PeerLive>,
    pub cmds: mpsc::UnboundedReceiver<PeerCmd>,
}

fn io_end(e: &io::Error, during_handshake: bool) -> PeerEnd {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => PeerEnd::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::Reset
            }
        }
        io::ErrorKind::UnexpectedEof => {
            if during_handshake {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::ClosedByPeer
            }
        }
        io::ErrorKind::TimedOut => PeerEnd::ConnectTimeout,
        _ => match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::EADDRNOTAVAIL) => {
                PeerEnd::Unreachable(e.to_string())
            }
            _ => PeerEnd::Io(e.to_string()),
        },
    }
}

/// Reads the peer's 68-byte handshake, rejecting garbage as soon as the first bytes are wrong.
pub async fn read_handshake<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Handshake, PeerEnd> {
    let mut buf = [0u8; handshake::LEN];
    let mut n = 0;
    while n < handshake::LEN {
        let k = stream
            .read(&mut buf[n..])
            .await
            .map_err(|e| io_end(&e, true))?;
        if k == 0 {
            return Err(if n == 0 {
                PeerEnd::ClosedDuringHandshake
            } else {
                PeerEnd::NotBitTorrent
            });
        }
        n += k;
        Handshake::check_prefix(&buf[..n]).map_err(|_| PeerEnd::NotBitTorrent)?;
    }
    Handshake::decode(&buf).map_err(|_| PeerEnd::NotBitTorrent)
}

/// A TCP connection from `local` (the `--bind` address) when it is of the peer's family.
async fn tcp_connect(addr: SocketAddr, local: Option<std::net::IpAddr>) -> io::Result<TcpStream> {
    match local.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await
        }
    }
}

/// Connects and exchanges plain handshakes; used by `ttui handshake` / `probe` and the
/// metadata fetch.
/// `local` binds the outgoing socket to that address first (the `--bind` address), when it is
/// of the peer's family.
pub async fn connect_and_handshake(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    info_hash: [u8; 20],
    our_id: [u8; 20],
    mut on_connected: impl FnMut(),
) -> Result<(TcpStream, Handshake, Duration), PeerEnd> {
    let t0 = Instant::now();
    let connect = tcp_connect(addr, local);
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => return Err(PeerEnd::ConnectTimeout),
        Ok(Err(e)) => return Err(io_end(&e, false)),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    on_connected();
    let ours = Handshake::new(info_hash, our_id);
    let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        stream
            .write_all(&ours.encode())
            .await
            .map_err(|e| io_end(&e, true))?;
        read_handshake(&mut stream).await
    })
    .await
    .map_err(|_| PeerEnd::HandshakeTimeout)??;
    if theirs.info_hash != info_hash {
        return Err(PeerEnd::WrongInfoHash);
    }
    if theirs.peer_id == our_id {
        return Err(PeerEnd::SelfConnection);
    }
    Ok((stream, theirs, t0.elapsed()))
}

/// Why an encrypted handshake failed, as a peer's end.
pub fn mse_end(e: crate::net::MseError) -> PeerEnd {
    match e {
        crate::net::MseError::Closed => PeerEnd::ClosedDuringHandshake,
        crate::net::MseError::Timeout(_) => PeerEnd::HandshakeTimeout,
        e => PeerEnd::Encryption(e.to_string()),
    }
}

/// `connect_and_handshake` with MSE by `policy` (see `net::connect`); also returns the
/// encryption in use. With `Off`, a peer that closes during the handshake is reported as one
/// that may require encryption.
pub async fn connect_encrypted(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    info_hash: [u8; 20],
    our_id: [u8; 20],
    policy: crate::net::EncryptionPolicy,
    on_connected: impl FnMut() + Send,
) -> Result<
    (
        crate::net::PeerConn,
        Handshake,
        Duration,
        crate::net::Encryption,
    ),
    PeerEnd,
> {
    let t0 = Instant::now();
    let on_connected = std::sync::Mutex::new(on_connected);
    let cb = &on_connected;
    let ours = Handshake::new(info_hash, our_id).encode();
    let dial = move || async move {
        let s = match tokio::time::timeout(CONNECT_TIMEOUT, tcp_connect(addr, local)).await {
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(r) => r?,
        };
        let _ = s.set_nodelay(true);
        (cb.lock().unwrap_or_else(|e| e.into_inner()))();
        Ok(s)
    };
    let handshake = async {
        let d = crate::net::connect(dial, info_hash, policy, &ours)
            .await
            .map_err(|e| match e {
                crate::net::DialError::Connect(e) => io_end(&e, false),
                crate::net::DialError::Handshake(e) => mse_end(e),
            })?;
        if let Some(why) = &d.plain_after {
            tracing::info!("{addr}: encrypted handshake refused ({why}); plain accepted");
        }
        let mut stream = d.stream;
        let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream))
            .await
            .map_err(|_| PeerEnd::HandshakeTimeout)??;
        Ok((stream, theirs, d.encryption))
    };
    let (stream, theirs, enc) = handshake.await.map_err(|e| match (e, policy) {
        (PeerEnd::ClosedDuringHandshake, crate::net::EncryptionPolicy::Off) => {
            PeerEnd::ClosedMayNeedEncryption
        }
        (e, _) => e,
    })?;
    if theirs.info_hash != info_hash {
        return Err(PeerEnd::WrongInfoHash);
    }
    if theirs.peer_id == our_id {
        return Err(PeerEnd::SelfConnection);
    }
    Ok((stream, theirs, t0.elapsed(), enc))
}

/// BEP 10 extended handshake: the fields we read and send.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ExtHandshake {
    #[serde(default)]
    pub m: std::collections::BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<serde_bytes::ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reqq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_size: Option<i64>,
}

impl ExtHandshake {
    pub fn client(&self) -> Option<String> {
        let v = self.v.as_ref()?;
        let s = String::from_utf8_lossy(v);
        let s = crate::protocol::peer_id::client_from_handshake_v(&s);
        (!s.is_empty()).then_some(s)
    }
}

pub fn our_ext_handshake(port: u16, metadata_size: usize) -> Bytes {
    let mut m = std::collections::BTreeMap::new();
    if metadata_size > 0 {
        m.insert(
            "ut_metadata".to_string(),
            crate::engine::metadata::UT_METADATA_ID as i64,
        );
    }
    let h = ExtHandshake {
        m,
        v: Some(serde_bytes::ByteBuf::from(
            format!("ttui {}", env!("CARGO_PKG_VERSION")).into_bytes(),
        )),
        reqq: Some(OUR_REQQ as i64),
        p: (port != 0).then_some(port as i64),
        metadata_size: (metadata_size > 0).then_some(metadata_size as i64),
    };
    Bytes::from(serde_bencode::to_bytes(&h).unwrap_or_default())
}

impl PeerTask {
    /// Runs an outgoing connection to its end and reports why it ended.
    pub async fn run_outgoing(mut self) {
        let end = self.outgoing().await;
        self.shared.send(Event::Ended {
            conn: self.conn,
            end,
        });
    }

    async fn outgoing(&mut self) -> PeerEnd {
        self.stage(PeerStage::Connecting);
        let (conn, shared) = (self.conn, Arc::clone(&self.shared));
        let connect = connect_encrypted(
            self.addr,
            shared.bind,
            shared.info_hash,
            shared.our_id,
            shared.encryption,
            move || {
                shared.send(Event::Stage {
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
            Ok((stream, hs, elapsed, enc)) => {
                tracing::info!("{}: connected, payload {enc}", self.addr);
                self.shared.send(Event::Handshaken {
                    conn: self.conn,
                    peer_id: hs.peer_id,
                    elapsed,
                });
                self.session(stream, hs).await
            }
        }
    }

    /// Runs an incoming connection whose handshake was already read and checked.
    pub async fn run_incoming(
        mut self,
        mut stream: crate::net::PeerConn,
        hs: Handshake,
        started: Instant,
    ) {
        let ours = Handshake::new(self.shared.info_hash, self.shared.our_id);
        let end = match stream.write_all(&ours.encode()).await {
            Err(e) => io_end(&e, true),
            Ok(()) => {
                self.shared.send(Event::Handshaken {
                    conn: self.conn,
                    peer_id: hs.peer_id,
                    elapsed: started.elapsed(),
                });
                self.session(stream, hs).await
            }
        };
        self.shared.send(Event::Ended {
            conn: self.conn,
            end,
        });
    }

    fn stage(&self, stage: PeerStage) {
        self.shared.send(Event::Stage {
            conn: self.conn,
            stage,
        });
    }

    async fn session(&mut self, stream: crate::net::PeerConn, hs: Handshake) -> PeerEnd {
        let _ = stream.get_ref().set_nodelay(true);
        let num_pieces = self.shared.info.num_pieces();
        let (rd, mut wr) = stream.into_split();
        let mut reader = FramedRead::with_capacity(rd, MessageCodec::new(num_pieces), 64 * 1024);
        let mut s = Session {
            conn: self.conn,
            shared: Arc::clone(&self.shared),
            live: Arc::clone(&self.live),
            fast: hs.supports_fast(),
            peer_has: Bitfield::new(num_pieces),
            flags: ChokeFlags::default(),
            in_flight: VecDeque::new(),
            stale: VecDeque::new(),
            uploads: VecDeque::new(),
            reqq: MAX_PIPELINE,
            depth: START_PIPELINE,
            rate: 0.0,
            window_bytes: 0,
            window_start: Instant::now(),
            last_recv: Instant::now(),
            last_send: Instant::now(),
            last_block: Instant::now(),
            snubbed: false,
            their_ut_metadata: None,
            paused: self.shared.paused.load(Ordering::Relaxed),
            out: BytesMut::with_capacity(64 * 1024),
            picked: Vec::new(),
        };
        self.stage(PeerStage::Connected);
        if hs.supports_extensions() {
            let port = self.shared.listen_port.load(Ordering::Relaxed);
            s.push(&Message::Extended {
                id: 0,
                payload: our_ext_handshake(port, self.shared.info_bytes.len()),
            });
        }
        s.send_have_state();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            if let Err(end) = s.flush(&mut wr).await {
                break end;
            }
            let step = tokio::select! {
                msg = reader.next() => match msg {
                    None => Err(PeerEnd::ClosedByPeer),
                    Some(Err(WireError::Io(e))) => Err(if e.contains("reset") { PeerEnd::Reset } else { PeerEnd::Io(e) }),
                    Some(Err(e)) => Err(PeerEnd::Protocol(e.to_string())),
                    Some(Ok(m)) => s.on_message(m),
                },
                cmd = self.cmds.recv() => match cmd {
                    None => Err(PeerEnd::Shutdown),
                    Some(c) => s.on_command(c),
                },
                _ = tick.tick() => s.on_tick(),
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
        s.finish();
        end
    }
}

struct Session {
    conn: u64,
    shared: Arc<Shared>,
    live: Arc<PeerLive>,
    fast: bool,
    peer_has: Bitfield,
    flags: ChokeFlags,
    in_flight: VecDeque<BlockRef>,
    /// Requests we gave up on (choke, cancel, snub): a late block for one of them is not a
    /// protocol violation. Bounded.
    stale: VecDeque<BlockRef>,
    uploads: VecDeque<BlockRef>,
    reqq: usize,
    depth: usize,
    rate: f64,
    window_bytes: u64,
    window_start: Instant,
    last_recv: Instant,
    last_send: Instant,
    last_block: Instant,
    snubbed: bool,
    /// The peer's id for ut_metadata messages, when it offered the extension.
    their_ut_metadata: Option<u8>,
    paused: bool,
    out: BytesMut,
    picked: Vec<BlockRef>,
}

fn protocol(msg: impl Into<String>) -> PeerEnd {
    PeerEnd::Protocol(msg.into())
}

impl Session {
    fn push(&mut self, m: &Message) {
        encode_into(m, &mut self.out);
    }

    fn set_flags(&mut self) {
        self.live.set_flags(self.flags);
    }

    async fn flush(
        &mut self,
        wr: &mut crate::net::PeerWriter<tokio::net::tcp::OwnedWriteHalf>,
    ) -> Result<(), PeerEnd> {
        if self.out.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&self.out)).await {
            Err(_) => return Err(PeerEnd::Idle),
            Ok(Err(e)) => return Err(io_end(&e, false)),
            Ok(Ok(())) => {}
        }
        self.out.clear();
        self.last_send = Instant::now();
        Ok(())
    }

    fn send_have_state(&mut self) {
        let have = self.shared.picker().have().clone();
        if self.fast && have.count() == 0 {
            self.push(&Message::HaveNone);
        } else if self.fast && have.is_complete() {
            self.push(&Message::HaveAll);
        } else if have.count() > 0 {
            self.push(&Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())));
        }
    }

    fn set_peer_has(&mut self, bf: Bitfield) {
        let mut picker = self.shared.picker();
        picker.remove_bitfield(&self.peer_has);
        picker.add_bitfield(&bf);
        let interested = !self.paused && picker.wants_any(&bf);
        drop(picker);
        self.peer_has = bf;
        self.live
            .pieces
            .store(self.peer_has.count(), Ordering::Relaxed);
        self.set_interest(interested);
    }

    fn set_interest(&mut self, interested: bool) {
        if interested != self.flags.am_interested {
            self.flags.am_interested = interested;
            self.push(if interested {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
            self.set_flags();
        }
    }

    fn on_message(&mut self, m: Message) -> Result<(), PeerEnd> {
        self.last_recv = Instant::now();
        if m.is_fast_ext() && !self.fast {
            return Err(protocol(format!("{} without the fast extension", m.name())));
        }
        let n = self.peer_has.len();
        match m {
            Message::KeepAlive
            | Message::Port(_)
            | Message::Suggest(_)
            | Message::AllowedFast(_) => {}
            Message::Choke => {
                if !self.flags.peer_choking {
                    self.flags.peer_choking = true;
                    self.set_flags();
                    self.release_all();
                }
            }
            Message::Unchoke => {
                if self.flags.peer_choking {
                    self.flags.peer_choking = false;
                    self.last_block = Instant::now();
                    self.set_flags();
                }
            }
            Message::Interested => {
                self.flags.peer_interested = true;
                self.set_flags();
                self.shared.send(Event::Interest { conn: self.conn });
            }
            Message::NotInterested => {
                self.flags.peer_interested = false;
                self.set_flags();
                self.shared.send(Event::Interest { conn: self.conn });
            }
            Message::Have(i) => {
                if i >= n {
                    return Err(protocol(format!("have index {i} out of range")));
                }
                if self.peer_has.set(i) {
                    self.live
                        .pieces
                        .store(self.peer_has.count(), Ordering::Relaxed);
                    let mut picker = self.shared.picker();
                    picker.add_availability(i);
                    let wants = !self.paused && picker.wants(i);
                    drop(picker);
                    if wants {
                        self.set_interest(true);
                    }
                }
            }
            Message::Bitfield(b) => {
                let bf = Bitfield::from_bytes(&b, n).map_err(|e| protocol(e.to_string()))?;
                self.set_peer_has(bf);
            }
            Message::HaveAll => self.set_peer_has(Bitfield::full(n)),
            Message::HaveNone => self.set_peer_has(Bitfield::new(n)),
            Message::Request {
                index,
                begin,
                length,
            } => self.on_request(BlockRef {
                index,
                begin,
                length,
            })?,
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                self.uploads
                    .retain(|r| !(r.index == index && r.begin == begin && r.length == length));
            }
            Message::Reject {
                index,
                begin,
                length,
            } => {
                let r = BlockRef {
                    index,
                    begin,
                    length,
                };
                if let Some(pos) = self.in_flight.iter().position(|x| *x == r) {
                    self.in_flight.remove(pos);
                    self.shared.picker().release([r]);
                    self.live
                        .in_flight
                        .store(self.in_flight.len() as u32, Ordering::Relaxed);
                }
            }
            Message::Piece { index, begin, data } => self.on_piece(index, begin, data)?,
            Message::Extended { id, payload } => {
                if id == crate::engine::metadata::UT_METADATA_ID {
                    self.on_metadata_request(&payload);
                } else if id == 0 {
                    if let Ok(h) = serde_bencode::from_bytes::<ExtHandshake>(&payload) {
                        self.their_ut_metadata =
                            h.m.get("ut_metadata")
                                .and_then(|v| u8::try_from(*v).ok())
                                .filter(|v| *v != 0);
                        if let Some(q) = h.reqq.filter(|q| *q > 0) {
                            self.reqq = (q as usize).min(MAX_PIPELINE);
                        }
                        if let Some(name) = h.client() {
                            self.shared.send(Event::Client {
                                conn: self.conn,
                                name,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Answers a BEP 9 request for a piece of our info dictionary; other ut_metadata
    /// messages (data, reject) are not expected once we have the metadata and are ignored.
    fn on_metadata_request(&mut self, payload: &[u8]) {
        let Some(their_id) = self.their_ut_metadata else {
            return;
        };
        let Some((head, _)) = crate::engine::metadata::parse_metadata_msg(payload) else {
            return;
        };
        if head.msg_type == 0 {
            let reply =
                crate::engine::metadata::metadata_reply(&self.shared.info_bytes, head.piece);
            self.push(&Message::Extended {
                id: their_id,
                payload: Bytes::from(reply),
            });
        }
    }

    fn on_request(&mut self, r: BlockRef) -> Result<(), PeerEnd> {
        let info = &self.shared.info;
        if r.index >= info.num_pieces() {
            return Err(protocol(format!(
                "request for piece {} out of range",
                r.index
            )));
        }
        if r.length > BLOCK_LEN {
            return Err(protocol(format!(
                "request of {} bytes (over 16 KiB)",
                r.length
            )));
        }
        let piece_len = info.piece_len(r.index);
        if r.length == 0 || r.begin as u64 + r.length as u64 > piece_len as u64 {
            return Err(protocol(format!(
                "request beyond the end of piece {}",
                r.index
            )));
        }
        let have = self.shared.picker().have().get(r.index);
        if self.flags.am_choking || !have || self.uploads.len() >= MAX_UPLOAD_QUEUE {
            if self.fast {
                self.push(&Message::Reject {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                });
            }
            return Ok(());
        }
        self.uploads.push_back(r);
        Ok(())
    }

    fn on_piece(&mut self, index: u32, begin: u32, data: Bytes) -> Result<(), PeerEnd> {
        let len = data.len() as u32;
        if len > BLOCK_LEN {
            return Err(protocol(format!("piece block of {len} bytes")));
        }
        let pos = self
            .in_flight
            .iter()
            .position(|r| r.index == index && r.begin == begin);
        let r = match pos {
            Some(p) => {
                let r = self.in_flight[p];
                if r.length != len {
                    return Err(protocol(format!(
                        "piece block of {len} bytes, asked for {}",
                        r.length
                    )));
                }
                self.in_flight.remove(p);
                self.live
                    .in_flight
                    .store(self.in_flight.len() as u32, Ordering::Relaxed);
                r
            }
            None => {
                let r = BlockRef {
                    index,
                    begin,
                    length: len,
                };
                if !self.stale.contains(&r) {
                    return Err(protocol("unrequested piece"));
                }
                r
            }
        };
        self.last_block = Instant::now();
        self.snubbed = false;
        self.window_bytes += len as u64;
        self.live
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        self.shared
            .downloaded
            .fetch_add(len as u64, Ordering::Relaxed);
        let mut picker = self.shared.picker();
        let endgame = picker.in_endgame();
        let outcome = picker.block_received(r, data, self.conn);
        drop(picker);
        match outcome {
            Received::Duplicate => {
                self.shared.wasted.fetch_add(len as u64, Ordering::Relaxed);
            }
            Received::Stored => {}
            Received::PieceComplete {
                blocks,
                contributors,
            } => {
                self.shared.verify_piece(index, blocks, contributors);
            }
        }
        if endgame {
            self.shared.send(Event::BlockDone {
                index,
                begin,
                conn: self.conn,
            });
        }
        Ok(())
    }

    fn on_command(&mut self, c: PeerCmd) -> Result<(), PeerEnd> {
        match c {
            PeerCmd::Have(i) => {
                if !self.peer_has.get(i) {
                    self.push(&Message::Have(i));
                }
                if self.flags.am_interested && self.shared.picker().is_complete() {
                    self.set_interest(false);
                }
            }
            PeerCmd::Cancel { index, begin } => {
                if let Some(p) = self
                    .in_flight
                    .iter()
                    .position(|r| r.index == index && r.begin == begin)
                {
                    let r = self.in_flight[p];
                    self.in_flight.remove(p);
                    self.push(&Message::Cancel {
                        index,
                        begin,
                        length: r.length,
                    });
                    self.remember_stale(r);
                    self.shared.picker().release([r]);
                    self.live
                        .in_flight
                        .store(self.in_flight.len() as u32, Ordering::Relaxed);
                }
            }
            PeerCmd::Choke => {
                if !self.flags.am_choking {
                    self.flags.am_choking = true;
                    self.push(&Message::Choke);
                    self.reject_uploads();
                    self.set_flags();
                }
            }
            PeerCmd::Unchoke => {
                if self.flags.am_choking && !self.paused {
                    self.flags.am_choking = false;
                    self.push(&Message::Unchoke);
                    self.set_flags();
                }
            }
            PeerCmd::Pause => {
                self.paused = true;
                // Cancel what is queued at the peer, or it keeps sending for seconds (a
                // throttled peer holds many of our requests) and the pause does not show.
                for r in self.in_flight.iter() {
                    encode_into(
                        &Message::Cancel {
                            index: r.index,
                            begin: r.begin,
                            length: r.length,
                        },
                        &mut self.out,
                    );
                }
                self.release_all();
                self.set_interest(false);
                if !self.flags.am_choking {
                    self.flags.am_choking = true;
                    self.push(&Message::Choke);
                    self.reject_uploads();
                    self.set_flags();
                }
            }
            PeerCmd::Resume => {
                self.paused = false;
                let wants = self.shared.picker().wants_any(&self.peer_has);
                self.set_interest(wants);
            }
            PeerCmd::Disconnect(end) => return Err(end),
        }
        Ok(())
    }

    fn on_tick(&mut self) -> Result<(), PeerEnd> {
        let now = Instant::now();
        if now.duration_since(self.last_recv) > IDLE_TIMEOUT {
            return Err(PeerEnd::Idle);
        }
        if now.duration_since(self.last_send) > KEEPALIVE_AFTER {
            self.push(&Message::KeepAlive);
        }
        let dt = now.duration_since(self.window_start).as_secs_f64();
        if dt >= 0.5 {
            let sample = self.window_bytes as f64 / dt;
            self.rate = if self.rate == 0.0 {
                sample
            } else {
                0.6 * sample + 0.4 * self.rate
            };
            self.window_bytes = 0;
            self.window_start = now;
            // About one second of data in flight, as rate × latency is unknown but small here.
            let want = (self.rate / BLOCK_LEN as f64) as usize;
            self.depth = want.clamp(MIN_PIPELINE, self.reqq.max(1));
        }
        if !self.in_flight.is_empty()
            && !self.flags.peer_choking
            && now.duration_since(self.last_block) > SNUB_AFTER
        {
            self.snubbed = true;
            self.release_all();
        }
        Ok(())
    }

    fn remember_stale(&mut self, r: BlockRef) {
        if self.stale.len() >= 4096 {
            self.stale.pop_front();
        }
        self.stale.push_back(r);
    }

    fn release_all(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        let blocks: Vec<BlockRef> = self.in_flight.drain(..).collect();
        for r in &blocks {
            self.remember_stale(*r);
        }
        self.shared.picker().release(blocks);
        self.live.in_flight.store(0, Ordering::Relaxed);
    }

    fn reject_uploads(&mut self) {
        let queued: Vec<BlockRef> = self.uploads.drain(..).collect();
        if self.fast {
            for r in queued {
                self.push(&Message::Reject {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                });
            }
        }
    }

    /// Tops the request pipeline up to its depth, in batches so the picker lock is taken
    /// rarely.
    fn fill_pipeline(&mut self) {
        if self.paused || self.flags.peer_choking || !self.flags.am_interested {
            return;
        }
        let depth = if self.snubbed { 1 } else { self.depth };
        let room = depth.saturating_sub(self.in_flight.len());
        if room == 0 || (room < depth / 4 && !self.in_flight.is_empty()) {
            return;
        }
        let mut picked = std::mem::take(&mut self.picked);
        picked.clear();
        {
            let in_flight = &self.in_flight;
            let mut picker = self.shared.picker();
            picker.pick(
                &self.peer_has,
                room,
                &|r| in_flight.contains(&r),
                &mut picked,
            );
            if picked.is_empty() && in_flight.is_empty() && !picker.wants_any(&self.peer_has) {
                drop(picker);
                self.set_interest(false);
            }
        }
        for r in &picked {
            self.in_flight.push_back(*r);
            encode_into(
                &Message::Request {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                },
                &mut self.out,
            );
        }
        self.picked = picked;
        self.live
            .in_flight
            .store(self.in_flight.len() as u32, Ordering::Relaxed);
    }

    async fn serve_uploads(&mut self) -> Result<(), PeerEnd> {
        if self.uploads.is_empty() || self.flags.am_choking {
            return Ok(());
        }
        let batch: Vec<BlockRef> = self.uploads.drain(..self.uploads.len().min(16)).collect();
        let storage = Arc::clone(&self.shared.storage);
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(batch.len());
            for r in batch {
                let mut buf = vec![0u8; r.length as usize];
                storage
                    .read_block(r.index, r.begin, &mut buf)
                    .map_err(|e| e.to_string())?;
                out.push((r, Bytes::from(buf)));
            }
            Ok::<_, String>(out)
        })
        .await;
        let blocks = match read {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                self.shared.send(Event::DiskError(e.clone()));
                return Err(PeerEnd::Io(e));
            }
            Err(e) => return Err(PeerEnd::Io(e.to_string())),
        };
        for (r, data) in blocks {
            let len = data.len() as u64;
            self.push(&Message::Piece {
                index: r.index,
                begin: r.begin,
                data,
            });
            self.live.uploaded.fetch_add(len, Ordering::Relaxed);
            self.shared.uploaded.fetch_add(len, Ordering::Relaxed);
        }
        Ok(())
    }

    fn finish(&mut self) {
        let blocks: Vec<BlockRef> = self.in_flight.drain(..).collect();
        let mut picker = self.shared.picker();
        picker.release(blocks);
        picker.remove_bitfield(&self.peer_has);
        drop(picker);
        self.live.in_flight.store(0, Ordering::Relaxed);
        self.flags = ChokeFlags::default();
        self.set_flags();
    }
}

/// After a handshake, waits briefly for the peer's BEP 10 handshake and returns its client
/// name (`v`), skipping other messages. Used by `ttui handshake` and `ttui probe`.
pub async fn read_ext_client(
    stream: &mut TcpStream,
    num_pieces: u32,
    wait: Duration,
) -> Option<String> {
    let mut reader = FramedRead::new(stream, MessageCodec::new(num_pieces));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Some(Ok(Message::Extended { id: 0, payload }))) => {
                return serde_bencode::from_bytes::<ExtHandshake>(&payload)
                    .ok()?
                    .client();
            }
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}
