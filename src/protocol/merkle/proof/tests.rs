use super::super::{file_root, leaf, piece_layer};
use super::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf(&(i as u64).to_le_bytes())).collect()
}

fn req(root: Hash, base_layer: u32, index: u32, length: u32, proof_layers: u32) -> HashRequest {
    HashRequest {
        pieces_root: root,
        base_layer,
        index,
        length,
        proof_layers,
    }
}

#[test]
fn the_head_round_trips() {
    let r = req([7; 32], 2, 512, 512, 9);
    let bytes = r.encode();
    assert_eq!(bytes.len(), HEAD_LEN);
    assert_eq!(&bytes[32..36], &2u32.to_be_bytes());
    let mut msg = bytes.to_vec();
    msg.extend_from_slice(&[1; 64]);
    let (back, rest) = HashRequest::decode(&msg).unwrap();
    assert_eq!(back, r);
    assert_eq!(rest.len(), 64);
    assert_eq!(
        HashRequest::decode(&bytes[..47]),
        Err(ProofError::Short(47))
    );
}

/// libtorrent's `validate_hash_request`, case by case, for a file of 5 leaves (a tree of
/// 8 leaves, 3 layers above them).
#[test]
fn requests_are_valid_as_libtorrent_says() {
    let ok = |b, i, l, p| req([0; 32], b, i, l, p).validate(5).is_ok();
    assert!(ok(0, 0, 8, 2));
    assert!(ok(0, 4, 4, 0));
    assert!(ok(1, 0, 4, 1));
    assert!(ok(2, 0, 2, 0));
    assert!(!ok(3, 0, 1, 0), "the root's layer is not a base");
    assert!(!ok(0, 8, 1, 0), "past the layer");
    assert!(!ok(0, 6, 4, 0), "runs past the layer");
    assert!(!ok(0, 0, 0, 0), "empty run");
    assert!(!ok(0, 0, 2, 3), "proof past the root");
    assert!(!ok(1, 0, 2, 2), "proof past the root from layer 1");
    assert!(
        req([0; 32], 0, 0, 1, 0).validate(1).is_err(),
        "one block: nothing above it"
    );
    assert!(
        req([0; 32], 0, 0, 1, 0).validate(0).is_err(),
        "an empty file has no tree"
    );
    assert!(req([0; 32], 0, 0, MAX_RUN + 1, 0)
        .validate(1 << 20)
        .is_err());
}

/// A reply built from the tree proves itself, for every run and layer of several trees, and
/// one changed hash, a missing hash or a short proof is refused.
#[test]
fn answers_verify_and_lies_do_not() {
    for n in [2usize, 3, 5, 8, 13, 64, 100] {
        let l = leaves(n);
        let root = file_root(&l).unwrap();
        let height = n.next_power_of_two().trailing_zeros();
        for base in 0..height {
            // The file's nodes at this layer (no pads), as a seeder holds them.
            let per = 1u64 << base;
            let layer = if base == 0 {
                l.clone()
            } else {
                piece_layer(&l, per * super::super::BLOCK)
            };
            let layer = if layer.is_empty() { vec![root] } else { layer };
            let width = (n.next_power_of_two() >> base) as u32;
            let mut length = 1;
            while length <= width {
                for index in (0..width).step_by(length as usize) {
                    let r = req(root, base, index, length, height - base - 1);
                    let Some(reply) = r.answer(n as u64, &layer) else {
                        panic!("{n} {base} {index} {length}: no answer")
                    };
                    let bytes: Vec<u8> = reply.iter().flatten().copied().collect();
                    let run = r.verify(n as u64, &bytes).unwrap_or_else(|e| {
                        panic!("{n} leaves, layer {base}, {length} at {index}: {e}")
                    });
                    assert_eq!(run.len(), length as usize);
                    if let Some(first) = layer.get(index as usize) {
                        assert_eq!(&run[0], first);
                    }
                    let mut bad = bytes.clone();
                    let last = bad.len() - 1;
                    bad[last] ^= 1;
                    assert_eq!(r.verify(n as u64, &bad), Err(ProofError::WrongRoot));
                    assert!(matches!(
                        r.verify(n as u64, &bytes[32..]),
                        Err(ProofError::Count { .. })
                    ));
                    assert_eq!(
                        r.verify(n as u64, &bytes[1..]),
                        Err(ProofError::Ragged(bytes.len() - 1))
                    );
                }
                length *= 2;
            }
        }
    }
}

#[test]
fn a_proof_that_stops_short_of_the_root_is_refused() {
    let l = leaves(16);
    let root = file_root(&l).unwrap();
    let full = req(root, 0, 0, 2, 3);
    let short = req(root, 0, 0, 2, 1);
    assert_eq!(full.uncles(), 3);
    assert_eq!(short.uncles(), 1);
    let reply: Vec<u8> = short
        .answer(16, &l)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(short.verify(16, &reply), Err(ProofError::WrongRoot));
}

/// libtorrent asks for the piece layer 512 hashes at a time; a file of 1,000 pieces (so a
/// layer 1,024 wide) is fetched in two runs, the second half padding.
#[test]
fn the_piece_layer_in_runs_of_512() {
    let per_piece = 4u64; // 64 KiB pieces
    let l = leaves(1000 * per_piece as usize - 3);
    let root = file_root(&l).unwrap();
    let layer = piece_layer(&l, per_piece * super::super::BLOCK);
    assert_eq!(layer.len(), 1000);
    let n = l.len() as u64;
    let height = n.next_power_of_two().trailing_zeros();
    let mut fetched = Vec::new();
    for index in [0, 512] {
        let r = req(root, 2, index, 512, height - 2 - 1);
        let reply: Vec<u8> = r.answer(n, &layer).unwrap().into_iter().flatten().collect();
        fetched.extend(r.verify(n, &reply).unwrap());
    }
    assert_eq!(&fetched[..1000], &layer[..]);
    assert!(fetched[1000..].iter().all(|h| *h == pad(2)));
}

/// Found by the `merkle_proof` fuzz target: 257 leaves of a 260-leaf file, proven as if the
/// last three were padding, could never match the root; such a run is refused up front, and
/// one that reaches the file's end is proven.
#[test]
fn a_run_not_a_power_of_two_must_reach_the_end() {
    let l = leaves(260);
    let root = file_root(&l).unwrap();
    assert!(req(root, 0, 0, 257, 8).validate(260).is_err());
    assert!(req(root, 0, 0, 257, 8).answer(260, &l).is_none());
    let l = leaves(257);
    let root = file_root(&l).unwrap();
    let r = req(root, 0, 0, 257, 8);
    let reply: Vec<u8> = r.answer(257, &l).unwrap().into_iter().flatten().collect();
    assert_eq!(r.verify(257, &reply).unwrap(), l);
}
