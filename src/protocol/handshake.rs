//! The 68-byte BitTorrent handshake (BEP 3) and the reserved bits we use (BEP 5, BEP 6, BEP 10,
//! BEP 52).

pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
pub const LEN: usize = 68;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The first byte or the protocol string is not BitTorrent's.
    #[error("not a BitTorrent peer")]
    NotBitTorrent,
}

impl Handshake {
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20]) -> Self {
        let mut reserved = [0u8; 8];
        reserved[5] |= 0x10; // BEP 10 extension protocol
        reserved[7] |= 0x04; // BEP 6 fast extension
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// Sets the BEP 5 DHT bit (we run a DHT node and send `port`), when `on`.
    pub fn with_dht(mut self, on: bool) -> Self {
        if on {
            self.reserved[7] |= 0x01;
        }
        self
    }

    /// Sets the BEP 52 bit (reserved byte 7, 0x10): we know the torrent's v2 form (a v2-only
    /// or hybrid torrent), so the peer may ask us for hashes and may upgrade to the v2 hash.
    pub fn with_v2(mut self, on: bool) -> Self {
        if on {
            self.reserved[7] |= 0x10;
        }
        self
    }

    /// Whether the peer set the BEP 52 bit: it speaks the hash messages.
    pub fn supports_v2(&self) -> bool {
        self.reserved[7] & 0x10 != 0
    }

    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    pub fn supports_extensions(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }

    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Checks the 20-byte prefix as soon as it has arrived, so garbage is rejected without
    /// waiting for 68 bytes that may never come.
    pub fn check_prefix(buf: &[u8]) -> Result<(), HandshakeError> {
        let n = buf.len().min(20);
        let mut expected = [0u8; 20];
        expected[0] = 19;
        expected[1..].copy_from_slice(PROTOCOL);
        if buf[..n] != expected[..n] {
            return Err(HandshakeError::NotBitTorrent);
        }
        Ok(())
    }

    pub fn decode(buf: &[u8; LEN]) -> Result<Self, HandshakeError> {
        Self::check_prefix(buf)?;
        let mut h = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        h.reserved.copy_from_slice(&buf[20..28]);
        h.info_hash.copy_from_slice(&buf[28..48]);
        h.peer_id.copy_from_slice(&buf[48..68]);
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Handshake::new([1; 20], *b"-TT0100-abcdefghijkl");
        let d = Handshake::decode(&h.encode()).unwrap();
        assert_eq!(h, d);
        assert!(d.supports_extensions() && d.supports_fast());
        assert!(!d.supports_dht(), "the DHT bit only when the DHT runs");
    }

    #[test]
    fn the_dht_bit_is_reserved_byte_7_bit_0() {
        let h = Handshake::new([1; 20], [2; 20]).with_dht(true);
        let raw = h.encode();
        assert_eq!(raw[20 + 7], 0x04 | 0x01);
        assert!(Handshake::decode(&raw).unwrap().supports_dht());
        assert!(!Handshake::new([1; 20], [2; 20])
            .with_dht(false)
            .supports_dht());
    }

    #[test]
    fn rejects_garbage_early() {
        assert_eq!(
            Handshake::check_prefix(b"GET / HTTP/1.1"),
            Err(HandshakeError::NotBitTorrent)
        );
        assert_eq!(
            Handshake::check_prefix(&[19, b'B', b'i', b'x']),
            Err(HandshakeError::NotBitTorrent)
        );
        assert!(Handshake::check_prefix(&[19, b'B', b'i']).is_ok());
        let mut raw = Handshake::new([1; 20], [2; 20]).encode();
        raw[5] = b'X';
        assert_eq!(Handshake::decode(&raw), Err(HandshakeError::NotBitTorrent));
    }
}
