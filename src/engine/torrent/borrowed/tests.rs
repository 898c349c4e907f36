use super::*;
use crate::protocol::metainfo::FileEntry;

/// Files of 10, 2, 20 bytes (offsets 0, 10, 12) in pieces of 4: pieces 0..=7.
fn three() -> Info {
    let mut info = crate::engine::testkit::info(4, 32);
    info.single_file = false;
    info.files = vec![
        FileEntry::new(vec!["t".into(), "a".into()], 10, 0),
        FileEntry::new(vec!["t".into(), "b".into()], 2, 10),
        FileEntry::new(vec!["t".into(), "c".into()], 20, 12),
    ];
    info
}

fn bits(on: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(8);
    for &i in on {
        b.set(i);
    }
    b
}

#[test]
fn a_file_is_proven_by_every_piece_wholly_in_it() {
    let info = three();
    // a: pieces 0, 1 whole, 2 straddles into b; c: 3..=7 whole.
    let s = decide(&info, &bits(&[0, 1, 3, 4, 5, 6, 7]), &[0, 2]);
    assert_eq!((s.kept, s.replaced), (vec![0, 2], vec![]));
    let s = decide(&info, &bits(&[0, 1, 3, 4, 6, 7]), &[0, 2]);
    assert_eq!(
        (s.kept, s.replaced),
        (vec![0], vec![2]),
        "piece 5 failed in c"
    );
}

#[test]
fn a_file_too_small_for_a_whole_piece_needs_every_piece_touching_it() {
    let info = three();
    // b lies in piece 2 alone, with a's end and c's start.
    assert_eq!(decide(&info, &bits(&[2]), &[1]).kept, vec![1]);
    assert_eq!(decide(&info, &bits(&[0, 1, 3]), &[1]).replaced, vec![1]);
}

#[test]
fn the_words_say_how_much_was_found_and_where() {
    let info = three();
    assert_eq!(
        words(&info, &bits(&[0, 1, 2, 3]), "#4"),
        "cross-seed: 50 % found on disk (from #4)"
    );
    assert_eq!(
        words(&info, &bits(&[]), ""),
        "cross-seed: 0 % found on disk"
    );
}

#[test]
fn settling_replaces_a_link_with_a_file_of_its_own_and_leaves_the_other_name_alone() {
    let dir = tempfile::tempdir().unwrap();
    let info = three();
    let other = dir.path().join("other-c");
    std::fs::write(&other, [7u8; 20]).unwrap();
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::hard_link(&other, dir.path().join("t/c")).unwrap();
    let storage = Storage::open(dir.path(), &info).unwrap();
    let mut have = bits(&[0, 1, 3, 4, 6, 7]);
    let s = settle(&storage, &info, &mut have, &[2]).unwrap();
    assert_eq!(s.replaced, vec![2]);
    assert_eq!(
        std::fs::read(&other).unwrap(),
        vec![7u8; 20],
        "the other name keeps its bytes"
    );
    assert_eq!(
        std::fs::read(dir.path().join("t/c")).unwrap(),
        vec![0u8; 20]
    );
    assert_eq!(
        have.ones().collect::<Vec<_>>(),
        vec![0, 1],
        "no piece of c stays verified"
    );
}
