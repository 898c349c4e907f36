//! Text that came from outside (a torrent, a peer, a tracker, a URL) shortened for messages.
//! A crafted torrent may name a file with 10 MB of text; an error line quoting it must stay a
//! line. Every message that quotes outside text passes it through [`shorten`].

use std::borrow::Cow;

/// Characters of outside text kept in one message.
pub const MAX_SHOWN: usize = 120;
/// Longest line ttui prints, in bytes: whatever a torrent, tracker or peer sent, a line stays
/// something a terminal and a log viewer can take.
pub const MAX_LINE: usize = 4096;
/// Characters kept by [`clamp_line`]: four bytes each at most, plus the marker, under
/// [`MAX_LINE`] with room for a prefix such as `error: `.
const CLAMP_CHARS: usize = 1000;

/// `s` cut to about [`MAX_SHOWN`] characters, as [`shorten_to`] does.
pub fn shorten(s: &str) -> Cow<'_, str> {
    shorten_to(s, MAX_SHOWN)
}

/// `s` cut to about `max` characters: the start and the end are kept (an error message's
/// reason often follows the quoted text), the middle becomes `…[N bytes]…`.
pub fn shorten_to(s: &str, max: usize) -> Cow<'_, str> {
    if s.char_indices().nth(max).is_none() {
        return Cow::Borrowed(s);
    }
    let tail_chars = max / 3;
    let head_end = s
        .char_indices()
        .nth(max - tail_chars)
        .map_or(s.len(), |(i, _)| i);
    let tail_start = if tail_chars == 0 {
        s.len()
    } else {
        s.char_indices()
            .rev()
            .nth(tail_chars - 1)
            .map_or(head_end, |(i, _)| i.max(head_end))
    };
    Cow::Owned(format!(
        "{}…[{} bytes]…{}",
        &s[..head_end],
        s.len(),
        &s[tail_start..]
    ))
}

/// `s` as it is when it fits in a printed line, else shortened to at most about 4000 bytes:
/// the last guard before a line that may quote outside text is printed.
pub fn clamp_line(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_LINE - 64 {
        return Cow::Borrowed(s);
    }
    shorten_to(s, CLAMP_CHARS)
}

/// Lossy UTF-8 of outside bytes, shortened; only the kept prefix is converted.
pub fn shorten_bytes(b: &[u8]) -> String {
    // Four bytes per character at most: enough input for MAX_SHOWN characters.
    let head = b.get(..MAX_SHOWN * 4).unwrap_or(b);
    let text = String::from_utf8_lossy(head);
    if head.len() == b.len() {
        return shorten(&text).into_owned();
    }
    let kept: String = text.chars().take(MAX_SHOWN).collect();
    format!("{kept}…[{} bytes]…", b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert!(matches!(shorten("name.iso"), Cow::Borrowed("name.iso")));
        assert_eq!(shorten_to("éé", 2), "éé");
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let big = "é".repeat(5_000_000);
        let s = shorten(&big);
        assert_eq!(s.chars().filter(|c| *c == 'é').count(), MAX_SHOWN);
        assert!(s.contains("…[10000000 bytes]…"), "{s}");
        assert!(s.len() < 400);
        assert_eq!(shorten_to("abcdefgh", 3), "ab…[8 bytes]…h");
        assert_eq!(shorten_to("abcdefgh", 1), "a…[8 bytes]…");
    }

    #[test]
    fn lines_are_clamped_under_the_limit() {
        let ok = "x".repeat(MAX_LINE - 64);
        assert!(matches!(clamp_line(&ok), Cow::Borrowed(_)));
        for big in ["y".repeat(10 << 20), "é".repeat(3000), "😀".repeat(2000)] {
            let line = format!("error: {}", clamp_line(&big));
            assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
            assert!(line.contains(&format!("…[{} bytes]…", big.len())));
        }
    }

    #[test]
    fn bytes_are_cut_before_conversion() {
        let big = vec![b'a'; 10 << 20];
        let s = shorten_bytes(&big);
        assert!(s.len() < 400 && s.ends_with("…[10485760 bytes]…"), "{s}");
        assert_eq!(shorten_bytes(b"ok\xff"), "ok\u{fffd}");
    }
}
