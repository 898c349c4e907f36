//! A v2-only magnet's piece layers (BEP 52). The info dictionary a magnet fetches names each
//! file by its `pieces root` only; to check pieces a client needs each longer file's piece
//! layer, which peers send as `hashes` proven against that root. Here, pure: which files
//! need a layer, the `hash request`s that fetch one (runs of at most `RUN` hashes, each
//! proven up to the file's root, as libtorrent 2.0 asks), and the .torrent made of the info
//! and the proven layers, which `Metainfo::from_bytes` then reads like any file, so a magnet
//! and a .torrent go through one loader. `layers_of` gives a loaded torrent's layers back, so
//! a magnet's metainfo is saved with them and a restart asks no peer again.
//!
//! A v2-only .torrent may lack layers too (missing, cut short, or hashing to another root):
//! libtorrent loads it, drops the wrong layers and asks peers, and so does ttui. The loader
//! then answers `MetainfoError::NeedsLayers` with a `NeedsLayers`: the torrent as far as it is
//! known, the layers that prove their roots, and the `WantedLayer`s to ask for. Once peers
//! sent those, `NeedsLayers::complete` builds the torrent through `torrent_with_layers` and
//! `Metainfo::from_bytes`, as a magnet's is built.

use std::collections::BTreeMap;

use serde_bencode::value::Value;

use super::file_tree::parse_file_tree;
pub use super::v2::only::LackingLayer;
use super::{Metainfo, MetainfoError};
use crate::protocol::bencode;
use crate::protocol::magnet::{format_magnet, Magnet};
use crate::protocol::merkle::proof::HashRequest;
use crate::protocol::merkle::{self, Hash};
use crate::protocol::text::shorten;

/// The longest run of hashes one request asks for: libtorrent asks for 512 at a time.
pub const RUN: u32 = 512;

/// The most piece-layer hashes a magnet may need in all (64 MiB of hashes): an info
/// dictionary from a peer could claim files of exabytes, and each hash is kept in memory.
pub const MAX_HASHES: u64 = 1 << 21;

/// One file whose piece layer must come from peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedLayer {
    /// The file's `pieces root`: what its layer must hash to.
    pub root: Hash,
    /// The file's path below the torrent's name, for messages.
    pub path: String,
    /// The file's leaves (16 KiB blocks), as `HashRequest::validate` and `verify` take them.
    pub leaves: u64,
    /// How many hashes the layer holds (one per piece of the file).
    pub hashes: u32,
    /// The requests that fetch the whole layer, in order.
    pub requests: Vec<HashRequest>,
}

/// The piece layers a v2-only info dictionary's files need: one per file longer than a
/// piece, each root once (two files of the same bytes share a layer). Empty for an info that
/// is not v2-only (a hybrid's v1 pieces check it) or whose files all fit in a piece.
pub fn wanted_layers(info: &[u8]) -> Result<Vec<WantedLayer>, MetainfoError> {
    let Value::Dict(dict) = bencode::decode_value(info)? else {
        return Err(MetainfoError::Bencode(bencode::BencodeError::NotADict));
    };
    if !super::v2::is_v2_only(&dict) {
        return Ok(Vec::new());
    }
    let piece_length = match dict.get(&b"piece length"[..]) {
        Some(Value::Int(n)) if *n >= merkle::BLOCK as i64 && (*n as u64).is_power_of_two() => {
            *n as u64
        }
        _ => {
            return Err(MetainfoError::V2(
                "`piece length` is not a power of two".into(),
            ))
        }
    };
    let tree = dict
        .get(&b"file tree"[..])
        .ok_or_else(|| MetainfoError::Missing("info.file tree".into()))?;
    let files = parse_file_tree(tree).map_err(|e| MetainfoError::V2(e.to_string()))?;
    let base_layer = (piece_length / merkle::BLOCK).trailing_zeros();
    let mut out: Vec<WantedLayer> = Vec::new();
    let mut total = 0u64;
    for f in files {
        let Some(root) = f.pieces_root else { continue };
        let hashes = merkle::layer_len(f.length, piece_length);
        if hashes == 0 || out.iter().any(|w| w.root == root) {
            continue;
        }
        total += hashes;
        let path = f.path.join("/");
        if total > MAX_HASHES {
            return Err(MetainfoError::V2(format!(
                "its files need more than {MAX_HASHES} piece hashes (at {:?})",
                shorten(&path)
            )));
        }
        let leaves = f.length.div_ceil(merkle::BLOCK);
        // The tree's height above the leaves; the proof climbs from the base layer to it.
        let height = leaves.next_power_of_two().trailing_zeros();
        let proof_layers = height.saturating_sub(base_layer + 1);
        let hashes = hashes as u32;
        let requests = (0..hashes)
            .step_by(RUN as usize)
            .map(|index| HashRequest {
                pieces_root: root,
                base_layer,
                index,
                length: (hashes - index).min(RUN),
                proof_layers,
            })
            .collect();
        out.push(WantedLayer {
            root,
            path,
            leaves,
            hashes,
            requests,
        });
    }
    Ok(out)
}

/// A .torrent of `info` (the exact bytes, so its hashes stay the magnet's), its trackers
/// (`announce`, the first) and `layers` (each file's piece layer by its root).
pub fn torrent_with_layers(
    info: &[u8],
    announce: Option<&str>,
    layers: &BTreeMap<Hash, Vec<Hash>>,
) -> Vec<u8> {
    let tiers: Vec<Vec<String>> = announce
        .map(|u| vec![vec![u.to_string()]])
        .unwrap_or_default();
    torrent_file(info, &tiers, &[], layers)
}

/// A .torrent of `info` (its exact bytes) with its tracker tiers (`announce`, and
/// `announce-list` when they name more than one URL: BEP 12), its piece layers (BEP 52) and
/// its web seeds (`url-list`, BEP 19): what a client exports.
pub fn torrent_file(
    info: &[u8],
    tiers: &[Vec<String>],
    web_seeds: &[String],
    layers: &BTreeMap<Hash, Vec<Hash>>,
) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(format!("{}:", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
    let size: usize = layers.values().map(|l| l.len() * 32 + 48).sum();
    let mut out = Vec::with_capacity(info.len() + size + 64);
    out.push(b'd');
    // Keys in order, as bencode wants: announce, announce-list, info, piece layers, url-list.
    let urls: Vec<&String> = tiers.iter().flatten().collect();
    if let Some(first) = urls.first() {
        put(&mut out, b"announce");
        put(&mut out, first.as_bytes());
    }
    if urls.len() > 1 {
        put(&mut out, b"announce-list");
        out.push(b'l');
        for tier in tiers.iter().filter(|t| !t.is_empty()) {
            out.push(b'l');
            for url in tier {
                put(&mut out, url.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
    }
    put(&mut out, b"info");
    out.extend_from_slice(info);
    if !layers.is_empty() {
        // A BTreeMap's roots are in order.
        put(&mut out, b"piece layers");
        out.push(b'd');
        for (root, hashes) in layers {
            put(&mut out, root);
            out.extend_from_slice(format!("{}:", hashes.len() * 32).as_bytes());
            for h in hashes {
                out.extend_from_slice(h);
            }
        }
        out.push(b'e');
    }
    if !web_seeds.is_empty() {
        put(&mut out, b"url-list");
        out.push(b'l');
        for url in web_seeds {
            put(&mut out, url.as_bytes());
        }
        out.push(b'e');
    }
    out.push(b'e');
    out
}

/// The piece layers a loaded torrent holds (`Metainfo::piece_layers`, the ones it serves),
/// by file root: every file longer than a piece of a v2-only torrent, the valid ones of a
/// hybrid. Empty for a v1 torrent.
pub fn layers_of(meta: &Metainfo) -> BTreeMap<Hash, Vec<Hash>> {
    meta.piece_layers
        .iter()
        .flat_map(|p| p.files())
        .filter(|f| !f.layer.is_empty())
        .map(|f| (f.root, f.layer.clone()))
        .collect()
}

/// A v2-only .torrent that loads only once peers send some of its files' piece layers.
/// `summary` describes it (names, sizes, pieces, hashes, trackers) but cannot check a piece
/// (`info.v2` is `None`), so it is for showing and naming only: the torrent that runs is the
/// one `complete` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsLayers {
    summary: Metainfo,
    good: BTreeMap<Hash, Vec<Hash>>,
    lacking: Vec<LackingLayer>,
    wanted: Vec<WantedLayer>,
}

impl NeedsLayers {
    /// `summary` is the torrent loaded without v2 pieces; `good` the layers that prove their
    /// roots; `lacking` (not empty) the files whose layers peers must send.
    pub(super) fn new(
        summary: Metainfo,
        good: BTreeMap<Hash, Vec<Hash>>,
        lacking: Vec<LackingLayer>,
    ) -> Result<NeedsLayers, MetainfoError> {
        let wanted: Vec<WantedLayer> = wanted_layers(&summary.info_bytes)?
            .into_iter()
            .filter(|w| lacking.iter().any(|l| l.root == w.root))
            .collect();
        Ok(NeedsLayers {
            summary,
            good,
            lacking,
            wanted,
        })
    }

    /// What the torrent is, for showing: never run it (its pieces cannot be checked).
    pub fn summary(&self) -> &Metainfo {
        &self.summary
    }

    /// The files whose layers are to be fetched, and why the torrent's own are not used.
    pub fn lacking(&self) -> &[LackingLayer] {
        &self.lacking
    }

    /// The layers to ask peers for (`hash request`s), each proven against its root.
    pub fn wanted(&self) -> &[WantedLayer] {
        &self.wanted
    }

    /// The torrent as a magnet of its v2 hash with its name and trackers: how the engine finds
    /// peers for the layers (the magnet's fetch, its BEP 9 step skipped), and what a session
    /// keeps until they arrive.
    pub fn magnet(&self) -> Magnet {
        let s = &self.summary;
        let mut trackers: Vec<String> = Vec::new();
        for url in s.trackers.iter().flatten() {
            if !trackers.contains(url) {
                trackers.push(url.clone());
            }
        }
        Magnet {
            info_hash: s.info_hash,
            v1: false,
            info_hash_v2: s.info_hash_v2,
            display_name: Some(s.info.name.clone()),
            trackers,
            peers: Vec::new(),
            select_only: None,
        }
    }

    /// `magnet` as a link.
    pub fn magnet_link(&self) -> String {
        let m = self.magnet();
        format_magnet(
            None,
            m.info_hash_v2.as_ref(),
            &self.summary.info.name,
            &m.trackers,
        )
    }

    /// One line for a log or a refusal: which files lack their layers.
    pub fn words(&self) -> String {
        let first = self
            .lacking
            .first()
            .map(|l| format!(" (first: {})", l.why))
            .unwrap_or_default();
        format!(
            "{} file(s) lack a piece layer that proves their root{first}; peers must send them",
            self.lacking.len()
        )
    }

    /// The torrent with `fetched` (proven layers by root, as `metadata::layers` gives them)
    /// added to the good ones: read by `Metainfo::from_bytes` like any file, then given back
    /// what the .torrent said beside its info (trackers, web seeds, comment), which the
    /// rebuilt file does not carry.
    pub fn complete(&self, fetched: &BTreeMap<Hash, Vec<Hash>>) -> Result<Metainfo, MetainfoError> {
        let mut all = self.good.clone();
        for l in &self.lacking {
            if let Some(layer) = fetched.get(&l.root) {
                all.insert(l.root, layer.clone());
            }
        }
        let bytes = torrent_with_layers(&self.summary.info_bytes, None, &all);
        let mut meta = Metainfo::from_bytes(&bytes)?;
        let s = &self.summary;
        meta.trackers.clone_from(&s.trackers);
        meta.web_seeds.clone_from(&s.web_seeds);
        meta.comment.clone_from(&s.comment);
        meta.created_by.clone_from(&s.created_by);
        meta.creation_date = s.creation_date;
        meta.notes.clone_from(&s.notes);
        Ok(meta)
    }
}

#[cfg(test)]
mod tests;
