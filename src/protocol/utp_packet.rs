//! uTP packet codec (BEP 29): the 20-byte header, the extension chain and the selective-ACK
//! bitmask. Pure: the connection state machine lives in `net::utp`.
//!
//! Every length comes from outside, so decoding checks each one against the datagram before
//! touching bytes, and rejects anything BEP 29 does not allow (unknown type, version other than
//! 1, an empty selective-ACK mask, a chain that runs past
//! the end or is absurdly long).

pub const HEADER_LEN: usize = 20;
pub const VERSION: u8 = 1;
/// The selective-ACK extension's type in the chain.
pub const EXT_SACK: u8 = 1;
/// More extensions than this in one datagram is not a real client.
pub const MAX_EXTENSIONS: usize = 8;
/// Largest selective-ACK mask we emit (256 packets after `ack_nr + 1`).
pub const MAX_SACK_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Data = 0,
    Fin = 1,
    State = 2,
    Reset = 3,
    Syn = 4,
}

impl PacketType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => PacketType::Data,
            1 => PacketType::Fin,
            2 => PacketType::State,
            3 => PacketType::Reset,
            4 => PacketType::Syn,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ty: PacketType,
    pub conn_id: u16,
    pub ts_us: u32,
    pub ts_diff_us: u32,
    pub wnd: u32,
    pub seq: u16,
    pub ack: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: Header,
    /// Selective-ACK bitmask: bit `i` (byte `i / 8`, bit `i % 8`) acknowledges `ack + 2 + i`.
    pub sack: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UtpError {
    #[error("datagram shorter than a uTP header")]
    TooShort,
    #[error("uTP version {0} is not 1")]
    BadVersion(u8),
    #[error("unknown uTP packet type {0}")]
    BadType(u8),
    #[error("extension chain runs past the datagram")]
    TruncatedExtension,
    #[error("selective ACK of {0} bytes")]
    BadSack(usize),
    #[error("more than {MAX_EXTENSIONS} extensions")]
    TooManyExtensions,
}

/// Cheap first-byte test used by the UDP demultiplexer: KRPC starts with `d`, a uTP header
/// with `type << 4 | 1`.
pub fn looks_like_utp(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] & 0x0f == VERSION && datagram[0] >> 4 <= 4
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn decode(buf: &[u8]) -> Result<Packet<'_>, UtpError> {
    if buf.len() < HEADER_LEN {
        return Err(UtpError::TooShort);
    }
    let version = buf[0] & 0x0f;
    if version != VERSION {
        return Err(UtpError::BadVersion(version));
    }
    let ty = PacketType::from_u8(buf[0] >> 4).ok_or(UtpError::BadType(buf[0] >> 4))?;
    let header = Header {
        ty,
        conn_id: be16(buf, 2),
        ts_us: be32(buf, 4),
        ts_diff_us: be32(buf, 8),
        wnd: be32(buf, 12),
        seq: be16(buf, 16),
        ack: be16(buf, 18),
    };
    let mut next = buf[1];
    let mut pos = HEADER_LEN;
    let mut sack = None;
    let mut count = 0;
    while next != 0 {
        count += 1;
        if count > MAX_EXTENSIONS {
            return Err(UtpError::TooManyExtensions);
        }
        if buf.len() < pos + 2 {
            return Err(UtpError::TruncatedExtension);
        }
        let this = next;
        next = buf[pos];
        let len = buf[pos + 1] as usize;
        let start = pos + 2;
        let end = start + len;
        if end > buf.len() {
            return Err(UtpError::TruncatedExtension);
        }
        if this == EXT_SACK {
            // BEP 29 says a multiple of 4, but libtorrent sends whole bytes only
            // ((span + 7) / 8), so any non-empty mask is taken.
            if len == 0 {
                return Err(UtpError::BadSack(len));
            }
            sack = Some(&buf[start..end]);
        }
        pos = end;
    }
    Ok(Packet {
        header,
        sack,
        payload: &buf[pos..],
    })
}

/// Appends one datagram to `out`. `sack` must be a multiple of 4 bytes, at most
/// `MAX_SACK_BYTES` (the caller builds it with `sack_mask`).
pub fn encode(h: &Header, sack: Option<&[u8]>, payload: &[u8], out: &mut Vec<u8>) {
    let sack = sack.filter(|s| !s.is_empty() && s.len() % 4 == 0 && s.len() <= 255);
    out.reserve(HEADER_LEN + payload.len() + sack.map_or(0, |s| s.len() + 2));
    out.push((h.ty as u8) << 4 | VERSION);
    out.push(if sack.is_some() { EXT_SACK } else { 0 });
    out.extend_from_slice(&h.conn_id.to_be_bytes());
    out.extend_from_slice(&h.ts_us.to_be_bytes());
    out.extend_from_slice(&h.ts_diff_us.to_be_bytes());
    out.extend_from_slice(&h.wnd.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.ack.to_be_bytes());
    if let Some(s) = sack {
        out.push(0);
        out.push(s.len() as u8);
        out.extend_from_slice(s);
    }
    out.extend_from_slice(payload);
}

/// Sequence numbers wrap at 2^16: `a` is before `b` when the forward distance from `a` to `b`
/// is under half the space.
pub fn seq_lt(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

pub fn seq_le(a: u16, b: u16) -> bool {
    a == b || seq_lt(a, b)
}

/// Builds a selective-ACK mask for the received sequence numbers `held` (all after
/// `ack + 1`); numbers beyond the mask's reach are left out. None when nothing fits.
pub fn sack_mask(ack: u16, held: impl Iterator<Item = u16>) -> Option<Vec<u8>> {
    let mut mask = [0u8; MAX_SACK_BYTES];
    let mut top = None;
    for s in held {
        let i = s.wrapping_sub(ack).wrapping_sub(2) as usize;
        if i < MAX_SACK_BYTES * 8 {
            mask[i / 8] |= 1 << (i % 8);
            top = Some(top.map_or(i, |t: usize| t.max(i)));
        }
    }
    let top = top?;
    let bytes = (top / 8 + 1).div_ceil(4) * 4;
    Some(mask[..bytes].to_vec())
}

/// Sequence numbers a mask acknowledges, in order.
pub fn sack_iter(ack: u16, mask: &[u8]) -> impl Iterator<Item = u16> + '_ {
    (0..mask.len() * 8)
        .filter(move |i| mask[i / 8] & (1 << (i % 8)) != 0)
        .map(move |i| ack.wrapping_add(2).wrapping_add(i as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(ty: PacketType) -> Header {
        Header {
            ty,
            conn_id: 0xbeef,
            ts_us: 123_456,
            ts_diff_us: 789,
            wnd: 1 << 20,
            seq: 65_535,
            ack: 7,
        }
    }

    #[test]
    fn round_trip_with_and_without_sack() {
        let mut out = Vec::new();
        encode(&hdr(PacketType::Data), None, b"hello", &mut out);
        let p = decode(&out).unwrap();
        assert_eq!(p.header, hdr(PacketType::Data));
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.sack, None);
        assert!(looks_like_utp(&out));

        let mask = sack_mask(7, [9u16, 12, 41].into_iter()).unwrap();
        assert_eq!(mask.len(), 8);
        out.clear();
        encode(&hdr(PacketType::State), Some(&mask), b"", &mut out);
        assert_eq!(out[0], 0x21);
        let p = decode(&out).unwrap();
        assert_eq!(p.header.ty, PacketType::State);
        let got: Vec<u16> = sack_iter(7, p.sack.unwrap()).collect();
        assert_eq!(got, vec![9, 12, 41]);
        assert!(p.payload.is_empty());
    }

    #[test]
    fn first_bytes_of_each_type() {
        for (ty, b) in [
            (PacketType::Data, 0x01),
            (PacketType::Fin, 0x11),
            (PacketType::State, 0x21),
            (PacketType::Reset, 0x31),
            (PacketType::Syn, 0x41),
        ] {
            let mut out = Vec::new();
            encode(&hdr(ty), None, b"", &mut out);
            assert_eq!(out[0], b);
        }
        assert!(!looks_like_utp(
            b"d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe"
        ));
    }

    #[test]
    fn malformed_packets_are_rejected() {
        let mut good = Vec::new();
        encode(&hdr(PacketType::Data), None, b"", &mut good);
        assert_eq!(decode(&good[..19]), Err(UtpError::TooShort));
        assert_eq!(decode(&[]), Err(UtpError::TooShort));
        let mut v = good.clone();
        v[0] = 0x02;
        assert_eq!(decode(&v), Err(UtpError::BadVersion(2)));
        v[0] = 0x51;
        assert_eq!(decode(&v), Err(UtpError::BadType(5)));
        // An extension announced but no room for its two-byte head.
        let mut v = good.clone();
        v[1] = 1;
        assert_eq!(decode(&v), Err(UtpError::TruncatedExtension));
        // Length runs past the end.
        v.extend_from_slice(&[0, 8, 1, 2, 3]);
        assert_eq!(decode(&v), Err(UtpError::TruncatedExtension));
        // libtorrent's whole-byte masks (not a multiple of 4) are read; an empty one is not.
        let mut v = good.clone();
        v[1] = 1;
        v.extend_from_slice(&[0, 3, 1, 2, 3]);
        let p = decode(&v).unwrap();
        assert_eq!(p.sack, Some(&[1u8, 2, 3][..]));
        assert!(p.payload.is_empty());
        let mut v = good.clone();
        v[1] = 1;
        v.extend_from_slice(&[0, 0]);
        assert_eq!(decode(&v), Err(UtpError::BadSack(0)));
        // A chain that loops through unknown extensions forever.
        let mut v = good.clone();
        v[1] = 9;
        for _ in 0..20 {
            v.extend_from_slice(&[9, 0]);
        }
        assert_eq!(decode(&v), Err(UtpError::TooManyExtensions));
    }

    #[test]
    fn unknown_extensions_are_skipped() {
        let mut v = Vec::new();
        encode(&hdr(PacketType::Data), None, b"", &mut v);
        v[1] = 3; // libtorrent's close-reason extension
        v.extend_from_slice(&[EXT_SACK, 4, 0, 0, 0, 0]);
        v.extend_from_slice(&[0, 4, 1, 0, 0, 0]);
        v.extend_from_slice(b"xyz");
        let p = decode(&v).unwrap();
        assert_eq!(p.payload, b"xyz");
        assert_eq!(sack_iter(7, p.sack.unwrap()).collect::<Vec<_>>(), vec![9]);
    }

    #[test]
    fn every_prefix_and_random_bytes_never_panic() {
        let mut v = Vec::new();
        let mask = sack_mask(1, [5u16].into_iter()).unwrap();
        encode(&hdr(PacketType::State), Some(&mask), b"abc", &mut v);
        for n in 0..=v.len() {
            let _ = decode(&v[..n]);
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let len = (x % 64) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if let Ok(p) = decode(&buf) {
                assert!(p.payload.len() <= buf.len() - HEADER_LEN);
            }
        }
    }

    #[test]
    fn sequence_arithmetic_wraps() {
        assert!(seq_lt(65_535, 0));
        assert!(seq_lt(65_000, 100));
        assert!(!seq_lt(100, 65_000));
        assert!(seq_le(5, 5));
        assert!(!seq_lt(5, 5));
        // The mask counts from ack + 2 across the wrap.
        let m = sack_mask(65_534, [0u16, 1].into_iter()).unwrap();
        assert_eq!(sack_iter(65_534, &m).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(sack_mask(10, [11u16, 5000].into_iter()), None);
    }
}
