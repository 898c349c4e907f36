use super::super::{file_root, leaf, piece_layer, BLOCK};
use super::*;

fn leaves(n: u64, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf(&[&i.to_le_bytes()[..], &[salt]].concat()))
        .collect()
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

/// A file of `n` leaves (the last block 7 bytes short) in pieces of `per` blocks: its root
/// and the seeder's layers.
fn file(n: u64, per: u64, salt: u8) -> (Hash, Vec<Hash>, PieceLayers) {
    let l = leaves(n, salt);
    let root = file_root(&l).unwrap();
    let layer = piece_layer(&l, per * BLOCK);
    let layers = PieceLayers::new(
        per * BLOCK,
        vec![FileLayer::new(root, n * BLOCK - 7, layer.clone())],
    );
    (root, l, layers)
}

/// The file's own nodes at `base` layers above the leaves, as `HashRequest::answer` takes
/// them.
fn nodes_at(l: &[Hash], base: u32) -> Vec<Hash> {
    if base == 0 {
        return l.to_vec();
    }
    let per = 1u64 << base;
    let layer = piece_layer(l, per * BLOCK);
    if layer.is_empty() {
        vec![file_root(l).unwrap()]
    } else {
        layer
    }
}

/// Every run at or above the piece layer, at every aligned place (start, middle, end), for
/// every `proof_layers`: the full proof verifies against the root, a shorter one is its
/// prefix, and each answer is the one built from the whole base layer.
#[test]
fn answers_round_trip_for_odd_layers() {
    for per in [1u64, 2, 4, 16] {
        for n in [
            per + 1,
            3 * per,
            5 * per - 1,
            13 * per + 1,
            100 * per - 3,
            1000,
        ] {
            if n <= per {
                continue;
            }
            let (root, l, layers) = file(n, per, 1);
            let height = n.next_power_of_two().trailing_zeros();
            let pl = per.trailing_zeros();
            for base in pl..height {
                let width = (n.next_power_of_two() >> base) as u32;
                let nodes = nodes_at(&l, base);
                let mut lengths: Vec<u32> = (0..=width.trailing_zeros()).map(|k| 1 << k).collect();
                // A run that is not a power of two reaches the file's end.
                let own = nodes.len() as u32;
                if !own.is_power_of_two() && own > 1 {
                    lengths.push(own);
                }
                for length in lengths {
                    let step = length.next_power_of_two();
                    for index in (0..width).step_by(step as usize) {
                        if index + length > width {
                            continue;
                        }
                        let top = height - base - 1;
                        let full = req(root, base, index, length, top);
                        if full.validate(n).is_err() {
                            continue;
                        }
                        let hashes = layers.answer(&full).unwrap_or_else(|e| {
                            panic!("{n}/{per}: layer {base}, {length} at {index}: {e}")
                        });
                        assert_eq!(Some(&hashes), full.answer(n, &nodes).as_ref());
                        let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
                        let run = full.verify(n, &bytes).unwrap();
                        assert_eq!(run.len(), length as usize);
                        for p in 0..top {
                            let short = req(root, base, index, length, p);
                            let got = layers.answer(&short).unwrap();
                            assert_eq!(got.len(), length as usize + short.uncles());
                            assert_eq!(&got[..], &hashes[..got.len()]);
                        }
                    }
                }
            }
        }
    }
}

/// libtorrent fetches a piece layer 512 hashes at a time with the whole proof; the two runs
/// of a 1,000-piece file give the layer, then pads.
#[test]
fn a_layer_in_runs_of_512() {
    let per = 4;
    let (root, l, layers) = file(1000 * per - 3, per, 2);
    let n = l.len() as u64;
    let height = n.next_power_of_two().trailing_zeros();
    let mut got = Vec::new();
    for index in [0, 512] {
        let r = req(root, 2, index, 512, height - 3);
        let bytes: Vec<u8> = layers.answer(&r).unwrap().into_iter().flatten().collect();
        got.extend(r.verify(n, &bytes).unwrap());
    }
    assert_eq!(&got[..1000], &piece_layer(&l, per * BLOCK)[..]);
    assert!(got[1000..].iter().all(|h| *h == pad(2)));
}

#[test]
fn below_the_piece_layer_and_small_files_need_the_blocks() {
    let (root, _, layers) = file(40, 4, 3);
    assert_eq!(
        layers.answer(&req(root, 0, 0, 4, 5)),
        Err(Refusal::BelowPieceLayer(0))
    );
    assert_eq!(
        layers.answer(&req(root, 1, 0, 2, 4)),
        Err(Refusal::BelowPieceLayer(1))
    );
    // A file of one piece: no layer, every valid request is of its blocks.
    let l = leaves(3, 4);
    let small_root = file_root(&l).unwrap();
    let small = PieceLayers::new(
        4 * BLOCK,
        vec![FileLayer::new(small_root, 3 * BLOCK, vec![])],
    );
    assert_eq!(
        small.answer(&req(small_root, 0, 0, 4, 1)),
        Err(Refusal::BelowPieceLayer(0))
    );
    assert!(matches!(
        small.answer(&req(small_root, 2, 0, 1, 0)),
        Err(Refusal::Invalid(_))
    ));
}

#[test]
fn invalid_requests_are_refused() {
    let (root, _, layers) = file(40, 4, 5);
    // 40 leaves: a tree 64 wide (height 6); the piece layer (2) is 16 wide.
    assert_eq!(
        layers.answer(&req([9; 32], 2, 0, 4, 0)),
        Err(Refusal::UnknownRoot)
    );
    let invalid = |b, i, l, p| {
        matches!(
            layers.answer(&req(root, b, i, l, p)),
            Err(Refusal::Invalid(_))
        )
    };
    assert!(invalid(2, 16, 1, 0), "past the layer");
    assert!(invalid(2, 12, 8, 0), "runs past the layer");
    assert!(invalid(2, 2, 4, 0), "not aligned to its width");
    assert!(invalid(2, 0, 0, 0), "empty");
    assert!(invalid(2, 0, 4, 4), "proof past the root");
    assert!(invalid(6, 0, 1, 0), "the root's layer");
    assert!(
        invalid(2, 0, 9, 3),
        "not a power of two and short of the end"
    );
    assert!(invalid(2, u32::MAX, 1, 0), "index at the end of u32");
    assert!(layers.answer(&req(root, 2, 0, 16, 3)).is_ok());
}

#[test]
fn files_are_found_by_root() {
    let (a_root, a, _) = file(9, 2, 6);
    let (b_root, b, _) = file(20, 2, 7);
    let layers = PieceLayers::new(
        2 * BLOCK,
        vec![
            FileLayer::new(a_root, 9 * BLOCK, piece_layer(&a, 2 * BLOCK)),
            FileLayer::new(b_root, 20 * BLOCK, piece_layer(&b, 2 * BLOCK)),
        ],
    );
    let r = req(b_root, 1, 0, 16, 3);
    let bytes: Vec<u8> = layers.answer(&r).unwrap().into_iter().flatten().collect();
    assert_eq!(
        &r.verify(20, &bytes).unwrap()[..10],
        &piece_layer(&b, 2 * BLOCK)[..]
    );
    assert_eq!(layers.file(&a_root).map(|f| f.leaves), Some(9));
}

#[test]
fn pieces_map_to_their_files() {
    let per = 4;
    let big = FileLayer::new([1; 32], 10 * BLOCK, Vec::new());
    let small = FileLayer::new([2; 32], 100, Vec::new());
    let last = FileLayer::new([3; 32], 8 * BLOCK, Vec::new());
    let layers = PieceLayers::new(per * BLOCK, vec![big, small, last]);
    let at = |p| layers.piece_file(p).map(|(f, i)| (f.root[0], i));
    // Ten blocks are three pieces, a small file one, eight blocks two.
    assert_eq!(at(0), Some((1, 0)));
    assert_eq!(at(2), Some((1, 2)));
    assert_eq!(at(3), Some((2, 0)));
    assert_eq!(at(4), Some((3, 0)));
    assert_eq!(at(5), Some((3, 1)));
    assert_eq!(at(6), None);
}
