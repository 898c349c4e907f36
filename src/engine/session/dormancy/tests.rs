use super::*;

fn quiet() -> Facts {
    Facts {
        complete: true,
        paused: false,
        peers: 0,
        subscribed: false,
        busy: false,
        announces: true,
        just_checked: false,
        woke_to_announce: false,
        announce_done: false,
        tracker_pending: false,
    }
}

fn settings() -> Settings {
    Settings {
        after: Duration::from_secs(60),
        ..Settings::default()
    }
}

#[test]
fn a_complete_torrent_alone_sleeps_after_the_quiet_time() {
    let t0 = Instant::now();
    let s = settings();
    assert!(!may_sleep(&quiet(), Some(t0), t0, &s), "not yet");
    assert!(!may_sleep(
        &quiet(),
        Some(t0),
        t0 + Duration::from_secs(59),
        &s
    ));
    assert!(may_sleep(
        &quiet(),
        Some(t0),
        t0 + Duration::from_secs(60),
        &s
    ));
    // The caller has not seen it quiet yet.
    assert!(!may_sleep(
        &quiet(),
        None,
        t0 + Duration::from_secs(600),
        &s
    ));
}

#[test]
fn anything_going_on_keeps_it_awake() {
    let t0 = Instant::now();
    let later = t0 + Duration::from_secs(3600);
    let s = settings();
    let awake = [
        Facts {
            complete: false,
            ..quiet()
        },
        Facts {
            peers: 1,
            ..quiet()
        },
        Facts {
            subscribed: true,
            ..quiet()
        },
        Facts {
            busy: true,
            ..quiet()
        },
    ];
    for f in awake {
        assert!(!f.quiet(), "{f:?}");
        assert!(!may_sleep(&f, Some(t0), later, &s), "{f:?}");
    }
    // Paused by hand, even incomplete, has nothing to lose once no peer is left.
    let paused = Facts {
        complete: false,
        paused: true,
        ..quiet()
    };
    assert!(may_sleep(&paused, Some(t0), later, &s));
    // Zero quiet time: dormancy off.
    let off = Settings {
        after: Duration::ZERO,
        ..s
    };
    assert!(!may_sleep(&quiet(), Some(t0), later, &off));
}

#[test]
fn a_torrent_checked_complete_with_nobody_to_announce_to_sleeps_at_once() {
    let t0 = Instant::now();
    let s = settings();
    let checked_silent = Facts {
        announces: false,
        just_checked: true,
        ..quiet()
    };
    assert!(may_sleep(&checked_silent, Some(t0), t0, &s));
    // Trackers or the DHT: its task announces `started` first, as before.
    let checked_announcing = Facts {
        just_checked: true,
        ..quiet()
    };
    assert!(!may_sleep(&checked_announcing, Some(t0), t0, &s));
    // Woken (no check): it stays up for what woke it.
    let woken_silent = Facts {
        announces: false,
        ..quiet()
    };
    assert!(!may_sleep(
        &woken_silent,
        Some(t0),
        t0 + Duration::from_secs(59),
        &s
    ));
    assert!(may_sleep(
        &woken_silent,
        Some(t0),
        t0 + Duration::from_secs(60),
        &s
    ));
    // Still quiet only: a peer or a subscriber keeps it awake, and dormancy off is off.
    for f in [
        Facts {
            peers: 1,
            ..checked_silent
        },
        Facts {
            subscribed: true,
            ..checked_silent
        },
        Facts {
            complete: false,
            ..checked_silent
        },
    ] {
        assert!(
            !may_sleep(&f, Some(t0), t0 + Duration::from_secs(1), &s),
            "{f:?}"
        );
    }
    let off = Settings {
        after: Duration::ZERO,
        ..s
    };
    assert!(!may_sleep(&checked_silent, Some(t0), t0, &off));
    assert!(
        !may_sleep(&checked_silent, None, t0, &s),
        "not yet seen quiet"
    );
}

#[test]
fn announces_are_spread_over_the_second_half_of_the_interval() {
    let t0 = Instant::now();
    let every = Duration::from_secs(1800);
    let mut seen = Vec::new();
    for first in [0u8, 0x40, 0x80, 0xc0, 0xff] {
        let at = next_announce(t0, &[first; 20], every);
        assert!(at >= t0 + every / 2 && at <= t0 + every, "{first}");
        seen.push(at);
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "spread by hash");
}

#[test]
fn due_announces_come_soonest_first_and_bounded() {
    let t0 = Instant::now();
    let mut a = Announces::default();
    for i in (1..=10u32).rev() {
        a.push(t0 + Duration::from_secs(u64::from(i)), TorrentId(i));
    }
    let mut out = Vec::new();
    a.due(t0, 4, &mut out);
    assert!(out.is_empty(), "nothing due yet");
    a.due(t0 + Duration::from_secs(7), 4, &mut out);
    let ids: Vec<u32> = out.iter().map(|(_, id)| id.0).collect();
    assert_eq!(ids, [1, 2, 3, 4], "at most four a tick, soonest first");
    a.due(t0 + Duration::from_secs(7), 4, &mut out);
    let ids: Vec<u32> = out.iter().map(|(_, id)| id.0).collect();
    assert_eq!(ids, [5, 6, 7]);
    assert_eq!(a.len(), 3);
}

#[test]
fn every_wake_reason_has_words() {
    for w in [
        Wake::Incoming,
        Wake::Announce,
        Wake::Command,
        Wake::Subscribe,
    ] {
        assert!(!w.words().is_empty());
    }
}

/// The router's side: a connection naming a dormant torrent asks the manager once to wake
/// it and waits; the woken task's `route` takes it (and any that came meanwhile).
#[tokio::test]
async fn a_connection_for_a_dormant_torrent_wakes_it_and_waits_for_its_task() {
    use crate::engine::peer::stream::PeerStream;
    use crate::engine::session::{lock, route, route_to_task, Route, RouteTo, Routes};
    use crate::engine::torrent::shared::Event;
    use crate::protocol::handshake::Handshake;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;

    let routes: Arc<Mutex<Routes>> = Arc::default();
    let hash = [0xdd; 20];
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
    lock(&routes).wake = Some(wake_tx);
    lock(&routes).by_hash.insert(
        hash,
        Route {
            req2: crate::protocol::mse_codec::req2(&hash),
            to: RouteTo::Dormant(None),
        },
    );
    let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    for _ in 0..2 {
        let (mut ours, theirs) = tokio::io::duplex(256);
        ours.write_all(&Handshake::new(hash, [1; 20]).encode())
            .await
            .unwrap();
        route(
            PeerStream::boxed(theirs),
            addr,
            Arc::clone(&routes),
            Instant::now(),
        )
        .await;
    }
    assert_eq!(wake_rx.try_recv().ok(), Some(hash), "asked to wake it");
    assert!(wake_rx.try_recv().is_err(), "once, however many connect");

    // The woken task routes itself: the two connections are its.
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    route_to_task(&routes, hash, events_tx);
    for _ in 0..2 {
        match events_rx.try_recv() {
            Ok(Event::Incoming { handshake, .. }) => assert_eq!(handshake.info_hash, hash),
            other => panic!("{other:?}"),
        }
    }
    assert!(events_rx.try_recv().is_err());
    assert_eq!(lock(&routes).incoming, 2);
}

fn replayed(held: Held) -> Vec<Command> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    held.replay(&tx);
    let mut out = Vec::new();
    while let Ok(c) = rx.try_recv() {
        out.push(c);
    }
    out
}

#[test]
fn commands_held_while_a_task_ends_reach_the_next_one_in_order() {
    let mut held = Held::default();
    let peer: crate::engine::api::PeerAddr = "127.0.0.1:6881".parse().unwrap();
    let wanted = vec![
        Command::SetSequential(true),
        Command::DropPeer(peer),
        Command::SetFilePriority {
            files: vec![0, 2],
            priority: crate::engine::api::FilePriority::Skip,
        },
        Command::Refresh,
    ];
    for c in &wanted {
        held.hold(c.clone());
    }
    assert_eq!(replayed(held), wanted);
}

#[test]
fn equal_commands_are_held_once_and_the_last_word_wins() {
    let mut held = Held::default();
    for c in [
        Command::SetSequential(true),
        Command::Refresh,
        Command::SetSequential(false),
        Command::Refresh,
        Command::SetSequential(true),
    ] {
        held.hold(c);
    }
    // Replayed, the torrent ends sequential, as it would have had every command gone through.
    assert_eq!(
        replayed(held),
        vec![
            Command::SetSequential(false),
            Command::Refresh,
            Command::SetSequential(true)
        ]
    );
}

#[test]
fn the_end_of_the_old_task_is_not_replayed_on_the_new_one() {
    let mut held = Held::default();
    held.hold(Command::Quit);
    held.hold(Command::Sleep);
    held.hold(Command::Refresh);
    assert_eq!(replayed(held), vec![Command::Refresh]);
}

#[test]
fn held_commands_are_bounded_keeping_the_newest() {
    let mut held = Held::default();
    for f in 0..(MAX_HELD + 10) {
        held.hold(Command::SetFilePriority {
            files: vec![f],
            priority: crate::engine::api::FilePriority::High,
        });
    }
    let out = replayed(held);
    assert_eq!(out.len(), MAX_HELD);
    assert_eq!(
        out.last(),
        Some(&Command::SetFilePriority {
            files: vec![MAX_HELD + 9],
            priority: crate::engine::api::FilePriority::High,
        })
    );
}

#[test]
fn a_sleeping_torrent_keeps_what_it_is_and_drops_what_its_task_was_doing() {
    use crate::engine::api::{
        LogLevel, LogLine, PeerRow, PeerSource, PeerStage, PieceState, TorrentState,
    };
    let mut last = Snapshot::empty("a", 3 * 16384, 16384);
    last.state = TorrentState::Seeding;
    last.pieces = vec![PieceState::Verified; 3];
    last.availability = vec![2; 3];
    last.verified_bytes = 3 * 16384;
    last.uploaded = 7;
    last.up_rate = 5.0;
    last.log = vec![
        LogLine {
            at: Duration::from_secs(1),
            level: LogLevel::Info,
            text: "all pieces verified".into(),
        };
        50
    ];
    last.peers = vec![PeerRow::new(
        "127.0.0.1:6881".parse().unwrap(),
        PeerSource::Tracker,
        PeerStage::Connected,
    )];
    let slim = asleep(&last);
    assert!(slim.log.is_empty() && slim.peers.is_empty());
    assert_eq!(slim.up_rate, 0.0);
    assert_eq!(slim.availability, vec![0; 3], "no peer has anything");
    // The rest is as its task last said.
    let kept = Snapshot {
        log: Vec::new(),
        peers: Vec::new(),
        up_rate: 0.0,
        availability: vec![0; 3],
        ..last
    };
    assert_eq!(slim, kept);
}

#[test]
fn a_torrent_asleep_unwatched_keeps_no_snapshot_channel() {
    use crate::engine::api::{LogLevel, LogLine};
    let mut last = Snapshot::empty("a", 16384, 16384);
    last.log = vec![LogLine {
        at: Duration::from_secs(1),
        level: LogLevel::Info,
        text: "seeding".into(),
    }];
    let (tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(last));
    let cell = Snapshots::with(tx);
    let mut watched = Some(cell.clone());
    keep_asleep(&mut watched);
    let kept = watched
        .as_ref()
        .and_then(|c| c.get())
        .map(|tx| tx.borrow().log.len());
    assert_eq!(kept, Some(0), "watched: kept, slimmed");
    drop(rx);
    let mut unwatched = Some(cell);
    keep_asleep(&mut unwatched);
    assert!(unwatched.is_none(), "nobody watches: let go");
    // A task nobody ever subscribed to had an empty cell: it goes too.
    let mut never = Some(Snapshots::default());
    keep_asleep(&mut never);
    assert!(never.is_none());
}

#[test]
fn a_parked_torrent_shows_its_line_state_and_its_pieces_when_complete() {
    use crate::engine::api::{PieceState, TorrentState};
    let mut first = Snapshot::empty("a", 3 * 16384, 16384);
    first.pieces = vec![PieceState::Missing; 3];
    first.state = TorrentState::checking(0, 3);
    first.files = vec![file_row("a", 0, 3 * 16384)];
    let asleep = shown_parked(first.clone(), TorrentState::Seeding, true, None);
    assert_eq!(asleep.files[0].done, 3 * 16384, "its file is whole too");
    assert_eq!(asleep.state, TorrentState::Seeding);
    assert_eq!(asleep.pieces, vec![PieceState::Verified; 3]);
    assert_eq!(asleep.verified_bytes, 3 * 16384);
    let queued = shown_parked(first.clone(), first.state.clone(), false, None);
    assert_eq!(queued, first, "waiting for its check: the initial snapshot");
}

/// A paused or queued torrent's task built no snapshot for nobody: a subscriber that comes
/// after it ended sees the pieces of its last resume point.
#[test]
fn a_parked_torrent_shows_the_pieces_of_its_last_resume_point() {
    use crate::engine::api::{PieceState, TorrentState};
    use crate::protocol::bitfield::Bitfield;
    // Three pieces of 16 KiB, the last one 1 KiB.
    let mut first = Snapshot::empty("a", 2 * 16384 + 1024, 16384);
    first.pieces = vec![PieceState::Missing; 3];
    // Files of 10 KiB (in piece 0), 20 KiB (pieces 0 and 1) and the rest.
    first.files = vec![
        file_row("x", 0, 10 * 1024),
        file_row("y", 10 * 1024, 20 * 1024),
        file_row("z", 30 * 1024, 3 * 1024),
    ];
    let mut have = Bitfield::new(3);
    have.set(0);
    have.set(2);
    let paused = shown_parked(first.clone(), TorrentState::Paused, false, Some(&have));
    let done: Vec<u64> = paused.files.iter().map(|f| f.done).collect();
    assert_eq!(
        done,
        [10 * 1024, 6 * 1024, 1024],
        "what verified pieces hold of each"
    );
    assert_eq!(paused.state, TorrentState::Paused);
    let v = PieceState::Verified;
    assert_eq!(paused.pieces, vec![v, PieceState::Missing, v]);
    assert_eq!(paused.verified_bytes, 16384 + 1024);
    // A bitfield of another torrent's length says nothing about this one.
    let wrong = Bitfield::new(4);
    let shown = shown_parked(first.clone(), TorrentState::Paused, false, Some(&wrong));
    assert_eq!(shown.pieces, first.pieces);
    assert_eq!(shown.verified_bytes, 0);
}

#[test]
fn a_torrent_woken_only_to_announce_sleeps_soon_after_the_announce() {
    let t0 = Instant::now();
    let s = settings();
    let woke = Facts {
        woke_to_announce: true,
        announce_done: true,
        ..quiet()
    };
    assert!(!may_sleep(
        &woke,
        Some(t0),
        t0 + ANNOUNCE_WAKE_QUIET / 2,
        &s
    ));
    assert!(may_sleep(&woke, Some(t0), t0 + ANNOUNCE_WAKE_QUIET, &s));
    // Not before its announce is done.
    let asking = Facts {
        announce_done: false,
        ..woke
    };
    assert!(!may_sleep(&asking, Some(t0), t0 + ANNOUNCE_WAKE_QUIET, &s));
    // Anyone else waits the whole quiet time.
    assert!(!may_sleep(&quiet(), Some(t0), t0 + ANNOUNCE_WAKE_QUIET, &s));
}

#[test]
fn a_torrent_just_checked_complete_sleeps_once_it_has_announced() {
    let t0 = Instant::now();
    let s = settings();
    let checked = Facts {
        just_checked: true,
        ..quiet()
    };
    assert!(
        !may_sleep(&checked, Some(t0), t0, &s),
        "its `started` first"
    );
    let announced = Facts {
        announce_done: true,
        ..checked
    };
    assert!(may_sleep(&announced, Some(t0), t0, &s));
}

#[test]
fn no_torrent_sleeps_while_its_tracker_has_not_answered() {
    let t0 = Instant::now();
    let s = settings();
    let waiting = Facts {
        tracker_pending: true,
        ..quiet()
    };
    // Long past the quiet time: its announce still waits its turn in the tracker's pace.
    assert!(!may_sleep(&waiting, Some(t0), t0 + s.after * 10, &s));
    // Found complete at its check, it sleeps at once owing its announce (the session's paced
    // wakes send it).
    let checked = Facts {
        just_checked: true,
        ..waiting
    };
    assert!(may_sleep(&checked, Some(t0), t0, &s));
    // Paused, it announces nothing: it is parked as before.
    let paused = Facts {
        paused: true,
        complete: false,
        ..waiting
    };
    assert!(may_sleep(&paused, Some(t0), t0 + s.after, &s));
}

#[test]
fn a_sleeping_torrent_announces_when_its_tracker_asked() {
    let now = Instant::now();
    let s = Settings::default();
    let hash = [0x80; 20];
    let unix = crate::engine::torrent::report::unix_now();
    let spread = next_announce(now, &hash, s.announce_every);
    // The tracker's due time (say its interval is 2 h), not the DHT's half hour.
    let due = wake_for_announce(now, false, &hash, &s, Some(Some(unix + 7200)), false);
    let ahead = due.expect("it has a tracker") - now;
    assert!((7199..=7200).contains(&ahead.as_secs()), "{ahead:?}");
    // With the DHT as well, the sooner of the two.
    assert_eq!(
        wake_for_announce(now, false, &hash, &s, Some(Some(unix + 7200)), true),
        Some(spread)
    );
    // Never answered: owed now.
    assert_eq!(
        wake_for_announce(now, false, &hash, &s, Some(None), false),
        Some(now)
    );
    // Past: the spread schedule.
    assert_eq!(
        wake_for_announce(now, false, &hash, &s, Some(Some(unix - 5)), false),
        Some(spread)
    );
    // Nobody to announce to: no wake.
    assert_eq!(wake_for_announce(now, false, &hash, &s, None, false), None);
    // Restored at start: within the first minute, whatever the trackers' schedule.
    let restored = wake_for_announce(now, true, &hash, &s, Some(None), false).expect("due");
    assert!(restored - now <= RESTORED_SPREAD);
    // The tests' knob overrides the trackers.
    let fixed = Settings {
        announce_fixed: true,
        announce_every: Duration::from_secs(6),
        ..s
    };
    let at = wake_for_announce(now, false, &hash, &fixed, Some(Some(unix + 7200)), false);
    assert!(at.expect("due") - now <= Duration::from_secs(6));
}

#[test]
fn a_large_library_may_wake_more_a_tick() {
    let s = Settings::default();
    let mut a = Announces::default();
    let t = Instant::now();
    for i in 0..10_000u32 {
        a.push(t, TorrentId(i));
    }
    assert_eq!(a.wakes_per_tick(&s), 20);
    assert_eq!(
        Announces::default().wakes_per_tick(&s),
        s.announce_wakes_per_tick
    );
}

#[test]
fn wakes_wait_while_the_woken_still_wait_for_their_trackers() {
    let s = Settings::default();
    let mut a = Announces::default();
    let t = Instant::now();
    // 100,000 added at once, each owing its `started`: 200 a tick while none waits.
    for i in 0..100_000u32 {
        a.push(t, TorrentId(i));
    }
    assert_eq!(a.wakes_now(&s, 0), 200);
    // A tracker that takes fewer than that leaves the woken waiting: the wakes shrink to
    // what is left under the bound, then stop, however large the library.
    assert_eq!(a.wakes_now(&s, MAX_ANNOUNCING - 50), 50);
    assert_eq!(a.wakes_now(&s, MAX_ANNOUNCING), 0);
    assert_eq!(a.wakes_now(&s, MAX_ANNOUNCING + 7), 0);
}

fn file_row(path: &str, offset: u64, size: u64) -> crate::engine::api::FileRow {
    crate::engine::api::FileRow {
        path: path.into(),
        size,
        offset,
        done: 0,
        priority: crate::engine::api::FilePriority::Normal,
    }
}
