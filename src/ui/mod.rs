//! The full-screen terminal interface.
//!
//! Data flows one way: the engine publishes `Arc<Snapshot>` through a watch channel, the event
//! loop ([`event`]) folds keys into [`app::App`] through [`action::Action`]s, and every frame is
//! drawn by the pure function [`draw`] from the latest snapshot plus the UI state. The only thing
//! the UI ever sends back is an engine [`Command`](crate::engine::api::Command).

pub mod action;
pub mod app;
pub mod event;
pub mod tui;
pub mod widgets;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::EventStream;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;
use tokio::sync::{mpsc, watch};

use crate::engine::api::{Command, Snapshot};

pub use action::Action;
pub use app::{App, Focus, PieceView, SortKey, Theme};
pub use tui::install_panic_hook;

/// Runs the interface until the user quits (and the engine has wound down, at most ~3 s) or
/// the terminal event stream ends. The terminal is restored on every way out.
pub async fn run(
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

/// Draws one whole frame. Pure: everything shown comes from `snap` and `app`.
pub fn draw(frame: &mut Frame, snap: &Snapshot, app: &App) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    draw_into(area, buf, snap, app);
}

/// The same as [`draw`] for any buffer, so widgets and tests can render without a terminal.
pub fn draw_into(area: Rect, buf: &mut ratatui::buffer::Buffer, snap: &Snapshot, app: &App) {
    let layout = screen_layout(area);
    widgets::header::render(layout.header, buf, snap, app);
    widgets::peers::render(layout.peers, buf, snap, app);
    widgets::pieces::render(layout.pieces, buf, snap, app);
    widgets::throughput::render(layout.throughput, buf, snap, app);
    widgets::log::render(layout.log, buf, snap, app);
    widgets::help::render_footer(layout.footer, buf, snap, app);
    if app.help_open {
        widgets::help::render_overlay(area, buf, app);
    }
}

/// Where each pane goes. Small screens keep every pane but give the peer table the most rows;
/// big screens split the lower half so the graph and piece map grow wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenLayout {
    pub header: Rect,
    pub peers: Rect,
    pub pieces: Rect,
    pub throughput: Rect,
    pub log: Rect,
    pub footer: Rect,
}

pub fn screen_layout(area: Rect) -> ScreenLayout {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(widgets::header::HEIGHT),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // Peers get ~45% (at least 10 rows: title, column header, 6 peers, 2 detail lines); the
    // piece map + graph row and the log share the rest.
    let peers_h = (body.height * 45 / 100).max(10).min(body.height);
    let rest = body.height - peers_h;
    let middle_h = rest - rest / 2;
    let [peers, middle, log] = Layout::vertical([
        Constraint::Length(peers_h),
        Constraint::Length(middle_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    let [pieces, throughput] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .areas(middle);
    ScreenLayout {
        header,
        peers,
        pieces,
        throughput,
        log,
        footer,
    }
}
