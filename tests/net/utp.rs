//! uTP (BEP 29) transport: in-process transfers over loopback (clean and through a lossy,
//! reordering relay), hostile datagrams against the caps, and wire compatibility with a
//! uTP-only python3-libtorrent in both directions.
//!
//! Run inside the loopback-only namespace (tests/run.sh); the libtorrent tests refuse to start
//! elsewhere.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::time::timeout;
use ttui::internals::net::utp::{UtpConfig, UtpListener, UtpSocket, UtpStream};
use ttui::internals::protocol::handshake::Handshake;
use ttui::internals::protocol::utp_packet::{self as codec, Header, PacketType};

const LOCAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

fn prng_bytes(len: usize, mut x: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        v.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// User + system CPU seconds of this process so far (from /proc/self/stat, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

async fn pair() -> (UtpSocket, UtpListener, UtpSocket) {
    let (server, listener) = UtpSocket::bind(LOCAL, UtpConfig::default()).await.unwrap();
    let (client, _l) = UtpSocket::bind(LOCAL, UtpConfig::default()).await.unwrap();
    (server, listener, client)
}

/// Sends `len` bytes from a client connection to `to` and checks the listener's side
/// receives them identical; returns the elapsed time.
async fn transfer(
    client: &UtpSocket,
    to: SocketAddr,
    mut listener: UtpListener,
    len: usize,
) -> (Duration, UtpStream) {
    let data = Arc::new(prng_bytes(len, 42));
    let expect = data.clone();
    let reader = tokio::spawn(async move {
        let mut s = listener.accept().await.expect("accept");
        let mut got = Vec::with_capacity(len);
        s.read_to_end(&mut got).await.expect("read_to_end");
        (got, s)
    });
    let start = Instant::now();
    let mut c = client.connect(to).await.expect("connect");
    c.write_all(&data).await.expect("write_all");
    c.shutdown().await.expect("shutdown");
    let (got, _server_side) = timeout(Duration::from_secs(120), reader)
        .await
        .expect("transfer within 120 s")
        .expect("reader task");
    let took = start.elapsed();
    assert_eq!(got.len(), expect.len(), "length");
    assert!(got == *expect, "bytes differ");
    (took, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_16_mib_byte_identical() {
    let (server, listener, client) = pair().await;
    let to = server.local_addr().unwrap();
    let cpu0 = cpu_seconds();
    let (took, c) = transfer(&client, to, listener, 16 << 20).await;
    let cpu = cpu_seconds() - cpu0;
    let st = c.stats();
    eprintln!(
        "uTP loopback 16 MiB: {:.1} MB/s, {:.2} CPU-s, rtt {:?}, cwnd {}, retransmits {} timeouts {}",
        16.0 * 1.048_576 / took.as_secs_f64(),
        cpu,
        st.rtt,
        st.cwnd,
        st.retransmits,
        st.timeouts
    );
    assert!(st.rtt.is_some(), "an RTT was measured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_reordering_relay_16_mib() {
    let (server, listener, client) = pair().await;
    let (via, stats, task) =
        common::relay::start(Ipv4Addr::LOCALHOST, server.local_addr().unwrap(), 20, 30).await;
    let (took, c) = transfer(&client, via, listener, 16 << 20).await;
    task.abort();
    let st = c.stats();
    eprintln!(
        "uTP via relay (2 % loss, 3 % reordered) 16 MiB: {:.1} MB/s; relay dropped {} reordered {} of {}; sender retransmits {} timeouts {}",
        16.0 * 1.048_576 / took.as_secs_f64(),
        stats.counts().0,
        stats.counts().1,
        stats.forwarded(),
        st.retransmits,
        st.timeouts
    );
    assert!(stats.counts().0 > 100, "the relay dropped datagrams");
    assert!(stats.counts().1 > 100, "the relay reordered datagrams");
    assert!(st.retransmits > 0, "losses were repaired by retransmission");
    // What a rate limit charges for them (issue 20): every resent packet's payload, once.
    assert!(
        st.resent_bytes > 0 && st.resent_bytes <= st.retransmits * 1500,
        "resent {} bytes in {} retransmissions",
        st.resent_bytes,
        st.retransmits
    );
}

// ---------------------------------------------------------------------------------------
// Hostile datagrams from a hand-driven peer
// ---------------------------------------------------------------------------------------

struct Raw {
    sock: UdpSocket,
    to: SocketAddr,
}

impl Raw {
    async fn new(to: SocketAddr) -> Raw {
        Raw {
            sock: UdpSocket::bind(LOCAL).await.unwrap(),
            to,
        }
    }

    async fn send(
        &self,
        ty: PacketType,
        conn_id: u16,
        seq: u16,
        ack: u16,
        wnd: u32,
        payload: &[u8],
    ) {
        let h = Header {
            ty,
            conn_id,
            ts_us: 1,
            ts_diff_us: 0,
            wnd,
            seq,
            ack,
        };
        let mut d = Vec::new();
        codec::encode(&h, None, payload, &mut d);
        self.sock.send_to(&d, self.to).await.unwrap();
    }

    async fn recv(&self, within: Duration) -> Option<(Header, Vec<u8>)> {
        let mut buf = vec![0u8; 2048];
        let (n, _) = timeout(within, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let p = codec::decode(&buf[..n]).ok()?;
        Some((p.header, p.payload.to_vec()))
    }

    /// SYN with id `r` and seq 1; returns the responder's initial seq.
    async fn handshake(&self, r: u16, wnd: u32) -> u16 {
        self.send(PacketType::Syn, r, 1, 0, wnd, b"").await;
        let (h, _) = self
            .recv(Duration::from_secs(5))
            .await
            .expect("SYN answered");
        assert_eq!(h.ty, PacketType::State);
        assert_eq!(h.conn_id, r, "reply carries the initiator's receive id");
        assert_eq!(h.ack, 1, "reply acknowledges the SYN");
        h.seq
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ids_and_impossible_acks_are_dropped() {
    let (server, mut listener) = UtpSocket::bind(LOCAL, UtpConfig::default()).await.unwrap();
    let raw = Raw::new(server.local_addr().unwrap()).await;
    let s0 = raw.handshake(500, 1 << 20).await;
    let mut stream = timeout(Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();

    // Data for a connection that does not exist: counted, answered with RESET.
    raw.send(PacketType::Data, 9999, 2, 0, 1 << 20, b"nobody")
        .await;
    let (h, _) = raw.recv(Duration::from_secs(5)).await.expect("reset");
    assert_eq!(h.ty, PacketType::Reset);
    assert_eq!(server.counters().unknown_conn.load(Ordering::Relaxed), 1);

    // Acknowledges 1000 packets the server never sent: dropped whole.
    raw.send(
        PacketType::Data,
        501,
        2,
        s0.wrapping_add(1000),
        1 << 20,
        b"evil",
    )
    .await;
    // Far behind anything plausible: dropped too.
    raw.send(
        PacketType::Data,
        501,
        2,
        s0.wrapping_add(30_000),
        1 << 20,
        b"evil",
    )
    .await;
    raw.send(
        PacketType::Data,
        501,
        2,
        s0.wrapping_sub(1),
        1 << 20,
        b"good",
    )
    .await;
    let mut got = [0u8; 4];
    timeout(Duration::from_secs(5), stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"good");
    assert!(stream.stats().dropped_packets >= 2, "{:?}", stream.stats());

    // Garbage of every shape: never a panic, only counters.
    let mut x = 7u64;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 80) as usize;
        let mut d = prng_bytes(len, x);
        if i % 2 == 0 && len >= 20 {
            d[0] = (d[0] % 5) << 4 | 1; // a plausible header with random fields
        }
        let _ = raw.sock.send_to(&d, raw.to).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.counters().malformed.load(Ordering::Relaxed) > 1000);
    assert!(server.connections() <= 1 + UtpConfig::default().max_pending);
    // The real connection still works after the storm.
    raw.send(
        PacketType::Data,
        501,
        3,
        s0.wrapping_sub(1),
        1 << 20,
        b"more",
    )
    .await;
    let mut got = [0u8; 4];
    timeout(Duration::from_secs(5), stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_window_forever_stays_bounded() {
    let cfg = UtpConfig::default();
    let (server, mut listener) = UtpSocket::bind(LOCAL, cfg).await.unwrap();
    let raw = Raw::new(server.local_addr().unwrap()).await;
    raw.handshake(700, 0).await;
    let mut stream = timeout(Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let writer = tokio::spawn(async move {
        let chunk = vec![7u8; 64 << 10];
        for _ in 0..128 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
            w.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    // Acknowledge everything, always with a window of zero.
    let (mut packets, mut bytes) = (0usize, 0usize);
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let Some((h, payload)) = raw.recv(Duration::from_millis(200)).await else {
            continue;
        };
        if h.ty == PacketType::Data {
            packets += 1;
            bytes += payload.len();
            raw.send(PacketType::State, 701, 2, h.seq, 0, b"").await;
        }
        assert!(server.buffered_bytes() <= cfg.send_buf + cfg.recv_buf);
    }
    eprintln!(
        "zero window: {packets} probes, {bytes} bytes in 4 s; {} written",
        written.load(Ordering::Relaxed)
    );
    assert!(packets < 60, "only window probes go out, got {packets}");
    assert!(bytes < 60 * cfg.mss);
    assert!(
        written.load(Ordering::Relaxed) <= cfg.send_buf,
        "the writer is held back"
    );
    assert!(!writer.is_finished());
    writer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syn_flood_is_capped_and_real_peers_still_connect() {
    let cfg = UtpConfig::default();
    let (server, mut listener) = UtpSocket::bind(LOCAL, cfg).await.unwrap();
    let raw = Raw::new(server.local_addr().unwrap()).await;
    for id in 0..3000u16 {
        raw.send(PacketType::Syn, id.wrapping_mul(3), 1, 0, 1 << 20, b"")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.connections() <= cfg.max_pending,
        "{} connections",
        server.connections()
    );
    assert!(server.counters().refused_syns.load(Ordering::Relaxed) >= 2900);
    assert!(server.buffered_bytes() < 1 << 20);
    // Drain the queue the flood filled; a real client then gets through.
    for _ in 0..cfg.max_pending {
        let s = timeout(Duration::from_secs(1), listener.accept())
            .await
            .unwrap()
            .unwrap();
        drop(s);
    }
    let (client, _l) = UtpSocket::bind(LOCAL, cfg).await.unwrap();
    let server_addr = server.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let mut s = listener.accept().await.unwrap();
        let mut b = [0u8; 5];
        s.read_exact(&mut b).await.unwrap();
        s.write_all(&b).await.unwrap();
        s
    });
    let mut c = timeout(Duration::from_secs(10), client.connect(server_addr))
        .await
        .unwrap()
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut b = [0u8; 5];
    timeout(Duration::from_secs(5), c.read_exact(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&b, b"hello");
    accept.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_silence_times_out() {
    let quiet = UdpSocket::bind(LOCAL).await.unwrap();
    let cfg = UtpConfig {
        syn_tries: 2,
        ..UtpConfig::default()
    };
    let (client, _l) = UtpSocket::bind(LOCAL, cfg).await.unwrap();
    let start = Instant::now();
    let r = timeout(
        Duration::from_secs(10),
        client.connect(quiet.local_addr().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::TimedOut)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

mod interop;
