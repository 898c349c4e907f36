//! The session's one UDP socket, on the listen port's number: it carries the DHT and uTP.
//! Every datagram goes to exactly one of them, by its first byte (KRPC is a bencoded
//! dictionary, `d`; a uTP header starts with its type and version nibbles, 0x01..=0x41).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::dht::{self, Dht};
use crate::net::utp::UtpSocket;
use crate::protocol::utp::looks_like_utp;

/// Binds UDP at `bind`:`port` (the port the TCP listener got).
pub(crate) fn bind(bind: IpAddr, port: u16) -> std::io::Result<Arc<UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = SocketAddr::new(bind, port);
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Room for bursts of uTP datagrams while the receive loop is busy.
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(Arc::new(UdpSocket::from_std(s.into())?))
}

/// Datagrams read in a row before the receive loop yields to other tasks.
const BURST: u32 = 256;

/// Counts of what the receive loop saw, for the header and for tests.
#[derive(Debug, Default)]
pub(crate) struct UdpCounters {
    pub krpc: std::sync::atomic::AtomicU64,
    pub utp: std::sync::atomic::AtomicU64,
    /// Neither, or for a service that is off.
    pub dropped: std::sync::atomic::AtomicU64,
}

/// Reads the socket until the task is aborted, handing each datagram to the DHT or uTP.
/// Neither handler blocks: the DHT queues (and drops when full), uTP handles in place.
pub(crate) async fn recv_loop(
    udp: Arc<UdpSocket>,
    dht: Option<Dht>,
    utp: Option<UtpSocket>,
    counters: Arc<UdpCounters>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut buf = vec![0u8; 64 * 1024];
    let mut burst = 0u32;
    loop {
        burst += 1;
        if burst >= BURST {
            // A socket that never drains must not keep this thread from other tasks.
            burst = 0;
            if let Some(utp) = &utp {
                utp.flush_acks();
            }
            tokio::task::yield_now().await;
        }
        let (n, from) = match udp.try_recv_from(&mut buf) {
            Ok(x) => x,
            // Drained: the ACKs uTP deferred over this burst go out, then wait for more.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(utp) = &utp {
                    utp.flush_acks();
                }
                burst = 0;
                if let Err(e) = udp.readable().await {
                    tracing::debug!("udp readable: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
            // Linux reports an ICMP "port unreachable" for an earlier send as an error on
            // the next receive; it says nothing about this socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                tracing::debug!("udp receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let d = &buf[..n];
        if dht::is_krpc(d) {
            match &dht {
                Some(dht) => {
                    counters.krpc.fetch_add(1, Relaxed);
                    dht.incoming(d, from);
                }
                None => {
                    counters.dropped.fetch_add(1, Relaxed);
                }
            }
        } else if looks_like_utp(d) {
            match &utp {
                Some(utp) => {
                    counters.utp.fetch_add(1, Relaxed);
                    utp.handle_datagram(d, from);
                }
                None => {
                    counters.dropped.fetch_add(1, Relaxed);
                }
            }
        } else {
            counters.dropped.fetch_add(1, Relaxed);
        }
    }
}
