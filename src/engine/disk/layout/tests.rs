//! Unit tests of `layout.rs`, and of how `Storage` maps payload bytes onto the files.
use super::*;
use crate::engine::disk::tests::info_of;
use crate::engine::disk::Storage;
use crate::protocol::metainfo::FileEntry;
use std::os::unix::fs::PermissionsExt;

/// Entries named "t/<name>" laid end to end.
fn entries(files: &[(&str, u64)]) -> Vec<FileEntry> {
    let mut offset = 0;
    files
        .iter()
        .map(|&(name, length)| {
            let entry = FileEntry::new(vec!["t".into(), name.into()], length, offset);
            offset += length;
            entry
        })
        .collect()
}

fn info(files: &[(&str, u64)], piece_length: u32) -> Info {
    let total: u64 = files.iter().map(|f| f.1).sum();
    info_of(entries(files), piece_length, &vec![0u8; total as usize])
}

fn layout_error(info: &Info) -> String {
    match check_layout(info) {
        Err(DiskError::Layout(why)) => why,
        other => panic!("expected a layout error, got {other:?}"),
    }
}

#[test]
fn a_consistent_layout_gives_its_geometry() {
    let g = check_layout(&info(&[("a", 10), ("empty", 0), ("b", 30)], 16)).unwrap();
    assert_eq!(g.num_pieces(), 3);
    assert_eq!(g.piece_len(2), Some(8));
}

#[test]
fn gaps_overlaps_and_wrong_totals_are_refused_with_the_reason() {
    let mut gap = info(&[("a", 10), ("b", 10)], 16);
    gap.files[1].offset = 11;
    assert!(layout_error(&gap).contains("\"t/b\" starts at 11 instead of 10"));

    let mut overlap = info(&[("a", 10), ("b", 10)], 16);
    overlap.files[1].offset = 9;
    assert!(layout_error(&overlap).contains("starts at 9"));

    let mut short = info(&[("a", 10), ("b", 10)], 16);
    short.total_length = 30;
    short.pieces.push([0; 20]);
    assert!(layout_error(&short).contains("files add up to 20 bytes, the torrent says 30"));

    let mut hashes = info(&[("a", 40)], 16);
    hashes.pieces.push([0; 20]);
    assert!(layout_error(&hashes).contains("4 piece hashes for 3 pieces"));
}

#[test]
fn lengths_that_overflow_or_a_zero_piece_length_are_errors_not_panics() {
    let mut huge = info(&[("a", 10), ("b", 10)], 16);
    huge.files[0].length = u64::MAX;
    huge.files[1].offset = u64::MAX;
    assert!(layout_error(&huge).contains("overflows"));

    let mut zero = info(&[("a", 10)], 16);
    zero.piece_length = 0;
    assert!(layout_error(&zero).contains("no piece layout"));
}

#[test]
fn path_components_that_could_leave_the_directory_are_refused() {
    for bad in ["", ".", "..", "a/b", "nul\0byte"] {
        assert!(check_component(bad).is_err(), "{bad:?}");
    }
    for good in ["a", "...", ".hidden", "name with spaces", "ünïcode"] {
        assert_eq!(check_component(good), Ok(()), "{good:?}");
    }
}

#[test]
fn file_paths_get_their_directories_but_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let parts = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
    let path = prepare_file_path(&root, &parts("t/sub/deeper/f")).unwrap();
    assert_eq!(path, root.join("t/sub/deeper/f"));
    assert!(root.join("t/sub/deeper").is_dir());
    assert!(!path.exists(), "the file itself is opened later");

    // A file where a directory must go, an empty path and a bad component in the middle.
    fs::write(root.join("t/plain"), b"x").unwrap();
    let err = prepare_file_path(&root, &parts("t/plain/f")).unwrap_err();
    assert!(matches!(err, DiskError::NotADirectory { .. }), "{err}");
    let err = prepare_file_path(&root, &[]).unwrap_err();
    assert!(matches!(err, DiskError::UnsafePath { .. }), "{err}");
    let err = prepare_file_path(&root, &parts("t/../f")).unwrap_err();
    assert!(matches!(err, DiskError::UnsafePath { .. }), "{err}");
    assert!(!root.join("f").exists());
}

#[test]
fn a_directory_is_checked_once_for_the_files_that_follow_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let parts = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
    let mut paths = FilePaths::new(&root);
    for name in [
        "t/a/f0", "t/a/f1", "t/a/f2", "t/b/f3", "t/b/f4", "t/a/f5", "t/top",
    ] {
        assert_eq!(paths.file_path(&parts(name)).unwrap(), root.join(name));
    }
    // t/a, t/b, t/a again (not the previous directory) and t.
    assert_eq!(paths.dir_checks(), 4);
    assert!(root.join("t/a").is_dir() && root.join("t/b").is_dir());

    // What reuse does not skip: each file's own name, and what stands at its path.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("t/b/away")).unwrap();
    std::os::unix::fs::symlink(root.join("t/b/gone"), root.join("t/b/dangling")).unwrap();
    assert!(paths.file_path(&parts("t/b/f6")).is_ok());
    let err = paths.file_path(&parts("t/b/..")).unwrap_err();
    assert!(matches!(err, DiskError::UnsafePath { .. }), "{err}");
    let err = paths.file_path(&parts("t/b/away")).unwrap_err();
    assert!(matches!(err, DiskError::PathEscape { .. }), "{err}");
    let err = paths.file_path(&parts("t/b/dangling")).unwrap_err();
    assert!(matches!(err, DiskError::PathEscape { .. }), "{err}");
    assert_eq!(paths.dir_checks(), 5, "t/b once more, after t/top");

    // A directory that leads outside is refused when it is checked, whatever came before.
    std::os::unix::fs::symlink(outside.path(), root.join("t/out")).unwrap();
    let err = paths.file_path(&parts("t/out/f")).unwrap_err();
    assert!(matches!(err, DiskError::PathEscape { .. }), "{err}");
    assert!(!outside.path().join("f").exists());
}

#[test]
fn open_file_says_when_the_content_is_known_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");

    let (_, fresh) = open_file(&path, 100, false).unwrap();
    assert!(fresh, "a created file is fresh");
    assert_eq!(fs::metadata(&path).unwrap().len(), 100);

    fs::write(&path, [7u8; 100]).unwrap();
    let (_, fresh) = open_file(&path, 100, false).unwrap();
    assert!(!fresh, "a file of the right length may hold data");
    assert_eq!(fs::read(&path).unwrap(), [7u8; 100], "and is left alone");

    let (_, fresh) = open_file(&path, 40, false).unwrap();
    assert!(fresh, "a file of another length does not");
    assert_eq!(fs::metadata(&path).unwrap().len(), 40);

    let err = open_file(dir.path(), 40, false).unwrap_err();
    assert!(matches!(err, DiskError::NotAFile { .. }), "{err}");
}

#[test]
fn the_executable_attribute_adds_x_only_where_r_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::write(&path, b"").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    open_file(&path, 0, true).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o750);
}

#[test]
fn permission_denied_means_a_read_only_root() {
    let root = Path::new("/some/root");
    let denied = io::Error::from(io::ErrorKind::PermissionDenied);
    let other = |e| DiskError::Root {
        root: root.to_path_buf(),
        source: e,
    };
    assert!(matches!(
        read_only_or(root, denied, other),
        DiskError::ReadOnly { .. }
    ));
    let rofs = io::Error::from_raw_os_error(libc::EROFS);
    assert!(matches!(
        read_only_or(root, rofs, other),
        DiskError::ReadOnly { .. }
    ));
    let missing = io::Error::from(io::ErrorKind::NotFound);
    assert!(matches!(
        read_only_or(root, missing, other),
        DiskError::Root { .. }
    ));
}

/// `(file index, offset in the file, range of the buffer)` for payload bytes `start..start+len`.
fn segments(
    storage: &Storage,
    start: u64,
    len: usize,
) -> Vec<(usize, u64, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    storage
        .for_each_segment(start, len, |i, _, offset, range| {
            out.push((i, offset, range));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn a_piece_across_files_maps_to_the_right_ranges() {
    let dir = tempfile::tempdir().unwrap();
    // Pieces of 16: [a 0..10 | b 0..6], [c 0..16], [c 16..20 | d 0..4].
    let info = info(
        &[("a", 10), ("empty", 0), ("b", 6), ("c", 20), ("d", 4)],
        16,
    );
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert_eq!(segments(&storage, 0, 16), [(0, 0, 0..10), (2, 0, 10..16)]);
    assert_eq!(segments(&storage, 16, 16), [(3, 0, 0..16)]);
    assert_eq!(segments(&storage, 32, 8), [(3, 16, 0..4), (4, 0, 4..8)]);
    // A block inside a piece, starting in the middle of a file.
    assert_eq!(segments(&storage, 8, 4), [(0, 8, 0..2), (2, 0, 2..4)]);
    // Exactly one file's bytes: the empty file before it is not visited.
    assert_eq!(segments(&storage, 10, 6), [(2, 0, 0..6)]);
}

#[test]
fn a_range_past_the_files_is_a_layout_error() {
    let dir = tempfile::tempdir().unwrap();
    let info = info(&[("a", 10)], 16);
    let storage = Storage::open(dir.path(), &info).unwrap();
    let err = storage
        .for_each_segment(5, 10, |_, _, _, _| Ok(()))
        .unwrap_err();
    assert!(matches!(err, DiskError::Layout(_)), "{err}");
}

#[test]
fn a_link_under_a_file_keeps_the_disk_error_and_its_words() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("t")).unwrap();
    fs::write(dir.path().join("t/a"), b"a file, not a directory").unwrap();
    let path: Vec<String> = ["t", "a", "l"].iter().map(|s| s.to_string()).collect();
    let e = create_link(dir.path(), &path, "x").unwrap_err();
    assert!(
        matches!(e, LinkError::Disk(DiskError::NotADirectory { .. })),
        "{e:?}"
    );
    assert!(
        e.to_string().ends_with("t/a exists and is not a directory"),
        "{e}"
    );
    let e = create_link(dir.path(), &path, "").unwrap_err();
    assert!(matches!(e, LinkError::BadTarget), "{e:?}");
}
