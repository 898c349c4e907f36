use super::*;
use crate::protocol::metainfo::{write_torrent, MetaVersion, NewFile, NewTorrent};

const PIECE: u32 = 32 * 1024;

/// A file of `length` bytes, each byte its offset's low bits so pieces differ.
fn new_file(path: &str, length: u64) -> NewFile {
    let data: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
    let leaves: Vec<Hash> = data
        .chunks(merkle::BLOCK as usize)
        .map(merkle::leaf)
        .collect();
    NewFile {
        path: path.split('/').map(str::to_owned).collect(),
        length,
        pieces_root: merkle::file_root(&leaves),
        piece_layer: merkle::piece_layer(&leaves, u64::from(PIECE)),
        executable: false,
    }
}

fn torrent(files: &[NewFile], version: MetaVersion) -> Vec<u8> {
    write_torrent(&NewTorrent {
        name: "pack",
        files,
        piece_length: PIECE,
        version,
        v1_pieces: &[],
        ..NewTorrent::default()
    })
}

fn info_of(bytes: &[u8]) -> Vec<u8> {
    let span = bencode::find_info_span(bytes).unwrap();
    bytes[span].to_vec()
}

/// The layer a peer holding `file` would send for `req`: the proof's answer.
fn answer(file: &NewFile, req: &HashRequest) -> Vec<Hash> {
    let w = wanted_for(file);
    req.answer(w, &file.piece_layer).unwrap()
}

fn wanted_for(file: &NewFile) -> u64 {
    file.length.div_ceil(merkle::BLOCK)
}

#[test]
fn each_long_file_needs_its_layer_in_runs_that_prove_up_to_its_root() {
    // 3 pieces, 1 piece, 0 bytes, and 600 pieces (two runs, the last not a power of two).
    let files = vec![
        new_file("a", 70_000),
        new_file("small", 100),
        new_file("empty", 0),
        new_file("big", 600 * u64::from(PIECE) - 5),
    ];
    let meta_bytes = torrent(&files, MetaVersion::V2);
    let info = info_of(&meta_bytes);
    let wanted = wanted_layers(&info).unwrap();
    assert_eq!(wanted.len(), 2);
    assert_eq!(wanted[0].path, "a");
    assert_eq!(wanted[0].hashes, 3);
    assert_eq!(wanted[0].requests.len(), 1);
    assert_eq!(wanted[1].hashes, 600);
    assert_eq!(
        wanted[1]
            .requests
            .iter()
            .map(|r| (r.index, r.length))
            .collect::<Vec<_>>(),
        [(0, 512), (512, 88)]
    );
    let mut layers = BTreeMap::new();
    for (w, f) in wanted.iter().zip([&files[0], &files[3]]) {
        assert_eq!(Some(w.root), f.pieces_root);
        let mut got = Vec::new();
        for r in &w.requests {
            assert_eq!(r.base_layer, 1, "32 KiB pieces: one layer above the leaves");
            r.validate(w.leaves).unwrap();
            got.extend(r.verify(w.leaves, &flat(&answer(f, r))).unwrap());
        }
        assert_eq!(got, f.piece_layer);
        layers.insert(w.root, got);
    }
    // The info and the proven layers load as the .torrent itself does.
    let rebuilt = torrent_with_layers(&info, Some("http://127.0.0.1:1/a"), &layers);
    let loaded = Metainfo::from_bytes(&rebuilt).unwrap();
    let original = Metainfo::from_bytes(&meta_bytes).unwrap();
    assert_eq!(loaded.info_hash, original.info_hash);
    assert_eq!(loaded.info_hash_v2, original.info_hash_v2);
    assert_eq!(loaded.info.v2, original.info.v2);
    assert_eq!(loaded.trackers, [["http://127.0.0.1:1/a".to_string()]]);
    // And the loaded torrent gives its layers back, for saving.
    assert_eq!(layers_of(&loaded), layers);
    assert_eq!(
        Metainfo::from_bytes(&torrent_with_layers(&info, None, &layers_of(&loaded)))
            .unwrap()
            .info
            .v2,
        original.info.v2
    );
}

fn flat(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flatten().copied().collect()
}

#[test]
fn a_hybrid_or_small_files_need_no_layer() {
    let files = vec![new_file("a", 70_000), new_file("b", 10)];
    let hybrid = torrent(&files, MetaVersion::Hybrid);
    assert!(wanted_layers(&info_of(&hybrid)).unwrap().is_empty());
    let small = torrent(&[new_file("x", 100), new_file("y", 0)], MetaVersion::V2);
    assert!(wanted_layers(&info_of(&small)).unwrap().is_empty());
    let v1 = torrent(&files, MetaVersion::V1);
    assert!(wanted_layers(&info_of(&v1)).unwrap().is_empty());
}

#[test]
fn a_layer_that_does_not_prove_the_root_is_refused() {
    let files = vec![new_file("a", 70_000)];
    let info = info_of(&torrent(&files, MetaVersion::V2));
    let w = &wanted_layers(&info).unwrap()[0];
    let mut bad = answer(&files[0], &w.requests[0]);
    bad[1][0] ^= 1;
    assert!(w.requests[0].verify(w.leaves, &flat(&bad)).is_err());
    // Without layers the torrent does not load: no second path around the check.
    assert!(Metainfo::from_bytes(&torrent_with_layers(&info, None, &BTreeMap::new())).is_err());
}

#[test]
fn hostile_info_dictionaries_are_refused_not_allocated() {
    assert!(wanted_layers(b"").is_err());
    assert!(wanted_layers(b"le").is_err());
    assert!(wanted_layers(&[b'l'; 5000]).is_err());
    // A file of an exabyte in 16 KiB pieces: more hashes than anyone keeps.
    let huge = format!(
        "d9:file treed4:huged0:d6:lengthi{}e11:pieces root32:{}eee12:meta versioni2e\
         4:name1:x12:piece lengthi16384ee",
        1u64 << 60,
        "a".repeat(32)
    );
    assert!(matches!(
        wanted_layers(huge.as_bytes()),
        Err(MetainfoError::V2(_))
    ));
    let odd =
        "d9:file treed1:xd0:d6:lengthi99999e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee\
               12:meta versioni2e4:name1:x12:piece lengthi20000ee";
    assert!(wanted_layers(odd.as_bytes()).is_err());
}

/// A v2-only torrent of a 3-piece file, a small one and a 600-piece one, with `layers` as
/// its `piece layers` (raw: each value as given), `announce` its tracker.
fn with_raw_layers(files: &[NewFile], layers: &[(Hash, &[u8])]) -> Vec<u8> {
    let info = info_of(&torrent(files, MetaVersion::V2));
    let mut out = b"d8:announce19:http://127.0.0.1:1/4:info".to_vec();
    out.extend_from_slice(&info);
    out.extend_from_slice(b"12:piece layersd");
    let mut sorted = layers.to_vec();
    sorted.sort();
    for (root, value) in sorted {
        out.extend_from_slice(b"32:");
        out.extend_from_slice(&root);
        out.extend_from_slice(value);
    }
    out.extend_from_slice(b"ee");
    out
}

/// Raw `piece layers` entries: each file root with its value's bencode.
type Layers<'a> = Vec<(Hash, &'a [u8])>;

fn bytes_value(hashes: &[Hash]) -> Vec<u8> {
    let mut v = format!("{}:", hashes.len() * 32).into_bytes();
    v.extend(flat(hashes));
    v
}

fn three_files() -> Vec<NewFile> {
    vec![
        new_file("a", 70_000),
        new_file("small", 100),
        new_file("big", 600 * u64::from(PIECE) - 5),
    ]
}

/// The torrent `bytes` makes, lacking layers: which files, and the error's `NeedsLayers`.
fn needs(bytes: &[u8]) -> NeedsLayers {
    match Metainfo::from_bytes(bytes) {
        Err(MetainfoError::NeedsLayers(n)) => *n,
        other => panic!("not a torrent that needs layers: {other:?}"),
    }
}

#[test]
fn each_malformed_layer_is_dropped_and_wanted_from_peers() {
    let files = three_files();
    let (a, big) = (&files[0], &files[2]);
    let (root_a, root_big) = (a.pieces_root.unwrap(), big.pieces_root.unwrap());
    let good_a = bytes_value(&a.piece_layer);
    let good_big = bytes_value(&big.piece_layer);
    let mut wrong = a.piece_layer.clone();
    wrong[2][31] ^= 1;
    let wrong_value = bytes_value(&wrong);
    let forms: [(&str, Layers, &str); 2] = [
        (
            "missing",
            vec![(root_big, &good_big)],
            "no piece layer for \"a\"",
        ),
        (
            "wrong root",
            vec![(root_a, &wrong_value), (root_big, &good_big)],
            "does not hash to its `pieces root`",
        ),
    ];
    let original = Metainfo::from_bytes(&with_raw_layers(
        &files,
        &[(root_a, &good_a), (root_big, &good_big)],
    ))
    .unwrap();
    for (what, layers, why) in forms {
        let n = needs(&with_raw_layers(&files, &layers));
        assert_eq!(n.lacking().len(), 1, "{what}");
        assert_eq!(n.lacking()[0].root, root_a, "{what}");
        assert_eq!(n.lacking()[0].path, "a", "{what}");
        assert!(
            n.lacking()[0].why.contains(why),
            "{what}: {}",
            n.lacking()[0].why
        );
        // Only the lacking file's layer is asked for, in the magnet's requests.
        assert_eq!(n.wanted().len(), 1, "{what}");
        assert_eq!(n.wanted()[0].root, root_a);
        assert_eq!(n.wanted()[0].hashes, 3);
        // It is known all the same: hashes, size and files.
        let s = n.summary();
        assert_eq!(s.info_hash, original.info_hash, "{what}");
        assert_eq!(s.info_hash_v2, original.info_hash_v2, "{what}");
        assert_eq!(s.info.total_length, original.info.total_length);
        assert_eq!(s.info.files, original.info.files);
        assert_eq!(s.info.geometry().num_pieces(), original.info.num_pieces());
        // Its pieces cannot be checked until the layer comes.
        assert_eq!(s.info.v2, None);
        assert!(s.notes.is_empty(), "{what}: {:?}", s.notes);
        // The layer the peer sends completes it: the torrent the full file makes.
        let mut fetched = BTreeMap::new();
        fetched.insert(root_a, a.piece_layer.clone());
        let done = n.complete(&fetched).unwrap();
        assert_eq!(done.info.v2, original.info.v2, "{what}");
        assert_eq!(done.info_hash, original.info_hash);
        assert_eq!(done.trackers, [["http://127.0.0.1:1/".to_string()]]);
        assert_eq!(layers_of(&done), layers_of(&original));
        // A wrong layer from peers (never the case after `HashRequest::verify`) or none at
        // all still does not load: there is no path around the check.
        assert!(n.complete(&BTreeMap::new()).is_err(), "{what}");
        let mut lie = BTreeMap::new();
        lie.insert(root_a, wrong.clone());
        assert!(n.complete(&lie).is_err(), "{what}");
        // The refusal of callers that cannot fetch it is one line naming the file.
        let line = MetainfoError::NeedsLayers(Box::new(n.clone())).to_string();
        assert!(
            line.contains("1 file(s) lack a piece layer") && !line.contains('\n'),
            "{line}"
        );
    }
}

#[test]
fn a_torrent_without_piece_layers_needs_every_long_files_and_names_a_btmh_magnet() {
    let files = three_files();
    let n = needs(&with_raw_layers(&files, &[]));
    let paths: Vec<&str> = n.lacking().iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, ["a", "big"]);
    assert_eq!(n.wanted().iter().map(|w| w.hashes).sum::<u32>(), 603);
    let m = n.magnet();
    assert_eq!(m.info_hash, n.summary().info_hash);
    assert_eq!(m.info_hash_v2, n.summary().info_hash_v2);
    assert!(!m.v1);
    assert_eq!(m.trackers, ["http://127.0.0.1:1/"]);
    let parsed = crate::protocol::magnet::Magnet::parse(&n.magnet_link()).unwrap();
    assert_eq!(parsed, m);
    // Half the layers from one peer leave it lacking the other.
    let mut half = BTreeMap::new();
    half.insert(files[0].pieces_root.unwrap(), files[0].piece_layer.clone());
    assert!(matches!(
        n.complete(&half),
        Err(MetainfoError::NeedsLayers(_))
    ));
    half.insert(files[2].pieces_root.unwrap(), files[2].piece_layer.clone());
    assert_eq!(n.complete(&half).unwrap().info.num_pieces(), 3 + 1 + 600);
}

/// The forms of `piece layers` libtorrent 2.0 refuses a torrent for are refused, in one line;
/// a layer that names no file of the torrent is ignored, as there.
#[test]
fn malformed_layers_libtorrent_refuses_are_refused() {
    let files = three_files();
    let (a, big) = (&files[0], &files[2]);
    let (root_a, root_big) = (a.pieces_root.unwrap(), big.pieces_root.unwrap());
    let good_a = bytes_value(&a.piece_layer);
    let good_big = bytes_value(&big.piece_layer);
    let short = bytes_value(&a.piece_layer[..2]);
    let refused: [(&str, Layers, &str); 3] = [
        (
            "short",
            vec![(root_a, &short), (root_big, &good_big)],
            "holds 64 bytes, its pieces need 96",
        ),
        (
            "not a string",
            vec![(root_a, b"i7e"), (root_big, &good_big)],
            "is not a string",
        ),
        (
            "a list",
            vec![(root_a, b"le"), (root_big, &good_big)],
            "is not a string",
        ),
    ];
    for (what, layers, why) in refused {
        match Metainfo::from_bytes(&with_raw_layers(&files, &layers)) {
            Err(MetainfoError::V2(e)) => assert!(e.contains(why), "{what}: {e}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // A key of 33 bytes.
    let mut bytes = with_raw_layers(&files, &[(root_a, &good_a), (root_big, &good_big)]);
    let at = bytes.len() - 1;
    bytes.truncate(at - 1);
    bytes.extend_from_slice(b"33:");
    bytes.extend_from_slice(&[7u8; 33]);
    bytes.extend_from_slice(&good_a);
    bytes.extend_from_slice(b"ee");
    match Metainfo::from_bytes(&bytes) {
        Err(MetainfoError::V2(e)) => assert!(e.contains("33 bytes long"), "{e}"),
        other => panic!("a 33-byte key: {other:?}"),
    }
    // A layer of no file: ignored, the torrent loads whole.
    let stranger = [9u8; 32];
    let m = Metainfo::from_bytes(&with_raw_layers(
        &files,
        &[
            (root_a, &good_a),
            (root_big, &good_big),
            (stranger, &good_a),
        ],
    ))
    .unwrap();
    assert!(m.info.v2.is_some());
}

#[test]
fn an_exported_torrent_reads_back_with_its_tiers_web_seeds_and_layers() {
    let files = [new_file("a.bin", u64::from(PIECE) * 3 + 5)];
    let original =
        crate::protocol::metainfo::Metainfo::from_bytes(&torrent(&files, MetaVersion::V2)).unwrap();
    let tiers = vec![
        vec!["http://a.example/announce".to_string()],
        vec![
            "udp://b.example:6969".to_string(),
            "http://c.example/announce".to_string(),
        ],
    ];
    let seeds = vec!["http://seed.example/files/".to_string()];
    let bytes = torrent_file(&original.info_bytes, &tiers, &seeds, &layers_of(&original));
    let back = crate::protocol::metainfo::Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(back.info_hash, original.info_hash);
    assert_eq!(back.info_hash_v2, original.info_hash_v2);
    assert_eq!(back.trackers, tiers);
    assert_eq!(back.web_seeds, seeds);
    assert_eq!(layers_of(&back), layers_of(&original));
    // One tracker: `announce` alone, as before.
    let one = torrent_with_layers(
        &original.info_bytes,
        Some("http://a.example/announce"),
        &BTreeMap::new(),
    );
    assert!(!String::from_utf8_lossy(&one).contains("announce-list"));
}
