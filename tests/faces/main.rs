//! The faces: the control socket and verbs, the Transmission RPC, qBittorrent's API and its real
//! clients, streams, attach, the TUI (tmux and snapshots), the demo and the explainer.
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
#[path = "../support/fuse_mount.rs"]
mod fuse_mount;
#[path = "../support/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../support/payload.rs"]
#[allow(dead_code)]
mod payload;
#[path = "../support/pmp.rs"]
#[allow(dead_code)]
mod pmp;
#[path = "../support/prereq.rs"]
mod prereq;
#[path = "../support/tmux.rs"]
mod tmux;
#[path = "../support/qbt_kit.rs"]
#[allow(dead_code)]
mod tools;

mod agree;
mod attach;
mod control;
mod demo;
mod demo_leftovers;
mod doors;
mod explain;
mod moves;
mod phases;
mod qbt;
mod qbt_tools;
mod rpc;
mod stalled_disk;
mod stream;
mod tui_e2e;
mod tui_flow; // slow
mod tui_keys;
mod ui_snapshots;
