//! The two address families of the DHT (BEP 32). The node keeps one routing table and one
//! peer store per family and never mixes them: an IPv4 node is only ever found in the IPv4
//! table, learned from `nodes`, and an IPv6 node only in the IPv6 table, learned from
//! `nodes6`. Which families the node uses at all is fixed at start (`Families`): without an
//! IPv6 socket, or without a route for it, nothing is ever sent over IPv6.

use std::net::{IpAddr, SocketAddr};

use crate::protocol::krpc::Want;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub(crate) fn of(addr: &SocketAddr) -> Family {
        match addr {
            SocketAddr::V4(_) => Family::V4,
            SocketAddr::V6(_) => Family::V6,
        }
    }

    /// Header bytes a datagram of this family carries beyond what `budget::HEADER_BYTES`
    /// counts (an IPv4 and a UDP header): the byte budgets charge what goes on the wire.
    pub(crate) fn extra_header(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 40 - 20,
        }
    }

    /// Index into the node's per-family arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
}

/// Whether a node learned from a reply is worth a query: a real port, and an address that
/// can be a node's (not unspecified, broadcast or multicast; on IPv6 not an IPv4-mapped one,
/// which an IPv6-only socket cannot reach, nor a link-local one, which means nothing without
/// the sender's interface).
pub(crate) fn usable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast(),
        IpAddr::V6(ip) => {
            !ip.is_unspecified()
                && !ip.is_multicast()
                && !ip.is_unicast_link_local()
                && ip.to_ipv4_mapped().is_none()
        }
    }
}

/// The families the node may use: those it has a socket (and a route) for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Families {
    pub v4: bool,
    pub v6: bool,
}

impl Families {
    pub const V4_ONLY: Families = Families {
        v4: true,
        v6: false,
    };
    pub const BOTH: Families = Families { v4: true, v6: true };

    pub(crate) fn only(f: Family) -> Families {
        Families {
            v4: f == Family::V4,
            v6: f == Family::V6,
        }
    }

    pub(crate) fn has(&self, f: Family) -> bool {
        match f {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.has(*f))
    }

    /// The `want` our lookups send: both families when we use both (so a reply from either
    /// family feeds the other's lookup, and IPv6 joins through IPv4 routers), none otherwise
    /// (a single-family node sends plain BEP 5 queries).
    pub(crate) fn want(&self) -> Want {
        if self.v4 && self.v6 {
            Want::BOTH
        } else {
            Want::NONE
        }
    }
}

impl Default for Families {
    fn default() -> Self {
        Families::V4_ONLY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_a_node_can_have_are_usable() {
        for ok in [
            "127.0.0.2:1",
            "[::1]:1",
            "[2001:db8::1]:6881",
            "10.0.0.1:6881",
        ] {
            assert!(usable(&ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "127.0.0.2:0",
            "0.0.0.0:1",
            "255.255.255.255:1",
            "224.0.0.1:1",
            "[::]:1",
            "[ff02::1]:1",
            "[fe80::1]:1",
            "[::ffff:1.2.3.4]:1",
        ] {
            assert!(!usable(&bad.parse().unwrap()), "{bad}");
        }
    }
}
