//! BEP 47 file attributes: padding, executable, symlink; paths that collide.

use super::super::*;
use super::*;

#[test]
fn padding_files_are_marked() {
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("p"));
        set(file(r, 1), "path", path(&[".pad", "0"]));
        set(file(r, 2), "attr", bytes("x"));
        set(file(r, 0), "attr", Value::Int(1));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.padding_files, vec![1]);
    assert_eq!(m.info.files[1].path, vec![s("pack"), s(".pad"), s("0")]);
    let flags: Vec<(bool, bool)> = m
        .info
        .files
        .iter()
        .map(|f| (f.padding, f.executable))
        .collect();
    assert_eq!(flags, [(false, false), (true, false), (false, true)]);
    assert!(Metainfo::from_bytes(&multi())
        .unwrap()
        .padding_files
        .is_empty());
}

#[test]
fn padding_paths_may_repeat_and_collide() {
    // libtorrent names pad files by size: one `.pad/N` appears once per padded file. They
    // are never created, so neither a repeat nor a clash with a real path matters.
    let t = mutated(|r| {
        for i in [0, 1] {
            set(file(r, i), "attr", bytes("p"));
            set(file(r, i), "path", path(&[".pad", "16384"]));
        }
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.padding_files, vec![0, 1]);
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("p"));
        set(file(r, 1), "path", path(&["dir", "sub", "b.bin", "x"]));
    });
    assert!(Metainfo::from_bytes(&t).is_ok());
    // Without the attribute the repeat is a real file: renamed.
    let m = Metainfo::from_bytes(&mutated(|r| {
        set(file(r, 0), "attr", bytes("x"));
        for i in [0, 1] {
            set(file(r, i), "path", path(&[".pad", "16384"]));
        }
    }))
    .unwrap();
    assert_eq!(m.info.files[1].path.join("/"), "pack/.pad/16384.1");
}

#[test]
fn legacy_padding_names_and_pads_without_a_path_are_padding() {
    let t = mutated(|r| {
        set(
            file(r, 1),
            "path",
            path(&["_____padding_file_0_do_not_open"]),
        );
        file(r, 2).remove(&b"path"[..]);
        set(file(r, 2), "attr", bytes("p"));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.padding_files, vec![1, 2]);
    assert!(m.info.files[1].padding && m.info.files[2].padding);
    assert_eq!(m.info.files[2].path.join("/"), "pack/.pad/15000");
    assert_eq!(m.info.data_length(), 20_000);
    assert_eq!(m.notes.len(), 1, "{:?}", m.notes);
    assert!(
        m.notes[0].contains("is a padding file by its name"),
        "{:?}",
        m.notes
    );
    // Without `p` a missing path is still an error.
    let t = mutated(|r| {
        file(r, 2).remove(&b"path"[..]);
    });
    rejects(&t, "missing key `info.files[2].path`");
}

/// libtorrent's hybrid fixture with one byte of a.bin's piece layer changed (its other
/// test above shows the untouched one gives no note).
#[test]
fn a_hybrid_whose_piece_layer_lies_is_noted() {
    let mut t = include_bytes!("../../../../tests/fixtures/libtorrent-hybrid.torrent").to_vec();
    let at = t.windows(15).position(|w| w == b"12:piece layers").unwrap();
    // `d32:<root>64:<two hashes>`: the first byte of the first hash.
    let first = at + 15 + 1 + 35 + 3;
    t[first] ^= 1;
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.notes.len(), 1, "{:?}", m.notes);
    // Its trees are served without a.bin's (a peer asking for it is refused), b.bin's kept.
    let served = m.piece_layers.as_ref().unwrap();
    assert_eq!(served.file(&a_bin_root()), None);
    assert!(
        m.notes[0].contains("piece layers are wrong")
            && m.notes[0].contains("does not hash to its `pieces root`"),
        "{:?}",
        m.notes
    );
    // A layer of the wrong length says so.
    let mut short = include_bytes!("../../../../tests/fixtures/libtorrent-hybrid.torrent").to_vec();
    let at = at + 15 + 1 + 35;
    short.splice(at..at + 3 + 64, b"32:".iter().copied().chain([7u8; 32]));
    let m = Metainfo::from_bytes(&short).unwrap();
    assert!(m.notes[0].contains("holds 32 bytes"), "{:?}", m.notes);
}

/// A hybrid keeps its files' trees to answer hash requests, and has a second name: its v2
/// hash cut to 20 bytes.
#[test]
fn a_hybrid_serves_its_piece_layers_and_has_a_v2_name() {
    let m = Metainfo::from_bytes(include_bytes!(
        "../../../../tests/fixtures/libtorrent-hybrid.torrent"
    ))
    .unwrap();
    let v2 = m.info_hash_v2.unwrap();
    assert_eq!(
        m.hybrid_v2_hash().map(|h| h.to_vec()),
        Some(v2[..20].to_vec())
    );
    let served = m.piece_layers.as_ref().unwrap();
    // a.bin: 20,000 bytes in 16 KiB pieces, so a layer of two, as libtorrent asks for it.
    let a = served.file(&a_bin_root()).unwrap();
    assert_eq!((a.leaves, a.layer.len()), (2, 2));
    let req = crate::protocol::merkle::proof::HashRequest {
        pieces_root: a.root,
        base_layer: 0,
        index: 0,
        length: 2,
        proof_layers: 0,
    };
    // 16 KiB pieces: the piece layer is the leaves.
    let hashes: Vec<u8> = served.answer(&req).unwrap().concat();
    assert_eq!(req.verify(2, &hashes).unwrap(), a.layer);
    // A v1 or v2-only torrent has no second name.
    let v1 = Metainfo::from_bytes(&multi()).unwrap();
    assert_eq!(
        (v1.hybrid_v2_hash(), v1.piece_layers.is_none()),
        (None, true)
    );
}

/// The `pieces root` of the fixture's a.bin, read from its `piece layers` (its first key).
fn a_bin_root() -> merkle::Hash {
    let t = include_bytes!("../../../../tests/fixtures/libtorrent-hybrid.torrent");
    let at = t.windows(15).position(|w| w == b"12:piece layers").unwrap();
    merkle::Hash::try_from(&t[at + 15 + 4..at + 15 + 36]).unwrap()
}

#[test]
fn libtorrent_hybrid_with_repeated_pad_names() {
    // python3-libtorrent 2.0.8, create_torrent flags 0, 16 KiB pieces: a.bin (20000 bytes)
    // and b.bin (3616) both need 12768 bytes of padding, so `.pad/12768` appears twice.
    let m = Metainfo::from_bytes(include_bytes!(
        "../../../../tests/fixtures/libtorrent-hybrid.torrent"
    ))
    .unwrap();
    // libtorrent's info_hashes().v1: SHA-1 of the info dictionary, v2 keys included.
    assert_eq!(
        m.info_hash_hex(),
        "fec02f98b12745ade8034922b42990fd4cd6f6fd"
    );
    let files: Vec<(String, u64, bool)> = m
        .info
        .files
        .iter()
        .map(|f| (f.path.join("/"), f.length, f.padding))
        .collect();
    let expected = [
        ("hybrid-fixture/a.bin", 20_000, false),
        ("hybrid-fixture/.pad/12768", 12_768, true),
        ("hybrid-fixture/b.bin", 3_616, false),
        ("hybrid-fixture/.pad/12768", 12_768, true),
        ("hybrid-fixture/sub/c.txt", 2_000, false),
        ("hybrid-fixture/.pad/14384", 14_384, true),
    ];
    let expected: Vec<(String, u64, bool)> = expected
        .iter()
        .map(|&(p, l, pad)| (p.to_owned(), l, pad))
        .collect();
    assert_eq!(files, expected);
    assert_eq!(m.padding_files, vec![1, 3, 5]);
    assert!(
        m.notes.is_empty(),
        "its v1 and v2 parts agree: {:?}",
        m.notes
    );
    assert_eq!(m.info.total_length, 65_536);
    assert_eq!(m.info.data_length(), 20_000 + 3_616 + 2_000);
    assert_eq!(m.info.geometry().num_pieces(), 4);
}

#[test]
fn symlink_attribute_is_recorded() {
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("l"));
        set(file(r, 1), "symlink path", path(&["dir", "a.bin"]));
        set(file(r, 2), "attr", bytes("lx"));
        set(
            info(r),
            "pieces",
            Value::Bytes(hash_pieces(&[5u8; 20_000], PIECE).concat()),
        );
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    let links: Vec<Option<&str>> = m.info.files.iter().map(|f| f.symlink.as_deref()).collect();
    assert_eq!(links, [None, Some("dir/a.bin"), Some("")]);
    assert!(m.info.files[2].executable);
    assert!(
        m.notes[1].contains("has no `symlink path`"),
        "{:?}",
        m.notes
    );
}

#[test]
fn links_carry_no_payload_and_targets_stay_inside() {
    // libtorrent's symlink1.torrent: a 425-byte file and a link to it that claims 425 bytes.
    let t = mutated(|r| {
        set(file(r, 2), "attr", bytes("l"));
        set(file(r, 2), "symlink path", path(&["dir", "", ".", "a.bin"]));
        set(file(r, 1), "attr", bytes("l"));
        set(
            file(r, 1),
            "symlink path",
            path(&["..", "..", "etc", "passwd"]),
        );
        set(
            info(r),
            "pieces",
            Value::Bytes(hash_pieces(&[5u8; 20_000], PIECE).concat()),
        );
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.total_length, 20_000);
    assert_eq!(m.info.files[2].length, 0);
    // libtorrent's symlink_zero_size.torrent: a link without `length` is a link of 0 bytes;
    // a plain file without one is still refused.
    let without = |attr: &str| {
        mutated(|r| {
            set(file(r, 2), "attr", bytes(attr));
            file(r, 2).remove(&b"length"[..]);
            file(r, 1).remove(&b"length"[..]);
            set(file(r, 1), "attr", bytes("l"));
            set(
                info(r),
                "pieces",
                Value::Bytes(hash_pieces(&[5u8; 20_000], PIECE).concat()),
            );
        })
    };
    assert_eq!(
        Metainfo::from_bytes(&without("l"))
            .unwrap()
            .info
            .total_length,
        20_000
    );
    rejects(&without(""), "missing key `info.files[2].length`");
    assert_eq!(m.info.files[2].symlink.as_deref(), Some("dir/a.bin"));
    assert_eq!(m.info.files[1].symlink.as_deref(), Some(""));
    assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
    assert!(
        m.notes[0].contains("leaves the torrent's directory"),
        "{:?}",
        m.notes
    );
    assert!(
        m.notes[1].contains("its length of 15000 bytes is not payload"),
        "{:?}",
        m.notes
    );
}

#[test]
fn a_v2_only_torrent_without_its_piece_layers_and_a_disagreeing_hybrid_are_refused() {
    let leaf = |n: i64| {
        let mut l: Dict = HashMap::new();
        set(&mut l, "length", Value::Int(n));
        if n > 0 {
            set(&mut l, "pieces root", Value::Bytes(vec![1; 32]));
        }
        let mut node: Dict = HashMap::new();
        node.insert(Vec::new(), Value::Dict(l));
        Value::Dict(node)
    };
    let tree = |b_len: i64| {
        let mut dir: Dict = HashMap::new();
        set(&mut dir, "a.bin", leaf(20_000));
        let mut sub: Dict = HashMap::new();
        set(&mut sub, "b.bin", leaf(b_len));
        set(&mut dir, "sub", Value::Dict(sub));
        let mut top: Dict = HashMap::new();
        set(&mut top, "dir", Value::Dict(dir));
        set(&mut top, "empty", leaf(0));
        Value::Dict(top)
    };
    let agreeing = mutated(|r| {
        set(info(r), "meta version", Value::Int(2));
        set(info(r), "file tree", tree(15_000));
    });
    assert!(Metainfo::from_bytes(&agreeing).unwrap().notes.is_empty());
    rejects(
        &mutated(|r| {
            set(info(r), "meta version", Value::Int(2));
            set(info(r), "file tree", tree(14_999));
        }),
        "v2 torrent: the hybrid's v1 and v2 file lists disagree: 2 file(s) in v1, 2 in v2; \
         first difference: v1 \"dir/sub/b.bin\" (15000 bytes), v2 \"dir/sub/b.bin\" (14999 bytes)",
    );
    // A file node without its "" key is no file (libtorrent: "failed to parse files").
    let mut bad = tree(15_000);
    if let Value::Dict(top) = &mut bad {
        let mut flat: Dict = HashMap::new();
        set(&mut flat, "length", Value::Int(7));
        set(top, "flat", Value::Dict(flat));
    }
    let e = rejects(
        &mutated(|r| {
            set(info(r), "meta version", Value::Int(2));
            set(info(r), "file tree", bad);
        }),
        "",
    );
    assert!(
        e.to_string()
            .starts_with("v2 torrent: the hybrid's v2 `file tree` is malformed"),
        "{e}"
    );
    let e = rejects(
        &mutated(|r| {
            set(info(r), "meta version", Value::Int(2));
            set(info(r), "file tree", tree(15_000));
            info(r).remove(&b"pieces"[..]);
            info(r).remove(&b"files"[..]);
        }),
        "v2 torrent: 1 file(s) lack a piece layer that proves their root (first: no piece \
         layer for \"dir/a.bin\"); peers must send them",
    );
    // Refused by callers that cannot fetch layers; loaded by those that can.
    let MetainfoError::NeedsLayers(n) = e else {
        panic!("{e:?}")
    };
    assert_eq!(n.lacking()[0].path, "dir/a.bin");
}

#[test]
fn repeated_paths_get_a_suffix() {
    let paths = |t: Vec<u8>| -> (Vec<String>, Vec<String>) {
        let m = Metainfo::from_bytes(&t).unwrap();
        (
            m.info.files.iter().map(|f| f.path.join("/")).collect(),
            m.notes,
        )
    };
    // libtorrent's duplicate_files.torrent: the second one becomes `bar.1.txt`.
    let (p, notes) = paths(mutated(|r| {
        set(file(r, 2), "path", path(&["dir", "a.bin"]))
    }));
    assert_eq!(p, ["pack/dir/a.bin", "pack/empty", "pack/dir/a.1.bin"]);
    assert!(
        notes[0].contains("repeats another path; saved as \"pack/dir/a.1.bin\""),
        "{notes:?}"
    );
    // A file that is also a directory: the file is renamed, whichever comes first.
    let (p, _) = paths(mutated(|r| {
        set(file(r, 0), "path", path(&["dir", "a.bin", "x"]));
        set(file(r, 2), "path", path(&["dir", "a.bin"]));
    }));
    assert_eq!(p, ["pack/dir/a.bin/x", "pack/empty", "pack/dir/a.1.bin"]);
    let (p, _) = paths(mutated(|r| {
        set(file(r, 1), "path", path(&["dir", "a.bin", "x"]))
    }));
    assert_eq!(
        p,
        ["pack/dir/a.1.bin", "pack/dir/a.bin/x", "pack/dir/sub/b.bin"]
    );
    // A suffix that is taken already is skipped; names made equal by cleaning collide too.
    let (p, _) = paths(mutated(|r| {
        set(file(r, 0), "path", path(&["x.1"]));
        set(file(r, 1), "path", path(&["x"]));
        set(file(r, 2), "path", path(&["x/"]));
    }));
    assert_eq!(p, ["pack/x.1", "pack/x", "pack/x.2"]);
    // Same names in different directories are fine.
    let (p, notes) = paths(mutated(|r| {
        set(file(r, 2), "path", path(&["other", "a.bin"]))
    }));
    assert_eq!(p[2], "pack/other/a.bin");
    assert!(notes.is_empty());
}

#[test]
fn long_paths_are_refused_in_linear_time() {
    let long: Vec<&str> = std::iter::repeat_n("d", 200_000).collect();
    let start = std::time::Instant::now();
    let t = mutated(|r| set(file(r, 2), "path", path(&long)));
    rejects(&t, "cannot be created");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // Many repeats of one name cost linear time too.
    let list = (0..20_000)
        .map(|_| {
            let mut f: Dict = HashMap::new();
            set(&mut f, "length", Value::Int(1));
            set(&mut f, "path", path(&["same.txt"]));
            Value::Dict(f)
        })
        .collect();
    let t = mutated(|r| {
        set(info(r), "files", Value::List(list));
        set(
            info(r),
            "pieces",
            Value::Bytes(hash_pieces(&[0u8; 20_000], PIECE).concat()),
        );
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.info.files[19_999].path.join("/"), "pack/same.19999.txt");
    assert!(m.notes.len() <= 33);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn web_seeds_ask_for_the_torrents_own_names() {
    // A repeated path is saved under a new name but served under its own (BEP 19).
    let m = Metainfo::from_bytes(&mutated(|r| {
        set(file(r, 2), "path", path(&["dir", "a.bin"]))
    }))
    .unwrap();
    let f = &m.info.files[2];
    assert_eq!(f.path.join("/"), "pack/dir/a.1.bin");
    assert_eq!(f.url_path().join("/"), "pack/dir/a.bin");
    // An unchanged path keeps no copy.
    assert_eq!(m.info.files[0].source_path, None);
    assert_eq!(m.info.files[0].url_path().join("/"), "pack/dir/a.bin");

    // A path element made safe (a separator inside it) is served as spelled.
    let m = Metainfo::from_bytes(&mutated(|r| {
        set(file(r, 0), "path", path(&["dir", "a\\b.bin"]))
    }))
    .unwrap();
    let f = &m.info.files[0];
    assert_ne!(f.path.join("/"), "pack/dir/a\\b.bin");
    assert_eq!(f.url_path().join("/"), "pack/dir/a\\b.bin");

    // So is a name made safe.
    let m = Metainfo::from_bytes(&mutated(|r| set(info(r), "name", bytes("pa/ck")))).unwrap();
    assert_ne!(m.info.files[0].path[0], "pa/ck");
    assert_eq!(m.info.files[0].url_path()[0], "pa/ck");
}

#[test]
fn a_v2_only_single_file_is_laid_out_as_libtorrent_does_and_checked_by_its_tree() {
    use crate::protocol::merkle;
    // 20,000 bytes in 16 KiB pieces: two pieces, the second 3,616 bytes of data then a pad
    // to the piece's end (libtorrent's layout: its last piece is a whole one).
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 249) as u8).collect();
    let leaves: Vec<merkle::Hash> = data.chunks(16_384).map(merkle::leaf).collect();
    let pieces_root = merkle::file_root(&leaves).unwrap();
    let mut leaf_dict: Dict = HashMap::new();
    set(&mut leaf_dict, "length", Value::Int(20_000));
    set(
        &mut leaf_dict,
        "pieces root",
        Value::Bytes(pieces_root.to_vec()),
    );
    let mut node: Dict = HashMap::new();
    node.insert(Vec::new(), Value::Dict(leaf_dict));
    let mut tree: Dict = HashMap::new();
    set(&mut tree, "one.bin", Value::Dict(node));
    let mut info: Dict = HashMap::new();
    set(&mut info, "file tree", Value::Dict(tree));
    set(&mut info, "meta version", Value::Int(2));
    set(&mut info, "name", bytes("one.bin"));
    set(&mut info, "piece length", Value::Int(16_384));
    let info_bytes = serde_bencode::to_bytes(&Value::Dict(info.clone())).unwrap();
    let mut layers: Dict = HashMap::new();
    layers.insert(pieces_root.to_vec(), Value::Bytes(leaves.concat()));
    let mut root: Dict = HashMap::new();
    set(&mut root, "info", Value::Dict(info));
    set(&mut root, "piece layers", Value::Dict(layers.clone()));
    let m = Metainfo::from_bytes(&serde_bencode::to_bytes(&Value::Dict(root.clone())).unwrap())
        .unwrap();

    let v2: [u8; 32] = sha2::Sha256::digest(&info_bytes).into();
    assert_eq!(m.info_hash_v2, Some(v2));
    assert_eq!(
        m.info_hash[..],
        v2[..20],
        "named by its v2 hash, cut to 20 bytes"
    );
    assert!(m.info.single_file);
    assert_eq!(m.info.total_length, 32_768);
    assert_eq!(m.info.data_length(), 20_000);
    assert_eq!(m.padding_files, vec![1]);
    assert_eq!(m.info.num_pieces(), 2);
    let mut second = data[16_384..].to_vec();
    second.resize(16_384, 0);
    assert!(m.info.piece_matches(0, &data[..16_384]));
    assert!(m.info.piece_matches(1, &second));
    second[0] ^= 1;
    assert!(!m.info.piece_matches(1, &second));

    // A layer that does not lead to the root is dropped, never trusted: peers must send it.
    layers.insert(pieces_root.to_vec(), Value::Bytes(vec![7; 64]));
    set(&mut root, "piece layers", Value::Dict(layers));
    rejects(
        &serde_bencode::to_bytes(&Value::Dict(root)).unwrap(),
        "(first: the layer of \"one.bin\" does not hash to its `pieces root`); peers must send",
    );
}

#[test]
fn keys_out_of_order_are_refused_in_a_v2_info_only() {
    let torrent = |extra: &[u8]| {
        let mut info = b"d6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:".to_vec();
        info.extend_from_slice(&[7; 20]);
        // Out of order after `pieces`, as libtorrent's corpus has a `file tree`.
        info.extend_from_slice(extra);
        info.extend_from_slice(b"1:ai1ee");
        let mut t = b"d4:info".to_vec();
        t.extend_from_slice(&info);
        t.push(b'e');
        t
    };
    // v1: tolerated, as libtorrent and Transmission do.
    assert!(Metainfo::from_bytes(&torrent(b"")).is_ok());
    rejects(
        &torrent(b"12:meta versioni2e"),
        "v2 torrent: the info dictionary's keys are out of order at byte",
    );
}
