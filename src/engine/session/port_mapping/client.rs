//! One NAT-PMP/PCP server, asked over one UDP socket connected to it: PCP first, NAT-PMP
//! when the server answers PCP with NAT-PMP's "unsupported version" (RFC 6887 §9), as
//! libtorrent does. Each request is sent up to `TRIES` times, waiting 250 ms and doubling
//! (RFC 6886 §3.1 starts there too, but goes on for a minute; a session must not wait that
//! long at start, and the renewal loop asks again later anyway).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

use crate::engine::api::MappedPort;
use crate::protocol::natpmp::{self, Proto};
use crate::protocol::pcp;

/// Sends of one request before giving up: 250 + 500 + 1000 + 2000 ms of waiting.
const TRIES: u32 = 4;
const FIRST_WAIT: Duration = Duration::from_millis(250);
/// Sends of a removal at exit: an exit waits at most 750 ms per mapping.
const UNMAP_TRIES: u32 = 2;

/// Why a mapping could not be made (or kept).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MapError {
    #[error("no gateway: no default route in /proc/net/route")]
    NoGateway,
    #[error("port mapping socket: {0}")]
    Socket(std::io::Error),
    #[error("no answer from {0}")]
    NoAnswer(SocketAddr),
    #[error("{0} is unreachable: {1}")]
    Unreachable(SocketAddr, std::io::Error),
    #[error("the router refused: {0}")]
    NatPmp(natpmp::ResultCode),
    #[error("the router refused: {0}")]
    Pcp(pcp::ResultCode),
    #[error(transparent)]
    Upnp(#[from] super::upnp::UpnpError),
    /// Both ways failed: each one's reason.
    #[error("{0}; {1}")]
    Both(Box<MapError>, Box<MapError>),
}

/// Which of the two the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Pcp,
    NatPmp,
}

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Pcp => "PCP",
            Dialect::NatPmp => "NAT-PMP",
        }
    }
}

/// A mapping held: what the router granted, and PCP's nonce that names it.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) proto: Proto,
    pub(crate) port: MappedPort,
    nonce: [u8; 12],
}

pub(crate) struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    pub(crate) dialect: Dialect,
    pub(crate) external_ip: Option<IpAddr>,
}

/// What one datagram meant to the request waiting for it.
enum Heard<T> {
    Answer(T),
    /// Not the answer to this request (a late reply to an earlier one, an ANNOUNCE).
    Other,
}

/// A UDP socket at `local`, bound to `--interface`'s device when one is set.
fn socket(local: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    crate::net::device::bind_socket(&s)?;
    s.bind(&local.into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

impl Client {
    /// A socket connected to `server`, from `bind` when given, on `--interface`'s device when
    /// one is set (a VPN's gateway that maps ports answers there; a LAN router is then never
    /// asked around the VPN).
    pub(crate) async fn new(server: SocketAddr, bind: Option<IpAddr>) -> Result<Client, MapError> {
        let local = match (bind, server) {
            (Some(ip), _) => SocketAddr::new(ip, 0),
            (None, SocketAddr::V4(_)) => SocketAddr::from(([0, 0, 0, 0], 0)),
            (None, SocketAddr::V6(_)) => SocketAddr::from(([0u16; 8], 0)),
        };
        let sock = socket(local).map_err(MapError::Socket)?;
        sock.connect(server).await.map_err(MapError::Socket)?;
        Ok(Client {
            sock,
            server,
            dialect: Dialect::Pcp,
            external_ip: None,
        })
    }

    pub(crate) fn server(&self) -> SocketAddr {
        self.server
    }

    /// Maps (or renews) `proto`'s `internal` port, asking for `prev`'s external port again
    /// when there is one.
    pub(crate) async fn map(
        &mut self,
        proto: Proto,
        internal: u16,
        prev: Option<&Held>,
        lease: u32,
    ) -> Result<Held, MapError> {
        if self.dialect == Dialect::Pcp {
            match self.pcp_map(proto, internal, prev, lease, TRIES).await? {
                Some(h) => return Ok(h),
                None => {
                    tracing::info!("{} speaks NAT-PMP, not PCP", self.server);
                    self.dialect = Dialect::NatPmp;
                }
            }
        }
        if self.external_ip.is_none() {
            self.external_ip = Some(self.natpmp_external().await?);
        }
        self.natpmp_map(proto, internal, prev, lease, TRIES).await
    }

    /// Removes a mapping (a short wait: this runs at exit).
    pub(crate) async fn unmap(&mut self, held: &Held) -> Result<(), MapError> {
        match self.dialect {
            Dialect::Pcp => self
                .pcp_map(held.proto, held.port.internal, Some(held), 0, UNMAP_TRIES)
                .await
                .map(drop),
            Dialect::NatPmp => self
                .natpmp_map(held.proto, held.port.internal, None, 0, UNMAP_TRIES)
                .await
                .map(drop),
        }
    }

    /// A PCP MAP; Ok(None) when the server speaks only NAT-PMP.
    async fn pcp_map(
        &mut self,
        proto: Proto,
        internal: u16,
        prev: Option<&Held>,
        lifetime: u32,
        tries: u32,
    ) -> Result<Option<Held>, MapError> {
        let client_ip = self.sock.local_addr().map_err(MapError::Socket)?.ip();
        // A renewal names the mapping by its nonce (RFC 6887 §11.2); a new one draws one.
        let nonce = prev.map_or_else(rand::random::<[u8; 12]>, |h| h.nonce);
        let req = pcp::MapRequest {
            nonce,
            proto,
            internal_port: internal,
            suggested_external_port: prev.map_or(internal, |h| h.port.external),
            suggested_external_ip: self.external_ip,
            client_ip,
            lifetime,
        };
        let bytes = pcp::encode_map(&req);
        let answer = self
            .exchange(&bytes, tries, |b| match pcp::parse_reply(b) {
                Ok(pcp::Reply::Mapped(m))
                    if m.nonce == nonce && m.proto == proto && m.internal_port == internal =>
                {
                    Heard::Answer(Ok(Some(m)))
                }
                Ok(pcp::Reply::Refused { code, .. }) if code == pcp::ResultCode::UNSUPP_VERSION => {
                    Heard::Answer(Ok(None))
                }
                Ok(pcp::Reply::Refused { code, .. }) => Heard::Answer(Err(MapError::Pcp(code))),
                Ok(pcp::Reply::NatPmpOnly) => Heard::Answer(Ok(None)),
                Ok(_) => Heard::Other,
                Err(e) => {
                    tracing::debug!("port mapping: ignored a datagram: {e}");
                    Heard::Other
                }
            })
            .await??;
        Ok(answer.map(|m| {
            self.external_ip = Some(m.external_ip);
            Held {
                proto,
                port: MappedPort {
                    internal,
                    external: m.external_port,
                    lifetime: m.lifetime,
                },
                nonce,
            }
        }))
    }

    async fn natpmp_external(&mut self) -> Result<IpAddr, MapError> {
        let req = natpmp::external_address_request();
        self.exchange(&req, TRIES, |b| match natpmp::parse_reply(b) {
            Ok(natpmp::Reply::External { addr, .. }) => Heard::Answer(Ok(IpAddr::V4(addr))),
            Ok(natpmp::Reply::Refused {
                opcode: 0, code, ..
            }) => Heard::Answer(Err(MapError::NatPmp(code))),
            _ => Heard::Other,
        })
        .await?
    }

    async fn natpmp_map(
        &mut self,
        proto: Proto,
        internal: u16,
        prev: Option<&Held>,
        lifetime: u32,
        tries: u32,
    ) -> Result<Held, MapError> {
        let suggested = if lifetime == 0 {
            0
        } else {
            prev.map_or(internal, |h| h.port.external)
        };
        let req = natpmp::map_request(proto, internal, suggested, lifetime);
        let op = req[1];
        self.exchange(&req, tries, |b| match natpmp::parse_reply(b) {
            Ok(natpmp::Reply::Mapped {
                proto: p,
                internal_port,
                external_port,
                lifetime,
                ..
            }) if p == proto && internal_port == internal => Heard::Answer(Ok(Held {
                proto,
                port: MappedPort {
                    internal,
                    external: external_port,
                    lifetime,
                },
                nonce: [0; 12],
            })),
            Ok(natpmp::Reply::Refused { opcode, code, .. }) if opcode == op => {
                Heard::Answer(Err(MapError::NatPmp(code)))
            }
            _ => Heard::Other,
        })
        .await?
    }

    /// Sends `req` up to `tries` times, doubling the wait, until `read` takes a datagram as
    /// the answer. A port the server does not listen on is known at once (ICMP).
    async fn exchange<T>(
        &self,
        req: &[u8],
        tries: u32,
        mut read: impl FnMut(&[u8]) -> Heard<T>,
    ) -> Result<T, MapError> {
        // One byte over the longest message, so a longer one is seen as such.
        let mut buf = [0u8; pcp::MAX_MESSAGE + 1];
        let mut wait = FIRST_WAIT;
        for _ in 0..tries {
            if let Err(e) = self.sock.send(req).await {
                return Err(MapError::Unreachable(self.server, e));
            }
            let deadline = Instant::now() + wait;
            loop {
                match timeout_at(deadline, self.sock.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(MapError::Unreachable(self.server, e));
                    }
                    Ok(Err(e)) => return Err(MapError::Socket(e)),
                    Ok(Ok(n)) => {
                        if let Heard::Answer(t) = read(&buf[..n]) {
                            return Ok(t);
                        }
                    }
                }
            }
            wait *= 2;
        }
        Err(MapError::NoAnswer(self.server))
    }
}
