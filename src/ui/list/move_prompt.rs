//! `m`: one line asking where to move the data, prefilled with where it is now. Enter sends a
//! `Request::Move` per torrent; the engine's answer comes back as the status line.

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::engine::api::TorrentId;
use crate::fmt;
use crate::ui::action::Action;
use crate::ui::keys::{key_label, Mode};
use crate::ui::theme::Theme;
use crate::ui::widgets::span;

use super::limits_dialog::tail;

/// The most characters the folder line holds (PATH_MAX on Linux).
pub(super) const PATH_MAX: usize = 4096;
/// Tab reads at most this many entries of a folder: a huge one must not stall a key.
const LIST_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePrompt {
    pub ids: Vec<TorrentId>,
    /// "debian.iso" or "3 marked torrents".
    pub what: String,
    pub text: String,
    pub error: Option<String>,
}

/// `text` with its last part completed to a folder beside it: the one folder it begins, or
/// as much as all the folders it begins share. None when that adds nothing.
pub fn complete_dir(text: &str) -> Option<String> {
    if !text.starts_with('/') {
        return None;
    }
    let cut = text.rfind('/')? + 1;
    let (parent, stem) = text.split_at(cut);
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .ok()?
        .take(LIST_MAX)
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(stem) && (stem.starts_with('.') || !n.starts_with('.')))
        .filter(|n| Path::new(parent).join(n).is_dir())
        .collect();
    names.sort();
    let done = match names.as_slice() {
        [] => return None,
        [one] => format!("{parent}{one}/"),
        // Sorted: what the first and the last share, all share.
        [first, .., last] => {
            let mut common = first.as_str();
            while !last.starts_with(common) {
                let end = common.char_indices().last().map_or(0, |(i, _)| i);
                common = &common[..end];
            }
            format!("{parent}{common}")
        }
    };
    (done != text).then_some(done)
}

/// The prompt across the middle of `area`.
pub fn render(area: Rect, buf: &mut Buffer, p: &MovePrompt, theme: &Theme) {
    let w = area.width.min(100);
    let h = area.height.min(5);
    if w < 20 || h < 3 {
        return;
    }
    let popup = crate::ui::widgets::popup(area, w, h, buf);
    let inner = usize::from(w.saturating_sub(2));
    let ask = format!(" Move {} to: ", fmt::ellipsize(&p.what, inner / 2));
    let room = inner.saturating_sub(ask.chars().count() + 1);
    let key = |a: Action| key_label(a, Mode::Prompt).unwrap_or_default();
    let lines = vec![
        Line::from(vec![
            Span::raw(ask),
            Span::raw(tail(&p.text, room)),
            span("▏", theme.key()),
        ]),
        match &p.error {
            Some(e) => Line::from(span(format!(" {}", fmt::clean(e)), theme.error())),
            None => Line::default(),
        },
        Line::from(vec![
            span(format!(" {}", key(Action::Accept)), theme.key()),
            Span::raw(" move   "),
            span(key(Action::NextTab), theme.key()),
            Span::raw(" complete a folder   "),
            span(key(Action::Back), theme.key()),
            Span::raw(" cancel"),
        ]),
    ];
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::from(" Move the data ").style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

#[cfg(test)]
mod tests;
