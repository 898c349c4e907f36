//! The SOCKS5 UDP request header (RFC 1928 §7): every datagram between a client and the
//! proxy's UDP relay carries `RSV(2) FRAG(1) ATYP(1) DST.ADDR DST.PORT(2)` before its payload.
//! Through a proxy the session's UDP (the DHT, uTP, UDP trackers) is wrapped with the
//! destination on the way out and unwrapped on the way in, where the header names the sender.
//!
//! Fragments (FRAG ≠ 0) are refused: reassembly is optional in the RFC, no client we talk to
//! needs it, and a datagram that must be reassembled is one uTP or KRPC would resend anyway.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// ATYP values (RFC 1928 §5).
const ATYP_V4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_V6: u8 = 0x04;

/// The header's length before an IPv4 or IPv6 address and port: RSV, FRAG, ATYP.
const FIXED: usize = 4;

/// Who a datagram from the relay came from, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksFrom {
    Addr(SocketAddr),
    /// The relay may name the sender by host name; nothing of ours sends to names, so the
    /// session drops these, but the header is well formed.
    Domain(String, u16),
}

/// Why a datagram from the relay is not one we take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksUdpError {
    #[error("SOCKS5 UDP header cut short ({0} bytes)")]
    Short(usize),
    #[error("SOCKS5 UDP header: reserved bytes not zero")]
    Reserved,
    #[error("SOCKS5 UDP fragment {0} (fragments are not reassembled)")]
    Fragment(u8),
    #[error("SOCKS5 UDP header: unknown address type {0:#04x}")]
    AddressType(u8),
    #[error("SOCKS5 UDP header: the host name is not text")]
    Domain,
}

/// `payload` sent to `to` through the relay: the header, then the payload.
pub fn wrap(to: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len(&to) + payload.len());
    out.extend_from_slice(&[0, 0, 0]);
    match to {
        SocketAddr::V4(a) => {
            out.push(ATYP_V4);
            out.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            out.push(ATYP_V6);
            out.extend_from_slice(&a.ip().octets());
        }
    }
    out.extend_from_slice(&to.port().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The header's length for a datagram to `to`.
pub fn header_len(to: &SocketAddr) -> usize {
    FIXED + if to.is_ipv4() { 4 } else { 16 } + 2
}

/// The sender and the payload of a datagram from the relay.
pub fn unwrap(d: &[u8]) -> Result<(SocksFrom, &[u8]), SocksUdpError> {
    let short = || SocksUdpError::Short(d.len());
    let [r0, r1, frag, atyp, rest @ ..] = d else {
        return Err(short());
    };
    if (*r0, *r1) != (0, 0) {
        return Err(SocksUdpError::Reserved);
    }
    if *frag != 0 {
        return Err(SocksUdpError::Fragment(*frag));
    }
    let (from, rest) = match *atyp {
        ATYP_V4 => {
            let (ip, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
            let (port, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
            let a = SocketAddr::new(Ipv4Addr::from(*ip).into(), u16::from_be_bytes(*port));
            (SocksFrom::Addr(a), rest)
        }
        ATYP_V6 => {
            let (ip, rest) = rest.split_first_chunk::<16>().ok_or_else(short)?;
            let (port, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
            let a = SocketAddr::new(Ipv6Addr::from(*ip).into(), u16::from_be_bytes(*port));
            (SocksFrom::Addr(a), rest)
        }
        ATYP_DOMAIN => {
            let (len, rest) = rest.split_first().ok_or_else(short)?;
            let len = usize::from(*len);
            if rest.len() < len + 2 {
                return Err(short());
            }
            let (name, rest) = rest.split_at(len);
            let name = std::str::from_utf8(name).map_err(|_| SocksUdpError::Domain)?;
            let (port, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
            (
                SocksFrom::Domain(name.to_string(), u16::from_be_bytes(*port)),
                rest,
            )
        }
        other => return Err(SocksUdpError::AddressType(other)),
    };
    Ok((from, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_unwraps_v4_and_v6() {
        for to in ["127.0.0.5:6881", "[::1]:51413"] {
            let to: SocketAddr = to.parse().unwrap();
            let d = wrap(to, b"d1:ad2:id20:e");
            assert_eq!(d.len(), header_len(&to) + 13);
            let (from, payload) = unwrap(&d).unwrap();
            assert_eq!(
                (from, payload),
                (SocksFrom::Addr(to), &b"d1:ad2:id20:e"[..])
            );
        }
        // An empty payload is a datagram too.
        let to: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert_eq!(unwrap(&wrap(to, b"")).unwrap().1, b"");
    }

    #[test]
    fn the_rfc_layout() {
        let d = wrap("1.2.3.4:258".parse().unwrap(), b"x");
        assert_eq!(d, [0, 0, 0, 1, 1, 2, 3, 4, 1, 2, b'x']);
    }

    #[test]
    fn a_domain_sender() {
        let d = [&[0, 0, 0, 3, 4][..], b"host", &[0, 80], b"pay"].concat();
        let (from, payload) = unwrap(&d).unwrap();
        assert_eq!(from, SocksFrom::Domain("host".into(), 80));
        assert_eq!(payload, b"pay");
    }

    #[test]
    fn malformed_headers_are_typed_errors() {
        use SocksUdpError as E;
        let cases: &[(&[u8], E)] = &[
            (&[], E::Short(0)),
            (&[0, 0, 0], E::Short(3)),
            (&[0, 1, 0, 1, 1, 2, 3, 4, 0, 1], E::Reserved),
            (&[1, 0, 0, 1, 1, 2, 3, 4, 0, 1], E::Reserved),
            (&[0, 0, 1, 1, 1, 2, 3, 4, 0, 1], E::Fragment(1)),
            (&[0, 0, 0x81, 1, 1, 2, 3, 4, 0, 1], E::Fragment(0x81)),
            (&[0, 0, 0, 2, 1, 2, 3, 4, 0, 1], E::AddressType(2)),
            (&[0, 0, 0, 0, 1, 2, 3, 4, 0, 1], E::AddressType(0)),
            // IPv4 without its port, or cut inside the address.
            (&[0, 0, 0, 1, 1, 2, 3, 4, 0], E::Short(9)),
            (&[0, 0, 0, 1, 1, 2], E::Short(6)),
            // IPv6 cut short.
            (&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], E::Short(14)),
            // A name longer than what follows, no room for the port, none for the length.
            (&[0, 0, 0, 3, 9, b'a', b'b', 0, 1], E::Short(9)),
            (&[0, 0, 0, 3, 2, b'a', b'b', 0], E::Short(8)),
            (&[0, 0, 0, 3], E::Short(4)),
            (&[0, 0, 0, 3, 2, 0xff, 0xfe, 0, 1], E::Domain),
        ];
        for (d, want) in cases {
            assert_eq!(unwrap(d).unwrap_err(), *want, "{d:?}");
        }
    }
}
