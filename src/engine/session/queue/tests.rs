use super::*;

fn dl(position: u32) -> Entry {
    Entry {
        position,
        want: Want::Download,
        forced: false,
        slow_for: Duration::ZERO,
        checks_first: false,
        checking: false,
        demand: false,
        slotted: false,
    }
}

/// Added with its data present: it has no task, and starting it checks the data.
fn added(position: u32) -> Entry {
    Entry {
        checks_first: true,
        ..dl(position)
    }
}

/// A seed some peer wants data from, holding no slot yet.
fn seed(position: u32) -> Entry {
    Entry {
        want: Want::Seed,
        demand: true,
        ..dl(position)
    }
}

/// A seed no peer wants data from.
fn idle_seed(position: u32) -> Entry {
    Entry {
        demand: false,
        ..seed(position)
    }
}

fn settings(max_downloads: u32, max_seeds: u32) -> QueueSettings {
    QueueSettings {
        max_downloads,
        max_seeds,
        ..QueueSettings::default()
    }
}

fn run(entries: &[Entry], s: &QueueSettings) -> Vec<Verdict> {
    decided(entries, s).0
}

/// The verdicts, and the torrents waiting for a check with the verdicts they get then.
fn decided(entries: &[Entry], s: &QueueSettings) -> (Vec<Verdict>, Vec<(usize, Verdict)>) {
    let (mut order, mut out, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    decide(entries, s, &mut order, &mut out, &mut waiting);
    (out, waiting)
}

#[test]
fn the_first_n_downloads_in_queue_order_run() {
    // Listed out of order: the queue position decides, not the slice order.
    let entries: Vec<Entry> = [4, 0, 3, 1, 2].into_iter().map(dl).collect();
    let v = run(&entries, &settings(3, 10));
    let running: Vec<u32> = entries
        .iter()
        .zip(&v)
        .filter(|(_, v)| v.runs())
        .map(|(e, _)| e.position)
        .collect();
    assert_eq!(running, vec![0, 1, 2]);
    let s = settings(3, 10);
    assert_eq!(v[0].why(&s).as_deref(), Some("5th for 3 download slots"));
    assert_eq!(v[2].why(&s).as_deref(), Some("4th for 3 download slots"));
}

#[test]
fn seeds_and_downloads_have_their_own_slots() {
    let entries = [seed(0), dl(1), seed(2), dl(3)];
    let s = settings(1, 1);
    let v = run(&entries, &s);
    assert_eq!(v[0], Verdict::Run);
    assert_eq!(v[1], Verdict::Run);
    assert_eq!(v[2].why(&s).as_deref(), Some("2nd for 1 seed slot"));
    assert!(!v[3].runs());
}

#[test]
fn zero_is_unlimited() {
    let entries: Vec<Entry> = (0..50).map(seed).chain((50..100).map(dl)).collect();
    assert!(run(&entries, &settings(0, 0)).iter().all(|v| v.runs()));
}

#[test]
fn paused_torrents_take_no_slot() {
    let mut entries: Vec<Entry> = (0..4).map(dl).collect();
    entries[0].want = Want::Nothing;
    let v = run(&entries, &settings(2, 10));
    assert_eq!(v[0], Verdict::Off);
    assert_eq!(v[0].why(&settings(2, 10)), None);
    assert!(v[1].runs() && v[2].runs() && !v[3].runs());
}

#[test]
fn a_forced_torrent_runs_and_takes_no_slot() {
    let mut entries: Vec<Entry> = (0..4).map(dl).collect();
    entries[3].forced = true;
    let v = run(&entries, &settings(2, 10));
    assert_eq!(v[3], Verdict::Forced);
    assert!(v[0].runs() && v[1].runs() && !v[2].runs());
}

#[test]
fn a_stalled_download_gives_its_slot_to_the_next() {
    let s = QueueSettings {
        max_downloads: 1,
        stalled_after: Duration::from_secs(300),
        slow_rate: 1024,
        ..QueueSettings::default()
    };
    let mut entries: Vec<Entry> = (0..3).map(dl).collect();
    entries[0].slow_for = Duration::from_secs(299);
    let v = run(&entries, &s);
    assert_eq!(v[0], Verdict::Run, "not yet");
    assert!(!v[1].runs());
    entries[0].slow_for = Duration::from_secs(300);
    let v = run(&entries, &s);
    assert!(v[0].runs());
    assert_eq!(
        v[0].why(&s).as_deref(),
        Some("not counted: stalled 5 min below 1 KiB/s")
    );
    assert_eq!(v[1], Verdict::Run);
    assert_eq!(v[2].why(&s).as_deref(), Some("2nd for 1 download slot"));
}

#[test]
fn every_seed_runs_by_default() {
    // A library: thousands of complete torrents, a few with leechers. None is held back.
    let mut entries: Vec<Entry> = (0..2000).map(idle_seed).collect();
    for e in entries.iter_mut().step_by(97) {
        e.demand = true;
    }
    let s = QueueSettings::default();
    assert_eq!(s.max_seeds, 0);
    let v = run(&entries, &s);
    assert!(v.iter().all(|v| *v == Verdict::Run), "{:?}", &v[..5]);
    assert!(v.iter().all(|v| v.why(&s).is_none()));
}

#[test]
fn idle_seeds_take_no_slot_and_are_not_held() {
    // Twenty seeds, three slots, five with leechers at positions 2, 5, 9, 14, 19.
    let mut entries: Vec<Entry> = (0..20).map(idle_seed).collect();
    for p in [2, 5, 9, 14, 19] {
        entries[p].demand = true;
    }
    let s = settings(5, 3);
    let v = run(&entries, &s);
    let uploading: Vec<usize> = (0..20).filter(|&i| v[i] == Verdict::Run).collect();
    assert_eq!(uploading, vec![2, 5, 9]);
    assert_eq!(v[14].why(&s).as_deref(), Some("4th for 3 seed slots"));
    assert_eq!(v[19].why(&s).as_deref(), Some("5th for 3 seed slots"));
    for (i, v) in v.iter().enumerate() {
        if !entries[i].demand {
            assert_eq!(*v, Verdict::Idle { slow: None }, "{i}");
            assert!(
                v.runs() && !v.may_upload(),
                "{i}: idle, announced, uploads held"
            );
            assert_eq!(v.why(&s), None);
        }
    }
}

#[test]
fn a_seed_keeps_its_slot_while_it_uploads() {
    // Positions 0..4 all want data; 3 and 4 got the slots first (0..2 had no peer then).
    let mut entries: Vec<Entry> = (0..5).map(seed).collect();
    entries[3].slotted = true;
    entries[4].slotted = true;
    let s = settings(5, 2);
    let v = run(&entries, &s);
    assert_eq!((v[3], v[4]), (Verdict::Run, Verdict::Run));
    assert_eq!(v[0].why(&s).as_deref(), Some("3rd for 2 seed slots"));
    assert_eq!(v[2].why(&s).as_deref(), Some("5th for 2 seed slots"));
    // A lowered limit takes no slot from a seed that uploads: it frees when its peers are
    // done, and only then does the limit hold again.
    let v = run(&entries, &settings(5, 1));
    assert_eq!((v[3], v[4]), (Verdict::Run, Verdict::Run));
    entries[4].demand = false;
    let v = run(&entries, &settings(5, 1));
    assert_eq!(v[3], Verdict::Run);
    assert_eq!(v[4], Verdict::Idle { slow: None });
    assert!(v[..3].iter().all(|v| matches!(v, Verdict::Held { .. })));
}

#[test]
fn a_slow_seed_gives_its_slot_to_the_next() {
    let s = QueueSettings {
        max_seeds: 1,
        stalled_after: Duration::from_secs(300),
        slow_rate: 1024,
        ..QueueSettings::default()
    };
    let mut entries = [seed(0), seed(1)];
    entries[0].slotted = true;
    entries[0].slow_for = Duration::from_secs(299);
    let v = run(&entries, &s);
    assert_eq!(v[0], Verdict::Run, "not yet");
    assert!(matches!(v[1], Verdict::Held { rank: 2, .. }));
    entries[0].slow_for = Duration::from_secs(300);
    let v = run(&entries, &s);
    assert_eq!(
        v[0],
        Verdict::Idle {
            slow: Some(Duration::from_secs(300))
        }
    );
    assert!(
        v[0].may_upload(),
        "it serves its slow peers as an unlimited seed would"
    );
    assert_eq!(
        v[0].why(&s).as_deref(),
        Some("not counted: uploading 5 min below 1 KiB/s")
    );
    assert_eq!(v[1], Verdict::Run);
}

#[test]
fn a_forced_seed_uploads_beside_the_limit() {
    let mut entries: Vec<Entry> = (0..3).map(seed).collect();
    entries[0].forced = true;
    let v = run(&entries, &settings(5, 1));
    assert_eq!(v[0], Verdict::Forced);
    assert!(v[0].may_upload());
    assert_eq!((v[1], v[2].runs()), (Verdict::Run, false));
}

#[test]
fn deciding_again_reuses_the_buffers() {
    let entries: Vec<Entry> = (0..1000).map(dl).collect();
    let s = settings(5, 10);
    let (mut order, mut out, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = Vec::new();
    for _ in 0..2 {
        decide(&entries, &s, &mut order, &mut out, &mut waiting);
        seen.push((order.as_ptr(), out.as_ptr()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(out.iter().filter(|v| v.runs()).count(), 5);
}

#[test]
fn moves_renumber_densely() {
    // Sparse and out of slice order: a, b, c, d at 10, 20, 30, 40.
    let mut p = vec![30, 10, 40, 20];
    reorder(&mut p, 2, Move::Top);
    assert_eq!(p, vec![3, 1, 0, 2]);
    reorder(&mut p, 0, Move::Up);
    assert_eq!(p, vec![2, 1, 0, 3]);
    reorder(&mut p, 2, Move::Down);
    assert_eq!(p, vec![2, 0, 1, 3]);
    reorder(&mut p, 1, Move::Bottom);
    assert_eq!(p, vec![1, 3, 0, 2]);
    // At the edges a move changes nothing.
    reorder(&mut p, 2, Move::Up);
    assert_eq!(p, vec![1, 3, 0, 2]);
    reorder(&mut p, 1, Move::Down);
    assert_eq!(p, vec![1, 3, 0, 2]);
    reorder(&mut p, 9, Move::Top);
    assert_eq!(p, vec![1, 3, 0, 2]);
}

#[test]
fn moves_parse() {
    assert_eq!("up".parse::<Move>(), Ok(Move::Up));
    assert!("sideways".parse::<Move>().is_err());
}

#[test]
fn added_torrents_are_checked_a_few_at_a_time_in_queue_order() {
    // Listed out of order; the queue is off, so without the check queue all would start.
    let entries: Vec<Entry> = [5, 0, 4, 1, 3, 2].into_iter().map(added).collect();
    let s = settings(0, 0);
    let v = run(&entries, &s);
    let starting: Vec<u32> = entries
        .iter()
        .zip(&v)
        .filter(|(_, v)| v.runs())
        .map(|(e, _)| e.position)
        .collect();
    assert_eq!(starting.len(), MAX_CHECKS as usize);
    assert!(starting.iter().all(|&p| p < MAX_CHECKS), "{starting:?}");
    // The rest wait their turn in the queue's order and say so.
    assert_eq!(v[0], Verdict::CheckQueued { rank: 3 });
    assert_eq!(v[2], Verdict::CheckQueued { rank: 2 });
    assert_eq!(v[0].why(&s).as_deref(), Some("queued 3rd, 3 at a time"));
}

/// The torrents waiting for a check are listed in the order they get one, each with the verdict
/// it gets then: what a check's end starts without deciding every torrent again.
#[test]
fn the_checks_waiting_are_listed_in_turn_with_their_verdicts() {
    let mut entries: Vec<Entry> = [5, 0, 4, 1, 3, 2].into_iter().map(added).collect();
    entries[3].forced = true;
    let (out, waiting) = decided(&entries, &settings(0, 0));
    // Positions 0, 1, 2 check (indices 1, 3, 5); 3, 4, 5 wait in that order.
    assert_eq!(
        waiting,
        vec![(4, Verdict::Run), (2, Verdict::Run), (0, Verdict::Run)]
    );
    for (rank, &(i, _)) in waiting.iter().enumerate() {
        assert_eq!(
            out[i],
            Verdict::CheckQueued {
                rank: rank as u32 + 1
            }
        );
    }
    // A forced torrent waiting for a check is still forced when its turn comes.
    entries[3].checks_first = false;
    entries[3].checking = true;
    entries[4].forced = true;
    for i in [1, 5] {
        entries[i].checks_first = false;
        entries[i].checking = true;
    }
    let (_, waiting) = decided(&entries, &settings(0, 0));
    assert_eq!(waiting[0], (4, Verdict::Forced));
    assert_eq!(waiting.len(), 3);
}

#[test]
fn checks_running_now_count_against_the_limit() {
    // Two tasks are still checking: one more may start.
    let mut entries: Vec<Entry> = (0..5).map(added).collect();
    for e in &mut entries[..2] {
        e.checks_first = false;
        e.checking = true;
    }
    let v = run(&entries, &settings(0, 0));
    assert_eq!(&v[..3], &[Verdict::Run, Verdict::Run, Verdict::Run]);
    assert_eq!(v[3], Verdict::CheckQueued { rank: 1 });
    assert_eq!(v[4], Verdict::CheckQueued { rank: 2 });
    // Both done: the waiting ones start.
    for e in &mut entries[..3] {
        e.checking = false;
        e.checks_first = false;
    }
    assert!(run(&entries, &settings(0, 0)).iter().all(|v| v.runs()));
}

#[test]
fn a_torrent_without_a_check_starts_whatever_the_checks() {
    // Trusted from the store, or running already: the check queue is not theirs.
    let mut entries: Vec<Entry> = (0..6).map(added).collect();
    entries[5].checks_first = false;
    let v = run(&entries, &settings(0, 0));
    assert_eq!(v[5], Verdict::Run);
    assert_eq!(
        v.iter().filter(|v| v.runs()).count(),
        MAX_CHECKS as usize + 1
    );
}

#[test]
fn the_queue_holds_before_the_checks_do() {
    // Four download slots for six added torrents: three check, the fourth keeps its slot and
    // waits for a check, the last two are held by the queue (not checked before they may run).
    let entries: Vec<Entry> = (0..6).map(added).collect();
    let v = run(&entries, &settings(4, 10));
    assert!(v[..3].iter().all(|v| v.runs()), "{v:?}");
    assert_eq!(v[3], Verdict::CheckQueued { rank: 1 });
    assert!(matches!(v[4], Verdict::Held { rank: 5, .. }), "{v:?}");
    assert!(matches!(v[5], Verdict::Held { rank: 6, .. }), "{v:?}");
}
