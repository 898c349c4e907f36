//! Narrowing a failed v2 piece to its bad blocks (BEP 52). A piece that fails its check says
//! only that some block of it is wrong; a peer's `hashes` reply for the piece's block hashes
//! (layer 0, one run as wide as the piece's subtree) says which, once the run hashes up to
//! the piece's root we already know: no uncle hashes are needed, so the request asks for
//! none (`proof_layers` 0), and the proof is the run alone. libtorrent asks the same after a
//! piece fails, to find the peer that sent the bad block. Pure: hashes in, block numbers out.

use super::proof::{HashRequest, ProofError};
use super::{root, Hash};

/// The request for the block hashes of a piece: of the file whose tree has root
/// `pieces_root` and `file_leaves` leaves, its piece `piece_in_file` whose subtree is `width`
/// leaves wide (a power of two). None when there is nothing to narrow (a piece of one
/// block) or the run is not one a peer would answer (`HashRequest::validate`).
pub fn request(
    pieces_root: Hash,
    file_leaves: u64,
    piece_in_file: u32,
    width: u32,
) -> Option<HashRequest> {
    if width < 2 || !width.is_power_of_two() {
        return None;
    }
    let req = HashRequest {
        pieces_root,
        base_layer: 0,
        index: piece_in_file.checked_mul(width)?,
        length: width,
        proof_layers: 0,
    };
    req.validate(file_leaves).ok().map(|()| req)
}

/// The reply's hashes (the bytes after its head) as leaves, proven against the piece's root
/// `piece_hash` (its subtree `width` leaves wide); then the blocks whose leaf as we hashed it
/// (`ours`, the file's blocks in the piece only) differs from the proven one, in order.
/// A reply that does not prove is the peer's bad data.
pub fn bad_blocks(
    piece_hash: &Hash,
    width: u32,
    reply: &[u8],
    ours: &[Hash],
) -> Result<Vec<u32>, ProofError> {
    if !reply.len().is_multiple_of(32) {
        return Err(ProofError::Ragged(reply.len()));
    }
    let run: Vec<Hash> = reply
        .chunks_exact(32)
        .filter_map(|c| Hash::try_from(c).ok())
        .collect();
    if run.len() != width as usize || ours.len() > run.len() {
        return Err(ProofError::Count {
            got: run.len(),
            want: width as usize,
        });
    }
    // Past the file's end the leaves are zero (BEP 52's padding): a run proven against the
    // root carries them as such.
    if root(&run, run.len().next_power_of_two(), [0; 32]) != *piece_hash {
        return Err(ProofError::WrongRoot);
    }
    Ok(ours
        .iter()
        .zip(&run)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i as u32)
        .collect())
}

#[cfg(test)]
mod tests;
