//! The full-screen terminal interface.
//!
//! Data flows one way: the engine publishes `Arc<Snapshot>` through a watch channel, the event
//! loop ([`event`]) folds keys into [`app::App`] through [`action::Action`]s, and every frame is
//! drawn by the pure function [`draw`] from the latest snapshot plus the UI state. The only thing
//! the UI ever sends back is an engine [`Command`](crate::engine::api::Command).

pub mod action;
pub(crate) mod app;
pub(crate) mod complete;
pub(crate) mod event;
pub(crate) mod files;
pub(crate) mod grid;
pub(crate) mod history;
pub(crate) mod keys;
pub(crate) mod layout;
pub mod list;
pub(crate) mod player;
pub(crate) mod scroll;
pub(crate) mod session_loop;
pub(crate) mod sort;
pub(crate) mod stats;
pub(crate) mod tabs;
pub(crate) mod theme;
pub(crate) mod tui;
pub(crate) mod widgets;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::EventStream;
use ratatui::layout::Rect;
use ratatui::Frame;
use tokio::sync::{mpsc, watch};

use crate::engine::api::{Command, Snapshot};

pub use action::Action;
pub(crate) use app::App;
pub(crate) use layout::screen_layout;
pub(crate) use player::Player;
pub(crate) use tabs::Tab;
pub use theme::Theme;
pub(crate) use tui::install_panic_hook;

/// Runs the interface until the user quits (and the engine has wound down, at most ~3 s) or
/// the terminal event stream ends. The terminal is restored on every way out.
pub(crate) async fn run(
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::UnboundedSender<Command>,
    log_path: PathBuf,
) -> color_eyre::Result<()> {
    let mut terminal = tui::init()?;
    let app = App::new(log_path, Theme::from_env());
    let result = event::run_loop(&mut terminal, EventStream::new(), snapshots, commands, app).await;
    let restored = tui::restore();
    result?;
    restored?;
    Ok(())
}

/// The session's screen: the torrent list, and the detail view of the torrent opened from it
/// (or of `open` at start). Returns when the user quits; the caller stops the session.
pub(crate) async fn run_session(
    client: std::sync::Arc<dyn crate::engine::api::ScreenApi>,
    log_path: PathBuf,
    open: Option<crate::engine::api::TorrentId>,
    player: Option<Player>,
) -> color_eyre::Result<()> {
    let mut terminal = tui::init()?;
    let mut app = App::for_session(log_path, Theme::from_env());
    if let Some(id) = open {
        app.start_on(id);
    }
    let result =
        session_loop::run_session_loop(&mut terminal, EventStream::new(), (client, player), app)
            .await;
    let restored = tui::restore();
    result?;
    restored?;
    Ok(())
}

/// Draws one whole frame. Pure: everything shown comes from `snap` and `app`.
pub fn draw(frame: &mut Frame, snap: &Snapshot, app: &App) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    draw_into(area, buf, snap, app);
}

/// The same as [`draw`] for any buffer, so widgets and tests can render without a terminal.
pub(crate) fn draw_into(area: Rect, buf: &mut ratatui::buffer::Buffer, snap: &Snapshot, app: &App) {
    let layout = screen_layout(area);
    widgets::header::render(layout.header, buf, snap, app);
    widgets::tab_bar::render(layout.tabs, buf, snap, app);
    match app.tab {
        Tab::Overview => widgets::overview::render(layout.body, buf, snap, app),
        Tab::Peers => {
            widgets::peers::render(layout.peers, buf, snap, app);
            widgets::pieces::render(layout.live_pieces, buf, snap, app);
            widgets::throughput::render(layout.live_graph, buf, snap, app);
            widgets::log::render(layout.live_log, buf, snap, app);
        }
        Tab::Pieces => widgets::pieces::render(layout.pieces, buf, snap, app),
        Tab::Files => widgets::files::render(layout.body, buf, snap, app),
        Tab::Trackers => widgets::trackers::render(layout.body, buf, snap, app),
        Tab::Log => widgets::log::render(layout.log, buf, snap, app),
    }
    widgets::help::render_footer(layout.footer, buf, snap, app);
    list::render_prompts(area, buf, app);
    if app.help_open {
        widgets::help::render_overlay(area, buf, app);
    }
}

#[cfg(test)]
mod detail_fixture;
#[cfg(test)]
mod tests;
