//! ttui: a BitTorrent client for the terminal.
//!
//! The binary's whole entry is [`run`]; the modules are private. Integration tests, benchmarks
//! and fuzz targets reach what they need through [`internals`] (see why there).
// Unit tests may unwrap; the library itself may not (`[lints]` in Cargo.toml).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
mod alloc;
mod cli;
mod config;
mod control;
mod create;
mod demo;
mod dht;
mod engine;
mod fmt;
mod http;
mod net;
mod protocol;
mod qbt;
mod rpc;
mod stream;
mod tracker;
mod ui;

#[doc(hidden)]
pub mod internals;

pub use cli::entry::run;
