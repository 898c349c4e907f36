//! `ids` as rpc-spec 3.1 gives it: absent (every torrent), a number, a hash string, a list
//! of numbers and hash strings, or `recently-active`. Numbers and hashes are found by the
//! engine's one resolver (`engine::api::Lookup`) against the line-up of one snapshot; unknown
//! ids are left out, as Transmission does. A list is bounded only by the body limit;
//! resolving it costs one hash lookup an entry.

use std::collections::HashSet;

use serde_json::Value;

use super::error::MethodError;
use crate::engine::api::{Found, Lookup, Name, SessionSnapshot, TorrentId};

/// What `ids` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ids {
    All,
    RecentlyActive,
    /// Each number (an id) or hash string (40 hex digits).
    Some(Vec<Name>),
}

/// Reads `ids` (None: absent).
pub(crate) fn parse(v: Option<&Value>) -> Result<Ids, MethodError> {
    let bad = || {
        MethodError::BadArgument(
            "ids: a number, a hash, a list of them, or \"recently-active\"".into(),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(Ids::All),
        Some(Value::String(s)) if s == "recently-active" => Ok(Ids::RecentlyActive),
        Some(Value::Array(list)) => list
            .iter()
            .map(|e| one(e).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Ids::Some),
        Some(other) => one(other).map(|i| Ids::Some(vec![i])).ok_or_else(bad),
    }
}

fn one(v: &Value) -> Option<Name> {
    let id = |n: u32| Name::Id(TorrentId(n));
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).map(id),
        Value::String(s) if s.len() == 40 => Name::hash_prefix(s),
        // Transmission reads a numeric string as an id too.
        Value::String(s) => s.parse::<u32>().ok().map(id),
        _ => None,
    }
}

/// The torrents named, in the line-up's order, each once. `recent` says which ids count as
/// recently active.
pub(crate) fn resolve(
    ids: &Ids,
    snap: &SessionSnapshot,
    recent: impl Fn(TorrentId) -> bool,
) -> Vec<TorrentId> {
    match ids {
        Ids::All => snap.torrents.iter().map(|t| t.id).collect(),
        Ids::RecentlyActive => snap
            .torrents
            .iter()
            .map(|t| t.id)
            .filter(|id| recent(*id))
            .collect(),
        Ids::Some(list) => {
            let lookup = Lookup::new(snap);
            let mut named = HashSet::new();
            for name in list {
                if let Found::Torrents(ids) = lookup.find(name) {
                    named.extend(ids);
                }
            }
            snap.torrents
                .iter()
                .map(|t| t.id)
                .filter(|id| named.contains(id))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentLine;
    use serde_json::json;

    fn snap() -> SessionSnapshot {
        let line = |id: u32, b: u8| TorrentLine {
            info_hash: [b; 20],
            ..TorrentLine::placeholder(TorrentId(id))
        };
        SessionSnapshot {
            torrents: [line(1, 0xab), line(2, 0xcd), line(5, 0xef)]
                .map(std::sync::Arc::new)
                .into(),
            ..SessionSnapshot::default()
        }
    }

    #[test]
    fn every_form_of_ids_resolves() {
        let s = snap();
        let ids = |v: Value| resolve(&parse(Some(&v)).unwrap(), &s, |_| false);
        assert_eq!(ids(json!(2)), vec![TorrentId(2)]);
        assert_eq!(ids(json!([5, 1, 1, 99])), vec![TorrentId(1), TorrentId(5)]);
        assert_eq!(
            ids(json!(["CD".repeat(20), 5])),
            vec![TorrentId(2), TorrentId(5)]
        );
        assert_eq!(ids(json!("ab".repeat(20))), vec![TorrentId(1)]);
        assert_eq!(resolve(&parse(None).unwrap(), &s, |_| false).len(), 3);
        let recent = parse(Some(&json!("recently-active"))).unwrap();
        assert_eq!(resolve(&recent, &s, |id| id.0 == 5), vec![TorrentId(5)]);
        assert!(parse(Some(&json!({"a": 1}))).is_err());
        assert!(parse(Some(&json!([-1]))).is_err());
        assert!(parse(Some(&json!("nope"))).is_err());
    }

    #[test]
    fn a_million_ids_resolve_quickly() {
        let list: Vec<Value> = (0..1_000_000u32).map(Value::from).collect();
        let parsed = parse(Some(&Value::Array(list))).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(resolve(&parsed, &snap(), |_| false).len(), 3);
        assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    }
}
