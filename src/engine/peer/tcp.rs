//! The one way a TCP connection is opened, to a peer or to the proxy: from `--bind`'s address
//! when it is of the peer's family. Its own file so that `dial` and `proxy`, which both use
//! it, need not import each other.

use std::io;
use std::net::SocketAddr;

/// A TCP connection from `local` (the `--bind` address) when it is of the peer's family.
pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
) -> io::Result<tokio::net::TcpStream> {
    match local.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        None => tokio::net::TcpStream::connect(addr).await,
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
