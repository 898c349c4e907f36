//! Magnet URIs (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>&x.pe=<ip:port>`,
//! and BEP 52's `xt=urn:btmh:1220<64 hex>` (a multihash: SHA-256, 32 bytes) for a v2 torrent;
//! a hybrid's magnet carries both. BEP 53's `so=0,2,4-6` selects the files to download.

use std::net::SocketAddr;

use thiserror::Error;

use super::info_hash::InfoHash;
use super::text::shorten;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    /// The hash the swarm is reached by (handshakes, trackers, the DHT): the `btih`, else
    /// the first 20 bytes of the `btmh` (BEP 52).
    pub info_hash: InfoHash,
    /// Whether `info_hash` is a `btih`, so the info dictionary's SHA-1 must match it.
    pub v1: bool,
    /// The `btmh` SHA-256, which the info dictionary's SHA-256 must match.
    pub info_hash_v2: Option<[u8; 32]>,
    /// `dn`, percent-decoded (`+` read as a space, as libtorrent does).
    pub display_name: Option<String>,
    /// Every `tr`, percent-decoded, in order, without duplicates or empty entries.
    pub trackers: Vec<String>,
    /// Every `x.pe` (`ip:port` or `[ipv6]:port`), without duplicates.
    pub peers: Vec<SocketAddr>,
    /// BEP 53 `so` (select only): the files to download, sorted and without duplicates;
    /// `None` when the link names none. Indices count the info dictionary's file entries in
    /// order, BEP 47 padding files included, as libtorrent's `file_storage` does (its
    /// `make_magnet_uri` writes `so` from those indices, so its links mean the same here).
    pub select_only: Option<Vec<usize>>,
}

/// The largest file index `so` may name, as in libtorrent: a link is read without allocating
/// more than this many indices, whatever ranges it claims.
pub const SELECT_ONLY_MAX_INDEX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MagnetError {
    #[error("not a magnet link: it must start with `magnet:?`")]
    NotMagnet,
    #[error("magnet link has no `xt=urn:btih:` or `xt=urn:btmh:` info hash")]
    MissingInfoHash,
    #[error("magnet `xt`: {0:?} is not a SHA-256 multihash (`1220` and 64 hex characters)")]
    BadMultihash(String),
    #[error("magnet link names two different btmh info hashes")]
    ConflictingV2Hash,
    #[error("magnet `xt`: {0:?} is neither 40 hex nor 32 base32 characters")]
    BadInfoHash(String),
    #[error("magnet link names two different btih info hashes")]
    ConflictingInfoHash,
    #[error("magnet `{0}`: bad percent-encoding")]
    BadEscape(String),
    #[error("magnet `{0}` is not valid UTF-8")]
    NotUtf8(String),
    #[error("magnet `x.pe`: {0:?} is not an ip:port peer address")]
    BadPeer(String),
}

impl Magnet {
    pub fn parse(uri: &str) -> Result<Magnet, MagnetError> {
        let query =
            strip_prefix_ignore_case(uri.trim(), "magnet:?").ok_or(MagnetError::NotMagnet)?;
        let mut info_hash: Option<InfoHash> = None;
        let mut info_hash_v2: Option<[u8; 32]> = None;
        let mut display_name = None;
        let mut trackers: Vec<String> = Vec::new();
        let mut peers: Vec<SocketAddr> = Vec::new();
        let mut select_only: Option<Vec<usize>> = None;

        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            // BEP 9 allows numbered keys such as `tr.1`, `xt.2`.
            let base = match key.split_once('.') {
                Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => key,
            };
            match base {
                "xt" => {
                    let value = decode_utf8(raw, "xt", false)?;
                    if let Some(mh) = strip_prefix_ignore_case(&value, "urn:btmh:") {
                        let parsed = parse_multihash(mh)?;
                        match info_hash_v2 {
                            Some(existing) if existing != parsed => {
                                return Err(MagnetError::ConflictingV2Hash)
                            }
                            _ => info_hash_v2 = Some(parsed),
                        }
                        continue;
                    }
                    let Some(hash) = strip_prefix_ignore_case(&value, "urn:btih:") else {
                        // Other URNs (sha1, ed2k, ...) are not ours to read.
                        continue;
                    };
                    let parsed = parse_hash(hash)?;
                    match info_hash {
                        Some(existing) if existing != parsed => {
                            return Err(MagnetError::ConflictingInfoHash)
                        }
                        _ => info_hash = Some(parsed),
                    }
                }
                "dn" => {
                    let bytes =
                        percent_decode(raw, true).ok_or(MagnetError::BadEscape("dn".into()))?;
                    // A display name is only a hint; a mis-encoded one should not sink the link.
                    display_name = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                "tr" => {
                    let url = decode_utf8(raw, "tr", false)?;
                    let url = url.trim();
                    if !url.is_empty() && !trackers.iter().any(|t| t == url) {
                        trackers.push(url.to_owned());
                    }
                }
                "x.pe" => {
                    let addr = decode_utf8(raw, "x.pe", false)?;
                    let peer: SocketAddr = addr
                        .trim()
                        .parse()
                        .map_err(|_| MagnetError::BadPeer(shorten(&addr).into_owned()))?;
                    if !peers.contains(&peer) {
                        peers.push(peer);
                    }
                }
                "so" => {
                    // A selection is a wish, as libtorrent reads it: a malformed one is
                    // ignored rather than sinking the link.
                    let value = decode_utf8(raw, "so", false).ok();
                    if let Some(files) = value.as_deref().and_then(parse_select_only) {
                        let all = select_only.get_or_insert_with(Vec::new);
                        all.extend(files);
                        all.sort_unstable();
                        all.dedup();
                    }
                }
                _ => {}
            }
        }
        // BEP 52: a v2 torrent is reached by its SHA-256 cut to 20 bytes; a hybrid's btih is
        // as good a name for it, and the one every v1 peer knows.
        let (info_hash, v1) = match (info_hash, info_hash_v2) {
            (Some(h), _) => (h, true),
            (None, Some(v2)) => {
                let mut short = [0; 20];
                short.copy_from_slice(&v2[..20]);
                (short, false)
            }
            (None, None) => return Err(MagnetError::MissingInfoHash),
        };
        Ok(Magnet {
            info_hash,
            v1,
            info_hash_v2,
            display_name,
            trackers,
            peers,
            select_only,
        })
    }
}

/// BEP 53's `so` value: comma-separated indices and inclusive ranges `a-b`. Read as libtorrent
/// reads it: a value holding anything but digits, `-` and `,` is ignored whole (`None`); an
/// entry that is empty, reversed, unbounded or past `SELECT_ONLY_MAX_INDEX` is skipped, the
/// rest kept. The result is sorted, without duplicates, and at most
/// `SELECT_ONLY_MAX_INDEX + 1` long.
pub fn parse_select_only(value: &str) -> Option<Vec<usize>> {
    if !value
        .bytes()
        .all(|c| c.is_ascii_digit() || c == b'-' || c == b',')
    {
        return None;
    }
    let index = |s: &str| -> Option<usize> {
        // Digits only (checked above), so a parse failure is an overflow: past the bound.
        s.parse::<usize>()
            .ok()
            .filter(|i| *i <= SELECT_ONLY_MAX_INDEX)
    };
    let mut wanted = vec![false; SELECT_ONLY_MAX_INDEX + 1];
    for token in value.split(',').filter(|t| !t.is_empty()) {
        let (first, last) = match token.split_once('-') {
            Some((a, b)) => match (index(a), index(b)) {
                (Some(a), Some(b)) if a <= b => (a, b),
                _ => continue,
            },
            None => match index(token) {
                Some(i) => (i, i),
                None => continue,
            },
        };
        // Both ends are within the bound: this touches at most the table's own length.
        if let Some(span) = wanted.get_mut(first..=last) {
            span.iter_mut().for_each(|w| *w = true);
        }
    }
    Some(
        wanted
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.then_some(i))
            .collect(),
    )
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn decode_utf8(raw: &str, key: &str, plus_is_space: bool) -> Result<String, MagnetError> {
    let bytes =
        percent_decode(raw, plus_is_space).ok_or_else(|| MagnetError::BadEscape(key.into()))?;
    String::from_utf8(bytes).map_err(|_| MagnetError::NotUtf8(key.into()))
}

/// `%XX` → byte; `None` on a `%` not followed by two hex digits.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = super::hex::digit(bytes.next()?)?;
                let lo = super::hex::digit(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
    }
    Some(out)
}

/// A `btmh` multihash: code 0x12 (SHA-256), length 0x20, then the 32 bytes, all in hex.
/// Other codes and lengths are refused: BEP 52 names v2 torrents by SHA-256 alone.
fn parse_multihash(s: &str) -> Result<[u8; 32], MagnetError> {
    let bad = || MagnetError::BadMultihash(shorten(s).into_owned());
    let digits = s.as_bytes();
    if digits.len() != 68 || !digits[..4].eq_ignore_ascii_case(b"1220") {
        return Err(bad());
    }
    // The first four are ASCII digits, so byte 4 starts a character.
    super::hex::decode_array::<32>(&s[4..]).ok_or_else(bad)
}

impl Magnet {
    /// Whether `info`, the bytes of an info dictionary a peer sent, is this magnet's: its
    /// SHA-1 matches the `btih` and its SHA-256 the `btmh`, each that the link names.
    pub fn matches_info(&self, info: &[u8]) -> bool {
        use sha1::Digest;
        let v1_ok = !self.v1 || <[u8; 20]>::from(sha1::Sha1::digest(info)) == self.info_hash;
        let v2_ok = self
            .info_hash_v2
            .is_none_or(|h| <[u8; 32]>::from(sha2::Sha256::digest(info)) == h);
        v1_ok && v2_ok
    }
}

fn parse_hash(s: &str) -> Result<InfoHash, MagnetError> {
    let bad = || MagnetError::BadInfoHash(shorten(s).into_owned());
    let mut out = [0u8; 20];
    match s.len() {
        40 => out = super::hex::decode_array::<20>(s).ok_or_else(bad)?,
        32 => {
            // RFC 4648 base32 without padding: 32 symbols × 5 bits = 160 bits exactly.
            let mut acc: u64 = 0;
            let mut bits = 0u32;
            let mut idx = 0usize;
            for c in s.bytes() {
                let v = match c.to_ascii_uppercase() {
                    c @ b'A'..=b'Z' => c - b'A',
                    c @ b'2'..=b'7' => c - b'2' + 26,
                    _ => return Err(bad()),
                };
                acc = (acc << 5) | u64::from(v);
                bits += 5;
                if bits >= 8 {
                    bits -= 8;
                    let slot = out.get_mut(idx).ok_or_else(bad)?;
                    *slot = (acc >> bits) as u8;
                    idx += 1;
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(out)
}

/// Writes a magnet link: `btih` for a v1 hash, `btmh` (multihash: `1220` = SHA-256, 32
/// bytes) for a v2 hash, both for a hybrid (BEP 9, BEP 52), then the name and each tracker.
pub fn format_magnet(
    v1: Option<&InfoHash>,
    v2: Option<&[u8; 32]>,
    name: &str,
    trackers: &[String],
) -> String {
    let hex = crate::protocol::hex::encode;
    let mut parts = Vec::new();
    if let Some(h) = v1 {
        parts.push(format!("xt=urn:btih:{}", hex(h)));
    }
    if let Some(h) = v2 {
        parts.push(format!("xt=urn:btmh:1220{}", hex(h)));
    }
    if !name.is_empty() {
        parts.push(format!("dn={}", percent(name)));
    }
    parts.extend(trackers.iter().map(|t| format!("tr={}", percent(t))));
    format!("magnet:?{}", parts.join("&"))
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(crate) fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";
    const B32: &str = "ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW";

    fn hash() -> InfoHash {
        crate::protocol::hex::decode_array(HEX).expect("a test vector")
    }

    #[test]
    fn hex_and_base32_give_the_same_hash() {
        let a = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        let b = Magnet::parse(&format!("magnet:?xt=urn:btih:{B32}")).unwrap();
        let c = Magnet::parse(&format!("MAGNET:?xt=URN:BTIH:{}", HEX.to_uppercase())).unwrap();
        let d = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", B32.to_lowercase())).unwrap();
        assert_eq!(a.info_hash, hash());
        assert_eq!(b.info_hash, hash());
        assert_eq!(c.info_hash, hash());
        assert_eq!(d.info_hash, hash());
        assert_eq!(a.display_name, None);
        assert!(a.trackers.is_empty() && a.peers.is_empty());
    }

    #[test]
    fn all_fields() {
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny%C3%A9\
             &tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce%3Fa%3D1%2B2\
             &tr=udp://127.0.0.1:6969&tr.1=udp://127.0.0.1:6969&tr=\
             &x.pe=127.0.0.2:51413&x.pe=%5B%3A%3A1%5D:6881&x.pe=127.0.0.2:51413&foo=bar"
        ))
        .unwrap();
        assert_eq!(m.display_name.as_deref(), Some("Big Buck Bunnyé"));
        assert_eq!(
            m.trackers,
            vec![
                "http://127.0.0.1:6969/announce?a=1+2".to_string(),
                "udp://127.0.0.1:6969".to_string()
            ]
        );
        assert_eq!(
            m.peers,
            vec![
                "127.0.0.2:51413".parse::<SocketAddr>().unwrap(),
                "[::1]:6881".parse().unwrap()
            ]
        );
    }

    #[test]
    fn other_urns_are_skipped() {
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:sha1:abcdef&xt=urn:btih:{HEX}&xt.1=urn:btih:{B32}"
        ))
        .unwrap();
        assert_eq!(m.info_hash, hash());
        assert!(m.v1 && m.info_hash_v2.is_none());
    }

    const V2: &str = "6d9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";

    fn v2() -> [u8; 32] {
        crate::protocol::hex::decode_array(V2).expect("a test vector")
    }

    #[test]
    fn a_v2_only_magnet_is_reached_by_its_hash_cut_to_20_bytes() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{V2}&x.pe=127.0.0.1:1")).unwrap();
        assert_eq!(m.info_hash_v2, Some(v2()));
        assert_eq!(m.info_hash[..], v2()[..20]);
        assert!(!m.v1);
        let upper = format!("MAGNET:?xt=URN:BTMH:1220{}", V2.to_uppercase());
        assert_eq!(Magnet::parse(&upper).unwrap().info_hash_v2, Some(v2()));
        // The same hash twice (numbered keys) is one hash.
        let twice = format!("magnet:?xt=urn:btmh:1220{V2}&xt.1=urn:btmh:1220{V2}");
        assert_eq!(Magnet::parse(&twice).unwrap().info_hash_v2, Some(v2()));
    }

    #[test]
    fn a_hybrid_magnet_keeps_both_hashes_and_is_reached_by_its_btih() {
        for uri in [
            format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{V2}"),
            format!("magnet:?xt=urn:btmh:1220{V2}&xt=urn:btih:{B32}"),
        ] {
            let m = Magnet::parse(&uri).unwrap();
            assert_eq!(m.info_hash, hash(), "{uri}");
            assert!(m.v1);
            assert_eq!(m.info_hash_v2, Some(v2()));
        }
    }

    #[test]
    fn malformed_multihashes_are_refused() {
        for bad in [
            String::new(),
            "1220".into(),
            format!("1220{}", &V2[..63]),
            format!("1220{V2}0"),
            format!("1220{V2}00"),
            // SHA-1 (0x11) and SHA-512 (0x13) multihashes: not BEP 52's.
            format!("1114{}", &V2[..40]),
            format!("1340{V2}{V2}"),
            // The right code with the wrong length byte.
            format!("1221{}", &V2[..62]),
            format!("1220{}g", &V2[..63]),
            format!("1220{}é", &V2[..62]),
            V2.into(),
        ] {
            assert!(
                matches!(
                    Magnet::parse(&format!("magnet:?xt=urn:btmh:{bad}")),
                    Err(MagnetError::BadMultihash(_))
                ),
                "{bad}"
            );
        }
        let e = Magnet::parse(&format!("magnet:?xt=urn:btmh:1340{V2}{V2}")).unwrap_err();
        assert!(!e.to_string().contains('\n'));
        assert_eq!(
            Magnet::parse(&format!(
                "magnet:?xt=urn:btmh:1220{V2}&xt=urn:btmh:1220{}",
                "0".repeat(64)
            )),
            Err(MagnetError::ConflictingV2Hash)
        );
        assert!(matches!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:12")),
            Err(MagnetError::BadMultihash(_))
        ));
    }

    #[test]
    fn the_info_must_match_every_hash_the_link_names() {
        use sha1::Digest;
        let info = b"d4:name1:xe";
        let sha1: [u8; 20] = sha1::Sha1::digest(info).into();
        let sha256: [u8; 32] = sha2::Sha256::digest(info).into();
        let hex = crate::protocol::hex::encode;
        let v1 = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", hex(&sha1))).unwrap();
        let v2 = Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{}", hex(&sha256))).unwrap();
        let both = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{}&xt=urn:btmh:1220{}",
            hex(&sha1),
            hex(&sha256)
        ))
        .unwrap();
        let wrong_v2 = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{}&xt=urn:btmh:1220{V2}",
            hex(&sha1)
        ))
        .unwrap();
        assert!(v1.matches_info(info) && v2.matches_info(info) && both.matches_info(info));
        assert!(!wrong_v2.matches_info(info));
        assert!(!v2.matches_info(b"d4:name1:ye"));
    }

    #[test]
    fn select_only_takes_indices_and_inclusive_ranges() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6")).unwrap();
        assert_eq!(m.select_only, Some(vec![0, 2, 4, 5, 6]));
        // Unsorted, overlapping, repeated keys, an escaped comma: one sorted set.
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=7,3-5&so=4%2C1")).unwrap();
        assert_eq!(m.select_only, Some(vec![1, 3, 4, 5, 7]));
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        assert_eq!(m.select_only, None);
    }

    #[test]
    fn select_only_skips_bad_entries_and_ignores_bad_values() {
        // Entries skipped as libtorrent skips them: empty, open-ended, reversed, past the
        // bound, a second dash.
        assert_eq!(
            parse_select_only(",1,,-3,4-,9-8,10001,2-3-4,5"),
            Some(vec![1, 5])
        );
        // Anything but digits, dashes and commas drops the whole value; the link still reads.
        assert_eq!(parse_select_only("1,a"), None);
        assert_eq!(parse_select_only("1, 2"), None);
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=1;2&so=%zz")).unwrap();
        assert_eq!(m.select_only, None);
        assert_eq!(parse_select_only(""), Some(vec![]));
    }

    #[test]
    fn select_only_refuses_absurd_ranges_without_allocating_them() {
        // A range past the bound, or one overflowing usize, is skipped, not expanded.
        let huge = format!("0-{},3,5-{}", usize::MAX, "9".repeat(40));
        assert_eq!(parse_select_only(&huge), Some(vec![3]));
        assert_eq!(parse_select_only("0-10001"), Some(vec![]));
        // The widest range allowed is the bound itself.
        let all = parse_select_only("0-10000,0-10000").unwrap();
        assert_eq!(all.len(), SELECT_ONLY_MAX_INDEX + 1);
        assert_eq!(all.last(), Some(&SELECT_ONLY_MAX_INDEX));
    }

    #[test]
    fn errors() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet"), Err(MagnetError::NotMagnet));
        assert_eq!(
            Magnet::parse("magnet:?dn=x"),
            Err(MagnetError::MissingInfoHash)
        );
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:btmh:1220ab"),
            Err(MagnetError::BadMultihash(_))
        ));
        for bad in [
            &HEX[..39],
            "g9e15763f722f23e98a29decdfae341b98d53056",
            "ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMC1",
            "",
            "é9e15763f722f23e98a29decdfae341b98d5305",
        ] {
            assert!(
                matches!(
                    Magnet::parse(&format!("magnet:?xt=urn:btih:{bad}")),
                    Err(MagnetError::BadInfoHash(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            Magnet::parse(&format!(
                "magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}",
                "0".repeat(40)
            )),
            Err(MagnetError::ConflictingInfoHash)
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&tr=http%3")),
            Err(MagnetError::BadEscape("tr".into()))
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&tr=%ff")),
            Err(MagnetError::NotUtf8("tr".into()))
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&x.pe=example.org")),
            Err(MagnetError::BadPeer("example.org".into()))
        );
    }

    #[test]
    fn odd_inputs_never_panic() {
        let s = format!("magnet:?xt=urn:btih:{HEX}&dn=%C3%A9&tr=%41&x.pe=[::1]:1");
        for cut in 0..=s.len() {
            if let Some(prefix) = s.get(..cut) {
                let _ = Magnet::parse(prefix);
            }
        }
        let _ = Magnet::parse("magnet:?xt=urn:btih:ééééééééééééééééééééé");
        let _ = Magnet::parse("magnet:?&&&=&xt&xt=");
    }

    #[test]
    fn formatted_magnets_parse_back() {
        let v1 = [0xabu8; 20];
        let uri = format_magnet(
            Some(&v1),
            Some(&[0x01; 32]),
            "a b/ü",
            &["http://127.0.0.1:1/announce?x=1&y".into()],
        );
        assert!(
            uri.contains(&format!("xt=urn:btmh:1220{}", "01".repeat(32))),
            "{uri}"
        );
        let m = Magnet::parse(&uri).unwrap();
        assert_eq!(m.info_hash, v1);
        assert_eq!(m.info_hash_v2, Some([0x01; 32]));
        assert_eq!(m.display_name.as_deref(), Some("a b/ü"));
        assert_eq!(m.trackers, ["http://127.0.0.1:1/announce?x=1&y"]);
    }
}
