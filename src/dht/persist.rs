//! The routing tables on disk: `d2:id20:<our id>5:nodes<26 bytes a node>6:nodes6<38 bytes a
//! node>e` in one small file, replaced atomically (write a temporary file, then rename) so a
//! crash leaves the old one. `nodes6` (BEP 32's IPv6 table) came later: a file without it
//! (an IPv4-only ttui's) loads with no IPv6 nodes, and an older ttui reading ours ignores it.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use serde_bencode::value::Value;

use crate::protocol::bencode;
use crate::protocol::krpc::{
    decode_nodes, decode_nodes6, encode_nodes, encode_nodes6, CompactNode, NodeId, MAX_NODES,
};

pub const FILE_NAME: &str = "dht.dat";
/// A saved file larger than this is not ours; refuse it rather than read it.
const MAX_FILE: u64 = 64 * 1024;

/// The id and up to `MAX_NODES` nodes of each family (the first ones of `nodes`: the
/// closest, as the node lists them), so that `decode` takes back what we wrote.
pub fn encode(id: &NodeId, nodes: &[CompactNode]) -> Vec<u8> {
    let mut d = HashMap::new();
    d.insert(b"id".to_vec(), Value::Bytes(id.0.to_vec()));
    let (v4, v6): (Vec<CompactNode>, Vec<CompactNode>) =
        nodes.iter().partition(|n| n.addr.is_ipv4());
    let v4 = &v4[..v4.len().min(MAX_NODES)];
    d.insert(b"nodes".to_vec(), Value::Bytes(encode_nodes(v4)));
    if !v6.is_empty() {
        let v6 = &v6[..v6.len().min(MAX_NODES)];
        d.insert(b"nodes6".to_vec(), Value::Bytes(encode_nodes6(v6)));
    }
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
    let mut nodes = match d.get(b"nodes".as_slice()) {
        Some(Value::Bytes(b)) => decode_nodes(b).ok()?,
        _ => Vec::new(),
    };
    if let Some(Value::Bytes(b)) = d.get(b"nodes6".as_slice()) {
        nodes.extend(decode_nodes6(b).ok()?);
    }
    Some((id, nodes))
}

pub fn save(dir: &Path, id: &NodeId, nodes: &[CompactNode]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    std::fs::write(&tmp, encode(id, nodes))?;
    std::fs::rename(&tmp, dir.join(FILE_NAME))
}

/// The saved id and nodes (IPv4 then IPv6); None when there is no file or it is damaged (start afresh).
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

    #[test]
    fn both_families_are_kept_and_an_ipv4_only_file_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = NodeId([7; 20]);
        let nodes = vec![
            CompactNode {
                id: NodeId([8; 20]),
                addr: "127.0.0.8:6881".parse().expect("addr"),
            },
            CompactNode {
                id: NodeId([9; 20]),
                addr: "[::1]:6882".parse().expect("addr"),
            },
        ];
        save(dir.path(), &id, &nodes).expect("save");
        assert_eq!(load(dir.path()), Some((id, nodes.clone())));
        // The file an IPv4-only ttui wrote (no `nodes6`): its nodes, no IPv6 ones.
        let mut old = b"d2:id20:".to_vec();
        old.extend_from_slice(&[7; 20]);
        old.extend_from_slice(b"5:nodes26:");
        old.extend_from_slice(&[8; 20]);
        old.extend_from_slice(&[127, 0, 0, 8, 0x1a, 0xe1]);
        old.push(b'e');
        assert_eq!(decode(&old), Some((id, vec![nodes[0]])));
        // And what we write now reads the same way through an older reader's eyes: `nodes`
        // alone holds the IPv4 nodes (the old decoder ignored unknown keys).
        let ours = encode(&id, &nodes);
        let Ok(Value::Dict(d)) = bencode::decode_value(&ours) else {
            panic!("not a dict")
        };
        assert!(matches!(d.get(b"nodes".as_slice()), Some(Value::Bytes(b)) if b.len() == 26));
        // A damaged `nodes6` is a damaged file: start afresh.
        let mut bad = old[..old.len() - 1].to_vec();
        bad.extend_from_slice(b"6:nodes65:abcdee");
        assert_eq!(decode(&bad), None);
    }
}
