//! The session's one UDP socket, on the listen port's number: it carries the DHT and uTP
//! (and, under `--proxy`, UDP trackers: everything through the proxy's relay).
//! Every datagram goes to exactly one of them, by its first byte (KRPC is a bencoded
//! dictionary, `d`; a uTP header starts with its type and version nibbles, 0x01..=0x41).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::dht::{self, Dht};
use crate::net::route::routed;
use crate::net::socks_relay::SocksRelay;
use crate::net::udp_batch::BatchRecv;
use crate::net::utp::UtpSocket;
use crate::protocol::utp_packet::looks_like_utp;

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
    // The DHT and uTP leave by `--interface` only; on the unspecified address the kernel
    // picks the interface's own as the source, whatever it is now.
    crate::net::device::bind_long_lived(&s)?;
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(Arc::new(UdpSocket::from_std(s.into())?))
}

/// The session's IPv6 UDP socket on `port`, beside the IPv4 one, for the DHT (BEP 32) and
/// uTP, when IPv6 can reach something: the kernel has a route for global IPv6, or for one of
/// the IPv6 nodes the DHT would start from (`known`: bootstrap literals such as `[::1]:6881`,
/// saved nodes). None otherwise, quietly: the DHT and uTP stay on IPv4 and never try IPv6.
pub(crate) fn bind_dht6(port: u16, known: &[SocketAddr]) -> Option<Arc<UdpSocket>> {
    // The documentation prefix stands for "anywhere": its route is the default route.
    let anywhere = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 6881));
    let mut candidates = known.iter().filter(|a| a.is_ipv6()).take(16);
    if !routed(&anywhere) && !candidates.any(routed) {
        tracing::debug!("no IPv6 route: the DHT and uTP run on IPv4 only");
        return None;
    }
    match bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::info!("no IPv6 DHT or uTP on UDP port {port}: {e}");
            None
        }
    }
}

/// The addresses of `names` that are literal socket addresses (no resolver asked).
pub(crate) fn literal_addrs(names: &[String]) -> Vec<SocketAddr> {
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

/// Batches read in a row before the receive loop yields to other tasks.
const BURST: u32 = 64;

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
    relay: Option<Arc<SocksRelay>>,
) {
    let mut rx = BatchRecv::new(&udp);
    tracing::debug!("udp receive batched: {}", rx.is_batched());
    let mut burst = 0u32;
    loop {
        burst += 1;
        if burst >= BURST {
            // A socket that never drains must not keep this thread from other tasks.
            burst = 0;
            tokio::task::yield_now().await;
        }
        let to = Handlers {
            dht: dht.as_ref(),
            utp: utp.as_ref(),
            counters: &counters,
            relay: relay.as_deref(),
        };
        match recv_batch(&mut rx, &udp, &to) {
            // The ACKs and reader wake-ups uTP deferred over the batch go out: one per
            // connection per batch, not one per datagram.
            Ok(_) => {
                if let Some(utp) = &utp {
                    utp.flush_acks();
                }
            }
            // Drained: wait for more.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                burst = 0;
                if let Err(e) = udp.readable().await {
                    tracing::debug!("udp readable: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            // Linux reports an ICMP "port unreachable" for an earlier send as an error on
            // the next receive; it says nothing about this socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                tracing::debug!("udp receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Where the datagrams of the socket go.
pub(crate) struct Handlers<'a> {
    pub dht: Option<&'a Dht>,
    pub utp: Option<&'a UtpSocket>,
    pub counters: &'a UdpCounters,
    /// Under `--proxy`: only datagrams from its relay are taken, unwrapped; a UDP tracker's
    /// reply (its first byte is 0: actions are small big-endian numbers) goes to the
    /// announce waiting on it.
    pub relay: Option<&'a SocksRelay>,
}

/// One batch of datagrams from the socket to their handlers; the socket's error (WouldBlock
/// when nothing waits) otherwise.
pub(crate) fn recv_batch(
    rx: &mut BatchRecv,
    udp: &UdpSocket,
    to: &Handlers<'_>,
) -> std::io::Result<usize> {
    rx.try_recv(udp, |d, from| match to.relay {
        None => dispatch(d, from, to.dht, to.utp, to.counters),
        Some(relay) => {
            let Some((d, from)) = relay.unwrap(d, from) else {
                return;
            };
            if d.first() == Some(&0) && relay.to_tracker(d, from) {
                return;
            }
            dispatch(d, from, to.dht, to.utp, to.counters)
        }
    })
}

fn dispatch(
    d: &[u8],
    from: SocketAddr,
    dht: Option<&Dht>,
    utp: Option<&UtpSocket>,
    counters: &UdpCounters,
) {
    use std::sync::atomic::Ordering::Relaxed;
    if dht::is_krpc(d) {
        match dht {
            Some(dht) => {
                counters.krpc.fetch_add(1, Relaxed);
                dht.incoming(d, from);
            }
            None => {
                counters.dropped.fetch_add(1, Relaxed);
            }
        }
    } else if looks_like_utp(d) {
        match utp {
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

#[cfg(test)]
mod tests;
