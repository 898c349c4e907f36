//! Writing .torrent files: the piece hashes of some data, and the bencoded metainfo around
//! them. Pure: `crate::create` reads and hashes the files, the tests build theirs from bytes
//! in memory, and both end here, so there is one writer of the format.

use sha1::{Digest, Sha1};

use super::*;

/// SHA-1 of each `piece_length`-sized chunk of `data` (the last may be short).
pub fn hash_pieces(data: &[u8], piece_length: u32) -> Vec<[u8; 20]> {
    if piece_length == 0 {
        return Vec::new();
    }
    data.chunks(piece_length as usize)
        .map(|c| Sha1::digest(c).into())
        .collect()
}

/// Builds a .torrent. `files`: one entry with an empty path = single-file torrent of that
/// length; otherwise each entry is (path below `name`, length). `trackers` are BEP 12 tiers
/// (empty URLs and tiers are dropped); the first URL goes into `announce`, and
/// `announce-list` is written only when there is more than that one URL. The output is
/// canonical (keys sorted) and holds no creation date, so it depends only on its inputs.
pub fn encode_torrent(
    name: &str,
    files: &[(Vec<String>, u64)],
    piece_length: u32,
    piece_hashes: &[[u8; 20]],
    trackers: &[Vec<String>],
    private: bool,
    source: Option<&str>,
) -> Vec<u8> {
    let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
    // Lengths beyond i64 cannot be written in bencode; clamp so from_bytes reports them.
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));

    let mut info: Dict = HashMap::new();
    info.insert(b"name".to_vec(), bytes(name));
    info.insert(b"piece length".to_vec(), int(u64::from(piece_length)));
    info.insert(b"pieces".to_vec(), Value::Bytes(piece_hashes.concat()));
    match files {
        [(path, length)] if path.is_empty() => {
            info.insert(b"length".to_vec(), int(*length));
        }
        _ => {
            let list = files
                .iter()
                .map(|(path, length)| {
                    let mut f: Dict = HashMap::new();
                    f.insert(b"length".to_vec(), int(*length));
                    f.insert(
                        b"path".to_vec(),
                        Value::List(path.iter().map(|c| bytes(c)).collect()),
                    );
                    Value::Dict(f)
                })
                .collect();
            info.insert(b"files".to_vec(), Value::List(list));
        }
    }
    if private {
        info.insert(b"private".to_vec(), Value::Int(1));
    }
    if let Some(s) = source {
        info.insert(b"source".to_vec(), bytes(s));
    }

    let mut root: Dict = HashMap::new();
    root.insert(b"info".to_vec(), Value::Dict(info));
    root.insert(
        b"created by".to_vec(),
        bytes(concat!("ttui ", env!("CARGO_PKG_VERSION"))),
    );
    let tiers: Vec<Vec<&String>> = trackers
        .iter()
        .map(|tier| tier.iter().filter(|u| !u.is_empty()).collect::<Vec<_>>())
        .filter(|tier| !tier.is_empty())
        .collect();
    if let Some(first) = tiers.iter().flatten().next() {
        root.insert(b"announce".to_vec(), bytes(first));
    }
    if tiers.iter().map(Vec::len).sum::<usize>() > 1 {
        let tiers = tiers
            .iter()
            .map(|tier| Value::List(tier.iter().map(|u| bytes(u)).collect()))
            .collect();
        root.insert(b"announce-list".to_vec(), Value::List(tiers));
    }
    bencode::encode_value(&Value::Dict(root))
}
