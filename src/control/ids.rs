//! Which torrents a verb's `ID...` names: the id `ttui list` shows (`3` or `#3`), an
//! info-hash prefix of at least [`MIN_PREFIX`] hex digits, or `all`. The words are read
//! here; the torrents are found by the engine's one resolver (`engine::api::Lookup`), and a
//! word that finds none, or several, is refused with a line that says so.

use super::proto::{ControlError, ErrorKind};
use crate::engine::api::{Found, Lookup, Name, SessionSnapshot, TorrentId, MIN_PREFIX};
use crate::protocol::text::shorten;

/// The torrents `wanted` names in `snap`, each once, in the order named. A decimal word is an
/// id when a torrent has it, else a prefix; a prefix that matches several torrents is
/// refused, naming them.
pub fn resolve_ids(
    wanted: &[String],
    snap: &SessionSnapshot,
) -> Result<Vec<TorrentId>, ControlError> {
    if wanted.is_empty() {
        return Err(ControlError::new(
            ErrorKind::BadArgument,
            "no torrent named: give an id from `ttui list`, an info-hash prefix, or `all`",
        ));
    }
    let lookup = Lookup::new(snap);
    let mut out = Vec::new();
    // Each id once, in the order named: a set, so `all` at 100,000 torrents costs a lookup
    // each, not a scan of what came before.
    let mut seen = std::collections::HashSet::new();
    for word in wanted {
        for id in resolve_one(word.trim(), &lookup)? {
            if seen.insert(id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

fn resolve_one(word: &str, lookup: &Lookup) -> Result<Vec<TorrentId>, ControlError> {
    if word.eq_ignore_ascii_case("all") {
        return found(word, lookup.find(&Name::All));
    }
    let bare = word.strip_prefix('#').unwrap_or(word);
    let is_decimal = !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit());
    if is_decimal {
        if let Ok(n) = bare.parse::<u32>() {
            if let Found::Torrents(ids) = lookup.find(&Name::Id(TorrentId(n))) {
                return Ok(ids);
            }
        }
    }
    // `#` marks an id: `#123456` is never a prefix.
    match Name::hash_prefix(bare).filter(|_| !word.starts_with('#')) {
        Some(prefix) => found(word, lookup.find(&prefix)),
        None if is_decimal => Err(unknown(word)),
        None => Err(ControlError::new(
            ErrorKind::BadArgument,
            format!(
                "`{}` is not a torrent id: give an id from `ttui list`, an info-hash prefix of at \
                 least {MIN_PREFIX} hex digits, or `all`",
                shorten(word)
            ),
        )),
    }
}

fn found(word: &str, found: Found) -> Result<Vec<TorrentId>, ControlError> {
    match found {
        Found::Torrents(ids) => Ok(ids),
        Found::Nothing => Err(unknown(word)),
        Found::Several(many) => Err(ControlError::new(
            ErrorKind::BadArgument,
            format!(
                "{} matches {} torrents ({}): give more of the info hash",
                shorten(word),
                many.len(),
                many.iter()
                    .map(|(id, h)| format!("#{} {}", id.0, &crate::protocol::hex::encode(h)[..12]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn unknown(word: &str) -> ControlError {
    ControlError::new(
        ErrorKind::UnknownId,
        format!(
            "no torrent {} in the session (see `ttui list`)",
            shorten(word)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> SessionSnapshot {
        let mut a = [0u8; 20];
        a[..4].copy_from_slice(&[0x3f, 0x2a, 0x91, 0x00]);
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&[0x3f, 0x2a, 0x91, 0xff]);
        let mut c = [0u8; 20];
        c[..4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        let line = |id: u32, info_hash: [u8; 20]| crate::engine::api::TorrentLine {
            info_hash,
            ..crate::engine::api::TorrentLine::placeholder(TorrentId(id))
        };
        SessionSnapshot {
            torrents: [line(1, a), line(2, b), line(123456, c)]
                .map(std::sync::Arc::new)
                .into(),
            ..SessionSnapshot::default()
        }
    }

    fn ids(words: &[&str]) -> Result<Vec<u32>, ControlError> {
        let w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        resolve_ids(&w, &snap()).map(|ids| ids.into_iter().map(|id| id.0).collect())
    }

    #[test]
    fn ids_prefixes_and_all() {
        assert_eq!(ids(&["1"]).unwrap(), vec![1]);
        assert_eq!(ids(&["#2", "1", "2"]).unwrap(), vec![2, 1]);
        assert_eq!(ids(&["3F2A9100"]).unwrap(), vec![1]);
        assert_eq!(ids(&["3f2a91ff"]).unwrap(), vec![2]);
        assert_eq!(ids(&["all"]).unwrap(), vec![1, 2, 123456]);
        assert_eq!(ids(&["ALL", "2"]).unwrap(), vec![1, 2, 123456]);
        // Six digits: an id when one has it, else a prefix.
        assert_eq!(ids(&["123456"]).unwrap(), vec![123456]);
        assert_eq!(ids(&["123456", "12345678"]).unwrap(), vec![123456]);
        assert_eq!(
            ids(&[&crate::protocol::hex::encode(&snap().torrents[2].info_hash)]).unwrap(),
            vec![123456]
        );
    }

    #[test]
    fn each_failure_has_its_kind() {
        let e = ids(&["3f2a91"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadArgument);
        assert!(e.message.contains("#1 3f2a91000000") && e.message.contains("#2 3f2a91ff0000"));
        assert_eq!(ids(&["7"]).unwrap_err().kind, ErrorKind::UnknownId);
        assert_eq!(ids(&["#7"]).unwrap_err().kind, ErrorKind::UnknownId);
        assert_eq!(ids(&["abcdef"]).unwrap_err().kind, ErrorKind::UnknownId);
        assert_eq!(ids(&["3f2a9"]).unwrap_err().kind, ErrorKind::BadArgument);
        assert_eq!(ids(&["xyz"]).unwrap_err().kind, ErrorKind::BadArgument);
        assert_eq!(ids(&[""]).unwrap_err().kind, ErrorKind::BadArgument);
        assert_eq!(ids(&[]).unwrap_err().kind, ErrorKind::BadArgument);
        assert_eq!(
            ids(&["99999999999999"]).unwrap_err().kind,
            ErrorKind::UnknownId
        );
        let long = "a".repeat(41);
        assert_eq!(ids(&[&long]).unwrap_err().kind, ErrorKind::BadArgument);
        // A hostile word stays a short message.
        let huge = "z".repeat(1 << 20);
        assert!(ids(&[&huge]).unwrap_err().message.len() < 500);
    }
}
