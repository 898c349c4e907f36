//! The v1 info hash (SHA-1 of the info dictionary), and the v2 one cut to its size: what a
//! handshake, a tracker and the DHT name a torrent by. A leaf, so that magnet links and
//! metainfo can both name it without importing each other.

/// 20 bytes: a v1 info hash, or a v2 one truncated (BEP 52).
pub type InfoHash = [u8; 20];
