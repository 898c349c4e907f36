use super::*;
use crate::engine::api::{parse_duration, parse_goal_duration, parse_ratio};

const H: u64 = 3600;

fn p(ratio: f64, seeded: u64, idle: u64) -> Progress {
    Progress {
        ratio,
        seeded: Duration::from_secs(seeded),
        idle: Duration::from_secs(idle),
    }
}

#[test]
fn no_goal_never_ends_seeding() {
    assert_eq!(check(&Goals::default(), &p(100.0, 100 * H, 100 * H)), None);
}

#[test]
fn the_ratio_goal() {
    let g = Goals {
        ratio: Some(1.0),
        ..Goals::default()
    };
    assert_eq!(check(&g, &p(0.99, 0, 0)), None);
    let r = check(&g, &p(1.004, 0, 0)).unwrap();
    assert_eq!(r.kind(), Kind::Ratio);
    assert_eq!(
        r.why(GoalAction::Pause),
        "paused: ratio 1.00 reached (goal 1.0)"
    );
    assert_eq!(check(&g, &p(f64::NAN, 0, 0)), None);
}

#[test]
fn the_time_and_idle_goals() {
    let g = Goals {
        seed_time: Some(Duration::from_secs(2 * H)),
        idle: Some(Duration::from_secs(30 * 60)),
        ..Goals::default()
    };
    assert_eq!(check(&g, &p(0.0, 2 * H - 1, 60)), None);
    let r = check(&g, &p(0.0, 2 * H, 60)).unwrap();
    assert_eq!(r.why(GoalAction::Pause), "paused: seeded 2 h (goal 2 h)");
    let r = check(&g, &p(0.0, 60, 30 * 60)).unwrap();
    assert_eq!(r.kind(), Kind::Idle);
    assert_eq!(
        r.why(GoalAction::Remove),
        "removed: no upload for 30 min (goal 30 min)"
    );
}

#[test]
fn a_torrent_overrides_the_session_and_can_switch_a_goal_off() {
    let session = Goals {
        ratio: Some(2.0),
        seed_time: Some(Duration::from_secs(H)),
        idle: None,
    };
    let mut o = Overrides {
        ratio: Some(0.5),
        ..Overrides::default()
    };
    let g = o.effective(&session);
    assert_eq!(g.ratio, Some(0.5));
    assert_eq!(g.seed_time, Some(Duration::from_secs(H)));
    // Resumed by hand past its ratio: that goal is off, the others stay.
    o.off |= Kind::Ratio as u8;
    let g = o.effective(&session);
    assert_eq!(g.ratio, None);
    assert_eq!(check(&g, &p(10.0, 10, 0)), None);
    assert!(check(&g, &p(10.0, H, 0)).is_some());
}

#[test]
fn durations_parse() {
    let d = |s: &str| parse_duration(s).map(|d| d.as_secs());
    assert_eq!(d("45s"), Ok(45));
    assert_eq!(d("90m"), Ok(5400));
    assert_eq!(d("2h"), Ok(7200));
    assert_eq!(d("1d"), Ok(86_400));
    assert_eq!(d("1h30m"), Ok(5400));
    assert_eq!(d("1.5h"), Ok(5400));
    assert_eq!(d(" 2 h "), Ok(7200));
    assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
    for bad in ["", "90", "2x", "h", "1..5h", "-1h", "1e400d", "99999999d"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    assert_eq!(parse_goal_duration("off"), Ok(None));
    assert_eq!(parse_goal_duration("0"), Ok(None));
    assert_eq!(
        parse_goal_duration("2h"),
        Ok(Some(Duration::from_secs(7200)))
    );
}

#[test]
fn ratios_parse() {
    assert_eq!(parse_ratio("1.0"), Ok(Some(1.0)));
    assert_eq!(parse_ratio("off"), Ok(None));
    for bad in ["-1", "inf", "NaN", "x"] {
        assert!(parse_ratio(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn durations_print() {
    assert_eq!(human(Duration::from_secs(5)), "5 s");
    assert_eq!(human(Duration::from_secs(300)), "5 min");
    assert_eq!(human(Duration::from_secs(5400)), "90 min");
    assert_eq!(human(Duration::from_secs(7200)), "2 h");
    assert_eq!(human(Duration::from_secs(3 * 86_400)), "3 d");
    for s in [1, 59, 60, 90, 3600, 5400, 86_400, 90_061] {
        let d = Duration::from_secs(s);
        assert_eq!(parse_duration(&flag_text(d)), Ok(d), "{s}");
    }
}

#[test]
fn a_verb_sets_resets_and_switches_off_one_goal() {
    let session = Goals {
        ratio: Some(2.0),
        ..Goals::default()
    };
    let mut o = Overrides::default();
    let ratio = |s| Set::parse(s, parse_ratio).unwrap();
    o.set(Some(ratio("1.5")), None, None);
    assert_eq!(o.effective(&session).ratio, Some(1.5));
    o.set(Some(ratio("off")), None, None);
    assert_eq!(o.effective(&session).ratio, None);
    o.set(Some(ratio("default")), None, None);
    assert_eq!(o.effective(&session).ratio, Some(2.0));
    let t = Set::parse("2h", parse_goal_duration).unwrap();
    o.set(None, Some(t), None);
    assert_eq!(
        o.effective(&session).seed_time,
        Some(Duration::from_secs(7200))
    );
    assert!(Set::parse("x", parse_ratio).is_err());
}
