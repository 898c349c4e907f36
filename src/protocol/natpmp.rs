//! NAT-PMP (RFC 6886): the requests a client sends to its gateway's UDP port 5351 and the
//! replies it reads back, as bytes. Pure: the session's port mapper
//! (`engine/session/port_mapping/`) owns the socket, the retransmissions and the renewals.
//!
//! No crate: the format is a dozen fixed-width big-endian fields, and the crates that speak it
//! (`natpmp`, `crab_nat`) bring their own sockets and runtimes; what we need is the parser
//! alone, bounded and fuzzed.
//!
//! A reply is read strictly: the version must be 0, the opcode must be one of the answers, and
//! a reply shorter than its opcode's length is an error. A non-zero result code is read from
//! the 8-byte header alone, because servers answer "unsupported version" with just that.

use std::fmt;
use std::net::Ipv4Addr;

use thiserror::Error;

/// The UDP port a NAT-PMP (and PCP) server listens on.
pub const SERVER_PORT: u16 = 5351;
/// NAT-PMP's version number; PCP is version 2 on the same port.
pub const VERSION: u8 = 0;
/// Opcode of a request for the external address; replies add 128.
const OP_EXTERNAL: u8 = 0;
const OP_MAP_UDP: u8 = 1;
const OP_MAP_TCP: u8 = 2;
const REPLY: u8 = 128;
/// Bytes of a reply's common header: version, opcode, result code, epoch.
const HEADER_LEN: usize = 8;
const EXTERNAL_REPLY_LEN: usize = 12;
const MAP_REPLY_LEN: usize = 16;

/// The transport a mapping is for. Shared with PCP, which names it by IANA number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// The IANA protocol number (PCP's `protocol` field).
    pub fn iana(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    pub fn from_iana(n: u8) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }

    fn map_opcode(self) -> u8 {
        match self {
            Proto::Tcp => OP_MAP_TCP,
            Proto::Udp => OP_MAP_UDP,
        }
    }

    /// The name UPnP and people use.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A NAT-PMP result code (RFC 6886 §3.5), kept as the router sent it so the explainer can
/// show it; `Display` names the ones the RFC defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultCode(pub u16);

impl ResultCode {
    pub const SUCCESS: ResultCode = ResultCode(0);
    pub const UNSUPPORTED_VERSION: ResultCode = ResultCode(1);
    pub const NOT_AUTHORIZED: ResultCode = ResultCode(2);
    pub const NETWORK_FAILURE: ResultCode = ResultCode(3);
    pub const OUT_OF_RESOURCES: ResultCode = ResultCode(4);
    pub const UNSUPPORTED_OPCODE: ResultCode = ResultCode(5);

    fn name(self) -> &'static str {
        match self.0 {
            0 => "success",
            1 => "unsupported version",
            2 => "not authorized/refused",
            3 => "network failure",
            4 => "out of resources",
            5 => "unsupported opcode",
            _ => "unknown result code",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NAT-PMP result {} ({})", self.0, self.name())
    }
}

/// Why bytes are not a NAT-PMP reply we can use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NatPmpError {
    #[error("a NAT-PMP reply of {0} bytes is too short")]
    Short(usize),
    #[error("a NAT-PMP reply has version {0}, not 0")]
    Version(u8),
    #[error("a NAT-PMP reply has opcode {0}, which answers nothing we ask")]
    Opcode(u8),
}

/// A reply read from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The gateway's external IPv4 address.
    External { epoch: u32, addr: Ipv4Addr },
    /// A mapping made (or, with `lifetime` 0, removed).
    Mapped {
        proto: Proto,
        epoch: u32,
        internal_port: u16,
        external_port: u16,
        lifetime: u32,
    },
    /// The gateway answered the request `opcode` (the request's, without 128) with a
    /// non-zero result code.
    Refused {
        opcode: u8,
        epoch: u32,
        code: ResultCode,
    },
}

/// The request for the gateway's external address.
pub fn external_address_request() -> [u8; 2] {
    [VERSION, OP_EXTERNAL]
}

/// A request to map `internal_port` of ours, asking for `suggested_external` (0: any) for
/// `lifetime` seconds. A `lifetime` of 0 removes the mapping (RFC 6886 §3.4; the suggested
/// port must then be 0 too).
pub fn map_request(
    proto: Proto,
    internal_port: u16,
    suggested_external: u16,
    lifetime: u32,
) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = VERSION;
    b[1] = proto.map_opcode();
    // b[2..4]: reserved, zero.
    b[4..6].copy_from_slice(&internal_port.to_be_bytes());
    b[6..8].copy_from_slice(&suggested_external.to_be_bytes());
    b[8..12].copy_from_slice(&lifetime.to_be_bytes());
    b
}

/// The request that removes our mapping of `internal_port`.
pub fn unmap_request(proto: Proto, internal_port: u16) -> [u8; 12] {
    map_request(proto, internal_port, 0, 0)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a reply. Bytes past the opcode's length are ignored (the RFC lets a later version
/// append fields).
pub fn parse_reply(b: &[u8]) -> Result<Reply, NatPmpError> {
    if b.len() < HEADER_LEN {
        return Err(NatPmpError::Short(b.len()));
    }
    if b[0] != VERSION {
        return Err(NatPmpError::Version(b[0]));
    }
    let op = b[1];
    if op < REPLY || !matches!(op - REPLY, OP_EXTERNAL | OP_MAP_UDP | OP_MAP_TCP) {
        return Err(NatPmpError::Opcode(op));
    }
    let request = op - REPLY;
    let code = ResultCode(be16(b, 2));
    let epoch = be32(b, 4);
    if code != ResultCode::SUCCESS {
        return Ok(Reply::Refused {
            opcode: request,
            epoch,
            code,
        });
    }
    match request {
        OP_EXTERNAL => {
            if b.len() < EXTERNAL_REPLY_LEN {
                return Err(NatPmpError::Short(b.len()));
            }
            Ok(Reply::External {
                epoch,
                addr: Ipv4Addr::new(b[8], b[9], b[10], b[11]),
            })
        }
        _ => {
            if b.len() < MAP_REPLY_LEN {
                return Err(NatPmpError::Short(b.len()));
            }
            Ok(Reply::Mapped {
                proto: if request == OP_MAP_TCP {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                epoch,
                internal_port: be16(b, 8),
                external_port: be16(b, 10),
                lifetime: be32(b, 12),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_laid_out_as_the_rfc_says() {
        assert_eq!(external_address_request(), [0, 0]);
        assert_eq!(
            map_request(Proto::Tcp, 6881, 6882, 7200),
            [0, 2, 0, 0, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x1c, 0x20]
        );
        assert_eq!(
            unmap_request(Proto::Udp, 6881),
            [0, 1, 0, 0, 0x1a, 0xe1, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn replies_are_read() {
        let ext = [0, 128, 0, 0, 0, 0, 0, 9, 127, 0, 0, 2];
        assert_eq!(
            parse_reply(&ext),
            Ok(Reply::External {
                epoch: 9,
                addr: Ipv4Addr::new(127, 0, 0, 2)
            })
        );
        let map = [
            0, 130, 0, 0, 0, 0, 1, 0, 0x1a, 0xe1, 0x1a, 0xe3, 0, 0, 0x0e, 0x10,
        ];
        assert_eq!(
            parse_reply(&map),
            Ok(Reply::Mapped {
                proto: Proto::Tcp,
                epoch: 256,
                internal_port: 6881,
                external_port: 6883,
                lifetime: 3600
            })
        );
        let udp = [0, 129, 0, 0, 0, 0, 1, 0, 0x1a, 0xe1, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            parse_reply(&udp),
            Ok(Reply::Mapped {
                proto: Proto::Udp,
                lifetime: 0,
                ..
            })
        ));
    }

    #[test]
    fn a_refusal_is_read_from_the_header_alone() {
        // "Unsupported version" is sent as 8 bytes, whatever was asked.
        let r = parse_reply(&[0, 130, 0, 2, 0, 0, 0, 5]).unwrap();
        assert_eq!(
            r,
            Reply::Refused {
                opcode: 2,
                epoch: 5,
                code: ResultCode::NOT_AUTHORIZED
            }
        );
        assert_eq!(
            ResultCode(4).to_string(),
            "NAT-PMP result 4 (out of resources)"
        );
        assert_eq!(
            ResultCode(77).to_string(),
            "NAT-PMP result 77 (unknown result code)"
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(parse_reply(&[0, 128, 0]), Err(NatPmpError::Short(3)));
        assert_eq!(
            parse_reply(&[2, 128, 0, 0, 0, 0, 0, 0]),
            Err(NatPmpError::Version(2))
        );
        // A request (no 128 bit) and an unknown answer.
        assert_eq!(
            parse_reply(&[0, 2, 0, 0, 0, 0, 0, 0]),
            Err(NatPmpError::Opcode(2))
        );
        assert_eq!(
            parse_reply(&[0, 131, 0, 0, 0, 0, 0, 0]),
            Err(NatPmpError::Opcode(131))
        );
        // A success that stops short of its fields.
        assert_eq!(
            parse_reply(&[0, 128, 0, 0, 0, 0, 0, 0, 1]),
            Err(NatPmpError::Short(9))
        );
        assert_eq!(
            parse_reply(&[0, 129, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
            Err(NatPmpError::Short(12))
        );
    }
}
