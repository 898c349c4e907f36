//! The `Range` header of a stream request (RFC 9110 §14): one byte range, in any of its three
//! forms (`bytes=A-B`, `bytes=A-`, the suffix `bytes=-N`). Outside bytes: a fuzz target feeds
//! it (`fuzz/fuzz_targets/stream_range.rs`).
//!
//! What the RFC lets a server choose, chosen so players work: a header we cannot read, of
//! another unit or with several ranges, is ignored and the whole file is sent (200), as the
//! RFC allows; only a range that starts past the end, or an empty suffix, is refused (416).

/// What a request asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// No range (or one we ignore): the whole file, 200.
    Whole,
    /// Bytes `first..=last`, both inside the file: 206.
    Part { first: u64, last: u64 },
    /// A range no byte of the file satisfies: 416.
    Unsatisfiable,
}

/// Reads the `Range` header's value (None: no header) against a file of `len` bytes.
pub fn parse(header: Option<&[u8]>, len: u64) -> Ask {
    let Some(raw) = header else {
        return Ask::Whole;
    };
    let Ok(text) = std::str::from_utf8(raw) else {
        return Ask::Whole;
    };
    let text = text.trim();
    let Some((unit, spec)) = text.split_once('=') else {
        return Ask::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Ask::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ask::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    match (number(a), number(b)) {
        // bytes=-N: the last N bytes.
        (None, Some(n)) if a.is_empty() => {
            if n == 0 || len == 0 {
                return Ask::Unsatisfiable;
            }
            Ask::Part {
                first: len.saturating_sub(n),
                last: len - 1,
            }
        }
        // bytes=A-
        (Some(first), None) if b.is_empty() => from(first, u64::MAX, len),
        // bytes=A-B
        (Some(first), Some(last)) if first <= last => from(first, last, len),
        _ => Ask::Whole,
    }
}

fn from(first: u64, last: u64, len: u64) -> Ask {
    if first >= len {
        return Ask::Unsatisfiable;
    }
    Ask::Part {
        first,
        last: last.min(len - 1),
    }
}

/// Decimal digits only (no sign, no space inside), within u64.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(h: &str, len: u64) -> Ask {
        parse(Some(h.as_bytes()), len)
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(p("bytes=0-", 100), Ask::Part { first: 0, last: 99 });
        assert_eq!(
            p("bytes=10-19", 100),
            Ask::Part {
                first: 10,
                last: 19
            }
        );
        assert_eq!(
            p("bytes=90-500", 100),
            Ask::Part {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            p("bytes=-10", 100),
            Ask::Part {
                first: 90,
                last: 99
            }
        );
        assert_eq!(p("bytes=-500", 100), Ask::Part { first: 0, last: 99 });
        assert_eq!(p(" Bytes = 5 - 6 ", 100), Ask::Part { first: 5, last: 6 });
    }

    #[test]
    fn past_the_end_is_refused() {
        assert_eq!(p("bytes=100-", 100), Ask::Unsatisfiable);
        assert_eq!(p("bytes=100-200", 100), Ask::Unsatisfiable);
        assert_eq!(p("bytes=-0", 100), Ask::Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Ask::Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Ask::Unsatisfiable);
    }

    #[test]
    fn what_we_cannot_read_is_ignored() {
        assert_eq!(parse(None, 100), Ask::Whole);
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-4",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=99999999999999999999-",
            "bytes=a-b",
        ] {
            assert_eq!(p(h, 100), Ask::Whole, "{h:?}");
        }
        assert_eq!(parse(Some(&[0xff, 0xfe]), 100), Ask::Whole);
    }
}
