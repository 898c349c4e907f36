//! Outgoing TCP through a SOCKS5 proxy (`--proxy`, RFC 1928 CONNECT with RFC 1929
//! username/password), as libtorrent's `socks5_stream` does for peers when
//! `proxy_peer_connections` is on. The stream that comes back is a plain `TcpStream` to the
//! proxy carrying the peer's bytes, so MSE and the handshakes run over it as over any TCP
//! connection.
//!
//! Why `tokio-socks`: a small, well-kept crate that does CONNECT and username/password over
//! any `AsyncRead + AsyncWrite` socket and hands the socket back, so we connect to the proxy
//! ourselves (bounded by our own timeout) and tell "the proxy is down" (no TCP to it, our
//! login refused, not a SOCKS5 server) from "the proxy could not reach this peer" (its reply
//! code). It has no UDP ASSOCIATE command of its own: `proxy_udp.rs` asks for one over the same
//! exchange (the same login, the same reply), so the session's UDP goes through the proxy too.
//!
//! `proxy_only` (libtorrent's old `force_proxy`): nothing goes out but through the proxy. A
//! dial never falls back to a direct connection, with or without it, and UDP never goes
//! around the proxy either; `proxy_only` also closes the listeners (nobody can reach us
//! through a CONNECT proxy).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use crate::engine::api::{PeerEnd, ProxySpec, ProxyStatus};
use crate::net::socks_relay::SocksRelay;

/// Connecting to the proxy itself; a proxy on the same machine or network answers at once.
pub(crate) const PROXY_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The SOCKS5 exchange, which includes the proxy's own connection to the peer.
pub(crate) const PROXY_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a connection through the proxy failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The proxy itself: unreachable, refused our login, not SOCKS5, or silent.
    #[error("{0}")]
    Down(String),
    /// The proxy answered, and could not reach the peer (its reply code, as the peer's end).
    #[error("{0}")]
    Target(PeerEnd),
}

impl ProxyError {
    pub(crate) fn end(&self) -> PeerEnd {
        match self {
            ProxyError::Down(e) => PeerEnd::ProxyDown(e.clone()),
            ProxyError::Target(e) => e.clone(),
        }
    }
}

/// The session's proxy: its spec and what the latest connections through it said.
pub(crate) struct Proxy {
    spec: ProxySpec,
    only: bool,
    down: Mutex<Option<String>>,
    connections: AtomicU64,
    /// The relay of the session's UDP through the proxy, once the session has set it up.
    udp: std::sync::OnceLock<Arc<SocksRelay>>,
}

impl Proxy {
    pub(crate) fn new(spec: ProxySpec, only: bool) -> Proxy {
        Proxy {
            spec,
            only,
            down: Mutex::new(None),
            connections: AtomicU64::new(0),
            udp: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn spec(&self) -> &ProxySpec {
        &self.spec
    }

    pub(crate) fn only(&self) -> bool {
        self.only
    }

    /// The session's UDP goes through `relay` (once; a second call changes nothing).
    pub(crate) fn set_udp_relay(&self, relay: Arc<SocksRelay>) {
        let _ = self.udp.set(relay);
    }

    /// The relay of the session's UDP; None when the session has no UDP socket.
    pub(crate) fn udp_relay(&self) -> Option<&Arc<SocksRelay>> {
        self.udp.get()
    }

    pub(crate) fn status(&self) -> ProxyStatus {
        ProxyStatus {
            url: self.spec.to_string(),
            only: self.only,
            down: self.down.lock().map(|d| d.clone()).unwrap_or_default(),
            connections: self.connections.load(Ordering::Relaxed),
            udp_off: match self.udp.get() {
                Some(r) => r.off(),
                None => Some("no UDP socket".into()),
            },
        }
    }

    pub(super) fn set_down(&self, why: Option<String>) {
        if let Ok(mut d) = self.down.lock() {
            if *d != why {
                match &why {
                    Some(e) => tracing::warn!("proxy {} down: {e}", self.spec),
                    None => tracing::info!("proxy {} up", self.spec),
                }
                *d = why;
            }
        }
    }

    /// A TCP stream to `target` through the proxy, every wait bounded; the connection to the
    /// proxy leaves from `local` (`--bind`) when it is of the proxy's family.
    pub(crate) async fn connect(
        &self,
        target: SocketAddr,
        local: Option<IpAddr>,
    ) -> Result<TcpStream, ProxyError> {
        let r = self.connect_inner(target, local).await;
        match &r {
            Ok(_) => {
                self.connections.fetch_add(1, Ordering::Relaxed);
                self.set_down(None);
            }
            // The proxy answered: it is up, whatever it said of the peer.
            Err(ProxyError::Target(_)) => self.set_down(None),
            Err(ProxyError::Down(e)) => self.set_down(Some(e.clone())),
        }
        r
    }

    /// A TCP connection to the proxy itself, bounded by `PROXY_CONNECT_TIMEOUT`; from
    /// `local` (`--bind`) when it is of the proxy's family. The CONNECT and the UDP
    /// ASSOCIATE (`proxy_udp.rs`) both start here.
    pub(super) async fn to_proxy(&self, local: Option<IpAddr>) -> Result<TcpStream, ProxyError> {
        let to_proxy = async {
            let at = (self.spec.host.as_str(), self.spec.port);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(at).await?.collect();
            let local = local.filter(|ip| addrs.iter().any(|a| a.is_ipv4() == ip.is_ipv4()));
            let addr = addrs
                .iter()
                .find(|a| local.is_none_or(|ip| a.is_ipv4() == ip.is_ipv4()))
                .copied()
                .ok_or_else(|| io::Error::other("the proxy's name has no address"))?;
            crate::net::tcp::tcp_connect(addr, local).await
        };
        let socket = match tokio::time::timeout(PROXY_CONNECT_TIMEOUT, to_proxy).await {
            Err(_) => return Err(ProxyError::Down("timed out connecting to the proxy".into())),
            Ok(Err(e)) => return Err(ProxyError::Down(format!("cannot reach the proxy: {e}"))),
            Ok(Ok(s)) => s,
        };
        let _ = socket.set_nodelay(true);
        Ok(socket)
    }

    /// The SOCKS5 exchange over `socket` (a connection to the proxy) asking for `target`,
    /// logging in when the spec has a user, bounded by `PROXY_HANDSHAKE_TIMEOUT`.
    pub(super) async fn socks<S>(
        &self,
        socket: S,
        target: SocketAddr,
    ) -> Result<tokio_socks::tcp::Socks5Stream<S>, ProxyError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let socks = async {
            match &self.spec.auth {
                None => tokio_socks::tcp::Socks5Stream::connect_with_socket(socket, target).await,
                Some((u, p)) => {
                    tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                        socket, target, u, p,
                    )
                    .await
                }
            }
        };
        match tokio::time::timeout(PROXY_HANDSHAKE_TIMEOUT, socks).await {
            Err(_) => Err(ProxyError::Down("the proxy did not answer in time".into())),
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(classify(e)),
        }
    }

    async fn connect_inner(
        &self,
        target: SocketAddr,
        local: Option<IpAddr>,
    ) -> Result<TcpStream, ProxyError> {
        let socket = self.to_proxy(local).await?;
        Ok(self.socks(socket, target).await?.into_inner())
    }
}

/// The proxy's reply codes about the peer are the peer's ends; the rest is the proxy's fault.
pub(super) fn classify(e: tokio_socks::Error) -> ProxyError {
    use tokio_socks::Error as E;
    match e {
        E::ConnectionRefused => ProxyError::Target(PeerEnd::Refused),
        E::TtlExpired => ProxyError::Target(PeerEnd::ConnectTimeout),
        E::HostUnreachable | E::NetworkUnreachable => {
            ProxyError::Target(PeerEnd::Unreachable(format!("via the proxy: {e}")))
        }
        // Dante answers a failed connection to the peer so (its reply code 1).
        E::ConnectionNotAllowedByRuleset | E::GeneralSocksServerFailure => {
            ProxyError::Target(PeerEnd::Io(format!("the proxy says: {e}")))
        }
        E::PasswordAuthFailure(_) | E::NoAcceptableAuthMethods | E::AuthorizationRequired => {
            ProxyError::Down(format!("the proxy refused our login ({e})"))
        }
        E::Io(io) => ProxyError::Down(format!("the proxy hung up: {io}")),
        other => ProxyError::Down(format!("the proxy broke SOCKS5: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_proxy_not_listening_is_down_and_says_so() {
        // A port nobody listens on: bind, note it, close.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let spec = ProxySpec::parse(&format!("socks5://u:pw@127.0.0.1:{port}")).unwrap();
        let p = Proxy::new(spec, true);
        let e = p.connect("127.0.0.1:1".parse().unwrap(), None).await;
        let e = e.unwrap_err();
        assert!(matches!(e.end(), PeerEnd::ProxyDown(_)), "{e}");
        let s = p.status();
        assert!(s
            .down
            .as_deref()
            .unwrap()
            .contains("cannot reach the proxy"));
        assert_eq!(s.url, format!("socks5://u:***@127.0.0.1:{port}"));
        assert!(s.only);
    }

    #[tokio::test]
    async fn a_server_that_is_not_socks5_is_down() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let spec = ProxySpec::parse(&format!("socks5://127.0.0.1:{port}")).unwrap();
        let p = Proxy::new(spec, false);
        let e = p.connect("127.0.0.1:1".parse().unwrap(), None).await;
        let e = e.unwrap_err();
        assert!(matches!(e, ProxyError::Down(_)), "{e}");
        server.await.unwrap();
    }
}
