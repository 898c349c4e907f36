//! The remove confirmation: keep the data, delete it, or cancel. Nothing is removed without
//! an answer, and the answer is one key.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::engine::api::{SessionSnapshot, TorrentLine};
use crate::fmt;
use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::keys::{key_label, Mode};
use crate::ui::theme::Theme;
use crate::ui::widgets::span;

use super::state::{ListState, RemoveDialog};

pub fn render(
    area: Rect,
    buf: &mut Buffer,
    d: &RemoveDialog,
    session: &SessionSnapshot,
    app: &App,
) {
    let theme = &app.theme;
    let found: Vec<&TorrentLine> = d
        .ids
        .iter()
        .filter_map(|id| session.line(*id))
        .map(|t| &**t)
        .collect();
    // A marked set names its torrents, as many as the screen has room for.
    let names_h = if d.ids.len() > 1 {
        (d.ids.len() as u16)
            .min(area.height.saturating_sub(8))
            .min(5)
    } else {
        0
    };
    let w = area.width.min(64);
    let h = area.height.min(6 + names_h);
    if w < 4 || h < 3 {
        return;
    }
    let popup = crate::ui::widgets::popup(area, w, h, buf);
    let room = usize::from(w.saturating_sub(4));
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (what, place, names) = describe(d, &found, usize::from(names_h), room);
    let mut lines = vec![Line::from(vec![
        Span::raw(" Remove "),
        span(what, bold),
        Span::raw("?"),
    ])];
    lines.extend(names);
    lines.extend([
        Line::from(span(format!(" {place}"), theme.dim())),
        Line::default(),
        answers(theme),
    ]);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.warn())
        .title(Line::from(" Remove ").style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// What would be removed, in `room` columns: the one torrent's name and where its data is,
/// or a marked set's count, its data's size and the first `shown` names.
fn describe(
    d: &RemoveDialog,
    found: &[&TorrentLine],
    shown: usize,
    room: usize,
) -> (String, String, Vec<Line<'static>>) {
    let done: u64 = found.iter().map(|t| t.verified_bytes).sum();
    let mut names: Vec<Line> = Vec::new();
    let (what, place) = match (&d.name, d.ids.as_slice()) {
        (Some(name), [_]) => {
            let path = found
                .first()
                .map(|t| t.save_path.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = fmt::bytes(done);
            (
                fmt::outside(name, room.saturating_sub(8)).into_owned(),
                format!(
                    "Its data ({size}) is in {}",
                    fmt::outside(&path, room.saturating_sub(20 + size.len()))
                ),
            )
        }
        _ => {
            for (i, t) in found.iter().enumerate().take(shown) {
                let more = found.len().saturating_sub(shown);
                let text = if i + 1 == shown && more > 0 {
                    format!(" · and {} more", more + 1)
                } else {
                    format!(" · {}", fmt::outside(&t.name, room.saturating_sub(3)))
                };
                names.push(Line::from(Span::raw(text)));
            }
            (
                format!("{} torrents", d.ids.len()),
                format!(
                    "Their data ({}) stays unless you delete it.",
                    fmt::bytes(done)
                ),
            )
        }
    };
    (what, place, names)
}

/// The three answers with their keys.
fn answers(theme: &Theme) -> Line<'static> {
    let key = |a: Action| key_label(a, Mode::Dialog).unwrap_or_default();
    Line::from(vec![
        span(format!(" {}", key(Action::KeepData)), theme.key()),
        Span::raw(" keep the data   "),
        span(key(Action::DeleteData), theme.key()),
        span(" delete the data", theme.error()),
        Span::raw("   "),
        span(key(Action::Back), theme.key()),
        Span::raw(" cancel"),
    ])
}

impl ListState {
    /// The engine's answer to a removal. The torrent leaves the list either way, so this line
    /// is the only place a failed deletion of its data shows.
    pub fn on_removed(
        &mut self,
        id: crate::engine::api::TorrentId,
        delete_data: bool,
        result: Result<(), String>,
    ) -> String {
        let asked = self.removing.remove(&id);
        let name = asked.unwrap_or_else(|| {
            self.line(id).map_or_else(
                || format!("torrent {id}"),
                |t| fmt::outside(&t.name, 40).into(),
            )
        });
        match (result, delete_data) {
            (Ok(()), true) => format!("removed {name} and its data"),
            (Ok(()), false) => format!("removed {name} (data kept)"),
            (Err(e), _) => format!("removing {name}: {}", fmt::outside(&e, 120)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::TorrentId;

    /// Marked torrents can leave the list while the dialog is open (removed from another
    /// terminal): fewer found than rows for names must not underflow.
    #[test]
    fn a_marked_set_with_torrents_gone_is_described_without_panic() {
        let d = RemoveDialog {
            ids: vec![TorrentId(1), TorrentId(2), TorrentId(3)],
            name: None,
        };
        let one = TorrentLine::placeholder(TorrentId(1));
        let (what, _, names) = describe(&d, &[&one], 3, 60);
        assert_eq!(what, "3 torrents");
        assert_eq!(names.len(), 1);
    }
}
