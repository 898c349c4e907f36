use super::bucket::burst;
use super::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn refill_pays_the_debt_at_the_rate() {
    let t0 = Instant::now();
    let b = Bucket::new(100 * KIB);
    b.set_rate(100 * KIB, t0);
    // 50 KiB lent at once: the wait is 0.5 s at 100 KiB/s.
    let w = b.reserve(50 * KIB, t0);
    assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
    // Half a second later the debt is paid: the next small take waits only for itself.
    let w = b.reserve(KIB, t0 + ms(500));
    assert!((w.as_secs_f64() - 0.01).abs() < 1e-3, "{w:?}");
}

#[test]
fn savings_are_capped_by_the_burst() {
    let t0 = Instant::now();
    let b = Bucket::new(MIB);
    b.set_rate(MIB, t0);
    // An hour idle saves only the burst (0.1 s of rate).
    assert_eq!(b.reserve(0, t0 + Duration::from_secs(3600)), Duration::ZERO);
    assert!((b.tokens() - burst(MIB)).abs() < 1.0);
    // The burst goes through at once, the next byte waits.
    assert_eq!(
        b.reserve(burst(MIB) as u64, t0 + Duration::from_secs(3600)),
        Duration::ZERO
    );
    assert!(b.reserve(16 * KIB, t0 + Duration::from_secs(3600)) > Duration::ZERO);
    // A slow limit still saves a whole block.
    assert_eq!(burst(KIB), 16.0 * KIB as f64);
}

#[test]
fn long_run_rate_matches_the_limit() {
    // A caller that takes 16 KiB blocks and sleeps as told, over 10 simulated seconds.
    for rate in [100 * KIB, MIB, 10 * MIB, 50 * MIB] {
        let t0 = Instant::now();
        let b = Bucket::new(rate);
        b.set_rate(rate, t0);
        let (mut now, mut sent) = (t0, 0u64);
        while now < t0 + Duration::from_secs(10) {
            now += b.reserve(16 * KIB, now);
            sent += 16 * KIB;
        }
        let measured = sent as f64 / 10.0;
        let err = (measured - rate as f64).abs() / rate as f64;
        assert!(err < 0.02, "rate {rate}: measured {measured} ({err})");
    }
}

/// Simulates busy connections, each behind its chain, taking a block and sleeping as told.
/// Returns the bytes each got in `secs` seconds.
fn run(chains: &[Limiter], secs: u64) -> Vec<u64> {
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(secs);
    let mut next = vec![t0; chains.len()];
    let mut got = vec![0u64; chains.len()];
    loop {
        let (i, at) = next
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, t)| (i, *t))
            .unwrap();
        if at >= end {
            return got;
        }
        next[i] = at + chains[i].reserve_at(16 * KIB, at);
        got[i] += 16 * KIB;
    }
}

#[test]
fn two_torrents_share_the_session_limit_fairly() {
    let s = SessionRates::new(
        RatePair {
            down: 2 * MIB,
            up: 0,
        },
        RatePair::default(),
        false,
    );
    let a = s.torrent(RatePair::default());
    let b = s.torrent(RatePair::default());
    let got = run(&[a.down.clone(), b.down.clone()], 20);
    for g in &got {
        let rate = *g as f64 / 20.0;
        assert!((rate - MIB as f64).abs() < 0.05 * MIB as f64, "{got:?}");
    }
}

#[test]
fn one_takes_all_when_the_other_cannot() {
    let s = SessionRates::new(
        RatePair {
            down: 2 * MIB,
            up: 0,
        },
        RatePair::default(),
        false,
    );
    // The second torrent is held to 256 KiB/s by its own limit: the first gets the rest.
    let a = s.torrent(RatePair::default());
    let b = s.torrent(RatePair {
        down: 256 * KIB,
        up: 0,
    });
    let got = run(&[a.down.clone(), b.down.clone()], 20);
    let (ra, rb) = (got[0] as f64 / 20.0, got[1] as f64 / 20.0);
    assert!(
        (rb - 256.0 * KIB as f64).abs() < 0.05 * 256.0 * KIB as f64,
        "{got:?}"
    );
    assert!(
        (ra + rb - 2.0 * MIB as f64).abs() < 0.05 * 2.0 * MIB as f64,
        "{got:?}"
    );
}

#[test]
fn the_tightest_level_of_the_hierarchy_holds() {
    let s = SessionRates::new(RatePair { down: 0, up: MIB }, RatePair::default(), false);
    let t = s.torrent(RatePair {
        down: 0,
        up: 4 * MIB,
    });
    let conn = Arc::new(Bucket::new(512 * KIB));
    let mut chain = vec![Arc::clone(&s.up)];
    chain.push(conn);
    // The connection's 512 KiB/s is tighter than the session's 1 MiB/s.
    let got = run(&[Limiter::new(chain), t.up.clone()], 10);
    let r0 = got[0] as f64 / 10.0;
    assert!(
        (r0 - 512.0 * KIB as f64).abs() < 0.05 * 512.0 * KIB as f64,
        "{got:?}"
    );
    let total = (got[0] + got[1]) as f64 / 10.0;
    assert!((total - MIB as f64).abs() < 0.05 * MIB as f64, "{got:?}");
}

#[test]
fn a_limit_changed_at_runtime_applies_at_once() {
    let s = SessionRates::new(
        RatePair {
            down: 100 * KIB,
            up: 0,
        },
        RatePair::default(),
        false,
    );
    let t = s.torrent(RatePair::default());
    let t0 = Instant::now();
    // A big debt under the slow limit...
    let w = t.down.reserve_at(10 * MIB, t0);
    assert!(w > Duration::from_secs(60));
    let changes = s.subscribe();
    s.set_normal(Some(10 * MIB), None);
    assert!(changes.has_changed().unwrap());
    // ...is forgiven: the next block goes at the new rate.
    let w = t.down.reserve_at(16 * KIB, Instant::now());
    assert!(w < ms(5), "{w:?}");
    assert_eq!(s.view().effective.down, 10 * MIB);
}

#[test]
fn turtle_mode_swaps_the_limits_and_names_itself() {
    let s = SessionRates::new(
        RatePair {
            down: 2 * MIB,
            up: MIB,
        },
        RatePair {
            down: 100 * KIB,
            up: 50 * KIB,
        },
        false,
    );
    let t = s.torrent(RatePair::default());
    assert_eq!(
        t.why(2.0 * MIB as f64, 0.0).as_deref(),
        Some("limited: down 2 MiB/s (session limit)")
    );
    s.set_turtle(true);
    assert_eq!(s.down.rate(), 100 * KIB);
    assert_eq!(s.up.rate(), 50 * KIB);
    assert_eq!(
        t.why(0.0, 49.0 * KIB as f64).as_deref(),
        Some("limited: up 50 KiB/s (turtle mode)")
    );
    assert_eq!(t.why(10.0 * KIB as f64, 10.0), None);
    t.set_own(Some(50 * KIB), None);
    assert_eq!(
        t.why(50.0 * KIB as f64, 0.0).as_deref(),
        Some("limited: down 50 KiB/s (torrent limit)")
    );
    s.set_turtle(false);
    assert_eq!(s.down.rate(), 2 * MIB);
}

#[test]
fn unlimited_costs_nothing_and_never_waits() {
    let s = SessionRates::unlimited();
    let t = s.torrent(RatePair::default());
    assert!(!t.down.is_limited());
    let now = Instant::now();
    for _ in 0..1000 {
        assert_eq!(t.down.reserve_at(u64::MAX / 2, now), Duration::ZERO);
    }
    assert!(t.down.reserve(16 * KIB).is_none());
    assert_eq!(t.why(1e12, 1e12), None);
    assert!(Limiter::none().reserve(1).is_none());
}

#[test]
fn local_peers_are_limited_unless_exempt() {
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    let lim = RatePair { down: MIB, up: MIB };
    let t = SessionRates::new(lim, lim, false).torrent(RatePair::default());
    assert!(t.for_peer(lo).0.is_limited());
    let t = SessionRates::new(lim, lim, true).torrent(RatePair::default());
    assert!(!t.for_peer(lo).0.is_limited());
    assert!(t.for_peer(public).1.is_limited());
    for a in [
        "10.1.2.3",
        "192.168.0.9",
        "172.16.5.5",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
    ] {
        assert!(is_local(a.parse().unwrap()), "{a}");
    }
    for a in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
        assert!(!is_local(a.parse().unwrap()), "{a}");
    }
}

#[test]
fn the_clock_gives_a_minute_of_the_day() {
    assert!(schedule::local_minute_of_day().is_some_and(|m| m < 24 * 60));
}

#[test]
fn the_schedule_switches_turtle_mode_at_its_edges_only() {
    let s = SessionRates::with_schedule(
        RatePair { down: MIB, up: 0 },
        RatePair {
            down: 10 * KIB,
            up: 0,
        },
        false,
        Some(Schedule::parse("01:00-07:00").unwrap()),
    );
    s.on_clock(30);
    assert!(!s.view().turtle);
    s.on_clock(60);
    assert!(s.view().turtle);
    assert_eq!(s.down.rate(), 10 * KIB);
    // Turned off by hand inside the window: stays off until the next edge.
    s.set_turtle(false);
    s.on_clock(61);
    assert!(!s.view().turtle);
    s.on_clock(420);
    assert!(!s.view().turtle);
    assert_eq!(s.down.rate(), MIB);
}

#[test]
fn a_torrent_whose_connections_wait_is_limited_below_ninety_percent() {
    let s = SessionRates::new(
        RatePair {
            down: 500 * KIB,
            up: 0,
        },
        RatePair::default(),
        false,
    );
    let t = s.torrent(RatePair::default());
    let now = Instant::now();
    // 85 % of the limit and nobody waited: the swarm, not the limit, sets the pace.
    assert_eq!(t.why_at(425.0 * KIB as f64, 0.0, now), None);
    // A 256 KiB piece paid at once: the next take waits.
    assert!(!t.down.reserve_at(256 * KIB, now).is_zero());
    assert!(t.down.held_within(Duration::from_secs(3), now));
    assert_eq!(
        t.why_at(425.0 * KIB as f64, 0.0, now).as_deref(),
        Some("limited: down 500 KiB/s (session limit)")
    );
    // Waits long past, or a rate far below the limit, blame nothing.
    let later = now + Duration::from_secs(10);
    assert_eq!(t.why_at(425.0 * KIB as f64, 0.0, later), None);
    assert_eq!(t.why_at(100.0 * KIB as f64, 0.0, now), None);
    // Another torrent's limiter has its own record.
    let other = s.torrent(RatePair::default());
    assert!(!other.down.held_within(Duration::from_secs(3), now));
}

#[test]
fn a_trackers_limit_is_shared_by_its_torrents_and_named_on_their_lines() {
    use crate::engine::api::{TrackerRule, TrackerRules};
    let rules: TrackerRules = [(
        "private.example".to_string(),
        TrackerRule {
            limits: RatePair { down: 0, up: MIB },
            ..TrackerRule::default()
        },
    )]
    .into();
    let s = session_rates(&RateOptions::default(), &rules);
    let on_it = "https://Private.Example:443/0123abcd/announce";
    let a = s.torrent_of(RatePair::default(), [on_it, "udp://other.example:6969"]);
    let b = s.torrent_of(RatePair::default(), ["udp://private.example:1337"]);
    // Its own 8 MiB/s: an unlimited chain would never advance the simulated clock.
    let free = s.torrent_of(
        RatePair {
            down: 0,
            up: 8 * MIB,
        },
        ["udp://other.example:6969"],
    );
    // Two torrents of the tracker share its 1 MiB/s; a third, elsewhere, is not held by it.
    let got = run(&[a.up.clone(), b.up.clone(), free.up.clone()], 10);
    let tracker = (got[0] + got[1]) as f64 / 10.0;
    assert!((tracker - MIB as f64).abs() < 0.05 * MIB as f64, "{got:?}");
    let other = got[2] as f64 / 10.0;
    assert!(
        (other - 8.0 * MIB as f64).abs() < 0.05 * 8.0 * MIB as f64,
        "{got:?}"
    );
    // The line names the tracker's limit, and its own when that is tighter.
    let now = Instant::now();
    assert_eq!(
        a.why_at(0.0, MIB as f64, now).as_deref(),
        Some("limited: up 1 MiB/s (tracker limit (private.example))")
    );
    a.set_own(None, Some(512 * KIB));
    assert_eq!(
        a.why_at(0.0, 512.0 * KIB as f64, now).as_deref(),
        Some("limited: up 512 KiB/s (torrent limit)")
    );
    assert_eq!(
        free.why_at(0.0, 8.0 * MIB as f64, now).as_deref(),
        Some("limited: up 8 MiB/s (torrent limit)")
    );
}
