//! STUN Binding (RFC 8489) as a client needs it to learn its public address: the request
//! (a 20-byte header, no attribute) and the server's success answer, whose XOR-MAPPED-ADDRESS
//! (or, from an RFC 3489 server, MAPPED-ADDRESS) is the address it saw.
//!
//! Ours rather than str0m's: str0m's STUN parser is ICE's and takes no Binding answer without
//! MESSAGE-INTEGRITY, which a STUN server's answer to an unauthenticated request never has.
//! Pure: bytes in, an address or why not out. Every length is checked before it is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// RFC 8489's magic cookie, in every message since RFC 5389.
pub const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ERROR_CODE: u16 = 0x0009;

/// Why a datagram is not the answer we wait for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("the answer to another transaction")]
    OtherTransaction,
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("a Binding answer without an address")]
    NoAddress,
    #[error("not a Binding answer")]
    NotBinding,
}

/// A Binding request for transaction `txn`.
pub fn binding_request(txn: &[u8; 12]) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC);
    m[8..].copy_from_slice(txn);
    m
}

/// The address a success answer to `txn` names.
pub fn binding_answer(datagram: &[u8], txn: &[u8; 12]) -> Result<SocketAddr, StunError> {
    let (head, body) = datagram.split_at_checked(20).ok_or(StunError::NotStun)?;
    let kind = u16::from_be_bytes([head[0], head[1]]);
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if head[4..8] != MAGIC || len != body.len() || len % 4 != 0 || kind & 0xc000 != 0 {
        return Err(StunError::NotStun);
    }
    if head[8..20] != txn[..] {
        return Err(StunError::OtherTransaction);
    }
    let mut mapped = None;
    let mut refused = None;
    let mut rest = body;
    while let Some((tlv, after)) = rest.split_at_checked(4) {
        let attr = u16::from_be_bytes([tlv[0], tlv[1]]);
        let n = usize::from(u16::from_be_bytes([tlv[2], tlv[3]]));
        let value = after.get(..n).ok_or(StunError::NotStun)?;
        match attr {
            XOR_MAPPED_ADDRESS => mapped = address(value, Some(txn)).or(mapped),
            MAPPED_ADDRESS if mapped.is_none() => mapped = address(value, None),
            ERROR_CODE if value.len() >= 4 => {
                let code = u16::from(value[2] & 0x07) * 100 + u16::from(value[3]);
                let reason = String::from_utf8_lossy(&value[4..]);
                refused = Some(format!("{code} {}", reason.trim()));
            }
            _ => {}
        }
        // Values are padded to four bytes.
        rest = after.get(n.next_multiple_of(4)..).unwrap_or_default();
    }
    match kind {
        BINDING_SUCCESS => mapped.ok_or(StunError::NoAddress),
        BINDING_ERROR => Err(StunError::Refused(
            refused.unwrap_or_else(|| "no reason".into()),
        )),
        _ => Err(StunError::NotBinding),
    }
}

/// A (XOR-)MAPPED-ADDRESS value: family, port, address; XORed with the cookie (and the
/// transaction, for IPv6) when `xor` holds the transaction.
fn address(v: &[u8], xor: Option<&[u8; 12]>) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC);
    if let Some(txn) = xor {
        key[4..].copy_from_slice(txn);
        port ^= u16::from_be_bytes([MAGIC[0], MAGIC[1]]);
    }
    // The address's bytes, XORed with as much of the key as they are long.
    let bytes = |n: usize| -> Option<Vec<u8>> {
        let raw = v.get(4..4 + n)?;
        let on = xor.is_some();
        Some(
            raw.iter()
                .zip(key)
                .map(|(b, k)| if on { b ^ k } else { *b })
                .collect(),
        )
    };
    let ip = match family {
        0x01 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes(4)?).ok()?)),
        0x02 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes(16)?).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769's sample IPv4 response (2.2), its attributes cut to XOR-MAPPED-ADDRESS.
    #[test]
    fn reads_the_rfc_5769_sample_address() {
        let txn = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let mut m = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&txn);
        m.extend_from_slice(&[
            0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        ]);
        let got = binding_answer(&m, &txn).unwrap();
        assert_eq!(got, "192.0.2.1:32853".parse().unwrap());
        let other = [0u8; 12];
        assert_eq!(binding_answer(&m, &other), Err(StunError::OtherTransaction));
    }

    /// RFC 5769's sample IPv6 response (2.3), cut likewise.
    #[test]
    fn reads_the_rfc_5769_sample_ipv6_address() {
        let txn = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let mut m = vec![0x01, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&txn);
        m.extend_from_slice(&[
            0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
            0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        ]);
        let got = binding_answer(&m, &txn).unwrap();
        assert_eq!(
            got,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        );
    }

    #[test]
    fn a_request_is_a_bare_binding_and_refusals_say_why() {
        let txn = [7u8; 12];
        let r = binding_request(&txn);
        assert_eq!(&r[..4], &[0, 1, 0, 0]);
        assert_eq!(&r[4..8], &MAGIC);
        let mut e = vec![0x01, 0x11, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42];
        e.extend_from_slice(&txn);
        e.extend_from_slice(&[0x00, 0x09, 0x00, 0x0b, 0, 0, 4, 20]);
        e.extend_from_slice(b"bad\0\0\0\0\0");
        e.truncate(20 + 4 + 11);
        e[3] = 15;
        // A length not a multiple of four: not STUN.
        assert_eq!(binding_answer(&e, &txn), Err(StunError::NotStun));
        let mut e = vec![0x01, 0x11, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42];
        e.extend_from_slice(&txn);
        e.extend_from_slice(&[0x00, 0x09, 0x00, 0x0c, 0, 0, 4, 20]);
        e.extend_from_slice(b"Go away!");
        assert_eq!(
            binding_answer(&e, &txn),
            Err(StunError::Refused("420 Go away!".into()))
        );
    }

    #[test]
    fn every_cut_and_flip_of_an_answer_is_an_error_or_an_address_never_a_panic() {
        let txn = [3u8; 12];
        let mut m = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&txn);
        m.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 1, 2, 3, 4, 5, 6]);
        for n in 0..m.len() {
            let _ = binding_answer(&m[..n], &txn);
        }
        for i in 0..m.len() {
            let mut f = m.clone();
            f[i] ^= 0xff;
            let _ = binding_answer(&f, &txn);
        }
    }
}
