//! One module per pane. Each `render` draws straight into a `Buffer` from `(&Snapshot, &App)`,
//! so every pane can be unit-tested without a terminal.

pub(crate) mod files;
pub(crate) mod header;
pub(crate) mod help;
pub(crate) mod log;
pub(crate) mod overview;
pub(crate) mod peer_columns;
pub(crate) mod peer_words;
pub(crate) mod peers;
pub(crate) mod pieces;
pub(crate) mod stats;
pub(crate) mod tab_bar;
pub(crate) mod throughput;
pub(crate) mod trackers;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};
use std::borrow::Cow;

use super::theme::Theme;

/// The most characters of one outside string (a client name, a tracker message, a log line)
/// drawn on one line: wider than any terminal, small enough that a hostile 10 MB string costs
/// nothing per frame.
pub(crate) const LINE_MAX: usize = 512;

/// A pane: title on a top rule only, which costs one line and no columns. Focus shows as a
/// reversed title (visible without colour) and a coloured rule.
pub(crate) fn pane<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(focused))
        .title(title.style(theme.title(focused)))
}

/// Renders the pane frame and returns the area inside it.
pub(crate) fn render_pane(
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
pub(crate) fn put_line(buf: &mut Buffer, area: Rect, row: u16, spans: Vec<Span<'_>>) {
    if row >= area.height {
        return;
    }
    let line = Line::from(spans);
    buf.set_line(area.x, area.y + row, &line, area.width);
}

pub(crate) fn span<'a>(text: impl Into<Cow<'a, str>>, style: Style) -> Span<'a> {
    Span::styled(text, style)
}

/// A `w`×`h` box in the middle of `area`, cleared: where a dialog draws. The caller has made
/// sure it fits (`w <= area.width`, `h <= area.height`).
pub(crate) fn popup(area: Rect, w: u16, h: u16, buf: &mut Buffer) -> Rect {
    let r = Rect {
        x: area.x + area.width.saturating_sub(w) / 2,
        y: area.y + area.height.saturating_sub(h) / 2,
        width: w.min(area.width),
        height: h.min(area.height),
    };
    ratatui::widgets::Clear.render(r, buf);
    r
}

#[cfg(test)]
pub(crate) mod test_util {
    use ratatui::buffer::Buffer;

    /// The buffer's rows as plain strings, for asserting on content.
    pub(crate) fn rows(buf: &Buffer) -> Vec<String> {
        let area = buf.area;
        (area.top()..area.bottom())
            .map(|y| {
                (area.left()..area.right())
                    .map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol()))
                    .collect::<String>()
            })
            .collect()
    }

    pub(crate) fn text(buf: &Buffer) -> String {
        rows(buf).join("\n")
    }
}
