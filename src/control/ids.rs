//! Which torrents a verb's `ID...` names: the id `ttui list` shows (`3` or `#3`), an
//! info-hash prefix of at least [`MIN_PREFIX`] hex digits, or `all`.

use super::proto::{ControlError, ErrorKind};
use crate::protocol::text::shorten;

/// Shorter prefixes would often name several torrents, and could be mistaken for ids.
pub const MIN_PREFIX: usize = 6;

/// The ids `wanted` names among `rows` (id, info hash), each once, in the order named.
/// A decimal word is an id when a torrent has it; a word of 6 to 40 hex digits is a prefix
/// (one that matches several torrents is refused, naming them).
pub fn resolve_ids(wanted: &[String], rows: &[(u32, [u8; 20])]) -> Result<Vec<u32>, ControlError> {
    if wanted.is_empty() {
        return Err(ControlError::new(
            ErrorKind::BadArgument,
            "no torrent named: give an id from `ttui list`, an info-hash prefix, or `all`",
        ));
    }
    let mut out = Vec::new();
    for word in wanted {
        let found = resolve_one(word.trim(), rows)?;
        for id in found {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

fn resolve_one(word: &str, rows: &[(u32, [u8; 20])]) -> Result<Vec<u32>, ControlError> {
    if word.eq_ignore_ascii_case("all") {
        return Ok(rows.iter().map(|r| r.0).collect());
    }
    let bare = word.strip_prefix('#').unwrap_or(word);
    let is_decimal = !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit());
    if is_decimal {
        if let Some(row) = bare
            .parse::<u32>()
            .ok()
            .and_then(|n| rows.iter().find(|r| r.0 == n))
        {
            return Ok(vec![row.0]);
        }
    }
    let is_hex = bare.len() >= MIN_PREFIX
        && bare.len() <= 40
        && bare.bytes().all(|b| b.is_ascii_hexdigit())
        && !word.starts_with('#');
    if is_hex {
        let prefix = bare.to_ascii_lowercase();
        let matches: Vec<&(u32, [u8; 20])> = rows
            .iter()
            .filter(|r| crate::protocol::hex::encode(&r.1).starts_with(&prefix))
            .collect();
        return match matches.as_slice() {
            [] => Err(unknown(word)),
            [one] => Ok(vec![one.0]),
            many => Err(ControlError::new(
                ErrorKind::BadArgument,
                format!(
                    "{} matches {} torrents ({}): give more of the info hash",
                    shorten(word),
                    many.len(),
                    many.iter()
                        .map(|r| format!("#{} {}", r.0, &crate::protocol::hex::encode(&r.1)[..12]))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    }
    if is_decimal {
        return Err(unknown(word));
    }
    Err(ControlError::new(
        ErrorKind::BadArgument,
        format!(
            "`{}` is not a torrent id: give an id from `ttui list`, an info-hash prefix of at \
             least {MIN_PREFIX} hex digits, or `all`",
            shorten(word)
        ),
    ))
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

    fn rows() -> Vec<(u32, [u8; 20])> {
        let mut a = [0u8; 20];
        a[..4].copy_from_slice(&[0x3f, 0x2a, 0x91, 0x00]);
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&[0x3f, 0x2a, 0x91, 0xff]);
        let mut c = [0u8; 20];
        c[..4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        vec![(1, a), (2, b), (123456, c)]
    }

    fn ids(words: &[&str]) -> Result<Vec<u32>, ControlError> {
        let w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        resolve_ids(&w, &rows())
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
            ids(&[&crate::protocol::hex::encode(&rows()[2].1)]).unwrap(),
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
