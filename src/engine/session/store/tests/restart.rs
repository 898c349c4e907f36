//! The restart policy (which pieces are trusted, checked or missing from sizes and mtimes), the
//! stamps of real files, and `Storage::check_pieces`.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, UNIX_EPOCH};

use super::super::restart::{plan, stamp_files};
use super::super::*;
use super::resume::FileStamp;
use crate::engine::disk::{hash_blocks, Storage};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::metainfo::{FileEntry, Info};

/// Files of `lengths` bytes (a `None` length is a padding file of 4) in pieces of 4 bytes,
/// hashed over `data` (zeros when not given).
fn info_of(lengths: &[u64], padding: &[usize], data: Option<&[u8]>) -> Info {
    let mut offset = 0;
    let files: Vec<FileEntry> = lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let mut e = FileEntry::new(vec!["t".into(), format!("f{i}")], len, offset);
            e.padding = padding.contains(&i);
            offset += len;
            e
        })
        .collect();
    let zeros = vec![0u8; offset as usize];
    let data = data.unwrap_or(&zeros);
    Info {
        name: "t".into(),
        piece_length: 4,
        pieces: data.chunks(4).map(|c| hash_blocks(&[c])).collect(),
        total_length: offset,
        files,
        private: false,
        source: None,
        single_file: false,
        v2: None,
    }
}

fn stamp(size: u64, mtime_ns: i128) -> Option<FileStamp> {
    Some(FileStamp { size, mtime_ns })
}

fn saved(info: &Info, have: &[u32], files: Vec<Option<FileStamp>>) -> Resume {
    let mut r = Resume::new([1; 20], "t".into(), PathBuf::from("/x"), info.num_pieces());
    let mut b = Bitfield::new(info.num_pieces());
    for &i in have {
        b.set(i);
    }
    r.set_have(&b);
    r.files = files;
    r.clean = true;
    r
}

fn ones(b: &Bitfield) -> Vec<u32> {
    b.ones().collect()
}

// Files of 6, 6 and 8 bytes in pieces of 4: f0 = pieces 0-1, f1 = pieces 1-2, f2 = pieces 3-4.

#[test]
fn unchanged_files_keep_their_pieces_and_nothing_is_hashed() {
    let info = info_of(&[6, 6, 8], &[], None);
    let files = vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)];
    let r = saved(&info, &[0, 1, 3, 4], files.clone());
    let p = plan(&info, &r, &files);
    assert_eq!(ones(&p.trusted), vec![0, 1, 3, 4]);
    assert!(p.to_check.is_empty());
    assert_eq!((p.changed_files, p.why), (0, None));
}

#[test]
fn a_touched_file_gets_all_its_pieces_checked() {
    let info = info_of(&[6, 6, 8], &[], None);
    let then = vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)];
    let r = saved(&info, &[0, 1, 2, 3, 4], then);
    let now = vec![stamp(6, 1), stamp(6, 2_000_000_001), stamp(8, 3)];
    let p = plan(&info, &r, &now);
    assert_eq!(ones(&p.trusted), vec![0, 3, 4]);
    assert_eq!(p.to_check, vec![1, 2], "piece 1 is shared with f0");
    assert_eq!(p.changed_files, 1);
    assert_eq!(
        p.why.as_deref(),
        Some("1 file changed since the last run: 2 pieces checked")
    );
    // Checked whether or not they were verified: the finished file may have been copied in.
    let r = saved(&info, &[], vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)]);
    assert_eq!(plan(&info, &r, &now).to_check, vec![1, 2]);
}

#[test]
fn missing_or_resized_files_make_their_pieces_missing_unread() {
    let info = info_of(&[6, 6, 8], &[], None);
    let then = vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)];
    let r = saved(&info, &[0, 1, 2, 3, 4], then);
    // f0 gone, f1 touched, f2 shorter: the piece f0 shares with f1 is missing, not checked.
    let now = vec![None, stamp(6, 9), stamp(7, 3)];
    let p = plan(&info, &r, &now);
    assert!(ones(&p.trusted).is_empty());
    assert_eq!(p.to_check, vec![2]);
    assert_eq!(p.changed_files, 3);
    assert_eq!(
        p.why.as_deref(),
        Some("3 files changed since the last run (2 missing or resized): 1 piece checked")
    );
}

#[test]
fn a_file_missing_then_and_now_is_no_change_but_its_pieces_are_not_trusted() {
    let info = info_of(&[6, 6, 8], &[], None);
    let files = vec![stamp(6, 1), None, stamp(8, 3)];
    // `have` claims piece 2, which lies in the missing file: not believed.
    let r = saved(&info, &[0, 2, 3], files.clone());
    let p = plan(&info, &r, &files);
    assert_eq!(ones(&p.trusted), vec![0, 3]);
    assert!(p.to_check.is_empty());
    assert_eq!((p.changed_files, p.why), (0, None));
}

#[test]
fn padding_and_empty_files_are_ignored() {
    // f0 6 bytes, f1 padding 2, f2 empty, f3 4: pieces 0-1 | 2.
    let info = info_of(&[6, 2, 0, 4], &[1], None);
    let then = vec![stamp(6, 1), stamp(0, 0), stamp(0, 5), stamp(4, 7)];
    let r = saved(&info, &[0, 1, 2], then);
    let now = vec![stamp(6, 1), stamp(0, 0), stamp(0, 99), stamp(4, 8)];
    let p = plan(&info, &r, &now);
    assert_eq!(ones(&p.trusted), vec![0, 1]);
    assert_eq!(p.to_check, vec![2]);
    assert_eq!(p.changed_files, 1);
}

#[test]
fn resume_data_of_another_shape_means_a_full_check() {
    let info = info_of(&[6, 6, 8], &[], None);
    let files = vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)];
    let other = info_of(&[6, 6, 12], &[], None);
    let r = saved(&other, &[0], files.clone());
    let p = plan(&info, &r, &files);
    assert_eq!(p.to_check, vec![0, 1, 2, 3, 4]);
    assert!(p.trusted.count() == 0 && p.why.unwrap().contains("6 pieces"));
    let r = saved(&info, &[0], files[..2].to_vec());
    let p = plan(&info, &r, &files);
    assert_eq!(p.to_check.len(), 5);
    assert!(p.why.unwrap().contains("2 files"));
}

#[test]
fn stamps_see_size_and_nanosecond_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let info = info_of(&[6, 4, 3], &[1], None);
    let root = dir.path();
    fs::create_dir_all(root.join("t")).unwrap();
    let f0 = fs::File::create(root.join("t/f0")).unwrap();
    f0.set_len(6).unwrap();
    let when = UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    f0.set_modified(when).unwrap();
    fs::create_dir(root.join("t/f2")).unwrap(); // not a regular file
    let stamps = stamp_files(root, &info);
    assert_eq!(
        stamps,
        vec![stamp(6, 1_600_000_000_123_456_789), stamp(0, 0), None]
    );
    f0.set_modified(when + Duration::from_nanos(1)).unwrap();
    assert_ne!(stamp_files(root, &info)[0], stamps[0]);
}

#[test]
fn check_pieces_hashes_only_the_named_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..20u8).collect();
    let info = info_of(&[6, 6, 8], &[], Some(&data));
    let storage = Storage::open(dir.path(), &info).unwrap();
    for i in 0..5u32 {
        let start = i as usize * 4;
        storage.write_piece(i, &[&data[start..start + 4]]).unwrap();
    }
    // Files `open` just created are known empty: their pieces are skipped unread.
    let fresh = storage
        .check_pieces(&info, &[0, 1, 2, 3, 4], 1, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert!(fresh.is_empty());
    // Opened again, as at a restart: the files are no longer fresh.
    drop(storage);
    let storage = Storage::open(dir.path(), &info).unwrap();
    // Corrupt piece 3 behind the storage's back.
    let f2 = dir.path().join("t/f2");
    let mut bytes = fs::read(&f2).unwrap();
    bytes[0] ^= 1;
    fs::write(&f2, bytes).unwrap();

    let seen = std::sync::Mutex::new(Vec::new());
    let record = |n: u32| seen.lock().unwrap().push(n);
    let good = storage
        .check_pieces(&info, &[4, 1, 3], 2, &record, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(good, vec![1, 4]);
    assert_eq!(seen.lock().unwrap().last(), Some(&3));
    let all = storage
        .check_existing(&info, 2, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(all, vec![true, true, true, false, true]);
    assert!(storage
        .check_pieces(&info, &[5], 1, &|_| {}, &AtomicBool::new(false))
        .is_err());
    let cancelled = storage.check_pieces(&info, &[0, 1], 1, &|_| {}, &AtomicBool::new(true));
    assert!(matches!(
        cancelled,
        Err(crate::engine::disk::DiskError::Cancelled)
    ));
}

/// After a crash, files still being downloaded are newer than the last save because we kept
/// writing them: their saved pieces stand and nothing is hashed. A finished file that changed
/// is still checked.
#[test]
fn after_a_crash_our_own_writes_are_not_changes() {
    let info = info_of(&[6, 6, 8], &[], None);
    let then = vec![stamp(6, 1), stamp(6, 2), stamp(8, 3)];
    // f0 and f1 incomplete (piece 1 missing), f2 complete.
    let mut r = saved(&info, &[0, 3, 4], then);
    r.clean = false;
    let now = vec![stamp(6, 5), stamp(6, 6), stamp(8, 7)];
    let p = plan(&info, &r, &now);
    assert_eq!(ones(&p.trusted), vec![0]);
    assert_eq!(
        p.to_check,
        vec![3, 4],
        "f2 was complete: someone else wrote it"
    );
    // After a power cut an incomplete file can come back older than the save's stamp (its
    // synced data kept, the inode's last mtime lost): still our own, its pieces stand.
    let older = vec![stamp(6, 0), stamp(6, 1), stamp(8, 3)];
    let p = plan(&info, &r, &older);
    assert_eq!((ones(&p.trusted), p.to_check), (vec![0, 3, 4], vec![]));
    // After a clean stop the same stamps are changes.
    r.clean = true;
    assert_eq!(plan(&info, &r, &now).to_check, vec![0, 1, 2, 3, 4]);
}

/// The whole restart as the session will run it: stamp after the last write, save, load; then
/// stamp before `Storage::open`, plan, and hash only what the plan names.
#[test]
fn a_restart_trusts_untouched_files_and_rehashes_a_touched_one() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..20u8).map(|b| b.wrapping_mul(7)).collect();
    let info = info_of(&[6, 6, 8], &[], Some(&data));
    {
        let storage = Storage::open(dir.path(), &info).unwrap();
        for i in 0..5u32 {
            let start = i as usize * 4;
            storage.write_piece(i, &[&data[start..start + 4]]).unwrap();
        }
        storage.flush().unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let store = Store::open(state.path()).unwrap();
    let mut r = Resume::new([3; 20], "t".into(), dir.path().into(), 5);
    r.set_have(&Bitfield::full(5));
    r.files = stamp_files(dir.path(), &info);
    store.save_resume(&r).unwrap();

    let load = || {
        let loaded = Store::open(state.path()).unwrap().load_all();
        loaded.into_iter().next().unwrap().resume.unwrap()
    };
    let p = plan(&info, &load(), &stamp_files(dir.path(), &info));
    assert_eq!((p.trusted.count(), p.to_check.len()), (5, 0));

    // Another program rewrites f1 with the same bytes: a new mtime, so pieces 1 and 2 are
    // hashed again, and found good.
    let f1 = dir.path().join("t/f1");
    let file = fs::OpenOptions::new().write(true).open(&f1).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000_000))
        .unwrap();
    let now = stamp_files(dir.path(), &info);
    let p = plan(&info, &load(), &now);
    assert_eq!(ones(&p.trusted), vec![0, 3, 4]);
    assert_eq!(p.to_check, vec![1, 2]);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let good = storage
        .check_pieces(&info, &p.to_check, 1, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(good, vec![1, 2]);
}
