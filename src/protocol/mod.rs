//! Pure protocol code: no tokio runtime, no sockets, no files.
pub mod bencode;
pub mod bitfield;
pub mod blocklist;
pub mod extension;
pub(crate) mod geometry;
pub mod handshake;
pub mod krpc;
pub mod magnet;
pub mod message;
pub mod metainfo;
pub mod mse_codec;
pub mod natpmp;
pub mod pcp;
pub mod peer_id;
pub mod rc4;
pub mod text;
pub mod utp_packet;
