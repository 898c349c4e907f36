//! BEP 52's hash trees: each file of a v2 torrent is a binary SHA-256 tree whose leaves are
//! the hashes of its 16 KiB blocks (the last one may be short), padded with zero leaves to a
//! power of two. Its root is the file's `pieces root`; the layer whose nodes each cover one
//! piece is its entry in `piece layers`. Pure: hashes in, hashes out.
//!
//! SHA-256 comes from RustCrypto's `sha2`, the same family as the `sha1` ttui already uses:
//! it picks the CPU's SHA extensions (SHA-NI) at run time through `cpufeatures` and falls back
//! to portable code elsewhere, so one build is fast on the machines that have them.

use sha2::{Digest, Sha256};

pub mod blocks;
pub mod layers;
pub mod proof;

/// One node of a tree.
pub type Hash = [u8; 32];

/// A leaf covers this many bytes of a file.
pub const BLOCK: u64 = 16 * 1024;

/// SHA-256 of the two children, left first.
pub fn parent(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// SHA-256 of one block's bytes: a leaf.
pub fn leaf(block: &[u8]) -> Hash {
    Sha256::digest(block).into()
}

/// The root of a tree of `height` levels above leaves that are all zero: what stands for the
/// part of a tree past a file's end. `pad(0)` is the zero leaf itself.
pub fn pad(height: u32) -> Hash {
    pad_from([0; 32], height)
}

/// The root over `nodes` as the leftmost nodes of a layer `width` wide, the rest of the layer
/// being `filler`. `width` is a power of two at least `nodes.len()` (a zero width or an empty
/// `nodes` gives `filler`).
///
/// Memory is one layer at a time, halved as it goes up; past the given nodes the filler's
/// own tree is used instead of hashing it node by node.
pub fn root(nodes: &[Hash], width: usize, filler: Hash) -> Hash {
    debug_assert!(width == 0 || width.is_power_of_two());
    debug_assert!(nodes.len() <= width.max(1));
    let mut layer: Vec<Hash> = nodes.to_vec();
    let mut fill = filler;
    let mut width = width.max(1);
    if layer.is_empty() {
        return pad_from(filler, width.trailing_zeros());
    }
    while width > 1 {
        if layer.len() % 2 == 1 {
            layer.push(fill);
        }
        layer = layer
            .chunks_exact(2)
            .map(|p| parent(&p[0], &p[1]))
            .collect();
        fill = parent(&fill, &fill);
        width /= 2;
    }
    layer[0]
}

/// `filler` raised `height` levels: the root of a tree whose every leaf is `filler`.
fn pad_from(filler: Hash, height: u32) -> Hash {
    let mut h = filler;
    for _ in 0..height {
        h = parent(&h, &h);
    }
    h
}

/// A file's `pieces root` from its leaves (its block hashes, in order). An empty file has
/// no root (BEP 52: it has no `pieces root` key).
pub fn file_root(leaves: &[Hash]) -> Option<Hash> {
    if leaves.is_empty() {
        return None;
    }
    Some(root(leaves, leaves.len().next_power_of_two(), [0; 32]))
}

/// The leaves one piece covers: `piece_length` is a power of two of at least 16 KiB.
pub fn blocks_per_piece(piece_length: u64) -> usize {
    usize::try_from((piece_length / BLOCK).max(1)).unwrap_or(usize::MAX)
}

/// A file's entry in `piece layers`: the root of each piece's subtree, the last one padded
/// with zero leaves. A file of one piece or less has none (its `pieces root` covers it).
pub fn piece_layer(leaves: &[Hash], piece_length: u64) -> Vec<Hash> {
    let per = blocks_per_piece(piece_length);
    if leaves.len() <= per {
        return Vec::new();
    }
    leaves.chunks(per).map(|c| root(c, per, [0; 32])).collect()
}

/// The `pieces root` that a `piece layers` entry implies: its hashes padded, to a power of
/// two, with the root of a piece of zero leaves. Checking a layer from a .torrent or a peer
/// is comparing this with the file's `pieces root`.
pub fn root_from_layer(layer: &[Hash], piece_length: u64) -> Hash {
    let per = blocks_per_piece(piece_length);
    root(
        layer,
        layer.len().next_power_of_two(),
        pad(per.trailing_zeros()),
    )
}

/// How many hashes a file's piece layer holds, or 0 when its `pieces root` alone covers it.
pub fn layer_len(length: u64, piece_length: u64) -> u64 {
    let piece_length = piece_length.max(BLOCK);
    if length <= piece_length {
        0
    } else {
        length.div_ceil(piece_length)
    }
}

#[cfg(test)]
mod tests;
