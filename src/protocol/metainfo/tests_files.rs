//! BEP 47 file attributes: padding, executable, symlink; paths that collide.

use super::tests::*;
use super::*;

#[test]
fn padding_files_are_marked() {
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("p"));
        set(file(r, 1), "path", path(&[".pad", "0"]));
        set(file(r, 2), "attr", bytes("x"));
        set(file(r, 0), "attr", Value::Int(1));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.padding_files, vec![1]);
    assert_eq!(m.info.files[1].path, vec![s("pack"), s(".pad"), s("0")]);
    let flags: Vec<(bool, bool)> = m
        .info
        .files
        .iter()
        .map(|f| (f.padding, f.executable))
        .collect();
    assert_eq!(flags, [(false, false), (true, false), (false, true)]);
    assert!(Metainfo::from_bytes(&multi())
        .unwrap()
        .padding_files
        .is_empty());
}

#[test]
fn padding_paths_may_repeat_and_collide() {
    // libtorrent names pad files by size: one `.pad/N` appears once per padded file. They
    // are never created, so neither a repeat nor a clash with a real path matters.
    let t = mutated(|r| {
        for i in [0, 1] {
            set(file(r, i), "attr", bytes("p"));
            set(file(r, i), "path", path(&[".pad", "16384"]));
        }
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    assert_eq!(m.padding_files, vec![0, 1]);
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("p"));
        set(file(r, 1), "path", path(&["dir", "sub", "b.bin", "x"]));
    });
    assert!(Metainfo::from_bytes(&t).is_ok());
    // Without the attribute the repeat is still refused.
    rejects(
        &mutated(|r| {
            set(file(r, 0), "attr", bytes("x"));
            for i in [0, 1] {
                set(file(r, i), "path", path(&[".pad", "16384"]));
            }
        }),
        "appears more than once",
    );
}

#[test]
fn libtorrent_hybrid_with_repeated_pad_names() {
    // python3-libtorrent 2.0.8, create_torrent flags 0, 16 KiB pieces: a.bin (20000 bytes)
    // and b.bin (3616) both need 12768 bytes of padding, so `.pad/12768` appears twice.
    let m = Metainfo::from_bytes(include_bytes!(
        "../../../tests/fixtures/libtorrent-hybrid.torrent"
    ))
    .unwrap();
    // libtorrent's info_hashes().v1: SHA-1 of the info dictionary, v2 keys included.
    assert_eq!(
        m.info_hash_hex(),
        "fec02f98b12745ade8034922b42990fd4cd6f6fd"
    );
    let files: Vec<(String, u64, bool)> = m
        .info
        .files
        .iter()
        .map(|f| (f.path.join("/"), f.length, f.padding))
        .collect();
    let expected = [
        ("hybrid-fixture/a.bin", 20_000, false),
        ("hybrid-fixture/.pad/12768", 12_768, true),
        ("hybrid-fixture/b.bin", 3_616, false),
        ("hybrid-fixture/.pad/12768", 12_768, true),
        ("hybrid-fixture/sub/c.txt", 2_000, false),
        ("hybrid-fixture/.pad/14384", 14_384, true),
    ];
    let expected: Vec<(String, u64, bool)> = expected
        .iter()
        .map(|&(p, l, pad)| (p.to_owned(), l, pad))
        .collect();
    assert_eq!(files, expected);
    assert_eq!(m.padding_files, vec![1, 3, 5]);
    assert_eq!(m.info.total_length, 65_536);
    assert_eq!(m.info.data_length(), 20_000 + 3_616 + 2_000);
    assert_eq!(m.info.geometry().num_pieces(), 4);
}

#[test]
fn symlink_attribute_is_recorded() {
    let t = mutated(|r| {
        set(file(r, 1), "attr", bytes("l"));
        set(file(r, 1), "symlink path", path(&["dir", "a.bin"]));
        set(file(r, 2), "attr", bytes("lx"));
    });
    let m = Metainfo::from_bytes(&t).unwrap();
    let links: Vec<Option<&str>> = m.info.files.iter().map(|f| f.symlink.as_deref()).collect();
    assert_eq!(links, [None, Some("dir/a.bin"), Some("")]);
    assert!(m.info.files[2].executable);
}

#[test]
fn colliding_paths() {
    // The directory comes first, the file second: also a conflict.
    rejects(
        &mutated(|r| {
            set(file(r, 0), "path", path(&["dir", "a.bin", "x"]));
            set(file(r, 2), "path", path(&["dir", "a.bin"]));
        }),
        "\"pack/dir/a.bin\" is both a file and a directory",
    );
    rejects(
        &mutated(|r| set(file(r, 2), "path", path(&["dir", "a.bin"]))),
        "path \"pack/dir/a.bin\" appears more than once",
    );
    rejects(
        &mutated(|r| set(file(r, 1), "path", path(&["dir", "a.bin", "x"]))),
        "\"pack/dir/a.bin\" is both a file and a directory",
    );
    // Same names in different directories are fine.
    let ok = mutated(|r| set(file(r, 2), "path", path(&["other", "a.bin"])));
    assert!(Metainfo::from_bytes(&ok).is_ok());
}

#[test]
fn long_paths_are_checked_in_linear_time() {
    let long: Vec<&str> = std::iter::repeat_n("d", 200_000).collect();
    let start = std::time::Instant::now();
    let t = mutated(|r| set(file(r, 2), "path", path(&long)));
    assert!(Metainfo::from_bytes(&t).is_ok());
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
