//! UI state and the one place it changes: [`App::update`] (keys) and [`App::on_snapshot`]
//! (engine data). No I/O, no clocks: time comes from the snapshot's `elapsed`, which keeps
//! tests deterministic.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use ratatui::layout::Rect;

use crate::engine::api::{Command, PeerAddr, PeerRow, Snapshot};

use super::action::Action;
use super::grid::{grid_cells, grid_stats, CellStats};
use super::history::History;
use super::layout::{grid_capacity, log_rows, pane_inner, piece_inner, screen_layout, PeerPane};
use super::scroll::{GridCursor, ListScroll, TailScroll};
use super::sort::{sort_peers, SortKey};
use super::theme::Theme;

/// Which pane the navigation keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Peers,
    Pieces,
    Log,
}

impl Focus {
    fn next(self) -> Self {
        match self {
            Focus::Peers => Focus::Pieces,
            Focus::Pieces => Focus::Log,
            Focus::Log => Focus::Peers,
        }
    }
    fn prev(self) -> Self {
        match self {
            Focus::Peers => Focus::Log,
            Focus::Pieces => Focus::Peers,
            Focus::Log => Focus::Pieces,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PieceView {
    /// What we have: missing / in flight / verified / failed.
    #[default]
    State,
    /// How many connected peers have each piece.
    Availability,
}

#[derive(Debug)]
pub struct App {
    pub log_path: PathBuf,
    pub theme: Theme,
    pub focus: Focus,
    pub sort: SortKey,
    pub piece_view: PieceView,
    pub help_open: bool,
    /// Selection is by address so it stays on the same peer when rows re-sort.
    pub selected: Option<PeerAddr>,
    /// Row index of the selection, used when the selected peer vanishes from the list.
    selected_row: usize,
    /// False until the user moves the selection: until then it stays on the top row, whoever
    /// is there (at startup the first peer listed is often one that has just failed).
    selection_moved: bool,
    /// The peer table's window, following the selection.
    pub peer_scroll: ListScroll,
    /// How far the event log is scrolled back.
    pub log_scroll: TailScroll,
    /// Piece-map cursor, used when the piece pane has focus.
    pub piece_cursor: GridCursor,
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
            theme,
            focus: Focus::default(),
            sort: SortKey::default(),
            piece_view: PieceView::default(),
            help_open: false,
            selected: None,
            selected_row: 0,
            selection_moved: false,
            peer_scroll: ListScroll::default(),
            log_scroll: TailScroll::default(),
            piece_cursor: GridCursor::default(),
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

    /// Sizes the scroll states for a screen of `area` (call before drawing into it; cheap when
    /// the size is unchanged).
    pub fn set_viewport(&mut self, area: Rect) {
        if area == self.viewport {
            return;
        }
        self.viewport = area;
        let layout = screen_layout(area);
        self.peer_scroll
            .set_page(PeerPane::of(pane_inner(layout.peers)).page());
        self.log_scroll.set_page(log_rows(layout.log));
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

    fn peers(&self) -> &[PeerRow] {
        self.last
            .as_deref()
            .map(|s| s.peers.as_slice())
            .unwrap_or(&[])
    }

    fn selected_position(&self) -> Option<usize> {
        let addr = self.selected?;
        let peers = self.peers();
        self.order
            .iter()
            .position(|&i| peers.get(i).is_some_and(|p| p.addr == addr))
    }

    /// Keeps a valid selection (see [`Self::reselect`]) and the table's window on it.
    fn fix_selection(&mut self) {
        self.reselect();
        self.follow_selection();
    }

    fn follow_selection(&mut self) {
        let selected = self.selected_position();
        self.peer_scroll.follow(selected, self.order.len());
    }

    /// The same peer if still listed, else the row at the same position, else nothing (empty
    /// list).
    fn reselect(&mut self) {
        if !self.selection_moved {
            self.selected = None;
            self.selected_row = 0;
            if !self.order.is_empty() {
                self.select_row(0);
            }
            return;
        }
        if let Some(pos) = self.selected_position() {
            self.selected_row = pos;
            return;
        }
        if self.order.is_empty() {
            self.selected = None;
            self.selected_row = 0;
            return;
        }
        let row = self.selected_row.min(self.order.len() - 1);
        self.select_row(row);
    }

    fn select_row(&mut self, row: usize) {
        let peers = self.peers();
        let addr = self
            .order
            .get(row)
            .and_then(|&i| peers.get(i))
            .map(|p| p.addr);
        if let Some(addr) = addr {
            self.selected = Some(addr);
            self.selected_row = row;
        }
    }

    fn move_selection(&mut self, delta: isize) {
        if self.order.is_empty() {
            return;
        }
        self.selection_moved = true;
        let cur = self.selected_position().unwrap_or(0) as isize;
        let last = self.order.len() as isize - 1;
        self.select_row((cur + delta).clamp(0, last) as usize);
        self.follow_selection();
    }

    /// Applies one action. Returns the engine command it asks for, if any.
    pub fn update(&mut self, action: Action) -> Option<Command> {
        if action != Action::Redraw {
            self.status = None;
        }
        if self.help_open {
            match action {
                Action::ToggleHelp | Action::CloseHelp => self.help_open = false,
                Action::Quit => return self.quit(),
                _ => {}
            }
            return None;
        }
        let page = self.peer_scroll.page() as isize;
        match action {
            Action::Quit => return self.quit(),
            Action::TogglePause => {
                // Before the first snapshot there is no torrent to pause. The engine chooses
                // between pausing and resuming against its own state: the last snapshot may
                // predate a press still on its way, and choosing here could undo it.
                self.last.as_ref()?;
                return Some(Command::TogglePause);
            }
            Action::DropPeer => {
                let peer = self.selected_peer()?;
                if peer.stage.is_gone() {
                    self.status = Some(format!("{} is not connected", peer.addr));
                    return None;
                }
                let addr = peer.addr;
                self.status = Some(format!("dropping {addr}"));
                return Some(Command::DropPeer(addr));
            }
            Action::BanPeer => {
                let addr = self.selected_peer()?.addr;
                self.status = Some(format!("banned {addr} for this session"));
                return Some(Command::BanPeer(addr));
            }
            Action::WheelUp => self.move_selection(-3),
            Action::WheelDown => self.move_selection(3),
            Action::CycleSort => {
                self.sort = self.sort.next();
                if let Some(last) = &self.last {
                    sort_peers(&last.peers, self.sort, &mut self.order);
                }
                self.fix_selection();
            }
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::TogglePieceView => {
                self.piece_view = match self.piece_view {
                    PieceView::State => PieceView::Availability,
                    PieceView::Availability => PieceView::State,
                }
            }
            Action::ToggleHelp => self.help_open = true,
            Action::CloseHelp | Action::Redraw => {}
            Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End => match self.focus {
                Focus::Peers => self.navigate_peers(action, page),
                Focus::Pieces => self.navigate_pieces(action),
                Focus::Log => self.navigate_log(action),
            },
        }
        None
    }

    fn quit(&mut self) -> Option<Command> {
        if self.quitting {
            return None;
        }
        self.quitting = true;
        self.help_open = false;
        Some(Command::Quit)
    }

    fn navigate_peers(&mut self, action: Action, page: isize) {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-page),
            Action::PageDown => self.move_selection(page),
            Action::Home => self.move_selection(isize::MIN / 2),
            Action::End => self.move_selection(isize::MAX / 2),
            _ => {}
        }
    }

    fn navigate_pieces(&mut self, action: Action) {
        let pieces = self.last.as_deref().map_or(0, |s| s.pieces.len());
        self.piece_cursor.navigate(action, pieces);
    }

    fn navigate_log(&mut self, action: Action) {
        let len = self.log_len();
        self.log_scroll.navigate(action, len);
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
