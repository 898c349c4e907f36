//! The list: the home screen, one row per torrent of the session, with the session's totals
//! on top. `render` is a pure function of the session snapshot and the UI state; what is
//! pure beside it lives in [`words`] (state text, filters), [`order`] (filter, search, sort),
//! [`columns`] (what fits a width) and [`state`] (selection, marks, search line, dialog).

pub mod add_dialog;
pub mod add_state;
pub mod columns;
pub mod dialog;
pub mod geometry;
pub mod header;
pub mod limits_dialog;
pub mod move_prompt;
pub mod order;
pub mod shown;
pub mod state;
mod state_add;
mod state_commands;
mod state_limits;
mod state_move;
pub mod table;
pub mod words;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;

use crate::engine::api::facts::FACTS;
use crate::engine::api::{SessionSnapshot, TorrentState};
use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::widgets::help::{render_hints, render_overlay};
use crate::ui::widgets::{put_line, span};

pub use columns::{fit, Fit};
pub use geometry::{layout, ListLayout, HEADER_HEIGHT};
pub use order::{Column, Sort};
pub use state::{KeyOutcome, ListState, RemoveDialog};
pub use words::Filter;

/// Draws the whole list screen: header, filter bar, table, the selected torrent, footer, and
/// the remove dialog or help on top.
pub fn render(area: Rect, buf: &mut Buffer, session: &SessionSnapshot, app: &App) {
    let l = layout(area);
    let list = &app.list;
    let order = list.order_for(session);
    header::render(l.header, buf, session, app);
    header::render_bar(l.bar, buf, &list.counts_for(session), app);
    table::render(l.table, buf, session, &order, app);
    render_selected(l.selected, buf, session, app);
    let lead = match list.marked.len() {
        0 => vec![],
        n => vec![span(format!("{n} marked · "), app.theme.accent())],
    };
    let paused = list
        .selected_line()
        .is_some_and(|t| t.state == TorrentState::Paused);
    let relabel = move |a: Action| (a == Action::TogglePause && paused).then_some("resume");
    render_hints(l.footer, buf, app, app.mode(), lead, &relabel);
    if let Some(d) = &list.dialog {
        dialog::render(area, buf, d, session, app);
    }
    render_prompts(area, buf, app);
    if let Some(d) = &list.adding {
        add_dialog::render(area, buf, d, app);
    }
    if app.stats.is_some() {
        crate::ui::widgets::stats::render(area, buf, app);
    }
    if app.help_open {
        render_overlay(area, buf, app);
    }
}

/// The limits dialog or the move prompt, over whichever screen shows.
pub fn render_prompts(area: Rect, buf: &mut Buffer, app: &App) {
    if let Some(d) = &app.list.limits {
        limits_dialog::render(area, buf, d, &app.theme);
    }
    if let Some(p) = &app.list.moving {
        move_prompt::render(area, buf, p, &app.theme);
    }
}

/// " ▸ name: state · /save/path", uncut as far as the width allows.
fn render_selected(area: Rect, buf: &mut Buffer, session: &SessionSnapshot, app: &App) {
    if area.height == 0 {
        return;
    }
    let found = |id| session.line(id).map(|t| &**t);
    let Some(t) = app.list.selected.and_then(|id| match app.list.session() {
        Some(last) if std::ptr::eq(&**last, session) => app.list.line(id),
        _ => found(id),
    }) else {
        return;
    };
    let theme = &app.theme;
    let width = usize::from(area.width);
    let name = crate::fmt::outside(&t.name, width);
    let state = words::state_text(t);
    let path = crate::fmt::outside(&t.save_path.to_string_lossy(), width).into_owned();
    // The facts of the one table every face reads, each that has something to say ("last
    // active 2026-11-30 04:10"), read at the loop's clock.
    let facts: String = FACTS
        .iter()
        .filter_map(|f| f.phrase(t, app.now))
        .map(|p| format!(" · {p}"))
        .collect();
    put_line(
        buf,
        area,
        0,
        vec![
            Span::raw(" ▸ "),
            span(name, ratatui::style::Style::new()),
            span(": ", theme.dim()),
            span(state, words::state_style(t, theme)),
            span(facts, theme.dim()),
            span(format!(" · in {path}"), theme.dim()),
        ],
    );
}

#[cfg(test)]
pub(crate) fn test_line(
    id: u32,
    name: &str,
    state: TorrentState,
) -> crate::engine::api::TorrentLine {
    let done = matches!(state, TorrentState::Seeding | TorrentState::Complete);
    crate::engine::api::TorrentLine {
        info_hash: [id as u8; 20],
        name: name.to_string(),
        state,
        total_bytes: 1000,
        wanted_bytes: 1000,
        verified_bytes: if done { 1000 } else { 0 },
        save_path: std::path::PathBuf::from("/tmp"),
        ..crate::engine::api::TorrentLine::placeholder(crate::engine::api::TorrentId(id))
    }
}
