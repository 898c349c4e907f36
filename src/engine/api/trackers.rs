//! A torrent's tracker list as a face edits it (qBittorrent's `addTrackers`,
//! `editTracker`, `removeTrackers`): the edit as data and its pure application to the
//! tiers (BEP 12). The session applies it to the torrent's metainfo, keeps the list in the
//! resume data (the .torrent stays as it came) and tells a running task to announce to
//! the new list.

/// One change to a torrent's trackers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerEdit {
    /// Each URL in a tier of its own after the others (those already there skipped).
    Add(Vec<String>),
    /// `old` becomes `new`, in its place.
    Replace { old: String, new: String },
    /// These go, from whichever tier holds them (tiers left empty go too).
    Remove(Vec<String>),
}

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerEditError {
    #[error("the torrent has the tracker {0} already")]
    Exists(String),
    #[error("the torrent has no tracker {0}")]
    Missing(String),
}

/// What one tracker last answered, without its timing (which moves at every announce): a
/// torrent's line keeps one a tracker (`TorrentLine::trackers`), so every face reads the same
/// status and counts, and a sleeping torrent's tracker rows still say what its trackers said
/// before it slept (a snapshot is not kept for it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackerMark {
    pub url: std::sync::Arc<str>,
    pub tier: u32,
    pub status: crate::tracker::TrackerStatus,
    /// The swarm's seeds and leechers as the tracker counts them (its scrape or announce).
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    /// The `uploaded=`/`downloaded=` of the last announce it answered in this run: a
    /// sleeping torrent's still says what its tracker heard before it slept.
    #[serde(default)]
    pub last_counts: Option<(u64, u64)>,
}

impl TrackerMark {
    /// `rows`' marks, sharing the URLs of `before` where they are the same (a status update
    /// comes every announce; the URLs seldom change).
    pub fn of(
        rows: &[crate::tracker::TrackerRow],
        before: Option<&[TrackerMark]>,
    ) -> Vec<TrackerMark> {
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let url = match before.and_then(|b| b.get(i)) {
                    Some(m) if *m.url == *r.url => std::sync::Arc::clone(&m.url),
                    _ => std::sync::Arc::from(r.url.as_str()),
                };
                TrackerMark {
                    url,
                    tier: u32::try_from(r.tier).unwrap_or(u32::MAX),
                    status: r.status.clone(),
                    seeders: r.seeders,
                    leechers: r.leechers,
                    last_counts: r.last_counts,
                }
            })
            .collect()
    }

    /// The marks of a torrent's tiers as listed, each URL keeping what `before` said of it
    /// and a new one not contacted: what its line says before its first announce, and after
    /// an edit while no task runs. None without trackers.
    pub fn listed(
        tiers: &[Vec<String>],
        before: Option<&[TrackerMark]>,
    ) -> Option<std::sync::Arc<[TrackerMark]>> {
        let marks: Vec<TrackerMark> = (tiers.iter().enumerate())
            .flat_map(|(tier, urls)| urls.iter().map(move |u| (tier, u)))
            .map(|(tier, url)| {
                let known = before.and_then(|b| b.iter().find(|m| *m.url == **url));
                known.cloned().map_or_else(
                    || TrackerMark {
                        url: std::sync::Arc::from(url.as_str()),
                        tier: u32::try_from(tier).unwrap_or(u32::MAX),
                        status: crate::tracker::TrackerStatus::NotContacted,
                        seeders: None,
                        leechers: None,
                        last_counts: None,
                    },
                    |m| TrackerMark {
                        tier: u32::try_from(tier).unwrap_or(u32::MAX),
                        ..m
                    },
                )
            })
            .collect();
        (!marks.is_empty()).then(|| marks.into())
    }

    pub fn working(&self) -> bool {
        matches!(self.status, crate::tracker::TrackerStatus::Ok { .. })
    }

    /// A snapshot's row for it, with no timing (a sleeping torrent's).
    pub fn row(&self) -> crate::tracker::TrackerRow {
        crate::tracker::TrackerRow {
            url: self.url.to_string(),
            tier: self.tier as usize,
            status: self.status.clone(),
            last_announce: None,
            next_announce: None,
            seeders: self.seeders,
            leechers: self.leechers,
            warning: None,
            last_counts: self.last_counts,
        }
    }
}

/// An announce URL's host and port ("tracker.example:6969"), without its scheme, path or
/// any user and password: the one reading of a tracker's address for every face's label.
pub fn tracker_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.rsplit_once('@').map_or(host, |(_, h)| h)
}

/// The same host without its port ("tracker.example"; an IPv6 address keeps its brackets).
pub fn tracker_hostname(url: &str) -> &str {
    let host = tracker_host(url);
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Whether `url` can be announced to: http, https, udp, ws or wss, with a host. Checked by a face
/// before it asks (qBittorrent answers 400 for one that is not).
pub fn tracker_url_ok(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once("://") else {
        return false;
    };
    let host = tracker_host(url);
    ["http", "https", "udp", "ws", "wss"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
        && !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(char::is_whitespace)
}

impl TrackerEdit {
    /// Applies the edit to `tiers`; true when anything changed.
    pub fn apply(&self, tiers: &mut Vec<Vec<String>>) -> Result<bool, TrackerEditError> {
        let has = |tiers: &Vec<Vec<String>>, url: &str| tiers.iter().flatten().any(|u| u == url);
        match self {
            TrackerEdit::Add(urls) => {
                let mut changed = false;
                for url in urls {
                    if !has(tiers, url) {
                        tiers.push(vec![url.clone()]);
                        changed = true;
                    }
                }
                Ok(changed)
            }
            TrackerEdit::Replace { old, new } => {
                if old == new {
                    return Ok(false);
                }
                if has(tiers, new) {
                    return Err(TrackerEditError::Exists(new.clone()));
                }
                let Some(slot) = tiers.iter_mut().flatten().find(|u| *u == old) else {
                    return Err(TrackerEditError::Missing(old.clone()));
                };
                slot.clone_from(new);
                Ok(true)
            }
            TrackerEdit::Remove(urls) => {
                let before: usize = tiers.iter().map(Vec::len).sum();
                for tier in tiers.iter_mut() {
                    tier.retain(|u| !urls.contains(u));
                }
                tiers.retain(|t| !t.is_empty());
                Ok(tiers.iter().map(Vec::len).sum::<usize>() != before)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_trackers_keep_what_they_said_and_new_ones_are_not_contacted() {
        let tiers = |t: &[&[&str]]| -> Vec<Vec<String>> {
            t.iter()
                .map(|tier| tier.iter().map(|u| u.to_string()).collect())
                .collect()
        };
        assert!(TrackerMark::listed(&[], None).is_none());
        let first = TrackerMark::listed(&tiers(&[&["http://a/announce"]]), None).unwrap();
        assert_eq!(first[0].status, crate::tracker::TrackerStatus::NotContacted);
        let mut said = first.to_vec();
        said[0].status = crate::tracker::TrackerStatus::Ok { peers: 3 };
        said[0].seeders = Some(2);
        let now = TrackerMark::listed(
            &tiers(&[&["http://b/announce"], &["http://a/announce"]]),
            Some(&said),
        )
        .unwrap();
        assert_eq!((&*now[0].url, now[0].tier), ("http://b/announce", 0));
        assert_eq!(now[0].status, crate::tracker::TrackerStatus::NotContacted);
        assert_eq!(
            (&*now[1].url, now[1].tier, now[1].seeders),
            ("http://a/announce", 1, Some(2))
        );
        assert!(now[1].working());
    }

    #[test]
    fn a_trackers_host_drops_scheme_path_and_credentials() {
        let url = "https://user:secret@tracker.example:8443/announce?passkey=x";
        assert_eq!(tracker_host(url), "tracker.example:8443");
        assert_eq!(tracker_hostname(url), "tracker.example");
        assert_eq!(
            tracker_hostname("udp://[2001:db8::1]:6969/announce"),
            "[2001:db8::1]"
        );
        assert_eq!(
            tracker_hostname("http://203.0.113.5/announce"),
            "203.0.113.5"
        );
    }

    fn tiers(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter()
            .map(|tier| tier.iter().map(|u| u.to_string()).collect())
            .collect()
    }

    #[test]
    fn edits_apply_to_the_tiers() {
        let mut t = tiers(&[&["http://a/announce", "http://b/announce"]]);
        let add = TrackerEdit::Add(vec!["udp://c:1".into(), "http://a/announce".into()]);
        assert_eq!(add.apply(&mut t), Ok(true));
        assert_eq!(
            t,
            tiers(&[&["http://a/announce", "http://b/announce"], &["udp://c:1"]])
        );
        assert_eq!(add.apply(&mut t), Ok(false));
        let replace = |old: &str, new: &str| TrackerEdit::Replace {
            old: old.into(),
            new: new.into(),
        };
        assert_eq!(
            replace("http://b/announce", "udp://c:1").apply(&mut t),
            Err(TrackerEditError::Exists("udp://c:1".into()))
        );
        assert_eq!(
            replace("http://x/", "http://y/").apply(&mut t),
            Err(TrackerEditError::Missing("http://x/".into()))
        );
        assert_eq!(
            replace("http://b/announce", "http://d/").apply(&mut t),
            Ok(true)
        );
        assert_eq!(t[0][1], "http://d/");
        let remove = TrackerEdit::Remove(vec!["udp://c:1".into(), "http://nope/".into()]);
        assert_eq!(remove.apply(&mut t), Ok(true));
        assert_eq!(t, tiers(&[&["http://a/announce", "http://d/"]]));
        assert_eq!(remove.apply(&mut t), Ok(false));
    }

    #[test]
    fn tracker_urls_need_a_known_scheme_and_a_host() {
        assert!(tracker_url_ok("http://192.0.2.1:6969/announce"));
        assert!(tracker_url_ok("udp://[2001:db8::1]:6969"));
        assert!(tracker_url_ok("https://user@tracker.example/a?passkey=1"));
        assert!(tracker_url_ok("wss://tracker.example/announce"));
        assert!(tracker_url_ok("ws://127.0.0.1:8000"));
        assert!(!tracker_url_ok("ftp://tracker.example/"));
        assert!(!tracker_url_ok("http://"));
        assert!(!tracker_url_ok("http:///announce"));
        assert!(!tracker_url_ok("tracker.example:80"));
        assert!(!tracker_url_ok("http://a b/"));
        assert!(!tracker_url_ok(""));
    }
}
