//! ttui: a BitTorrent client for the terminal.
pub mod cli;
pub mod demo;
pub mod engine;
pub mod net;
pub mod protocol;
pub mod tracker;
pub mod ui;
