//! Bencode helpers. The structure walker here exists because the info hash must be the SHA-1
//! of the exact `info` bytes as they stand in the file: a decoded-then-re-encoded dictionary
//! loses unknown keys and key order, and hashes differently. Walking the structure ourselves
//! also lets us bound nesting depth and reject trailing bytes before serde_bencode (which
//! recurses without a limit) ever sees the input.

use std::collections::HashSet;
use std::ops::Range;

use serde_bencode::value::Value;
use thiserror::Error;

/// Deepest nesting accepted. Real torrents need about 5 (torrent → info → files → file →
/// path); the limit only has to keep a hostile file from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BencodeError {
    #[error("not bencode: input ends early (at byte {0})")]
    UnexpectedEof(usize),
    #[error("not bencode: unexpected byte 0x{byte:02x} at byte {pos}")]
    UnexpectedByte { pos: usize, byte: u8 },
    #[error("not bencode: malformed integer at byte {0}")]
    BadInteger(usize),
    #[error("not bencode: malformed string length at byte {0}")]
    BadStringLength(usize),
    #[error("not bencode: nested deeper than {MAX_DEPTH} levels at byte {0}")]
    TooDeep(usize),
    #[error("not bencode: dictionary key at byte {0} is not a string")]
    KeyNotString(usize),
    #[error("not bencode: duplicate dictionary key {key:?} at byte {pos}")]
    DuplicateKey { key: String, pos: usize },
    #[error("not bencode: empty input")]
    Empty,
    #[error("trailing garbage: {extra} byte(s) after the end of the torrent at byte {end}")]
    TrailingGarbage { end: usize, extra: usize },
    #[error("the torrent is not a bencoded dictionary")]
    NotADict,
    #[error("missing key `{0}`")]
    MissingKey(String),
    #[error("`info` is not a dictionary")]
    InfoNotDict,
    #[error("not bencode: {0}")]
    Serde(String),
}

/// Returns the end (exclusive) of the bencoded value that starts at `start`.
/// Validates the whole value: integer syntax (no leading zeros, no `-0`, fits in i64), string
/// lengths, string-only and unique dictionary keys, nesting depth.
pub fn value_end(buf: &[u8], start: usize) -> Result<usize, BencodeError> {
    walk(buf, start, 0, &mut |_, _, _| {})
}

/// Checks that `buf` holds exactly one well-formed bencoded value and nothing after it.
pub fn validate(buf: &[u8]) -> Result<(), BencodeError> {
    validate_with(buf, &mut |_, _, _| {})
}

/// [`validate`], calling `on_entry` for every dictionary entry as [`walk`] does.
fn validate_with(buf: &[u8], on_entry: &mut OnEntry<'_>) -> Result<(), BencodeError> {
    if buf.is_empty() {
        return Err(BencodeError::Empty);
    }
    let end = walk(buf, 0, 0, on_entry)?;
    if end != buf.len() {
        return Err(BencodeError::TrailingGarbage {
            end,
            extra: buf.len() - end,
        });
    }
    Ok(())
}

/// Byte range of the value of the top-level `info` key. The whole input is validated first:
/// it must be one dictionary with nothing after it.
pub fn find_info_span(buf: &[u8]) -> Result<Range<usize>, BencodeError> {
    find_top_level_span(buf, b"info")
}

/// Byte range of the value of top-level `key` in a bencoded dictionary that fills `buf`.
/// `info` must additionally be a dictionary; for other keys any value type is returned.
pub fn find_top_level_span(buf: &[u8], key: &[u8]) -> Result<Range<usize>, BencodeError> {
    let mut found: Option<Range<usize>> = None;
    // One walk both validates and finds (a restart of 100,000 torrents walks every file).
    validate_with(buf, &mut |depth, k, span| {
        if depth == 0 && k == key {
            found = Some(span);
        }
    })?;
    if buf.first() != Some(&b'd') {
        return Err(BencodeError::NotADict);
    }
    let span = found.ok_or_else(|| BencodeError::MissingKey(super::text::shorten_bytes(key)))?;
    if key == b"info" && buf.get(span.start) != Some(&b'd') {
        return Err(BencodeError::InfoNotDict);
    }
    Ok(span)
}

/// The end of the value at the start of `buf` (which may have bytes after it) and the span
/// of its top-level `key`, in one walk. The value is validated; `buf` need not be a dictionary
/// (then no key is found).
pub fn end_and_top_level_span(
    buf: &[u8],
    key: &[u8],
) -> Result<(usize, Option<Range<usize>>), BencodeError> {
    let mut found = None;
    let end = walk(buf, 0, 0, &mut |depth, k, span| {
        if depth == 0 && k == key {
            found = Some(span);
        }
    })?;
    Ok((end, found))
}

/// Spans of the values of the top-level entries named in `keys`, for a dictionary that fills
/// `buf` (validated first), as (index into `keys`, span). Lets a caller decode only the keys it
/// reads, so a large value under a key it skips is never copied.
pub fn top_level_entries(
    buf: &[u8],
    keys: &[&[u8]],
) -> Result<Vec<(usize, Range<usize>)>, BencodeError> {
    let mut found = Vec::new();
    validate_with(buf, &mut |depth, k, span| {
        if depth == 0 {
            if let Some(i) = keys.iter().position(|want| *want == k) {
                found.push((i, span));
            }
        }
    })?;
    if buf.first() != Some(&b'd') {
        return Err(BencodeError::NotADict);
    }
    Ok(found)
}

/// The items of the list that starts at `start` in an already validated `buf`, as spans,
/// lazily: a caller taking the first N never walks the rest. Yields nothing when `start` is
/// not a list; stops at the first malformed item.
pub fn list_items(buf: &[u8], start: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut pos = (buf.get(start) == Some(&b'l')).then_some(start + 1);
    std::iter::from_fn(move || {
        let p = pos?;
        if buf.get(p) == Some(&b'e') {
            pos = None;
            return None;
        }
        match value_end(buf, p) {
            Ok(end) => {
                pos = Some(end);
                Some(p..end)
            }
            Err(_) => {
                pos = None;
                None
            }
        }
    })
}

/// Validates `buf` as [`validate`] does and calls `on_entry(key, span)` for each entry of
/// its outermost dictionary, in file order: a reader that wants a few fields takes them
/// from the buffer as they pass, with no copy and no second walk. `Ok` for a valid value that
/// is not a dictionary too (then nothing is called).
pub fn each_top_level_entry(
    buf: &[u8],
    on_entry: &mut dyn FnMut(&[u8], Range<usize>),
) -> Result<(), BencodeError> {
    validate_with(buf, &mut |depth, k, span| {
        if depth == 0 {
            on_entry(k, span);
        }
    })
}

/// The entries of the dictionary that starts at `start` in an already validated `buf`, as
/// (key, value span), lazily. Yields nothing when `start` is not a dictionary.
pub fn dict_items(buf: &[u8], start: usize) -> impl Iterator<Item = (&[u8], Range<usize>)> + '_ {
    let mut pos = (buf.get(start) == Some(&b'd')).then_some(start + 1);
    std::iter::from_fn(move || {
        let p = pos?;
        let entry = parse_string(buf, p)
            .and_then(|(key, key_end)| Ok((key, key_end..value_end(buf, key_end)?)));
        match entry {
            Ok((key, span)) => {
                pos = Some(span.end);
                Some((key, span))
            }
            // The closing `e`, or a malformed entry (not in a validated buffer).
            Err(_) => {
                pos = None;
                None
            }
        }
    })
}

/// The integer value starting at `start`, `None` when it is not an integer.
pub fn int_at(buf: &[u8], start: usize) -> Option<i64> {
    if buf.get(start) != Some(&b'i') {
        return None;
    }
    parse_int(buf, start).ok().map(|(v, _)| v)
}

/// The bytes of the string value starting at `start`, `None` when it is not a string.
pub fn string_at(buf: &[u8], start: usize) -> Option<&[u8]> {
    parse_string(buf, start).ok().map(|(b, _)| b)
}

/// Decodes one complete bencoded value (nothing may follow it) into a serde_bencode `Value`.
pub fn decode_value(buf: &[u8]) -> Result<Value, BencodeError> {
    validate(buf)?;
    serde_bencode::from_bytes(buf).map_err(|e| BencodeError::Serde(e.to_string()))
}

/// Decodes one complete bencoded value (nothing may follow it) into any serde type. The
/// bounded walk runs first, so serde_bencode (which recurses without a limit) only ever sees
/// input nested at most `MAX_DEPTH` deep. Every bencode value from outside goes through this or
/// `decode_prefix`, never straight to `serde_bencode::from_bytes`.
pub fn decode<T: serde::de::DeserializeOwned>(buf: &[u8]) -> Result<T, BencodeError> {
    validate(buf)?;
    serde_bencode::from_bytes(buf).map_err(|e| BencodeError::Serde(e.to_string()))
}

/// Decodes the bencoded value at the start of `buf` and returns it with the offset where it
/// ends; what follows is the caller's (a BEP 9 `data` message carries the piece after the
/// dictionary). Bounded like `decode`.
pub fn decode_prefix<T: serde::de::DeserializeOwned>(
    buf: &[u8],
) -> Result<(T, usize), BencodeError> {
    if buf.is_empty() {
        return Err(BencodeError::Empty);
    }
    let end = value_end(buf, 0)?;
    let v =
        serde_bencode::from_bytes(&buf[..end]).map_err(|e| BencodeError::Serde(e.to_string()))?;
    Ok((v, end))
}

/// Encodes a `Value`. Dictionary keys come out sorted, as BEP 3 asks. Written by hand so
/// that it cannot fail (serde_bencode's serializer returns a `Result` for every type).
pub fn encode_value(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(v, &mut out);
    out
}

/// Encodes any serde type with serde_bencode.
pub fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, BencodeError> {
    serde_bencode::to_bytes(v).map_err(|e| BencodeError::Serde(e.to_string()))
}

fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'd');
            for (k, v) in entries {
                encode_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Short name of a value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "an integer",
        Value::Bytes(_) => "a string",
        Value::List(_) => "a list",
        Value::Dict(_) => "a dictionary",
    }
}

/// Where the first dictionary key in the value at `start` stands that does not sort after
/// the key before it (BEP 3 keeps keys sorted as raw strings), or `None` when every key, at
/// every depth, is in order. Duplicates are refused by every walk already; an unsorted key is
/// what libtorrent calls a soft error, tolerated in a v1 torrent and refused in a v2 one.
pub fn first_unsorted_key(buf: &[u8], start: usize) -> Result<Option<usize>, BencodeError> {
    unsorted_from(buf, start, 0).map(|(found, _)| found)
}

/// [`first_unsorted_key`]'s recursion: (what it found, the end of the value at `pos`).
fn unsorted_from(
    buf: &[u8],
    pos: usize,
    depth: usize,
) -> Result<(Option<usize>, usize), BencodeError> {
    let byte = *buf.get(pos).ok_or(BencodeError::UnexpectedEof(pos))?;
    if byte != b'l' && byte != b'd' {
        return Ok((None, value_end(buf, pos)?));
    }
    if depth >= MAX_DEPTH {
        return Err(BencodeError::TooDeep(pos));
    }
    let mut found = None;
    let mut last: Option<&[u8]> = None;
    let mut p = pos + 1;
    loop {
        let b = *buf.get(p).ok_or(BencodeError::UnexpectedEof(p))?;
        if b == b'e' {
            return Ok((found, p + 1));
        }
        if byte == b'd' {
            let (key, key_end) = parse_string(buf, p)?;
            if found.is_none() && last.is_some_and(|l| l >= key) {
                found = Some(p);
            }
            last = Some(key);
            p = key_end;
        }
        let (inner, end) = unsorted_from(buf, p, depth + 1)?;
        found = found.or(inner);
        p = end;
    }
}

/// Called for every dictionary entry: (nesting level of the dictionary, key, value span).
type OnEntry<'a> = dyn FnMut(usize, &[u8], Range<usize>) + 'a;

/// Recursive walk. `on_entry(depth, key, value_span)` is called for every dictionary entry,
/// `depth` being the nesting level of the dictionary holding it (0 = the outermost value).
fn walk(
    buf: &[u8],
    pos: usize,
    depth: usize,
    on_entry: &mut OnEntry<'_>,
) -> Result<usize, BencodeError> {
    let byte = *buf.get(pos).ok_or(BencodeError::UnexpectedEof(pos))?;
    match byte {
        b'i' => parse_int(buf, pos).map(|(_, end)| end),
        b'0'..=b'9' => parse_string(buf, pos).map(|(_, end)| end),
        b'l' | b'd' => {
            if depth >= MAX_DEPTH {
                return Err(BencodeError::TooDeep(pos));
            }
            let is_dict = byte == b'd';
            let mut keys = Keys::default();
            let mut p = pos + 1;
            loop {
                let b = *buf.get(p).ok_or(BencodeError::UnexpectedEof(p))?;
                if b == b'e' {
                    return Ok(p + 1);
                }
                if is_dict {
                    if !b.is_ascii_digit() {
                        return Err(BencodeError::KeyNotString(p));
                    }
                    let (key, key_end) = parse_string(buf, p)?;
                    if !keys.insert(buf, pos, p, key)? {
                        return Err(BencodeError::DuplicateKey {
                            key: super::text::shorten_bytes(key),
                            pos: p,
                        });
                    }
                    let value_end = walk(buf, key_end, depth + 1, on_entry)?;
                    on_entry(depth, key, key_end..value_end);
                    p = value_end;
                } else {
                    p = walk(buf, p, depth + 1, on_entry)?;
                }
            }
        }
        other => Err(BencodeError::UnexpectedByte { pos, byte: other }),
    }
}

/// The keys of one dictionary seen so far, for refusing a repeated one. While they come in
/// order, as BEP 3 asks and every client writes them, a key greater than the last is new, so
/// nothing is kept: a set per dictionary (an allocation and a hash per key) was most of the
/// walk's cost in a restart of 100,000 torrents, which walks every .torrent and resume file.
/// The first key out of order switches to a set of the keys before it.
#[derive(Default)]
struct Keys<'a> {
    last: Option<&'a [u8]>,
    /// Every key so far, once one came out of order.
    seen: Option<HashSet<&'a [u8]>>,
}

impl<'a> Keys<'a> {
    /// Whether `key` (at `at`, in the dictionary at `dict`) is new. The keys before it are
    /// read again from `buf` the first time the order breaks: they are valid, walked already.
    fn insert(
        &mut self,
        buf: &'a [u8],
        dict: usize,
        at: usize,
        key: &'a [u8],
    ) -> Result<bool, BencodeError> {
        if let Some(seen) = &mut self.seen {
            return Ok(seen.insert(key));
        }
        match self.last {
            Some(last) if last >= key => {
                let mut seen = HashSet::new();
                let mut p = dict + 1;
                while p < at {
                    let (k, key_end) = parse_string(buf, p)?;
                    seen.insert(k);
                    p = value_end(buf, key_end)?;
                }
                let new = seen.insert(key);
                self.seen = Some(seen);
                Ok(new)
            }
            _ => {
                self.last = Some(key);
                Ok(true)
            }
        }
    }
}

/// `i<digits>e` starting at `pos`. Returns the value and the end (exclusive).
fn parse_int(buf: &[u8], pos: usize) -> Result<(i64, usize), BencodeError> {
    let body_start = pos + 1;
    let rel_end = buf
        .get(body_start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'e'))
        .ok_or(BencodeError::UnexpectedEof(buf.len()))?;
    let body = buf
        .get(body_start..body_start + rel_end)
        .ok_or(BencodeError::UnexpectedEof(buf.len()))?;
    let (negative, digits) = match body.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, body),
    };
    let leading_zero = digits.len() > 1 && digits.first() == Some(&b'0');
    let negative_zero = negative && digits == b"0";
    let all_digits = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    if !all_digits || leading_zero || negative_zero {
        return Err(BencodeError::BadInteger(pos));
    }
    // Digits are ASCII, so this is valid UTF-8; the parse rejects values outside i64.
    let value = std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(BencodeError::BadInteger(pos))?;
    Ok((value, body_start + rel_end + 1))
}

/// `<len>:<bytes>` starting at `pos`. Returns the bytes and the end (exclusive).
fn parse_string(buf: &[u8], pos: usize) -> Result<(&[u8], usize), BencodeError> {
    let mut len: usize = 0;
    let mut p = pos;
    loop {
        let b = *buf.get(p).ok_or(BencodeError::UnexpectedEof(p))?;
        match b {
            b':' => break,
            b'0'..=b'9' => {
                // A leading zero is only allowed for the empty string `0:`.
                if p > pos && buf.get(pos) == Some(&b'0') {
                    return Err(BencodeError::BadStringLength(pos));
                }
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(b - b'0')))
                    .ok_or(BencodeError::BadStringLength(pos))?;
                p += 1;
            }
            _ => return Err(BencodeError::BadStringLength(pos)),
        }
    }
    if p == pos {
        return Err(BencodeError::BadStringLength(pos));
    }
    let start = p + 1;
    let end = start
        .checked_add(len)
        .ok_or(BencodeError::BadStringLength(pos))?;
    let bytes = buf
        .get(start..end)
        .ok_or(BencodeError::UnexpectedEof(buf.len()))?;
    Ok((bytes, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_info_span_exactly() {
        let t = b"d8:announce3:abc4:infod4:name1:x6:lengthi5ee3:zzzi1ee";
        let span = find_info_span(t).unwrap();
        assert_eq!(&t[span], b"d4:name1:x6:lengthi5ee");
    }

    #[test]
    fn nested_info_key_is_not_top_level() {
        let t = b"d1:ad4:infod1:xi1eeee";
        assert_eq!(
            find_info_span(t),
            Err(BencodeError::MissingKey("info".into()))
        );
    }

    #[test]
    fn info_must_be_a_dict() {
        assert_eq!(
            find_info_span(b"d4:infoi3ee"),
            Err(BencodeError::InfoNotDict)
        );
        assert_eq!(find_info_span(b"li1ee"), Err(BencodeError::NotADict));
    }

    #[test]
    fn trailing_garbage_is_reported() {
        assert_eq!(
            find_info_span(b"d4:infodee\n"),
            Err(BencodeError::TrailingGarbage { end: 10, extra: 1 })
        );
    }

    #[test]
    fn integers_are_strict() {
        for bad in [
            &b"ie"[..],
            b"i-e",
            b"i-0e",
            b"i03e",
            b"i1x2e",
            b"i99999999999999999999e",
        ] {
            assert_eq!(validate(bad), Err(BencodeError::BadInteger(0)), "{bad:?}");
        }
        for good in [
            &b"i0e"[..],
            b"i-3e",
            b"i9223372036854775807e",
            b"i-9223372036854775808e",
        ] {
            assert_eq!(validate(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn string_lengths_are_strict() {
        assert_eq!(validate(b"0:"), Ok(()));
        assert_eq!(validate(b"01:a"), Err(BencodeError::BadStringLength(0)));
        assert_eq!(validate(b"5:abc"), Err(BencodeError::UnexpectedEof(5)));
        assert_eq!(
            validate(b"99999999999999999999999:a"),
            Err(BencodeError::BadStringLength(0))
        );
    }

    #[test]
    fn dict_keys_must_be_unique_strings() {
        assert_eq!(validate(b"di1ei2ee"), Err(BencodeError::KeyNotString(1)));
        assert!(matches!(
            validate(b"d1:ai1e1:ai2ee"),
            Err(BencodeError::DuplicateKey { ref key, pos: 7 }) if key == "a"
        ));
    }

    #[test]
    fn a_repeated_key_is_refused_in_a_dictionary_out_of_order() {
        // In order: no key repeats, and none is kept.
        assert_eq!(validate(b"d1:ai1e1:bi2e1:cli1eee"), Ok(()));
        // Out of order but unique.
        assert_eq!(validate(b"d1:ci1e1:ai2e1:bd1:zi1e1:yi2eee"), Ok(()));
        // The key that breaks the order repeats one before it.
        assert!(matches!(
            validate(b"d1:ai1e1:cl1:xe1:ai2ee"),
            Err(BencodeError::DuplicateKey { ref key, pos: 15 }) if key == "a"
        ));
        // A key after the break repeats one before it, or one after it.
        assert!(matches!(
            validate(b"d1:ai1e1:ci1e1:bi1e1:ci2ee"),
            Err(BencodeError::DuplicateKey { ref key, pos: 19 }) if key == "c"
        ));
        assert!(matches!(
            validate(b"d1:ci1e1:bi1e1:di1e1:bi2ee"),
            Err(BencodeError::DuplicateKey { ref key, pos: 19 }) if key == "b"
        ));
    }

    #[test]
    fn unsorted_keys_are_found_at_any_depth() {
        assert_eq!(first_unsorted_key(b"d1:ai1e1:bi2ee", 0), Ok(None));
        assert_eq!(first_unsorted_key(b"d1:bi1e1:ai2ee", 0), Ok(Some(7)));
        assert_eq!(first_unsorted_key(b"d1:ad1:yi1e1:xi2eee", 0), Ok(Some(11)));
        assert_eq!(first_unsorted_key(b"l1:xd1:bi1e1:ai1eee", 0), Ok(Some(11)));
        assert_eq!(first_unsorted_key(b"d1:ai1e1:ai2ee", 0), Ok(Some(7)));
        assert!(first_unsorted_key(b"d1:b", 0).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "l".repeat(MAX_DEPTH), "e".repeat(MAX_DEPTH));
        assert_eq!(validate(ok.as_bytes()), Ok(()));
        let deep = format!("{}{}", "l".repeat(MAX_DEPTH + 1), "e".repeat(MAX_DEPTH + 1));
        assert_eq!(
            validate(deep.as_bytes()),
            Err(BencodeError::TooDeep(MAX_DEPTH))
        );
        // Far deeper than the stack could take if the walk were unbounded.
        let hostile = "l".repeat(1_000_000);
        assert!(matches!(
            validate(hostile.as_bytes()),
            Err(BencodeError::TooDeep(_))
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let t = b"d8:announce22:http://127.0.0.1:6969/4:infod5:filesld6:lengthi3e4:pathl1:a1:beee4:name3:dir12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
        assert!(find_info_span(t).is_ok());
        for cut in 0..t.len() {
            assert!(
                find_info_span(&t[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
            let _ = decode_value(&t[..cut]);
        }
    }

    #[test]
    fn encode_sorts_keys_and_round_trips() {
        let v = decode_value(b"d1:bi-2e1:al3:xyzee").unwrap();
        assert_eq!(encode_value(&v), b"d1:al3:xyze1:bi-2ee");
        assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
        assert_eq!(encode(&v).unwrap(), encode_value(&v));
    }

    #[test]
    fn other_top_level_keys() {
        let t = b"d7:comment2:hi4:infodee";
        let span = find_top_level_span(t, b"comment").unwrap();
        assert_eq!(&t[span], b"2:hi");
    }

    #[test]
    fn decode_refuses_deep_nesting_before_serde_sees_it() {
        // 20,000 levels overflowed a worker's stack when handed straight to serde_bencode.
        let n = 20_000;
        let mut t = b"d1:x".to_vec();
        t.extend(std::iter::repeat_n(b'l', n));
        t.extend(std::iter::repeat_n(b'e', n));
        t.push(b'e');
        let r: Result<serde_bencode::value::Value, _> = decode(&t);
        assert!(matches!(r, Err(BencodeError::TooDeep(_))), "{r:?}");
        let r: Result<(serde_bencode::value::Value, usize), _> = decode_prefix(&t);
        assert!(matches!(r, Err(BencodeError::TooDeep(_))), "{r:?}");
    }

    #[test]
    fn entries_items_and_strings_by_span() {
        let t = b"d1:ai1e5:peersld1:xi1eed1:xi2eee1:z3:abce";
        let e = top_level_entries(t, &[b"peers", b"z", b"q"]).unwrap();
        assert_eq!(e.len(), 2);
        let (i, span) = e[0].clone();
        assert_eq!(i, 0);
        let items: Vec<_> = list_items(t, span.start).map(|r| &t[r]).collect();
        assert_eq!(items, vec![&b"d1:xi1ee"[..], b"d1:xi2ee"]);
        assert_eq!(list_items(t, span.start).take(1).count(), 1);
        assert_eq!(e[1].0, 1);
        assert_eq!(string_at(t, e[1].1.start), Some(&b"abc"[..]));
        assert_eq!(string_at(t, 0), None);
        assert_eq!(list_items(t, 0).count(), 0);
        assert_eq!(top_level_entries(b"le", &[]), Err(BencodeError::NotADict));
    }

    #[test]
    fn a_long_duplicate_key_makes_a_short_message() {
        let k = "k".repeat(1 << 20);
        let t = format!("d{0}:{1}i1e{0}:{1}i2ee", k.len(), k);
        let e = validate(t.as_bytes()).unwrap_err().to_string();
        assert!(e.len() < 400, "{} bytes", e.len());
    }

    #[test]
    fn decode_prefix_returns_where_the_value_ends() {
        let (v, end): (serde_bencode::value::Value, usize) =
            decode_prefix(b"d1:ai1eeTRAILING").unwrap();
        assert_eq!(end, 8);
        assert!(matches!(v, serde_bencode::value::Value::Dict(_)));
        assert!(decode::<serde_bencode::value::Value>(b"d1:ai1eeX").is_err());
    }
}
