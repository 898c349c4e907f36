//! BEP 52's hash messages: `hash request` (21), `hashes` (22) and `hash reject` (23). A
//! peer that knows a file only by its `pieces root` (a v2 magnet, a .torrent without
//! `piece layers`) asks for a run of one layer's hashes plus the uncle hashes that chain
//! them up to the root; it trusts them only once they hash to that root.
//!
//! The rules are libtorrent 2.0's, the peer every v2 swarm holds: a request is valid when its
//! run lies inside the layer (`validate_hash_request`), and a reply carries
//! `max(0, proof_layers - log2(next_pow2(length)) + 1)` uncle hashes after the run
//! (`hash_picker::add_hashes`). Pure: bytes and hashes in, checked values out.

use thiserror::Error;

use super::{pad, parent, Hash};

/// The longest run one request may ask for: libtorrent's cap, which with 16 KiB blocks is a
/// 128 MiB piece's worth of leaves.
pub const MAX_RUN: u32 = 8192;

/// The head every one of the three messages starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashRequest {
    /// Which file: the root of its tree.
    pub pieces_root: Hash,
    /// The layer the run is taken from: 0 is the leaves (16 KiB blocks).
    pub base_layer: u32,
    /// The first node of the run in that layer.
    pub index: u32,
    /// How many nodes the run holds.
    pub length: u32,
    /// How many layers above the run the proof reaches.
    pub proof_layers: u32,
}

/// The head's size on the wire: a root and four big-endian u32s.
pub const HEAD_LEN: usize = 32 + 4 * 4;

/// Why a request or a reply is refused. A peer whose reply is refused sent bad data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("a hash message of {0} bytes (the head alone is 48)")]
    Short(usize),
    #[error("hashes of {0} bytes, not a whole number of 32-byte hashes")]
    Ragged(usize),
    #[error("a run of {length} at {index} in layer {base_layer} lies outside the file's tree")]
    OutOfTree {
        base_layer: u32,
        index: u32,
        length: u32,
    },
    #[error("{got} hashes where the request needs {want}")]
    Count { got: usize, want: usize },
    #[error("the hashes do not lead to the file's root")]
    WrongRoot,
}

impl HashRequest {
    /// The head's bytes, as each of the three messages carries them after its id.
    pub fn encode(&self) -> [u8; HEAD_LEN] {
        let mut out = [0; HEAD_LEN];
        out[..32].copy_from_slice(&self.pieces_root);
        for (i, v) in [self.base_layer, self.index, self.length, self.proof_layers]
            .into_iter()
            .enumerate()
        {
            out[32 + 4 * i..36 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Reads the head from the start of `payload` (after the message id); the rest is what
    /// follows it (the hashes of a `hashes` message, nothing for the other two).
    pub fn decode(payload: &[u8]) -> Result<(HashRequest, &[u8]), ProofError> {
        let (head, rest) = payload
            .split_first_chunk::<HEAD_LEN>()
            .ok_or(ProofError::Short(payload.len()))?;
        let word = |i: usize| {
            let mut w = [0; 4];
            w.copy_from_slice(&head[32 + 4 * i..36 + 4 * i]);
            u32::from_be_bytes(w)
        };
        let mut pieces_root = [0; 32];
        pieces_root.copy_from_slice(&head[..32]);
        let req = HashRequest {
            pieces_root,
            base_layer: word(0),
            index: word(1),
            length: word(2),
            proof_layers: word(3),
        };
        Ok((req, rest))
    }

    /// Whether the request can be answered for a file of `leaves` leaves (its 16 KiB
    /// blocks): libtorrent's `validate_hash_request`, which is what a libtorrent peer
    /// expects of us and sends us.
    pub fn validate(&self, leaves: u64) -> Result<(), ProofError> {
        let out = || ProofError::OutOfTree {
            base_layer: self.base_layer,
            index: self.index,
            length: self.length,
        };
        if leaves == 0 || self.length == 0 || self.length > MAX_RUN {
            return Err(out());
        }
        // A file of one block has no layer above its leaves, so nothing to ask for: its
        // `pieces root` is its block's hash.
        let width = leaves.checked_next_power_of_two().ok_or_else(out)?;
        let height = width.trailing_zeros();
        if self.base_layer >= height {
            return Err(out());
        }
        let layer_size = width >> self.base_layer;
        let end = u64::from(self.index) + u64::from(self.length);
        if u64::from(self.index) >= layer_size || end > layer_size {
            return Err(out());
        }
        if self.proof_layers >= height - self.base_layer {
            return Err(out());
        }
        // A run whose length is not a power of two is proven as if padded to one, which is
        // the tree's own padding only past the file's end: such a run must reach it (as
        // libtorrent's last run of a piece layer does).
        let nodes = leaves.div_ceil(1 << self.base_layer);
        if !self.length.is_power_of_two() && end < nodes {
            return Err(out());
        }
        Ok(())
    }

    /// How many uncle hashes follow the run in a reply.
    pub fn uncles(&self) -> usize {
        let run_height = u64::from(self.length).next_power_of_two().trailing_zeros();
        (i64::from(self.proof_layers) - i64::from(run_height) + 1).max(0) as usize
    }

    /// Checks a `hashes` reply's hashes (the bytes after its head) against this request and
    /// the file's root; gives the run's hashes when they are proven. The run is padded to a
    /// power of two with the pad hash of its layer, the nodes past a file's end.
    pub fn verify(&self, leaves: u64, hashes: &[u8]) -> Result<Vec<Hash>, ProofError> {
        self.validate(leaves)?;
        if !hashes.len().is_multiple_of(32) {
            return Err(ProofError::Ragged(hashes.len()));
        }
        let hashes: Vec<Hash> = hashes
            .chunks_exact(32)
            .filter_map(|c| Hash::try_from(c).ok())
            .collect();
        let want = self.length as usize + self.uncles();
        if hashes.len() != want {
            return Err(ProofError::Count {
                got: hashes.len(),
                want,
            });
        }
        let (run, uncles) = hashes.split_at(self.length as usize);
        let width = run.len().next_power_of_two();
        if !(self.index as usize).is_multiple_of(width) {
            return Err(ProofError::OutOfTree {
                base_layer: self.base_layer,
                index: self.index,
                length: self.length,
            });
        }
        let mut node = super::root(run, width, pad(self.base_layer));
        let mut pos = u64::from(self.index) / width as u64;
        let mut layer = self.base_layer + width.trailing_zeros();
        for uncle in uncles {
            node = if pos.is_multiple_of(2) {
                parent(&node, uncle)
            } else {
                parent(uncle, &node)
            };
            pos /= 2;
            layer += 1;
        }
        let height = leaves.next_power_of_two().trailing_zeros();
        // A proof that stops below the root proves nothing to a peer that knows only the root.
        if layer != height || node != self.pieces_root {
            return Err(ProofError::WrongRoot);
        }
        Ok(run.to_vec())
    }

    /// The hashes a reply carries, from the whole `base` layer of the file's tree (as many
    /// nodes as the file has there; the rest are pads): the run, then its uncles bottom up.
    /// `None` when the request is not valid for this file.
    pub fn answer(&self, leaves: u64, base: &[Hash]) -> Option<Vec<Hash>> {
        self.validate(leaves).ok()?;
        let layer_width = (leaves.next_power_of_two() >> self.base_layer) as usize;
        let run_width = (self.length as usize).next_power_of_two();
        if base.len() > layer_width || !(self.index as usize).is_multiple_of(run_width) {
            return None;
        }
        let fill = pad(self.base_layer);
        let at = |layer: &[Hash], i: usize, fill: Hash| layer.get(i).copied().unwrap_or(fill);
        let start = self.index as usize;
        let mut out: Vec<Hash> = (start..start + self.length as usize)
            .map(|i| at(base, i, fill))
            .collect();
        // Climb from the base layer; only the nodes the file has are kept, the rest are pads.
        let mut layer: Vec<Hash> = base.to_vec();
        let mut fill = fill;
        let mut pos = start;
        for step in 0..(self.uncles() + run_width.trailing_zeros() as usize) {
            if step >= run_width.trailing_zeros() as usize {
                out.push(at(&layer, pos ^ 1, fill));
            }
            layer = layer
                .chunks(2)
                .map(|p| parent(&p[0], p.get(1).unwrap_or(&fill)))
                .collect();
            fill = parent(&fill, &fill);
            pos /= 2;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
