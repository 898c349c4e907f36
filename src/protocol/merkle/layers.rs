//! A seeder's side of BEP 52's hash requests: each file's piece layer as the torrent gives
//! it (`piece layers`), and the answer to a `hash request` built from it: the run, padded
//! past the file's end with its layer's pad hash, then the uncle hashes up to
//! `proof_layers`, exactly what `HashRequest::verify` (and libtorrent) accepts.
//!
//! Only layers at or above the piece layer are answered from here. Below it (block hashes)
//! the answer needs the piece's data: the caller decides whether to read and hash it.
//! Pure: hashes in, hashes out.

use std::collections::HashMap;
use std::sync::OnceLock;

use thiserror::Error;

use super::proof::{HashRequest, ProofError};
use super::{blocks_per_piece, pad, parent, Hash, BLOCK};

/// One file's tree as a seeder keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLayer {
    /// The file's `pieces root`.
    pub root: Hash,
    /// Its leaves: one per 16 KiB block, the last one possibly short.
    pub leaves: u64,
    /// Its piece layer, one hash per piece and no pads; empty for a file of one piece or
    /// less, whose root alone covers it.
    pub layer: Vec<Hash>,
    /// The piece layer and each layer above it up to the root, the file's own nodes only
    /// (pads are implied). Built on the first request, not at load: most seeds are never
    /// asked, and it is as big again as the layer. Later answers then cost a copy of the
    /// run and its uncles, not a climb over the whole layer.
    levels: OnceLock<Vec<Vec<Hash>>>,
}

impl FileLayer {
    /// A file of `length` bytes (more than 0) with this root and piece layer.
    pub fn new(root: Hash, length: u64, layer: Vec<Hash>) -> FileLayer {
        FileLayer {
            root,
            leaves: length.div_ceil(BLOCK),
            layer,
            levels: OnceLock::new(),
        }
    }

    /// The layers from the piece layer (`pieces` = its index above the leaves) up to the
    /// root; each node past the file's end is that layer's pad.
    fn levels(&self, pieces: u32) -> &[Vec<Hash>] {
        self.levels.get_or_init(|| {
            let mut levels = vec![self.layer.clone()];
            let mut fill = pad(pieces);
            // A piece layer of N nodes is next_pow2(N) wide; each climb halves both, so the
            // file's nodes reach 1 exactly at the root.
            while let Some(below) = levels.last().filter(|l| l.len() > 1) {
                let up = below
                    .chunks(2)
                    .map(|p| parent(&p[0], p.get(1).unwrap_or(&fill)))
                    .collect();
                fill = parent(&fill, &fill);
                levels.push(up);
            }
            levels
        })
    }
}

/// Why a request gets a `hash reject`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("no file of the torrent has this pieces root")]
    UnknownRoot,
    #[error(transparent)]
    Invalid(#[from] ProofError),
    /// Block hashes: the piece layer does not hold them, the piece's data does.
    #[error("hashes below the piece layer (layer {0})")]
    BelowPieceLayer(u32),
}

/// A torrent's files by their `pieces root`, with their piece layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceLayers {
    /// The piece layer's index above the leaves: log2 of the blocks in a piece.
    piece_layer: u32,
    files: Vec<FileLayer>,
    by_root: HashMap<Hash, usize>,
}

impl PieceLayers {
    /// The files of a torrent of `piece_length` (a power of two of at least 16 KiB). Two
    /// files with one root have one tree: the first is kept.
    pub fn new(piece_length: u64, files: Vec<FileLayer>) -> PieceLayers {
        let mut by_root = HashMap::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            by_root.entry(f.root).or_insert(i);
        }
        PieceLayers {
            piece_layer: blocks_per_piece(piece_length).trailing_zeros(),
            files,
            by_root,
        }
    }

    /// Every file, in torrent order.
    pub fn files(&self) -> &[FileLayer] {
        &self.files
    }

    /// The file piece `piece` of the torrent lies in, and the piece's number within it: a
    /// v2 torrent lays each file out from a piece boundary (padded to the next), so the
    /// files' pieces follow one another.
    pub fn piece_file(&self, piece: u32) -> Option<(&FileLayer, u32)> {
        let per = 1u64 << self.piece_layer;
        let mut first = 0u64;
        for f in &self.files {
            let n = f.leaves.div_ceil(per).max(1);
            if u64::from(piece) < first + n {
                return Some((f, u32::try_from(u64::from(piece) - first).ok()?));
            }
            first += n;
        }
        None
    }

    /// The file whose tree has this root.
    pub fn file(&self, root: &Hash) -> Option<&FileLayer> {
        self.by_root.get(root).and_then(|&i| self.files.get(i))
    }

    /// The hashes of a `hashes` reply to `req`: its run (padded past the file's end), then
    /// its uncles bottom up. Refused when no file has the root, when the request is not
    /// valid for the file (libtorrent's rules, `HashRequest::validate`, and a run aligned to
    /// its own width as `verify` needs), or when it asks below the piece layer.
    pub fn answer(&self, req: &HashRequest) -> Result<Vec<Hash>, Refusal> {
        let file = self.file(&req.pieces_root).ok_or(Refusal::UnknownRoot)?;
        req.validate(file.leaves)?;
        let run_width = req.length.next_power_of_two();
        if !req.index.is_multiple_of(run_width) {
            return Err(Refusal::Invalid(ProofError::OutOfTree {
                base_layer: req.base_layer,
                index: req.index,
                length: req.length,
            }));
        }
        // A file of one piece or less has a tree no higher than the piece layer, so every
        // valid request of it lands here too.
        if req.base_layer < self.piece_layer || file.layer.is_empty() {
            return Err(Refusal::BelowPieceLayer(req.base_layer));
        }
        let levels = file.levels(self.piece_layer);
        let base = (req.base_layer - self.piece_layer) as usize;
        // `validate` keeps the run and its highest uncle below the root, so every level
        // asked for exists; a missing one would be a pad all the same.
        let at = |level: usize, i: u64| {
            levels
                .get(level)
                .and_then(|l| l.get(usize::try_from(i).ok()?))
                .copied()
                .unwrap_or_else(|| pad(self.piece_layer + level as u32))
        };
        let start = u64::from(req.index);
        let mut out: Vec<Hash> = (start..start + u64::from(req.length))
            .map(|i| at(base, i))
            .collect();
        let first = base + run_width.trailing_zeros() as usize;
        let mut pos = start / u64::from(run_width);
        for level in first..first + req.uncles() {
            out.push(at(level, pos ^ 1));
            pos /= 2;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
