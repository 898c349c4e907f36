//! Peer ids: the one we send, and a human name for the client behind one we receive.
//!
//! # Our id
//! Azureus style, `-TT` + four version characters + `-` + 12 random ASCII alphanumerics.
//! The version characters come from `CARGO_PKG_VERSION` (`MAJOR.MINOR.PATCH[-pre][+build]`):
//! major, minor and patch are each one base-62 digit (`0-9` = 0–9, `A-Z` = 10–35,
//! `a-z` = 36–61, the scheme libtorrent and Transmission 4 use, so other clients decode it
//! sensibly); the fourth character is `0` for a release and `Z` for a pre-release
//! (Transmission and µTorrent read `Z` as "Dev"). So 0.1.0 is `-TT0100-` and 1.12.3-beta.1 is
//! `-TT1C3Z-`. A component above 61 cannot be written and saturates to `z`.
//! `-TT` was once TuoTu's code; that client is long dead, so we decode `-TT` as ttui.
//!
//! # Decoding
//! [`decode_client`] understands Azureus style (`-XXvvvv-`, with the per-client version
//! encodings below), Shadow style (`S58B-----`), Mainline style (`M4-3-6--`, `Q1-23-4-`),
//! aria2 (`A2-1-36-0-`), BitComet/BitLord (`exbc`), BitSpirit and a handful of fixed strings.
//! Version digits that do not fit a client's scheme are shown as `x` (base-62/hex/decimal
//! digits) or `?` (characters copied verbatim), never dropped silently.
//!
//! An id we cannot name but which is clearly Azureus-shaped (`-`, six printable ASCII bytes,
//! `-`) decodes to `unknown client -XY1234-`. Anything else — random or binary ids, which many
//! privacy-minded clients send — decodes to `None`: guessing a name from noise would mislead
//! the user, and [`format_peer_id`] already gives a printable rendering for those.
//!
//! The formats were learned from Transmission's `libtransmission/clients.cc`, libtorrent's
//! `identify_client.cpp` and the clients' own peer-id generators; the code is ours.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// Our two-letter Azureus client code.
pub const CLIENT_CODE: [u8; 2] = *b"TT";

/// Longest BEP 10 `v` string we keep, in characters.
pub const MAX_V_LEN: usize = 40;

/// A fresh peer id for this session: `-TT` + version + `-` + 12 random alphanumerics.
pub fn our_peer_id() -> [u8; 20] {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(&azureus_prefix(CLIENT_CODE, env!("CARGO_PKG_VERSION")));
    let mut rng = rand::thread_rng();
    for b in &mut id[8..] {
        *b = rng.sample(Alphanumeric);
    }
    id
}

/// The 8-byte `-CCvvvv-` prefix for `code` and a semver `version` (see the module docs).
fn azureus_prefix(code: [u8; 2], version: &str) -> [u8; 8] {
    // Build metadata never changes behaviour, so it does not reach the wire.
    let without_build = version.split('+').next().unwrap_or("");
    let (core, pre_release) = match without_build.split_once('-') {
        Some((core, _)) => (core, true),
        None => (without_build, false),
    };
    let mut parts = core
        .split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0));
    let mut prefix = [b'-', code[0], code[1], b'0', b'0', b'0', b'0', b'-'];
    for slot in &mut prefix[3..6] {
        *slot = base62_char(parts.next().unwrap_or(0));
    }
    prefix[6] = if pre_release { b'Z' } else { b'0' };
    prefix
}

fn base62_char(v: u64) -> u8 {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let idx = usize::try_from(v)
        .unwrap_or(usize::MAX)
        .min(DIGITS.len() - 1);
    DIGITS.get(idx).copied().unwrap_or(b'z')
}

/// Printable form of a peer id: printable ASCII kept, every other byte shown as `.`.
pub fn format_peer_id(id: &[u8; 20]) -> String {
    id.iter()
        .map(|&b| {
            if b == b' ' || b.is_ascii_graphic() {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// The BEP 10 extended-handshake `v` string made safe to draw: control and invisible
/// formatting characters removed (a peer must not be able to move our cursor or reorder the
/// line with bidi overrides), whitespace runs collapsed, trimmed, capped at [`MAX_V_LEN`]
/// characters. May be empty, in which case the caller should fall back to the peer id.
pub fn client_from_handshake_v(v: &str) -> String {
    let mut out = String::with_capacity(v.len().min(MAX_V_LEN * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in v.chars() {
        if c.is_whitespace() {
            pending_space = count > 0;
            continue;
        }
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_V_LEN {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_V_LEN {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Unicode format characters (category Cf and friends) that change layout without drawing.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// What the UI shows for a peer: the cleaned `v` string when the peer sent a non-empty one,
/// else the decoded peer id, else the printable first eight bytes of the id.
pub fn describe_client(v: Option<&str>, id: &[u8; 20]) -> String {
    if let Some(v) = v {
        let cleaned = client_from_handshake_v(v);
        if !cleaned.is_empty() {
            return cleaned;
        }
    }
    decode_client(id).unwrap_or_else(|| format_peer_id(id).chars().take(8).collect())
}

/// Names the client behind a peer id, e.g. `Transmission 4.0.5`, `µTorrent 3.5.5`,
/// `aria2 1.36.0`. `None` for ids that follow no known convention (see the module docs).
pub fn decode_client(id: &[u8; 20]) -> Option<String> {
    if id.iter().all(|&b| b == 0) {
        return None;
    }
    if let Some(s) = decode_mainline(id) {
        return Some(s);
    }
    if let Some(s) = decode_shadow(id) {
        return Some(s);
    }
    if let Some(s) = decode_bitcomet(id) {
        return Some(s);
    }
    if id[0] == 0 && &id[2..4] == b"BS" {
        let v = if id[1] == 0 { 1 } else { id[1] };
        return Some(format!("BitSpirit {v}"));
    }
    if let Some(entry) = CLIENTS
        .iter()
        .filter(|e| id.starts_with(e.prefix))
        .max_by_key(|e| e.prefix.len())
    {
        return Some(format_entry(entry, id));
    }
    if id[0] == b'-' && id[7] == b'-' && id[1..7].iter().all(u8::is_ascii_graphic) {
        let shown: String = id[..8].iter().map(|&b| char::from(b)).collect();
        return Some(format!("unknown client {shown}"));
    }
    None
}

/// Prefix-table entries plus the decoders outside the table (Mainline `M`, Queen Bee `Q`,
/// Shadow-style `A`/`O`/`Q`/`R`/`S`/`T`/`U`, `exbc`/`FUTB`/`xUTB`, BitSpirit).
pub fn supported_prefix_count() -> usize {
    const OUTSIDE_TABLE: usize = 2 + 7 + 3 + 1;
    CLIENTS.len() + OUTSIDE_TABLE
}

fn format_entry(entry: &Client, id: &[u8; 20]) -> String {
    let name = entry.name;
    let b = |i: usize| base62(id[i]);
    let r = |i: usize| raw(id[i]);
    match entry.fmt {
        Fmt::NoVersion => name.to_owned(),
        Fmt::Three => {
            let mut s = format!("{name} {}.{}.{}", b(3), b(4), b(5));
            if let Some(tag) = base62_value(id[6]).filter(|&t| t != 0) {
                s.push_str(&format!(".{tag}"));
            }
            s
        }
        Fmt::Four => format!("{name} {}.{}.{}.{}", b(3), b(4), b(5), b(6)),
        Fmt::TwoMajorTwoMinor => format!(
            "{name} {}.{}",
            show(decimal(&id[3..5])),
            show_02(decimal(&id[5..7]))
        ),
        Fmt::TwoByTwo => format!(
            "{name} {}.{}",
            show(decimal(&id[3..5])),
            show(decimal(&id[5..7]))
        ),
        Fmt::Transmission => format!("{name} {}", transmission_version(id)),
        Fmt::UTorrent => format!("{name} {}", utorrent_version(id)),
        Fmt::Deluge => {
            let release = match id[6] {
                b's' | b'0' => String::new(),
                b'D' => " (Dev)".to_owned(),
                b'a' => " (Alpha)".to_owned(),
                b'b' => " (Beta)".to_owned(),
                b'r' => " (RC)".to_owned(),
                // Deluge 1.x let libtorrent write a fourth numeric component.
                other => base62_value(other)
                    .map(|v| format!(".{v}"))
                    .unwrap_or_default(),
            };
            format!("{name} {}.{}.{}{release}", b(3), b(4), b(5))
        }
        Fmt::Ttui => {
            let dev = if id[6] == b'Z' { " (Dev)" } else { "" };
            format!("{name} {}.{}.{}{dev}", b(3), b(4), b(5))
        }
        Fmt::Aria2 => match dashed_triplet(id, 3) {
            Some(((a, bb, cc), _)) => format!("{name} {a}.{bb}.{cc}"),
            None => name.to_owned(),
        },
        Fmt::BitBuddy => format!("{name} {}.{}{}{}", r(3), r(4), r(5), r(6)),
        Fmt::BitLord => format!("{name} {}.{}.{}-{}{}{}", r(3), r(4), r(5), r(6), r(7), r(8)),
        Fmt::BitRocket => format!("{name} {}.{} ({}{})", r(3), r(4), r(5), r(6)),
        Fmt::BitsOnWheels => match &id[4..7] {
            b"A0B" => format!("{name} 1.0.5"),
            b"A0C" => format!("{name} 1.0.6"),
            _ => format!("{name} {}.{}.{}", r(4), r(5), r(6)),
        },
        Fmt::BtDna => format!(
            "{name} {}.{}.{}",
            show(decimal(&id[3..5])),
            show(decimal(&id[5..7])),
            show(decimal(&id[7..9]))
        ),
        Fmt::Btpd => format!("{name} {}{}{}", r(5), r(6), r(7)),
        Fmt::Burst => format!("{name} {}.{}.{}", r(5), r(7), r(9)),
        Fmt::CTorrent => format!("{name} {}.{}.{}{}", b(3), b(4), r(5), r(6)),
        Fmt::Folx => format!("{name} {}.x", b(3)),
        Fmt::KTorrent => match id[5] {
            b'D' => format!("{name} {}.{} Dev {}", b(3), b(4), b(6)),
            b'R' => format!("{name} {}.{} RC {}", b(3), b(4), b(6)),
            _ => format!("{name} {}.{}.{}", b(3), b(4), b(5)),
        },
        Fmt::MediaGet => format!("{name} {}.{}", b(3), b(4)),
        Fmt::MlDonkey => {
            let v: String = id[3..8].iter().map(|&x| raw(x)).collect();
            format!("{name} {v}")
        }
        Fmt::Opera => format!("{name} {}{}{}{}", r(2), r(3), r(4), r(5)),
        Fmt::PicoTorrent => format!("{name} {}.{}{}.{}", b(3), r(4), r(5), b(6)),
        Fmt::Plus => format!("{name} {}.{}{}", r(4), r(5), r(6)),
        Fmt::Qvod => format!("{name} {}.{}.{}.{}", b(4), b(5), b(6), b(7)),
        Fmt::AmazonS3 => format!("{name} {}.{}.{}", r(3), r(5), r(7)),
        Fmt::Xbt => format!("{name} {}.{}.{}{}", r(3), r(4), r(5), release_suffix(id[6])),
        Fmt::Xfplay => {
            // Xfplay 9.9.92 to 9.9.94 all send -XF9992-; older builds used three digits + 0.
            if id[6] == b'0' {
                format!("{name} {}.{}.{}", b(3), b(4), b(5))
            } else {
                format!("{name} {}.{}.{}{}", r(3), r(4), r(5), r(6))
            }
        }
        Fmt::Xtorrent => format!("{name} {}.{} ({})", b(3), b(4), show(decimal(&id[5..7]))),
    }
}

/// Transmission changed its scheme three times; the leading digits tell which one applies.
fn transmission_version(id: &[u8; 20]) -> String {
    if &id[3..6] == b"000" {
        // 0.6 era: -TR0006-
        format!("0.{}", raw(id[6]))
    } else if &id[3..5] == b"00" {
        // pre-1.0: -TR0072- is 0.72
        format!("0.{}", show_02(decimal(&id[5..7])))
    } else if id[3] <= b'3' {
        // 1.00 through 3.00: one major digit, two decimal minor digits, release letter.
        format!(
            "{}.{}{}",
            base62(id[3]),
            show_02(decimal(&id[4..6])),
            release_suffix(id[6])
        )
    } else {
        // 4.0 and later: major.minor.patch in base 62, then the release letter.
        format!(
            "{}.{}.{}{}",
            base62(id[3]),
            base62(id[4]),
            base62(id[5]),
            release_suffix(id[6])
        )
    }
}

fn utorrent_version(id: &[u8; 20]) -> String {
    let h = |i: usize| show(super::hex::digit(id[i]).map(u32::from));
    if id[7] == b'-' {
        format!("{}.{}.{}{}", h(3), h(4), h(5), release_suffix(id[6]))
    } else {
        // Newer builds overwrite the closing dash to fit a two-digit patch number.
        format!(
            "{}.{}.{}{}",
            h(3),
            h(4),
            show(decimal(&id[5..7])),
            release_suffix(id[7])
        )
    }
}

/// µTorrent/Transmission release letters.
fn release_suffix(b: u8) -> &'static str {
    match b {
        b'b' | b'B' => " (Beta)",
        b'd' => " (Debug)",
        b'x' | b'X' | b'Z' => " (Dev)",
        _ => "",
    }
}

/// Mainline (`M4-3-6--`, `M7-10-3-`) and Queen Bee (`Q1-23-4-`).
fn decode_mainline(id: &[u8; 20]) -> Option<String> {
    let name = match id[0] {
        b'M' => "BitTorrent",
        b'Q' => "Queen Bee",
        _ => return None,
    };
    let ((a, b, c), end) = dashed_triplet(id, 1)?;
    // The version block is padded with dashes to exactly eight bytes.
    if end > 8 || !id.get(end..8)?.iter().all(|&x| x == b'-') {
        return None;
    }
    Some(format!("{name} {a}.{b}.{c}"))
}

/// Parses `N-N-N-` (1–3 decimal digits each) starting at `start`; returns the numbers and the
/// index just past the final dash.
fn dashed_triplet(id: &[u8; 20], start: usize) -> Option<((u32, u32, u32), usize)> {
    let mut pos = start;
    let mut nums = [0u32; 3];
    for n in &mut nums {
        let digits = id
            .get(pos..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=3).contains(&digits) {
            return None;
        }
        *n = decimal(id.get(pos..pos + digits)?)?;
        pos += digits;
        if id.get(pos) != Some(&b'-') {
            return None;
        }
        pos += 1;
    }
    Some(((nums[0], nums[1], nums[2]), pos))
}

/// Shad0w/BitTornado style: a letter, up to five version characters, dashes to byte 9.
fn decode_shadow(id: &[u8; 20]) -> Option<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-";
    if &id[6..9] != b"---" {
        return None;
    }
    let name = match id[0] {
        b'A' => "ABC",
        b'O' => "Osprey",
        b'Q' => "BTQueue",
        b'R' => "Tribler",
        b'S' => "Shad0w",
        b'T' => "BitTornado",
        b'U' => "UPnP NAT Bit Torrent",
        _ => return None,
    };
    let mut version = &id[1..6];
    while let [rest @ .., b'-'] = version {
        version = rest;
    }
    if version.is_empty() {
        return None;
    }
    let parts = version
        .iter()
        .map(|&ch| {
            ALPHABET
                .iter()
                .position(|&a| a == ch)
                .map(|p| p.to_string())
        })
        .collect::<Option<Vec<_>>>()?;
    Some(format!("{name} {}", parts.join(".")))
}

/// BitComet before 0.59 and BitLord: `exbc` + two raw version bytes (+ `LORD` for BitLord).
fn decode_bitcomet(id: &[u8; 20]) -> Option<String> {
    let modname = match &id[..4] {
        b"exbc" => "",
        b"FUTB" => "(Solidox Mod) ",
        b"xUTB" => "(Mod 2) ",
        _ => return None,
    };
    let name = if &id[6..10] == b"LORD" {
        "BitLord"
    } else {
        "BitComet"
    };
    Some(format!("{name} {modname}{}.{:02}", id[4], id[5]))
}

fn base62_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 36),
        _ => None,
    }
}

fn decimal(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')),
    )
}

fn base62(b: u8) -> String {
    show(base62_value(b))
}

fn show(v: Option<u32>) -> String {
    v.map_or_else(|| "x".to_owned(), |v| v.to_string())
}

fn show_02(v: Option<u32>) -> String {
    v.map_or_else(|| "x".to_owned(), |v| format!("{v:02}"))
}

/// A byte copied into a version string verbatim; anything unprintable becomes `?`.
fn raw(b: u8) -> char {
    if b.is_ascii_graphic() {
        char::from(b)
    } else {
        '?'
    }
}

mod clients;
use clients::{Client, Fmt, CLIENTS};

#[cfg(test)]
mod tests;
