//! Transports below the BitTorrent handshake.
pub mod utp;
