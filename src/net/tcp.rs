//! The one way a TCP connection is opened, to a peer, to the proxy or to a WebSocket
//! tracker: from `--bind`'s address when it is of the peer's family, on `--interface`'s
//! device when one is set. Below the engine and the trackers, so that both use it.

use std::io;
use std::net::SocketAddr;

/// A TCP connection from `local` (the `--bind` address) when it is of the peer's family.
/// Under `--interface` the socket is bound to the device (SO_BINDTODEVICE: no other route,
/// ever) and leaves from the interface's address; while it is down nothing is tried.
pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
) -> io::Result<tokio::net::TcpStream> {
    let device = crate::net::device::bound();
    let source = crate::net::device::source_for(addr, local)?;
    if device.is_none() && source.is_none() {
        return tokio::net::TcpStream::connect(addr).await;
    }
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(d) = device {
        socket.bind_device(Some(d.name().as_bytes()))?;
    }
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(addr).await
}
