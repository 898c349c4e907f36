//! The check's pipeline: runs of several pieces read at once by one reader and hashed by the
//! workers, cut at file boundaries, padding, short files, bad pieces and v2 torrents.

use super::super::*;
use super::*;
use crate::protocol::metainfo::FileEntry;
use std::fs;
use std::sync::atomic::{AtomicU32, Ordering};

/// Writes `data` under `root/t` as the files of `layout` (padding files: not at all).
fn write_files(root: &Path, layout: &[(&str, u64, bool)], data: &[u8]) {
    let mut at = 0usize;
    for &(path, len, padding) in layout {
        let end = at + len as usize;
        if !padding {
            let full = root.join("t").join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, &data[at..end]).unwrap();
        }
        at = end;
    }
}

fn info_padded(layout: &[(&str, u64, bool)], piece_length: u32, data: &[u8]) -> Info {
    let mut offset = 0;
    let entries = layout
        .iter()
        .map(|&(path, length, padding)| {
            let mut entry = FileEntry::new(vec!["t".into(), path.into()], length, offset);
            entry.padding = padding;
            offset += length;
            entry
        })
        .collect();
    info_of(entries, piece_length, data)
}

/// Good pieces found with runs of `run_bytes` on `threads` workers, and checks that the
/// progress went up to the number of pieces asked for.
fn check(
    storage: &Storage,
    info: &Info,
    pieces: &[u32],
    threads: usize,
    run_bytes: u64,
) -> Vec<u32> {
    let last = AtomicU32::new(0);
    let seen = Mutex::new(Vec::new());
    let record = |n: u32| {
        seen.lock().unwrap().push(n);
        last.store(n, Ordering::Relaxed);
    };
    let good = storage
        .check_in_runs(
            info,
            pieces,
            threads,
            run_bytes,
            &record,
            &AtomicBool::new(false),
        )
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "progress goes up: {seen:?}"
    );
    assert_eq!(last.load(Ordering::Relaxed), pieces.len() as u32);
    good
}

const LAYOUT: &[(&str, u64, bool)] = &[
    ("a", 1_000, false),
    ("b", 3_000, false),
    ("empty", 0, false),
    (".pad/96", 96, true),
    ("c", 5_000, false),
    ("d", 1_904, false),
];

#[test]
fn runs_across_files_and_padding_find_every_good_piece() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = test_data(11_000, 7);
    data[4_000..4_096].fill(0);
    let info = info_padded(LAYOUT, 1_024, &data);
    write_files(dir.path(), LAYOUT, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    // A run of one piece, of a few, of more than the torrent; one worker and more workers
    // than runs.
    for run_bytes in [1, 1_024, 3_000, 4_096, 1 << 20] {
        for threads in [1, 2, 5] {
            assert_eq!(check(&storage, &info, &all, threads, run_bytes), all);
        }
    }
}

#[test]
fn a_bad_piece_inside_a_run_costs_only_that_piece() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = test_data(11_000, 9);
    data[4_000..4_096].fill(0);
    let info = info_padded(LAYOUT, 1_024, &data);
    write_files(dir.path(), LAYOUT, &data);
    // Byte 5_000 of the payload (c's 904th) is in piece 4; the last piece (10) is short.
    let mut c = fs::read(dir.path().join("t/c")).unwrap();
    c[904] ^= 0xFF;
    fs::write(dir.path().join("t/c"), &c).unwrap();
    let mut d = fs::read(dir.path().join("t/d")).unwrap();
    *d.last_mut().unwrap() ^= 1;
    fs::write(dir.path().join("t/d"), &d).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    let want: Vec<u32> = all.iter().copied().filter(|&i| i != 4 && i != 10).collect();
    for run_bytes in [1_024, 4_096, 1 << 20] {
        assert_eq!(check(&storage, &info, &all, 2, run_bytes), want);
    }
    // A plan's pieces in any order, repeated: hashed once each, good ones in order, the
    // progress counting every one named.
    assert_eq!(
        check(&storage, &info, &[9, 4, 1, 2, 1], 2, 4_096),
        [1, 2, 9]
    );
}

#[test]
fn a_file_cut_short_after_open_makes_only_its_missing_pieces_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = test_data(11_000, 3);
    data[4_000..4_096].fill(0);
    let info = info_padded(LAYOUT, 1_024, &data);
    write_files(dir.path(), LAYOUT, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    // Another program cuts c (payload 4_096..9_096) to 2_000 bytes: payload up to 6_096 is
    // still there, so pieces 0..=4 are good, 5..=8 are gone, 9 and 10 are d's and c's end:
    // piece 8 (8_192..9_216) holds c's end, so it is missing too.
    fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("t/c"))
        .unwrap()
        .set_len(2_000)
        .unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    for run_bytes in [1_024, 4_096, 1 << 20] {
        for threads in [1, 2] {
            assert_eq!(
                check(&storage, &info, &all, threads, run_bytes),
                [0, 1, 2, 3, 4, 9, 10]
            );
        }
    }
}

#[test]
fn a_missing_file_costs_its_pieces_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = test_data(11_000, 5);
    data[4_000..4_096].fill(0);
    let info = info_padded(LAYOUT, 1_024, &data);
    write_files(dir.path(), LAYOUT, &data);
    fs::remove_file(dir.path().join("t/b")).unwrap();
    // b is payload 1_000..4_000: pieces 0..=3 touch it.
    let storage = Storage::open(dir.path(), &info).unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    assert_eq!(
        check(&storage, &info, &all, 2, 4_096),
        [4, 5, 6, 7, 8, 9, 10]
    );
}

#[test]
fn a_cancelled_pipeline_check_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = test_data(11_000, 5);
    data[4_000..4_096].fill(0);
    let info = info_padded(LAYOUT, 1_024, &data);
    write_files(dir.path(), LAYOUT, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    let err = storage
        .check_in_runs(&info, &all, 2, 1_024, &no_progress, &AtomicBool::new(true))
        .unwrap_err();
    assert!(matches!(err, DiskError::Cancelled), "{err}");
}

#[test]
fn a_v2_torrent_checks_in_runs() {
    use crate::create::{build, scan, CreateOptions, MetaVersion};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t");
    fs::create_dir(&src).unwrap();
    // v2 pieces never span files: a is 3 pieces (the last short, padded), b 5.
    let a = test_data(40_000, 1);
    let mut b = test_data(70_000, 2);
    fs::write(src.join("a"), &a).unwrap();
    fs::write(src.join("b"), &b).unwrap();
    let opts = CreateOptions {
        version: MetaVersion::V2,
        piece_length: Some(16_384),
        threads: 1,
        ..CreateOptions::default()
    };
    let made = build(
        &scan(&src, true).unwrap(),
        &opts,
        &std::sync::atomic::AtomicU64::new(0),
    )
    .unwrap();
    let info = crate::protocol::metainfo::Metainfo::from_bytes(&made.bytes)
        .unwrap()
        .info;
    assert!(info.v2.is_some());
    let storage = Storage::open(dir.path(), &info).unwrap();
    let all: Vec<u32> = (0..storage.num_pieces()).collect();
    assert_eq!(all.len(), 8);
    for run_bytes in [1, 40_000, 1 << 20] {
        assert_eq!(check(&storage, &info, &all, 2, run_bytes), all);
    }
    // Byte 20_000 of b is in its second piece: piece 4 of the torrent.
    b[20_000] ^= 0xFF;
    fs::write(src.join("b"), &b).unwrap();
    let want: Vec<u32> = all.iter().copied().filter(|&i| i != 4).collect();
    for run_bytes in [1, 40_000, 1 << 20] {
        assert_eq!(check(&storage, &info, &all, 2, run_bytes), want);
    }
}
