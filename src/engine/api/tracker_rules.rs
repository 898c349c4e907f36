//! What the config's `[trackers."HOST"]` tables set for every torrent that announces to HOST:
//! a rate limit the torrents share (one bucket per direction, under the session's), and
//! seeding goals over the session's. Private trackers judge a ratio per tracker, so that is
//! where people want to set them (qBittorrent's long-standing "limits per tracker" request).
//!
//! Unlike a label's goals, which are copied into a torrent when it is added, these apply while
//! the torrent runs: editing the table and restarting reaches every torrent of that tracker,
//! including the thousands already seeding. A torrent's own goals (`ttui limit ID
//! --seed-ratio`) still come first.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Goals, RatePair, Set};

/// One `[trackers."HOST"]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackerRule {
    /// Shared by all of the tracker's torrents; 0 is none.
    pub limits: RatePair,
    pub seed_ratio: Option<Set<f64>>,
    pub seed_time: Option<Set<Duration>>,
    pub seed_idle: Option<Set<Duration>>,
}

/// The rules by host: lowercased, without port (`tracker_key`).
pub type TrackerRules = BTreeMap<String, TrackerRule>;

/// A tracker's key in the rules and in the accounting: its announce host, lowercased, with no
/// port, path, user or password (so a passkey never becomes a key).
pub fn tracker_key(url: &str) -> String {
    super::tracker_hostname(url).to_ascii_lowercase()
}

/// The rules of the hosts a torrent announces to (`urls`), each host once, in key order.
pub fn rules_for<'a, 'u>(
    rules: &'a TrackerRules,
    urls: impl IntoIterator<Item = &'u str>,
) -> Vec<(&'a str, &'a TrackerRule)> {
    if rules.is_empty() {
        return Vec::new();
    }
    // Asked for every line the session publishes: a host already in lower case (nearly all)
    // is looked up without a copy.
    let find = |u: &str| {
        let h = super::tracker_hostname(u);
        if h.bytes().any(|b| b.is_ascii_uppercase()) {
            rules.get_key_value(&h.to_ascii_lowercase())
        } else {
            rules.get_key_value(h)
        }
    };
    let mut out: Vec<(&str, &TrackerRule)> = urls
        .into_iter()
        .filter_map(find)
        .map(|(k, r)| (k.as_str(), r))
        .collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The goals a torrent's trackers set (None: none of them sets that one). Where several set
/// one goal, the one that keeps it seeding longest wins (`off` over any value, else the
/// largest): pausing early would cost the ratio on the tracker that asked for more.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackerGoals {
    pub ratio: Option<Set<f64>>,
    pub seed_time: Option<Set<Duration>>,
    pub idle: Option<Set<Duration>>,
}

impl TrackerGoals {
    pub fn of(rules: &[(&str, &TrackerRule)]) -> TrackerGoals {
        fn most<T: Copy + PartialOrd>(sets: impl Iterator<Item = Set<T>>) -> Option<Set<T>> {
            sets.filter(|s| !matches!(s, Set::Default))
                .reduce(|a, b| match (a, b) {
                    (Set::To(x), Set::To(y)) => Set::To(if y > x { y } else { x }),
                    _ => Set::Off,
                })
        }
        TrackerGoals {
            ratio: most(rules.iter().filter_map(|(_, r)| r.seed_ratio)),
            seed_time: most(rules.iter().filter_map(|(_, r)| r.seed_time)),
            idle: most(rules.iter().filter_map(|(_, r)| r.seed_idle)),
        }
    }

    /// What a torrent whose own goal is `own` shows as its own: a tracker's goal is the
    /// default of its torrents, so every face (Transmission's `seedRatioMode` 1, qBittorrent's
    /// `ratio_limit`) gives the goal that applies, and Sonarr reads the right one.
    pub fn shown<T>(own: Set<T>, tracker: Option<Set<T>>) -> Set<T> {
        match own {
            Set::Default => tracker.unwrap_or(Set::Default),
            own => own,
        }
    }
}

/// The goals under a torrent's own: its trackers' over the session's.
pub fn goals_over(rules: &[(&str, &TrackerRule)], session: &Goals) -> Goals {
    fn over<T>(tracker: Option<Set<T>>, session: Option<T>) -> Option<T> {
        match tracker {
            Some(Set::To(v)) => Some(v),
            Some(Set::Off) => None,
            Some(Set::Default) | None => session,
        }
    }
    let t = TrackerGoals::of(rules);
    Goals {
        ratio: over(t.ratio, session.ratio),
        seed_time: over(t.seed_time, session.seed_time),
        idle: over(t.idle, session.idle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ratio: Option<Set<f64>>, up: u64) -> TrackerRule {
        TrackerRule {
            limits: RatePair { down: 0, up },
            seed_ratio: ratio,
            ..TrackerRule::default()
        }
    }

    #[test]
    fn a_torrent_takes_the_rules_of_its_hosts_once_whatever_the_port_case_or_passkey() {
        let rules: TrackerRules = [
            ("a.example".to_string(), rule(Some(Set::To(1.0)), 0)),
            ("b.example".to_string(), rule(None, 5)),
        ]
        .into();
        let urls = [
            "https://A.example:8443/abcdef0123/announce",
            "udp://a.example:6969",
            "http://user:pw@b.example/announce?passkey=x",
            "http://c.example/announce",
        ];
        let got: Vec<&str> = rules_for(&rules, urls)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        assert_eq!(got, ["a.example", "b.example"]);
        assert!(rules_for(&rules, ["http://c.example/a"]).is_empty());
        assert!(rules_for(&TrackerRules::new(), urls).is_empty());
    }

    #[test]
    fn goals_come_from_the_tracker_over_the_session_and_the_most_demanding_wins() {
        let session = Goals {
            ratio: Some(0.5),
            seed_time: Some(Duration::from_secs(60)),
            idle: None,
        };
        let a = rule(Some(Set::To(1.0)), 0);
        let b = rule(Some(Set::To(2.5)), 0);
        let off = rule(Some(Set::Off), 0);
        let silent = rule(None, 0);
        assert_eq!(goals_over(&[], &session), session);
        assert_eq!(goals_over(&[("s", &silent)], &session), session);
        assert_eq!(goals_over(&[("a", &a)], &session).ratio, Some(1.0));
        assert_eq!(
            goals_over(&[("a", &a), ("b", &b)], &session).ratio,
            Some(2.5)
        );
        assert_eq!(
            goals_over(&[("b", &b), ("a", &a)], &session).ratio,
            Some(2.5)
        );
        assert_eq!(goals_over(&[("a", &a), ("o", &off)], &session).ratio, None);
        assert_eq!(goals_over(&[("o", &off), ("a", &a)], &session).ratio, None);
        // Other goals stay the session's.
        let g = goals_over(&[("a", &a)], &session);
        assert_eq!(g.seed_time, session.seed_time);
        assert_eq!(g.idle, None);
    }

    #[test]
    fn a_torrent_shows_its_trackers_goal_unless_it_has_its_own() {
        let t = Some(Set::To(2.5));
        assert_eq!(TrackerGoals::shown(Set::Default, t), Set::To(2.5));
        assert_eq!(TrackerGoals::shown(Set::To(4.0), t), Set::To(4.0));
        assert_eq!(TrackerGoals::shown(Set::Off, t), Set::Off);
        assert_eq!(TrackerGoals::shown::<f64>(Set::Default, None), Set::Default);
        assert_eq!(
            TrackerGoals::shown(Set::Default, Some(Set::<f64>::Off)),
            Set::Off
        );
    }
}
