//! A torrent's facts, one row each, for every face at once: its key in `ttui list --json`
//! and `ttui show --json`, its words in `ttui show` and on the TUI's selected line, its
//! field in the Transmission RPC's `torrent-get` and its key in qBittorrent's
//! `torrents/info` and `sync/maindata`, and its line in `ttui man`. A face walks [`FACTS`]
//! and never names one of them, so a new fact is a field on the line, the place that sets
//! it, and one row here: every face then carries it, with the same value.
//!
//! The value is JSON (`serde_json::Value`), which four of the six faces speak; the two that
//! speak to people read it through [`Fact::words`], by its [`Kind`].

use serde_json::Value;

use super::TorrentLine;

/// What a fact's value is, which says how people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unix seconds; 0 is "never".
    When,
    /// Yes or no; said on a line only when yes.
    Flag,
    /// Unix seconds that read `now` while the thing is there (0: never); said on a line
    /// only when it is not there now.
    Clock,
}

/// A face's name for a fact, and how it reads it when that differs from ttui's value.
#[derive(Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    /// Its own value; None: ttui's ([`Fact::read`]).
    pub read: Option<fn(&TorrentLine, u64) -> Value>,
}

/// One fact of a torrent, for every face.
#[derive(Clone, Copy)]
pub struct Fact {
    /// ttui's key (`ttui list --json`, `ttui show --json`), snake_case.
    pub key: &'static str,
    /// Its words for people, before its value: "last active 2026-11-30 04:10".
    pub label: &'static str,
    /// What it means, for `ttui man`'s table.
    pub doc: &'static str,
    pub kind: Kind,
    /// Its value from the torrent's line, as of `now` (Unix seconds).
    pub read: fn(&TorrentLine, u64) -> Value,
    /// Transmission's `torrent-get` field (legacy camelCase; the JSON-RPC form's snake_case
    /// name is made from it).
    pub rpc: Option<Field>,
    /// qBittorrent's `torrents/info` key.
    pub qbt: Option<Field>,
    /// Its keys in qBittorrent's `torrents/properties` (some facts have two there: the
    /// 4.x name and the 5.x one), with the value `torrents/info` gives.
    pub qbt_properties: &'static [&'static str],
}

/// Every fact the table carries, in the order faces list them.
pub static FACTS: &[Fact] = &[
    Fact {
        key: "last_activity",
        label: "last active",
        doc: "Unix seconds when payload last moved either way, kept across restarts (0: \
          never; qBittorrent's is the add time then)",
        kind: Kind::When,
        read: |t, _| Value::from(t.last_activity),
        rpc: Some(Field {
            key: "activityDate",
            read: None,
        }),
        // qBittorrent never answers 0: a torrent never active was last active when added.
        qbt: Some(Field {
            key: "last_activity",
            read: Some(|t, _| Value::from(t.last_activity.max(t.added))),
        }),
        qbt_properties: &[],
    },
    Fact {
        key: "private",
        label: "private",
        doc: "the torrent is private (BEP 27): peers only from its trackers, no DHT, PEX or \
          local discovery",
        kind: Kind::Flag,
        read: |t, _| Value::from(t.private),
        rpc: Some(Field {
            key: "isPrivate",
            read: None,
        }),
        qbt: Some(Field {
            key: "private",
            read: None,
        }),
        qbt_properties: &["is_private", "isPrivate"],
    },
    Fact {
        key: "seen_complete",
        label: "full copy seen",
        doc: "Unix seconds when a full copy was last among its connected peers and itself \
              (now while there is one; 0: not this run, where qBittorrent says -1)",
        kind: Kind::Clock,
        read: |t, now| Value::from(t.seen_complete.at(now).unwrap_or(0)),
        rpc: None,
        qbt: Some(Field {
            key: "seen_complete",
            read: Some(|t, now| t.seen_complete.at(now).map_or(Value::from(-1), Value::from)),
        }),
        qbt_properties: &["last_seen"],
    },
];

impl Fact {
    /// Its value for `t` in the Transmission RPC, when it has a field there.
    pub fn rpc_value(&self, t: &TorrentLine, now: u64) -> Option<Value> {
        self.rpc.map(|f| f.read.unwrap_or(self.read)(t, now))
    }

    /// Its value for `t` in qBittorrent's API, when it has a key there.
    pub fn qbt_value(&self, t: &TorrentLine, now: u64) -> Option<Value> {
        self.qbt.map(|f| f.read.unwrap_or(self.read)(t, now))
    }

    /// Its value for people: a date for a time, "never" for none; "-" for a value that is
    /// not this kind (a row from an older session).
    pub fn words(&self, value: &Value) -> String {
        match self.kind {
            Kind::When | Kind::Clock => match value.as_u64() {
                Some(0) => "never".into(),
                Some(at) => crate::fmt::date(at, true),
                None => "-".into(),
            },
            Kind::Flag => match value.as_bool() {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
        }
    }

    /// "last active 2026-11-30 04:10" for `t`, or None when it has nothing to say yet (a
    /// time that never was): what the TUI appends to a torrent's selected line.
    pub fn phrase(&self, t: &TorrentLine, now: u64) -> Option<String> {
        let value = (self.read)(t, now);
        match self.kind {
            Kind::When => (value.as_u64() != Some(0))
                .then(|| format!("{} {}", self.label, self.words(&value))),
            Kind::Flag => (value.as_bool() == Some(true)).then(|| self.label.to_string()),
            Kind::Clock => (!matches!(value.as_u64(), Some(0)) && value.as_u64() != Some(now))
                .then(|| format!("{} {}", self.label, self.words(&value))),
        }
    }
}

/// Every fact's ttui value for `t`: the keys `ttui list --json` adds to a row.
pub fn values(t: &TorrentLine, now: u64) -> serde_json::Map<String, Value> {
    FACTS
        .iter()
        .map(|f| (f.key.to_string(), (f.read)(t, now)))
        .collect()
}

/// The fact Transmission's RPC names `field`.
pub fn by_rpc(field: &str) -> Option<&'static Fact> {
    FACTS.iter().find(|f| f.rpc.is_some_and(|r| r.key == field))
}

/// Every fact's keys and values for `t` in qBittorrent's `torrents/properties`.
pub fn qbt_properties(t: &TorrentLine, now: u64) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for f in FACTS {
        if let Some(v) = f.qbt_value(t, now) {
            for key in f.qbt_properties {
                out.insert((*key).to_string(), v.clone());
            }
        }
    }
    out
}

/// `ttui man`'s table of the facts: ttui's key, Transmission's, qBittorrent's, meaning.
pub fn man_table() -> String {
    let mut out = String::from(
        "| `ttui list --json` | Transmission RPC | qBittorrent API | meaning |\n|---|---|---|---|\n",
    );
    let name = |f: Option<Field>| f.map_or("-".to_string(), |f| format!("`{}`", f.key));
    for f in FACTS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.key,
            name(f.rpc),
            name(f.qbt),
            f.doc
        ));
    }
    out
}

/// Serializes the qBittorrent keys of a torrent's facts into the object that carries them
/// (flattened into `torrents/info`'s row; no map is built).
#[derive(Debug)]
pub struct QbtFacts<'a> {
    pub line: &'a TorrentLine,
    pub now: u64,
}

impl serde::Serialize for QbtFacts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for f in FACTS {
            if let (Some(field), Some(v)) = (f.qbt, f.qbt_value(self.line, self.now)) {
                map.serialize_entry(field.key, &v)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentId;

    /// Keys are unique in every face's namespace, and a face's name reads back its fact.
    #[test]
    fn each_face_names_each_fact_once() {
        let mut seen = std::collections::HashSet::new();
        for f in FACTS {
            assert!(seen.insert(("ttui", f.key)), "{}", f.key);
            if let Some(r) = f.rpc {
                assert!(seen.insert(("rpc", r.key)), "{}", r.key);
                assert_eq!(by_rpc(r.key).map(|g| g.key), Some(f.key));
            }
            if let Some(q) = f.qbt {
                assert!(seen.insert(("qbt", q.key)), "{}", q.key);
            }
            assert!(man_table().contains(&format!("`{}`", f.key)));
        }
    }

    /// Last activity in every face: ttui's and Transmission's 0 for never, qBittorrent's
    /// add time; people read a date, and nothing on the TUI's line while never.
    #[test]
    fn last_activity_in_every_face() {
        let mut t = TorrentLine::placeholder(TorrentId(1));
        t.added = 1_700_000_000;
        let f = FACTS
            .iter()
            .find(|f| f.key == "last_activity")
            .expect("a row");
        assert_eq!(values(&t, 0)["last_activity"], 0);
        assert_eq!(f.rpc_value(&t, 0), Some(Value::from(0)));
        assert_eq!(f.qbt_value(&t, 0), Some(Value::from(1_700_000_000u64)));
        assert_eq!(f.phrase(&t, 0), None);
        assert_eq!(f.words(&Value::from(0)), "never");
        t.last_activity = 1_764_470_000;
        assert_eq!(f.qbt_value(&t, 0), Some(Value::from(1_764_470_000u64)));
        assert_eq!(
            f.phrase(&t, 0).as_deref(),
            Some("last active 2025-11-30 02:33")
        );
        let json = serde_json::to_value(QbtFacts { line: &t, now: 0 }).unwrap();
        assert_eq!(json["last_activity"], 1_764_470_000u64, "{json}");
    }

    /// When a full copy was last seen: a clock that reads each face's now while one is
    /// there, the time it went away after, and qBittorrent's -1 for never; the TUI's line
    /// says it only once it is gone.
    #[test]
    fn seen_complete_is_a_clock() {
        use crate::engine::api::SeenComplete;
        let mut t = TorrentLine::placeholder(TorrentId(3));
        let f = FACTS
            .iter()
            .find(|f| f.key == "seen_complete")
            .expect("a row");
        assert_eq!(f.qbt_value(&t, 100), Some(Value::from(-1)));
        assert_eq!(values(&t, 100)["seen_complete"], 0);
        t.seen_complete = t.seen_complete.next(true, 1_764_470_000);
        assert_eq!(t.seen_complete, SeenComplete::NOW);
        assert_eq!(
            f.qbt_value(&t, 1_764_470_500),
            Some(Value::from(1_764_470_500u64))
        );
        assert_eq!(
            f.phrase(&t, 1_764_470_500),
            None,
            "there now: nothing to say"
        );
        t.seen_complete = t.seen_complete.next(false, 1_764_470_600);
        assert_eq!(t.seen_complete.next(false, 1_764_480_000), t.seen_complete);
        assert_eq!(values(&t, 1_764_480_000)["seen_complete"], 1_764_470_600u64);
        assert_eq!(
            f.phrase(&t, 1_764_480_000).as_deref(),
            Some("full copy seen 2025-11-30 02:43")
        );
    }

    /// A private torrent says so in every face, and on the TUI's line only when it is.
    #[test]
    fn private_in_every_face() {
        let mut t = TorrentLine::placeholder(TorrentId(2));
        let f = FACTS.iter().find(|f| f.key == "private").expect("a row");
        assert_eq!(f.phrase(&t, 0), None);
        t.private = true;
        assert_eq!(f.phrase(&t, 0).as_deref(), Some("private"));
        assert_eq!(values(&t, 0)["private"], true);
        assert_eq!(by_rpc("isPrivate").map(|f| f.key), Some("private"));
        let props = qbt_properties(&t, 0);
        assert_eq!(
            (&props["is_private"], &props["isPrivate"]),
            (&Value::from(true), &Value::from(true))
        );
        assert_eq!(
            serde_json::to_value(QbtFacts { line: &t, now: 0 }).unwrap()["private"],
            true
        );
        assert_eq!(f.words(&Value::from(false)), "no");
    }
}
