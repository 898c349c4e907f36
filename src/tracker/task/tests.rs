//! The announce schedule of many torrents: tiers that answer (or fail) in the same instant do
//! not come due in the same instant again.

use super::*;

const TORRENTS: usize = 1000;

fn tier(url: &str, now: Instant) -> Tier {
    Tier {
        trackers: vec![Tracker {
            url: url.to_string(),
            status: TrackerStatus::NotContacted,
            last_done: None,
            seeders: None,
            leechers: None,
            warning: None,
            min_interval: None,
            main: Told::default(),
            also: Told::default(),
            also_counts: (None, None),
            also_warning: None,
        }],
        next_at: now,
        busy: true,
        cursor: 0,
        failed_rounds: 0,
    }
}

fn sent(url: &str) -> Sent {
    Sent {
        tier: 0,
        url: url.to_string(),
        event: AnnounceEvent::Started,
        left: 1,
        counts: (0, 0),
        also_event: None,
    }
}

/// Seconds after `now` at which each tier is due, sorted.
fn due_secs(tiers: &[Tier], now: Instant) -> Vec<f64> {
    let mut v: Vec<f64> = tiers
        .iter()
        .map(|t| t.next_at.duration_since(now).as_secs_f64())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The most tiers due within any one second.
fn busiest_second(due: &[f64]) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..due.len() {
        while due[hi] - due[lo] >= 1.0 {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[test]
fn reannounces_of_torrents_answered_together_are_spread_never_early() {
    let url = "http://127.0.0.1:1/announce";
    let now = Instant::now();
    let interval = Duration::from_secs(1800);
    let mut tiers: Vec<Tier> = (0..TORRENTS).map(|_| tier(url, now)).collect();
    for t in &mut tiers {
        let resp = AnnounceResponse {
            interval,
            min_interval: Some(Duration::from_secs(900)),
            peers: Vec::new(),
            seeders: None,
            leechers: None,
            warning: None,
            external_ip: None,
            tracker_ip: None,
        };
        t.on_answer(0, resp, &sent(url), false, now, &mut Vec::new());
    }
    let due = due_secs(&tiers, now);
    // Never before the interval the tracker gave, and within a tenth of it after.
    assert!(due[0] >= 1800.0, "{}", due[0]);
    assert!(due[TORRENTS - 1] <= 1980.0 + 1e-6, "{}", due[TORRENTS - 1]);
    // 1000 over 180 s is about 6 a second; in lockstep it would be all 1000.
    let peak = busiest_second(&due);
    assert!(peak <= 40, "{peak} re-announces due within one second");
}

#[test]
fn retries_of_a_dead_tracker_are_spread() {
    let url = "http://127.0.0.1:1/announce";
    let now = Instant::now();
    let config = TaskConfig::default();
    let mut tiers: Vec<Tier> = (0..TORRENTS).map(|_| tier(url, now)).collect();
    for t in &mut tiers {
        let e = TrackerError::Io {
            kind: None,
            reason: "refused".into(),
        };
        let retry_now = t.on_failure(0, &e, &sent(url), &config, now, &mut Vec::new());
        assert!(!retry_now, "a one-URL tier backs off");
    }
    let due = due_secs(&tiers, now);
    let first = config.backoff_first.as_secs_f64();
    assert!(due[0] >= first, "{}", due[0]);
    assert!(
        due[TORRENTS - 1] <= first * 1.1 + 1e-6,
        "{}",
        due[TORRENTS - 1]
    );
    // 15 s + up to 1.5 s: spread over the whole 1.5 s rather than one instant.
    assert!(
        due[TORRENTS - 1] - due[0] >= 1.0,
        "{:?}",
        (due[0], due[TORRENTS - 1])
    );
}

#[test]
fn spread_never_shortens_and_caps_at_five_minutes() {
    for secs in [0, 1, 15, 60, 1800, 86_400] {
        let wait = Duration::from_secs(secs);
        for _ in 0..100 {
            let s = tier::spread(wait);
            assert!(s >= wait);
            assert!(s <= wait + (wait / 10).min(Duration::from_secs(300)));
        }
    }
}

#[test]
fn a_reannounce_is_due_now_unless_the_trackers_minimum_interval_has_not_passed() {
    let now = Instant::now();
    let mut t = tier("http://127.0.0.1:1/announce", now);
    t.busy = false;
    t.next_at = now + Duration::from_secs(1800);
    assert_eq!(t.reannounce(now), now, "never answered: at once");
    t.trackers[0].status = TrackerStatus::Ok { peers: 3 };
    t.trackers[0].last_done = Some(now);
    assert_eq!(t.reannounce(now), now, "no minimum interval given");
    t.trackers[0].min_interval = Some(Duration::from_secs(60));
    let later = now + Duration::from_secs(20);
    assert_eq!(t.reannounce(later), now + Duration::from_secs(60));
    assert_eq!(t.next_at, now + Duration::from_secs(60));
    let much_later = now + Duration::from_secs(90);
    assert_eq!(t.reannounce(much_later), much_later);
    t.trackers[0].status = TrackerStatus::Failed("refused".into());
    t.failed_rounds = 5;
    assert_eq!(
        t.reannounce(later),
        later,
        "a failing tracker is tried again at once"
    );
    assert_eq!(t.failed_rounds, 0);
}
