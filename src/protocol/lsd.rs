//! BEP 14 Local Service Discovery: the `BT-SEARCH` datagram peers on one LAN multicast to
//! 239.192.152.143:6771 (or `[ff15::efc0:988f]:6771`) to say "I have these torrents, dial me
//! on this port". What libtorrent 2.0 sends, byte for byte (its `render_lsd_packet`):
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: 6881\r\n
//! Infohash: <40 hex digits>\r\n      (BEP 14 allows several; libtorrent reads them all)
//! cookie: <hex>\r\n                  (a random number, to recognise our own datagrams)
//! \r\n\r\n
//! ```
//!
//! The IPv6 group is libtorrent's (and BEP 14's) `ff15::efc0:988f`: 239.192.152.143 in hex.
//!
//! `parse` reads what anyone on the LAN sends: at most `MAX_DATAGRAM` bytes, `MAX_LINES`
//! header lines and `MAX_HASHES` hashes, header names in any case, lines ending in CRLF or
//! LF, a bad info hash skipped (as libtorrent does), a missing or bad port an error. Pure: no
//! sockets here (`engine/session/lsd.rs` has them).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::protocol::hex;

/// The UDP port of both groups.
pub const PORT: u16 = 6771;
/// The IPv4 multicast group (organisation-local scope).
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);
/// The IPv6 multicast group (site-local scope), as libtorrent joins it.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f);

/// A datagram longer than this is not read (an announce of `MAX_HASHES` hashes is ~1 KB).
pub const MAX_DATAGRAM: usize = 1400;
/// Header lines read at most (the request line included).
pub const MAX_LINES: usize = 32;
/// Info hashes taken from one datagram; the rest are ignored.
pub const MAX_HASHES: usize = 16;
/// A cookie longer than this is not one we would send: ignored.
const MAX_COOKIE: usize = 32;

/// One `BT-SEARCH` announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// Where the sender listens for peers (1..=65535).
    pub port: u16,
    /// The torrents it announces (never the all-zero hash), at most `MAX_HASHES`.
    pub hashes: Vec<[u8; 20]>,
    /// Its cookie, when it sent one (short and printable).
    pub cookie: Option<String>,
}

/// Why a datagram is not an announce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsdError {
    #[error("LSD datagram too long ({0} bytes)")]
    TooLong(usize),
    #[error("not a BT-SEARCH request")]
    NotSearch,
    #[error("LSD header not ended (or too many lines)")]
    Unterminated,
    #[error("LSD announce without a valid port")]
    BadPort,
    #[error("LSD announce without an info hash")]
    NoHash,
}

/// Which group the `Host` header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// The announce of `hashes` (at least one; libtorrent sends one a datagram) for `port`, in
/// libtorrent's exact layout.
pub fn encode(family: Family, port: u16, hashes: &[[u8; 20]], cookie: &str) -> Vec<u8> {
    let host = match family {
        Family::V4 => "239.192.152.143",
        Family::V6 => "[ff15::efc0:988f]",
    };
    let mut s = format!("BT-SEARCH * HTTP/1.1\r\nHost: {host}:{PORT}\r\nPort: {port}\r\n");
    for h in hashes {
        s.push_str("Infohash: ");
        s.push_str(&hex::encode(h));
        s.push_str("\r\n");
    }
    s.push_str("cookie: ");
    s.push_str(cookie);
    s.push_str("\r\n\r\n\r\n");
    s.into_bytes()
}

/// Reads one datagram. Bytes after the header's empty line are ignored.
pub fn parse(data: &[u8]) -> Result<Announce, LsdError> {
    if data.len() > MAX_DATAGRAM {
        return Err(LsdError::TooLong(data.len()));
    }
    // Only lines ended by a newline count: the last piece of a cut datagram is not one.
    let ended_lines = data
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&data[..0], |last| &data[..last]);
    let mut lines = ended_lines.split(|&b| b == b'\n').map(|l| match l {
        [rest @ .., b'\r'] => rest,
        l => l,
    });
    let request = lines.next().ok_or(LsdError::NotSearch)?;
    let method = request.split(|&b| b == b' ').next().unwrap_or_default();
    if !method.eq_ignore_ascii_case(b"BT-SEARCH") {
        return Err(LsdError::NotSearch);
    }
    let mut port = None;
    let mut hashes: Vec<[u8; 20]> = Vec::new();
    let mut cookie = None;
    let mut ended = false;
    for line in lines.take(MAX_LINES - 1) {
        if line.is_empty() {
            ended = true;
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"port") {
            if port.is_none() {
                port = Some(parse_port(value).ok_or(LsdError::BadPort)?);
            }
        } else if name.eq_ignore_ascii_case(b"infohash") {
            let hash = std::str::from_utf8(value)
                .ok()
                .and_then(hex::decode_array::<20>)
                .filter(|h| *h != [0; 20]);
            if let Some(h) = hash {
                if hashes.len() < MAX_HASHES && !hashes.contains(&h) {
                    hashes.push(h);
                }
            }
        } else if name.eq_ignore_ascii_case(b"cookie") && cookie.is_none() {
            cookie = Some(
                value
                    .iter()
                    .take(MAX_COOKIE)
                    .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
                    .collect(),
            );
        }
    }
    if !ended {
        return Err(LsdError::Unterminated);
    }
    let port = port.ok_or(LsdError::BadPort)?;
    if hashes.is_empty() {
        return Err(LsdError::NoHash);
    }
    Ok(Announce {
        port,
        hashes,
        cookie,
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A decimal port in 1..=65535, at most 5 digits.
fn parse_port(v: &[u8]) -> Option<u16> {
    if v.is_empty() || v.len() > 5 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests;
