//! The extension protocol's payloads: the BEP 10 extended handshake, BEP 9 `ut_metadata`
//! messages, BEP 11 `ut_pex` peer lists, BEP 21's `upload_only` message and BEP 54's
//! `lt_donthave`. Pure: bytes in, plain types out.
//!
//! Every payload comes from a peer, so every decode goes through the depth-bounded
//! [`bencode`] walk before serde sees it, and every list a peer controls is capped. Fields of
//! the wrong type are ignored rather than fatal (clients disagree on the details; one odd key
//! should not cost a peer), but a payload that is not a bencoded dictionary is an error.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_bencode::value::Value;
use thiserror::Error;

use super::bencode::{self, BencodeError};

/// Extended message id 0 is the handshake; the others are the ids announced in `m`.
pub const HANDSHAKE_ID: u8 = 0;
pub const UT_METADATA: &str = "ut_metadata";
pub const UT_PEX: &str = "ut_pex";
/// BEP 21: the sender only uploads from now on (or no longer). libtorrent announces it in `m`
/// and sends it as a one-byte message when its state changes after the handshake.
pub const UPLOAD_ONLY: &str = "upload_only";
/// BEP 54: the sender no longer has a piece it announced.
pub const LT_DONTHAVE: &str = "lt_donthave";
/// BEP 9 splits the info dictionary into pieces of this size (the last may be shorter).
pub const METADATA_PIECE: usize = 16 * 1024;
/// A larger `metadata_size` is refused (a 100,000-piece torrent's info is about 2 MiB).
pub const MAX_METADATA: u64 = 32 << 20;
/// Entries of `m` kept; real clients announce about a dozen.
pub const MAX_EXTENSIONS: usize = 64;
/// Bytes of `v` kept (the display form is shortened further by `peer_id`).
pub const MAX_CLIENT_BYTES: usize = 256;
/// Peers taken from each of `added`/`added6`/`dropped`/`dropped6` in one ut_pex message;
/// libtorrent sends at most 50 a list, the rest of a longer list is skipped unread.
pub const MAX_PEX_PEERS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtError {
    #[error("{0}")]
    Bencode(#[from] BencodeError),
    #[error("extension payload is not a dictionary")]
    NotADict,
    #[error("ut_metadata: missing or bad `{0}`")]
    BadField(&'static str),
    #[error("ut_metadata: unknown msg_type {0}")]
    UnknownMetadataType(i64),
    #[error("ut_metadata: {0} byte(s) after a message that carries no data")]
    UnexpectedData(usize),
    /// A fixed-size payload (`lt_donthave`, `upload_only`) of another length.
    #[error("{name}: {got} byte(s), expected {expected}")]
    BadLength {
        name: &'static str,
        got: usize,
        expected: usize,
    },
}

type Dict = std::collections::HashMap<Vec<u8>, Value>;

fn as_dict(v: Value) -> Result<Dict, ExtError> {
    match v {
        Value::Dict(d) => Ok(d),
        _ => Err(ExtError::NotADict),
    }
}

fn int(d: &Dict, key: &str) -> Option<i64> {
    match d.get(key.as_bytes()) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

fn bytes<'a>(d: &'a Dict, key: &str) -> Option<&'a [u8]> {
    match d.get(key.as_bytes()) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    }
}

fn put_int(d: &mut Dict, key: &str, v: i64) {
    d.insert(key.as_bytes().to_vec(), Value::Int(v));
}

/// Largest value that fits both `u64` and a bencode integer.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// BEP 10 handshake

/// The BEP 10 extended handshake: the fields we read and send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// Extension name → the message id the sender wants to receive it under. An id of 0
    /// means the sender disables that extension (a later handshake may do so); use
    /// [`ExtHandshake::id_of`] to read it. Ids outside 0..=255 are dropped on decode.
    pub m: BTreeMap<String, u8>,
    /// The client's name and version as sent (lossy UTF-8, at most [`MAX_CLIENT_BYTES`]).
    /// Not cleaned: [`ExtHandshake::client`] gives the display form.
    pub v: Option<String>,
    /// How many outstanding requests the sender accepts; positive values only. Any positive
    /// value is legal, including 1.
    pub reqq: Option<u32>,
    /// The sender's listen port; non-zero only.
    pub p: Option<u16>,
    /// Size of the info dictionary in bytes, 1..=[`MAX_METADATA`] only.
    pub metadata_size: Option<u64>,
    /// Our address as the sender sees it (4 or 16 bytes on the wire).
    pub yourip: Option<IpAddr>,
    /// BEP 21: the sender only uploads (a partial seed).
    pub upload_only: bool,
}

impl ExtHandshake {
    /// Decodes an extended handshake (message id 0). Bounded: nesting past
    /// `bencode::MAX_DEPTH` is refused before serde runs.
    pub fn decode(payload: &[u8]) -> Result<ExtHandshake, ExtError> {
        let d = as_dict(bencode::decode_value(payload)?)?;
        let mut m = BTreeMap::new();
        if let Some(Value::Dict(map)) = d.get(&b"m"[..]) {
            // Sorted, so which names a long map keeps does not depend on hash order.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (name, id) in entries {
                if m.len() >= MAX_EXTENSIONS {
                    break;
                }
                let (Ok(name), Value::Int(id)) = (std::str::from_utf8(name), id) else {
                    continue;
                };
                if let Ok(id) = u8::try_from(*id) {
                    m.insert(name.to_owned(), id);
                }
            }
        }
        let v = bytes(&d, "v").map(|b| {
            let mut s =
                String::from_utf8_lossy(b.get(..MAX_CLIENT_BYTES).unwrap_or(b)).into_owned();
            // Replacement characters are longer than the bytes they replace: cut again, on a
            // character boundary, so a decoded `v` re-encodes and decodes to itself.
            let mut cut = s.len().min(MAX_CLIENT_BYTES);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s
        });
        let yourip = match bytes(&d, "yourip") {
            Some(b) => match <[u8; 4]>::try_from(b) {
                Ok(a) => Some(IpAddr::from(a)),
                Err(_) => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
            },
            None => None,
        };
        Ok(ExtHandshake {
            m,
            v,
            reqq: int(&d, "reqq")
                .and_then(|q| u32::try_from(q).ok())
                .filter(|q| *q > 0),
            p: int(&d, "p")
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0),
            metadata_size: int(&d, "metadata_size")
                .and_then(|s| u64::try_from(s).ok())
                .filter(|s| (1..=MAX_METADATA).contains(s)),
            yourip,
            upload_only: int(&d, "upload_only").is_some_and(|u| u != 0),
        })
    }

    /// Encodes the handshake; keys come out sorted, absent fields are left out.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = Dict::new();
        let m: Dict = self
            .m
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), Value::Int(i64::from(*v))))
            .collect();
        d.insert(b"m".to_vec(), Value::Dict(m));
        if let Some(v) = &self.v {
            d.insert(b"v".to_vec(), Value::Bytes(v.as_bytes().to_vec()));
        }
        if let Some(q) = self.reqq {
            put_int(&mut d, "reqq", i64::from(q));
        }
        if let Some(p) = self.p {
            put_int(&mut d, "p", i64::from(p));
        }
        if let Some(s) = self.metadata_size {
            put_int(&mut d, "metadata_size", to_i64(s));
        }
        if let Some(ip) = self.yourip {
            let raw = match ip {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            d.insert(b"yourip".to_vec(), Value::Bytes(raw));
        }
        if self.upload_only {
            put_int(&mut d, "upload_only", 1);
        }
        bencode::encode_value(&Value::Dict(d))
    }

    /// The id to send extension `name` under, when the peer supports it (non-zero id).
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|id| *id != 0)
    }

    /// The client name for display: `v` cleaned of control characters and shortened.
    pub fn client(&self) -> Option<String> {
        let s = super::peer_id::client_from_handshake_v(self.v.as_deref()?);
        (!s.is_empty()).then_some(s)
    }
}

// ---------------------------------------------------------------------------------------------
// BEP 9 ut_metadata

/// One ut_metadata message header; a `Data` message's piece bytes follow the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMsg {
    Request { piece: u32 },
    Data { piece: u32, total_size: Option<u64> },
    Reject { piece: u32 },
}

impl MetadataMsg {
    pub fn piece(&self) -> u32 {
        match *self {
            MetadataMsg::Request { piece }
            | MetadataMsg::Data { piece, .. }
            | MetadataMsg::Reject { piece } => piece,
        }
    }

    /// Decodes a ut_metadata payload into its header and the bytes after the dictionary
    /// (the piece for `Data`, empty otherwise).
    pub fn decode(payload: &[u8]) -> Result<(MetadataMsg, &[u8]), ExtError> {
        let (v, end): (Value, usize) = bencode::decode_prefix(payload)?;
        let d = as_dict(v)?;
        let rest = payload.get(end..).unwrap_or_default();
        let msg_type = int(&d, "msg_type").ok_or(ExtError::BadField("msg_type"))?;
        let piece = int(&d, "piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(ExtError::BadField("piece"))?;
        let msg = match msg_type {
            0 => MetadataMsg::Request { piece },
            1 => MetadataMsg::Data {
                piece,
                total_size: int(&d, "total_size").and_then(|s| u64::try_from(s).ok()),
            },
            2 => MetadataMsg::Reject { piece },
            other => return Err(ExtError::UnknownMetadataType(other)),
        };
        if !matches!(msg, MetadataMsg::Data { .. }) && !rest.is_empty() {
            return Err(ExtError::UnexpectedData(rest.len()));
        }
        Ok((msg, rest))
    }

    /// Encodes the header followed by `data` (pass `&[]` for requests and rejects).
    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        let mut d = Dict::new();
        let (t, total) = match *self {
            MetadataMsg::Request { .. } => (0, None),
            MetadataMsg::Data { total_size, .. } => (1, total_size),
            MetadataMsg::Reject { .. } => (2, None),
        };
        put_int(&mut d, "msg_type", t);
        put_int(&mut d, "piece", i64::from(self.piece()));
        if let Some(s) = total {
            put_int(&mut d, "total_size", to_i64(s));
        }
        let mut out = bencode::encode_value(&Value::Dict(d));
        out.extend_from_slice(data);
        out
    }
}

/// Number of ut_metadata pieces of an info dictionary of `size` bytes.
pub fn metadata_pieces(size: u64) -> u64 {
    size.div_ceil(METADATA_PIECE as u64)
}

/// Our answer to a request for `piece` of `info`: the data, or a reject when out of range.
pub fn metadata_reply(info: &[u8], piece: u32) -> Vec<u8> {
    let start = (piece as usize).checked_mul(METADATA_PIECE);
    match start.filter(|s| *s < info.len()) {
        Some(s) => {
            let end = s.saturating_add(METADATA_PIECE).min(info.len());
            let head = MetadataMsg::Data {
                piece,
                total_size: Some(info.len() as u64),
            };
            head.encode(info.get(s..end).unwrap_or_default())
        }
        None => MetadataMsg::Reject { piece }.encode(&[]),
    }
}

// ---------------------------------------------------------------------------------------------
// BEP 21 upload_only, BEP 54 lt_donthave

/// Decodes an `upload_only` message: one byte, non-zero when the sender only uploads. Exactly
/// one byte, as libtorrent sends it (it drops a peer for anything shorter).
pub fn decode_upload_only(payload: &[u8]) -> Result<bool, ExtError> {
    match payload {
        [b] => Ok(*b != 0),
        _ => Err(ExtError::BadLength {
            name: UPLOAD_ONLY,
            got: payload.len(),
            expected: 1,
        }),
    }
}

pub fn encode_upload_only(on: bool) -> [u8; 1] {
    [u8::from(on)]
}

/// Decodes an `lt_donthave` message: the piece index, 4 bytes big-endian, nothing else. The
/// caller checks the index against the torrent's piece count.
pub fn decode_donthave(payload: &[u8]) -> Result<u32, ExtError> {
    <[u8; 4]>::try_from(payload)
        .map(u32::from_be_bytes)
        .map_err(|_| ExtError::BadLength {
            name: LT_DONTHAVE,
            got: payload.len(),
            expected: 4,
        })
}

pub fn encode_donthave(piece: u32) -> [u8; 4] {
    piece.to_be_bytes()
}

// ---------------------------------------------------------------------------------------------
// BEP 11 ut_pex

/// The flags byte of an `added` peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PexFlags(pub u8);

impl PexFlags {
    pub const ENCRYPTION: u8 = 0x01;
    pub const SEED: u8 = 0x02;
    pub const UTP: u8 = 0x04;
    pub const HOLEPUNCH: u8 = 0x08;
    pub const REACHABLE: u8 = 0x10;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One ut_pex message. IPv4 and IPv6 peers share the lists; `encode` splits them again into
/// `added`/`added6` and `dropped`/`dropped6`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pex {
    pub added: Vec<(SocketAddr, PexFlags)>,
    pub dropped: Vec<SocketAddr>,
}

fn compact_peers(raw: &[u8], width: usize) -> impl Iterator<Item = SocketAddr> + '_ {
    raw.chunks_exact(width)
        .take(MAX_PEX_PEERS)
        .filter_map(move |c| {
            let (ip, port) = c.split_at(width - 2);
            let port = u16::from_be_bytes([port[0], port[1]]);
            let ip = if width == 6 {
                IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?))
            } else {
                IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?))
            };
            (port != 0).then_some(SocketAddr::new(ip, port))
        })
}

fn push_compact(out: &mut Vec<u8>, a: &SocketAddr) {
    match a {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

impl Pex {
    /// Decodes a ut_pex payload. At most [`MAX_PEX_PEERS`] peers are read from each list;
    /// ragged tails and port 0 entries are skipped.
    pub fn decode(payload: &[u8]) -> Result<Pex, ExtError> {
        Self::decode_counted(payload).map(|(pex, _)| pex)
    }

    /// `decode`, and how many entries the four lists held before the cut (what a flood
    /// check needs).
    pub fn decode_counted(payload: &[u8]) -> Result<(Pex, usize), ExtError> {
        let d = as_dict(bencode::decode_value(payload)?)?;
        let mut pex = Pex::default();
        let mut entries = 0;
        for (list, width) in [
            ("added", 6),
            ("added6", 18),
            ("dropped", 6),
            ("dropped6", 18),
        ] {
            entries += bytes(&d, list).map_or(0, |b| b.len() / width);
        }
        for (list, flags, width) in [("added", "added.f", 6), ("added6", "added6.f", 18)] {
            let raw = bytes(&d, list).unwrap_or_default();
            let flags = bytes(&d, flags).unwrap_or_default();
            // Flags pair with entries by position, port 0 ones included.
            for (i, c) in raw.chunks_exact(width).take(MAX_PEX_PEERS).enumerate() {
                if let Some(addr) = compact_peers(c, width).next() {
                    let f = PexFlags(flags.get(i).copied().unwrap_or(0));
                    pex.added.push((addr, f));
                }
            }
        }
        for (list, width) in [("dropped", 6), ("dropped6", 18)] {
            let raw = bytes(&d, list).unwrap_or_default();
            pex.dropped.extend(compact_peers(raw, width));
        }
        Ok((pex, entries))
    }

    /// Encodes the message; each of the four lists is cut at [`MAX_PEX_PEERS`].
    pub fn encode(&self) -> Vec<u8> {
        let mut d = Dict::new();
        let v4 = |a: &&SocketAddr| a.is_ipv4();
        let v6 = |a: &&SocketAddr| a.is_ipv6();
        for (list, flags, family) in [
            ("added", "added.f", &v4 as &dyn Fn(&&SocketAddr) -> bool),
            ("added6", "added6.f", &v6),
        ] {
            let mut raw = Vec::new();
            let mut f = Vec::new();
            for (a, fl) in self
                .added
                .iter()
                .filter(|(a, _)| family(&a))
                .take(MAX_PEX_PEERS)
            {
                push_compact(&mut raw, a);
                f.push(fl.0);
            }
            d.insert(list.as_bytes().to_vec(), Value::Bytes(raw));
            d.insert(flags.as_bytes().to_vec(), Value::Bytes(f));
        }
        for (list, family) in [
            ("dropped", &v4 as &dyn Fn(&&SocketAddr) -> bool),
            ("dropped6", &v6),
        ] {
            let mut raw = Vec::new();
            for a in self.dropped.iter().filter(family).take(MAX_PEX_PEERS) {
                push_compact(&mut raw, a);
            }
            d.insert(list.as_bytes().to_vec(), Value::Bytes(raw));
        }
        bencode::encode_value(&Value::Dict(d))
    }
}

#[cfg(test)]
mod tests;
