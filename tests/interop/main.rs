//! Downloading and seeding with real third-party clients: v1, v2 and hybrid torrents, magnets,
//! private torrents, super-seeding, wire extensions, file priorities, completion, creating torrents
//! and loading every input.
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
#[path = "../support/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../support/payload.rs"]
#[allow(dead_code)]
mod payload;
#[path = "../support/prereq.rs"]
mod prereq;
#[path = "../support/priorities.rs"]
#[allow(dead_code)]
mod prio;

mod complete;
mod corpus;
mod create;
mod hybrid;
mod interop; // slow
mod loading;
mod magnet;
mod metainfo;
mod priorities;
mod priorities_magnet; // slow
mod private;
mod seeding; // slow
mod superseed;
mod v2; // slow
mod v2_blame; // slow
mod v2_serve;
mod wire_ext;
