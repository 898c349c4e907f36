//! The DHT node (BEP 5, over IPv4 and IPv6 as BEP 32 has it): routing tables, iterative lookups, the peer store, persistence.
//!
//! Own code rather than a crate. `mainline` runs its actor on a thread of its own around a
//! `std::net::UdpSocket` it binds itself, and `librqbit-dht` binds its own tokio socket from
//! `DhtConfig::listen_addr`; either way the DHT would own a socket. ttui carries the DHT and
//! uTP on one UDP socket on the listen port (told apart by the first byte: KRPC is a bencoded
//! dictionary, `d`), so the node here owns no socket at all: the session feeds it datagrams
//! (`Dht::incoming`) and it sends through a `Transmit` the session provides. Owning the code
//! also means every cap is ours (datagram size, list lengths, pending queries, stored peers,
//! per-address budgets), the bencode goes through our depth-bounded decoder, and nothing is
//! sent that we did not decide to send (a private torrent never reaches the node).
//!
//! Layers: `protocol::krpc` (pure codec) → `routing`, `lookup`, `store`, `budget` (pure
//! state) → `node` (the sans-I/O state machine) → `service` (the tokio task and its handle).

pub(crate) mod budget;
pub(crate) mod family;
pub(crate) mod lookup;
pub(crate) mod node;
pub mod persist;
pub(crate) mod routing;
pub(crate) mod service;
pub(crate) mod store;

pub(crate) use service::{is_krpc, Dht, DhtConfig, Sockets};

/// Well-known public routers, for the CLI when no `--dht-bootstrap` is given. Tests, the demo
/// and benchmarks pass their own loopback nodes and never use these.
pub(crate) const PUBLIC_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];
