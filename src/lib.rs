//! ttui: a BitTorrent client for the terminal.
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
