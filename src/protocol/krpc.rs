//! KRPC, the DHT's message format (BEP 5): bencoded dictionaries in UDP datagrams.
//!
//! Decoding is strict about types and bounded in size: a datagram is at most `MAX_DATAGRAM`
//! bytes, every string and list has a cap, and the bencode goes through the depth-bounded
//! `bencode::decode_value`. Unknown keys are ignored (BEP 5 asks nodes to tolerate them), but a
//! known key with the wrong type is an error, never a panic or a guess.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CompactNode {
    pub id: NodeId,
    pub addr: SocketAddrV4,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Query {
    Ping,
    FindNode {
        target: NodeId,
    },
    GetPeers {
        info_hash: NodeId,
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
    pub nodes: Vec<CompactNode>,
    pub values: Vec<SocketAddrV4>,
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
    /// BEP 42 `ip`: the address the responder saw us at.
    pub ip: Option<SocketAddrV4>,
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
        let ip = match top.get(b"ip".as_slice()) {
            Some(Value::Bytes(b)) if b.len() == 6 => Some(compact_addr(b)),
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
            top.insert(
                b"ip".to_vec(),
                Value::Bytes(compact_addr_bytes(ip).to_vec()),
            );
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
                    Query::FindNode { target } => {
                        a.insert(b"target".to_vec(), Value::Bytes(target.0.to_vec()));
                        b"find_node"
                    }
                    Query::GetPeers { info_hash } => {
                        a.insert(b"info_hash".to_vec(), Value::Bytes(info_hash.0.to_vec()));
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
                if !r.values.is_empty() {
                    let vals = r
                        .values
                        .iter()
                        .map(|a| Value::Bytes(compact_addr_bytes(a).to_vec()))
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
        },
        b"get_peers" => Query::GetPeers {
            info_hash: id_key(a, "info_hash")?,
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
    let values = match r.get(b"values".as_slice()) {
        None => Vec::new(),
        Some(Value::List(items)) => {
            if items.len() > MAX_VALUES {
                return Err(KrpcError::TooMany("values"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Bytes(b) if b.len() == 6 => out.push(compact_addr(b)),
                    // An IPv6 peer (BEP 32) in a mixed list: not ours to use yet.
                    Value::Bytes(b) if b.len() == 18 => {}
                    Value::Bytes(_) => return Err(KrpcError::BadLength("values")),
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

/// Parses a `nodes` string: a whole number of 26-byte entries, at most `MAX_NODES`.
pub fn decode_nodes(b: &[u8]) -> Result<Vec<CompactNode>, KrpcError> {
    if !b.len().is_multiple_of(COMPACT_NODE_LEN) {
        return Err(KrpcError::BadLength("nodes"));
    }
    if b.len() / COMPACT_NODE_LEN > MAX_NODES {
        return Err(KrpcError::TooMany("nodes"));
    }
    Ok(b.chunks_exact(COMPACT_NODE_LEN)
        .filter_map(|c| {
            Some(CompactNode {
                id: NodeId::from_slice(&c[..20])?,
                addr: compact_addr(&c[20..]),
            })
        })
        .collect())
}

pub fn encode_nodes(nodes: &[CompactNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * COMPACT_NODE_LEN);
    for n in nodes {
        out.extend_from_slice(&n.id.0);
        out.extend_from_slice(&compact_addr_bytes(&n.addr));
    }
    out
}

#[cfg(test)]
mod tests;
