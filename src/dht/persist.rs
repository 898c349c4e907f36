//! The routing table on disk: `d2:id20:<our id>5:nodes<26 bytes a node>e` in one small file,
//! replaced atomically (write a temporary file, then rename) so a crash leaves the old one.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use serde_bencode::value::Value;

use crate::protocol::bencode;
use crate::protocol::krpc::{decode_nodes, encode_nodes, CompactNode, NodeId};

pub const FILE_NAME: &str = "dht.dat";
/// A saved file larger than this is not ours; refuse it rather than read it.
const MAX_FILE: u64 = 64 * 1024;

pub fn encode(id: &NodeId, nodes: &[CompactNode]) -> Vec<u8> {
    let mut d = HashMap::new();
    d.insert(b"id".to_vec(), Value::Bytes(id.0.to_vec()));
    let nodes = &nodes[..nodes.len().min(crate::protocol::krpc::MAX_NODES)];
    d.insert(b"nodes".to_vec(), Value::Bytes(encode_nodes(nodes)));
    bencode::encode_value(&Value::Dict(d))
}

pub fn decode(buf: &[u8]) -> Option<(NodeId, Vec<CompactNode>)> {
    let Value::Dict(d) = bencode::decode_value(buf).ok()? else {
        return None;
    };
    let id = match d.get(b"id".as_slice()) {
        Some(Value::Bytes(b)) => NodeId::from_slice(b)?,
        _ => return None,
    };
    let nodes = match d.get(b"nodes".as_slice()) {
        Some(Value::Bytes(b)) => decode_nodes(b).ok()?,
        _ => Vec::new(),
    };
    Some((id, nodes))
}

pub fn save(dir: &Path, id: &NodeId, nodes: &[CompactNode]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    std::fs::write(&tmp, encode(id, nodes))?;
    std::fs::rename(&tmp, dir.join(FILE_NAME))
}

/// The saved id and nodes; None when there is no file or it is damaged (start afresh).
pub fn load(dir: &Path) -> Option<(NodeId, Vec<CompactNode>)> {
    let path = dir.join(FILE_NAME);
    if std::fs::metadata(&path).ok()?.len() > MAX_FILE {
        return None;
    }
    decode(&std::fs::read(path).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_roundtrip_and_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).is_none());
        let id = NodeId([7; 20]);
        let nodes = vec![CompactNode {
            id: NodeId([8; 20]),
            addr: "127.0.0.8:6881".parse().expect("addr"),
        }];
        save(dir.path(), &id, &nodes).expect("save");
        assert_eq!(load(dir.path()), Some((id, nodes)));
        assert!(!dir.path().join("dht.dat.tmp").exists());
        std::fs::write(dir.path().join(FILE_NAME), b"d2:id3:abce").expect("write");
        assert!(load(dir.path()).is_none());
    }
}
