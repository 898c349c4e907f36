//! The engine: a session (listeners, peer id, disk pool, the router of incoming connections)
//! and its torrents (peer tasks, piece picker, disk stage, trackers). Its only face to the UI
//! is `api`: commands in, snapshots out.
pub mod api;
pub(crate) mod disk;
pub(crate) mod host;
pub(crate) mod ledger;
pub(crate) mod peer;
pub(crate) mod session;
#[cfg(test)]
pub(crate) mod testkit;
pub(crate) mod torrent;

pub use crate::protocol::extension::ExtHandshake;
pub(crate) use session::single::{start, start_magnet};
pub(crate) use torrent::{Engine, Options, TorrentEnd};
