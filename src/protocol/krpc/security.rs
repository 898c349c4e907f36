//! BEP 42, the DHT security extension: a node id is tied to the node's external address.
//! Its first 21 bits are CRC-32C of the address (masked; with 3 random bits `r` mixed in),
//! its last byte is `r`, so anyone can check that a node's id fits the address its
//! datagrams come from, and no one can choose ids near a target without as many addresses.
//!
//! Local addresses are exempt (libtorrent's `is_local`): 10/8, 172.16/12, 192.168/16,
//! 169.254/16, 127/8, and on IPv6 loopback, link-local and unique-local (fc00::/7). The
//! documentation ranges are not. The rules and vectors are BEP 42's, as libtorrent computes
//! them (`generate_id_impl`, `verify_id` in its node_id.cpp).

use std::net::IpAddr;

use super::NodeId;
use crate::protocol::peer_priority::crc32c;

const V4_MASK: [u8; 4] = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK: [u8; 8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/// The CRC-32C that the first 21 bits of an id at `ip` with random byte `r` must match.
fn prefix_crc(ip: IpAddr, r: u8) -> u32 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip(V4_MASK) {
                *x &= m;
            }
            b[0] |= (r & 7) << 5;
            crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let mut b = [0u8; 8];
            for ((x, o), m) in b.iter_mut().zip(v6.octets()).zip(V6_MASK) {
                *x = o & m;
            }
            b[0] |= (r & 7) << 5;
            crc32c(&b)
        }
    }
}

/// A BEP 42 id for a node at `ip`, from the 20 random bytes `random` (its last byte is `r`,
/// the low 3 bits of its third byte kept too, as libtorrent does).
pub fn id_for(ip: IpAddr, random: [u8; 20]) -> NodeId {
    let mut id = random;
    let c = prefix_crc(ip, id[19]);
    id[0] = (c >> 24) as u8;
    id[1] = (c >> 16) as u8;
    id[2] = ((c >> 8) as u8 & 0xf8) | (id[2] & 7);
    NodeId(id)
}

/// Whether `id` fits a node at `ip`: its first 21 bits match the address's CRC-32C with `r`
/// its last byte. A local address fits any id.
pub fn id_fits(id: &NodeId, ip: IpAddr) -> bool {
    if is_local(ip) {
        return true;
    }
    let want = id_for(ip, id.0);
    id.0[..2] == want.0[..2] && id.0[2] & 0xf8 == want.0[2] & 0xf8
}

/// The addresses BEP 42 leaves unchecked (see the module header).
pub fn is_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 10
                || o[0] == 127
                || (o[0] == 172 && o[1] & 0xf0 == 16)
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 169 && o[1] == 254)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unicast_link_local() || v6.octets()[0] & 0xfe == 0xfc
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex20(s: &str) -> [u8; 20] {
        crate::protocol::hex::decode_array(s).expect("a test vector")
    }

    /// BEP 42's table: IP, rand, an example id (libtorrent's test_dht.cpp checks the same).
    const VECTORS: [(&str, u8, &str); 5] = [
        (
            "124.31.75.21",
            1,
            "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401",
        ),
        (
            "21.75.31.124",
            86,
            "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256",
        ),
        (
            "65.23.51.170",
            22,
            "a5d43220bc8f112a3d426c84764f8c2a1150e616",
        ),
        (
            "84.124.73.14",
            65,
            "1b0321dd1bb1fe518101ceef99462b947a01ff41",
        ),
        (
            "43.213.53.83",
            90,
            "e56f6cbf5b7c4be0237986d5243b87aa6d51305a",
        ),
    ];

    #[test]
    fn bep42_vectors_fit_and_are_generated() {
        for (ip, r, example) in VECTORS {
            let ip: IpAddr = ip.parse().unwrap();
            let example = NodeId(hex20(example));
            assert_eq!(example.0[19], r);
            assert!(id_fits(&example, ip), "{ip}");
            // Generated from other random bytes with the same `r`: the same 21 bits.
            let mut random = [0x5a; 20];
            random[19] = r;
            let id = id_for(ip, random);
            assert_eq!(id.0[..2], example.0[..2], "{ip}");
            assert_eq!(id.0[2] & 0xf8, example.0[2] & 0xf8, "{ip}");
            assert_eq!(id.0[19], r);
            assert_eq!(id.0[3..19], random[3..19]);
            // The same id does not fit another (public) address.
            assert!(!id_fits(&example, "8.8.8.8".parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ids_fit_their_own_address_on_both_families() {
        for ip in ["198.51.100.7", "2001:db8::1", "203.0.113.9"] {
            let ip: IpAddr = ip.parse().unwrap();
            for seed in 0..32u8 {
                let id = id_for(ip, [seed.wrapping_mul(37); 20]);
                assert!(id_fits(&id, ip), "{ip} {seed}");
            }
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let id = id_for(v6, [7; 20]);
        assert!(!id_fits(&id, "2001:db9::1".parse().unwrap()));
    }

    #[test]
    fn local_addresses_are_exempt_and_documentation_ranges_are_not() {
        let any = NodeId([0xab; 20]);
        for ip in [
            "10.1.2.3",
            "127.0.0.9",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "169.254.3.4",
            "::1",
            "fe80::1",
            "fd00::5",
            "::ffff:127.0.0.1",
        ] {
            assert!(id_fits(&any, ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "172.32.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_local(ip), "{ip}");
            assert!(!id_fits(&any, ip), "{ip}");
        }
    }
}
