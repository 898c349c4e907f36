use super::*;

pub(super) const PIECE: u32 = 16 * 1024;

pub(super) fn s(v: &str) -> String {
    v.to_owned()
}

/// A valid multi-file torrent: 20 000 + 0 + 15 000 bytes → 3 pieces of 16 KiB.
pub(super) fn multi() -> Vec<u8> {
    let files = vec![
        (vec![s("dir"), s("a.bin")], 20_000),
        (vec![s("empty")], 0),
        (vec![s("dir"), s("sub"), s("b.bin")], 15_000),
    ];
    let hashes = hash_pieces(&[5u8; 35_000], PIECE);
    let trackers = vec![vec![s("http://127.0.0.1:6969/announce")]];
    encode_torrent("pack", &files, PIECE, &hashes, &trackers, false, None)
}

pub(super) fn decode(bytes: &[u8]) -> Dict {
    match bencode::decode_value(bytes).unwrap() {
        Value::Dict(d) => d,
        _ => panic!("not a dict"),
    }
}

/// Re-encodes `multi()` after `f` changed its top-level dictionary.
pub(super) fn mutated(f: impl FnOnce(&mut Dict)) -> Vec<u8> {
    let mut root = decode(&multi());
    f(&mut root);
    bencode::encode_value(&Value::Dict(root))
}

pub(super) fn info(root: &mut Dict) -> &mut Dict {
    match root.get_mut(&b"info"[..]) {
        Some(Value::Dict(d)) => d,
        _ => panic!("no info"),
    }
}

pub(super) fn file(root: &mut Dict, i: usize) -> &mut Dict {
    match info(root).get_mut(&b"files"[..]) {
        Some(Value::List(l)) => match l.get_mut(i) {
            Some(Value::Dict(d)) => d,
            _ => panic!("no file {i}"),
        },
        _ => panic!("no files"),
    }
}

pub(super) fn set(d: &mut Dict, key: &str, v: Value) {
    d.insert(key.as_bytes().to_vec(), v);
}

pub(super) fn bytes(v: &str) -> Value {
    Value::Bytes(v.as_bytes().to_vec())
}

pub(super) fn path(components: &[&str]) -> Value {
    Value::List(components.iter().map(|c| bytes(c)).collect())
}

/// Parsing must fail, and the message must be one line naming `needle`.
pub(super) fn rejects(input: &[u8], needle: &str) -> MetainfoError {
    let err = Metainfo::from_bytes(input).expect_err("accepted a bad torrent");
    let msg = err.to_string();
    assert!(msg.contains(needle), "{msg:?} does not mention {needle:?}");
    assert!(!msg.contains('\n'), "{msg:?} is not one line");
    err
}

#[test]
fn multi_file_layout() {
    let m = Metainfo::from_bytes(&multi()).unwrap();
    let info = &m.info;
    assert!(!info.single_file);
    assert_eq!(info.name, "pack");
    assert_eq!(info.total_length, 35_000);
    assert_eq!(info.num_pieces(), 3);
    assert_eq!(info.piece_len(0), PIECE);
    assert_eq!(info.piece_len(2), 35_000 - 2 * PIECE);
    assert_eq!(info.piece_len(3), 0);
    let layout: Vec<(String, u64, u64)> = info
        .files
        .iter()
        .map(|f| (f.path.join("/"), f.length, f.offset))
        .collect();
    assert_eq!(
        layout,
        vec![
            (s("pack/dir/a.bin"), 20_000, 0),
            (s("pack/empty"), 0, 20_000),
            (s("pack/dir/sub/b.bin"), 15_000, 20_000),
        ]
    );
    assert_eq!(
        info.files[2].relative_path(),
        PathBuf::from("pack/dir/sub/b.bin")
    );
    assert_eq!(m.trackers, vec![vec![s("http://127.0.0.1:6969/announce")]]);
    assert_eq!(
        m.created_by.as_deref(),
        Some(concat!("ttui ", env!("CARGO_PKG_VERSION")))
    );
    assert!(!info.private);
    assert_eq!(info.source, None);
    let span = bencode::find_info_span(&multi()).unwrap();
    let expected: InfoHash = Sha1::digest(&multi()[span]).into();
    assert_eq!(m.info_hash, expected);
}

#[test]
fn single_file_private_with_source_round_trips() {
    let data = vec![9u8; 40_000];
    let hashes = hash_pieces(&data, PIECE);
    let t = encode_torrent(
        "x.iso",
        &[(vec![], 40_000)],
        PIECE,
        &hashes,
        &[],
        true,
        Some("SRC"),
    );
    let m = Metainfo::from_bytes(&t).unwrap();
    assert!(m.info.single_file && m.info.private);
    assert_eq!(m.info.source.as_deref(), Some("SRC"));
    assert_eq!(m.info.pieces, hashes);
    assert_eq!(m.info.piece_hash(2), hashes.get(2));
    assert_eq!(m.info.piece_hash(3), None);
    assert_eq!(
        m.info.files,
        vec![FileEntry::new(vec![s("x.iso")], 40_000, 0)]
    );
    assert!(m.trackers.is_empty());
    // `private` and `source` are part of the hashed bytes: dropping them changes the hash.
    let public = encode_torrent(
        "x.iso",
        &[(vec![], 40_000)],
        PIECE,
        &hashes,
        &[],
        false,
        None,
    );
    assert_ne!(
        Metainfo::from_bytes(&public).unwrap().info_hash,
        m.info_hash
    );
}

#[test]
fn hash_covers_raw_bytes_with_unknown_keys_and_unsorted_order() {
    // Hand-written: `name` before `length` (unsorted) and an unknown key with a nested
    // value. A decode/re-encode would sort the keys and hash differently.
    let pieces = Sha1::digest(b"abc");
    let build = |source: &[u8]| {
        let info = [
            &b"d4:name3:abc6:lengthi3e12:piece lengthi16384e6:pieces20:"[..],
            &pieces,
            b"7:x-extrad1:ali1ei2eee6:source",
            source,
            b"e",
        ]
        .concat();
        let torrent = [&b"d8:announce9:http://x/4:info"[..], &info, b"e"].concat();
        (info, torrent)
    };
    // `source` mistyped as an integer is rejected...
    rejects(&build(b"i7e").1, "info.source");
    // ...so make it a string and check the hash.
    let (info, t) = build(b"1:S");
    let m = Metainfo::from_bytes(&t).unwrap();
    let raw: InfoHash = Sha1::digest(&info).into();
    assert_eq!(m.info_hash, raw);
    let Value::Dict(decoded) = bencode::decode_value(&info).unwrap() else {
        panic!()
    };
    let reencoded: InfoHash = Sha1::digest(bencode::encode_value(&Value::Dict(decoded))).into();
    assert_ne!(
        m.info_hash, reencoded,
        "the test input must not be canonical"
    );
    assert_eq!(m.info.source.as_deref(), Some("S"));
}

#[test]
fn pinned_real_torrents() {
    let cases: [(&[u8], &str, u64, u32, bool); 3] = [
        (
            include_bytes!("../../../tests/fixtures/mktorrent-multi.torrent"),
            "0c2d6662f641d01d2346c00c1126a48456b92495",
            70_017,
            3,
            false,
        ),
        (
            include_bytes!("../../../tests/fixtures/libtorrent-private-source.torrent"),
            "aab48b1e6b4c9647ce3d9a293f404e7dcb627cb7",
            50_000,
            4,
            true,
        ),
        (
            include_bytes!("../../../tests/fixtures/libtorrent-hybrid-private-source.torrent"),
            "ec2d78d3df6148f3ecaa39d9678094aca42b9195",
            50_000,
            4,
            true,
        ),
    ];
    for (bytes, hash, total, pieces, private) in cases {
        let m = Metainfo::from_bytes(bytes).unwrap();
        assert_eq!(m.info_hash_hex(), hash);
        assert_eq!(m.info.total_length, total);
        assert_eq!(m.info.num_pieces(), pieces);
        assert_eq!(m.info.private, private);
    }
    let m = Metainfo::from_bytes(include_bytes!(
        "../../../tests/fixtures/mktorrent-multi.torrent"
    ))
    .unwrap();
    assert_eq!(
        m.trackers,
        vec![
            vec![
                s("http://127.0.0.1:6969/announce"),
                s("udp://127.0.0.1:6969")
            ],
            vec![s("http://127.0.0.2:6969/announce")]
        ]
    );
    let paths: Vec<String> = m.info.files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(
        paths,
        [
            "fixture-pack/a.txt",
            "fixture-pack/sub/b.bin",
            "fixture-pack/sub/deeper/c"
        ]
    );
    assert_eq!(m.comment.as_deref(), Some("fixture for ttui"));
    assert_eq!(m.creation_date, None);
    let m = Metainfo::from_bytes(include_bytes!(
        "../../../tests/fixtures/libtorrent-private-source.torrent"
    ))
    .unwrap();
    assert_eq!(m.info.source.as_deref(), Some("TTUI-FIXTURE"));
    assert!(m.info.single_file);
}

#[test]
fn not_bencode_or_not_a_torrent() {
    rejects(b"", "empty input");
    rejects(b"hello", "not bencode");
    // Bytes after the dictionary are ignored and noted; a broken dictionary is not.
    let m = Metainfo::from_bytes(&[&multi()[..], b"\n"].concat()).unwrap();
    assert_eq!(
        m.info_hash,
        Metainfo::from_bytes(&multi()).unwrap().info_hash
    );
    assert_eq!(
        m.notes,
        ["1 byte(s) after the end of the torrent's dictionary are ignored"]
    );
    assert!(Metainfo::from_bytes(&multi()).unwrap().notes.is_empty());
    let m = Metainfo::from_bytes(&[&multi()[..], b"garbage"].concat()).unwrap();
    assert!(m.notes[0].starts_with("7 byte(s)"), "{:?}", m.notes);
    rejects(&multi()[..multi().len() - 1], "not bencode");
    rejects(b"d4:infodee\xff", "missing key `info.name`");
    rejects(b"li1ee", "not a bencoded dictionary");
    rejects(b"d8:announce1:xe", "missing key `info`");
    rejects(b"d4:info3:abce", "`info` is not a dictionary");
}

#[test]
fn missing_keys() {
    for key in ["name", "piece length", "pieces"] {
        rejects(
            &mutated(|r| {
                info(r).remove(key.as_bytes());
            }),
            &format!("missing key `info.{key}`"),
        );
    }
    rejects(
        &mutated(|r| {
            file(r, 1).remove(&b"length"[..]);
        }),
        "missing key `info.files[1].length`",
    );
    rejects(
        &mutated(|r| {
            file(r, 2).remove(&b"path"[..]);
        }),
        "missing key `info.files[2].path`",
    );
    let e = rejects(
        &mutated(|r| {
            info(r).remove(&b"files"[..]);
        }),
        "neither `length` nor `files`",
    );
    assert_eq!(e, MetainfoError::NeitherLengthNorFiles);
    rejects(
        &mutated(|r| set(info(r), "length", Value::Int(35_000))),
        "both `length` and `files`",
    );
}

#[test]
fn mistyped_keys() {
    type Edit = Box<dyn Fn(&mut Dict)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|r| set(r, "info", Value::List(vec![]))),
            "`info` is not a dictionary",
        ),
        (
            Box::new(|r| set(info(r), "name", Value::Int(1))),
            "`info.name` must be a string, found an integer",
        ),
        (
            Box::new(|r| set(info(r), "piece length", bytes("16384"))),
            "`info.piece length` must be an integer, found a string",
        ),
        (
            Box::new(|r| set(info(r), "pieces", Value::List(vec![]))),
            "`info.pieces` must be a string, found a list",
        ),
        (
            Box::new(|r| set(info(r), "files", Value::Dict(HashMap::new()))),
            "`info.files` must be a list, found a dictionary",
        ),
        (
            Box::new(|r| set(info(r), "private", bytes("1"))),
            "`info.private` must be an integer",
        ),
        (
            Box::new(|r| set(file(r, 0), "length", bytes("1"))),
            "`info.files[0].length` must be an integer",
        ),
        (
            Box::new(|r| set(file(r, 0), "path", bytes("a"))),
            "`info.files[0].path` must be a list",
        ),
        (
            Box::new(|r| set(file(r, 0), "path", Value::List(vec![Value::Int(1)]))),
            "`info.files[0].path[0]` must be a string",
        ),
        (
            Box::new(|r| {
                let Some(Value::List(l)) = info(r).get_mut(&b"files"[..]) else {
                    panic!()
                };
                l.push(Value::Int(4));
            }),
            "`info.files[3]` must be a dictionary",
        ),
        (
            Box::new(|r| set(r, "announce", Value::Int(1))),
            "`announce` must be a string",
        ),
        (
            Box::new(|r| set(r, "announce-list", bytes("x"))),
            "`announce-list` must be a list",
        ),
        (
            Box::new(|r| set(r, "announce-list", Value::List(vec![bytes("x")]))),
            "`announce-list[0]` must be a list",
        ),
        (
            Box::new(|r| {
                set(
                    r,
                    "announce-list",
                    Value::List(vec![Value::List(vec![Value::Int(1)])]),
                )
            }),
            "`announce-list[0][0]` must be a string",
        ),
    ];
    for (f, needle) in cases {
        rejects(&mutated(f), needle);
    }
}

#[test]
fn pieces_and_lengths() {
    let e = rejects(
        &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 59]))),
        "`info.pieces` is 59 bytes long, not a multiple of 20",
    );
    assert_eq!(e, MetainfoError::PiecesNotMultipleOf20(59));
    rejects(
        &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 40]))),
        "holds 2 hashes, but 35000 bytes in pieces of 16384 bytes need 3",
    );
    rejects(
        &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![0; 80]))),
        "holds 4 hashes",
    );
    rejects(
        &mutated(|r| set(info(r), "pieces", Value::Bytes(vec![]))),
        "holds 0 hashes",
    );
    rejects(
        &mutated(|r| set(info(r), "piece length", Value::Int(0))),
        "`info.piece length` must be positive, found 0",
    );
    rejects(
        &mutated(|r| set(info(r), "piece length", Value::Int(-16384))),
        "`info.piece length` must be positive, found -16384",
    );
    rejects(
        &mutated(|r| set(info(r), "piece length", Value::Int(512 << 20))),
        "`info.piece length` is 536870912 bytes, more than the limit of 536854528",
    );
    rejects(
        &mutated(|r| set(file(r, 0), "length", Value::Int(-1))),
        "`info.files[0].length` must not be negative, found -1",
    );
    rejects(
        &mutated(|r| {
            set(file(r, 0), "length", Value::Int(i64::MAX));
            set(file(r, 2), "length", Value::Int(i64::MAX));
            set(file(r, 1), "length", Value::Int(i64::MAX));
        }),
        "overflows",
    );
    // Every file empty: legal files, but nothing to download.
    let e = rejects(
        &mutated(|r| {
            for i in 0..3 {
                set(file(r, i), "length", Value::Int(0));
            }
            set(info(r), "pieces", Value::Bytes(vec![]));
        }),
        "total length is 0",
    );
    assert_eq!(e, MetainfoError::EmptyTotal);

    // Single file: zero and negative length.
    let single = |len: i64| {
        mutated(|r| {
            let i = info(r);
            i.remove(&b"files"[..]);
            set(i, "length", Value::Int(len));
        })
    };
    rejects(&single(0), "`info.length` must be positive, found 0");
    rejects(&single(-5), "`info.length` must be positive, found -5");
    assert_eq!(
        Metainfo::from_bytes(&single(35_000))
            .unwrap()
            .info
            .total_length,
        35_000
    );
}

#[test]
fn piece_length_at_the_limit_is_accepted() {
    let t = mutated(|r| {
        set(info(r), "piece length", Value::Int(MAX_PIECE_LENGTH as i64));
        set(info(r), "pieces", Value::Bytes(vec![1; 20]));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(u64::from(m.info.piece_length), MAX_PIECE_LENGTH);
    assert_eq!(m.info.piece_len(0), 35_000);
}

#[test]
fn tracker_tiers() {
    let list = |tiers: &[&[&str]]| {
        Value::List(
            tiers
                .iter()
                .map(|t| Value::List(t.iter().map(|u| bytes(u)).collect()))
                .collect(),
        )
    };
    let trackers = |f: &dyn Fn(&mut Dict)| {
        let t = mutated(|r| f(r));
        Metainfo::from_bytes(&t).unwrap().trackers
    };
    // announce-list wins; empty tiers and urls dropped; duplicates removed across tiers.
    assert_eq!(
        trackers(&|r| set(
            r,
            "announce-list",
            list(&[
                &["udp://a", " ", "udp://b"],
                &[],
                &["udp://a", "http://c "],
                &[""]
            ])
        )),
        vec![vec![s("udp://a"), s("udp://b")], vec![s("http://c")]]
    );
    // An announce-list with nothing usable falls back to announce.
    assert_eq!(
        trackers(&|r| set(r, "announce-list", list(&[&[], &[""]]))),
        vec![vec![s("http://127.0.0.1:6969/announce")]]
    );
    assert_eq!(
        trackers(&|r| {
            r.remove(&b"announce-list"[..]);
            set(r, "announce", bytes(""));
        }),
        Vec::<Vec<String>>::new()
    );
}

#[test]
fn descriptive_keys_are_lenient() {
    let t = mutated(|r| {
        set(r, "comment", Value::Int(3));
        set(r, "created by", Value::Bytes(vec![b'a', 0xff]));
        set(r, "creation date", bytes("yesterday"));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.comment, None);
    assert_eq!(m.created_by.as_deref(), Some("a\u{fffd}"));
    assert_eq!(m.creation_date, None);
}

#[test]
fn truncated_or_corrupted_input_never_panics() {
    let t = include_bytes!("../../../tests/fixtures/mktorrent-multi.torrent");
    for cut in 0..t.len() {
        assert!(
            Metainfo::from_bytes(&t[..cut]).is_err(),
            "prefix {cut} accepted"
        );
    }
    // Every single-byte change to a few telling values: must give Ok or Err, never panic.
    let mut copy = t.to_vec();
    for i in 0..copy.len() {
        let orig = copy[i];
        for b in [b'0', b'9', b'e', b'd', b'l', b'i', b':', b'-', 0xff] {
            copy[i] = b;
            let _ = Metainfo::from_bytes(&copy);
        }
        copy[i] = orig;
    }
}

#[test]
fn url_list_as_one_string_or_a_list_skips_what_is_not_a_web_url() {
    let m = Metainfo::from_bytes(&multi()).unwrap();
    assert!(m.web_seeds.is_empty());
    let one = mutated(|r| {
        r.insert(
            b"url-list".to_vec(),
            Value::Bytes(b"http://127.0.0.1:8000/files/".to_vec()),
        );
    });
    let m = Metainfo::from_bytes(&one).unwrap();
    assert_eq!(m.web_seeds, vec![s("http://127.0.0.1:8000/files/")]);
    let list = mutated(|r| {
        let mut l: Vec<Value> = [
            &b"https://a.example/x"[..],
            b"ftp://b.example/x",
            b"http://a.example/y",
            b"https://a.example/x",
            b"\xff\xfe",
        ]
        .iter()
        .map(|u| Value::Bytes(u.to_vec()))
        .collect();
        l.push(Value::Int(3));
        l.extend((0..100).map(|i| Value::Bytes(format!("http://h{i}/").into_bytes())));
        r.insert(b"url-list".to_vec(), Value::List(l));
    });
    let m = Metainfo::from_bytes(&list).unwrap();
    assert_eq!(m.web_seeds.len(), MAX_WEB_SEEDS);
    assert_eq!(
        m.web_seeds[..3],
        [
            s("https://a.example/x"),
            s("http://a.example/y"),
            s("http://h0/")
        ]
    );
    // A wrong type is ignored, never fatal.
    let odd = mutated(|r| {
        r.insert(b"url-list".to_vec(), Value::Int(1));
    });
    assert!(Metainfo::from_bytes(&odd).unwrap().web_seeds.is_empty());
}

mod files;

mod names;
