//! A UDP relay between two uTP endpoints that drops and reorders datagrams.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::UdpSocket;

#[derive(Debug, Default)]
pub struct Stats {
    dropped: AtomicU64,
    reordered: AtomicU64,
    forwarded: AtomicU64,
}

impl Stats {
    /// (dropped, reordered) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.dropped.load(Ordering::Relaxed),
            self.reordered.load(Ordering::Relaxed),
        )
    }

    /// Datagrams passed on (a held one counts when it goes).
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }
}

/// Starts a relay on `ip`: a client sends to the returned address, the relay forwards to
/// `server` from a second socket and back. `drop_per_mille`/1000 of the datagrams are lost,
/// `reorder_per_mille`/1000 held back until the next one in the same direction has gone.
/// Runs until its task is aborted or its runtime is dropped.
pub async fn start(
    ip: Ipv4Addr,
    server: SocketAddr,
    drop_per_mille: u64,
    reorder_per_mille: u64,
) -> (SocketAddr, Arc<Stats>, tokio::task::JoinHandle<()>) {
    let front = UdpSocket::bind((ip, 0)).await.expect("relay front socket");
    let back = UdpSocket::bind((ip, 0)).await.expect("relay back socket");
    let addr = front.local_addr().expect("relay address");
    let stats = Arc::new(Stats::default());
    let st = Arc::clone(&stats);
    let task = tokio::spawn(async move {
        let mut client: Option<SocketAddr> = None;
        let (mut b1, mut b2) = (vec![0u8; 65_536], vec![0u8; 65_536]);
        let mut held: [Option<Vec<u8>>; 2] = [None, None];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        loop {
            let (dir, data, to) = tokio::select! {
                r = front.recv_from(&mut b1) => {
                    let Ok((n, from)) = r else { continue };
                    client = Some(from);
                    (0usize, b1[..n].to_vec(), server)
                }
                r = back.recv_from(&mut b2) => {
                    let Ok((n, _)) = r else { continue };
                    let Some(c) = client else { continue };
                    (1usize, b2[..n].to_vec(), c)
                }
            };
            let sock = if dir == 0 { &back } else { &front };
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let roll = rng % 1000;
            if roll < drop_per_mille {
                st.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if roll < drop_per_mille + reorder_per_mille && held[dir].is_none() {
                st.reordered.fetch_add(1, Ordering::Relaxed);
                held[dir] = Some(data);
                continue;
            }
            let _ = sock.send_to(&data, to).await;
            if let Some(h) = held[dir].take() {
                let _ = sock.send_to(&h, to).await;
            }
            st.forwarded.fetch_add(1, Ordering::Relaxed);
        }
    });
    (addr, stats, task)
}
