//! uTP (BEP 29): a reliable byte stream over UDP with LEDBAT congestion control.
//!
//! Crate or own code: `librqbit-utp` 0.7 (Apache-2.0, tokio) was read before writing this. It can
//! run over a shared socket (its `Transport` trait takes a custom `recv_from`/`send_to`), but it
//! only offers Cubic congestion control (`CongestionControllerKind::Cubic` is the sole variant),
//! and we need LEDBAT's 100 ms delay target so a download yields to the user's own
//! traffic — the reason uTP exists. It is also ~8,400 lines with nine more dependencies
//! (bitvec, dontfrag, ringbuf, metrics, parking_lot, lazy_static, rustc-hash,
//! librqbit-dualstack-sockets ...) and edition 2024. The transport we need is small: one
//! state machine (`conn`), the LEDBAT/RTT arithmetic (`cc`), the pure codec
//! (`protocol::utp_packet`), and this multiplexer, all testable in-process.
//!
//! Shape: the session owns ONE UDP socket for DHT and uTP. Its receive loop hands every datagram
//! that `protocol::utp_packet::looks_like_utp` accepts to [`UtpSocket::handle_datagram`]
//! (synchronous, never blocks), reading them in batches (`net::udp_batch`), and calls
//! [`UtpSocket::flush_acks`] after each batch; uTP sends through the same `Arc<UdpSocket>`
//! without waiting (a full send buffer is a lost datagram, which uTP recovers from). [`UtpSocket::bind`] is the standalone
//! form with its own receive loop, used by tests.
//!
//! Caps: at most `max_connections` connections and `max_pending` accepted-but-unclaimed ones
//! (further SYNs are dropped); each connection holds at most `send_buf` + `recv_buf` bytes.

mod cc;
mod conn;
pub(crate) mod stream;

pub(crate) use stream::{UtpStatsHandle, UtpStream};

use crate::net::socks_relay::SocksRelay;
use crate::net::udp_batch::BatchRecv;
use crate::net::udp_gso::UdpOut;
use crate::protocol::utp_packet::{self, PacketType};
use conn::UtpConn;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use stream::Cell;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy)]
pub struct UtpConfig {
    /// Payload bytes per datagram; 1380 + the 20-byte header stays under 1400 bytes, inside
    /// any IPv4 or IPv6 path MTU worth using.
    pub mss: usize,
    /// Bytes written but not yet acknowledged, per connection (also caps the window).
    pub send_buf: usize,
    /// Bytes received but not yet read, including the reorder buffer (the advertised window).
    pub recv_buf: usize,
    pub max_connections: usize,
    /// Incoming connections accepted by the protocol but not yet taken by `accept`.
    pub max_pending: usize,
    /// SYN transmissions (1 s, then backed off) before `connect` gives up.
    pub syn_tries: u32,
}

impl Default for UtpConfig {
    fn default() -> Self {
        UtpConfig {
            mss: 1380,
            send_buf: 1 << 20,
            recv_buf: 1 << 20,
            max_connections: 512,
            max_pending: 64,
            syn_tries: 3,
        }
    }
}

/// Per-connection figures for the peer row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UtpStats {
    pub rtt: Option<Duration>,
    pub rto: Duration,
    pub cwnd: usize,
    pub queueing_delay: Duration,
    pub peer_window: usize,
    pub retransmits: u64,
    /// Payload bytes sent again. They use the link as new data does, so a rate limit charges
    /// them (`engine::peer::conn`), although the piece messages they carry were charged once.
    pub resent_bytes: u64,
    /// Payload bytes received and not delivered: duplicates, beyond the window, no room. The
    /// copies that are delivered later were charged by the piece messages; these were not.
    pub wasted_recv_bytes: u64,
    pub timeouts: u64,
    pub packets_sent: u64,
    pub packets_recv: u64,
    /// Packets dropped as impossible (bad ack numbers, beyond the window).
    pub dropped_packets: u64,
    pub inflight_bytes: usize,
    pub inflight_packets: usize,
    pub unsent_bytes: usize,
    pub unread_bytes: usize,
    pub reorder_bytes: usize,
}

/// Socket-wide counters.
#[derive(Debug, Default)]
pub struct SocketCounters {
    pub malformed: AtomicU64,
    pub unknown_conn: AtomicU64,
    pub refused_syns: AtomicU64,
}

type Key = (SocketAddr, u16);

/// How long a peer that did not answer a SYN is remembered as silent.
const SILENT_FOR: Duration = Duration::from_secs(600);
/// Datagrams handled before the deferred ACKs and reader wake-ups go out even though the
/// caller has not called `flush_acks`: the socket readers call it after every batch
/// (`udp_batch::BATCH`, 32), so this only bounds a caller that feeds datagrams one by one.
const ACK_EVERY: u32 = 32;
/// Silent peers remembered at most (about 100 KiB at most).
const MAX_SILENT: usize = 4096;

pub(crate) struct Registry {
    conns: Mutex<HashMap<Key, Arc<Cell>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<Cell>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remove(&self, key: Key, cell: &Arc<Cell>) {
        let mut m = self.lock();
        if m.get(&key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            m.remove(&key);
        }
    }
}

struct Inner {
    udp: Arc<UdpSocket>,
    /// The same socket's sending side (GSO where the kernel has it).
    out: Arc<UdpOut>,
    cfg: UtpConfig,
    epoch: Instant,
    registry: Arc<Registry>,
    accept_tx: mpsc::Sender<UtpStream>,
    counters: SocketCounters,
    /// Peers that did not answer a SYN lately, with when (see `is_silent`).
    silent: Mutex<HashMap<SocketAddr, Instant>>,
    /// Connections owing an ACK or a reader wake-up, served by `flush_acks` after each batch.
    owed: Mutex<Vec<Arc<Cell>>>,
    /// Datagrams handled since the deferred ACKs last went out.
    since_flush: std::sync::atomic::AtomicU32,
    recv_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = self
            .recv_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
    }
}

/// The uTP side of a UDP socket. Cheap to clone.
#[derive(Clone)]
pub struct UtpSocket {
    inner: Arc<Inner>,
}

pub struct UtpListener {
    rx: mpsc::Receiver<UtpStream>,
}

impl UtpListener {
    /// The next incoming connection; None once the socket is gone.
    pub async fn accept(&mut self) -> Option<UtpStream> {
        self.rx.recv().await
    }
}

impl UtpSocket {
    /// uTP over a socket someone else reads: feed it with `handle_datagram`.
    pub fn new(udp: Arc<UdpSocket>, cfg: UtpConfig) -> (UtpSocket, UtpListener) {
        Self::relayed(udp, None, None, cfg)
    }

    /// As `new`, every datagram going through the SOCKS5 relay when one is given (the
    /// session's under `--proxy`); the caller feeds it the unwrapped datagrams. With `udp6`
    /// (an IPv6 socket beside an IPv4 `udp`, no relay), datagrams to IPv6 peers leave by it,
    /// and the caller feeds it what that socket receives too.
    pub(crate) fn relayed(
        udp: Arc<UdpSocket>,
        udp6: Option<Arc<UdpSocket>>,
        relay: Option<Arc<SocksRelay>>,
        cfg: UtpConfig,
    ) -> (UtpSocket, UtpListener) {
        let (accept_tx, rx) = mpsc::channel(cfg.max_pending.max(1));
        let out = UdpOut::new(udp.clone(), relay);
        let out = match udp6 {
            Some(u6) => out.with_v6(u6),
            None => out,
        };
        let inner = Arc::new(Inner {
            out: Arc::new(out),
            udp,
            cfg,
            epoch: Instant::now(),
            registry: Arc::new(Registry {
                conns: Mutex::new(HashMap::new()),
            }),
            accept_tx,
            counters: SocketCounters::default(),
            silent: Mutex::new(HashMap::new()),
            owed: Mutex::new(Vec::new()),
            since_flush: Default::default(),
            recv_task: Mutex::new(None),
        });
        (UtpSocket { inner }, UtpListener { rx })
    }

    /// A socket of its own with a receive loop that ignores anything not uTP. The loop ends
    /// when the last `UtpSocket` clone is dropped.
    pub async fn bind(addr: SocketAddr, cfg: UtpConfig) -> io::Result<(UtpSocket, UtpListener)> {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // Larger kernel buffers absorb bursts; the kernel may clamp them, which is fine.
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        let udp = Arc::new(UdpSocket::from_std(s.into())?);
        let (sock, listener) = UtpSocket::new(udp.clone(), cfg);
        let weak: Weak<Inner> = Arc::downgrade(&sock.inner);
        let task = tokio::spawn(async move {
            let mut rx = BatchRecv::new(&udp);
            let mut burst = 0u32;
            loop {
                burst += 1;
                if burst >= 64 {
                    // A socket that never drains must not keep this thread from other tasks.
                    burst = 0;
                    tokio::task::yield_now().await;
                }
                let Some(inner) = weak.upgrade() else { return };
                let sock = UtpSocket { inner };
                let got = rx.try_recv(&udp, |d, from| {
                    if utp_packet::looks_like_utp(d) {
                        sock.handle_datagram(d, from);
                    }
                });
                match got {
                    // One ACK and one reader wake-up per connection per batch.
                    Ok(_) => sock.flush_acks(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        drop(sock);
                        burst = 0;
                        if udp.readable().await.is_err() {
                            tokio::task::yield_now().await;
                        }
                    }
                    // ICMP errors surface here on some systems; the socket stays usable.
                    Err(_) => {
                        drop(sock);
                        tokio::task::yield_now().await;
                    }
                }
            }
        });
        *sock
            .inner
            .recv_task
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok((sock, listener))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.udp.local_addr()
    }

    pub fn counters(&self) -> &SocketCounters {
        &self.inner.counters
    }

    /// Live connections (including accepted ones not yet claimed and lingering closes).
    pub fn connections(&self) -> usize {
        self.inner.registry.lock().len()
    }

    /// Figures of every live connection.
    pub fn all_stats(&self) -> Vec<(SocketAddr, UtpStats)> {
        let cells: Vec<(Key, Arc<Cell>)> = self
            .inner
            .registry
            .lock()
            .iter()
            .map(|(k, c)| (*k, c.clone()))
            .collect();
        cells
            .iter()
            .map(|(k, c)| (k.0, c.lock().snapshot_stats()))
            .collect()
    }

    /// Bytes held in all connections' buffers.
    pub fn buffered_bytes(&self) -> usize {
        let cells: Vec<Arc<Cell>> = self.inner.registry.lock().values().cloned().collect();
        cells.iter().map(|c| c.lock().buffered()).sum()
    }

    /// One datagram from the demultiplexer. Never blocks, never fails: anything malformed or
    /// addressed to no connection is counted and dropped. The caller calls `flush_acks` after
    /// each batch of datagrams: the ACKs and the readers' wake-ups wait for it (or for
    /// `ACK_EVERY` datagrams).
    pub fn handle_datagram(&self, bytes: &[u8], from: SocketAddr) {
        let inner = &self.inner;
        let Ok(pkt) = utp_packet::decode(bytes) else {
            inner.counters.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let h = pkt.header;
        let key = if h.ty == PacketType::Syn {
            (from, h.conn_id.wrapping_add(1))
        } else {
            (from, h.conn_id)
        };
        let mut map = inner.registry.lock();
        if let Some(cell) = map.get(&key).cloned() {
            drop(map);
            let owes = cell.with(&inner.out, |c| {
                c.on_packet(&pkt, Instant::now());
                c.owes_ack()
            });
            if owes {
                self.owed().push(cell);
            }
            // A socket that never drains still acknowledges every few datagrams, so the
            // sender's window keeps moving.
            if inner.since_flush.fetch_add(1, Ordering::Relaxed) + 1 >= ACK_EVERY {
                self.flush_acks();
            }
            return;
        }
        if h.ty != PacketType::Syn {
            drop(map);
            inner.counters.unknown_conn.fetch_add(1, Ordering::Relaxed);
            if matches!(h.ty, PacketType::Data | PacketType::Fin) {
                // Tell a peer that lost us quickly instead of letting it time out.
                let reset = utp_packet::Header {
                    ty: PacketType::Reset,
                    conn_id: h.conn_id,
                    ts_us: 0,
                    ts_diff_us: 0,
                    wnd: 0,
                    seq: 0,
                    ack: h.seq,
                };
                let mut d = Vec::with_capacity(utp_packet::HEADER_LEN);
                utp_packet::encode(&reset, None, &[], &mut d);
                inner.out.send_one(&d, from);
            }
            return;
        }
        if map.len() >= inner.cfg.max_connections {
            inner.counters.refused_syns.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(permit) = inner.accept_tx.try_reserve() else {
            inner.counters.refused_syns.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let conn = UtpConn::incoming(inner.cfg, &h, rand::random(), inner.epoch);
        let cell = Arc::new(Cell::new(conn, from));
        map.insert(key, cell.clone());
        drop(map);
        let stream = self.start(cell, key);
        permit.send(stream);
    }

    /// Spawns the connection's timer task and returns its stream.
    fn start(&self, cell: Arc<Cell>, key: Key) -> UtpStream {
        let udp = self.inner.out.clone();
        cell.with(&udp, |_| {});
        tokio::spawn(stream::drive(
            cell.clone(),
            udp.clone(),
            self.inner.registry.clone(),
            key,
        ));
        UtpStream::new(cell, udp)
    }

    fn owed(&self) -> MutexGuard<'_, Vec<Arc<Cell>>> {
        self.inner.owed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the ACKs and wakes the readers `handle_datagram` deferred. The socket's reader
    /// calls this after each batch it read (up to 32 datagrams, `udp_batch::BATCH`), so a
    /// batch costs one ACK and one wake-up per connection (libtorrent acknowledges once per
    /// drained socket the same way).
    pub fn flush_acks(&self) {
        self.inner.since_flush.store(0, Ordering::Relaxed);
        let owed = std::mem::take(&mut *self.owed());
        for cell in owed {
            cell.with(&self.inner.out, |c| c.ack_now());
        }
    }

    fn silent(&self) -> MutexGuard<'_, HashMap<SocketAddr, Instant>> {
        self.inner.silent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `addr` left a SYN of ours unanswered within `SILENT_FOR`: a dialer that may
    /// use TCP instead then skips uTP, so a TCP-only peer costs the uTP wait once, not on
    /// every reconnect.
    pub fn is_silent(&self, addr: SocketAddr) -> bool {
        let mut m = self.silent();
        match m.get(&addr) {
            Some(t) if t.elapsed() < SILENT_FOR => true,
            Some(_) => {
                m.remove(&addr);
                false
            }
            None => false,
        }
    }

    /// Remembers that `addr` did not answer uTP (bounded: expired entries go first, then
    /// the oldest).
    pub fn mark_silent(&self, addr: SocketAddr) {
        let mut m = self.silent();
        if m.len() >= MAX_SILENT && !m.contains_key(&addr) {
            m.retain(|_, t| t.elapsed() < SILENT_FOR);
            if m.len() >= MAX_SILENT {
                if let Some(oldest) = m.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a) {
                    m.remove(&oldest);
                }
            }
        }
        m.insert(addr, Instant::now());
    }

    /// Forgets that `addr` was silent (it may have been starting up: try uTP again).
    pub fn forget_silent(&self, addr: SocketAddr) {
        self.silent().remove(&addr);
    }

    /// Opens a connection; fails with TimedOut when the peer never answers (the caller then
    /// tries TCP), or ConnectionReset when it refuses.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<UtpStream> {
        let inner = &self.inner;
        if !inner.out.sends_to(addr) {
            // An IPv6 peer and no IPv6 socket (no IPv6 route when the session started): a
            // SYN could not leave, so say so now rather than wait out the connect timeout.
            return Err(io::Error::from_raw_os_error(libc::ENETUNREACH));
        }
        let (cell, key) = {
            let mut map = inner.registry.lock();
            if map.len() >= inner.cfg.max_connections {
                return Err(io::Error::other("too many uTP connections"));
            }
            let mut id: u16 = rand::random();
            while map.contains_key(&(addr, id)) {
                id = id.wrapping_add(1);
            }
            let conn = UtpConn::outgoing(inner.cfg, id, rand::random(), inner.epoch);
            let cell = Arc::new(Cell::new(conn, addr));
            map.insert((addr, id), cell.clone());
            (cell, (addr, id))
        };
        let stream = self.start(cell, key);
        stream.established().await?;
        Ok(stream)
    }
}
