use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::{
    delete_files, finish_moving, move_files, stage_files, staging_dir, CopyProgress, DiskFilesError,
};
use crate::protocol::metainfo::{encode_torrent, hash_pieces, Metainfo};

const PIECE: u32 = 16 * 1024;

/// A two-file torrent "pack" (a.bin and sub/b.bin) with its files written under `root`.
fn pack(root: &Path) -> Metainfo {
    let (a, b) = (vec![1u8; 20_000], vec![2u8; 15_000]);
    let files = vec![
        (vec!["a.bin".to_string()], a.len() as u64),
        (vec!["sub".to_string(), "b.bin".to_string()], b.len() as u64),
    ];
    let hashes = hash_pieces(&[a.as_slice(), b.as_slice()].concat(), PIECE);
    let bytes = encode_torrent("pack", &files, PIECE, &hashes, &[], false, None);
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    fs::create_dir_all(root.join("pack/sub")).unwrap();
    fs::write(root.join("pack/a.bin"), a).unwrap();
    fs::write(root.join("pack/sub/b.bin"), b).unwrap();
    meta
}

#[test]
fn a_move_takes_every_file_and_leaves_no_folder_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    move_files(&from, &to, &meta).unwrap();
    assert_eq!(fs::read(to.join("pack/a.bin")).unwrap(), vec![1u8; 20_000]);
    assert_eq!(
        fs::read(to.join("pack/sub/b.bin")).unwrap(),
        vec![2u8; 15_000]
    );
    assert!(
        !from.join("pack").exists(),
        "the torrent's folders stay behind"
    );
}

#[test]
fn a_target_that_exists_undoes_the_move_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    fs::create_dir_all(to.join("pack/sub")).unwrap();
    fs::write(to.join("pack/sub/b.bin"), b"someone else's").unwrap();
    let err = move_files(&from, &to, &meta).unwrap_err();
    assert!(matches!(err, DiskFilesError::Exists(_)), "{err:?}");
    assert_eq!(err.kind(), None);
    assert!(err.to_string().ends_with("b.bin exists already"), "{err}");
    // a.bin, moved first, went back; the other file was not touched.
    assert_eq!(
        fs::read(from.join("pack/a.bin")).unwrap(),
        vec![1u8; 20_000]
    );
    assert!(!to.join("pack/a.bin").exists());
    assert_eq!(
        fs::read(to.join("pack/sub/b.bin")).unwrap(),
        b"someone else's"
    );
}

#[test]
fn a_failed_move_keeps_the_os_error_kind_and_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("from");
    let meta = pack(&from);
    // The target's folder is a file: no OS call can make it a directory (root included).
    let blocker = dir.path().join("blocker");
    fs::write(&blocker, b"x").unwrap();
    let err = move_files(&from, &blocker.join("to"), &meta).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotADirectory), "{err:?}");
    assert!(err.to_string().contains("blocker"), "{err}");
    assert!(from.join("pack/a.bin").exists() && from.join("pack/sub/b.bin").exists());
}

#[test]
fn delete_removes_the_files_and_their_folders_and_tolerates_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let meta = pack(dir.path());
    fs::remove_file(dir.path().join("pack/a.bin")).unwrap();
    delete_files(dir.path(), &meta, &Default::default()).unwrap();
    assert!(!dir.path().join("pack").exists());
}

#[test]
fn a_delete_that_fails_names_the_path_and_keeps_the_kind() {
    let dir = tempfile::tempdir().unwrap();
    let meta = pack(dir.path());
    // A directory where a file should be: remove_file fails with a kind other than NotFound.
    fs::remove_file(dir.path().join("pack/a.bin")).unwrap();
    fs::create_dir(dir.path().join("pack/a.bin")).unwrap();
    let err = delete_files(dir.path(), &meta, &Default::default()).unwrap_err();
    assert!(
        err.kind().is_some_and(|k| k != ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(err.to_string().contains("a.bin"), "{err}");
    assert!(
        !dir.path().join("pack/sub/b.bin").exists(),
        "the other file goes anyway"
    );
}

/// `src` copied to `dst` as `copy_into_place` leaves it: same bytes, same modification time.
fn copied_in_place(src: &Path, dst: &Path) {
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    fs::copy(src, dst).unwrap();
    let mtime = fs::metadata(src).unwrap().modified().unwrap();
    fs::File::options()
        .write(true)
        .open(dst)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn a_copy_cut_short_is_dropped_and_the_move_finished_from_what_is_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    // Stopped mid-copy: a.bin renamed into place, b.bin's copy cut short beside its place.
    copied_in_place(&from.join("pack/a.bin"), &to.join("pack/a.bin"));
    let tmp = to.join("pack/sub/.b.bin.ttui-moving");
    fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    fs::write(&tmp, [2u8; 100]).unwrap();
    // A fresh move would refuse: a.bin is there.
    assert!(matches!(
        move_files(&from, &to, &meta),
        Err(DiskFilesError::Exists(_))
    ));
    finish_moving(&from, &to, &meta).unwrap();
    assert_eq!(fs::read(to.join("pack/a.bin")).unwrap(), vec![1u8; 20_000]);
    assert_eq!(
        fs::read(to.join("pack/sub/b.bin")).unwrap(),
        vec![2u8; 15_000]
    );
    assert!(!tmp.exists(), "the cut copy stays");
    assert!(!from.join("pack").exists(), "the originals stay");
    // Finished already: nothing left to do, and nothing is lost.
    finish_moving(&from, &to, &meta).unwrap();
    assert_eq!(
        fs::read(to.join("pack/sub/b.bin")).unwrap(),
        vec![2u8; 15_000]
    );
}

#[test]
fn finishing_a_move_never_takes_someone_elses_file_for_ours() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    fs::create_dir_all(to.join("pack")).unwrap();
    fs::write(to.join("pack/a.bin"), b"not ours").unwrap();
    let err = finish_moving(&from, &to, &meta).unwrap_err();
    assert!(matches!(err, DiskFilesError::Exists(_)), "{err:?}");
    assert_eq!(
        fs::read(from.join("pack/a.bin")).unwrap(),
        vec![1u8; 20_000]
    );
    assert_eq!(fs::read(to.join("pack/a.bin")).unwrap(), b"not ours");
}

/// A background copy, then the switch: every staged copy still the same as its original is
/// renamed into place, one written since is copied again from its original, and nothing of
/// the staging folder is left.
#[test]
fn a_staged_copy_is_taken_at_the_switch_unless_its_original_changed() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    let progress = CopyProgress::default();
    stage_files(&from, &to, &meta, &progress).unwrap();
    assert_eq!(progress.copied.load(Ordering::Relaxed), 35_000);
    let staging = staging_dir(&to, &meta);
    assert_eq!(
        fs::read(staging.join("pack/a.bin")).unwrap(),
        vec![1u8; 20_000]
    );
    // The original stays where it was, whole: the torrent still runs from it.
    assert_eq!(
        fs::read(from.join("pack/a.bin")).unwrap(),
        vec![1u8; 20_000]
    );
    assert!(!to.join("pack/a.bin").exists());

    // The torrent writes b.bin after its copy (a download goes on): its copy is stale.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(from.join("pack/sub/b.bin"), vec![3u8; 15_000]).unwrap();
    // A staged copy is taken by its stamp: mark a.bin's so its use shows.
    let marked = staging.join("pack/a.bin");
    let stamp = fs::metadata(&marked).unwrap().modified().unwrap();
    fs::write(&marked, vec![9u8; 20_000]).unwrap();
    fs::File::options()
        .write(true)
        .open(&marked)
        .unwrap()
        .set_modified(stamp)
        .unwrap();

    move_files(&from, &to, &meta).unwrap();
    assert_eq!(
        fs::read(to.join("pack/a.bin")).unwrap(),
        vec![9u8; 20_000],
        "the staged copy was taken"
    );
    assert_eq!(
        fs::read(to.join("pack/sub/b.bin")).unwrap(),
        vec![3u8; 15_000],
        "the file written since its copy came from its original"
    );
    assert!(!staging.exists(), "the staging folder is left behind");
    assert!(!from.join("pack").exists());
}

/// A copy again after a stop keeps what was staged whole, and a copy onto a file that is
/// there already fails before it copies anything.
#[test]
fn a_copy_again_keeps_what_was_staged_and_never_overwrites() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    let meta = pack(&from);
    stage_files(&from, &to, &meta, &CopyProgress::default()).unwrap();
    let again = CopyProgress::default();
    // Cancelled at once: only what is staged already counts, nothing is read again.
    again.cancel.store(true, Ordering::Relaxed);
    stage_files(&from, &to, &meta, &again).unwrap();
    assert_eq!(again.copied.load(Ordering::Relaxed), 35_000);

    let other = dir.path().join("other");
    fs::create_dir_all(other.join("pack")).unwrap();
    fs::write(other.join("pack/a.bin"), b"someone else's").unwrap();
    let err = stage_files(&from, &other, &meta, &CopyProgress::default()).unwrap_err();
    assert!(matches!(err, DiskFilesError::Exists(_)), "{err:?}");
    assert!(!staging_dir(&other, &meta).exists());
    assert_eq!(
        fs::read(other.join("pack/a.bin")).unwrap(),
        b"someone else's"
    );
}
