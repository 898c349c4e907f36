//! SOCKS5 UDP ASSOCIATE (RFC 1928 §7): the session asks the proxy for a UDP relay on a TCP
//! control connection it then holds open; the relay lives as long as that connection.
//!
//! Why through `tokio-socks`: it implements the exchange the CONNECT path uses (greeting,
//! RFC 1929 login, request, reply with the bound address) but offers no ASSOCIATE command.
//! Rather than write a second SOCKS5 client beside it, the request's command byte is
//! rewritten on its way out (`AssociateCmd`): the exchange is otherwise byte for byte the same,
//! and its reply's bound address is the relay's. The login, the timeouts and the reading of
//! reply codes stay the CONNECT path's (`proxy.rs`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::proxy::{Proxy, ProxyError};

/// A UDP association: the relay's address and the connection that keeps it alive.
pub(crate) struct Association {
    pub control: TcpStream,
    pub relay: SocketAddr,
}

/// The SOCKS5 request's version and command bytes: CONNECT as `tokio-socks` writes it, and
/// UDP ASSOCIATE as we send it instead.
const CONNECT: [u8; 2] = [0x05, 0x01];
const UDP_ASSOCIATE: u8 = 0x03;

impl Proxy {
    /// Asks the proxy for a UDP relay for datagrams from `udp_port` on this host (the
    /// session's socket). The control connection leaves from `local` as every connection to
    /// the proxy does, and the association names its address as the datagrams' source.
    /// The proxy's state follows the answer, as for a CONNECT: a torrent whose only traffic
    /// is UDP or a tracker still hears that the proxy is down.
    pub(crate) async fn associate(
        &self,
        udp_port: u16,
        local: Option<IpAddr>,
    ) -> Result<Association, ProxyError> {
        let r = self.associate_inner(udp_port, local).await;
        match &r {
            Ok(_) | Err(ProxyError::Target(_)) => self.set_down(None),
            Err(ProxyError::Down(e)) => self.set_down(Some(e.clone())),
        }
        r
    }

    async fn associate_inner(
        &self,
        udp_port: u16,
        local: Option<IpAddr>,
    ) -> Result<Association, ProxyError> {
        let socket = self.to_proxy(local).await?;
        let proxy_addr = socket
            .peer_addr()
            .map_err(|e| ProxyError::Down(format!("the proxy hung up: {e}")))?;
        let source = socket
            .local_addr()
            .map_err(|e| ProxyError::Down(format!("the proxy hung up: {e}")))?;
        let from = SocketAddr::new(source.ip(), udp_port);
        let s = self.socks(AssociateCmd::new(socket), from).await?;
        let relay = match s.target_addr() {
            tokio_socks::TargetAddr::Ip(a) => a,
            tokio_socks::TargetAddr::Domain(..) => {
                return Err(ProxyError::Down(
                    "the proxy named its UDP relay by a host name".into(),
                ))
            }
        };
        // "Anywhere on me": the relay is at the proxy's own address.
        let relay = if relay.ip().is_unspecified() {
            SocketAddr::new(proxy_addr.ip(), relay.port())
        } else {
            relay
        };
        Ok(Association {
            control: s.into_inner().inner,
            relay,
        })
    }
}

/// A connection to the proxy whose first SOCKS5 request (after the greeting) leaves as UDP
/// ASSOCIATE. The greeting is always the first write; the login starts with 0x01; the request
/// is the first later write starting with CONNECT's two bytes.
struct AssociateCmd {
    inner: TcpStream,
    writes: u32,
    rewritten: bool,
}

impl AssociateCmd {
    fn new(inner: TcpStream) -> AssociateCmd {
        AssociateCmd {
            inner,
            writes: 0,
            rewritten: false,
        }
    }
}

impl AsyncRead for AssociateCmd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AssociateCmd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let is_request = this.writes > 0 && !this.rewritten && buf.starts_with(&CONNECT);
        let r = if is_request {
            let mut req = buf.to_vec();
            if let Some(cmd) = req.get_mut(1) {
                *cmd = UDP_ASSOCIATE;
            }
            Pin::new(&mut this.inner).poll_write(cx, &req)
        } else {
            Pin::new(&mut this.inner).poll_write(cx, buf)
        };
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                this.writes += 1;
                this.rewritten |= is_request;
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::ProxySpec;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A proxy that asks for a login, checks the request is UDP ASSOCIATE and answers with a
    /// relay on the unspecified address.
    #[tokio::test]
    async fn asks_for_udp_associate_after_the_login_and_reads_the_relay() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut greet = [0u8; 4];
            s.read_exact(&mut greet).await.unwrap();
            assert_eq!(greet, [5, 2, 0, 2]);
            s.write_all(&[5, 2]).await.unwrap();
            let mut login = [0u8; 7];
            s.read_exact(&mut login).await.unwrap();
            assert_eq!(login, [1, 1, b'u', 3, b'p', b'w', b'd']);
            s.write_all(&[1, 0]).await.unwrap();
            let mut req = [0u8; 10];
            s.read_exact(&mut req).await.unwrap();
            assert_eq!(req[..4], [5, 3, 0, 1]);
            assert_eq!(u16::from_be_bytes([req[8], req[9]]), 4242);
            s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0x1f, 0x90])
                .await
                .unwrap();
            // Hold the control connection until the client closes it.
            let _ = s.read(&mut [0u8; 1]).await;
        });
        let spec = ProxySpec::parse(&format!("socks5://u:pwd@127.0.0.1:{port}")).unwrap();
        let p = Proxy::new(spec, false);
        let a = p.associate(4242, None).await.unwrap();
        assert_eq!(a.relay, "127.0.0.1:8080".parse().unwrap());
        drop(a);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_proxy_refusing_the_command_is_an_error() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut greet = [0u8; 3];
            s.read_exact(&mut greet).await.unwrap();
            s.write_all(&[5, 0]).await.unwrap();
            let mut req = [0u8; 10];
            s.read_exact(&mut req).await.unwrap();
            assert_eq!(req[1], 3);
            // Command not supported.
            s.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
        });
        let spec = ProxySpec::parse(&format!("socks5://127.0.0.1:{port}")).unwrap();
        let p = Proxy::new(spec, false);
        assert!(p.associate(4242, None).await.is_err());
        server.await.unwrap();
    }
}
