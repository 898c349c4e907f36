//! Storage with BEP 47 attributes (padding, executable, symlink) and through a small budget of
//! open files.

use super::super::*;
use super::*;
use crate::protocol::metainfo::FileEntry;
use std::fs;
use std::os::unix::fs::PermissionsExt;

/// One file of a test torrent: path below "t", length, BEP 47 attr letters.
type Spec<'a> = (&'a str, u64, &'a str);

/// Payload bytes for `files`: pseudo-random, zeros inside padding files.
fn payload(files: &[Spec]) -> Vec<u8> {
    let mut data = Vec::new();
    for (n, &(_, len, attr)) in files.iter().enumerate() {
        for i in 0..len {
            let byte = if attr.contains('p') {
                0
            } else {
                (i as u8).wrapping_mul(29).wrapping_add(n as u8) | 1
            };
            data.push(byte);
        }
    }
    data
}

fn info_with(files: &[Spec], piece_length: u32, data: &[u8]) -> Info {
    let mut offset = 0;
    let entries = files
        .iter()
        .map(|&(path, length, attr)| {
            let mut components = vec!["t".to_string()];
            components.extend(path.split('/').map(str::to_string));
            let mut entry = FileEntry::new(components, length, offset);
            entry.padding = attr.contains('p');
            entry.executable = attr.contains('x');
            if attr.contains('l') {
                entry.symlink = Some("elsewhere".into());
            }
            offset += length;
            entry
        })
        .collect();
    assert_eq!(offset, data.len() as u64, "test data must match the layout");
    super::info_of(entries, piece_length, data)
}

fn write_all(storage: &Storage, data: &[u8], piece_length: u32) {
    for (index, piece) in data.chunks(piece_length as usize).enumerate() {
        storage.write_piece(index as u32, &[piece]).unwrap();
    }
}

/// A hybrid-style layout: every real file but the last is padded to a piece boundary, and two
/// pad entries share one name, as libtorrent writes them.
const PADDED: &[Spec] = &[
    ("a.bin", 5_000, ""),
    (".pad/3192", 3_192, "p"),
    ("run.sh", 1_000, "x"),
    (".pad/7192", 7_192, "p"),
    ("b.bin", 5_000, ""),
    (".pad/3192", 3_192, "p"),
    ("c.bin", 2_500, ""),
];

#[test]
fn padding_files_are_never_created_and_read_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let data = payload(PADDED);
    let info = info_with(PADDED, 8_192, &data);
    let storage = Storage::open(dir.path(), &info).unwrap();
    assert!(!dir.path().join("t/.pad").exists());
    assert_eq!(storage.file_paths().count(), 4);
    write_all(&storage, &data, 8_192);
    assert!(!dir.path().join("t/.pad").exists());
    assert_eq!(
        fs::read(dir.path().join("t/run.sh")).unwrap(),
        &data[8_192..9_192]
    );
    assert_eq!(
        fs::read(dir.path().join("t/c.bin")).unwrap(),
        &data[24_576..]
    );

    // Seeding: a block that spans a real file and a pad file reads back the exact bytes.
    let mut block = vec![0xEE; 4_000];
    storage.read_block(0, 5_000, &mut [0; 3_193]).unwrap_err();
    storage.read_block(0, 3_000, &mut block).unwrap();
    assert_eq!(block, &data[3_000..7_000]);
    assert!(block[2_000..].iter().all(|&b| b == 0));
    let mut piece = Vec::new();
    storage.read_piece(1, &mut piece).unwrap();
    assert_eq!(hash_blocks(&[&piece]), info.pieces[1]);
    storage.flush().unwrap();
    drop(storage);

    // Resume: every piece verifies, pad bytes included, without any pad file on disk.
    let storage = Storage::open(dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 2, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true; 4]);
}

#[test]
fn pieces_with_only_padding_and_fresh_files_are_not_read() {
    // A piece made of a pad file and a file created just now is missing without reading, while
    // a piece of pad bytes and an existing file is read.
    let layout: &[Spec] = &[
        ("a", 4_096, ""),
        (".pad/4096", 4_096, "p"),
        ("b", 8_192, ""),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = payload(layout);
    let info = info_with(layout, 8_192, &data);
    fs::create_dir(dir.path().join("t")).unwrap();
    fs::write(dir.path().join("t/a"), &data[..4_096]).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 1, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(flags, [true, false]);
}

#[test]
fn executable_attribute_sets_the_execute_bits() {
    let dir = tempfile::tempdir().unwrap();
    let data = payload(PADDED);
    let info = info_with(PADDED, 8_192, &data);
    Storage::open(dir.path(), &info)
        .unwrap()
        .create_all()
        .unwrap();
    let mode = |name: &str| {
        fs::metadata(dir.path().join("t").join(name))
            .unwrap()
            .permissions()
            .mode()
    };
    let run = mode("run.sh");
    assert_eq!(run & 0o111, (run & 0o444) >> 2, "{run:o}");
    assert_ne!(run & 0o100, 0, "{run:o}");
    assert_eq!(mode("a.bin") & 0o111, 0);
    // Also for a file that already existed with the right length (a resumed download).
    fs::set_permissions(
        dir.path().join("t/run.sh"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    drop(Storage::open(dir.path(), &info).unwrap());
    assert_eq!(mode("run.sh") & 0o777, 0o750);
}

/// `info_with`, then each link entry's target set from `targets` in order.
fn with_targets(mut info: Info, targets: &[&str]) -> Info {
    let mut targets = targets.iter();
    for entry in info.files.iter_mut().filter(|e| e.symlink.is_some()) {
        entry.symlink = targets.next().map(|t| t.to_string());
    }
    info
}

#[test]
fn links_inside_the_torrent_are_created_relative_and_others_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let layout: &[Spec] = &[
        ("a/b/bar", 100, ""),
        ("a/b/foo", 0, "l"),
        ("top", 0, "l"),
        ("out", 0, "l"),
        ("empty", 0, "l"),
        ("a/taken", 0, "l"),
        ("z", 28, ""),
    ];
    let data = payload(layout);
    let info = with_targets(
        info_with(layout, 64, &data),
        &["a/b/bar", "a/b", "../../etc/passwd", "", "a/b/bar"],
    );
    let t = dir.path().join("t");
    fs::create_dir_all(t.join("a")).unwrap();
    fs::write(t.join("a/taken"), b"mine").unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    write_all(&storage, &data, 64);
    assert_eq!(fs::read_link(t.join("a/b/foo")).unwrap(), Path::new("bar"));
    assert_eq!(fs::read(t.join("a/b/foo")).unwrap(), data[..100]);
    assert_eq!(fs::read_link(t.join("top")).unwrap(), Path::new("a/b"));
    assert!(t.join("top/bar").is_file());
    for skipped in ["out", "empty"] {
        assert!(fs::symlink_metadata(t.join(skipped)).is_err(), "{skipped}");
    }
    assert_eq!(fs::read(t.join("a/taken")).unwrap(), b"mine", "left alone");
    // Links hold no data and are not files of the storage.
    assert_eq!(storage.file_paths().count(), 2);
    drop(storage);
    // Opening again (a resumed download) finds its own links and keeps them.
    let notes = layout::create_links(&fs::canonicalize(dir.path()).unwrap(), &info);
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("\"t/out\""), "{notes:?}");
    assert!(
        notes[2].contains("something else is already there"),
        "{notes:?}"
    );
    Storage::open(dir.path(), &info).unwrap();
    assert_eq!(fs::read_link(t.join("a/b/foo")).unwrap(), Path::new("bar"));
}

#[test]
fn link_values_climb_to_the_torrent_directory() {
    let p = |s: &str| s.split('/').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        layout::link_value(&p("t/l"), "x/y"),
        Some(PathBuf::from("x/y"))
    );
    assert_eq!(
        layout::link_value(&p("t/a/b/l"), "x"),
        Some(PathBuf::from("../../x"))
    );
    assert_eq!(
        layout::link_value(&p("t/a/b/l"), "a/b/x"),
        Some(PathBuf::from("x"))
    );
    assert_eq!(
        layout::link_value(&p("t/a/b/l"), "a/c"),
        Some(PathBuf::from("../c"))
    );
    assert_eq!(
        layout::link_value(&p("t/a/b/l"), "a/b"),
        Some(PathBuf::from("../b"))
    );
    for bad in ["", "a//b", "../x", "a/./b", "a/.."] {
        assert_eq!(layout::link_value(&p("t/a/l"), bad), None, "{bad}");
    }
    assert_eq!(layout::link_value(&p("l"), "x"), None);
}

#[test]
fn many_files_go_through_a_small_budget() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("d{}/f{i}", i % 7)).collect();
    let layout: Vec<Spec> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), (i as u64 * 37) % 500, ""))
        .collect();
    let data = payload(&layout);
    let info = info_with(&layout, 4_096, &data);
    let budget = Arc::new(OpenFiles::new(8));
    let storage = Storage::open_in(&budget, dir.path(), &info).unwrap();
    assert_eq!(storage.open_files(), 0);
    // Pieces written in a scattered order, so files are reopened after eviction.
    let count = storage.num_pieces();
    for k in 0..count {
        let index = (k * 7) % count;
        let start = index as usize * 4_096;
        let piece = &data[start..(start + 4_096).min(data.len())];
        storage.write_piece(index, &[piece]).unwrap();
        assert!(storage.open_files() <= 8);
    }
    storage.flush().unwrap();
    for (i, name) in names.iter().enumerate() {
        let entry = &info.files[i];
        let on_disk = fs::read(dir.path().join("t").join(name)).unwrap();
        let start = entry.offset as usize;
        assert_eq!(
            on_disk,
            &data[start..start + entry.length as usize],
            "{name}"
        );
    }
    // Reopened, nothing is fresh: the resume check reads every piece through the budget.
    drop(storage);
    assert_eq!(budget.open_count(), 0);
    let storage = Storage::open_in(&budget, dir.path(), &info).unwrap();
    let flags = storage
        .check_existing(&info, 2, &|_| {}, &AtomicBool::new(false))
        .unwrap();
    assert!(flags.iter().all(|&f| f));
    assert!(storage.open_files() <= 8);

    // A budget above the file count: files open as they are used and stay open.
    let roomy = Arc::new(OpenFiles::new(300));
    let small = Storage::open_in(&roomy, &dir.path().join("small"), &info).unwrap();
    assert_eq!(small.open_files(), 0);
    write_all(&small, &data, 4_096);
    let real = info.files.iter().filter(|f| f.length > 0).count();
    assert_eq!(small.open_files(), real);
    assert_eq!(roomy.open_count(), real);
}

#[test]
fn a_file_removed_while_closed_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let layout: &[Spec] = &[("a", 100, ""), ("b", 100, ""), ("c", 100, "")];
    let data = payload(layout);
    let info = info_with(layout, 100, &data);
    let storage = Storage::open_in(&Arc::new(OpenFiles::new(1)), dir.path(), &info).unwrap();
    write_all(&storage, &data, 100);
    fs::remove_file(dir.path().join("t/a")).unwrap();
    let mut buf = vec![0; 100];
    let err = storage.read_block(0, 0, &mut buf).unwrap_err();
    assert!(err.is_fatal());
    let message = err.to_string();
    assert!(message.starts_with("cannot open "), "{message}");
    assert!(message.contains("t/a"), "{message}");
    assert!(!dir.path().join("t/a").exists(), "recreated");
    storage.read_block(2, 0, &mut buf).unwrap();
    assert_eq!(buf, &data[200..]);
}
