//! The remove confirmation: keep the data, delete it, or cancel. Nothing is removed without
//! an answer, and the answer is one key.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::engine::api::SessionSnapshot;
use crate::fmt;
use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::keys::{key_label, Mode};
use crate::ui::widgets::span;

use super::state::RemoveDialog;

pub fn render(
    area: Rect,
    buf: &mut Buffer,
    d: &RemoveDialog,
    session: &SessionSnapshot,
    app: &App,
) {
    let theme = &app.theme;
    let w = area.width.min(64);
    let h = area.height.min(6);
    if w < 4 || h < 3 {
        return;
    }
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    let room = usize::from(w.saturating_sub(4));
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (what, place) = match (&d.name, d.ids.as_slice()) {
        (Some(name), [id]) => {
            let path = session
                .torrents
                .iter()
                .find(|t| t.id == *id)
                .map(|t| t.save_path.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                fmt::outside(name, room.saturating_sub(8)).into_owned(),
                format!(
                    "Its data is in {}",
                    fmt::outside(&path, room.saturating_sub(16))
                ),
            )
        }
        _ => (
            format!("{} torrents", d.ids.len()),
            "Their data stays where it is unless you delete it.".to_string(),
        ),
    };
    let key = |a: Action| key_label(a, Mode::Dialog).unwrap_or_default();
    let lines = vec![
        Line::from(vec![
            Span::raw(" Remove "),
            span(what, bold),
            Span::raw("?"),
        ]),
        Line::from(span(format!(" {place}"), theme.dim())),
        Line::default(),
        Line::from(vec![
            span(format!(" {}", key(Action::KeepData)), theme.key()),
            Span::raw(" keep the data   "),
            span(key(Action::DeleteData), theme.key()),
            span(" delete the data", theme.error()),
            Span::raw("   "),
            span(key(Action::Back), theme.key()),
            Span::raw(" cancel"),
        ]),
    ];
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.warn())
        .title(Line::from(" Remove ").style(theme.title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}
