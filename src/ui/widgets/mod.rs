//! One module per pane. Each `render` draws straight into a `Buffer` from `(&Snapshot, &App)`,
//! so every pane can be unit-tested without a terminal.

pub mod header;
pub mod help;
pub mod log;
pub mod peers;
pub mod pieces;
pub mod throughput;

use std::borrow::Cow;
use std::time::Duration;

use humansize::{format_size, FormatSizeOptions, BINARY};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::app::Theme;

/// "1.2 GiB"
pub fn fmt_bytes(bytes: u64) -> String {
    let opts: FormatSizeOptions = BINARY.decimal_places(1).decimal_zeroes(0);
    format_size(bytes, opts)
}

/// "3.2 MiB/s"; negative and non-finite rates (never valid) show as 0.
pub fn fmt_rate(rate: f64) -> String {
    format!("{}/s", fmt_bytes(rate_u64(rate)))
}

/// At most 9 characters ("999.9 KiB"): switches unit at 1000 rather than 1024, so table
/// columns stay narrow.
pub fn fmt_bytes_short(bytes: u64) -> String {
    scaled(bytes, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], " ")
}

/// At most 6 characters ("999.9K", "512B"), for narrow table columns.
pub fn fmt_bytes_tiny(bytes: u64) -> String {
    scaled(bytes, &["B", "K", "M", "G", "T", "P", "E"], "")
}

/// Binary scaling that moves to the next unit at 999.95, so the number never takes four
/// digits before the point.
fn scaled(bytes: u64, units: &[&str; 7], sep: &str) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}{sep}{}", units[0])
    } else {
        format!("{value:.1}{sep}{}", units[unit])
    }
}

pub fn rate_u64(rate: f64) -> u64 {
    if rate.is_finite() && rate > 0.0 {
        rate as u64
    } else {
        0
    }
}

/// Two most significant units: "45s", "5m 12s", "2h 03m", "3d 4h".
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "mm:ss" or "h:mm:ss" for log timestamps.
pub fn fmt_clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Text that came from a peer, tracker or file can carry control characters; ratatui writes
/// span text to the terminal as-is, so an ESC would be an escape sequence. Replace them.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Cuts `text` to `width` characters, ending in "…" when cut.
pub fn ellipsize(text: &str, width: usize) -> Cow<'_, str> {
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

/// A pane: title on a top rule only, which costs one line and no columns. Focus shows as a
/// reversed title (visible without colour) and a coloured rule.
pub fn pane<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(focused))
        .title(title.style(theme.title(focused)))
}

/// Renders the pane frame and returns the area inside it.
pub fn render_pane(
    area: Rect,
    buf: &mut Buffer,
    title: Line<'_>,
    focused: bool,
    theme: &Theme,
) -> Rect {
    let block = pane(title, focused, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Writes a line of spans at (x, y), clipped to `area`.
pub fn put_line(buf: &mut Buffer, area: Rect, row: u16, spans: Vec<Span<'_>>) {
    if row >= area.height {
        return;
    }
    let line = Line::from(spans);
    buf.set_line(area.x, area.y + row, &line, area.width);
}

pub fn span<'a>(text: impl Into<Cow<'a, str>>, style: Style) -> Span<'a> {
    Span::styled(text, style)
}

#[cfg(test)]
pub(crate) mod test_util {
    use ratatui::buffer::Buffer;

    /// The buffer's rows as plain strings, for asserting on content.
    pub fn rows(buf: &Buffer) -> Vec<String> {
        let area = buf.area;
        (area.top()..area.bottom())
            .map(|y| {
                (area.left()..area.right())
                    .map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol()))
                    .collect::<String>()
            })
            .collect()
    }

    pub fn text(buf: &Buffer) -> String {
        rows(buf).join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_rate(-5.0), "0 B/s");
        assert_eq!(fmt_rate(f64::NAN), "0 B/s");
        assert_eq!(fmt_rate(3.0 * 1024.0 * 1024.0), "3 MiB/s");
        assert_eq!(fmt_bytes_tiny(999), "999B");
        assert_eq!(fmt_bytes_tiny(1_992_294), "1.9M");
        assert_eq!(fmt_bytes_tiny(u64::MAX), "16.0E");
        assert_eq!(fmt_bytes_short(999), "999 B");
        assert_eq!(fmt_bytes_short(1023 * 1024), "1.0 MiB");
        assert_eq!(fmt_bytes_short(999 * 1024), "999.0 KiB");
        assert_eq!(fmt_bytes_short(u64::MAX), "16.0 EiB");
        assert_eq!(fmt_duration(Duration::from_secs(45)), "45s");
        assert_eq!(fmt_duration(Duration::from_secs(312)), "5m 12s");
        assert_eq!(fmt_duration(Duration::from_secs(7380)), "2h 03m");
        assert_eq!(
            fmt_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d 4h"
        );
        assert_eq!(fmt_clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(fmt_clock(Duration::from_secs(65)), "01:05");
    }

    #[test]
    fn clean_removes_escapes() {
        assert_eq!(clean("ok"), Cow::Borrowed("ok"));
        assert_eq!(clean("a\x1b[2Jb\n"), "a\u{fffd}[2Jb\u{fffd}");
    }

    #[test]
    fn ellipsize_cuts_with_marker() {
        assert_eq!(ellipsize("Transmission 3.00", 8), "Transmi…");
        assert_eq!(ellipsize("short", 8), "short");
        assert_eq!(ellipsize("abc", 0), "");
    }
}
