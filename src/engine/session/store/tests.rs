//! The resume codec (round trip and every corrupt form), the store's files and the lock.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::lock::{try_lock, LockError};
use super::resume::FileStamp;
use super::resume::{decode, encode, MAX_PEERS, MAX_RESUME_SIZE};
use super::*;

const HASH: [u8; 20] = [0xab; 20];

fn full_resume() -> Resume {
    let mut r = Resume::new(
        HASH,
        "Some torrent ✓".into(),
        PathBuf::from("/srv/down load"),
        13,
    );
    r.added = 1_700_000_000;
    r.completed = Some(1_700_000_500);
    r.paused = true;
    r.have = vec![0b1010_0000, 0b1111_1000];
    r.files = vec![
        Some(FileStamp {
            size: 12345,
            mtime_ns: 1_700_000_000_123_456_789,
        }),
        None,
        Some(FileStamp {
            size: 0,
            mtime_ns: -1_500_000_001,
        }),
    ];
    r.downloaded = 1 << 40;
    r.uploaded = 77;
    r.seeding_secs = 3600;
    r.active_secs = 7200;
    r.last_activity = 1_795_377_777;
    r.peers = vec![
        "127.0.0.1:6881".parse().unwrap(),
        "[::1]:51413".parse().unwrap(),
        "10.1.2.3:1".parse().unwrap(),
    ];
    r.queue_position = 4;
    r.file_priorities = vec![0, 1, 7];
    r.down_limit = Some(100_000);
    r.up_limit = Some(0);
    r.seed_ratio = Some(1.5);
    r.seed_time_secs = Some(86_400);
    r.seed_idle_secs = Some(1800);
    r.goals_off = 1;
    r.forced = true;
    r.super_seeding = true;
    r.goal_reached = Some("ratio 1.00 reached (goal 1.0)".into());
    r.sequential = true;
    r.labels = vec!["tv".into(), "Ünïcode ok".into()];
    r.target = Some(PathBuf::from("/srv/final dir"));
    r.moving = true;
    r.renamed.name = Some("Renamed top".into());
    r.renamed
        .files
        .insert(2, vec!["sub".into(), "ñew.txt".into()]);
    r.user_move = true;
    let mut before = crate::engine::api::Renamed::default();
    before.files.insert(1, vec!["older.txt".into()]);
    r.renaming = Some(before);
    r
}

/// Files written before the queue's keys (forced, goal_reached, seed_idle, goals_off) have
/// none of them and still load, with each at its default.
#[test]
fn a_file_without_the_queue_keys_loads() {
    let r = Resume::new(HASH, "old".into(), PathBuf::from("/d"), 3);
    let bytes = encode(&r);
    for key in [
        &b"6:forced"[..],
        b"12:goal_reached",
        b"9:seed_idle",
        b"9:goals_off",
        b"6:magnet",
        b"10:only_files",
        b"6:labels",
        b"6:target",
        b"6:moving",
        b"12:renamed_name",
        b"13:renamed_files",
        b"8:renaming",
        b"9:user_move",
        b"11:before_name",
    ] {
        assert!(!bytes.windows(key.len()).any(|w| w == key));
    }
    let back = decode(&bytes, &HASH).unwrap();
    assert!(!back.forced && back.goal_reached.is_none() && back.goals_off == 0);
    assert_eq!(back.seed_idle_secs, None);
    assert!(back.renamed.is_empty());
}

/// A magnet still fetching its metadata: its link and `--only-files` come back; a negative
/// index is refused by name.
#[test]
fn a_pending_magnet_round_trips() {
    let mut r = Resume::new(HASH, "m".into(), PathBuf::from("/d"), 0);
    r.magnet = Some(format!("magnet:?xt=urn:btih:{}", hex::encode(&HASH)));
    r.only_files = Some(vec![0, 3, 4, 9]);
    let bytes = encode(&r);
    assert_eq!(decode(&bytes, &HASH).unwrap(), r);
    let (from, to) = (&b"10:only_filesli0ei3e"[..], &b"10:only_filesli0ei-3e"[..]);
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let bad = [&bytes[..at], to, &bytes[at + from.len()..]].concat();
    assert!(matches!(
        decode(&bad, &HASH),
        Err(ResumeError::Invalid {
            key: "only_files",
            ..
        })
    ));
}

/// A doctored file's bad labels are dropped one by one; the torrent and its good labels load.
#[test]
fn a_bad_label_is_dropped_alone() {
    let mut r = Resume::new(HASH, "l".into(), PathBuf::from("/d"), 0);
    r.labels = vec!["tv".into(), "a,b".into(), "x\u{1b}".into(), "hd".into()];
    let back = decode(&encode(&r), &HASH).unwrap();
    assert_eq!(back.labels, vec!["tv".to_string(), "hd".to_string()]);
}

#[test]
fn round_trip_keeps_every_field() {
    let r = full_resume();
    let back = decode(&encode(&r), &HASH).unwrap();
    // v4 peers are written before v6 ones.
    let mut expected = r.clone();
    expected.peers = vec![r.peers[0], r.peers[2], r.peers[1]];
    assert_eq!(back, expected);

    let minimal = Resume::new(HASH, String::new(), PathBuf::from("/"), 0);
    assert_eq!(decode(&encode(&minimal), &HASH).unwrap(), minimal);
}

#[test]
fn ratio_round_trips_exactly() {
    for ratio in [0.1 + 0.2, 1.0 / 3.0, 0.0, 1e300] {
        let mut r = full_resume();
        r.seed_ratio = Some(ratio);
        assert_eq!(decode(&encode(&r), &HASH).unwrap().seed_ratio, Some(ratio));
    }
    let mut r = full_resume();
    r.seed_ratio = Some(f64::NAN);
    assert_eq!(decode(&encode(&r), &HASH).unwrap().seed_ratio, None);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = encode(&full_resume());
    for end in 0..bytes.len() {
        let e = decode(&bytes[..end], &HASH).unwrap_err();
        assert!(matches!(e, ResumeError::Damaged(_)), "cut at {end}: {e}");
    }
}

#[test]
fn garbage_is_damaged() {
    for junk in [
        &b"hello"[..],
        b"",
        b"\0\0\0\0",
        b"i42e",
        b"d5:formate",
        b"le",
    ] {
        let e = decode(junk, &HASH).unwrap_err();
        assert!(
            matches!(e, ResumeError::Damaged(_) | ResumeError::NotResume),
            "{junk:?}: {e}"
        );
    }
    let mut bytes = encode(&full_resume());
    bytes.push(b'x');
    assert!(matches!(
        decode(&bytes, &HASH),
        Err(ResumeError::Damaged(_))
    ));
    // Deep nesting is refused before serde_bencode (which recurses without a bound) sees it.
    let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
    assert!(matches!(decode(&deep, &HASH), Err(ResumeError::Damaged(_))));
}

/// The fuzz target's property over every single-byte change: no panic, one-line errors, and
/// whatever decodes survives encode and decode unchanged.
#[test]
fn every_flipped_byte_decodes_or_fails_cleanly() {
    let bytes = encode(&full_resume());
    for at in 0..bytes.len() {
        for mask in [0x01u8, 0x10, 0x80] {
            let mut b = bytes.clone();
            b[at] ^= mask;
            match decode(&b, &HASH) {
                Ok(r) => assert_eq!(decode(&encode(&r), &HASH).unwrap(), r),
                Err(e) => assert!(!e.to_string().contains('\n')),
            }
        }
    }
}

#[test]
fn a_missing_key_is_named() {
    let e = decode(&edited(b"4:have2:", b"4:hava2:"), &HASH).unwrap_err();
    assert_eq!(e.to_string(), "resume data is damaged: `have` is missing");
}

/// Read in place (`resume::Fields`): a value of the wrong type is named with its key, a key
/// of a later version is skipped, and keys out of order (another writer's) still read.
#[test]
fn fields_are_read_by_key_whatever_their_order() {
    let e = decode(&edited(b"6:pausedi1e", b"6:paused1:1"), &HASH).unwrap_err();
    assert_eq!(
        e.to_string(),
        "resume data is damaged: `paused` is not an integer"
    );
    let e = decode(&edited(b"5:filesll", b"5:filesl1:x"), &HASH).unwrap_err();
    assert!(matches!(e, ResumeError::Damaged(_)), "{e}");
    let r = full_resume();
    let later = edited(b"6:pausedi1e", b"6:pausedi1e9:zz_futurei7e");
    assert_eq!(
        decode(&later, &HASH).unwrap(),
        decode(&encode(&r), &HASH).unwrap()
    );
    // The same entries, the last first.
    let bytes = encode(&r);
    let inner = &bytes[1..bytes.len() - 1];
    let entries: Vec<std::ops::Range<usize>> = {
        let mut spans = Vec::new();
        let mut p = 0;
        while p < inner.len() {
            let colon = p + inner[p..].iter().position(|&b| b == b':').unwrap();
            let len: usize = std::str::from_utf8(&inner[p..colon])
                .unwrap()
                .parse()
                .unwrap();
            let key_end = colon + 1 + len;
            let end = crate::protocol::bencode::value_end(inner, key_end).unwrap();
            spans.push(p..end);
            p = end;
        }
        spans
    };
    let mut reordered = vec![b'd'];
    for span in entries.iter().rev() {
        reordered.extend_from_slice(&inner[span.clone()]);
    }
    reordered.push(b'e');
    assert_ne!(reordered, bytes);
    assert_eq!(
        decode(&reordered, &HASH).unwrap(),
        decode(&bytes, &HASH).unwrap()
    );
}

#[test]
fn another_dictionary_is_not_resume_data() {
    let torrent = b"d8:announce3:url4:infod4:name1:xee";
    assert_eq!(decode(torrent, &HASH), Err(ResumeError::NotResume));
}

#[test]
fn wrong_version_is_named() {
    let bytes = encode(&full_resume());
    let needle = b"7:versioni1e";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut newer = bytes.clone();
    newer[at + needle.len() - 2] = b'2';
    let e = decode(&newer, &HASH).unwrap_err();
    assert_eq!(e, ResumeError::WrongVersion { found: 2 });
    assert!(e.to_string().contains("version 2"), "{e}");
}

#[test]
fn wrong_info_hash_is_refused() {
    let e = decode(&encode(&full_resume()), &[0xcd; 20]).unwrap_err();
    assert!(matches!(e, ResumeError::WrongInfoHash { .. }), "{e}");
    assert!(e.to_string().contains(&"ab".repeat(20)), "{e}");
}

#[test]
fn huge_input_is_refused_unread() {
    let huge = vec![b'd'; MAX_RESUME_SIZE as usize + 1];
    assert_eq!(
        decode(&huge, &HASH),
        Err(ResumeError::TooLarge {
            size: MAX_RESUME_SIZE + 1
        })
    );
}

/// Replaces the first `from` in the encoding of `full_resume()` with `to`.
fn edited(from: &[u8], to: &[u8]) -> Vec<u8> {
    let bytes = encode(&full_resume());
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

#[test]
fn bad_fields_are_named() {
    let cases: [(&[u8], &[u8], &str); 5] = [
        (b"6:piecesi13e", b"6:piecesi17e", "have"),
        (b"6:piecesi13e", b"6:piecesi-1e", "pieces"),
        (b"6:pausedi1e", b"6:pausedi2e", "paused"),
        (b"8:uploadedi77e", b"8:uploadedi-77e", "uploaded"),
        (b"5:filesll", b"5:fileslli1eel", "files"),
    ];
    for (from, to, key) in cases {
        let e = decode(&edited(from, to), &HASH).unwrap_err();
        assert!(
            matches!(&e, ResumeError::Invalid { key: k, .. } if *k == key),
            "{key}: {e}"
        );
    }
    let e = decode(&edited(b"5:peers12:", b"5:peers11:"), &HASH).unwrap_err();
    assert!(
        matches!(e, ResumeError::Damaged(_) | ResumeError::Invalid { .. }),
        "{e}"
    );
    let e = decode(&edited(b"10:seed_ratio3:1.5", b"10:seed_ratio3:abc"), &HASH).unwrap_err();
    assert!(
        matches!(
            e,
            ResumeError::Invalid {
                key: "seed_ratio",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn peers_are_capped() {
    let mut r = full_resume();
    r.peers = (0..500u16)
        .map(|p| SocketAddr::from(([127, 0, 0, 1], 1000 + p)))
        .collect();
    let back = decode(&encode(&r), &HASH).unwrap();
    assert_eq!(back.peers.len(), MAX_PEERS);
    assert_eq!(back.peers[..], r.peers[..MAX_PEERS]);
}

fn torrent_bytes(tag: u8) -> Vec<u8> {
    format!("d4:infod4:name1:{}ee", tag as char).into_bytes()
}

fn resume_for(hash: [u8; 20], queue: u32, added: u64) -> Resume {
    let mut r = Resume::new(hash, "t".into(), PathBuf::from("/tmp/x"), 8);
    r.queue_position = queue;
    r.added = added;
    r
}

#[test]
fn a_batch_of_torrents_is_kept_each_and_no_temporary_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let batch: Vec<([u8; 20], Vec<u8>)> = (1..=19u8)
        .map(|i| ([i; 20], torrent_bytes(b'a' + i)))
        .collect();
    let results = store.save_torrents(&batch);
    assert_eq!(results.len(), batch.len());
    assert!(results.iter().all(Result::is_ok));
    let saved = Store::open(dir.path()).unwrap().load_all();
    assert_eq!(saved.len(), batch.len());
    for s in &saved {
        let want = &batch[usize::from(s.info_hash[0]) - 1].1;
        assert_eq!(s.torrent.as_deref().unwrap(), &want[..]);
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| atomic::is_temporary(n)), "{names:?}");
    // A directory gone: every one of the batch fails, naming its file.
    drop(store);
    let gone = Store::open(dir.path()).unwrap();
    std::fs::remove_dir_all(dir.path()).unwrap();
    let failed = gone.save_torrents(&batch[..2]);
    assert!(failed.iter().all(Result::is_err));
}

#[test]
fn store_round_trip_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (a, b, c) = ([1u8; 20], [2u8; 20], [3u8; 20]);
    for (hash, queue, added) in [(a, 2, 10), (b, 1, 30), (c, 1, 20)] {
        store.save_torrent(&hash, &torrent_bytes(hash[0])).unwrap();
        store.save_resume(&resume_for(hash, queue, added)).unwrap();
    }
    let d = [4u8; 20];
    store.save_torrent(&d, &torrent_bytes(4)).unwrap();

    let again = Store::open(dir.path()).unwrap();
    let saved = again.load_all();
    let order: Vec<[u8; 20]> = saved.iter().map(|s| s.info_hash).collect();
    assert_eq!(
        order,
        vec![c, b, a, d],
        "queue, then added, then no resume data"
    );
    assert_eq!(saved[0].torrent.as_deref().unwrap(), &torrent_bytes(3)[..]);
    assert_eq!(saved[0].resume.as_ref().unwrap(), &resume_for(c, 1, 20));
    let why = saved[3].resume.as_ref().unwrap_err();
    assert!(matches!(why, LoadError::Missing(_)), "{why:?}");
    assert!(why.to_string().ends_with(".resume is missing"), "{why}");
}

#[test]
fn a_damaged_file_costs_only_its_torrent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (good, bad_resume, bad_torrent, no_torrent) = ([1u8; 20], [2u8; 20], [3u8; 20], [4u8; 20]);
    for hash in [good, bad_resume, bad_torrent] {
        store.save_torrent(&hash, &torrent_bytes(hash[0])).unwrap();
        store.save_resume(&resume_for(hash, 0, 0)).unwrap();
    }
    store.save_resume(&resume_for(no_torrent, 0, 0)).unwrap();
    fs::write(store.resume_path(&bad_resume), b"d6:format").unwrap();
    // A directory where the .torrent should be: reading it fails.
    fs::remove_file(store.torrent_path(&bad_torrent)).unwrap();
    fs::create_dir(store.torrent_path(&bad_torrent)).unwrap();
    // Other names are not ours and are left alone.
    fs::write(store.dir().join("notes.txt"), b"x").unwrap();
    fs::write(
        store.dir().join(format!("{}.torrent", "zz".repeat(20))),
        b"x",
    )
    .unwrap();

    let saved = store.load_all();
    assert_eq!(saved.len(), 4);
    let find = |h: [u8; 20]| saved.iter().find(|s| s.info_hash == h).unwrap();
    assert!(find(good).torrent.is_ok() && find(good).resume.is_ok());
    let why = find(bad_resume).resume.as_ref().unwrap_err().to_string();
    assert!(why.contains("damaged") && why.contains(".resume"), "{why}");
    assert!(find(bad_resume).torrent.is_ok());
    let why = find(bad_torrent).torrent.as_ref().unwrap_err();
    assert!(why.to_string().starts_with("cannot read"), "{why}");
    // The io::Error stays under the words.
    assert!(
        matches!(why, LoadError::Read { source, .. } if source.kind() == io::ErrorKind::IsADirectory),
        "{why:?}"
    );
    assert!(find(bad_torrent).resume.is_ok());
    let why = find(no_torrent).torrent.as_ref().unwrap_err();
    assert!(matches!(why, LoadError::Missing(_)), "{why:?}");
    assert!(why.to_string().contains("missing"), "{why}");
}

#[test]
fn a_huge_saved_torrent_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hash = [9u8; 20];
    let file = fs::File::create(store.torrent_path(&hash)).unwrap();
    file.set_len(MAX_TORRENT_SIZE + 1).unwrap(); // sparse
    let file = fs::File::create(store.resume_path(&hash)).unwrap();
    file.set_len(MAX_RESUME_SIZE + 1).unwrap();
    let saved = store.load_all();
    assert!(saved[0]
        .torrent
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("larger than 64 MiB"));
    assert!(saved[0]
        .resume
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("larger than 32 MiB"));
}

#[test]
fn unchanged_resume_data_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut r = resume_for([5u8; 20], 0, 0);
    store.save_resume(&r).unwrap();
    let inode = || fs::metadata(store.resume_path(&r.info_hash)).unwrap().ino();
    let first = inode();
    store.save_resume(&r).unwrap();
    assert_eq!(inode(), first, "same data, no write");
    r.uploaded += 1;
    store.save_resume(&r).unwrap();
    assert_ne!(inode(), first, "changed data replaces the file");
    // A store opened later knows what it loaded.
    let again = Store::open(dir.path()).unwrap();
    assert_eq!(again.load_all().len(), 1);
    let second = inode();
    again.save_resume(&r).unwrap();
    assert_eq!(inode(), second);
}

#[test]
fn remove_deletes_both_files_and_open_tidies_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hash = [6u8; 20];
    store.save_torrent(&hash, b"x").unwrap();
    store.save_resume(&resume_for(hash, 0, 0)).unwrap();
    store.remove(&hash).unwrap();
    store.remove(&hash).unwrap();
    assert!(store.load_all().is_empty());
    let leftover = store
        .dir()
        .join(format!("{}.resume.77.0.tmp", "06".repeat(20)));
    fs::write(&leftover, b"half").unwrap();
    Store::open(dir.path()).unwrap();
    assert!(!leftover.exists());
    assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
}

#[test]
fn a_second_lock_names_the_holder_and_a_dropped_one_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let held = try_lock(&state).unwrap();
    match try_lock(&state) {
        Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("expected Held, got {other:?}"),
    }
    let e = try_lock(&state).unwrap_err().to_string();
    assert!(
        e.contains("in use by another ttui") && e.contains("pid"),
        "{e}"
    );
    drop(held);
    let again = try_lock(&state).unwrap();
    assert_eq!(
        fs::read_to_string(again.path()).unwrap().trim(),
        std::process::id().to_string()
    );
}

#[test]
fn a_lock_file_with_a_dead_pid_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(lock::LOCK_FILE), b"4194303\n").unwrap();
    let lock = try_lock(dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(lock.path()).unwrap().trim(),
        std::process::id().to_string()
    );
}

#[test]
fn the_default_state_directory_follows_xdg() {
    let p = |s: &str| Some(PathBuf::from(s));
    assert_eq!(state_dir_from(p("/data"), p("/home/u")), p("/data/ttui"));
    assert_eq!(
        state_dir_from(p("relative"), p("/home/u")),
        p("/home/u/.local/share/ttui")
    );
    assert_eq!(
        state_dir_from(p(""), p("/home/u")),
        p("/home/u/.local/share/ttui")
    );
    assert_eq!(state_dir_from(None, None), None);
    assert_eq!(state_dir_from(None, p("")), None);
}

mod restart;

/// A `target` that is not an absolute path (a doctored file) is dropped: the torrent stays
/// where its data is rather than moving somewhere relative to wherever ttui runs.
#[test]
fn a_relative_move_target_is_dropped() {
    let mut r = full_resume();
    r.target = Some(PathBuf::from("relative/dir"));
    let back = decode(&encode(&r), &HASH).unwrap();
    assert_eq!(back.target, None);
    assert!(back.moving);
}

#[test]
fn seeding_times_round_trip_and_a_torn_file_is_refused() {
    use super::resume::{decode_seeding, encode_seeding, SeedingTime};
    let times = vec![
        SeedingTime {
            info_hash: HASH,
            added: 1_700_000_000,
            seeding_secs: 86_400,
        },
        SeedingTime {
            info_hash: [7; 20],
            added: 1,
            seeding_secs: u64::MAX,
        },
    ];
    let bytes = encode_seeding(&times);
    assert_eq!(decode_seeding(&bytes).unwrap(), times);
    assert_eq!(decode_seeding(&encode_seeding(&[])).unwrap(), vec![]);
    // Cut inside the packed list: its length is no longer what it says, so it is refused
    // whole rather than read as fewer torrents.
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        let e = decode_seeding(&bytes[..cut]).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    let resume = encode(&full_resume());
    assert!(matches!(
        decode_seeding(&resume),
        Err(super::resume::ResumeError::Damaged(_) | super::resume::ResumeError::NotResume)
    ));
}

#[test]
fn a_kept_seeding_time_counts_only_for_the_same_add() {
    use super::resume::SeedingTime;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.load_seeding().is_empty(), "nothing kept yet");
    let times = [SeedingTime {
        info_hash: HASH,
        added: 42,
        seeding_secs: 3_600,
    }];
    store.save_seeding(&times).unwrap();
    assert_eq!(store.load_seeding().get(&HASH), Some(&(42, 3_600)));
    // Not a torrent's file: the store's list of torrents passes it by.
    assert!(store.load_all().is_empty());
    // A torn file is logged and ignored: every torrent keeps its resume data's time.
    std::fs::write(dir.path().join("torrents").join("seeding"), b"d6:format").unwrap();
    assert!(store.load_seeding().is_empty());
}
