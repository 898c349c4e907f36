//! The engine: a session (listeners, peer id, disk pool, the router of incoming connections)
//! and its torrents (peer tasks, piece picker, disk stage, trackers). Its only face to the UI
//! is `api`: commands in, snapshots out.
pub(crate) mod accept_budget;
pub mod api;
pub(crate) mod choker;
pub(crate) mod conn;
pub mod connect;
pub(crate) mod coordinator;
pub mod create;
pub(crate) mod dial;
pub mod disk;
pub(crate) mod download;
pub mod fds;
pub(crate) mod inorder;
pub(crate) mod magnet;
pub mod metadata;
pub(crate) mod metadata_wait;
pub mod options;
pub(crate) mod peer;
pub(crate) mod peer_entry;
pub(crate) mod peers;
pub(crate) mod pex;
pub mod picker;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub mod priorities;
pub mod rate;
pub(crate) mod report;
pub mod session;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub mod stats;
pub mod store;
pub mod stream;
#[cfg(test)]
pub(crate) mod testkit;
pub mod torrent;
pub(crate) mod udp;
pub(crate) mod upload;
pub(crate) mod verify;
pub(crate) mod webseed;

pub use crate::protocol::extension::ExtHandshake;
pub use connect::{connect_and_handshake, read_ext_client, read_handshake};
pub use peer::panic_is_caught;
pub use torrent::{start, start_magnet, Engine, Options, TorrentEnd};
