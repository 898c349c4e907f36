//! Unit tests of `priorities.rs`.
use super::*;
use crate::engine::api::parse_file_list;
use crate::protocol::metainfo::FileEntry;
use FilePriority::*;

fn info(lengths: &[u64], piece: u32) -> Info {
    let mut offset = 0;
    let files = lengths
        .iter()
        .enumerate()
        .map(|(i, len)| {
            let f = FileEntry::new(vec!["t".into(), format!("f{i}")], *len, offset);
            offset += len;
            f
        })
        .collect();
    let n = offset.div_ceil(u64::from(piece)) as usize;
    Info {
        name: "t".into(),
        piece_length: piece,
        pieces: vec![[0; 20]; n],
        files,
        total_length: offset,
        private: false,
        source: None,
        single_file: false,
        v2: None,
    }
}

#[test]
fn file_lists_parse_ranges_and_refuse_the_rest() {
    assert_eq!(parse_file_list("0,3-5", None), Ok(vec![0, 3, 4, 5]));
    assert_eq!(parse_file_list(" 2 , 1-2,1", Some(3)), Ok(vec![1, 2]));
    for bad in ["", "a", "1,", "3-1", "-1", "1-", "1--2", "0-99999999999"] {
        let e = parse_file_list(bad, None).unwrap_err().to_string();
        assert!(
            e.starts_with("bad file list") && !e.contains('\n'),
            "{bad:?}: {e}"
        );
    }
    let e = parse_file_list("0,5", Some(5)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "file 5 does not exist: the torrent has 5 files (0 to 4)"
    );
}

#[test]
fn a_piece_takes_the_highest_priority_of_its_files() {
    // Pieces of 10: f0 0..15, f1 15..15 (empty), f2 15..40, f3 40..45.
    let info = info(&[15, 0, 25, 5], 10);
    let mut plan = FilePlan::new(&info, &[], false);
    plan.priorities = vec![High, Skip, Skip, Low];
    assert_eq!(
        plan.piece_priorities(&info),
        vec![High, High, Skip, Skip, Low]
    );
    plan.priorities = vec![Skip, Normal, Low, Skip];
    assert_eq!(
        plan.piece_priorities(&info),
        vec![Skip, Low, Low, Low, Skip]
    );
    assert_eq!(plan.wanted_count(), (2, 4));
    assert_eq!(plan.wanted_bytes(&info), 25);
    assert!(plan.boosted_pieces(&info).is_empty(), "rarest first alone");
    plan.first_last = true;
    assert_eq!(
        plan.boosted_pieces(&info),
        vec![1, 3],
        "first/last priority"
    );
    plan.first_last = false;
    plan.sequential = true;
    assert_eq!(plan.boosted_pieces(&info), vec![1, 3]);
    assert_eq!(plan.skipped_entries(&info), vec![true, false, false, true]);
}

#[test]
fn only_and_saved_bytes_round_trip() {
    let info = info(&[15, 0, 25, 5], 10);
    let plan = FilePlan::only(&info, &[0, 2], true).unwrap();
    assert_eq!(plan.priorities, vec![Normal, Skip, Normal, Skip]);
    let back = FilePlan::new(&info, &plan.saved(), true);
    assert_eq!(back, plan);
    assert!(FilePlan::only(&info, &[4], false).is_err());
    // All normal saves nothing; a short saved list fills with normal.
    assert!(FilePlan::new(&info, &[], false).saved().is_empty());
    assert_eq!(
        FilePlan::new(&info, &[0], false).priorities[1..],
        [Normal; 3]
    );
    for p in FilePriority::ALL {
        assert_eq!(from_byte(to_byte(p)), p);
    }
}

#[test]
fn done_bytes_count_verified_pieces_per_file() {
    let info = info(&[15, 0, 25, 5], 10);
    let mut rows: Vec<FileRow> = info
        .files
        .iter()
        .map(|f| FileRow {
            path: f.path.join("/"),
            size: f.length,
            offset: f.offset,
            done: 0,
            priority: Normal,
        })
        .collect();
    let mut have = Bitfield::new(5);
    have.set(1);
    have.set(4);
    fill_done(&info, &have, &mut rows);
    let done: Vec<u64> = rows.iter().map(|r| r.done).collect();
    assert_eq!(done, vec![5, 0, 5, 5]);
}

#[test]
fn a_late_list_applies_the_valid_indices_and_names_the_rest() {
    let i = info(&[10, 20, 30, 40], 16);
    let plan = FilePlan::only_once_known(&i, &[0, 2, 7], true);
    assert_eq!(plan.priorities, [Normal, Skip, Normal, Skip]);
    assert!(plan.sequential);
    assert_eq!(
        plan.note.as_deref(),
        Some("--only-files: 7 is past the last file (3), ignored")
    );
    let plan = FilePlan::only_once_known(&i, &[1, 3], false);
    assert_eq!(plan.priorities, [Skip, Normal, Skip, Normal]);
    assert_eq!(plan.note, None);
    assert_eq!(plan, FilePlan::only(&i, &[1, 3], false).unwrap());
    let many: Vec<usize> = (4..12).collect();
    let plan = FilePlan::only_once_known(&i, &many, false);
    assert_eq!(plan.priorities, [Skip; 4]);
    assert_eq!(
        plan.note.as_deref(),
        Some("--only-files: 4, 5, 6, 7, 8, … are past the last file (3), ignored")
    );
}

#[test]
fn a_magnets_so_counts_padding_entries_as_libtorrent_does() {
    // Entries: a, pad, b, pad, c. Real files (as the snapshot lists them): a=0, b=1, c=2.
    let mut i = info(&[10, 6, 10, 6, 10], 16);
    i.files[1].padding = true;
    i.files[3].padding = true;
    // so=2,4 names b and c by their entry numbers; so=1 names a padding file: nothing.
    let plan = FilePlan::select_only(&i, &[1, 2, 4], true);
    assert_eq!(plan.priorities, [Skip, Normal, Normal]);
    assert!(plan.sequential);
    assert_eq!(plan.note, None);
    assert_eq!(plan.skipped_entries(&i), [true, false, false, false, false]);
    // Past the last entry (4): left out and named.
    let plan = FilePlan::select_only(&i, &[0, 5, 9], false);
    assert_eq!(plan.priorities, [Normal, Skip, Skip]);
    assert_eq!(
        plan.note.as_deref(),
        Some("magnet so=: 5, 9 are past the last file (4), ignored")
    );
    // Without padding both numberings agree.
    let j = info(&[10, 20, 30, 40], 16);
    assert_eq!(
        FilePlan::select_only(&j, &[0, 2], false),
        FilePlan::only(&j, &[0, 2], false).unwrap()
    );
}
