//! `L`: the rate limits dialog (the session's, the marked torrents' or the open torrent's
//! own), and `t`: turtle mode. Both send `Request::Limit`, as `ttui limit` does. Rates are
//! read by the engine's one parser ([`parse_rate`]), so the dialog takes what the flags and
//! the config take.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::engine::api::parse_rate;
use crate::engine::api::TorrentId;
use crate::fmt;
use crate::ui::action::Action;
use crate::ui::keys::{key_label, Mode};
use crate::ui::theme::Theme;
use crate::ui::widgets::span;

/// The most characters a rate field holds.
pub(super) const FIELD_MAX: usize = 24;
pub(super) const LABELS: [&str; 2] = ["Down", "Up"];

/// The dialog: whose limits, and the two fields as typed (empty: unlimited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsDialog {
    /// Empty: the session's limits.
    pub ids: Vec<TorrentId>,
    /// "the session", the torrent's name, "3 marked torrents".
    pub whose: String,
    /// Down, then up.
    pub fields: [String; 2],
    /// The field keys type into.
    pub field: usize,
    /// Why the last Enter sent nothing.
    pub error: Option<String>,
    /// A line under the fields (turtle mode on: these are the normal limits).
    pub note: Option<String>,
    /// Typed into: the engine's late answer to the prefill query must not overwrite it.
    pub(super) edited: bool,
}

/// A rate as the field shows it: what the parser reads back, empty for unlimited.
pub(super) fn field_text(rate: u64) -> String {
    match rate {
        0 => String::new(),
        r => crate::engine::api::rate_flag(r),
    }
}

pub(super) fn parse_field(label: &str, text: &str) -> Result<u64, String> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    parse_rate(text).map_err(|e| format!("{label}: {e}"))
}

/// The dialog in the middle of `area`.
pub fn render(area: Rect, buf: &mut Buffer, d: &LimitsDialog, theme: &Theme) {
    let w = area.width.min(60);
    let h = area.height.min(8 + u16::from(d.note.is_some()));
    if w < 20 || h < 4 {
        return;
    }
    let popup = crate::ui::widgets::popup(area, w, h, buf);
    let room = usize::from(w.saturating_sub(12));
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for (i, label) in LABELS.iter().enumerate() {
        let focused = i == d.field;
        let text = &d.fields[i];
        let shown = tail(text, room.saturating_sub(1));
        let mut spans = vec![
            span(if focused { " › " } else { "   " }, theme.key()),
            span(
                format!("{label:<6}"),
                if focused { bold } else { Style::new() },
            ),
            Span::raw(shown),
        ];
        if focused {
            spans.push(span("▏", theme.key()));
        }
        if text.is_empty() {
            spans.push(span("unlimited", theme.dim()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    if let Some(note) = &d.note {
        lines.push(Line::from(span(format!(" {note}"), theme.warn())));
    }
    lines.push(Line::from(span(
        " e.g. 500K, 2M, 1.5MiB; 0 or empty: unlimited",
        theme.dim(),
    )));
    lines.push(match &d.error {
        // The parser's examples are on the line above already.
        Some(e) => {
            let e = e.split(" (e.g.").next().unwrap_or(e);
            Line::from(span(format!(" {}", fmt::clean(e)), theme.error()))
        }
        None => Line::default(),
    });
    let key = |a: Action| key_label(a, Mode::Limits).unwrap_or_default();
    lines.push(Line::from(vec![
        span(format!(" {}", key(Action::Accept)), theme.key()),
        Span::raw(" apply   "),
        span(key(Action::NextTab), theme.key()),
        Span::raw(" other field   "),
        span(key(Action::Back), theme.key()),
        Span::raw(" cancel"),
    ]));
    let title = format!(" Rate limits: {} ", d.whose);
    let title = fmt::ellipsize(&title, usize::from(w.saturating_sub(4))).into_owned();
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::from(title).style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// The end of `text` that fits `width` characters, "…" in front when cut (the end is what
/// one is typing).
pub(super) fn tail(text: &str, width: usize) -> String {
    let text = fmt::clean(text);
    let n = text.chars().count();
    if n <= width {
        return text.into_owned();
    }
    let keep = width.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(text.chars().skip(n - keep));
    out
}

#[cfg(test)]
pub(crate) mod tests;
