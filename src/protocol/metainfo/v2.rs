//! BEP 52: a v2-only torrent is read through `only.rs`; a hybrid whose v2 `file tree`
//! disagrees with its v1 file list is refused, as libtorrent refuses it.

use serde_bencode::value::Value;

use super::file_tree::{parse_file_tree, TreeFile};
use super::Dict;
use crate::protocol::merkle::layers::{FileLayer, PieceLayers};
use crate::protocol::merkle::{self, Hash};
use crate::protocol::text::shorten;

pub(super) mod only;

/// True when `info` is BEP 52 only: no v1 `pieces`, and a `file tree` or `meta version` 2.
pub(super) fn is_v2_only(info: &Dict) -> bool {
    let v2 = info.contains_key(&b"file tree"[..])
        || matches!(info.get(&b"meta version"[..]), Some(Value::Int(v)) if *v >= 2);
    v2 && !info.contains_key(&b"pieces"[..])
}

/// True when `info` says which version it is (`meta version`), as every v2 and hybrid
/// torrent does: its bencode is then held to the v2 rules.
pub(super) fn declares_version(info: &Dict) -> bool {
    matches!(info.get(&b"meta version"[..]), Some(Value::Int(v)) if *v > 0)
}

/// Why a hybrid's two file lists disagree, or `None` when they agree (or there is no v2
/// part). `v1` holds the non-padding files as (path below the torrent's name, length); for a
/// single-file torrent the path is the name itself, as the v2 tree has it.
pub(super) fn hybrid_mismatch(info: &Dict, mut v1: Vec<(Vec<String>, u64)>) -> Option<String> {
    let tree = info.get(&b"file tree"[..])?;
    let v2 = match parse_file_tree(tree) {
        Ok(files) => files,
        Err(e) => return Some(format!("the hybrid's v2 `file tree` is malformed: {e}")),
    };
    // Empty files hold no bytes, so only where the others go matters (libtorrent's rule).
    let mut v2: Vec<(Vec<String>, u64)> = v2
        .into_iter()
        .filter(|f| f.length > 0)
        .map(|f| (f.path, f.length))
        .collect();
    v1.retain(|f| f.1 > 0);
    v1.sort();
    v2.sort();
    if v1 == v2 {
        return None;
    }
    let first = v1
        .iter()
        .zip(&v2)
        .find(|(a, b)| a != b)
        .map(|(a, b)| {
            format!(
                "; first difference: v1 {:?} ({} bytes), v2 {:?} ({} bytes)",
                shorten(&a.0.join("/")),
                a.1,
                shorten(&b.0.join("/")),
                b.1
            )
        })
        .unwrap_or_default();
    Some(format!(
        "the hybrid's v1 and v2 file lists disagree: {} file(s) in v1, {} in v2{first}",
        v1.len(),
        v2.len()
    ))
}

/// Why a torrent's `piece layers` (beside `info`) do not prove its files' `pieces root`s, or
/// `None` when every layer given does. A layer may be missing (a peer can send it), but one
/// that is there must be as long as the file needs and hash up to the file's root: libtorrent
/// refuses a torrent whose layers do not.
pub(super) fn bad_piece_layers(info: &Dict, root: &Dict) -> Option<String> {
    let Some(Value::Dict(layers)) = root.get(&b"piece layers"[..]) else {
        return None;
    };
    let tree = info.get(&b"file tree"[..])?;
    let piece_length = match info.get(&b"piece length"[..]) {
        Some(Value::Int(n)) if *n >= merkle::BLOCK as i64 => *n as u64,
        _ => return None,
    };
    for file in parse_file_tree(tree).ok()? {
        let Some(file_root) = file.pieces_root else {
            continue;
        };
        let Some(layer) = layers.get(&file_root[..]) else {
            continue;
        };
        if let Err(why) = layer_hashes(&file, layer, piece_length) {
            return Some(why);
        }
    }
    None
}

/// The hashes of `file`'s entry in `piece layers`, once it is a string as long as the file
/// needs whose hashes lead to the file's `pieces root`; else why not, in words.
pub(super) fn layer_hashes(
    file: &TreeFile,
    layer: &Value,
    piece_length: u64,
) -> Result<Vec<Hash>, String> {
    let path = file.path.join("/");
    let name = || shorten(&path);
    let Value::Bytes(layer) = layer else {
        return Err(format!("the layer of {:?} is not a string", name()));
    };
    let want = merkle::layer_len(file.length, piece_length);
    if layer.len() as u64 != want * 32 {
        return Err(format!(
            "the layer of {:?} holds {} bytes, its {} bytes need {}",
            name(),
            layer.len(),
            file.length,
            want * 32
        ));
    }
    let hashes: Vec<Hash> = layer
        .chunks_exact(32)
        .filter_map(|c| Hash::try_from(c).ok())
        .collect();
    if Some(merkle::root_from_layer(&hashes, piece_length)) != file.pieces_root {
        return Err(format!(
            "the layer of {:?} does not hash to its `pieces root`",
            name()
        ));
    }
    Ok(hashes)
}

/// Each file's tree as a seeder serves it (`merkle::layers`), for a v2-only or hybrid torrent
/// (`None` without a `file tree`). A file whose layer is missing or wrong is left out: a
/// peer asking for it is refused, as it would be by a seeder that never had the layer.
pub(super) fn piece_layers(info: &Dict, root: &Dict, piece_length: u64) -> Option<PieceLayers> {
    let files = parse_file_tree(info.get(&b"file tree"[..])?).ok()?;
    let layers = match root.get(&b"piece layers"[..]) {
        Some(Value::Dict(d)) => Some(d),
        _ => None,
    };
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let (Some(file_root), true) = (f.pieces_root, f.length > 0) else {
            continue;
        };
        let layer = if merkle::layer_len(f.length, piece_length) == 0 {
            Vec::new()
        } else {
            let Some(Ok(hashes)) = layers
                .and_then(|l| l.get(&file_root[..]))
                .map(|layer| layer_hashes(&f, layer, piece_length))
            else {
                continue;
            };
            hashes
        };
        out.push(FileLayer::new(file_root, f.length, layer));
    }
    Some(PieceLayers::new(piece_length, out))
}
