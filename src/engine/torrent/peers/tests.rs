//! Unit tests of `peers.rs`.
use super::*;
use crate::engine::api::PeerStage;
use std::sync::atomic::Ordering;

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 6881))
}

#[test]
fn failed_dials_back_off_then_rest() {
    let now = Instant::now();
    let t = PeerSource::Tracker;
    let plan = |attempts| plan_after_end(&PeerEnd::Refused, Plan::Resting, t, attempts, false, now);
    assert_eq!(plan(1), Plan::BackingOff(now + Duration::from_secs(5)));
    assert_eq!(plan(2), Plan::BackingOff(now + Duration::from_secs(10)));
    assert_eq!(plan(3), Plan::BackingOff(now + Duration::from_secs(20)));
    assert_eq!(plan(4), Plan::Resting);
    // Complete: nobody is dialed again.
    assert_eq!(
        plan_after_end(&PeerEnd::Refused, Plan::Resting, t, 1, true, now),
        Plan::Resting
    );
}

/// A dial that failed at the proxy never asked the peer: it is retried soon, however often.
#[test]
fn a_proxy_down_never_rests_a_peer() {
    let now = Instant::now();
    let t = PeerSource::Manual;
    let down = PeerEnd::ProxyDown("cannot reach the proxy".into());
    for attempts in [1, MAX_ATTEMPTS, 50] {
        assert_eq!(
            plan_after_end(&down, Plan::Resting, t, attempts, false, now),
            Plan::BackingOff(now + crate::engine::torrent::peer_entry::PROXY_RETRY)
        );
    }
    assert_eq!(
        plan_after_end(&down, Plan::Resting, t, 1, true, now),
        Plan::Resting
    );
}

/// Cut by the kill switch (`--interface` down): dialed again soon, seeding or not, but never
/// a peer that dialed us (its port is not one it listens on).
#[test]
fn an_interface_down_never_rests_a_peer() {
    let now = Instant::now();
    let back = Plan::BackingOff(now + crate::engine::torrent::peer_entry::PROXY_RETRY);
    for (attempts, complete) in [(1, false), (MAX_ATTEMPTS, false), (50, true)] {
        assert_eq!(
            plan_after_end(
                &PeerEnd::InterfaceDown,
                Plan::Resting,
                PeerSource::Manual,
                attempts,
                complete,
                now
            ),
            back
        );
    }
    assert_eq!(
        plan_after_end(
            &PeerEnd::InterfaceDown,
            Plan::Resting,
            PeerSource::Incoming,
            1,
            false,
            now
        ),
        Plan::Resting
    );
}

#[test]
fn the_end_decides_never_banned_and_dropped() {
    let now = Instant::now();
    let t = PeerSource::Tracker;
    let p = |end: PeerEnd, cur| plan_after_end(&end, cur, t, 1, false, now);
    assert_eq!(p(PeerEnd::WrongInfoHash, Plan::Resting), Plan::Never);
    assert_eq!(p(PeerEnd::Protocol("x".into()), Plan::Resting), Plan::Never);
    assert_eq!(p(PeerEnd::Internal("x".into()), Plan::Resting), Plan::Never);
    assert_eq!(p(PeerEnd::Banned, Plan::Resting), Plan::Banned);
    // A ban set while connected outlives whatever the connection ended with.
    assert_eq!(p(PeerEnd::Reset, Plan::Banned), Plan::Banned);
    assert_eq!(
        p(PeerEnd::DroppedByUser, Plan::Resting),
        Plan::Dropped(now + DROP_COOL_DOWN)
    );
    assert_eq!(p(PeerEnd::Duplicate, Plan::Resting), Plan::Resting);
    let cooling = Plan::Dropped(now + DROP_COOL_DOWN);
    assert_eq!(p(PeerEnd::Shutdown, cooling), cooling);
    // A peer that dialed us is not dialed back.
    assert_eq!(
        plan_after_end(
            &PeerEnd::Reset,
            Plan::Resting,
            PeerSource::Incoming,
            0,
            false,
            now
        ),
        Plan::Resting
    );
}

#[test]
fn due_and_refused_follow_the_plan() {
    let now = Instant::now();
    let later = now + Duration::from_secs(10);
    assert!(Plan::Queued.due(now));
    assert!(!Plan::BackingOff(later).due(now));
    assert!(Plan::BackingOff(later).due(later));
    assert!(!Plan::Dropped(later).due(now));
    assert!(Plan::Dropped(later).refuses_incoming(now));
    assert!(!Plan::Dropped(later).refuses_incoming(later));
    assert!(Plan::Banned.refuses_incoming(later));
    assert!(!Plan::Banned.due(later) && !Plan::Never.due(later) && !Plan::Resting.due(later));
}

#[test]
fn a_connection_round_trip_updates_the_entry() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    assert_eq!(t.add([addr(1), addr(1)], PeerSource::Tracker, now), 1);
    assert_eq!(t.due(now), vec![addr(1)]);
    let conn = t.new_conn(addr(1));
    let p = t.get_mut(&addr(1)).unwrap();
    p.dial.attempts += 1;
    let (_rx, live) = p.begin(conn, PeerStage::Connecting, now);
    live.downloaded.store(100, Ordering::Relaxed);
    assert!(t.due(now).is_empty(), "a connected peer is not dialed");
    assert!(t.by_conn(conn).is_some());
    let p = t.end_conn(conn).unwrap();
    assert_eq!(p.finish(&PeerEnd::Refused, false, now), PeerStage::Failed);
    assert_eq!(p.downloaded(), 100);
    assert_eq!(p.dial.plan, Plan::BackingOff(now + Duration::from_secs(5)));
    assert!(t.by_conn(conn).is_none());
    assert_eq!(t.due(now + Duration::from_secs(5)), vec![addr(1)]);
}

#[test]
fn relisting_requeues_only_peers_that_left() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    for (n, end) in [
        (1, PeerEnd::ClosedByPeer),
        (2, PeerEnd::Protocol("x".into())),
    ] {
        t.add([addr(n)], PeerSource::Tracker, now);
        let p = t.get_mut(&addr(n)).unwrap();
        p.dial.attempts = MAX_ATTEMPTS;
        let c = t.new_conn(addr(n));
        let _ = t
            .get_mut(&addr(n))
            .unwrap()
            .begin(c, PeerStage::Connecting, now);
        t.end_conn(c).unwrap().finish(&end, false, now);
        t.relisted(&addr(n), false, now);
    }
    assert_eq!(
        t.get(&addr(1)).unwrap().dial.plan,
        Plan::BackingOff(now + RELISTED_RETRY)
    );
    assert_eq!(t.get(&addr(2)).unwrap().dial.plan, Plan::Never);
}

#[test]
fn each_source_is_bounded_and_gone_entries_make_room() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    let n = t.add((0..600_000).map(addr), PeerSource::Tracker, now);
    assert_eq!(n, MAX_PER_SOURCE);
    assert_eq!(t.len(), MAX_PER_SOURCE);
    // Another source still has room.
    assert_eq!(t.add([addr(900_000)], PeerSource::Manual, now), 1);
    // Gone tracker peers give their place to new ones, never-connected before useful
    // ones; a queued one keeps its place.
    assert_eq!(t.add([addr(800_000)], PeerSource::Tracker, now), 0);
    t.get_mut(&addr(7)).unwrap().dial.plan = Plan::Never;
    t.get_mut(&addr(8)).unwrap().dial.plan = Plan::Resting;
    t.get_mut(&addr(8)).unwrap().add_past_down(1);
    assert_eq!(t.add([addr(800_000)], PeerSource::Tracker, now), 1);
    assert!(t.get(&addr(7)).is_none());
    assert!(t.get(&addr(8)).is_some());
    assert_eq!(
        t.add([addr(800_001), addr(800_002)], PeerSource::Tracker, now),
        1
    );
    assert!(t.get(&addr(8)).is_none());
    assert_eq!(t.len(), MAX_PER_SOURCE + 1);
}

#[test]
fn bans_and_drops_refuse_the_ip_and_old_rows_go() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    t.add([addr(1)], PeerSource::Tracker, now);
    t.get_mut(&addr(1)).unwrap().dial.plan = Plan::Banned;
    assert!(t.refuses_ip(addr(1).ip(), now));
    assert!(!t.refuses_ip(addr(2).ip(), now));
    for n in 10..(10 + MAX_GONE_ROWS as u32 + 5) {
        t.add([addr(n)], PeerSource::Tracker, now);
        t.get_mut(&addr(n)).unwrap().dial.plan = Plan::Resting;
    }
    t.prune(now);
    assert_eq!(t.len(), MAX_GONE_ROWS + 1, "the ban stays");
    t.prune(now + KEEP_GONE + Duration::from_secs(1));
    assert_eq!(t.len(), 1);
    assert!(t.refuses_ip(addr(1).ip(), now));
}

#[test]
fn a_seeding_torrent_dials_leechers_but_not_known_seeds_and_few_at_a_time() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    t.add((1..=5).map(addr), PeerSource::Tracker, now);
    t.get_mut(&addr(2)).expect("entry").known.seed = true;
    // Downloading: everyone due, up to the budget.
    assert_eq!(t.to_dial(now, false, 10).len(), 5);
    assert_eq!(t.to_dial(now, false, 3).len(), 3);
    // Seeding: never the known seed, and only a few per tick.
    let mut seen = Vec::new();
    for _ in 0..10 {
        let batch = t.to_dial(now, true, 10);
        assert!(batch.len() <= SEED_DIALS_PER_TICK);
        for a in batch {
            assert_ne!(a, addr(2), "a known seed is not dialed while seeding");
            t.get_mut(&a).expect("entry").dial.plan = Plan::Resting;
            seen.push(a);
        }
    }
    seen.sort();
    assert_eq!(seen, vec![addr(1), addr(3), addr(4), addr(5)]);
}

#[test]
fn a_seeding_torrent_retries_a_relisted_leecher_but_not_a_seed() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    t.add([addr(1), addr(2)], PeerSource::Tracker, now);
    for n in [1, 2] {
        let p = t.get_mut(&addr(n)).expect("entry");
        let _rx = p.begin(u64::from(n), PeerStage::Connecting, now);
        p.finish(&PeerEnd::ClosedByPeer, true, now);
        assert_eq!(p.dial.plan, Plan::Resting);
    }
    t.get_mut(&addr(2)).expect("entry").known.seed = true;
    t.relisted(&addr(1), true, now);
    t.relisted(&addr(2), true, now);
    assert!(matches!(
        t.get(&addr(1)).map(|p| p.dial.plan),
        Some(Plan::BackingOff(_))
    ));
    assert_eq!(t.get(&addr(2)).map(|p| p.dial.plan), Some(Plan::Resting));
}

#[test]
fn in_play_means_a_connection_runs_or_a_dial_is_planned_and_the_row_says_the_same() {
    let now = Instant::now();
    let mut t = PeerTable::default();
    t.add([addr(1), addr(2)], PeerSource::Tracker, now);
    let row = |t: &PeerTable, n| {
        crate::engine::torrent::snapshot::peer_row(t.get(&addr(n)).unwrap(), now, 1)
    };
    assert!(t.get(&addr(1)).unwrap().in_play(), "queued");
    let c = t.new_conn(addr(1));
    let _rx = t
        .get_mut(&addr(1))
        .unwrap()
        .begin(c, PeerStage::Connecting, now);
    let p = t.get(&addr(1)).unwrap();
    assert!(p.has_conn() && p.in_play() && row(&t, 1).in_play);
    t.end_conn(c).unwrap().finish(&PeerEnd::Refused, false, now);
    let p = t.get(&addr(1)).unwrap();
    assert!(
        !p.has_conn() && p.in_play(),
        "backing off: another dial is planned"
    );
    assert!(row(&t, 1).in_play);
    let c = t.new_conn(addr(2));
    let _rx = t
        .get_mut(&addr(2))
        .unwrap()
        .begin(c, PeerStage::Connecting, now);
    t.end_conn(c)
        .unwrap()
        .finish(&PeerEnd::NotBitTorrent, false, now);
    let p = t.get(&addr(2)).unwrap();
    assert!(!p.has_conn() && !p.in_play(), "never dialed again");
    assert!(!row(&t, 2).in_play);
}

#[test]
fn our_own_listening_address_is_never_taken_as_a_peer() {
    let now = Instant::now();
    let at = |ip: [u8; 4], port| SocketAddr::from((ip, port));
    // Bound to one address: only that address at our port is us.
    let mut t = PeerTable::new(OwnAddr {
        bind: Some(IpAddr::from([127, 0, 0, 5])),
        port: 6881,
    });
    let listed = [
        at([127, 0, 0, 5], 6881),
        at([127, 0, 0, 6], 6881),
        at([127, 0, 0, 5], 6882),
    ];
    assert_eq!(t.add(listed, PeerSource::Dht, now), 2);
    assert!(t.get(&at([127, 0, 0, 5], 6881)).is_none());
    // Bound to every address: any loopback address at our port is us, others are not.
    let mut t = PeerTable::new(OwnAddr {
        bind: None,
        port: 6881,
    });
    let listed = [
        at([127, 0, 0, 1], 6881),
        at([127, 0, 0, 9], 6881),
        at([10, 0, 0, 1], 6881),
    ];
    assert_eq!(t.add(listed, PeerSource::Tracker, now), 1);
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 6881));
    assert_eq!(t.add([v6], PeerSource::Pex, now), 0);
    // Not listening: nothing is filtered.
    let mut t = PeerTable::new(OwnAddr {
        bind: None,
        port: 0,
    });
    assert_eq!(t.add([at([127, 0, 0, 1], 0)], PeerSource::Dht, now), 1);
}

#[test]
fn with_more_candidates_than_slots_the_highest_bep40_priorities_are_dialed_first() {
    use crate::protocol::peer_priority::peer_priority;
    let now = Instant::now();
    let me = SocketAddr::from(([123, 213, 32, 10], 6881));
    let mut t = PeerTable::new(OwnAddr {
        bind: Some(me.ip()),
        port: me.port(),
    });
    let candidates: Vec<SocketAddr> = (1..=40)
        .map(|n| SocketAddr::from(([98, 76, n, 32], 6881)))
        .collect();
    assert_eq!(t.add(candidates.clone(), PeerSource::Tracker, now), 40);
    let mut ranked = candidates.clone();
    ranked.sort_by_key(|a| std::cmp::Reverse(peer_priority(me, *a).unwrap()));
    // Five slots: the five of highest priority, in order.
    assert_eq!(t.to_dial(now, false, 5), ranked[..5]);
    assert_eq!(
        t.priority(&ranked[0]),
        peer_priority(me, ranked[0]).unwrap()
    );
    // Fewer attempts still come first: a failed top candidate waits behind fresh ones.
    t.get_mut(&ranked[0]).unwrap().dial.attempts = 1;
    assert_eq!(t.due(now)[..4], ranked[1..5]);

    // Our external address, once known, decides instead of the bound one.
    t.set_external(IpAddr::from([230, 12, 123, 3]));
    let me = SocketAddr::from(([230, 12, 123, 3], 6881));
    let mut ranked: Vec<SocketAddr> = candidates.into_iter().filter(|a| *a != ranked[0]).collect();
    ranked.sort_by_key(|a| std::cmp::Reverse(peer_priority(me, *a).unwrap()));
    assert_eq!(t.to_dial(now, false, 3), ranked[..3]);

    // A wildcard bind and nothing learned: every priority equal (0).
    let w = PeerTable::new(OwnAddr {
        bind: None,
        port: 6881,
    });
    assert_eq!(w.priority(&SocketAddr::from(([98, 76, 54, 32], 1))), 0);
}
