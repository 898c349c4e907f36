//! BEP 40 canonical peer priority: a number both ends of a connection compute alike from the
//! two addresses, so that every client keeping its highest-priority peers when it has more
//! than it may connect to makes the swarm one well-mixed graph rather than clusters of
//! neighbours. It is CRC-32C (Castagnoli) of the two addresses, sorted and masked:
//!
//! - the same IP: the two ports, sorted, each big-endian;
//! - IPv4: the two addresses masked by `FF.FF.55.55` when in different /16s, `FF.FF.FF.55`
//!   when in the same /16, unmasked in the same /24;
//! - IPv6: the bytes up to and including the first that differs (at least the first six) are
//!   kept, the rest masked by `55`.
//!
//! The rules and test vectors are libtorrent's (`peer_priority` in its torrent_peer.cpp),
//! which is what the BEP describes. CRC-32C comes from the `crc` crate: well kept, pure Rust
//! without `unsafe`, and it names the Castagnoli polynomial (`CRC_32_ISCSI`) so there is no
//! table of ours to get wrong; BEP 42's node ids (`dht`) use the same checksum.

use std::net::{IpAddr, SocketAddr};

const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// CRC-32C of `bytes`.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    CASTAGNOLI.checksum(bytes)
}

/// The BEP 40 priority of a connection between `a` and `b` (order does not matter); `None`
/// when one is IPv4 and the other IPv6 (an IPv4-mapped IPv6 address counts as IPv4).
pub(crate) fn peer_priority(a: SocketAddr, b: SocketAddr) -> Option<u32> {
    let (ip_a, ip_b) = (a.ip().to_canonical(), b.ip().to_canonical());
    if ip_a == ip_b {
        let (lo, hi) = if a.port() <= b.port() {
            (a.port(), b.port())
        } else {
            (b.port(), a.port())
        };
        let mut buf = [0u8; 4];
        buf[..2].copy_from_slice(&lo.to_be_bytes());
        buf[2..].copy_from_slice(&hi.to_be_bytes());
        return Some(crc32c(&buf));
    }
    match (ip_a, ip_b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            let (mut lo, mut hi) = sorted(x.octets(), y.octets());
            let mask: [u8; 4] = if lo[..2] != hi[..2] {
                [0xff, 0xff, 0x55, 0x55]
            } else if lo[..3] != hi[..3] {
                [0xff, 0xff, 0xff, 0x55]
            } else {
                [0xff; 4]
            };
            for (b, m) in lo.iter_mut().chain(hi.iter_mut()).zip(mask.iter().cycle()) {
                *b &= m;
            }
            let mut buf = [0u8; 8];
            buf[..4].copy_from_slice(&lo);
            buf[4..].copy_from_slice(&hi);
            Some(crc32c(&buf))
        }
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let (mut lo, mut hi) = sorted(x.octets(), y.octets());
            // As libtorrent: the first differing byte `i` keeps bytes up to index
            // max(i + 1, 5); every later one is masked.
            let keep = lo
                .iter()
                .zip(&hi)
                .position(|(p, q)| p != q)
                .map_or(16, |i| (i + 1).max(5));
            for b in lo
                .iter_mut()
                .skip(keep + 1)
                .chain(hi.iter_mut().skip(keep + 1))
            {
                *b &= 0x55;
            }
            let mut buf = [0u8; 32];
            buf[..16].copy_from_slice(&lo);
            buf[16..].copy_from_slice(&hi);
            Some(crc32c(&buf))
        }
        _ => None,
    }
}

fn sorted<const N: usize>(a: [u8; N], b: [u8; N]) -> ([u8; N], [u8; N]) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str, port: u16) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), port)
    }

    fn hash_hex(hex: &str) -> u32 {
        crc32c(&crate::protocol::hex::decode(hex).expect("a test vector"))
    }

    fn prio(a: SocketAddr, b: SocketAddr) -> u32 {
        let p = peer_priority(a, b).unwrap();
        assert_eq!(peer_priority(b, a), Some(p), "order must not matter");
        p
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    /// libtorrent's test/test_peer_priority.cpp, IPv4 part, with BEP 40's own two vectors.
    #[test]
    fn libtorrent_vectors_v4() {
        assert_eq!(
            prio(ep("230.12.123.3", 0x4d2), ep("230.12.123.3", 0x12c)),
            hash_hex("012c04d2")
        );
        assert_eq!(
            prio(ep("230.12.123.1", 0x4d2), ep("230.12.123.3", 0x12c)),
            hash_hex("e60c7b01e60c7b03")
        );
        assert_eq!(
            prio(ep("230.12.23.1", 0x4d2), ep("230.12.123.3", 0x12c)),
            hash_hex("e60c1701e60c7b01")
        );
        assert_eq!(
            prio(ep("230.120.23.1", 0x4d2), ep("230.12.123.3", 0x12c)),
            hash_hex("e60c5101e6781501")
        );
        assert_eq!(
            prio(ep("123.213.32.10", 0), ep("98.76.54.32", 0)),
            0xec2d_7224
        );
        assert_eq!(
            prio(ep("123.213.32.10", 0), ep("123.213.32.234", 0)),
            0x9956_8189
        );
    }

    /// libtorrent's test/test_peer_priority.cpp, IPv6 part.
    #[test]
    fn libtorrent_vectors_v6() {
        let all = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        assert_eq!(prio(ep(all, 0x4d2), ep(all, 0x12c)), hash_hex("012c04d2"));
        let cases = [
            (
                "ffff:0fff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff0fffffff55555555555555555555ffffffffffff55555555555555555555",
            ),
            (
                "ffff:ffff:0fff:ffff:ffff:ffff:ffff:ffff",
                "ffffffff0fff55555555555555555555ffffffffffff55555555555555555555",
            ),
            (
                "ffff:ffff:ff0f:ffff:ffff:ffff:ffff:ffff",
                "ffffffffff0fff555555555555555555ffffffffffffff555555555555555555",
            ),
            (
                "ffff:ffff:ffff:0fff:ffff:ffff:ffff:ffff",
                "ffffffffffff0fff5555555555555555ffffffffffffffff5555555555555555",
            ),
        ];
        for (other, hashed) in cases {
            assert_eq!(
                prio(ep(all, 0x4d2), ep(other, 0x12c)),
                hash_hex(hashed),
                "{other}"
            );
        }
    }

    #[test]
    fn mixed_families_have_none_and_mapped_v4_is_v4() {
        assert_eq!(peer_priority(ep("1.2.3.4", 1), ep("::1", 1)), None);
        assert_eq!(
            peer_priority(ep("::ffff:123.213.32.10", 0), ep("98.76.54.32", 0)),
            Some(0xec2d_7224)
        );
    }
}
