//! Writing .torrent files: v1 (BEP 3), v2 (BEP 52) and hybrid (both, the v1 files padded
//! with BEP 47 pad files so that every file starts on a piece boundary). Pure: `crate::create`
//! reads and hashes the files, the tests build theirs from bytes in memory, and both end
//! here, so there is one writer of the format.

use sha1::{Digest, Sha1};

use super::*;
use crate::protocol::merkle::Hash;

mod layout;
#[cfg(test)]
mod tests;

pub use layout::{v1_layout, MetaVersion, V1Entry};

/// SHA-1 of each `piece_length`-sized chunk of `data` (the last may be short).
pub fn hash_pieces(data: &[u8], piece_length: u32) -> Vec<[u8; 20]> {
    if piece_length == 0 {
        return Vec::new();
    }
    data.chunks(piece_length as usize)
        .map(|c| Sha1::digest(c).into())
        .collect()
}

/// One file of a new torrent, in torrent order (BEP 52's: each directory's names in byte
/// order). For a single-file torrent, one entry whose `path` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewFile {
    /// Path elements below the torrent's name.
    pub path: Vec<String>,
    pub length: u64,
    /// v2: the root of the file's hash tree (`None` for an empty file).
    pub pieces_root: Option<Hash>,
    /// v2: the file's `piece layers` entry (empty when it fits in one piece).
    pub piece_layer: Vec<Hash>,
    /// BEP 47 `attr` "x": the file is a program.
    pub executable: bool,
}

/// Everything a new torrent holds. `v1_pieces` are the SHA-1s over the v1 stream (the files
/// in order, with the pad files of a hybrid, see [`v1_layout`]); unused for v2.
#[derive(Debug, Clone, Default)]
pub struct NewTorrent<'a> {
    pub name: &'a str,
    pub files: &'a [NewFile],
    pub piece_length: u32,
    pub version: MetaVersion,
    pub v1_pieces: &'a [[u8; 20]],
    /// BEP 12 tiers; empty URLs and tiers are dropped. The first URL goes into `announce`,
    /// and `announce-list` is written only when there is more than that one URL.
    pub trackers: &'a [Vec<String>],
    /// BEP 19 `url-list`.
    pub web_seeds: &'a [String],
    pub private: bool,
    /// `info.source` (as qBittorrent and mktorrent write it): changes the info hash, so one
    /// payload can be a different torrent on each private tracker.
    pub source: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub created_by: Option<&'a str>,
    pub creation_date: Option<i64>,
}

/// Builds a v1 .torrent. `files`: one entry with an empty path = single-file torrent of that
/// length; otherwise each entry is (path below `name`, length). The output is canonical
/// (keys sorted), holds no creation date and says `created by` ttui, so it depends only on
/// its inputs.
pub fn encode_torrent(
    name: &str,
    files: &[(Vec<String>, u64)],
    piece_length: u32,
    piece_hashes: &[[u8; 20]],
    trackers: &[Vec<String>],
    private: bool,
    source: Option<&str>,
) -> Vec<u8> {
    let files: Vec<NewFile> = files
        .iter()
        .map(|(path, length)| NewFile {
            path: path.clone(),
            length: *length,
            ..NewFile::default()
        })
        .collect();
    write_torrent(&NewTorrent {
        name,
        files: &files,
        piece_length,
        version: MetaVersion::V1,
        v1_pieces: piece_hashes,
        trackers,
        private,
        source,
        created_by: Some(CREATED_BY),
        ..NewTorrent::default()
    })
}

/// What ttui writes as `created by`.
pub const CREATED_BY: &str = concat!("ttui ", env!("CARGO_PKG_VERSION"));

fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// Lengths beyond i64 cannot be written in bencode; clamp so from_bytes reports them.
fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn path_list(path: &[String]) -> Value {
    Value::List(path.iter().map(|c| bytes(c)).collect())
}

/// Writes the .torrent that `t` describes.
pub fn write_torrent(t: &NewTorrent) -> Vec<u8> {
    let single = matches!(t.files, [f] if f.path.is_empty());
    let mut info: Dict = HashMap::new();
    info.insert(b"name".to_vec(), bytes(t.name));
    info.insert(b"piece length".to_vec(), int(u64::from(t.piece_length)));
    if t.version.has_v1() {
        info.insert(b"pieces".to_vec(), Value::Bytes(t.v1_pieces.concat()));
        if single {
            let length = t.files.first().map_or(0, |f| f.length);
            info.insert(b"length".to_vec(), int(length));
            // A single file's attributes stand in `info` itself (libtorrent's place).
            if t.files.first().is_some_and(|f| f.executable) {
                info.insert(b"attr".to_vec(), bytes("x"));
            }
        } else {
            let list = v1_layout(t.files, t.piece_length, t.version)
                .into_iter()
                .map(|e| {
                    let mut f: Dict = HashMap::new();
                    f.insert(b"length".to_vec(), int(e.length));
                    if e.pad {
                        f.insert(b"attr".to_vec(), bytes("p"));
                    } else if e.executable {
                        f.insert(b"attr".to_vec(), bytes("x"));
                    }
                    f.insert(b"path".to_vec(), path_list(&e.path));
                    Value::Dict(f)
                })
                .collect();
            info.insert(b"files".to_vec(), Value::List(list));
        }
    }
    let mut layers: Dict = HashMap::new();
    if t.version.has_v2() {
        info.insert(b"meta version".to_vec(), Value::Int(2));
        let mut tree: Dict = HashMap::new();
        for f in t.files {
            let path = if single {
                vec![t.name.to_owned()]
            } else {
                f.path.clone()
            };
            insert_tree(&mut tree, &path, f);
            if let (Some(root), false) = (f.pieces_root, f.piece_layer.is_empty()) {
                layers.insert(root.to_vec(), Value::Bytes(f.piece_layer.concat()));
            }
        }
        info.insert(b"file tree".to_vec(), Value::Dict(tree));
    }
    if t.private {
        info.insert(b"private".to_vec(), Value::Int(1));
    }
    if let Some(s) = t.source {
        info.insert(b"source".to_vec(), bytes(s));
    }

    let mut root: Dict = HashMap::new();
    root.insert(b"info".to_vec(), Value::Dict(info));
    if t.version.has_v2() {
        root.insert(b"piece layers".to_vec(), Value::Dict(layers));
    }
    if let Some(by) = t.created_by {
        root.insert(b"created by".to_vec(), bytes(by));
    }
    if let Some(date) = t.creation_date {
        root.insert(b"creation date".to_vec(), Value::Int(date));
    }
    if let Some(c) = t.comment {
        root.insert(b"comment".to_vec(), bytes(c));
    }
    let web: Vec<Value> = t
        .web_seeds
        .iter()
        .filter(|u| !u.is_empty())
        .map(|u| bytes(u))
        .collect();
    if !web.is_empty() {
        root.insert(b"url-list".to_vec(), Value::List(web));
    }
    let tiers: Vec<Vec<&String>> = t
        .trackers
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

/// Puts `file` at `path` in a BEP 52 `file tree`: directories are dictionaries of names, a
/// file is a dictionary whose one key `""` holds its `length` and (when not empty) its
/// `pieces root`.
fn insert_tree(tree: &mut Dict, path: &[String], file: &NewFile) {
    let Some((last, dirs)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for d in dirs {
        let entry = node
            .entry(d.as_bytes().to_vec())
            .or_insert_with(|| Value::Dict(HashMap::new()));
        if !matches!(entry, Value::Dict(_)) {
            // A name that is both a file and a directory cannot come from a file system;
            // the directory wins rather than losing both.
            *entry = Value::Dict(HashMap::new());
        }
        let Value::Dict(next) = entry else {
            return;
        };
        node = next;
    }
    let mut leaf: Dict = HashMap::new();
    leaf.insert(b"length".to_vec(), int(file.length));
    if let Some(root) = file.pieces_root {
        leaf.insert(b"pieces root".to_vec(), Value::Bytes(root.to_vec()));
    }
    if file.executable {
        leaf.insert(b"attr".to_vec(), bytes("x"));
    }
    let mut wrapper: Dict = HashMap::new();
    wrapper.insert(Vec::new(), Value::Dict(leaf));
    node.insert(last.as_bytes().to_vec(), Value::Dict(wrapper));
}
