//! A v2-only torrent (BEP 52) as the one description of files and pieces every torrent has.
//!
//! BEP 52 starts every file at a piece boundary. ttui describes that as libtorrent does: the
//! files of the `file tree` in order, with a BEP 47 pad file after each one that ends inside
//! a piece, the last one included. The pads are never written (as a hybrid's are not), so the
//! download, the picker, the disk and the peers see the same geometry a hybrid of the same
//! content has. What differs is the check: each piece is the root of its file's SHA-256
//! subtree (`V2Piece`), taken from `piece layers`, or the file's `pieces root` when the file
//! fits in one piece.

use std::collections::BTreeMap;

use serde_bencode::value::Value;

use super::super::file_tree::{parse_file_tree, TreeFile};
use super::super::{Dict, MetainfoError};
use crate::protocol::merkle::{self, Hash};
use crate::protocol::text::shorten;

/// A file of a v2-only .torrent whose piece layer is not in it, or not one that proves the
/// file's root (the layer is dropped, never trusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LackingLayer {
    pub root: Hash,
    /// The file's path below the torrent's name.
    pub path: String,
    /// Why the torrent's layer is not used, in words.
    pub why: String,
}

/// What one piece of a v2 torrent is checked against. Every piece lies in one file: the
/// first `data` bytes are the file's, the rest (in the last piece of a file) alignment
/// padding that is never hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Piece {
    /// The root of the piece's subtree: its entry in the file's piece layer, or the file's
    /// `pieces root` when the file fits in one piece.
    pub hash: Hash,
    /// The file's bytes in this piece.
    pub data: u32,
    /// Leaves (16 KiB blocks) the subtree spans, a power of two: the piece's for a file of
    /// several pieces, the file's own (rounded up) for a file of one.
    pub leaves: u32,
}

impl V2Piece {
    /// Whether `leaves` (the hashes of the piece's blocks, the last one of the file's bytes
    /// only) hash up to this piece's root, the missing leaves being zero (BEP 52).
    pub fn matches(&self, leaves: &[Hash]) -> bool {
        leaves.len() <= self.leaves as usize
            && merkle::root(leaves, self.leaves as usize, [0; 32]) == self.hash
    }

    /// Whether `bytes`, the whole piece as the engine lays it out (padding included), is this
    /// piece.
    pub fn matches_bytes(&self, bytes: &[u8]) -> bool {
        let Some(data) = bytes.get(..self.data as usize) else {
            return false;
        };
        let leaves: Vec<Hash> = data
            .chunks(merkle::BLOCK as usize)
            .map(merkle::leaf)
            .collect();
        self.matches(&leaves)
    }
}

/// The v2 side of a v2-only torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Pieces {
    /// What every piece is checked against, by piece index.
    pub pieces: Vec<V2Piece>,
}

/// The `file tree` as a v1 `files` list: pad files (`attr` "p", path `.pad/N`) after every
/// file that ends inside a piece (`pad_after`).
/// `files::parse_files` then makes paths safe and notes what it changed, once for both kinds.
/// Returns the list and the tree's files, or the file of a single-file torrent alone.
pub(in crate::protocol::metainfo) fn as_v1_files(
    info: &Dict,
    piece_length: u64,
) -> Result<(Vec<Value>, Vec<TreeFile>), MetainfoError> {
    let tree = info
        .get(&b"file tree"[..])
        .ok_or_else(|| MetainfoError::Missing("info.file tree".into()))?;
    let files = parse_file_tree(tree).map_err(|e| MetainfoError::V2(e.to_string()))?;
    let mut list = Vec::with_capacity(files.len() * 2);
    let mut offset = 0u64;
    for f in &files {
        // A link has no data in v2; ttui makes no links, so it is an empty file here.
        let attr: String = f.attr.chars().filter(|c| *c != 'l' && *c != 'p').collect();
        let path = f.path.iter().map(|p| p.as_bytes().to_vec()).collect();
        list.push(entry(f.length, path, &attr));
        offset = offset
            .checked_add(f.length)
            .ok_or(MetainfoError::TotalOverflow)?;
        if let Some(pad) = pad_after(f.length, offset, piece_length) {
            list.push(entry(
                pad,
                vec![b".pad".to_vec(), pad.to_string().into_bytes()],
                "p",
            ));
            offset += pad;
        }
    }
    Ok((list, files))
}

/// The pad after a file of `length` that ends at `offset`: up to the next piece boundary
/// when it ends inside a piece. libtorrent 2.0 lays a v2 torrent out this way, the last file
/// included, so its last piece is a whole one and a peer asks for its blocks as such.
pub(in crate::protocol::metainfo) fn pad_after(
    length: u64,
    offset: u64,
    piece_length: u64,
) -> Option<u64> {
    let into = offset % piece_length;
    (length > 0 && into != 0).then(|| piece_length - into)
}

fn entry(length: u64, path: Vec<Vec<u8>>, attr: &str) -> Value {
    let mut d = Dict::new();
    d.insert(
        b"length".to_vec(),
        Value::Int(i64::try_from(length).unwrap_or(i64::MAX)),
    );
    d.insert(
        b"path".to_vec(),
        Value::List(path.into_iter().map(Value::Bytes).collect()),
    );
    if !attr.is_empty() {
        d.insert(b"attr".to_vec(), Value::Bytes(attr.as_bytes().to_vec()));
    }
    Value::Dict(d)
}

/// What the files' `pieces root`s and the torrent's `piece layers` give: every piece's root,
/// or the files whose layer must come from peers first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::protocol::metainfo) enum Roots {
    All(V2Pieces),
    /// Some file of more than one piece has no layer that proves its root: missing, of the
    /// wrong length or hashing to another root. libtorrent loads such a torrent, drops the
    /// wrong layer and asks peers for it; so does ttui (`layers::NeedsLayers`). A wrong layer
    /// is never trusted.
    Lacking {
        /// The layers that do prove their file's root, by root.
        good: BTreeMap<Hash, Vec<Hash>>,
        /// The files (each root once) whose layer peers must send, and why.
        lacking: Vec<LackingLayer>,
    },
}

/// Each piece's root, from the files' `pieces root`s and the torrent's `piece layers`. A
/// file of more than one piece needs its layer, and the layer must hash to the file's root;
/// a file without such a layer is listed as lacking (a magnet gets all its layers from peers
/// first, `layers.rs`, and comes here with them).
/// The forms of `piece layers` libtorrent refuses a torrent for, where a missing layer or
/// one that does not hash to its root is only dropped (and fetched from peers): a key that
/// is not a 32-byte hash, a value that is not a string, or one that is not 32 bytes for each
/// of its file's pieces. A layer of no file of the torrent is ignored, as libtorrent 2.0 does.
fn check_layers(layers: &Dict, files: &[TreeFile], piece_length: u64) -> Result<(), String> {
    for (key, value) in layers {
        if key.len() != 32 {
            return Err(format!(
                "a `piece layers` key is {} bytes long, not a 32-byte `pieces root`",
                key.len()
            ));
        }
        let Some(file) = files
            .iter()
            .find(|f| f.pieces_root.is_some_and(|r| r[..] == key[..]))
        else {
            continue;
        };
        let path = file.path.join("/");
        let Value::Bytes(v) = value else {
            return Err(format!("the layer of {:?} is not a string", shorten(&path)));
        };
        let want = merkle::layer_len(file.length, piece_length).max(1) * 32;
        if v.len() as u64 != want {
            return Err(format!(
                "the layer of {:?} holds {} bytes, its pieces need {want}",
                shorten(&path),
                v.len()
            ));
        }
    }
    Ok(())
}

pub(in crate::protocol::metainfo) fn piece_roots(
    files: &[TreeFile],
    root: &Dict,
    piece_length: u64,
) -> Result<Roots, MetainfoError> {
    let layers = match root.get(&b"piece layers"[..]) {
        Some(Value::Dict(d)) => Some(d),
        Some(_) => {
            return Err(MetainfoError::V2(
                "`piece layers` is not a dictionary".into(),
            ))
        }
        None => None,
    };
    if let Some(layers) = layers {
        check_layers(layers, files, piece_length).map_err(MetainfoError::V2)?;
    }
    let per = merkle::blocks_per_piece(piece_length);
    let mut pieces = Vec::new();
    let mut good = BTreeMap::new();
    let mut lacking: Vec<LackingLayer> = Vec::new();
    for f in files {
        let (Some(file_root), true) = (f.pieces_root, f.length > 0) else {
            continue;
        };
        let path = f.path.join("/");
        let want = merkle::layer_len(f.length, piece_length);
        if want == 0 {
            let leaves = f.length.div_ceil(merkle::BLOCK).next_power_of_two();
            pieces.push(V2Piece {
                hash: file_root,
                data: f.length as u32,
                leaves: u32::try_from(leaves).unwrap_or(u32::MAX),
            });
            continue;
        }
        let hashes = match layers.and_then(|l| l.get(&file_root[..])) {
            None => Err(format!("no piece layer for {:?}", shorten(&path))),
            Some(layer) => super::layer_hashes(f, layer, piece_length),
        };
        let hashes = match hashes {
            Ok(h) => h,
            Err(why) => {
                if !lacking.iter().any(|l| l.root == file_root) {
                    lacking.push(LackingLayer {
                        root: file_root,
                        path,
                        why,
                    });
                }
                continue;
            }
        };
        for (j, hash) in hashes.iter().enumerate() {
            let start = j as u64 * piece_length;
            pieces.push(V2Piece {
                hash: *hash,
                data: (f.length - start).min(piece_length) as u32,
                leaves: per as u32,
            });
        }
        good.insert(file_root, hashes);
    }
    if lacking.is_empty() {
        return Ok(Roots::All(V2Pieces { pieces }));
    }
    Ok(Roots::Lacking { good, lacking })
}
