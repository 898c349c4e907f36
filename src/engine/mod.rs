//! The engine: a session (listeners, peer id, disk pool, the router of incoming connections)
//! and its torrents (peer tasks, piece picker, disk stage, trackers). Its only face to the UI
//! is `api`: commands in, snapshots out.
pub(crate) mod accept_budget;
pub(crate) mod alloc;
pub mod api;
pub(crate) mod backlog;
pub(crate) mod choker;
pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod coordinator;
pub(crate) mod create;
pub(crate) mod dial;
pub(crate) mod disk;
pub(crate) mod download;
pub(crate) mod fds;
pub(crate) mod inorder;
pub(crate) mod magnet;
pub(crate) mod metadata;
pub(crate) mod metadata_wait;
pub(crate) mod options;
pub(crate) mod peer;
pub(crate) mod peer_entry;
pub(crate) mod peers;
pub(crate) mod pex;
pub(crate) mod picker;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub(crate) mod priorities;
pub(crate) mod rate;
pub(crate) mod report;
pub(crate) mod session;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod stream;
#[cfg(test)]
pub(crate) mod testkit;
pub(crate) mod torrent;
pub(crate) mod udp;
pub(crate) mod upload;
pub(crate) mod verify;
pub(crate) mod webseed;

pub use crate::protocol::extension::ExtHandshake;
pub(crate) use peer::panic_is_caught;
pub(crate) use torrent::{start, start_magnet, Engine, Options, TorrentEnd};
