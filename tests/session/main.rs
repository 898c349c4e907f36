//! The session: adds, restarts, crashes and power cuts, resume data, the queue and checks,
//! dormancy, the store, the fd budget, disk errors and faults (FUSE), config and inputs; and
//! the swarm kit's own unit tests.
//!
//! One test binary per area (tests/README.md): a module per feature, run by tests/run.sh as
//! units side by side, a module each, in fresh network namespaces whose only interface is
//! `lo`. The swarm kit and other shared support live in tests/support/.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "../support/common/mod.rs"]
mod common;
#[path = "../support/fuse_mount.rs"]
mod fuse_mount;
#[path = "../support/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../support/lt.rs"]
#[allow(dead_code)]
mod lt;
#[path = "../support/payload.rs"]
#[allow(dead_code)]
mod payload;
#[path = "../support/prereq.rs"]
mod prereq;
#[path = "../support/priorities.rs"]
#[allow(dead_code)]
mod prio;
#[path = "../support/recording_tracker.rs"]
#[allow(dead_code)]
mod recording_tracker;

mod accounting;
mod check_cores; // alone: measures CPU over wall
mod check_queue;
mod clock;
mod common_selftest;
mod config;
mod crash;
mod crash_session; // slow
mod cross_seed;
mod disk_errors;
mod disk_faults;
mod dormancy;
mod fd_budget;
mod inputs;
mod magnet_session;
mod queue;
mod restart_many;
mod resume;
mod seed_library; // slow
mod session;
mod session_race;
mod session_swarm; // slow
mod soak_short; // slow
mod store;
