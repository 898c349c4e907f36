use super::load::*;
use super::*;

#[test]
fn a_torrent_that_cannot_be_kept_says_why_and_keeps_the_io_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hash = [7u8; 20];
    // A directory where the .torrent goes: the rename over it fails.
    std::fs::create_dir(store.torrent_path(&hash)).unwrap();
    let mut p = Persist::new(store);
    let e = p.save_torrent(&hash, b"d4:infod4:name1:xee").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot keep the torrent in the state directory: cannot "),
        "{e}"
    );
    let KeepError::Torrent(store_error) = &e else {
        panic!("{e:?}");
    };
    assert_eq!(store_error.kind(), std::io::ErrorKind::IsADirectory);
}

/// A torrent "pack" (a.bin, sub/b.bin) of 16 KiB pieces; its files are not written.
fn pack() -> (Metainfo, Vec<u8>, Vec<u8>) {
    use crate::protocol::metainfo::{encode_torrent, hash_pieces};
    let (a, b) = (vec![1u8; 20_000], vec![2u8; 15_000]);
    let files = vec![
        (vec!["a.bin".to_string()], a.len() as u64),
        (vec!["sub".to_string(), "b.bin".to_string()], b.len() as u64),
    ];
    let hashes = hash_pieces(&[a.as_slice(), b.as_slice()].concat(), 16 * 1024);
    let bytes = encode_torrent("pack", &files, 16 * 1024, &hashes, &[], false, None);
    (Metainfo::from_bytes(&bytes).unwrap(), a, b)
}

/// A power cut during a user's move and a rename of one file (issue 58): the file is in
/// the move's target already, still under its old name. The restart finds the torrent
/// where its data is, under the names its file has, and trusts every saved piece: the
/// stamps were taken where the files were.
#[test]
fn a_cut_amid_a_move_and_a_rename_finds_the_data_where_it_is_and_trusts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let store = Store::open(&dir.path().join("state")).unwrap();
    let (meta, a, b) = pack();
    store
        .save_torrent(&meta.info_hash, &torrent_file_of(&meta))
        .unwrap();
    // Moved (its one rename(2) done), not renamed yet.
    std::fs::create_dir_all(new.join("pack/sub")).unwrap();
    std::fs::write(new.join("pack/a.bin"), &a).unwrap();
    std::fs::write(new.join("pack/sub/b.bin"), &b).unwrap();
    let mut after = crate::engine::api::Renamed::default();
    after.files.insert(0, vec!["a2.bin".into()]);
    let mut renamed = meta.clone();
    after.apply(&mut renamed.info).unwrap();
    let mut r = Resume::new(meta.info_hash, "pack".into(), old.clone(), 3);
    (r.target, r.moving, r.user_move) = (Some(new.clone()), true, true);
    r.renamed = after;
    r.renaming = Some(Default::default());
    r.set_have(&Bitfield::full(3));
    r.files = stamp_where_they_are(&store, &r, &renamed);
    assert!(r.files.iter().all(Option::is_some), "{:?}", r.files);

    let t = from_resume(meta.clone(), r);
    assert_eq!(t.save_path.as_deref(), Some(new.as_path()));
    assert_eq!(t.meta.info.files[0].path, ["pack", "a.bin"]);
    assert!(t.trusted.as_ref().is_some_and(Bitfield::is_complete));
    assert!(t.to_check.is_empty(), "{:?}", t.notes);
    assert!(!t.moved, "a user's move runs no on_complete");
    assert!(t.kept.target.is_none() && !t.kept.moving && t.kept.renaming.is_none());
    assert!(
        t.notes.iter().any(|n| n.contains("keep the names")),
        "{:?}",
        t.notes
    );
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("move a stop interrupted")),
        "{:?}",
        t.notes
    );
}

/// Which names a rename under way at a cut leaves: those the files are under; the new
/// ones when no file is anywhere yet.
#[test]
fn a_rename_under_way_takes_the_names_the_files_are_under() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, a, _) = pack();
    let mut after = crate::engine::api::Renamed::default();
    after.files.insert(0, vec!["a2.bin".into()]);
    let before = crate::engine::api::Renamed::default();
    let root = [dir.path()];
    let (names, _) = settle_rename(&meta.info, &root, &after, before.clone());
    assert_eq!(names, after, "nothing on disk yet: the new names");
    std::fs::create_dir_all(dir.path().join("pack")).unwrap();
    std::fs::write(dir.path().join("pack/a.bin"), &a).unwrap();
    let (names, note) = settle_rename(&meta.info, &root, &after, before.clone());
    assert_eq!(names, before, "{note}");
    std::fs::rename(
        dir.path().join("pack/a.bin"),
        dir.path().join("pack/a2.bin"),
    )
    .unwrap();
    let (names, note) = settle_rename(&meta.info, &root, &after, before);
    assert_eq!(names, after, "{note}");
}

#[test]
fn a_move_stopped_halfway_is_finished_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (inc, fin) = (dir.path().join("incomplete"), dir.path().join("final"));
    let (meta, a, b) = pack();
    // a.bin made it before the stop; sub/b.bin did not.
    std::fs::create_dir_all(fin.join("pack")).unwrap();
    std::fs::create_dir_all(inc.join("pack/sub")).unwrap();
    std::fs::write(fin.join("pack/a.bin"), &a).unwrap();
    std::fs::write(inc.join("pack/sub/b.bin"), &b).unwrap();
    let mut r = Resume::new(meta.info_hash, "pack".into(), inc.clone(), 3);
    (r.target, r.moving) = (Some(fin.clone()), true);
    finish_move(&mut r, &meta).unwrap();
    assert_eq!(
        (r.save_path.as_path(), r.target.as_ref(), r.moving),
        (fin.as_path(), None, false)
    );
    assert_eq!(std::fs::read(fin.join("pack/a.bin")).unwrap(), a);
    assert_eq!(std::fs::read(fin.join("pack/sub/b.bin")).unwrap(), b);
    assert!(!inc.join("pack").exists());
    // Saved again after the move but before the journal closed: nothing left to do.
    let mut again = Resume::new(meta.info_hash, "pack".into(), fin.clone(), 3);
    (again.target, again.moving) = (Some(fin.clone()), true);
    finish_move(&mut again, &meta).unwrap();
    assert_eq!(
        (again.save_path, again.target, again.moving),
        (fin, None, false)
    );
}
