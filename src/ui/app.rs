//! UI state and the one place it changes: [`App::handle`] (keys), [`App::on_snapshot`] (the
//! detail view's torrent) and [`App::on_session`] (the list). No I/O, no clocks: time comes
//! from the snapshot's `elapsed`, which keeps tests deterministic.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use ratatui::layout::Rect;

use crate::engine::api::{Command, PeerAddr, PeerRow, SessionSnapshot, Snapshot, TorrentId};

use super::action::{Action, Effect, Reply, Request};
use super::files::FilesView;
use super::grid::{grid_cells, grid_stats, CellStats};
use super::history::History;
use super::keys::Mode;
use super::layout::{grid_capacity, log_rows, pane_inner, piece_inner, screen_layout, PeerPane};
use super::list::geometry;
use super::list::state::ListState;
use super::scroll::{GridCursor, ListScroll, TailScroll};
use super::sort::{sort_peers, SortKey};
pub(crate) use super::tabs::Focus;
use super::tabs::Tab;
use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PieceView {
    /// What we have: missing / in flight / verified / failed.
    #[default]
    State,
    /// How many connected peers have each piece.
    Availability,
}

/// Which screen shows: the session's list, or one torrent in detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    List,
    Detail(TorrentId),
}

#[derive(Debug)]
pub struct App {
    pub log_path: PathBuf,
    pub screen: Screen,
    /// The list's state (kept while a torrent's detail view is open).
    pub list: ListState,
    /// Whether there is a list to go back to (false for the single-torrent screen).
    has_list: bool,
    pub theme: Theme,
    /// The detail view's open tab.
    pub tab: Tab,
    /// The pane the navigation keys act on; follows the tab.
    pub focus: Focus,
    pub sort: SortKey,
    pub piece_view: PieceView,
    pub help_open: bool,
    /// The statistics view over the list (`i`), while it is open.
    pub stats: Option<super::stats::StatsView>,
    /// Selection is by address so it stays on the same peer when rows re-sort.
    pub selected: Option<PeerAddr>,
    /// Row index of the selection, used when the selected peer vanishes from the list.
    selected_row: usize,
    /// False until the user moves the selection: until then it stays on the top row, whoever
    /// is there (at startup the first peer listed is often one that has just failed).
    selection_moved: bool,
    /// The peer table's window, following the selection.
    pub peer_scroll: ListScroll,
    /// Unix seconds the loop read before this frame: the clock a fact's words are read at
    /// (the draw reads none, so a frame is a function of its data; 0 in tests).
    pub now: u64,
    /// How far the event log is scrolled back.
    pub log_scroll: TailScroll,
    /// Piece-map cursor, used when the piece pane has focus.
    pub piece_cursor: GridCursor,
    /// The Files tab's tree, folds and selection.
    pub files: FilesView,
    /// How many lines the Trackers tab is scrolled down.
    pub tracker_scroll: usize,
    pub history: History,
    /// Set once Quit was sent; the loop waits for the engine to wind down.
    pub quitting: bool,
    /// The engine's snapshot channel closed.
    pub engine_gone: bool,
    /// One line of feedback for the last command, shown in the footer.
    pub status: Option<String>,
    last: Option<Arc<Snapshot>>,
    /// Peer indices of `last` in display order.
    order: Vec<usize>,
    /// The screen size the scroll states are sized for.
    viewport: Rect,
    /// Piece-map cell stats for `last` at the grid size of the viewport.
    piece_stats: Vec<CellStats>,
}

impl App {
    pub fn new(log_path: PathBuf, theme: Theme) -> Self {
        App {
            log_path,
            screen: Screen::Detail(TorrentId::default()),
            list: ListState::default(),
            has_list: false,
            theme,
            tab: Tab::default(),
            focus: Focus::default(),
            sort: SortKey::default(),
            piece_view: PieceView::default(),
            help_open: false,
            stats: None,
            selected: None,
            selected_row: 0,
            selection_moved: false,
            now: 0,
            peer_scroll: ListScroll::default(),
            log_scroll: TailScroll::default(),
            piece_cursor: GridCursor::default(),
            files: FilesView::default(),
            tracker_scroll: 0,
            history: History::default(),
            quitting: false,
            engine_gone: false,
            status: None,
            last: None,
            order: Vec::new(),
            viewport: Rect::default(),
            piece_stats: Vec::new(),
        }
    }

    /// An app that starts on the session's list (`ttui`, `ttui attach`).
    pub fn for_session(log_path: PathBuf, theme: Theme) -> Self {
        App {
            screen: Screen::List,
            has_list: true,
            ..App::new(log_path, theme)
        }
    }

    /// Whether Esc in the detail view goes back to a list.
    pub fn has_list(&self) -> bool {
        self.has_list
    }

    /// Whether the open torrent fetches in order: its session line says, whoever set it (the
    /// RPC, the qBittorrent API, `ttui files --sequential`, this TUI); the single-torrent
    /// screen has no line and shows what `o` last asked for.
    pub fn sequential(&self) -> bool {
        let Screen::Detail(id) = self.screen else {
            return self.files.sequential;
        };
        self.list
            .line(id)
            .map_or(self.files.sequential, |l| l.sequential)
    }

    /// Which keys are live now (the loop maps events with `keys::from_event_in`).
    pub fn mode(&self) -> Mode {
        if self.stats.is_some() {
            return Mode::Stats;
        }
        if self.list.limits.is_some() {
            return Mode::Limits;
        }
        if self.list.moving.is_some() {
            return Mode::Prompt;
        }
        match self.screen {
            Screen::List if self.list.dialog.is_some() => Mode::Dialog,
            Screen::List if self.list.adding.is_some() => {
                self.list.adding.as_ref().map_or(Mode::List, |d| d.mode())
            }
            Screen::List if self.list.searching => Mode::Search,
            _ => self.screen_mode(),
        }
    }

    /// The screen's own keys, whatever line or dialog is on top (what help lists).
    pub fn screen_mode(&self) -> Mode {
        match self.screen {
            Screen::List => Mode::List,
            Screen::Detail(_) if self.tab == Tab::Files => Mode::Files,
            Screen::Detail(_) => Mode::Detail,
        }
    }

    /// Folds in a new session snapshot for the list.
    pub fn on_session(&mut self, snap: Arc<SessionSnapshot>) {
        self.list.on_session(snap);
    }

    /// Sizes the scroll states for a screen of `area` (call before drawing into it; cheap when
    /// the size is unchanged).
    pub fn set_viewport(&mut self, area: Rect) {
        if area == self.viewport {
            return;
        }
        self.viewport = area;
        let list = geometry::layout(area);
        self.list.table = list.table;
        self.list.set_page(list.page());
        let layout = screen_layout(area);
        self.peer_scroll
            .set_page(PeerPane::of(pane_inner(layout.peers)).page());
        self.log_scroll.set_page(log_rows(layout.log));
        // The Files tab: title and column titles above the rows.
        self.files
            .scroll
            .set_page(usize::from(layout.body.height.saturating_sub(2)).max(1));
        let grid = piece_inner(layout.pieces);
        self.piece_cursor
            .set_grid(usize::from(grid.width), grid_capacity(grid));
        self.refresh_piece_stats();
        self.log_scroll
            .set_back(self.log_scroll.back(), self.log_len());
        self.fix_selection();
    }

    /// Folds in a new snapshot: graph history, peer order, selection.
    pub fn on_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.history
            .record(snap.elapsed, snap.down_rate, snap.up_rate);
        sort_peers(&snap.peers, self.sort, &mut self.order);
        self.files.on_files(&snap.files);
        self.last = Some(snap);
        // One pass over the pieces per snapshot instead of per frame.
        self.refresh_piece_stats();
        self.fix_selection();
    }

    fn refresh_piece_stats(&mut self) {
        let Some(snap) = &self.last else {
            return;
        };
        let cells = grid_cells(self.piece_cursor.capacity(), snap.pieces.len());
        grid_stats(snap, cells, &mut self.piece_stats);
    }

    fn log_len(&self) -> usize {
        self.last.as_deref().map_or(0, |s| s.log.len())
    }

    /// Cached piece-map stats, only when `snap` is the snapshot they were made from and the
    /// grid still has `cells` cells.
    pub fn piece_stats_for(&self, snap: &Snapshot, cells: usize) -> Option<&[CellStats]> {
        let last = self.last.as_ref()?;
        (std::ptr::eq(Arc::as_ptr(last), snap) && cells > 0 && self.piece_stats.len() == cells)
            .then_some(self.piece_stats.as_slice())
    }

    /// The latest snapshot handed to [`App::on_snapshot`].
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.last.as_ref()
    }

    /// Display order of `snap.peers`: cached when `snap` is the snapshot the app last saw.
    pub fn order_for<'a>(&'a self, snap: &Snapshot) -> Cow<'a, [usize]> {
        match &self.last {
            Some(last) if std::ptr::eq(Arc::as_ptr(last), snap) => Cow::Borrowed(&self.order),
            _ => {
                let mut order = Vec::new();
                sort_peers(&snap.peers, self.sort, &mut order);
                Cow::Owned(order)
            }
        }
    }

    /// The selected peer's row in the last snapshot.
    pub fn selected_peer(&self) -> Option<&PeerRow> {
        let addr = self.selected?;
        self.last.as_ref()?.peers.iter().find(|p| p.addr == addr)
    }

    /// Applies one action as the single-torrent loop needs it: the command for its torrent,
    /// if any (the detail view's keys; see [`Self::handle`] for every screen).
    pub fn update(&mut self, action: Action) -> Option<Command> {
        self.handle(action).and_then(Effect::into_command)
    }

    /// Applies one action. Returns what the engine (or the loop) should do, if anything.
    pub fn handle(&mut self, action: Action) -> Option<Effect> {
        if action != Action::Redraw {
            self.status = None;
        }
        if self.help_open {
            match action {
                Action::ToggleHelp | Action::Back => self.help_open = false,
                Action::Quit => return self.quit(),
                _ => {}
            }
            return None;
        }
        if self.stats.is_some() {
            return self.in_stats(action);
        }
        match (action, self.screen) {
            (Action::Quit, _) => self.quit(),
            (Action::ToggleStats, Screen::List)
                if self.list.dialog.is_none()
                    && self.list.adding.is_none()
                    && !self.list.searching =>
            {
                let view = super::stats::StatsView::default();
                let by = view.by;
                self.stats = Some(view);
                Some(Effect::Session(vec![Request::Stats { by }]))
            }
            (Action::Redraw, _) => None,
            // The limits dialog and the move prompt sit on either screen, and want their
            // answer before help.
            (_, Screen::List) | (_, Screen::Detail(_))
                if self.list.limits.is_some() || self.list.moving.is_some() =>
            {
                let out = self.list.handle(action);
                self.status = out.status;
                out.effect
            }
            // `?` is text while typing a search, and a dialog wants its answer first.
            (Action::ToggleHelp, _) => {
                self.help_open = true;
                None
            }
            (_, Screen::List) => {
                let out = self.list.handle(action);
                self.status = out.status;
                if let Some(Effect::Open(id)) = out.effect {
                    self.open(id);
                }
                out.effect
            }
            (_, Screen::Detail(_)) => self.detail(action),
        }
    }

    /// A key while the statistics view is open.
    fn in_stats(&mut self, action: Action) -> Option<Effect> {
        let view = self.stats.as_mut()?;
        match action {
            Action::Quit => return self.quit(),
            Action::ToggleStats | Action::Back => self.stats = None,
            Action::Up | Action::WheelUp => view.step(-1),
            Action::Down | Action::WheelDown => view.step(1),
            Action::CycleStatsBy => {
                let by = view.cycle();
                return Some(Effect::Session(vec![Request::Stats { by }]));
            }
            _ => {}
        }
        None
    }

    /// What the statistics view asks again while it is open (every few seconds).
    pub fn stats_refresh(&self) -> Option<Request> {
        self.stats.as_ref().map(|v| Request::Stats { by: v.by })
    }

    /// A bracketed paste: text for the add dialog's field or the search line.
    pub fn paste(&mut self, text: &str) {
        if self.screen == Screen::List && !self.help_open {
            self.list.paste(text);
        }
    }

    /// Starts on `id`'s detail view with the list behind it (`ttui FILE`).
    pub fn start_on(&mut self, id: TorrentId) {
        self.open(id);
    }

    /// Switches to `id`'s detail view, starting it afresh (its rate history, peer selection
    /// and piece map belong to the torrent shown before).
    fn open(&mut self, id: TorrentId) {
        let viewport = self.viewport;
        let fresh = App::new(self.log_path.clone(), self.theme);
        let list = std::mem::take(&mut self.list);
        *self = App {
            screen: Screen::Detail(id),
            list,
            has_list: self.has_list,
            engine_gone: self.engine_gone,
            ..fresh
        };
        self.set_viewport(viewport);
    }

    /// The engine's answer to a request the session loop waited for.
    pub fn on_reply(&mut self, reply: Reply) {
        let status = match reply {
            Reply::Stats(answer) => {
                if let Some(v) = self.stats.as_mut() {
                    v.on_stats(answer);
                }
                None
            }
            Reply::Limits {
                ids,
                change,
                result,
            } => self.list.on_limits(&ids, change, result),
            Reply::Moved { id, dir, result } => Some(self.list.on_moved(id, &dir, result)),
            Reply::Removed {
                id,
                delete_data,
                result,
            } => Some(self.list.on_removed(id, delete_data, result)),
            Reply::Done { what, id, result } => result.err().map(|e| {
                format!(
                    "{what} of torrent #{}: {}",
                    id.0,
                    crate::fmt::outside(&e, 200)
                )
            }),
        };
        if status.is_some() {
            self.status = status;
        }
    }

    fn quit(&mut self) -> Option<Effect> {
        if self.quitting {
            return None;
        }
        self.quitting = true;
        self.help_open = false;
        Some(Effect::Quit)
    }
}

mod detail;

#[cfg(test)]
mod tests;
