use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::engine::api::{QueueState, TorrentState};
use crate::ui::list::order::order;
use crate::ui::list::test_line;

const NAMES: [&str; 9] = [
    "t000",
    "T001",
    "debian",
    "Ünïcode Ärger",
    "arch",
    "ab",
    "Σίσυφος",
    "abc",
    // KELVIN SIGN: lower case 'k', so an ASCII search matches it only on the name itself.
    "\u{212a}ilo",
];

fn random_line(rng: &mut StdRng, id: u32) -> TorrentLine {
    let name = format!(
        "{}{}",
        NAMES[rng.gen_range(0..NAMES.len())],
        rng.gen_range(0..30)
    );
    let mut t = test_line(id, &name, TorrentState::Paused);
    shake(rng, &mut t);
    t.added = u64::from(rng.gen_range(0..50u32));
    t
}

/// Changes what a snapshot may change of a torrent: its figures, state, labels, name.
fn shake(rng: &mut StdRng, t: &mut TorrentLine) {
    match rng.gen_range(0..8) {
        0 => t.up_rate = f64::from(rng.gen_range(0..4u32)) * 100.0,
        1 => t.down_rate = f64::from(rng.gen_range(0..4u32)) * 100.0,
        2 => {
            t.state = match rng.gen_range(0..5) {
                0 => TorrentState::Downloading,
                1 => TorrentState::Seeding,
                2 => TorrentState::Error("disk full".into()),
                3 => TorrentState::Complete,
                _ => TorrentState::Paused,
            }
        }
        3 => {
            t.queue = rng.gen_bool(0.5).then_some(QueueState::Waiting {
                seed: false,
                rank: 1,
                slots: 1,
            })
        }
        4 => {
            t.labels = if rng.gen_bool(0.5) {
                vec!["tv".into()]
            } else {
                vec![]
            }
        }
        5 => t.verified_bytes = rng.gen_range(0..=t.wanted_bytes),
        6 => {
            t.name = format!(
                "{}{}",
                NAMES[rng.gen_range(0..NAMES.len())],
                rng.gen_range(0..30)
            )
        }
        _ => t.peers = rng.gen_range(0..3),
    }
}

/// The lines as a session publishes them, each its own `Arc` (none shared with another
/// publication, so every line is compared).
fn arcs(lines: &[TorrentLine]) -> Vec<Arc<TorrentLine>> {
    lines.iter().cloned().map(Arc::new).collect()
}

fn fresh(lines: &[Arc<TorrentLine>], q: &Query) -> (Vec<usize>, [usize; 6]) {
    let mut out = vec![];
    order(
        lines,
        (q.filter, q.label.as_deref()),
        &q.search,
        q.sort,
        &mut out,
    );
    (out, counts(lines, q.label.as_deref()))
}

/// Whatever the order of snapshots and keys, the kept rows are what a fresh filter and sort
/// of the same lines gives, and so are the counts.
#[test]
fn the_kept_rows_are_a_fresh_order_through_snapshots_and_keys() {
    let mut rng = StdRng::seed_from_u64(58);
    let mut next_id = 0;
    let mut lines: Vec<TorrentLine> = (0..120)
        .map(|_| {
            next_id += 1;
            random_line(&mut rng, next_id)
        })
        .collect();
    let mut q = Query::default();
    let mut shown = Shown::default();
    shown.ask(&arcs(&lines), &q);
    for step in 0..3000 {
        match rng.gen_range(0..20) {
            // A key: another sort, filter, label or search.
            0 => q.sort = q.sort.next(),
            1 => q.sort = q.sort.reversed(),
            2 => q.filter = q.filter.next(),
            3 => {
                q.label = if q.label.is_some() {
                    None
                } else {
                    Some("tv".into())
                }
            }
            4..=6 => {
                let c = ['a', 'b', 'c', 't', '0', '1', 'Ä', 'σ', 'A', 'k'][rng.gen_range(0..10)];
                q.search.push(c);
            }
            7 => {
                q.search.pop();
            }
            8 => q.search.clear(),
            _ => {
                // A snapshot: a few torrents change; now and then one comes or goes.
                let old = lines.clone();
                for _ in 0..rng.gen_range(0..6) {
                    let i = rng.gen_range(0..lines.len());
                    shake(&mut rng, &mut lines[i]);
                }
                if rng.gen_bool(0.1) {
                    next_id += 1;
                    lines.push(random_line(&mut rng, next_id));
                }
                if rng.gen_bool(0.05) && lines.len() > 1 {
                    lines.remove(rng.gen_range(0..lines.len()));
                }
                shown.on_lines(&arcs(&old), &arcs(&lines), &q);
                let (rows, n) = fresh(&arcs(&lines), &q);
                assert_eq!(shown.rows(), rows, "step {step} (snapshot), {q:?}");
                assert_eq!(shown.counts(), n, "step {step} (snapshot), {q:?}");
                continue;
            }
        }
        shown.ask(&arcs(&lines), &q);
        let (rows, n) = fresh(&arcs(&lines), &q);
        assert_eq!(shown.rows(), rows, "step {step} (key), {q:?}");
        assert_eq!(shown.counts(), n, "step {step} (key), {q:?}");
    }
}

fn library(n: u32) -> Vec<TorrentLine> {
    (0..n)
        .map(|i| test_line(i + 1, &format!("t{i:06}.bin"), TorrentState::Paused))
        .collect()
}

#[test]
fn a_grown_search_looks_at_the_rows_shown_and_no_others() {
    let lines = library(1000);
    let mut q = Query::default();
    let mut shown = Shown::default();
    shown.ask(&arcs(&lines), &q);
    for typed in ["t", "t0", "t00", "t0004", "t00042"] {
        let before = shown.rows().len();
        q.search = typed.into();
        shown.ask(&arcs(&lines), &q);
        assert_eq!(shown.looked(), before, "{typed}: narrowed the rows shown");
        assert_eq!(shown.rows(), fresh(&arcs(&lines), &q).0, "{typed}");
    }
    assert_eq!(shown.rows().len(), 10, "t000420 to t000429");
    // Erasing widens: the filter's rows, sorted already, are matched again (not sorted).
    q.search = "t0004".into();
    shown.ask(&arcs(&lines), &q);
    assert_eq!(shown.looked(), 1000);
    assert_eq!(shown.rows(), fresh(&arcs(&lines), &q).0);
    // The same text in capitals grows nothing and narrows nothing.
    q.search = "T0004".into();
    shown.ask(&arcs(&lines), &q);
    assert_eq!(shown.rows().len(), 100);
    assert_eq!(shown.looked(), 100);
}

#[test]
fn a_snapshot_where_no_row_moves_keeps_the_rows() {
    let old = library(1000);
    let q = Query {
        sort: Sort {
            column: Column::Up,
            ascending: false,
        },
        ..Query::default()
    };
    let mut shown = Shown::default();
    shown.ask(&arcs(&old), &q);
    let mut new = old.clone();
    new[500].down_rate = 1000.0;
    new[600].uploaded = 5;
    shown.on_lines(&arcs(&old), &arcs(&new), &q);
    assert_eq!(shown.looked(), 0, "neither change moves a row sorted by Up");
    let old = new.clone();
    new[700].up_rate = 50.0;
    new[10].up_rate = 60.0;
    shown.on_lines(&arcs(&old), &arcs(&new), &q);
    assert_eq!(shown.looked(), 2);
    assert_eq!(
        &shown.rows()[..3],
        [10, 700, 0],
        "the fastest first, then by id"
    );
    assert_eq!(shown.rows(), fresh(&arcs(&new), &q).0);
}

#[test]
fn folded_names_sort_as_names_compare() {
    let names = [
        "b",
        "B",
        "a",
        "Ä",
        "ä",
        "Zed",
        "zed",
        "ΣΊΣΥΦΟΣ",
        "σίσυφος",
        "ab",
        "aB",
        "",
        "Ab c",
        // Past the 16 bytes the sort's number holds: the rest decides.
        "Debian 12 netinst amd64",
        "debian 12 netinst AMD64 DVD",
        "Debian 12 netinst",
        "debian 12 netinst i386",
        "debian 12 netins",
        "debian 12 netins\0",
        "debian 12 netins\0x",
        "ab\0",
        "Ab\u{212a}",
    ];
    let lines: Vec<TorrentLine> = names
        .iter()
        .enumerate()
        .map(|(i, n)| test_line(i as u32 + 1, n, TorrentState::Paused))
        .collect();
    for ascending in [true, false] {
        let sort = Sort {
            column: Column::Name,
            ascending,
        };
        let mut rows: Vec<usize> = (0..lines.len()).collect();
        let l = arcs(&lines);
        sort_rows(&l, &Names::of(&l), &mut rows, sort);
        let mut want: Vec<usize> = (0..lines.len()).collect();
        want.sort_unstable_by(compare(&arcs(&lines), sort));
        assert_eq!(rows, want, "ascending {ascending}");
    }
}

#[test]
fn every_column_sorts_by_its_key_as_compare_orders() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut lines: Vec<TorrentLine> = (1..=300).map(|id| random_line(&mut rng, id)).collect();
    for (i, t) in lines.iter_mut().enumerate() {
        // Figures of every kind: negative zero, ties, an ETA known or not.
        t.up_rate = [0.0, -0.0, 1.5, 1e12][i % 4];
        t.down_rate = f64::from(i as u32 % 7) * 10.0;
        t.uploaded = (i as u64 % 5) * 300;
        t.peers = i as u32 % 3;
        t.seeds = i as u32 % 4;
        t.wanted_bytes = 1000 + (i as u64 % 9);
    }
    for column in Column::ALL {
        for ascending in [true, false] {
            let sort = Sort { column, ascending };
            let mut rows: Vec<usize> = (0..lines.len()).collect();
            let l = arcs(&lines);
            sort_rows(&l, &Names::of(&l), &mut rows, sort);
            let mut want: Vec<usize> = (0..lines.len()).collect();
            want.sort_unstable_by(compare(&arcs(&lines), sort));
            assert_eq!(rows, want, "{sort:?}");
        }
    }
}

/// The session shares a line it did not change between two publications: the rows stay
/// right when only the changed lines are new `Arc`s, whatever the shared ones hold.
#[test]
fn lines_shared_between_snapshots_are_passed_over_and_the_changed_ones_placed() {
    let q = Query {
        sort: Sort {
            column: Column::Up,
            ascending: false,
        },
        ..Query::default()
    };
    let old = arcs(&library(1000));
    let mut shown = Shown::default();
    shown.ask(&old, &q);
    let mut new = old.clone();
    Arc::make_mut(&mut new[700]).up_rate = 50.0;
    Arc::make_mut(&mut new[10]).up_rate = 60.0;
    shown.on_lines(&old, &new, &q);
    assert_eq!(shown.looked(), 2);
    assert_eq!(&shown.rows()[..3], [10, 700, 0]);
    assert_eq!(shown.rows(), fresh(&new, &q).0);
}
