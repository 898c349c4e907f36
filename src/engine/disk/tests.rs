use super::*;
use crate::protocol::metainfo::FileEntry;
use std::fs;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

/// A multi-file `Info` named "t" over `files` (path with `/`, length) whose piece hashes are
/// those of `data`.
fn info_for(files: &[(&str, u64)], piece_length: u32, data: &[u8]) -> Info {
    let mut offset = 0;
    let entries = files
        .iter()
        .map(|&(path, length)| {
            let mut components = vec!["t".to_string()];
            components.extend(path.split('/').map(str::to_string));
            let entry = FileEntry::new(components, length, offset);
            offset += length;
            entry
        })
        .collect();
    assert_eq!(offset, data.len() as u64, "test data must match the layout");
    info_of(entries, piece_length, data)
}

/// A multi-file `Info` named "t" over `entries` whose piece hashes are those of `data`.
pub(super) fn info_of(entries: Vec<FileEntry>, piece_length: u32, data: &[u8]) -> Info {
    Info {
        name: "t".into(),
        piece_length,
        pieces: data
            .chunks(piece_length as usize)
            .map(|c| hash_blocks(&[c]))
            .collect(),
        total_length: entries.iter().map(|e| e.length).sum(),
        files: entries,
        private: false,
        source: None,
        single_file: false,
        v2: None,
    }
}

fn test_data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn piece_of(data: &[u8], info: &Info, index: u32) -> Vec<u8> {
    let start = index as usize * info.piece_length as usize;
    data[start..start + info.piece_len(index) as usize].to_vec()
}

/// The piece cut into `block`-sized `Bytes`, as the engine hands it over.
fn blocks_of(piece: &[u8], block: usize) -> Vec<bytes::Bytes> {
    piece
        .chunks(block)
        .map(bytes::Bytes::copy_from_slice)
        .collect()
}

fn no_progress(_: u32) {}

#[test]
fn storage_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Storage>();
    assert_send_sync::<DiskError>();
}

#[test]
fn piece_spanning_three_files_and_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    // Piece 0 (16 bytes) = a[0..10] + empty + c[0..4] + d[0..2].
    let layout = [("a", 10), ("empty", 0), ("sub/c", 4), ("sub/deeper/d", 20)];
    let data = test_data(34, 1);
    let info = info_for(&layout, 16, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert_eq!(storage.num_pieces(), 3);
    assert_eq!(storage.piece_len(2), Some(2));
    assert_eq!(storage.piece_len(3), None);

    // Blocks cut across the file boundaries at other places than the files are.
    let piece = piece_of(&data, &info, 0);
    storage
        .write_piece(0, &[&piece[..5], &piece[5..12], &piece[12..]])
        .unwrap();
    drop(storage);

    let root = dir.path().join("t");
    assert_eq!(fs::read(root.join("a")).unwrap(), &data[0..10]);
    assert_eq!(fs::metadata(root.join("empty")).unwrap().len(), 0);
    assert_eq!(fs::read(root.join("sub/c")).unwrap(), &data[10..14]);
    let d = fs::read(root.join("sub/deeper/d")).unwrap();
    assert_eq!(d.len(), 20, "created at its final length");
    assert_eq!(&d[..2], &data[14..16]);
    assert!(d[2..].iter().all(|&b| b == 0), "nothing else written");
}

#[test]
fn write_then_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let layout = [
        ("x/one", 40_000),
        ("two", 1),
        ("zero", 0),
        ("x/y/three", 70_000),
        ("four", 16_384),
    ];
    let data = test_data(126_385, 7);
    let info = info_for(&layout, 32_768, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert_eq!(storage.num_pieces(), 4);
    for index in 0..storage.num_pieces() {
        let piece = piece_of(&data, &info, index);
        storage
            .write_piece(index, &blocks_of(&piece, 16_384))
            .unwrap();
    }
    let mut buf = Vec::new();
    for index in 0..storage.num_pieces() {
        storage.read_piece(index, &mut buf).unwrap();
        assert_eq!(buf, piece_of(&data, &info, index), "piece {index}");
        assert_eq!(Some(&hash_blocks(&[&buf])), info.pieces.get(index as usize));
    }
    // Blocks at odd places, including ones that cross file boundaries (40_000 is in piece 1).
    for (index, begin, len) in [
        (0u32, 0u32, 16_384usize),
        (1, 7_000, 300),
        (1, 7_231, 2),
        (3, 0, 28_081),
    ] {
        let mut block = vec![0u8; len];
        storage.read_block(index, begin, &mut block).unwrap();
        let start = index as usize * 32_768 + begin as usize;
        assert_eq!(
            block,
            &data[start..start + len],
            "block {index}/{begin}/{len}"
        );
    }
    // Re-reading the same piece into a bigger buffer shrinks it to the piece.
    storage.read_piece(3, &mut buf).unwrap();
    assert_eq!(buf.len(), 28_081);
}

#[test]
fn out_of_range_requests_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(50_000, 3);
    let info = info_for(&[("f", 50_000)], 32_768, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let last_len = 50_000 - 32_768;
    let mut two = [0u8; 2];
    let errors = [
        storage.read_block(1, last_len - 1, &mut two).unwrap_err(),
        storage.read_block(0, u32::MAX, &mut two).unwrap_err(),
        storage.read_block(2, 0, &mut two).unwrap_err(),
        storage.read_block(u32::MAX, 0, &mut two).unwrap_err(),
        storage.write_piece(0, &[&data[..100]]).unwrap_err(),
        storage.write_piece(2, &[&data[..100]]).unwrap_err(),
    ];
    assert!(matches!(errors[0], DiskError::BlockOutOfRange { .. }));
    assert!(matches!(errors[1], DiskError::BlockOutOfRange { .. }));
    assert!(matches!(errors[2], DiskError::PieceOutOfRange { .. }));
    assert!(matches!(errors[3], DiskError::PieceOutOfRange { .. }));
    assert!(matches!(errors[4], DiskError::PieceLength { got: 100, .. }));
    assert!(errors.iter().all(|e| !e.is_fatal()), "{errors:?}");
    // The last byte of the last piece is fine.
    storage.read_block(1, last_len - 1, &mut two[..1]).unwrap();
}

#[test]
fn resume_check_finds_exactly_the_written_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let layout = [("a", 100_000), ("b/c", 3), ("d", 200_000)];
    let data = test_data(300_003, 9);
    let info = info_for(&layout, 16_384, &data);
    let written = [0u32, 2, 5, 6, 18];
    {
        let storage = Storage::open(dir.path(), &info).unwrap();
        assert_eq!(storage.num_pieces(), 19);
        // Everything fresh: all missing without reading, and progress still reaches the end.
        let seen = Mutex::new(Vec::new());
        let record = |n| seen.lock().unwrap().push(n);
        let flags = storage
            .check_existing(&info, 2, &record, &AtomicBool::new(false))
            .unwrap();
        assert!(flags.iter().all(|&f| !f));
        assert_eq!(seen.into_inner().unwrap().last(), Some(&19));
        for &index in &written {
            let piece = piece_of(&data, &info, index);
            storage
                .write_piece(index, &blocks_of(&piece, 16_384))
                .unwrap();
        }
        storage.flush().unwrap();
    }

    let storage = Storage::open(dir.path(), &info).unwrap();
    let seen = Mutex::new(Vec::new());
    let record = |n| seen.lock().unwrap().push(n);
    let flags = storage
        .check_existing(&info, 3, &record, &AtomicBool::new(false))
        .unwrap();
    let found: Vec<u32> = (0..19).filter(|&i| flags[i as usize]).collect();
    assert_eq!(found, written);
    let seen = seen.into_inner().unwrap();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&19));
    drop(storage);

    // One flipped byte in piece 5 (bytes 81_920..98_304, all in file "a").
    let a = dir.path().join("t/a");
    let mut content = fs::read(&a).unwrap();
    content[90_000] ^= 0x40;
    fs::write(&a, &content).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
        .unwrap();
    let found: Vec<u32> = (0..19).filter(|&i| flags[i as usize]).collect();
    assert_eq!(found, [0, 2, 6, 18]);
}

#[test]
fn missing_or_resized_files_make_their_pieces_missing() {
    let dir = tempfile::tempdir().unwrap();
    let layout = [("a", 40_000), ("b", 40_000), ("c", 40_000)];
    let data = test_data(120_000, 5);
    let info = info_for(&layout, 16_384, &data);
    {
        let storage = Storage::open(dir.path(), &info).unwrap();
        for index in 0..storage.num_pieces() {
            storage
                .write_piece(index, &[piece_of(&data, &info, index)])
                .unwrap();
        }
    }
    // b holds pieces 2..=4 (bytes 40_000..80_000), c pieces 4..=7.
    fs::remove_file(dir.path().join("t/b")).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    // Made again at its first use, not by the open.
    assert!(!dir.path().join("t/b").exists());
    let flags = storage
        .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true, true, false, false, false, true, true, true]);
    drop(storage);

    // c one byte too long: resized back, and its pieces count as missing.
    let c = dir.path().join("t/c");
    fs::OpenOptions::new()
        .write(true)
        .open(&c)
        .unwrap()
        .set_len(40_001)
        .unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert_eq!(fs::metadata(&c).unwrap().len(), 40_000);
    let flags = storage
        .check_existing(&info, 1, &no_progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(
        flags,
        [true, true, false, false, false, false, false, false]
    );
}

#[test]
fn files_created_by_open_are_not_read() {
    // All-zero content: a freshly created sparse file would hash correctly if it were read,
    // so only the skip makes these pieces missing.
    let dir = tempfile::tempdir().unwrap();
    let data = vec![0u8; 40_000];
    let info = info_for(&[("zeros", 40_000)], 16_384, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let calls = Mutex::new(Vec::new());
    let record = |n| calls.lock().unwrap().push(n);
    let flags = storage
        .check_existing(&info, 2, &record, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [false; 3]);
    assert_eq!(calls.into_inner().unwrap(), [3]);
    storage.create_all().unwrap();
    drop(storage);
    // Reopened, the file is no longer new: now it is read, and zeros are right.
    let storage = Storage::open(dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true; 3]);
}

#[test]
fn check_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(100_000, 2);
    let info = info_for(&[("f", 100_000)], 16_384, &data);
    Storage::open(dir.path(), &info)
        .unwrap()
        .create_all()
        .unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    let err = storage
        .check_existing(&info, 2, &no_progress, &AtomicBool::new(true))
        .unwrap_err();
    assert!(matches!(err, DiskError::Cancelled));

    let other = info_for(&[("f", 100_000)], 32_768, &data);
    let err = storage
        .check_existing(&other, 2, &no_progress, &AtomicBool::new(false))
        .unwrap_err();
    assert!(matches!(err, DiskError::Layout(_)));
}

#[test]
fn inconsistent_info_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(100, 2);
    let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
    info.files[1].offset = 49;
    assert!(matches!(
        Storage::open(dir.path(), &info),
        Err(DiskError::Layout(_))
    ));
    let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
    info.pieces.pop();
    assert!(matches!(
        Storage::open(dir.path(), &info),
        Err(DiskError::Layout(_))
    ));
    let mut info = info_for(&[("a", 50), ("b", 50)], 16, &data);
    info.files[0].path = vec!["t".into(), "..".into(), "x".into()];
    assert!(matches!(
        Storage::open(dir.path(), &info),
        Err(DiskError::UnsafePath { .. })
    ));
}

#[test]
fn existing_file_of_right_length_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(1000, 4);
    let info = info_for(&[("f", 1000)], 256, &data);
    fs::create_dir(dir.path().join("t")).unwrap();
    fs::write(dir.path().join("t/f"), &data).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert_eq!(fs::read(dir.path().join("t/f")).unwrap(), data);
    let flags = storage
        .check_existing(&info, 2, &no_progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true; 4]);
}

#[test]
fn root_is_created_and_must_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(10, 4);
    let info = info_for(&[("f", 10)], 16, &data);
    let root = dir.path().join("new/deeper");
    let storage = Storage::open(&root, &info).unwrap();
    assert!(root.join("t").is_dir());
    storage.create_all().unwrap();
    assert!(root.join("t/f").is_file());
    assert_eq!(storage.root(), root.canonicalize().unwrap());
    assert!(
        fs::read_dir(&root)
            .unwrap()
            .all(|e| e.unwrap().file_name() == "t"),
        "probe removed"
    );

    let file = dir.path().join("plain");
    fs::write(&file, b"x").unwrap();
    let err = Storage::open(&file, &info).unwrap_err();
    assert!(matches!(err, DiskError::NotADirectory { .. }), "{err}");
}

#[test]
fn hash_blocks_is_sha1_of_the_concatenation() {
    // SHA-1("abc"), FIPS 180-2 appendix A.
    let expected = [
        0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50, 0xc2,
        0x6c, 0x9c, 0xd0, 0xd8, 0x9d,
    ];
    assert_eq!(hash_blocks(&[b"abc"]), expected);
    assert_eq!(hash_blocks(&[&b"a"[..], b"", b"bc"]), expected);
    let owned = vec![
        bytes::Bytes::from_static(b"ab"),
        bytes::Bytes::from_static(b"c"),
    ];
    assert_eq!(hash_blocks(&owned), expected);
}

/// A file missing at open is created at its first use, at its full length, on a disk thread
/// while the torrent already runs; files that exist are opened, not created, as before.
#[test]
fn a_missing_file_is_created_at_its_first_write_not_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(48_000, 3);
    let info = info_for(&[("a", 16_000), ("b", 32_000)], 16_384, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let (a, b) = (dir.path().join("t/a"), dir.path().join("t/b"));
    assert!(
        dir.path().join("t").is_dir(),
        "directories are made by open"
    );
    assert!(!a.exists() && !b.exists());
    // Piece 0 is all of a and the start of b: both made, each at its length.
    storage
        .write_piece(0, &[piece_of(&data, &info, 0)])
        .unwrap();
    assert_eq!(fs::metadata(&a).unwrap().len(), 16_000);
    assert_eq!(fs::metadata(&b).unwrap().len(), 32_000);
    let mut back = vec![0u8; 16_384];
    storage.read_block(0, 0, &mut back).unwrap();
    assert_eq!(back, piece_of(&data, &info, 0));
    drop(storage);
    // Both exist now: a second open leaves them alone and they are no longer new.
    let storage = Storage::open(dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 1, &no_progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true, false, false]);
}

mod faults;
mod files;
mod runs;
