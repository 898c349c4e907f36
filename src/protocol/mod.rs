//! Pure protocol code: no tokio runtime, no sockets, no files.
pub mod bencode;
pub mod bitfield;
pub mod handshake;
pub mod magnet;
pub mod message;
pub mod metainfo;
pub mod mse;
pub mod peer_id;
