//! Bytes, rates and durations as people read them: the one place they are formatted, so the
//! screen, the progress lines and the demo agree on units (binary: KiB, MiB, ...). Also the
//! one place text from outside (peers, trackers, .torrent files) is made safe to show.

use std::borrow::Cow;
use std::time::Duration;

use humansize::{format_size, FormatSizeOptions, BINARY};

/// "1.5 KiB", "3 MiB": one decimal, dropped when zero. The screen's size format.
pub(crate) fn bytes(n: u64) -> String {
    let opts: FormatSizeOptions = BINARY.decimal_places(1).decimal_zeroes(0);
    format_size(n, opts)
}

/// "31.5 MiB" with two decimals where they count: the progress lines and the demo's messages,
/// which scripts and tests read back.
pub(crate) fn bytes_precise(n: u64) -> String {
    format_size(n, BINARY)
}

/// "3.2 MiB/s"; negative and non-finite rates (never valid) show as 0.
pub(crate) fn rate(bytes_per_second: f64) -> String {
    format!("{}/s", bytes(rate_u64(bytes_per_second)))
}

/// A rate as whole bytes per second; negative and non-finite values are 0.
pub(crate) fn rate_u64(bytes_per_second: f64) -> u64 {
    if bytes_per_second.is_finite() && bytes_per_second > 0.0 {
        bytes_per_second as u64
    } else {
        0
    }
}

/// At most 9 characters ("999.9 KiB"): switches unit at 1000 rather than 1024, so table
/// columns stay narrow.
pub(crate) fn bytes_short(n: u64) -> String {
    scaled(n, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], " ")
}

/// At most 6 characters ("999.9K", "512B"), for narrow table columns.
pub(crate) fn bytes_tiny(n: u64) -> String {
    scaled(n, &["B", "K", "M", "G", "T", "P", "E"], "")
}

/// Binary scaling that moves to the next unit at 999.95, so the number never takes four
/// digits before the point.
fn scaled(n: u64, units: &[&str; 7], sep: &str) -> String {
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}{sep}{}", units[0])
    } else {
        format!("{value:.1}{sep}{}", units[unit])
    }
}

/// Two most significant units: "45s", "5m 12s", "2h 03m", "3d 4h".
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "mm:ss" or "h:mm:ss", for log timestamps.
pub(crate) fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Characters that would act on the terminal or on the line instead of being drawn: control
/// characters (an ESC starts an escape sequence, and ratatui writes span text as-is) and the
/// invisible ones that reorder or hide text (bidi overrides, zero-width characters, BOM).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}')
        || matches!(c, '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every unsafe character (see [`is_unsafe`]) replaced by U+FFFD.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unsafe) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_unsafe(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Cuts `text` to `width` characters, ending in "…" when cut.
pub(crate) fn ellipsize(text: &str, width: usize) -> Cow<'_, str> {
    if text.chars().count() <= width {
        return Cow::Borrowed(text);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    Cow::Owned(out)
}

/// Text from outside, ready to show: cut to `max` characters, then cleaned. Reads no more than
/// `max + 1` characters, so a 10 MB name costs what a short one does.
pub(crate) fn outside(text: &str, max: usize) -> Cow<'_, str> {
    let cut = match text.char_indices().nth(max) {
        Some(_) => ellipsize(text, max),
        None => Cow::Borrowed(text),
    };
    match cut {
        Cow::Borrowed(t) => clean(t),
        Cow::Owned(t) => Cow::Owned(clean(&t).into_owned()),
    }
}

/// "2026-11-22" from Unix seconds, UTC (the faces are pure functions of their data: no clock
/// and no time zone database). With `time`, "2026-11-22 20:25".
pub(crate) fn date(unix: u64, time: bool) -> String {
    let days = (unix / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    if time {
        let s = unix % 86_400;
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s % 3600 / 60)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0, false), "1970-01-01");
        assert_eq!(date(951_782_400, false), "2000-02-29");
        assert_eq!(date(1_795_465_500, true), "2026-11-23 20:25");
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes_precise(1536), "1.50 KiB");
        assert_eq!(bytes_precise(33_030_144), "31.50 MiB");
        assert_eq!(bytes_precise(100), "100 B");
        assert_eq!(rate(-5.0), "0 B/s");
        assert_eq!(rate(f64::NAN), "0 B/s");
        assert_eq!(rate(3.0 * 1024.0 * 1024.0), "3 MiB/s");
        assert_eq!(bytes_tiny(999), "999B");
        assert_eq!(bytes_tiny(1_992_294), "1.9M");
        assert_eq!(bytes_tiny(u64::MAX), "16.0E");
        assert_eq!(bytes_short(999), "999 B");
        assert_eq!(bytes_short(1023 * 1024), "1.0 MiB");
        assert_eq!(bytes_short(999 * 1024), "999.0 KiB");
        assert_eq!(bytes_short(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(312)), "5m 12s");
        assert_eq!(duration(Duration::from_secs(7380)), "2h 03m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d 4h"
        );
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(clock(Duration::from_secs(65)), "01:05");
    }

    #[test]
    fn clean_removes_escapes_and_reordering() {
        assert_eq!(clean("ok"), Cow::Borrowed("ok"));
        assert_eq!(clean("a\x1b[2Jb\n"), "a\u{fffd}[2Jb\u{fffd}");
        assert_eq!(clean("x\u{202E}gpj.exe"), "x\u{fffd}gpj.exe");
        assert_eq!(
            clean("zero\u{200B}width\u{FEFF}"),
            "zero\u{fffd}width\u{fffd}"
        );
        assert_eq!(clean("µTorrent 3.5"), "µTorrent 3.5");
    }

    #[test]
    fn ellipsize_cuts_with_marker() {
        assert_eq!(ellipsize("Transmission 3.00", 8), "Transmi…");
        assert_eq!(ellipsize("short", 8), "short");
        assert_eq!(ellipsize("abc", 0), "");
    }

    #[test]
    fn outside_text_is_cut_before_it_is_cleaned() {
        let huge = "\x1b".repeat(10_000_000);
        let shown = outside(&huge, 20);
        assert_eq!(shown.chars().count(), 20);
        assert!(shown.ends_with('…') && !shown.contains('\x1b'));
        assert_eq!(outside("fine", 20), Cow::Borrowed("fine"));
        assert_eq!(outside("tab\there", 20), "tab\u{fffd}here");
    }
}
