//! Reaching peers: trackers, the DHT (v4 and v6), PEX, LSD, uTP, encryption, hole punching and
//! relays, proxies, port mapping, interfaces, web seeds, rate limits, blocklists.
//!
//! One test binary per area (tests/README.md): a module per feature, run by tests/run.sh as
//! units side by side, a module each, in fresh network namespaces whose only interface is
//! `lo`. The swarm kit and other shared support live in tests/support/.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "../support/common/mod.rs"]
mod common;
#[path = "../support/dante.rs"]
#[allow(dead_code)]
mod dante;
#[path = "../support/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../support/lt.rs"]
#[allow(dead_code)]
mod lt;
#[path = "../support/netlab.rs"]
mod netlab;
#[path = "../support/payload.rs"]
#[allow(dead_code)]
mod payload;
#[path = "../support/pmp.rs"]
#[allow(dead_code)]
mod pmp;
#[path = "../support/prereq.rs"]
mod prereq;
#[path = "../support/webseed_srv.rs"]
mod webseed_srv;

mod blocklist;
mod dht;
mod dht6;
mod dht_swarm; // slow
mod encryption; // slow
mod holepunch; // slow
mod interface;
mod ipv6;
mod lsd;
mod pex; // slow
mod port_mapping;
mod port_mapping_route;
mod proxy;
mod proxy_udp;
mod ratelimit; // slow
mod reach; // slow
mod tracker;
mod utp;
mod webrtc;
mod webseed;
mod webtorrent;
mod ws_tracker;
