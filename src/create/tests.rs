use super::*;
use crate::demo::spec::{make_payload, PayloadSpec};
use crate::protocol::metainfo::Metainfo;
use serde::Deserialize;
use std::fs;
use std::io;

/// Walks one bencoded value, asserting canonical form (dictionary keys strictly increasing,
/// no leading zeros); returns the bytes it took.
fn canonical_len(buf: &[u8]) -> usize {
    match buf.first() {
        Some(b'i') => {
            let end = buf.iter().position(|&b| b == b'e').unwrap();
            let digits = std::str::from_utf8(&buf[1..end]).unwrap();
            assert_eq!(digits.parse::<i64>().unwrap().to_string(), digits);
            end + 1
        }
        Some(b'l') => {
            let mut pos = 1;
            while buf[pos] != b'e' {
                pos += canonical_len(&buf[pos..]);
            }
            pos + 1
        }
        Some(b'd') => {
            let mut pos = 1;
            let mut previous: Option<&[u8]> = None;
            while buf[pos] != b'e' {
                let key_len = canonical_len(&buf[pos..]);
                let key = &buf[pos..pos + key_len];
                let key = &key[key.iter().position(|&b| b == b':').unwrap() + 1..];
                if let Some(previous) = previous {
                    assert!(previous < key, "keys out of order: {previous:?} {key:?}");
                }
                previous = Some(key);
                pos += key_len;
                pos += canonical_len(&buf[pos..]);
            }
            pos + 1
        }
        Some(b'0'..=b'9') => {
            let colon = buf.iter().position(|&b| b == b':').unwrap();
            let len: usize = std::str::from_utf8(&buf[..colon]).unwrap().parse().unwrap();
            colon + 1 + len
        }
        other => panic!("not bencode: {other:?}"),
    }
}

#[derive(Deserialize)]
struct Torrent {
    announce: Option<String>,
    #[serde(rename = "announce-list")]
    announce_list: Option<Vec<Vec<String>>>,
    info: TorrentInfo,
}

#[derive(Deserialize)]
struct TorrentInfo {
    name: String,
    #[serde(rename = "piece length")]
    piece_length: u32,
    #[serde(with = "serde_bytes")]
    pieces: Vec<u8>,
    length: Option<u64>,
    files: Option<Vec<TorrentFile>>,
    private: Option<u8>,
}

#[derive(Deserialize)]
struct TorrentFile {
    length: u64,
    path: Vec<String>,
}

fn parse(torrent: &[u8]) -> Torrent {
    assert_eq!(
        canonical_len(torrent),
        torrent.len(),
        "one value, nothing after it"
    );
    serde_bencode::from_bytes(torrent).unwrap()
}

fn sha1_pieces(data: &[u8], piece_length: usize) -> Vec<u8> {
    data.chunks(piece_length)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect()
}

fn trackers() -> Vec<Vec<String>> {
    vec![
        vec!["http://127.0.0.1:6969/announce".into()],
        vec![
            "http://127.0.0.2:6969/announce".into(),
            "udp://127.0.0.3:6969".into(),
        ],
    ]
}

#[test]
fn multi_file_torrent_describes_the_payload() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("My Payload");
    // Listed out of order on purpose: the torrent must come out sorted.
    let spec = PayloadSpec::new([
        ("z.bin", 100_000),
        ("a/nested/deep.bin", 40_000),
        ("a/empty", 0),
        (".hidden", 3),
        ("a/b.bin", 70_001),
        ("tiny", 1),
    ]);
    make_payload(&payload, &spec, 42).unwrap();
    let bytes = create_torrent(&payload, 16_384, &trackers(), true).unwrap();
    let torrent = parse(&bytes);

    let order = [
        ".hidden",
        "a/b.bin",
        "a/empty",
        "a/nested/deep.bin",
        "tiny",
        "z.bin",
    ];
    let files = torrent.info.files.as_ref().unwrap();
    let paths: Vec<String> = files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(paths, order);
    let mut concatenated = Vec::new();
    for (file, name) in files.iter().zip(order) {
        let content = fs::read(payload.join(name)).unwrap();
        assert_eq!(file.length, content.len() as u64, "{name}");
        concatenated.extend_from_slice(&content);
    }
    assert_eq!(concatenated.len() as u64, spec.total_size());
    assert_eq!(torrent.info.pieces, sha1_pieces(&concatenated, 16_384));
    assert_eq!(torrent.info.pieces.len(), 20 * 13);
    assert_eq!(torrent.info.name, "My Payload");
    assert_eq!(torrent.info.piece_length, 16_384);
    assert_eq!(torrent.info.length, None);
    assert_eq!(torrent.info.private, Some(1));
    assert_eq!(
        torrent.announce.as_deref(),
        Some("http://127.0.0.1:6969/announce")
    );
    assert_eq!(torrent.announce_list, Some(trackers()));

    let meta = Metainfo::from_bytes(&bytes).unwrap();
    assert!(!meta.info.single_file);
    assert!(meta.info.private);
    assert_eq!(meta.info.total_length, spec.total_size());
    assert_eq!(meta.info.pieces.concat(), torrent.info.pieces);
    assert_eq!(meta.trackers, trackers());
    let meta_paths: Vec<String> = meta.info.files.iter().map(|f| f.path.join("/")).collect();
    let expected: Vec<String> = order.iter().map(|p| format!("My Payload/{p}")).collect();
    assert_eq!(meta_paths, expected);

    // Same tree, same bytes.
    assert_eq!(
        create_torrent(&payload, 16_384, &trackers(), true).unwrap(),
        bytes
    );
}

#[test]
fn single_file_torrent() {
    let dir = tempfile::tempdir().unwrap();
    let spec = PayloadSpec::new([("song.flac", 50_000)]);
    make_payload(dir.path(), &spec, 1).unwrap();
    let path = dir.path().join("song.flac");
    let bytes = create_torrent(&path, 32_768, &trackers()[..1], false).unwrap();
    let torrent = parse(&bytes);
    assert_eq!(torrent.info.name, "song.flac");
    assert_eq!(torrent.info.length, Some(50_000));
    assert!(torrent.info.files.is_none());
    assert_eq!(torrent.info.private, None);
    assert_eq!(
        torrent.announce_list, None,
        "one tracker needs no announce-list"
    );
    assert_eq!(
        torrent.info.pieces,
        sha1_pieces(&fs::read(&path).unwrap(), 32_768)
    );

    let meta = Metainfo::from_bytes(&bytes).unwrap();
    assert!(meta.info.single_file);
    assert_eq!(meta.info.files.len(), 1);
    assert_eq!(meta.info.files[0].path, ["song.flac"]);
    assert_eq!(meta.trackers, trackers()[..1]);

    let bare = parse(&create_torrent(&path, 32_768, &[], false).unwrap());
    assert_eq!(bare.announce, None);
}

#[test]
fn bad_inputs_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("p");
    make_payload(&payload, &PayloadSpec::new([("a", 10)]), 1).unwrap();
    for piece_length in [0, 8_192, 20_000, 16_385, 1 << 29] {
        let err = create_torrent(&payload, piece_length, &[], false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{piece_length}");
    }
    symlink(payload.join("a"), dir.path().join("top-link")).unwrap();
    let err = create_torrent(&dir.path().join("top-link"), 16_384, &[], false).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    symlink(payload.join("a"), payload.join("inner-link")).unwrap();
    let err = create_torrent(&payload, 16_384, &[], false).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");

    let empty = dir.path().join("empty");
    make_payload(&empty, &PayloadSpec::new([("zero", 0)]), 1).unwrap();
    let err = create_torrent(&empty, 16_384, &[], false).unwrap_err();
    assert!(err.to_string().contains("nothing to share"), "{err}");
}

#[test]
fn a_program_keeps_its_execute_bit_in_every_version() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let spec = PayloadSpec::new([("p/run", 20_000), ("p/data", 30_000)]);
    make_payload(dir.path(), &spec, 1).unwrap();
    let run = dir.path().join("p/run");
    fs::set_permissions(&run, fs::Permissions::from_mode(0o750)).unwrap();
    for (path, version) in [
        (dir.path().join("p"), MetaVersion::V1),
        (dir.path().join("p"), MetaVersion::V2),
        (dir.path().join("p"), MetaVersion::Hybrid),
        (run.clone(), MetaVersion::V1),
        (run.clone(), MetaVersion::Hybrid),
    ] {
        let opts = CreateOptions {
            version,
            piece_length: Some(16_384),
            ..CreateOptions::default()
        };
        let made = build(&scan(&path, false).unwrap(), &opts, &AtomicU64::new(0)).unwrap();
        let meta = Metainfo::from_bytes(&made.bytes).unwrap();
        let programs: Vec<String> = meta
            .info
            .files
            .iter()
            .filter(|f| f.executable)
            .map(|f| f.path.join("/"))
            .collect();
        let want = if path == run { "run" } else { "p/run" };
        assert_eq!(programs, [want], "{version:?} {}", path.display());
    }
}
