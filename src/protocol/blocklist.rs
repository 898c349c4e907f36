//! IP blocklists: the PeerGuardian text format (`description:1.2.3.4-1.2.3.255`) and eMule's
//! DAT format (`001.002.003.004 - 001.002.003.255 , 000 , description`), either one
//! gzip-compressed or not, read into a set of merged, sorted, non-overlapping ranges that a
//! binary search answers.
//!
//! Gzip is told by its magic bytes and read with the `flate2` crate: it is the gzip reader
//! the Rust ecosystem settled on (reqwest, cargo and tar readers use it), streams, and is
//! pure Rust with its default backend, so a list is decompressed line by line and never
//! whole in memory. Writing our own inflate would be a second, untested parser of outside
//! bytes.
//!
//! Pure: bytes in, a set out; reading the file or the URL is the session's
//! (`engine/session/blocklist.rs`). A bad line is counted and skipped, never fatal; a list
//! in which no line holds a range is an error, so garbage never replaces a good list.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most bytes of text a list may decompress to: the largest public lists are a few tens of
/// MiB; more is a gzip bomb or not a blocklist.
pub const MAX_TEXT_BYTES: u64 = 512 << 20;
/// Most ranges a list may hold (before merging): ~40 MiB of IPv4 ranges.
pub const MAX_RANGES: usize = 5_000_000;
/// Longest line read as one; a longer one is a bad line.
const MAX_LINE: usize = 4096;
/// eMule's access levels: above this a range is allowed, as in qBittorrent and libtorrent.
const DAT_ALLOW_ABOVE: u32 = 127;

/// Why a list as a whole was not taken.
#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error("not gzip data or truncated: {0}")]
    Gzip(std::io::Error),
    #[error("reading the list: {0}")]
    Read(std::io::Error),
    #[error("the list decompresses to over {} MiB", MAX_TEXT_BYTES >> 20)]
    TooLarge,
    #[error("the list holds over {MAX_RANGES} ranges")]
    TooManyRanges,
    #[error("no line of the list is a range ({bad} bad lines)")]
    NoRanges { bad: u64 },
}

/// Blocked addresses: IPv4 and IPv6 ranges, each inclusive, sorted and merged (no two
/// overlap or touch), so a lookup is one binary search.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl RangeSet {
    /// Whether `ip` is in a range; an IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => hit(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => hit(&self.v4, u32::from(v4)),
                None => hit(&self.v6, u128::from(a)),
            },
        }
    }

    /// Ranges after merging.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the ranges take.
    pub fn heap_bytes(&self) -> usize {
        self.v4.capacity() * 8 + self.v6.capacity() * 32
    }
}

fn hit<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    // The last range starting at or before x is the only one that may hold it.
    let after = ranges.partition_point(|&(start, _)| start <= x);
    after > 0 && ranges[after - 1].1 >= x
}

/// Sorts by start and merges ranges that overlap or touch.
fn merge<T: Ord + Copy>(v: &mut Vec<(T, T)>, next: impl Fn(T) -> Option<T>) {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for &(s, e) in v.iter() {
        match out.last_mut() {
            Some(last) if next(last.1).is_none_or(|n| s <= n) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out.shrink_to_fit();
    *v = out;
}

/// A list read: its ranges and the lines that were not ranges.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub set: RangeSet,
    pub bad_lines: u64,
}

/// Reads a whole list from bytes (a downloaded body).
pub fn parse(bytes: &[u8]) -> Result<Parsed, BlocklistError> {
    parse_reader(bytes)
}

/// Reads a list from `r`, gzip or not (told by the first two bytes).
pub fn parse_reader<R: Read>(r: R) -> Result<Parsed, BlocklistError> {
    let mut r = BufReader::with_capacity(64 << 10, r);
    let head = r.fill_buf().map_err(BlocklistError::Read)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(r);
        let mut text = BufReader::with_capacity(64 << 10, gz.take(MAX_TEXT_BYTES + 1));
        read_lines(&mut text, true)
    } else {
        let mut text = BufReader::new(r.take(MAX_TEXT_BYTES + 1));
        read_lines(&mut text, false)
    }
}

fn read_lines<R: BufRead>(r: &mut R, gz: bool) -> Result<Parsed, BlocklistError> {
    let err = |e| {
        if gz {
            BlocklistError::Gzip(e)
        } else {
            BlocklistError::Read(e)
        }
    };
    let mut builder = Builder::default();
    let mut line = Vec::with_capacity(256);
    let mut total: u64 = 0;
    loop {
        line.clear();
        let n = r
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(err)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            // Too long to be a range: skip to its end.
            total += skip_line(r).map_err(err)?;
            builder.bad_lines += 1;
        } else {
            builder.line(&line)?;
        }
        if total > MAX_TEXT_BYTES {
            return Err(BlocklistError::TooLarge);
        }
    }
    builder.finish()
}

fn skip_line<R: BufRead>(r: &mut R) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(skipped + i as u64 + 1);
            }
            None => {
                let n = buf.len();
                r.consume(n);
                skipped += n as u64;
            }
        }
    }
}

/// Ranges gathered line by line, merged at the end.
#[derive(Default)]
struct Builder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    bad_lines: u64,
    ranges: usize,
}

impl Builder {
    fn line(&mut self, raw: &[u8]) -> Result<(), BlocklistError> {
        let Ok(text) = std::str::from_utf8(raw) else {
            // Descriptions in old lists are Latin-1: the range part is ASCII either way.
            return self.line(&String::from_utf8_lossy(raw).into_owned().into_bytes());
        };
        match parse_line(text) {
            Line::Skip => {}
            Line::Bad => self.bad_lines += 1,
            Line::V4(s, e) => {
                self.count()?;
                self.v4.push((s, e));
            }
            Line::V6(s, e) => {
                self.count()?;
                self.v6.push((s, e));
            }
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), BlocklistError> {
        self.ranges += 1;
        if self.ranges > MAX_RANGES {
            return Err(BlocklistError::TooManyRanges);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Parsed, BlocklistError> {
        if self.ranges == 0 && self.bad_lines > 0 {
            return Err(BlocklistError::NoRanges {
                bad: self.bad_lines,
            });
        }
        merge(&mut self.v4, |x: u32| x.checked_add(1));
        merge(&mut self.v6, |x: u128| x.checked_add(1));
        Ok(Parsed {
            set: RangeSet {
                v4: self.v4,
                v6: self.v6,
            },
            bad_lines: self.bad_lines,
        })
    }
}

/// What one line of a list says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Blank, a comment, or a DAT range whose access level allows it.
    Skip,
    Bad,
    V4(u32, u32),
    V6(u128, u128),
}

/// Reads one line of either format.
pub fn parse_line(line: &str) -> Line {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
        return Line::Skip;
    }
    if let Some(l) = dat_line(line) {
        return l;
    }
    p2p_line(line)
}

/// `start - end , level , description`; None when the line is not of that shape.
fn dat_line(line: &str) -> Option<Line> {
    let mut parts = line.splitn(3, ',');
    let range = parts.next()?;
    let level = parts.next()?;
    // A P2P description may hold commas: then the part before one is no range.
    let range = range_of(range)?;
    match level.trim().parse::<u32>() {
        Ok(l) if l > DAT_ALLOW_ABOVE => Some(Line::Skip),
        Ok(_) => Some(range),
        Err(_) => Some(Line::Bad),
    }
}

/// `description:start-end`: the description may hold colons, so each colon is tried in turn
/// (an IPv6 range holds colons too, but the first that leaves a range is the right one).
fn p2p_line(line: &str) -> Line {
    if let Some(r) = range_of(line) {
        return r;
    }
    for (i, _) in line.match_indices(':') {
        // Only a range after a description: an IPv6 address's own tail is no address.
        let rest = &line[i + 1..];
        if !rest.contains('-') {
            break;
        }
        if let Some(r) = range_of(rest) {
            return r;
        }
    }
    Line::Bad
}

/// `a-b` (spaces allowed), both of one family, a ≤ b; or one address.
fn range_of(text: &str) -> Option<Line> {
    let text = text.trim();
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    match (addr(a.trim())?, addr(b.trim())?) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Some(Line::V4(a.into(), b.into())),
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Some(Line::V6(a.into(), b.into())),
        _ => None,
    }
}

/// An address; IPv4 with eMule's zero-padded parts (`001.002.003.004`), which the standard
/// parser refuses.
fn addr(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let mut out = [0u8; 4];
    let mut parts = text.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse::<u8>().ok()?;
    }
    parts
        .next()
        .is_none()
        .then(|| IpAddr::V4(Ipv4Addr::from(out)))
}

#[cfg(test)]
mod tests;
