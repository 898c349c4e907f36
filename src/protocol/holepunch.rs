//! BEP 55 `ut_holepunch`: the binary payload of the hole punching extension message. Pure:
//! bytes in, plain types out.
//!
//! One message is `msg_type` (1 byte), `addr_type` (1 byte, 0 = IPv4, 1 = IPv6), the address
//! (4 or 16 bytes, big-endian), the port (2 bytes) and `err_code` (4 bytes, 0 unless
//! `msg_type` is error): 12 or 24 bytes, nothing after; libtorrent leaves `err_code` out of
//! rendezvous and connect (8 or 20 bytes), which is taken too. The initiator sends `rendezvous`
//! (naming the target) to a relay connected to both; the relay sends each side `connect`
//! (naming the other), and both dial at once over uTP so both NATs open; or the relay answers
//! `error` naming the target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

/// The extension's name in the BEP 10 handshake's `m`.
pub const UT_HOLEPUNCH: &str = "ut_holepunch";
/// Length of a message naming an IPv4 endpoint.
pub const LEN_V4: usize = 1 + 1 + 4 + 2 + 4;
/// Length of a message naming an IPv6 endpoint.
pub const LEN_V6: usize = 1 + 1 + 16 + 2 + 4;

/// What the message asks or tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoleKind {
    /// Initiator → relay: introduce me to this endpoint.
    Rendezvous,
    /// Relay → both sides: dial this endpoint over uTP now.
    Connect,
    /// Relay → initiator: the rendezvous for this endpoint cannot be done, and why.
    Error(HoleError),
}

/// BEP 55's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoleError {
    /// The relay does not know the target.
    NoSuchPeer,
    /// The relay knows the target but is not connected to it.
    NotConnected,
    /// The target does not support `ut_holepunch`.
    NoSupport,
    /// The initiator named the relay itself.
    NoSelf,
    /// A code the BEP does not define (kept so that a newer peer's word is shown, not refused).
    Other(u32),
}

impl HoleError {
    pub fn code(self) -> u32 {
        match self {
            HoleError::NoSuchPeer => 1,
            HoleError::NotConnected => 2,
            HoleError::NoSupport => 3,
            HoleError::NoSelf => 4,
            HoleError::Other(c) => c,
        }
    }

    /// The error for a non-zero code.
    pub fn from_code(code: u32) -> HoleError {
        match code {
            1 => HoleError::NoSuchPeer,
            2 => HoleError::NotConnected,
            3 => HoleError::NoSupport,
            4 => HoleError::NoSelf,
            c => HoleError::Other(c),
        }
    }
}

impl std::fmt::Display for HoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoleError::NoSuchPeer => f.write_str("the relay does not know that peer"),
            HoleError::NotConnected => f.write_str("the relay is not connected to that peer"),
            HoleError::NoSupport => f.write_str("that peer does not support hole punching"),
            HoleError::NoSelf => f.write_str("asked the relay to introduce us to itself"),
            HoleError::Other(c) => write!(f, "unknown hole punch error {c}"),
        }
    }
}

/// One `ut_holepunch` message: what it is and the endpoint it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoleMsg {
    pub kind: HoleKind,
    pub addr: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoleParseError {
    #[error("ut_holepunch: {0} byte(s), expected {LEN_V4} or {LEN_V6}")]
    BadLength(usize),
    #[error("ut_holepunch: unknown msg_type {0}")]
    UnknownType(u8),
    #[error("ut_holepunch: unknown addr_type {0}")]
    UnknownAddrType(u8),
    #[error("ut_holepunch: error message with err_code 0")]
    ZeroError,
}

impl HoleMsg {
    pub fn rendezvous(addr: SocketAddr) -> HoleMsg {
        HoleMsg {
            kind: HoleKind::Rendezvous,
            addr,
        }
    }

    pub fn connect(addr: SocketAddr) -> HoleMsg {
        HoleMsg {
            kind: HoleKind::Connect,
            addr,
        }
    }

    pub fn error(addr: SocketAddr, e: HoleError) -> HoleMsg {
        HoleMsg {
            kind: HoleKind::Error(e),
            addr,
        }
    }

    /// Decodes one payload (the bytes after the extended message id). The length must match
    /// `addr_type` exactly, `err_code` optional on rendezvous and connect. A non-zero `err_code` on a rendezvous or connect is ignored (as
    /// libtorrent does); an error message must carry a non-zero one.
    pub fn decode(payload: &[u8]) -> Result<HoleMsg, HoleParseError> {
        let bad = || HoleParseError::BadLength(payload.len());
        let (&msg_type, rest) = payload.split_first().ok_or_else(bad)?;
        let (&addr_type, rest) = rest.split_first().ok_or_else(bad)?;
        let (ip, rest): (IpAddr, &[u8]) = match addr_type {
            0 => {
                let (ip, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
                (Ipv4Addr::from(*ip).into(), rest)
            }
            1 => {
                let (ip, rest) = rest.split_first_chunk::<16>().ok_or_else(bad)?;
                (Ipv6Addr::from(*ip).into(), rest)
            }
            t => return Err(HoleParseError::UnknownAddrType(t)),
        };
        let (port, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
        let port = u16::from_be_bytes(*port);
        // libtorrent 2.0.8 writes `err_code` on error messages only (bt_peer_connection.cpp,
        // `write_holepunch_msg`): its rendezvous and connect end after the port.
        let code = match (msg_type, rest.len()) {
            (0 | 1, 0) => 0,
            (_, 4) => u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]),
            _ => return Err(bad()),
        };
        let kind = match msg_type {
            0 => HoleKind::Rendezvous,
            1 => HoleKind::Connect,
            2 if code == 0 => return Err(HoleParseError::ZeroError),
            2 => HoleKind::Error(HoleError::from_code(code)),
            t => return Err(HoleParseError::UnknownType(t)),
        };
        Ok(HoleMsg {
            kind,
            addr: SocketAddr::new(ip, port),
        })
    }

    /// Encodes the message: [`LEN_V4`] or [`LEN_V6`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN_V6);
        let (t, code) = match self.kind {
            HoleKind::Rendezvous => (0u8, 0u32),
            HoleKind::Connect => (1, 0),
            HoleKind::Error(e) => (2, e.code()),
        };
        out.push(t);
        match self.addr.ip() {
            IpAddr::V4(a) => {
                out.push(0);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(1);
                out.extend_from_slice(&a.octets());
            }
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
        out.extend_from_slice(&code.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests;
