//! PCP, the Port Control Protocol (RFC 6887): the MAP request a client sends to its gateway's
//! UDP port 5351 and the replies it reads back, as bytes. Pure: the session's port mapper
//! owns the socket and the timing.
//!
//! No crate, for the reason `natpmp.rs` gives: fixed fields, and the crates bring their own
//! sockets. Addresses are 16 bytes on the wire; IPv4 ones are IPv4-mapped (`::ffff:a.b.c.d`).
//!
//! PCP shares port 5351 with NAT-PMP, and RFC 6887 §9 says how the two find each other: a
//! NAT-PMP-only server answers our version 2 with its own version 0 "unsupported version",
//! which `parse_reply` reports as `Reply::NatPmpOnly`, and the client falls back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

pub use super::natpmp::Proto;

/// PCP's version number.
pub const VERSION: u8 = 2;
/// Longest PCP message (RFC 6887 §7): anything longer is not PCP.
pub const MAX_MESSAGE: usize = 1100;
/// Bytes of the common header of a request or a reply.
const HEADER_LEN: usize = 24;
/// Bytes of the MAP opcode's own fields.
const MAP_LEN: usize = 36;
/// Bytes of a MAP request without options.
pub const MAP_REQUEST_LEN: usize = HEADER_LEN + MAP_LEN;
const OP_ANNOUNCE: u8 = 0;
const OP_MAP: u8 = 1;
/// The R bit: set in replies.
const RESPONSE: u8 = 0x80;

/// A PCP result code (RFC 6887 §7.4), kept as the router sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultCode(pub u8);

impl ResultCode {
    pub const SUCCESS: ResultCode = ResultCode(0);
    pub const UNSUPP_VERSION: ResultCode = ResultCode(1);
    pub const NOT_AUTHORIZED: ResultCode = ResultCode(2);
    pub const NO_RESOURCES: ResultCode = ResultCode(8);
    pub const CANNOT_PROVIDE_EXTERNAL: ResultCode = ResultCode(11);

    fn name(self) -> &'static str {
        match self.0 {
            0 => "SUCCESS",
            1 => "UNSUPP_VERSION",
            2 => "NOT_AUTHORIZED",
            3 => "MALFORMED_REQUEST",
            4 => "UNSUPP_OPCODE",
            5 => "UNSUPP_OPTION",
            6 => "MALFORMED_OPTION",
            7 => "NETWORK_FAILURE",
            8 => "NO_RESOURCES",
            9 => "UNSUPP_PROTOCOL",
            10 => "USER_EX_QUOTA",
            11 => "CANNOT_PROVIDE_EXTERNAL",
            12 => "ADDRESS_MISMATCH",
            13 => "EXCESSIVE_REMOTE_PEERS",
            _ => "unknown",
        }
    }

    /// Whether asking again later may succeed (RFC 6887 §7.4 calls these short-lifetime
    /// errors; the reply's lifetime says how long to wait).
    pub fn is_transient(self) -> bool {
        matches!(self.0, 7 | 8 | 10 | 13)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PCP result {} ({})", self.0, self.name())
    }
}

/// Why bytes are not a PCP reply we can use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PcpError {
    #[error("a PCP reply of {0} bytes is too short")]
    Short(usize),
    #[error("a PCP reply of {0} bytes is longer than {MAX_MESSAGE}")]
    TooLong(usize),
    #[error("a PCP reply has version {0}")]
    Version(u8),
    #[error("a PCP message with opcode {0:#04x} is not a reply we asked for")]
    Opcode(u8),
    #[error("a PCP MAP reply names protocol {0}")]
    Protocol(u8),
    #[error("a PCP reply's options overrun it")]
    Options,
}

/// A MAP request (RFC 6887 §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRequest {
    /// Ties replies and later renewals to this mapping; random, kept for its life.
    pub nonce: [u8; 12],
    pub proto: Proto,
    pub internal_port: u16,
    /// The external port we would like; 0 lets the server choose.
    pub suggested_external_port: u16,
    /// The external address we would like (`None`: any).
    pub suggested_external_ip: Option<IpAddr>,
    /// Our address as the server sees the request's source.
    pub client_ip: IpAddr,
    /// Seconds; 0 removes the mapping.
    pub lifetime: u32,
}

/// What a MAP reply gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub nonce: [u8; 12],
    pub proto: Proto,
    pub internal_port: u16,
    pub external_port: u16,
    pub external_ip: IpAddr,
    pub lifetime: u32,
    pub epoch: u32,
}

/// A reply read from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Mapped(Mapped),
    /// The server refused; `lifetime` is how long (seconds) the refusal holds.
    Refused {
        code: ResultCode,
        lifetime: u32,
        epoch: u32,
    },
    /// An ANNOUNCE: the server restarted and lost its mappings (RFC 6887 §14.1).
    Announce {
        epoch: u32,
    },
    /// A NAT-PMP server answered: it does not speak PCP.
    NatPmpOnly,
}

fn put_ip(b: &mut [u8], ip: IpAddr) {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    b.copy_from_slice(&v6.octets());
}

fn get_ip(b: &[u8]) -> IpAddr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    let v6 = Ipv6Addr::from(o);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Encodes a MAP request without options.
pub fn encode_map(r: &MapRequest) -> [u8; MAP_REQUEST_LEN] {
    let mut b = [0u8; MAP_REQUEST_LEN];
    b[0] = VERSION;
    b[1] = OP_MAP;
    // b[2..4] reserved.
    b[4..8].copy_from_slice(&r.lifetime.to_be_bytes());
    put_ip(&mut b[8..24], r.client_ip);
    let m = &mut b[HEADER_LEN..];
    m[..12].copy_from_slice(&r.nonce);
    m[12] = r.proto.iana();
    // m[13..16] reserved.
    m[16..18].copy_from_slice(&r.internal_port.to_be_bytes());
    m[18..20].copy_from_slice(&r.suggested_external_port.to_be_bytes());
    // "Any address" is the all-zeros address of the client's family (§11.1).
    let any = match r.client_ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    put_ip(&mut m[20..36], r.suggested_external_ip.unwrap_or(any));
    b
}

/// Checks that the options after `at` are whole TLVs (code, reserved, length, data padded to
/// four bytes); their content is not ours to act on (we send none, so none is mandatory).
fn check_options(b: &[u8], mut at: usize) -> Result<(), PcpError> {
    while at < b.len() {
        if b.len() - at < 4 {
            return Err(PcpError::Options);
        }
        let len = usize::from(be16(b, at + 2));
        let padded = len.div_ceil(4) * 4;
        at += 4;
        if b.len() - at < padded {
            return Err(PcpError::Options);
        }
        at += padded;
    }
    Ok(())
}

/// Reads a reply to a MAP request (or an unsolicited ANNOUNCE).
pub fn parse_reply(b: &[u8]) -> Result<Reply, PcpError> {
    if b.len() > MAX_MESSAGE {
        return Err(PcpError::TooLong(b.len()));
    }
    if b.len() < 2 {
        return Err(PcpError::Short(b.len()));
    }
    if b[0] == super::natpmp::VERSION {
        // Any version 0 answer means NAT-PMP is what the server speaks (RFC 6887 §9).
        return Ok(Reply::NatPmpOnly);
    }
    if b[0] != VERSION {
        return Err(PcpError::Version(b[0]));
    }
    if b.len() < HEADER_LEN {
        return Err(PcpError::Short(b.len()));
    }
    let op = b[1];
    if op & RESPONSE == 0 || !matches!(op & !RESPONSE, OP_ANNOUNCE | OP_MAP) {
        return Err(PcpError::Opcode(op));
    }
    let code = ResultCode(b[3]);
    let lifetime = be32(b, 4);
    let epoch = be32(b, 8);
    if code != ResultCode::SUCCESS {
        // Error replies may stop at the header (§7.2: "if the result code is not SUCCESS,
        // the opcode-specific fields may be absent").
        return Ok(Reply::Refused {
            code,
            lifetime,
            epoch,
        });
    }
    if op & !RESPONSE == OP_ANNOUNCE {
        check_options(b, HEADER_LEN)?;
        return Ok(Reply::Announce { epoch });
    }
    if b.len() < MAP_REQUEST_LEN {
        return Err(PcpError::Short(b.len()));
    }
    check_options(b, MAP_REQUEST_LEN)?;
    let m = &b[HEADER_LEN..MAP_REQUEST_LEN];
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&m[..12]);
    let proto = Proto::from_iana(m[12]).ok_or(PcpError::Protocol(m[12]))?;
    Ok(Reply::Mapped(Mapped {
        nonce,
        proto,
        internal_port: be16(m, 16),
        external_port: be16(m, 18),
        external_ip: get_ip(&m[20..36]),
        lifetime,
        epoch,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> MapRequest {
        MapRequest {
            nonce: [7; 12],
            proto: Proto::Udp,
            internal_port: 6881,
            suggested_external_port: 6881,
            suggested_external_ip: None,
            client_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            lifetime: 7200,
        }
    }

    /// A server's reply to `request()`, built the way RFC 6887 §11.3 says.
    fn reply(code: u8, ext_port: u16, ext: Ipv4Addr) -> Vec<u8> {
        let mut b = encode_map(&request()).to_vec();
        b[1] = RESPONSE | OP_MAP;
        b[2] = 0;
        b[3] = code;
        b[8..12].copy_from_slice(&1234u32.to_be_bytes());
        b[12..24].fill(0);
        b[HEADER_LEN + 18..HEADER_LEN + 20].copy_from_slice(&ext_port.to_be_bytes());
        put_ip(&mut b[HEADER_LEN + 20..HEADER_LEN + 36], IpAddr::V4(ext));
        b
    }

    #[test]
    fn a_map_request_is_laid_out_as_the_rfc_says() {
        let b = encode_map(&request());
        assert_eq!(&b[..8], &[2, 1, 0, 0, 0, 0, 0x1c, 0x20]);
        assert_eq!(
            &b[8..24],
            &Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().octets()
        );
        assert_eq!(&b[24..36], &[7; 12]);
        assert_eq!(&b[36..40], &[17, 0, 0, 0]);
        assert_eq!(&b[40..44], &[0x1a, 0xe1, 0x1a, 0xe1]);
        // Any external address: the IPv4-mapped 0.0.0.0.
        assert_eq!(&b[44..60], &Ipv4Addr::UNSPECIFIED.to_ipv6_mapped().octets());
    }

    #[test]
    fn a_map_reply_is_read() {
        let r = parse_reply(&reply(0, 40000, Ipv4Addr::new(127, 0, 0, 9))).unwrap();
        assert_eq!(
            r,
            Reply::Mapped(Mapped {
                nonce: [7; 12],
                proto: Proto::Udp,
                internal_port: 6881,
                external_port: 40000,
                external_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
                lifetime: 7200,
                epoch: 1234,
            })
        );
        // Options after the fields are skipped when whole.
        let mut b = reply(0, 1, Ipv4Addr::LOCALHOST);
        b.extend_from_slice(&[1, 0, 0, 16]);
        b.extend_from_slice(&[0; 16]);
        assert!(matches!(parse_reply(&b), Ok(Reply::Mapped(_))));
        b.extend_from_slice(&[2, 0, 0, 5, 1, 2, 3]);
        assert_eq!(parse_reply(&b), Err(PcpError::Options));
    }

    #[test]
    fn refusals_announces_and_nat_pmp_are_told_apart() {
        let mut b = reply(8, 0, Ipv4Addr::UNSPECIFIED);
        b[4..8].copy_from_slice(&30u32.to_be_bytes());
        assert_eq!(
            parse_reply(&b[..HEADER_LEN]),
            Ok(Reply::Refused {
                code: ResultCode::NO_RESOURCES,
                lifetime: 30,
                epoch: 1234
            })
        );
        assert!(ResultCode::NO_RESOURCES.is_transient());
        assert!(!ResultCode::NOT_AUTHORIZED.is_transient());
        assert_eq!(ResultCode(2).to_string(), "PCP result 2 (NOT_AUTHORIZED)");
        let mut a = [0u8; HEADER_LEN];
        a[0] = 2;
        a[1] = RESPONSE;
        a[11] = 3;
        assert_eq!(parse_reply(&a), Ok(Reply::Announce { epoch: 3 }));
        // A NAT-PMP server's "unsupported version".
        assert_eq!(
            parse_reply(&[0, 129, 0, 1, 0, 0, 0, 1]),
            Ok(Reply::NatPmpOnly)
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(parse_reply(&[2]), Err(PcpError::Short(1)));
        assert_eq!(parse_reply(&[1, 0x81]), Err(PcpError::Version(1)));
        assert_eq!(parse_reply(&[2, 0x81, 0, 0]), Err(PcpError::Short(4)));
        assert_eq!(
            parse_reply(&vec![2u8; MAX_MESSAGE + 1]),
            Err(PcpError::TooLong(MAX_MESSAGE + 1))
        );
        // Our own request echoed back is not a reply.
        assert_eq!(
            parse_reply(&encode_map(&request())),
            Err(PcpError::Opcode(1))
        );
        let mut b = reply(0, 1, Ipv4Addr::LOCALHOST);
        b[HEADER_LEN + 12] = 99;
        assert_eq!(parse_reply(&b), Err(PcpError::Protocol(99)));
        assert_eq!(parse_reply(&b[..40]), Err(PcpError::Short(40)));
    }
}
