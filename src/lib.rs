//! ttui: a BitTorrent client for the terminal.
// Unit tests may unwrap; the library itself may not (`[lints]` in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
pub mod cli;
pub mod config;
pub mod control;
pub mod demo;
pub mod dht;
pub mod engine;
pub mod fmt;
pub mod net;
pub mod protocol;
pub mod tracker;
pub mod ui;
