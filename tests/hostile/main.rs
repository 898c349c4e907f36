//! Hostile peers, floods and bounds: bad blocks, MSE, the DHT, accept floods, uTP.
//!
//! One test binary per area (tests/README.md): a module per feature, run by tests/run.sh as
//! units side by side, a module each, in fresh network namespaces whose only interface is
//! `lo`. The swarm kit and other shared support live in tests/support/.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "../support/common/mod.rs"]
mod common;
#[path = "../support/fakepeer.rs"]
mod fakepeer;
#[path = "../support/prereq.rs"]
mod prereq;

mod accept_flood;
mod dht_flood;
mod hostile;
mod hostile_engine; // slow
mod mse_bounds;
mod mse_hostile;
mod utp_engine; // slow
