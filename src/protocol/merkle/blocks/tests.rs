use super::*;
use crate::protocol::merkle::{file_root, leaf, piece_layer, BLOCK};

/// A file of `blocks` 16 KiB blocks (the last `last` bytes long), block i filled with i.
fn file(blocks: usize, last: usize) -> Vec<Vec<u8>> {
    (0..blocks)
        .map(|i| {
            let n = if i + 1 == blocks {
                last
            } else {
                BLOCK as usize
            };
            vec![i as u8; n]
        })
        .collect()
}

fn leaves(f: &[Vec<u8>]) -> Vec<Hash> {
    f.iter().map(|b| leaf(b)).collect()
}

fn bytes(run: &[Hash]) -> Vec<u8> {
    run.iter().flatten().copied().collect()
}

#[test]
fn a_run_that_proves_names_the_blocks_that_differ() {
    // Ten blocks, four a piece: the last piece has two real blocks and two zero leaves.
    let good = leaves(&file(10, 5_000));
    let layer = piece_layer(&good, 4 * BLOCK);
    assert_eq!(layer.len(), 3);
    for (piece, chunk) in good.chunks(4).enumerate() {
        let mut run = chunk.to_vec();
        run.resize(4, [0; 32]);
        let mut ours = chunk.to_vec();
        assert_eq!(
            bad_blocks(&layer[piece], 4, &bytes(&run), &ours),
            Ok(vec![])
        );
        ours[1] = leaf(b"flipped");
        assert_eq!(
            bad_blocks(&layer[piece], 4, &bytes(&run), &ours),
            Ok(vec![1])
        );
        ours[0] = leaf(b"flipped too");
        assert_eq!(
            bad_blocks(&layer[piece], 4, &bytes(&run), &ours),
            Ok(vec![0, 1])
        );
    }
}

#[test]
fn a_run_that_does_not_prove_is_refused() {
    let good = leaves(&file(8, 16_384));
    let layer = piece_layer(&good, 4 * BLOCK);
    let ours = good[..4].to_vec();
    // A liar's run made to agree with its own bad block.
    let mut lie = ours.clone();
    lie[1] = leaf(b"bad");
    assert_eq!(
        bad_blocks(&layer[0], 4, &bytes(&lie), &ours),
        Err(ProofError::WrongRoot)
    );
    // The right hashes of another piece.
    assert_eq!(
        bad_blocks(&layer[0], 4, &bytes(&good[4..]), &ours),
        Err(ProofError::WrongRoot)
    );
    assert!(matches!(
        bad_blocks(&layer[0], 4, &bytes(&good[..2]), &ours),
        Err(ProofError::Count { got: 2, want: 4 })
    ));
    assert_eq!(
        bad_blocks(&layer[0], 4, &[0; 33], &ours),
        Err(ProofError::Ragged(33))
    );
}

#[test]
fn a_file_of_one_piece_is_proven_against_its_root() {
    // Three blocks in a piece of eight: the subtree is the file's own, four leaves wide.
    let good = leaves(&file(3, 100));
    let root = file_root(&good).unwrap();
    let mut run = good.clone();
    run.push([0; 32]);
    let req = request(root, 3, 0, 4).unwrap();
    assert_eq!((req.base_layer, req.index, req.length), (0, 0, 4));
    assert_eq!(req.uncles(), 0);
    let mut ours = good.clone();
    ours[2] = leaf(b"x");
    assert_eq!(bad_blocks(&root, 4, &bytes(&run), &ours), Ok(vec![2]));
}

#[test]
fn requests_are_ones_a_peer_answers() {
    let root = [7; 32];
    // Piece 2 of a 10-block file, four blocks a piece: blocks 8..12, the last two padding.
    let req = request(root, 10, 2, 4).unwrap();
    assert_eq!((req.index, req.length, req.proof_layers), (8, 4, 0));
    assert_eq!(req.validate(10), Ok(()));
    // Nothing to narrow in a piece of one block.
    assert_eq!(request(root, 10, 3, 1), None);
    // Past the file's tree.
    assert_eq!(request(root, 10, 4, 4), None);
    // The most one request may ask.
    assert!(request(root, 1 << 20, 0, 8192).is_some());
    assert_eq!(request(root, 1 << 20, 0, 16_384), None);
}
