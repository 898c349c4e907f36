use super::*;
use crate::engine::disk::tests::info_of;
use crate::engine::disk::Storage;
use crate::protocol::metainfo::{FileEntry, Info};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, [i as u8; 4]).unwrap();
            p
        })
        .collect()
}

fn first_byte(file: &File) -> u8 {
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, 0).unwrap();
    b[0]
}

/// Descriptors of this process open on a file under `dir` (other tests run in parallel
/// threads, so counting all descriptors would not do).
fn fds_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

fn open_slots(t: &TorrentFiles) -> Vec<bool> {
    let state = t.budget.state();
    let table = state.tables[t.table].as_ref().unwrap();
    table.iter().map(|&n| n != NONE).collect()
}

#[test]
fn keeps_at_most_capacity_open_and_evicts_the_least_recent() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 5);
    let budget = Arc::new(OpenFiles::new(3));
    let t = budget.register(5);
    for (i, path) in paths.iter().enumerate().take(3) {
        assert_eq!(first_byte(&t.get(i, path).unwrap()), i as u8);
    }
    assert_eq!(budget.open_count(), 3);
    // Touch 0 so 1 becomes the oldest; opening 3 closes 1.
    t.get(0, &paths[0]).unwrap();
    t.get(3, &paths[3]).unwrap();
    assert_eq!(budget.open_count(), 3);
    assert_eq!(budget.opens(), 4);
    assert_eq!(open_slots(&t), [true, false, true, true, false]);
    // 0, 2 and 3 are served without reopening; 1 is reopened and still reads right.
    for i in [0, 2, 3] {
        t.get(i, &paths[i]).unwrap();
    }
    assert_eq!(budget.opens(), 4);
    assert_eq!(first_byte(&t.get(1, &paths[1]).unwrap()), 1);
    assert_eq!(budget.opens(), 5);
    assert_eq!(budget.open_count(), 3);
    assert_eq!(open_slots(&t), [false, true, true, true, false]);
}

#[test]
fn a_file_in_use_is_not_evicted_and_closes_once_idle() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let paths = files(&dir_path, 3);
    let budget = Arc::new(OpenFiles::new(1));
    let t = budget.register(3);
    let held = t.get(0, &paths[0]).unwrap();
    // Every file is in use: the budget is overdrawn by the one holder rather than closing
    // a descriptor under it.
    t.get(1, &paths[1]).unwrap();
    assert_eq!(open_slots(&t), [true, true, false]);
    held.write_all_at(&[42], 0).unwrap();
    drop(held);
    // The next open takes the budget back down, the idle file first (0 is older than 1).
    t.get(2, &paths[2]).unwrap();
    assert_eq!(budget.open_count(), 1);
    assert_eq!(fds_under(&dir_path), 1);
    assert_eq!(first_byte(&t.get(0, &paths[0]).unwrap()), 42);
    assert_eq!(open_slots(&t), [true, false, false]);
}

#[test]
fn descriptors_are_really_closed() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let paths = files(&dir_path, 40);
    let budget = Arc::new(OpenFiles::new(4));
    let t = budget.register(40);
    for (i, p) in paths.iter().enumerate() {
        t.get(i, p).unwrap();
        assert!(fds_under(&dir_path) <= 4);
    }
    assert_eq!(fds_under(&dir_path), 4);
    budget.shrink_to(1);
    assert_eq!(budget.open_count(), 1);
    assert_eq!(t.open_count(), 1);
    assert_eq!(fds_under(&dir_path), 1);
}

#[test]
fn errors_name_the_cause_and_leave_the_budget_usable() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2);
    let budget = Arc::new(OpenFiles::new(1));
    let t = budget.register(2);
    t.get(0, &paths[0]).unwrap();
    t.get(1, &paths[1]).unwrap();
    // 0 was evicted; removed behind our back it is not recreated.
    std::fs::remove_file(&paths[0]).unwrap();
    let err = t.get(0, &paths[0]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(!paths[0].exists());
    assert!(t.get(7, &paths[1]).is_err());
    assert_eq!(first_byte(&t.get(1, &paths[1]).unwrap()), 1);
    assert_eq!(budget.open_count(), 1);
    // A failed open gave its room back: the budget still holds a file, not zero.
    assert_eq!(budget.state().opening, 0);
}

#[test]
fn the_budget_is_a_quarter_of_the_descriptor_limit() {
    assert_eq!(budget_for(1024), 256);
    assert_eq!(budget_for(96), 24);
    assert_eq!(budget_for(8), 4);
    assert_eq!(budget_for(1 << 20), 2048);
    assert_eq!(OpenFiles::new(0).capacity(), 1);
    let this = OpenFiles::for_this_process().capacity();
    assert_eq!(this, budget_for(crate::engine::disk::fds::nofile_limit()));
}

/// A torrent "t" of `n` files of 3,000 bytes each (so pieces of 4,096 cross files), with
/// bytes that differ from torrent to torrent.
fn torrent(n: usize, seed: u8) -> (Info, Vec<u8>) {
    let len = 3_000u64;
    let data: Vec<u8> = (0..n * len as usize)
        .map(|i| (i as u8).wrapping_mul(seed) ^ (i >> 9) as u8)
        .collect();
    let entries = (0..n)
        .map(|i| FileEntry::new(vec!["t".into(), format!("f{i}")], len, i as u64 * len))
        .collect();
    (info_of(entries, 4_096, &data), data)
}

fn piece(data: &[u8], i: u32) -> &[u8] {
    let start = i as usize * 4_096;
    &data[start..(start + 4_096).min(data.len())]
}

#[test]
fn torrents_share_one_budget_and_evict_each_others_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let budget = Arc::new(OpenFiles::new(4));
    let (info, data) = torrent(6, 7);
    let a = Storage::open_in(&budget, &root.join("a"), &info).unwrap();
    let b = Storage::open_in(&budget, &root.join("b"), &info).unwrap();
    // Opening created the files and closed them again.
    assert_eq!((budget.open_count(), fds_under(&root)), (0, 0));
    // Pieces 0..3 of a touch its five files: the fifth closed a's least recently used, f0.
    for i in 0..3 {
        a.write_piece(i, &[piece(&data, i)]).unwrap();
    }
    assert_eq!((a.open_files(), b.open_files()), (4, 0));
    assert_eq!(fds_under(&root.join("a/t/f0")), 0);
    // b's first piece (its files 0 and 1) takes the room of a's least recently used: f1, f2.
    b.write_piece(0, &[piece(&data, 0)]).unwrap();
    assert_eq!((a.open_files(), b.open_files()), (2, 2));
    assert_eq!(budget.open_count(), 4);
    assert_eq!(fds_under(&root), 4);
    for f in ["f1", "f2"] {
        assert_eq!(fds_under(&root.join("a/t").join(f)), 0, "{f}");
    }
    // a's file 0 is reopened on demand and reads what was written.
    let mut buf = Vec::new();
    a.read_piece(0, &mut buf).unwrap();
    assert_eq!(buf, piece(&data, 0));
    assert_eq!(budget.open_count(), 4);

    // A torrent removed gives its slots back at once.
    let b_files = b.open_files();
    assert!(b_files > 0);
    drop(b);
    assert_eq!(budget.open_count(), 4 - b_files);
    assert_eq!(fds_under(&root.join("b")), 0);
    drop(a);
    assert_eq!((budget.open_count(), fds_under(&root)), (0, 0));
}

/// Twelve torrents of five files each, written and read from three threads at once through a
/// budget of four: the process never holds more than four of their descriptors, and every
/// byte lands where it belongs.
#[test]
fn many_torrents_on_a_tiny_budget_stay_within_it_and_all_work() {
    const TORRENTS: usize = 12;
    const BUDGET: usize = 4;
    const ROUNDS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let budget = Arc::new(OpenFiles::new(BUDGET));
    let torrents: Vec<(Storage, Vec<u8>)> = (0..TORRENTS)
        .map(|k| {
            let (info, data) = torrent(5, 3 + 2 * k as u8);
            let s = Storage::open_in(&budget, &root.join(format!("s{k}")), &info).unwrap();
            (s, data)
        })
        .collect();
    let pieces = torrents[0].0.num_pieces();
    let done = AtomicBool::new(false);
    let (most_fds, most_table) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        // Watches the descriptors from the side while the writers run.
        scope.spawn(|| {
            // One last look after the writers are done, whatever the scheduler did before.
            loop {
                let last = done.load(Ordering::Relaxed);
                most_fds.fetch_max(fds_under(&root), Ordering::Relaxed);
                most_table.fetch_max(budget.open_count(), Ordering::Relaxed);
                if last {
                    break;
                }
            }
        });
        let workers: Vec<_> = (0..3)
            .map(|w| {
                let torrents = &torrents;
                scope.spawn(move || {
                    // Each thread takes every third torrent, pieces interleaved across them,
                    // and goes over them a few times so the watcher sees them at work.
                    let mut buf = Vec::new();
                    for _ in 0..ROUNDS {
                        for i in 0..pieces {
                            for (s, data) in torrents.iter().skip(w).step_by(3) {
                                s.write_piece(i, &[piece(data, i)]).unwrap();
                            }
                        }
                        for (s, data) in torrents.iter().skip(w).step_by(3) {
                            for i in (0..pieces).rev() {
                                s.read_piece(i, &mut buf).unwrap();
                                assert_eq!(buf, piece(data, i));
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let (most_fds, most_table) = (most_fds.into_inner(), most_table.into_inner());
    assert!(most_fds <= BUDGET, "{most_fds} descriptors open at once");
    assert!(
        most_table <= BUDGET,
        "{most_table} files in the table at once"
    );
    assert!(most_fds > 0, "the watcher saw nothing");
    let open: usize = torrents.iter().map(|(s, _)| s.open_files()).sum();
    assert_eq!(open, budget.open_count());
    assert!(open <= BUDGET);
    for (k, (s, data)) in torrents.iter().enumerate() {
        s.flush().unwrap();
        for f in 0..5 {
            let on_disk = std::fs::read(root.join(format!("s{k}/t/f{f}"))).unwrap();
            assert_eq!(
                on_disk,
                &data[f * 3_000..(f + 1) * 3_000],
                "torrent {k} file {f}"
            );
        }
    }
    drop(torrents);
    assert_eq!((budget.open_count(), fds_under(&root)), (0, 0));
}

#[test]
fn get_open_finds_only_files_open_already_and_never_opens_one() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2);
    let budget = Arc::new(OpenFiles::new(1));
    let t = budget.register(2);
    assert!(t.get_open(0).unwrap().is_none());
    assert_eq!(fds_under(dir.path()), 0);
    let opened = t.get(0, &paths[0]).unwrap();
    let found = t.get_open(0).unwrap().expect("open now");
    assert!(Arc::ptr_eq(&opened, &found));
    assert_eq!(first_byte(&found), 0);
    drop((opened, found));
    // The budget of one closed file 0 to open file 1.
    t.get(1, &paths[1]).unwrap();
    assert!(t.get_open(0).unwrap().is_none());
    assert!(t.get_open(1).unwrap().is_some());
}
