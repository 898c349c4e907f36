use super::*;
use crate::protocol::merkle;
use crate::protocol::metainfo::file_tree::parse_file_tree;

const PIECE: u32 = 32 * 1024;

/// Files of these lengths with their v2 roots and layers computed from bytes `fill`.
fn new_files(spec: &[(&str, u64)]) -> Vec<NewFile> {
    spec.iter()
        .map(|(path, length)| {
            let data = vec![7u8; *length as usize];
            let leaves: Vec<merkle::Hash> = data
                .chunks(merkle::BLOCK as usize)
                .map(merkle::leaf)
                .collect();
            NewFile {
                path: path.split('/').map(str::to_owned).collect(),
                length: *length,
                pieces_root: merkle::file_root(&leaves),
                piece_layer: merkle::piece_layer(&leaves, u64::from(PIECE)),
                executable: false,
            }
        })
        .collect()
}

fn decode(bytes: &[u8]) -> (Dict, Dict) {
    let Ok(Value::Dict(root)) = bencode::decode_value(bytes) else {
        panic!("not a dict")
    };
    let Some(Value::Dict(info)) = root.get(&b"info"[..]).cloned() else {
        panic!("no info")
    };
    (root, info)
}

#[test]
fn hybrid_pads_every_file_of_a_multi_file_torrent() {
    let files = new_files(&[("a", 40_000), ("d/b", 0), ("d/c", 32_768), ("e", 5)]);
    let layout = v1_layout(&files, PIECE, MetaVersion::Hybrid);
    let got: Vec<(String, u64, bool)> = layout
        .iter()
        .map(|e| (e.path.join("/"), e.length, e.pad))
        .collect();
    assert_eq!(
        got,
        [
            ("a".into(), 40_000, false),
            (".pad/25536".into(), 25_536, true),
            ("d/b".into(), 0, false),
            ("d/c".into(), 32_768, false),
            ("e".into(), 5, false),
            (".pad/32763".into(), 32_763, true),
        ]
    );
    assert_eq!(v1_layout(&files, PIECE, MetaVersion::V1).len(), 4);
    // One file: no padding, so a single-file hybrid stays a single-file v1 torrent.
    assert_eq!(v1_layout(&files[..1], PIECE, MetaVersion::Hybrid).len(), 1);
}

#[test]
fn v2_tree_and_layers() {
    let files = new_files(&[("a", 70_000), ("d/b", 0), ("d/c", 100)]);
    let bytes = write_torrent(&NewTorrent {
        name: "pack",
        files: &files,
        piece_length: PIECE,
        version: MetaVersion::V2,
        web_seeds: &["http://127.0.0.1:1/".into()],
        comment: Some("hi"),
        creation_date: Some(1),
        ..NewTorrent::default()
    });
    let (root, info) = decode(&bytes);
    assert!(!info.contains_key(&b"pieces"[..]));
    assert!(!info.contains_key(&b"files"[..]));
    assert_eq!(info.get(&b"meta version"[..]), Some(&Value::Int(2)));
    let tree = parse_file_tree(info.get(&b"file tree"[..]).unwrap()).unwrap();
    let got: Vec<(String, u64, Option<merkle::Hash>)> = tree
        .into_iter()
        .map(|f| (f.path.join("/"), f.length, f.pieces_root))
        .collect();
    let want: Vec<(String, u64, Option<merkle::Hash>)> = files
        .iter()
        .map(|f| (f.path.join("/"), f.length, f.pieces_root))
        .collect();
    assert_eq!(got, want);
    assert!(want[1].2.is_none(), "an empty file has no pieces root");
    // Only the file longer than a piece has a layer, and it proves its root.
    let Some(Value::Dict(layers)) = root.get(&b"piece layers"[..]) else {
        panic!("no piece layers")
    };
    assert_eq!(layers.len(), 1);
    let Some(Value::Bytes(layer)) = layers.get(&files[0].pieces_root.unwrap()[..]) else {
        panic!("no layer for a")
    };
    assert_eq!(layer.len(), 3 * 32);
    assert_eq!(root.get(&b"comment"[..]), Some(&bytes_value("hi")));
    assert_eq!(root.get(&b"creation date"[..]), Some(&Value::Int(1)));
    assert_eq!(
        root.get(&b"url-list"[..]),
        Some(&Value::List(vec![bytes_value("http://127.0.0.1:1/")]))
    );
}

fn bytes_value(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

#[test]
fn hybrid_loads_as_v1_with_padding_and_single_file_v2_is_named_in_its_tree() {
    let files = new_files(&[("a", 40_000), ("b", 5)]);
    let stream: Vec<u8> = v1_layout(&files, PIECE, MetaVersion::Hybrid)
        .iter()
        .flat_map(|e| vec![if e.pad { 0 } else { 7 }; e.length as usize])
        .collect();
    let pieces = hash_pieces(&stream, PIECE);
    let bytes = write_torrent(&NewTorrent {
        name: "pack",
        files: &files,
        piece_length: PIECE,
        version: MetaVersion::Hybrid,
        v1_pieces: &pieces,
        source: Some("SRC"),
        private: true,
        ..NewTorrent::default()
    });
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert!(m.notes.is_empty(), "{:?}", m.notes);
    assert_eq!(m.padding_files.len(), 2);
    assert_eq!(m.info.total_length, 3 * u64::from(PIECE));
    assert_eq!(m.info.source.as_deref(), Some("SRC"));
    assert!(m.info.private);

    let mut one = new_files(&[("x", 100)]);
    one[0].path.clear();
    let bytes = write_torrent(&NewTorrent {
        name: "solo.bin",
        files: &one,
        piece_length: PIECE,
        version: MetaVersion::V2,
        ..NewTorrent::default()
    });
    let (_, info) = decode(&bytes);
    let tree = parse_file_tree(info.get(&b"file tree"[..]).unwrap()).unwrap();
    assert_eq!(tree[0].path, ["solo.bin"]);
    assert!(!info.contains_key(&b"length"[..]));
}
