//! KRPC, the DHT's message format (BEP 5): bencoded dictionaries in UDP datagrams, with the
//! IPv6 extension (BEP 32): `nodes6` (38-byte entries), 18-byte peers in `values`, and the
//! `want` list (`n4`, `n6`) of `find_node` and `get_peers`.
//!
//! Decoding is strict about types and bounded in size: a datagram is at most `MAX_DATAGRAM`
//! bytes, every string and list has a cap, and the bencode goes through the depth-bounded
//! `bencode::decode_value`. Unknown keys are ignored (BEP 5 asks nodes to tolerate them), but a
//! known key with the wrong type is an error, never a panic or a guess.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use serde_bencode::value::Value;
use thiserror::Error;

use super::bencode::{self, BencodeError};

/// Larger datagrams are refused before any parsing. Real KRPC fits in one Ethernet frame.
pub const MAX_DATAGRAM: usize = 4096;
/// Nodes in one `nodes` string (k is 8; some implementations send 16).
pub const MAX_NODES: usize = 64;
/// Peers in one `values` list.
pub const MAX_VALUES: usize = 256;
const MAX_TID: usize = 16;
const MAX_TOKEN: usize = 64;
const MAX_VERSION: usize = 16;
const MAX_METHOD: usize = 32;
const MAX_ERROR_MSG: usize = 256;
/// Bytes of one IPv4 compact node: 20 id + 4 address + 2 port.
pub const COMPACT_NODE_LEN: usize = 26;
/// Bytes of one IPv6 compact node (BEP 32): 20 id + 16 address + 2 port.
pub const COMPACT_NODE6_LEN: usize = 38;
/// Entries in one `want` list; there are two families, the rest is slack for the unknown.
const MAX_WANT: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KrpcError {
    #[error("datagram of {0} bytes is larger than {MAX_DATAGRAM}")]
    TooLarge(usize),
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    #[error("the message is not a dictionary")]
    NotADict,
    #[error("missing key `{0}`")]
    Missing(&'static str),
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    #[error("`{0}` has a wrong length")]
    BadLength(&'static str),
    #[error("`{0}` holds too many entries")]
    TooMany(&'static str),
    #[error("unknown message type `y`")]
    UnknownType,
}

/// A 160-bit node id or info hash; the DHT measures both with the same XOR metric.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    pub fn from_slice(b: &[u8]) -> Option<NodeId> {
        <[u8; 20]>::try_from(b).ok().map(NodeId)
    }
    pub fn random() -> NodeId {
        NodeId(rand::random())
    }
    /// XOR distance; compared as a big-endian number, as the array's `Ord` does.
    pub fn distance(&self, other: &NodeId) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (i, x) in d.iter_mut().enumerate() {
            *x = self.0[i] ^ other.0[i];
        }
        d
    }
    /// Number of leading bits `self` and `other` have in common (160 when equal).
    pub fn common_prefix(&self, other: &NodeId) -> usize {
        for (i, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            let x = a ^ b;
            if x != 0 {
                return i * 8 + x.leading_zeros() as usize;
            }
        }
        160
    }
    pub fn to_hex(&self) -> String {
        crate::protocol::hex::encode(&self.0)
    }
}

/// A node as `nodes` (IPv4) or `nodes6` (IPv6) carry it. The family of `addr` says which of
/// the two it belongs in: the decoder puts only IPv4 nodes in `Response::nodes` and only IPv6
/// ones in `Response::nodes6`, and the encoder writes each list's own family only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CompactNode {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// The address families a querier asks nodes of (BEP 32's `want`: `n4`, `n6`). Empty means
/// the key was absent: the responder answers in the family the query came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Want {
    pub n4: bool,
    pub n6: bool,
}

impl Want {
    pub const NONE: Want = Want {
        n4: false,
        n6: false,
    };
    pub const BOTH: Want = Want { n4: true, n6: true };

    pub fn is_empty(&self) -> bool {
        !self.n4 && !self.n6
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Query {
    Ping,
    FindNode {
        target: NodeId,
        want: Want,
    },
    GetPeers {
        info_hash: NodeId,
        want: Want,
    },
    AnnouncePeer {
        info_hash: NodeId,
        port: u16,
        /// BEP 5: use the UDP source port instead of `port` (for peers behind NAT).
        implied_port: bool,
        token: Vec<u8>,
    },
    /// A method we do not implement; answered with error 204.
    Other(Vec<u8>),
}

/// One response type for every query: KRPC responses do not name the query they answer,
/// the transaction id does.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Response {
    /// IPv4 nodes (`nodes`).
    pub nodes: Vec<CompactNode>,
    /// IPv6 nodes (`nodes6`, BEP 32).
    pub nodes6: Vec<CompactNode>,
    /// Peers of either family (6 or 18 bytes each on the wire).
    pub values: Vec<SocketAddr>,
    pub token: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    Query {
        id: NodeId,
        query: Query,
        /// BEP 43: the sender does not answer queries; keep it out of routing tables.
        read_only: bool,
    },
    Response {
        id: NodeId,
        r: Response,
    },
    Error {
        code: i64,
        message: String,
    },
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Krpc {
    /// Transaction id, echoed by the responder.
    pub tid: Vec<u8>,
    /// Client version string `v` (4 bytes by convention).
    pub version: Option<Vec<u8>>,
    /// BEP 42 `ip`: the address the responder saw us at (6 or 18 bytes on the wire).
    pub ip: Option<SocketAddr>,
    pub body: Body,
}

type Dict = HashMap<Vec<u8>, Value>;

impl Krpc {
    /// Parses one datagram. Never panics; every malformed input is an `Err`.
    pub fn decode(buf: &[u8]) -> Result<Krpc, KrpcError> {
        if buf.len() > MAX_DATAGRAM {
            return Err(KrpcError::TooLarge(buf.len()));
        }
        let Value::Dict(top) = bencode::decode_value(buf)? else {
            return Err(KrpcError::NotADict);
        };
        let tid = bytes(&top, "t", MAX_TID)?.ok_or(KrpcError::Missing("t"))?;
        let version = bytes(&top, "v", MAX_VERSION)?;
        // Informational only: a malformed `ip` is ignored rather than failing the message.
        let ip = match top.get(b"ip".as_slice()) {
            Some(Value::Bytes(b)) => compact_peer(b),
            _ => None,
        };
        let y = bytes(&top, "y", 1)?.ok_or(KrpcError::Missing("y"))?;
        let body = match y.as_slice() {
            b"q" => decode_query(&top)?,
            b"r" => decode_response(&top)?,
            b"e" => decode_error(&top)?,
            _ => return Err(KrpcError::UnknownType),
        };
        Ok(Krpc {
            tid,
            version,
            ip,
            body,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut top: Dict = HashMap::new();
        top.insert(b"t".to_vec(), Value::Bytes(self.tid.clone()));
        if let Some(v) = &self.version {
            top.insert(b"v".to_vec(), Value::Bytes(v.clone()));
        }
        if let Some(ip) = &self.ip {
            top.insert(b"ip".to_vec(), Value::Bytes(compact_peer_bytes(ip)));
        }
        match &self.body {
            Body::Query {
                id,
                query,
                read_only,
            } => {
                let mut a: Dict = HashMap::new();
                a.insert(b"id".to_vec(), Value::Bytes(id.0.to_vec()));
                let method: &[u8] = match query {
                    Query::Ping => b"ping",
                    Query::FindNode { target, want } => {
                        a.insert(b"target".to_vec(), Value::Bytes(target.0.to_vec()));
                        insert_want(&mut a, want);
                        b"find_node"
                    }
                    Query::GetPeers { info_hash, want } => {
                        a.insert(b"info_hash".to_vec(), Value::Bytes(info_hash.0.to_vec()));
                        insert_want(&mut a, want);
                        b"get_peers"
                    }
                    Query::AnnouncePeer {
                        info_hash,
                        port,
                        implied_port,
                        token,
                    } => {
                        a.insert(b"info_hash".to_vec(), Value::Bytes(info_hash.0.to_vec()));
                        a.insert(b"port".to_vec(), Value::Int(i64::from(*port)));
                        a.insert(b"token".to_vec(), Value::Bytes(token.clone()));
                        if *implied_port {
                            a.insert(b"implied_port".to_vec(), Value::Int(1));
                        }
                        b"announce_peer"
                    }
                    Query::Other(m) => m,
                };
                if *read_only {
                    top.insert(b"ro".to_vec(), Value::Int(1));
                }
                top.insert(b"y".to_vec(), Value::Bytes(b"q".to_vec()));
                top.insert(b"q".to_vec(), Value::Bytes(method.to_vec()));
                top.insert(b"a".to_vec(), Value::Dict(a));
            }
            Body::Response { id, r } => {
                let mut d: Dict = HashMap::new();
                d.insert(b"id".to_vec(), Value::Bytes(id.0.to_vec()));
                if !r.nodes.is_empty() {
                    d.insert(b"nodes".to_vec(), Value::Bytes(encode_nodes(&r.nodes)));
                }
                if !r.nodes6.is_empty() {
                    d.insert(b"nodes6".to_vec(), Value::Bytes(encode_nodes6(&r.nodes6)));
                }
                if !r.values.is_empty() {
                    let vals = r
                        .values
                        .iter()
                        .map(|a| Value::Bytes(compact_peer_bytes(a)))
                        .collect();
                    d.insert(b"values".to_vec(), Value::List(vals));
                }
                if let Some(t) = &r.token {
                    d.insert(b"token".to_vec(), Value::Bytes(t.clone()));
                }
                top.insert(b"y".to_vec(), Value::Bytes(b"r".to_vec()));
                top.insert(b"r".to_vec(), Value::Dict(d));
            }
            Body::Error { code, message } => {
                let e = vec![Value::Int(*code), Value::Bytes(message.as_bytes().to_vec())];
                top.insert(b"y".to_vec(), Value::Bytes(b"e".to_vec()));
                top.insert(b"e".to_vec(), Value::List(e));
            }
        }
        bencode::encode_value(&Value::Dict(top))
    }
}

fn decode_query(top: &Dict) -> Result<Body, KrpcError> {
    let method = bytes(top, "q", MAX_METHOD)?.ok_or(KrpcError::Missing("q"))?;
    let a = match top.get(b"a".as_slice()) {
        Some(Value::Dict(a)) => a,
        Some(_) => return Err(KrpcError::WrongType("a")),
        None => return Err(KrpcError::Missing("a")),
    };
    let id = id(a, "id")?;
    let read_only = int(top, "ro")? == Some(1);
    let query = match method.as_slice() {
        b"ping" => Query::Ping,
        b"find_node" => Query::FindNode {
            target: id_key(a, "target")?,
            want: want(a)?,
        },
        b"get_peers" => Query::GetPeers {
            info_hash: id_key(a, "info_hash")?,
            want: want(a)?,
        },
        b"announce_peer" => {
            let port = int(a, "port")?.ok_or(KrpcError::Missing("port"))?;
            let implied_port = int(a, "implied_port")?.unwrap_or(0) != 0;
            let port = match u16::try_from(port) {
                Ok(p) => p,
                // With implied_port the field is ignored, so a junk value is harmless.
                Err(_) if implied_port => 0,
                Err(_) => return Err(KrpcError::BadLength("port")),
            };
            Query::AnnouncePeer {
                info_hash: id_key(a, "info_hash")?,
                port,
                implied_port,
                token: bytes(a, "token", MAX_TOKEN)?.ok_or(KrpcError::Missing("token"))?,
            }
        }
        _ => Query::Other(method),
    };
    Ok(Body::Query {
        id,
        query,
        read_only,
    })
}

fn decode_response(top: &Dict) -> Result<Body, KrpcError> {
    let r = match top.get(b"r".as_slice()) {
        Some(Value::Dict(r)) => r,
        Some(_) => return Err(KrpcError::WrongType("r")),
        None => return Err(KrpcError::Missing("r")),
    };
    let id = id(r, "id")?;
    let nodes = match r.get(b"nodes".as_slice()) {
        None => Vec::new(),
        Some(Value::Bytes(b)) => decode_nodes(b)?,
        Some(_) => return Err(KrpcError::WrongType("nodes")),
    };
    let nodes6 = match r.get(b"nodes6".as_slice()) {
        None => Vec::new(),
        Some(Value::Bytes(b)) => decode_nodes6(b)?,
        Some(_) => return Err(KrpcError::WrongType("nodes6")),
    };
    let values = match r.get(b"values".as_slice()) {
        None => Vec::new(),
        Some(Value::List(items)) => {
            if items.len() > MAX_VALUES {
                return Err(KrpcError::TooMany("values"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                // 6 bytes an IPv4 peer, 18 an IPv6 one (BEP 32); a list may mix them.
                match item {
                    Value::Bytes(b) => {
                        out.push(compact_peer(b).ok_or(KrpcError::BadLength("values"))?)
                    }
                    _ => return Err(KrpcError::WrongType("values")),
                }
            }
            out
        }
        Some(_) => return Err(KrpcError::WrongType("values")),
    };
    let token = bytes(r, "token", MAX_TOKEN)?;
    Ok(Body::Response {
        id,
        r: Response {
            nodes,
            nodes6,
            values,
            token,
        },
    })
}

fn decode_error(top: &Dict) -> Result<Body, KrpcError> {
    let Some(Value::List(e)) = top.get(b"e".as_slice()) else {
        return Err(KrpcError::WrongType("e"));
    };
    let (code, message) = match e.as_slice() {
        [Value::Int(c), Value::Bytes(m), ..] => (*c, m),
        _ => return Err(KrpcError::WrongType("e")),
    };
    let message = &message[..message.len().min(MAX_ERROR_MSG)];
    Ok(Body::Error {
        code,
        message: String::from_utf8_lossy(message).into_owned(),
    })
}

fn bytes(d: &Dict, key: &'static str, cap: usize) -> Result<Option<Vec<u8>>, KrpcError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(b)) if b.len() <= cap => Ok(Some(b.clone())),
        Some(Value::Bytes(_)) => Err(KrpcError::BadLength(key)),
        Some(_) => Err(KrpcError::WrongType(key)),
    }
}

fn int(d: &Dict, key: &'static str) -> Result<Option<i64>, KrpcError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(_) => Err(KrpcError::WrongType(key)),
    }
}

/// BEP 32's `want`: a list of strings; `n4` and `n6` are understood, others ignored.
fn want(d: &Dict) -> Result<Want, KrpcError> {
    let items = match d.get(b"want".as_slice()) {
        None => return Ok(Want::NONE),
        Some(Value::List(items)) => items,
        Some(_) => return Err(KrpcError::WrongType("want")),
    };
    if items.len() > MAX_WANT {
        return Err(KrpcError::TooMany("want"));
    }
    let mut w = Want::NONE;
    for item in items {
        match item {
            Value::Bytes(b) if b == b"n4" => w.n4 = true,
            Value::Bytes(b) if b == b"n6" => w.n6 = true,
            Value::Bytes(_) => {}
            _ => return Err(KrpcError::WrongType("want")),
        }
    }
    Ok(w)
}

fn insert_want(a: &mut Dict, want: &Want) {
    if want.is_empty() {
        return;
    }
    let mut items = Vec::new();
    if want.n4 {
        items.push(Value::Bytes(b"n4".to_vec()));
    }
    if want.n6 {
        items.push(Value::Bytes(b"n6".to_vec()));
    }
    a.insert(b"want".to_vec(), Value::List(items));
}

fn id(d: &Dict, key: &'static str) -> Result<NodeId, KrpcError> {
    id_key(d, key)
}

fn id_key(d: &Dict, key: &'static str) -> Result<NodeId, KrpcError> {
    let b = bytes(d, key, 20)?.ok_or(KrpcError::Missing(key))?;
    NodeId::from_slice(&b).ok_or(KrpcError::BadLength(key))
}

pub fn compact_addr(b: &[u8]) -> SocketAddrV4 {
    let mut ip = [0u8; 4];
    let mut port = [0u8; 2];
    ip.copy_from_slice(&b[..4]);
    port.copy_from_slice(&b[4..6]);
    SocketAddrV4::new(Ipv4Addr::from(ip), u16::from_be_bytes(port))
}

pub fn compact_addr_bytes(a: &SocketAddrV4) -> [u8; 6] {
    let mut out = [0u8; 6];
    out[..4].copy_from_slice(&a.ip().octets());
    out[4..].copy_from_slice(&a.port().to_be_bytes());
    out
}

pub fn compact_addr6(b: &[u8]) -> SocketAddrV6 {
    let mut ip = [0u8; 16];
    let mut port = [0u8; 2];
    ip.copy_from_slice(&b[..16]);
    port.copy_from_slice(&b[16..18]);
    SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes(port), 0, 0)
}

pub fn compact_addr6_bytes(a: &SocketAddrV6) -> [u8; 18] {
    let mut out = [0u8; 18];
    out[..16].copy_from_slice(&a.ip().octets());
    out[16..].copy_from_slice(&a.port().to_be_bytes());
    out
}

/// A compact peer of either family: 6 bytes IPv4, 18 bytes IPv6; None for any other length.
pub fn compact_peer(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => Some(SocketAddr::V4(compact_addr(b))),
        18 => Some(SocketAddr::V6(compact_addr6(b))),
        _ => None,
    }
}

pub fn compact_peer_bytes(a: &SocketAddr) -> Vec<u8> {
    match a {
        SocketAddr::V4(v4) => compact_addr_bytes(v4).to_vec(),
        SocketAddr::V6(v6) => compact_addr6_bytes(v6).to_vec(),
    }
}

/// Splits a compact node string into whole entries of `len` bytes, at most `MAX_NODES`.
fn node_chunks<'a>(
    b: &'a [u8],
    len: usize,
    key: &'static str,
) -> Result<std::slice::ChunksExact<'a, u8>, KrpcError> {
    if !b.len().is_multiple_of(len) {
        return Err(KrpcError::BadLength(key));
    }
    if b.len() / len > MAX_NODES {
        return Err(KrpcError::TooMany(key));
    }
    Ok(b.chunks_exact(len))
}

/// Parses a `nodes` string: a whole number of 26-byte entries, at most `MAX_NODES`.
pub fn decode_nodes(b: &[u8]) -> Result<Vec<CompactNode>, KrpcError> {
    Ok(node_chunks(b, COMPACT_NODE_LEN, "nodes")?
        .filter_map(|c| {
            Some(CompactNode {
                id: NodeId::from_slice(&c[..20])?,
                addr: SocketAddr::V4(compact_addr(&c[20..])),
            })
        })
        .collect())
}

/// Parses a `nodes6` string (BEP 32): a whole number of 38-byte entries, at most `MAX_NODES`.
pub fn decode_nodes6(b: &[u8]) -> Result<Vec<CompactNode>, KrpcError> {
    Ok(node_chunks(b, COMPACT_NODE6_LEN, "nodes6")?
        .filter_map(|c| {
            Some(CompactNode {
                id: NodeId::from_slice(&c[..20])?,
                addr: SocketAddr::V6(compact_addr6(&c[20..])),
            })
        })
        .collect())
}

/// A `nodes` string: the IPv4 nodes of `nodes` (an IPv6 one has no 26-byte form: skipped).
pub fn encode_nodes(nodes: &[CompactNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * COMPACT_NODE_LEN);
    for n in nodes {
        if let SocketAddr::V4(a) = &n.addr {
            out.extend_from_slice(&n.id.0);
            out.extend_from_slice(&compact_addr_bytes(a));
        }
    }
    out
}

/// A `nodes6` string: the IPv6 nodes of `nodes` (IPv4 ones skipped).
pub fn encode_nodes6(nodes: &[CompactNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * COMPACT_NODE6_LEN);
    for n in nodes {
        if let SocketAddr::V6(a) = &n.addr {
            out.extend_from_slice(&n.id.0);
            out.extend_from_slice(&compact_addr6_bytes(a));
        }
    }
    out
}

pub mod security;

#[cfg(test)]
mod tests;
