use std::sync::Arc;

use super::super::tests::info_of;
use super::super::{OpenFiles, Storage};
use super::{write_all_vectored_at, IOV_BATCH};
use crate::protocol::metainfo::{FileEntry, Info};

/// A torrent "t" of `files` (name, length) over `data`, pieces of `piece` bytes.
fn torrent(files: &[(&str, u64)], piece: u32, data: &[u8]) -> Info {
    let mut offset = 0;
    let entries = files
        .iter()
        .map(|&(name, length)| {
            let e = FileEntry::new(vec!["t".into(), name.into()], length, offset);
            offset += length;
            e
        })
        .collect();
    info_of(entries, piece, data)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Piece `index` of `data` written as runs of `per_run` blocks of `block` bytes.
fn write_in_runs(s: &Storage, data: &[u8], piece: usize, index: u32, block: usize, per_run: usize) {
    let bytes = &data[index as usize * piece..][..piece];
    let blocks: Vec<&[u8]> = bytes.chunks(block).collect();
    for (n, run) in blocks.chunks(per_run).enumerate() {
        let begin = (n * per_run * block) as u32;
        s.write_run(index, begin, run).unwrap();
    }
}

fn read_all(s: &Storage, pieces: u32) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = Vec::new();
    for i in 0..pieces {
        s.read_piece(i, &mut buf).unwrap();
        all.extend_from_slice(&buf);
    }
    all
}

#[test]
fn runs_inside_one_file_land_where_their_blocks_belong() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(4 * 4096);
    let info = torrent(&[("a", d.len() as u64)], 8192, &d);
    let s = Storage::open(dir.path(), &info).unwrap();
    // Piece 1 first, in runs of three blocks and a last one of one.
    write_in_runs(&s, &d, 8192, 1, 1024, 3);
    write_in_runs(&s, &d, 8192, 0, 1024, 8);
    assert_eq!(read_all(&s, 2), d);
    assert_eq!(std::fs::read(dir.path().join("t/a")).unwrap(), d);
}

#[test]
fn a_run_across_files_goes_block_by_block_and_still_lands_right() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(10_000);
    // Piece 0 spans a, the empty file and the start of c.
    let info = torrent(&[("a", 3_000), ("empty", 0), ("c", 7_000)], 8192, &d);
    let s = Storage::open(dir.path(), &info).unwrap();
    write_in_runs(&s, &d, 8192, 0, 1000, 5);
    let last = &d[8192..];
    s.write_run(1, 0, &[&last[..800], &last[800..]]).unwrap();
    assert_eq!(read_all(&s, 2), d);
    assert_eq!(std::fs::read(dir.path().join("t/a")).unwrap(), d[..3_000]);
    assert_eq!(std::fs::read(dir.path().join("t/c")).unwrap(), d[3_000..]);
}

#[test]
fn a_run_into_a_skipped_file_goes_to_the_parts_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(8192);
    let info = torrent(&[("a", 4096), ("b", 4096)], 8192, &d);
    let budget = Arc::new(OpenFiles::new(4));
    let s = Storage::open_skipping(&budget, dir.path(), &info, &[false, true], "parts").unwrap();
    // One run wholly inside the skipped file, one wholly inside the wanted one.
    s.write_run(0, 4096, &[&d[4096..6000], &d[6000..]]).unwrap();
    s.write_run(0, 0, &[&d[..100], &d[100..4096]]).unwrap();
    assert!(
        !dir.path().join("t/b").exists(),
        "a skipped file is not made"
    );
    assert_eq!(read_all(&s, 1), d);
}

#[test]
fn a_run_past_its_piece_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(8192);
    let info = torrent(&[("a", 8192)], 4096, &d);
    let s = Storage::open(dir.path(), &info).unwrap();
    let e = s.write_run(0, 2048, &[&d[..2048], &d[..2048], &[1u8]]);
    assert!(e.is_err());
    assert!(!e.unwrap_err().is_fatal(), "one bad range, not a bad disk");
    assert!(s.write_run(2, 0, &[&d[..1], &d[..1]]).is_err());
    let on_disk = std::fs::read(dir.path().join("t/a")).unwrap_or_default();
    assert!(on_disk.iter().all(|&b| b == 0), "nothing was written");
}

#[test]
fn more_buffers_than_one_call_takes_go_in_several_calls() {
    let mut f = tempfile::tempfile().unwrap();
    let d = data(3 * IOV_BATCH * 3);
    // Buffers of 1 to 5 bytes, and empty ones in between, more than 2 × IOV_BATCH of them.
    let mut bufs: Vec<&[u8]> = Vec::new();
    let mut rest = &d[..];
    let mut n = 0;
    while !rest.is_empty() {
        let take = (n % 5 + 1).min(rest.len());
        bufs.push(&rest[..take]);
        if n % 7 == 0 {
            bufs.push(&[]);
        }
        rest = &rest[take..];
        n += 1;
    }
    assert!(bufs.len() > 2 * IOV_BATCH);
    write_all_vectored_at(&f, &bufs, 10).unwrap();
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut back).unwrap();
    assert_eq!(&back[..10], &[0u8; 10]);
    assert_eq!(&back[10..], &d[..]);
}
