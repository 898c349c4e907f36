//! Hostile uTP datagrams at a running ttui: datagrams for connections that do not exist,
//! impossible acknowledgement numbers on a real connection, a peer that advertises a window
//! of zero forever, a flood of SYNs, and garbage.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;
use ttui::internals::protocol::handshake::Handshake;
use ttui::internals::protocol::utp_packet::{self as codec, Header, PacketType};

/// Resident memory ttui must stay under while attacked and downloading.
pub const RSS_LIMIT_KIB: u64 = 64 * 1024;

/// What the attacker sent (read by the test while the attack runs).
#[derive(Debug, Default)]
pub struct Sent {
    pub wrong_ids: AtomicU64,
    pub impossible_acks: AtomicU64,
    pub zero_window_acks: AtomicU64,
    pub syns: AtomicU64,
    pub garbage: AtomicU64,
}

impl Sent {
    pub fn summary(&self) -> [u64; 5] {
        [
            &self.wrong_ids,
            &self.impossible_acks,
            &self.zero_window_acks,
            &self.syns,
            &self.garbage,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

struct Raw {
    sock: UdpSocket,
    to: SocketAddr,
}

impl Raw {
    async fn new(to: SocketAddr) -> Raw {
        let ip = crate::common::loopback_ip();
        Raw {
            sock: UdpSocket::bind((ip, 0)).await.expect("attacker socket"),
            to,
        }
    }

    async fn send(&self, ty: PacketType, conn_id: u16, seq: u16, ack: u16, wnd: u32, data: &[u8]) {
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
        codec::encode(&h, None, data, &mut d);
        let _ = self.sock.send_to(&d, self.to).await;
    }

    async fn recv(&self, within: Duration) -> Option<(Header, usize)> {
        let mut buf = vec![0u8; 65_536];
        let (n, _) = timeout(within, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let p = codec::decode(&buf[..n]).ok()?;
        Some((p.header, p.payload.len()))
    }

    /// SYN with id `r`; the responder's initial sequence number once it answers.
    async fn handshake(&self, r: u16, wnd: u32) -> Option<u16> {
        for _ in 0..20 {
            self.send(PacketType::Syn, r, 1, 0, wnd, b"").await;
            if let Some((h, _)) = self.recv(Duration::from_millis(500)).await {
                if h.ty == PacketType::State && h.conn_id == r {
                    return Some(h.seq);
                }
            }
        }
        None
    }
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Runs every attack at `target` (ttui's UDP port) in rounds until aborted.
pub async fn attack(target: SocketAddr, info_hash: [u8; 20], sent: Arc<Sent>) {
    // ttui binds its port a moment after it starts.
    tokio::time::sleep(Duration::from_millis(800)).await;
    tokio::spawn(zero_window_forever(target, info_hash, Arc::clone(&sent)));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut round = 0u16;
    loop {
        round = round.wrapping_add(1);
        // A real connection whose peer then acknowledges packets never sent.
        let raw = Raw::new(target).await;
        let id = 40_000u16.wrapping_add(round.wrapping_mul(2));
        if let Some(s0) = raw.handshake(id, 1 << 20).await {
            for k in 0..500u16 {
                let ack = s0.wrapping_add(1000 + k.wrapping_mul(61));
                let ty = if k % 2 == 0 {
                    PacketType::State
                } else {
                    PacketType::Data
                };
                raw.send(ty, id.wrapping_add(1), 2, ack, 1 << 20, b"evil")
                    .await;
                sent.impossible_acks.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Datagrams for connections that do not exist.
        for _ in 0..2000 {
            let r = next(&mut x);
            let ty = [
                PacketType::Data,
                PacketType::State,
                PacketType::Fin,
                PacketType::Reset,
            ][(r % 4) as usize];
            raw.send(
                ty,
                (r >> 8) as u16,
                (r >> 24) as u16,
                (r >> 40) as u16,
                1 << 20,
                b"x",
            )
            .await;
            sent.wrong_ids.fetch_add(1, Ordering::Relaxed);
        }
        // A flood of SYNs, each a new connection id.
        let flood = Raw::new(target).await;
        for i in 0..3000u16 {
            flood
                .send(
                    PacketType::Syn,
                    i.wrapping_mul(7).wrapping_add(round),
                    1,
                    0,
                    1 << 20,
                    b"",
                )
                .await;
            sent.syns.fetch_add(1, Ordering::Relaxed);
        }
        // Garbage shaped like headers.
        for _ in 0..2000 {
            let r = next(&mut x);
            let len = (r % 90) as usize;
            let mut d: Vec<u8> = (0..len)
                .map(|i| (r >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect();
            if let Some(b) = d.first_mut() {
                *b = ((r % 5) as u8) << 4 | 1;
            }
            let _ = flood.sock.send_to(&d, target).await;
            sent.garbage.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

/// Connects, sends a valid BitTorrent handshake for the torrent, and from then on
/// acknowledges whatever arrives with a window of zero. A connection made before the torrent
/// was ready to take peers is reset or stays silent: it is made again (bounded), with a new id.
async fn zero_window_forever(target: SocketAddr, info_hash: [u8; 20], sent: Arc<Sent>) {
    let raw = Raw::new(target).await;
    for attempt in 0..10u16 {
        let id = 30_000 + 2 * attempt;
        let Some(s0) = raw.handshake(id, 0).await else {
            return;
        };
        let hs = Handshake::new(info_hash, *b"-ZW0001-zerowindow!!").encode();
        raw.send(PacketType::Data, id + 1, 2, s0.wrapping_sub(1), 0, &hs)
            .await;
        let mut silent = 0;
        loop {
            let Some((h, _)) = raw.recv(Duration::from_secs(1)).await else {
                silent += 1;
                if silent >= 4 && sent.zero_window_acks.load(Ordering::Relaxed) == 0 {
                    break;
                }
                // Keep telling it, in case it missed us.
                raw.send(PacketType::State, id + 1, 3, s0.wrapping_sub(1), 0, b"")
                    .await;
                continue;
            };
            if h.conn_id != id + 1 && h.conn_id != id {
                continue;
            }
            if h.ty == PacketType::Reset {
                break;
            }
            if h.ty == PacketType::Data || h.ty == PacketType::Fin {
                raw.send(PacketType::State, id + 1, 3, h.seq, 0, b"").await;
                sent.zero_window_acks.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
