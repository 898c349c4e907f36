use super::*;

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// 100,000 bytes of `i % 251`: six whole blocks and one of 1,696 bytes.
fn payload() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

fn leaves(data: &[u8]) -> Vec<Hash> {
    data.chunks(BLOCK as usize).map(leaf).collect()
}

/// What python3-libtorrent 2.0.8 wrote for that payload (`create_torrent` with `v2_only`,
/// then `set_piece_hashes`): the `pieces root`, and per piece length the layer's length,
/// first and last hash.
#[test]
fn agrees_with_libtorrent() {
    let leaves = leaves(&payload());
    let want_root = "505fc9a922f60ae071450b07256a4ba760612bffc38c27584ed03fd96c69841b";
    assert_eq!(
        file_root(&leaves).map(|r| hex(&r)).as_deref(),
        Some(want_root)
    );
    let cases = [
        (
            16_384,
            7,
            "4348e3b98e8a327b34ced39c1da9e67cdb4cd5e48e4d7960607a3ae403d35f0c",
            "411477fb697d41b362bc4deaf4773ed3aad5c9048760bcdc0994ce9e20dc1647",
        ),
        (
            32_768,
            4,
            "d9e13d0b676ad681164ef0b7b5910d1328ea83a047cad57e619d76bbe3a08525",
            "ef72b5ef0b29bacc8de6bc437f8a488da617d064457122b7db2c4092374151f9",
        ),
        (
            65_536,
            2,
            "2d6b546231225a7132a38ab354f03e9132e4b9141da89f1784b71ab2fb34fae3",
            "7dce88ae5df0fc3365824283648ddc110b979be8fcbe5e7bcf50848bc4d93053",
        ),
    ];
    for (piece_length, len, first, last) in cases {
        let layer = piece_layer(&leaves, piece_length);
        assert_eq!(layer.len(), len, "{piece_length}");
        assert_eq!(layer_len(100_000, piece_length), len as u64);
        assert_eq!(hex(&layer[0]), first, "{piece_length}");
        assert_eq!(hex(&layer[len - 1]), last, "{piece_length}");
        assert_eq!(hex(&root_from_layer(&layer, piece_length)), want_root);
    }
}

#[test]
fn pad_is_the_zero_tree() {
    assert_eq!(pad(0), [0; 32]);
    let one: Hash = Sha256::digest([0u8; 64]).into();
    assert_eq!(pad(1), one);
    assert_eq!(pad(2), parent(&one, &one));
    assert_eq!(root(&[], 4, [0; 32]), pad(2));
}

#[test]
fn small_trees_by_hand() {
    let l: Vec<Hash> = (0..5u8).map(|i| leaf(&[i])).collect();
    // One block: the root is its leaf.
    assert_eq!(file_root(&l[..1]), Some(l[0]));
    assert_eq!(file_root(&l[..2]), Some(parent(&l[0], &l[1])));
    // Three leaves: the fourth is zero.
    let three = parent(&parent(&l[0], &l[1]), &parent(&l[2], &[0; 32]));
    assert_eq!(file_root(&l[..3]), Some(three));
    // Five leaves pad to eight.
    let left = parent(&parent(&l[0], &l[1]), &parent(&l[2], &l[3]));
    let right = parent(&parent(&l[4], &[0; 32]), &pad(1));
    assert_eq!(file_root(&l), Some(parent(&left, &right)));
    // An empty file has no root, and no layer.
    assert_eq!(file_root(&[]), None);
    assert_eq!(layer_len(0, 16_384), 0);
}

#[test]
fn a_file_of_one_piece_or_less_has_no_layer() {
    let l = leaves(&payload());
    assert!(piece_layer(&l, 128 * 1024).is_empty());
    assert_eq!(layer_len(100_000, 128 * 1024), 0);
    assert_eq!(layer_len(131_072, 128 * 1024), 0);
    assert_eq!(layer_len(131_073, 128 * 1024), 2);
    assert!(piece_layer(&l[..1], 16_384).is_empty());
}

/// Whatever the length and piece length, the root from the piece layer (padded with zero
/// pieces) is the root from the leaves (padded with zero leaves).
#[test]
fn layer_and_leaves_give_one_root() {
    for n in [2usize, 3, 5, 7, 8, 9, 16, 17, 31, 33, 100] {
        let l: Vec<Hash> = (0..n).map(|i| leaf(&i.to_le_bytes())).collect();
        for piece_length in [16_384u64, 32_768, 65_536, 262_144] {
            let layer = piece_layer(&l, piece_length);
            let length = n as u64 * BLOCK;
            assert_eq!(layer.len() as u64, layer_len(length, piece_length), "{n}");
            if !layer.is_empty() {
                assert_eq!(
                    Some(root_from_layer(&layer, piece_length)),
                    file_root(&l),
                    "{n} leaves, {piece_length}"
                );
            }
        }
    }
}
