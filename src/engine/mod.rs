//! The engine owns one torrent: peer tasks, piece picker, disk, trackers. Its only face to the
//! UI is `api`: commands in, snapshots out.
pub mod api;
pub mod create;
pub mod disk;
pub mod metadata;
pub(crate) mod peer;
pub mod picker;
pub(crate) mod shared;
pub mod stats;
pub mod torrent;

pub use peer::{connect_and_handshake, read_handshake, ExtHandshake};
pub use torrent::{start, Engine, Options, Outcome};
