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

/// Lower-case hex of any byte string (peer ids, info hashes).
pub fn hex(id: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(id.len() * 2);
    for &b in id {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
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

/// How a table entry's version characters are laid out. Offsets are into the 20-byte id.
#[derive(Clone, Copy)]
enum Fmt {
    NoVersion,
    /// base62 [3].[4].[5], plus .[6] when [6] is a non-zero base-62 digit.
    Three,
    /// base62 [3].[4].[5].[6].
    Four,
    /// decimal [3..5] "." two-digit decimal [5..7] (BitComet 2.41, Tixati 1.93).
    TwoMajorTwoMinor,
    Transmission,
    /// µTorrent family: hex digits plus a release letter.
    UTorrent,
    Deluge,
    Ttui,
    Aria2,
    BitBuddy,
    BitLord,
    BitRocket,
    BitsOnWheels,
    BtDna,
    Btpd,
    Burst,
    CTorrent,
    Folx,
    KTorrent,
    MediaGet,
    MlDonkey,
    Opera,
    PicoTorrent,
    Plus,
    Qvod,
    AmazonS3,
    Xbt,
    Xfplay,
    Xtorrent,
}

struct Client {
    prefix: &'static [u8],
    name: &'static str,
    fmt: Fmt,
}

const fn c(prefix: &'static [u8], name: &'static str, fmt: Fmt) -> Client {
    Client { prefix, name, fmt }
}

/// Known prefixes. The longest matching prefix wins, so order does not matter.
#[rustfmt::skip]
static CLIENTS: &[Client] = &[
    // The clients a swarm today mostly consists of.
    c(b"-TR", "Transmission", Fmt::Transmission),
    c(b"-qB", "qBittorrent", Fmt::Three),
    c(b"-LT", "libtorrent (Rasterbar)", Fmt::Three),
    c(b"-lt", "libTorrent (Rakshasa)", Fmt::Three),
    c(b"-UT", "µTorrent", Fmt::UTorrent),
    c(b"-UM", "µTorrent Mac", Fmt::UTorrent),
    c(b"-UE", "µTorrent Embedded", Fmt::UTorrent),
    c(b"-UW", "µTorrent Web", Fmt::UTorrent),
    c(b"-BT", "BitTorrent", Fmt::UTorrent),
    c(b"-BW", "BitTorrent Web", Fmt::UTorrent),
    c(b"-DE", "Deluge", Fmt::Deluge),
    c(b"-rQ", "rqbit", Fmt::Three),
    c(b"-TT", "ttui", Fmt::Ttui),
    c(b"A2-", "aria2", Fmt::Aria2),
    c(b"aria2-", "aria2", Fmt::NoVersion),
    c(b"-AZ", "Azureus / Vuze", Fmt::Four),
    c(b"-BI", "BiglyBT", Fmt::Four),
    c(b"-BC", "BitComet", Fmt::TwoMajorTwoMinor),
    c(b"-BL", "BitLord", Fmt::BitLord),
    c(b"-KT", "KTorrent", Fmt::KTorrent),
    c(b"-PI", "PicoTorrent", Fmt::PicoTorrent),
    c(b"-Lr", "LibreTorrent", Fmt::Three),
    c(b"-WW", "WebTorrent", Fmt::Four),
    c(b"-WD", "WebTorrent Desktop", Fmt::Four),
    c(b"-FW", "FrostWire", Fmt::Three),
    c(b"-FD", "Free Download Manager", Fmt::Three),
    c(b"FD6", "Free Download Manager 6", Fmt::NoVersion),
    c(b"-AD", "Advanced Download Manager", Fmt::Three),
    c(b"-XL", "Xunlei", Fmt::Four),
    c(b"-SD", "Thunder", Fmt::Four),
    c(b"-QD", "QQDownload", Fmt::Four),
    c(b"-BN", "Baidu Netdisk", Fmt::NoVersion),
    c(b"-XF", "Xfplay", Fmt::Xfplay),
    c(b"-MG", "MediaGet", Fmt::MediaGet),
    c(b"-ZO", "Zona", Fmt::Four),
    c(b"-FL", "Folx", Fmt::Folx),
    c(b"-MO", "MonoTorrent", Fmt::Four),
    c(b"-TB", "Torch Browser", Fmt::NoVersion),
    c(b"-WS", "HTTP Seed", Fmt::NoVersion),
    c(b"TIX", "Tixati", Fmt::TwoMajorTwoMinor),
    c(b"-SZ", "Shareaza", Fmt::Four),
    c(b"-S~", "Shareaza", Fmt::Four),
    c(b"-KG", "KGet", Fmt::Four),
    c(b"-HL", "Halite", Fmt::Three),
    c(b"-CT", "CTorrent", Fmt::CTorrent),
    c(b"-CD", "Enhanced CTorrent", Fmt::TwoMajorTwoMinor),
    c(b"XBT", "XBT Client", Fmt::Xbt),
    c(b"btpd", "BT Protocol Daemon", Fmt::Btpd),
    c(b"-ML", "MLDonkey", Fmt::MlDonkey),
    c(b"-FG", "FlashGet", Fmt::TwoMajorTwoMinor),
    c(b"-SP", "BitSpirit", Fmt::Three),
    c(b"-TL", "Tribler", Fmt::Four),
    c(b"-OS", "OneSwarm", Fmt::Four),
    c(b"-MR", "Miro", Fmt::Four),
    c(b"-LC", "LeechCraft", Fmt::Four),
    c(b"-FC", "FileCroc", Fmt::Four),
    c(b"-VG", "Vagaa", Fmt::Four),
    c(b"QVOD", "QVOD", Fmt::Qvod),
    c(b"-7T", "aTorrent for Android", Fmt::Four),
    // Older or rarer clients.
    c(b"-AB", "AnyEvent BitTorrent", Fmt::Four),
    c(b"-AG", "Ares", Fmt::Four),
    c(b"-A~", "Ares", Fmt::Three),
    c(b"-AR", "Arctic", Fmt::Four),
    c(b"-AT", "Artemis", Fmt::Four),
    c(b"-AV", "Avicora", Fmt::Four),
    c(b"-AX", "BitPump", Fmt::TwoMajorTwoMinor),
    c(b"-BB", "BitBuddy", Fmt::BitBuddy),
    c(b"-BE", "BitTorrent SDK", Fmt::Four),
    c(b"-BF", "BitFlu", Fmt::NoVersion),
    c(b"-BG", "BTGetit", Fmt::Four),
    c(b"-BH", "BitZilla", Fmt::Four),
    c(b"-BM", "BitMagnet", Fmt::Four),
    c(b"-BOW", "Bits on Wheels", Fmt::BitsOnWheels),
    c(b"-BP", "BitTorrent Pro (Azureus + Spyware)", Fmt::Four),
    c(b"-BR", "BitRocket", Fmt::BitRocket),
    c(b"-BS", "BTSlave", Fmt::Four),
    c(b"-BU", "BigUp", Fmt::Four),
    c(b"-BX", "BittorrentX", Fmt::Four),
    c(b"-DP", "Propagate Data Client", Fmt::Four),
    c(b"-EB", "EBit", Fmt::Four),
    c(b"-ES", "Electric Sheep", Fmt::Three),
    c(b"-FT", "FoxTorrent/RedSwoosh", Fmt::Four),
    c(b"-FX", "Freebox", Fmt::Four),
    c(b"-G3", "G3 Torrent", Fmt::NoVersion),
    c(b"-GR", "GetRight", Fmt::Four),
    c(b"-GS", "GSTorrent", Fmt::Four),
    c(b"-HK", "Hekate", Fmt::Four),
    c(b"-HN", "Hydranode", Fmt::Four),
    c(b"-IL", "iLivid", Fmt::Four),
    c(b"-KC", "Koinonein", Fmt::Four),
    c(b"-LH", "LH-ABC", Fmt::Four),
    c(b"-LK", "Linkage", Fmt::Four),
    c(b"-LP", "Lphant", Fmt::TwoMajorTwoMinor),
    c(b"-LW", "LimeWire", Fmt::NoVersion),
    c(b"-MK", "Meerkat", Fmt::Four),
    c(b"-MP", "MooPolice", Fmt::Three),
    c(b"-MT", "Moonlight", Fmt::Four),
    c(b"-NE", "BT Next Evolution", Fmt::Four),
    c(b"-NX", "Net Transport", Fmt::Four),
    c(b"-OT", "OmegaTorrent", Fmt::Four),
    c(b"-PD", "Pando", Fmt::Four),
    c(b"-QT", "QT 4 Torrent example", Fmt::Four),
    c(b"-Qt-", "Qt", Fmt::NoVersion),
    c(b"-RS", "Rufus", Fmt::Four),
    c(b"-RT", "Retriever", Fmt::Four),
    c(b"-RZ", "RezTorrent", Fmt::Four),
    c(b"-SB", "~Swiftbit", Fmt::Four),
    c(b"-SK", "spark", Fmt::Four),
    c(b"-SM", "SoMud", Fmt::Four),
    c(b"-SN", "ShareNet", Fmt::Four),
    c(b"-SS", "SwarmScope", Fmt::Four),
    c(b"-ST", "SymTorrent", Fmt::Four),
    c(b"-TN", "Torrent .NET", Fmt::Four),
    c(b"-TS", "Torrentstorm", Fmt::Four),
    c(b"-UL", "uLeecher!", Fmt::Four),
    c(b"-WT", "BitLet", Fmt::Four),
    c(b"-WT-", "BitLet", Fmt::NoVersion),
    c(b"-WY", "FireTorrent", Fmt::Four),
    c(b"-XC", "Xtorrent", Fmt::Xtorrent),
    c(b"-XS", "XSwifter", Fmt::Four),
    c(b"-XT", "XanTorrent", Fmt::Four),
    c(b"-XX", "Xtorrent", Fmt::Xtorrent),
    c(b"-ZT", "Zip Torrent", Fmt::Four),
    c(b"-bk", "BitKitten (libtorrent)", Fmt::Four),
    c(b"-pX", "pHoeniX", Fmt::Four),
    c(b"-pb", "pbTorrent", Fmt::Three),
    c(b"-st", "SharkTorrent", Fmt::Four),
    c(b"10-------", "JVtorrent", Fmt::NoVersion),
    c(b"346-", "TorrentTopia", Fmt::NoVersion),
    c(b"AZ2500BT", "BitTyrant (Azureus Mod)", Fmt::NoVersion),
    c(b"BLZ", "Blizzard Downloader", Fmt::NoVersion),
    c(b"BTDWV-", "Deadman Walking", Fmt::NoVersion),
    c(b"Deadman Walking-", "Deadman", Fmt::NoVersion),
    c(b"DansClient", "XanTorrent", Fmt::NoVersion),
    c(b"DNA", "BitTorrent DNA", Fmt::BtDna),
    c(b"LIME", "LimeWire", Fmt::NoVersion),
    c(b"Mbrst", "burst!", Fmt::Burst),
    c(b"OP", "Opera", Fmt::Opera),
    c(b"PEERAPP", "PeerApp", Fmt::NoVersion),
    c(b"Pando", "Pando", Fmt::NoVersion),
    c(b"Plus", "Plus!", Fmt::Plus),
    c(b"S3-", "Amazon S3", Fmt::AmazonS3),
    c(b"T00---0", "Teeweety", Fmt::NoVersion),
    c(b"a00---0", "Swarmy", Fmt::NoVersion),
    c(b"a02---0", "Swarmy", Fmt::NoVersion),
    c(b"btuga", "BTugaXP", Fmt::NoVersion),
    c(b"eX", "eXeem", Fmt::NoVersion),
    c(b"martini", "Martini Man", Fmt::NoVersion),
    c(b"oernu", "BTugaXP", Fmt::NoVersion),
    c(b"turbobt", "TurboBT", Fmt::NoVersion),
];

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
    let h = |i: usize| show(hex_value(id[i]));
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

fn hex_value(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};

    /// An id starting with `prefix`, the rest filled the way a real client would: random.
    fn id_with(prefix: &[u8], rng: &mut StdRng) -> [u8; 20] {
        let mut id = [0u8; 20];
        rng.fill_bytes(&mut id);
        id[..prefix.len()].copy_from_slice(prefix);
        id
    }

    fn decode(prefix: &[u8]) -> Option<String> {
        // Several tails per prefix: the name must not depend on the random part.
        let mut rng = StdRng::seed_from_u64(prefix.len() as u64 * 7919);
        let first = decode_client(&id_with(prefix, &mut rng));
        for _ in 0..8 {
            assert_eq!(
                decode_client(&id_with(prefix, &mut rng)),
                first,
                "{prefix:?}"
            );
        }
        first
    }

    #[track_caller]
    fn check(prefix: &[u8], expected: &str) {
        assert_eq!(
            decode(prefix).as_deref(),
            Some(expected),
            "{}",
            String::from_utf8_lossy(prefix)
        );
    }

    #[test]
    fn transmission_test_vectors() {
        // Transmission's own tests/libtransmission/clients-test.cc expectations.
        check(b"-ADB560-", "Advanced Download Manager 11.5.6");
        check(b"-AZ8421-", "Azureus / Vuze 8.4.2.1");
        check(b"-BC0241-", "BitComet 2.41");
        check(b"-BI2300-", "BiglyBT 2.3.0.0");
        check(b"-BL246326", "BitLord 2.4.6-326");
        check(b"-BN0001-", "Baidu Netdisk");
        check(b"-BT791B-", "BitTorrent 7.9.1 (Beta)");
        check(b"-BT791\0-", "BitTorrent 7.9.1");
        check(b"-BW1293-", "BitTorrent Web 1.2.9");
        check(b"-FC1013-", "FileCroc 1.0.1.3");
        check(b"-FD51@\xFF-", "Free Download Manager 5.1.x");
        check(b"-FD51R\xFF-", "Free Download Manager 5.1.27");
        check(b"-FD51W\xFF-", "Free Download Manager 5.1.32");
        check(b"-FD51\x5D\xC7-", "Free Download Manager 5.1.x");
        check(b"-FL51FF-", "Folx 5.x");
        check(b"-FW6830-", "FrostWire 6.8.3");
        check(b"-KT33D1-", "KTorrent 3.3 Dev 1");
        check(b"-Lr10X0-", "LibreTorrent 1.0.33");
        check(b"-MR1100-", "Miro 1.1.0.0");
        check(b"-PI0091-", "PicoTorrent 0.09.1");
        check(b"-PI0120-", "PicoTorrent 0.12.0");
        check(b"-TB2137-", "Torch Browser");
        check(b"-TR0006-", "Transmission 0.6");
        check(b"-TR0072-", "Transmission 0.72");
        check(b"-TR111Z-", "Transmission 1.11 (Dev)");
        check(b"-TR400B-", "Transmission 4.0.0 (Beta)");
        check(b"-TR4000-", "Transmission 4.0.0");
        check(b"-TR4Az0-", "Transmission 4.10.61");
        check(b"-UT341\0-", "µTorrent 3.4.1");
        check(b"-UT7a5\0-", "µTorrent 7.10.5");
        check(b"-UW110Q-", "µTorrent Web 1.1.0");
        check(b"-UW1110Q", "µTorrent Web 1.1.10");
        check(b"-WS1000-", "HTTP Seed");
        check(b"-WW0007-", "WebTorrent 0.0.0.7");
        check(b"-XF9990-", "Xfplay 9.9.9");
        check(b"-XF9992-", "Xfplay 9.9.92");
        check(b"A2-1-18-8-", "aria2 1.18.8");
        check(b"A2-1-2-0-", "aria2 1.2.0");
        check(b"FD6k4SYy9BOU4U4rk3-J", "Free Download Manager 6");
        check(b"S58B-----", "Shad0w 5.8.11");
        check(b"Q1-23-4-", "Queen Bee 1.23.4");
        check(b"TIX0193-", "Tixati 1.93");
        check(
            b"\x65\x78\x62\x63\x00\x38\x4C\x4F\x52\x44\x32\x00\x04\x8E\xCE\xD5\x7B\xD7\x10\x28",
            "BitLord 0.56",
        );
        check(
            b"\x65\x78\x62\x63\x00\x38\x7A\x44\x63\x10\x2D\x6E\x9A\xD6\x72\x3B\x33\x9F\x35\xA9",
            "BitComet 0.56",
        );
    }

    #[test]
    fn transmission_vectors_we_decode_differently() {
        // Transmission prints these as percent-escaped bytes; for us binary inside the
        // version block means "not an Azureus id", so there is no name to give.
        assert_eq!(decode(b"-IIO\x10\x2D\x04-"), None);
        assert_eq!(decode(b"-I\x05O\x08\x03\x01-"), None);
    }

    #[test]
    fn clients_seen_on_our_test_swarms() {
        check(b"-TR3000-", "Transmission 3.00");
        check(b"-TR2920-", "Transmission 2.92");
        check(b"-TR300Z-", "Transmission 3.00 (Dev)");
        check(b"-TR4050-", "Transmission 4.0.5");
        check(b"-TR406Z-", "Transmission 4.0.6 (Dev)");
        check(b"A2-1-36-0-", "aria2 1.36.0");
        check(b"-LT2080-", "libtorrent (Rasterbar) 2.0.8");
        check(b"-LT12J0-", "libtorrent (Rasterbar) 1.2.19");
        check(b"-qB4520-", "qBittorrent 4.5.2");
        check(b"-qB46A0-", "qBittorrent 4.6.10");
        check(b"-rQ9100-", "rqbit 9.1.0");
        check(b"-rQ0001-", "rqbit 0.0.0.1");
        check(b"M4-3-6--", "BitTorrent 4.3.6");
        check(b"M7-10-3-", "BitTorrent 7.10.3");
        check(b"-UT355W-", "µTorrent 3.5.5");
        check(b"-UM1870-", "µTorrent Mac 1.8.7");
        check(b"-DE211s-", "Deluge 2.1.1");
        check(b"-DE200D-", "Deluge 2.0.0 (Dev)");
        check(b"-DE201b-", "Deluge 2.0.1 (Beta)");
        check(b"-DE13F0-", "Deluge 1.3.15");
        check(b"S58B-----", "Shad0w 5.8.11");
        check(b"T03I-----", "BitTornado 0.3.18");
        check(b"-BC0200-", "BitComet 2.00");
        check(b"-XL0012-", "Xunlei 0.0.1.2");
        check(b"-SD0100-", "Thunder 0.1.0.0");
        check(b"-lt0D80-", "libTorrent (Rakshasa) 0.13.8");
        check(b"-WD0021-", "WebTorrent Desktop 0.0.2.1");
        check(b"-TT0100-", "ttui 0.1.0");
        check(b"-TT1C3Z-", "ttui 1.12.3 (Dev)");
        check(b"-KT4130-", "KTorrent 4.1.3");
        check(b"-BOWA0C-", "Bits on Wheels 1.0.6");
        check(b"DNA010203", "BitTorrent DNA 1.2.3");
        check(b"XBT054d-", "XBT Client 0.5.4 (Debug)");
        check(b"-XC0102-", "Xtorrent 0.1 (2)");
        check(b"\0\x03BS", "BitSpirit 3");
        check(b"\0\0BS", "BitSpirit 1");
    }

    #[test]
    fn unknown_azureus_ids_are_named_honestly() {
        check(b"-ZZ1234-", "unknown client -ZZ1234-");
        check(b"-xy9999-", "unknown client -xy9999-");
    }

    #[test]
    fn noise_is_not_a_client() {
        assert_eq!(decode_client(&[0u8; 20]), None);
        assert_eq!(decode_client(&[0xffu8; 20]), None);
        // Starts like Mainline/Shadow/aria2 but does not follow through.
        assert_eq!(decode(b"\xf1M4-3-6--"), None);
        assert_eq!(decode(b"M4-3-6-x"), None);
        assert_eq!(decode(b"M4-3x6--"), None);
        assert_eq!(decode(b"Z58B-----"), None);
        assert_eq!(decode(b"S58\xb0-----"), None);
        assert_eq!(decode(b"S--------"), None);
        check(b"A2-x-36-0-", "aria2");
    }

    #[test]
    fn our_id_has_the_documented_shape() {
        let a = our_peer_id();
        let b = our_peer_id();
        assert_eq!(
            &a[..8],
            &azureus_prefix(CLIENT_CODE, env!("CARGO_PKG_VERSION"))
        );
        assert!(a[8..].iter().all(u8::is_ascii_alphanumeric));
        // 62^12 possibilities: equal ids mean the random part is not random.
        assert_ne!(a[8..], b[8..]);
        let name = decode_client(&a).unwrap_or_default();
        assert!(name.starts_with("ttui "), "{name}");
    }

    #[test]
    fn version_encoding() {
        assert_eq!(&azureus_prefix(*b"TT", "0.1.0"), b"-TT0100-");
        assert_eq!(&azureus_prefix(*b"TT", "1.12.3"), b"-TT1C30-");
        assert_eq!(&azureus_prefix(*b"TT", "2.40.61"), b"-TT2ez0-");
        assert_eq!(&azureus_prefix(*b"TT", "1.12.3-beta.1"), b"-TT1C3Z-");
        assert_eq!(&azureus_prefix(*b"TT", "1.2.3+build.5"), b"-TT1230-");
        assert_eq!(&azureus_prefix(*b"TT", "1.2.3-rc.1+b"), b"-TT123Z-");
        assert_eq!(&azureus_prefix(*b"TT", "100.0.0"), b"-TTz000-");
        assert_eq!(&azureus_prefix(*b"TT", "7"), b"-TT7000-");
        assert_eq!(&azureus_prefix(*b"TT", ""), b"-TT0000-");
        // Round trip through our own decoder.
        for v in ["0.1.0", "3.14.15", "1.2.3-alpha"] {
            let mut id = [b'a'; 20];
            id[..8].copy_from_slice(&azureus_prefix(CLIENT_CODE, v));
            let expected = match v.split_once('-') {
                Some((core, _)) => format!("ttui {core} (Dev)"),
                None => format!("ttui {v}"),
            };
            assert_eq!(decode_client(&id), Some(expected));
        }
    }

    #[test]
    fn handshake_v_is_cleaned() {
        assert_eq!(
            client_from_handshake_v("Transmission 3.00"),
            "Transmission 3.00"
        );
        assert_eq!(client_from_handshake_v("aria2/1.36.0"), "aria2/1.36.0");
        assert_eq!(client_from_handshake_v("µTorrent 3.5.5"), "µTorrent 3.5.5");
        assert_eq!(
            client_from_handshake_v("\x1b[2Jevil\x07 \u{202e}client\r\n"),
            "[2Jevil client"
        );
        assert_eq!(client_from_handshake_v("  a \t\t b  "), "a b");
        assert_eq!(client_from_handshake_v("\x00\x01\u{200b}"), "");
        let long = "x".repeat(100);
        assert_eq!(client_from_handshake_v(&long).chars().count(), MAX_V_LEN);
        let wide = "é".repeat(100);
        assert_eq!(client_from_handshake_v(&wide), "é".repeat(MAX_V_LEN));
        // A space is never the last character kept.
        let spaced = format!("{} y", "x".repeat(MAX_V_LEN - 1));
        assert_eq!(client_from_handshake_v(&spaced), "x".repeat(MAX_V_LEN - 1));
    }

    #[test]
    fn describe_prefers_v_then_id() {
        let mut id = [b'z'; 20];
        id[..8].copy_from_slice(b"-TR3000-");
        assert_eq!(
            describe_client(Some("Transmission 3.00"), &id),
            "Transmission 3.00"
        );
        assert_eq!(describe_client(Some("\x07"), &id), "Transmission 3.00");
        assert_eq!(describe_client(None, &id), "Transmission 3.00");
        let noise = [0x90u8; 20];
        assert_eq!(describe_client(None, &noise), "........");
    }

    #[test]
    fn printable_and_hex_forms() {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(b"-TR3000-");
        id[8] = b' ';
        id[9] = 0x7f;
        id[10] = 0xc3;
        assert_eq!(format_peer_id(&id), "-TR3000- ...........");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&id).len(), 40);
        assert!(hex(&id).starts_with("2d5452333030302d"));
    }

    #[test]
    fn table_is_consistent() {
        for (i, a) in CLIENTS.iter().enumerate() {
            assert!(!a.prefix.is_empty() && a.prefix.len() <= 20, "{}", a.name);
            for b in &CLIENTS[i + 1..] {
                assert_ne!(a.prefix, b.prefix, "duplicate prefix for {}", a.name);
            }
        }
        assert!(supported_prefix_count() >= 60);
    }

    fn assert_sane(out: Option<String>, id: &[u8; 20]) {
        if let Some(s) = out {
            assert!(!s.is_empty(), "{id:?}");
            assert!(s.chars().count() <= 60, "{s} from {id:?}");
            assert!(!s.chars().any(char::is_control), "{s:?} from {id:?}");
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut rng = StdRng::seed_from_u64(0x7474_7569);
        let mut named = 0;
        for _ in 0..5000 {
            let id = id_with(&[], &mut rng);
            let out = decode_client(&id);
            named += usize::from(out.is_some());
            assert_sane(out, &id);
            assert_eq!(format_peer_id(&id).chars().count(), 20);
            assert_sane(Some(describe_client(None, &id)), &id);
        }
        // Pure noise should almost never be given a client name.
        assert!(named < 50, "{named} random ids got a name");
        // Every known prefix followed by garbage, including garbage in the version block.
        for entry in CLIENTS {
            for _ in 0..50 {
                let id = id_with(entry.prefix, &mut rng);
                let out = decode_client(&id);
                assert!(out.is_some(), "{}", entry.name);
                assert_sane(out, &id);
            }
        }
        // Style-specific starts with every possible next byte.
        for start in [
            &b"M"[..],
            b"Q1-",
            b"S",
            b"A2-",
            b"exbc",
            b"\0",
            b"-TR",
            b"-UT",
        ] {
            for x in 0..=255u8 {
                let mut id = id_with(start, &mut rng);
                id[start.len()] = x;
                assert_sane(decode_client(&id), &id);
            }
        }
    }
}
