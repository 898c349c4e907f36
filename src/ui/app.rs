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
mod tests {
    use super::*;
    use crate::engine::api::{PeerEnd, PeerSource, PeerStage, TorrentState};
    use std::net::SocketAddr;
    use std::time::Duration;

    fn peer(last_octet: u8, stage: PeerStage, down: f64) -> PeerRow {
        PeerRow {
            end: stage.is_gone().then_some(PeerEnd::Refused),
            since: Duration::from_secs(1),
            down_rate: down,
            attempts: 1,
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, last_octet], 6881)),
                PeerSource::Tracker,
                stage,
            )
        }
    }

    fn snap(peers: Vec<PeerRow>, state: TorrentState, elapsed: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            state,
            down_rate: elapsed as f64 * 100.0,
            elapsed: Duration::from_secs(elapsed),
            peers,
            ..Snapshot::empty("t", 100, 10)
        })
    }

    fn addr(o: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, o], 6881))
    }

    #[test]
    fn selection_follows_peer_across_resort() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let peers = vec![
            peer(1, PeerStage::Connected, 10.0),
            peer(2, PeerStage::Connected, 20.0),
        ];
        app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
        // Fastest first: .2 is on top and selected by default.
        assert_eq!(app.selected, Some(addr(2)));
        app.update(Action::Down);
        assert_eq!(app.selected, Some(addr(1)));
        // Rates swap: .1 moves to the top, the selection goes with it.
        let peers = vec![
            peer(1, PeerStage::Connected, 30.0),
            peer(2, PeerStage::Connected, 20.0),
        ];
        app.on_snapshot(snap(peers, TorrentState::Downloading, 2));
        assert_eq!(app.selected, Some(addr(1)));
        assert_eq!(app.selected_position(), Some(0));
    }

    #[test]
    fn selection_stays_on_top_row_until_the_user_moves_it() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let peers = vec![
            peer(1, PeerStage::Failed, 0.0),
            peer(2, PeerStage::Connected, 0.0),
        ];
        // Equal rates: connected sorts above failed.
        app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
        assert_eq!(app.selected, Some(addr(2)));
        // A faster newcomer takes the top row and the untouched cursor goes with the row.
        let peers = vec![
            peer(1, PeerStage::Failed, 0.0),
            peer(2, PeerStage::Connected, 0.0),
            peer(3, PeerStage::Connected, 50.0),
        ];
        app.on_snapshot(snap(peers.clone(), TorrentState::Downloading, 2));
        assert_eq!(app.selected, Some(addr(3)));
        app.update(Action::CycleSort);
        app.update(Action::CycleSort);
        app.update(Action::CycleSort);
        assert_eq!(app.sort, SortKey::Address);
        assert_eq!(app.selected, Some(addr(1)), "top row of the new order");
        // Once moved, it follows the peer.
        app.update(Action::Down);
        assert_eq!(app.selected, Some(addr(2)));
        app.update(Action::CycleSort);
        assert_eq!(app.selected, Some(addr(2)));
        app.on_snapshot(snap(peers, TorrentState::Downloading, 3));
        assert_eq!(app.selected, Some(addr(2)));
    }

    #[test]
    fn vanished_selection_falls_to_same_row() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let peers = (1..=3)
            .map(|i| peer(i, PeerStage::Connected, 0.0))
            .collect();
        app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
        app.update(Action::End);
        assert_eq!(app.selected, Some(addr(3)));
        let peers = (1..=2)
            .map(|i| peer(i, PeerStage::Connected, 0.0))
            .collect();
        app.on_snapshot(snap(peers, TorrentState::Downloading, 2));
        assert_eq!(app.selected, Some(addr(2)));
        app.on_snapshot(snap(vec![], TorrentState::Downloading, 3));
        assert_eq!(app.selected, None);
        assert_eq!(app.update(Action::DropPeer), None);
    }

    /// What the engine does with a pause command: `paused` after it.
    fn engine_applies(paused: bool, cmd: &Command) -> bool {
        match cmd {
            Command::Pause => true,
            Command::Resume => false,
            Command::TogglePause => !paused,
            _ => paused,
        }
    }

    #[test]
    fn two_quick_pause_presses_end_where_they_started() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        assert_eq!(
            app.update(Action::TogglePause),
            None,
            "nothing to pause before a snapshot"
        );
        // Both presses land before the engine publishes the paused state: the snapshot the
        // app holds says "downloading" for both.
        app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
        let sent: Vec<Command> = (0..2)
            .filter_map(|_| app.update(Action::TogglePause))
            .collect();
        assert_eq!(sent.len(), 2);
        let paused = sent.iter().fold(false, engine_applies);
        assert!(!paused, "two presses must cancel out, sent {sent:?}");
        let once = sent.iter().take(1).fold(false, engine_applies);
        assert!(once, "one press pauses");
    }

    #[test]
    fn drop_and_ban_target_selected_peer() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let peers = vec![
            peer(1, PeerStage::Connected, 5.0),
            peer(2, PeerStage::Failed, 0.0),
        ];
        app.on_snapshot(snap(peers, TorrentState::Downloading, 1));
        assert_eq!(
            app.update(Action::DropPeer),
            Some(Command::DropPeer(addr(1)))
        );
        app.update(Action::Down);
        assert_eq!(
            app.update(Action::DropPeer),
            None,
            "a failed peer has no connection to drop"
        );
        assert!(app
            .status
            .as_deref()
            .is_some_and(|s| s.contains("not connected")));
        assert_eq!(app.update(Action::BanPeer), Some(Command::BanPeer(addr(2))));
    }

    #[test]
    fn help_swallows_keys_but_quit_works() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
        app.update(Action::ToggleHelp);
        assert!(app.help_open);
        assert_eq!(app.update(Action::TogglePause), None);
        app.update(Action::CloseHelp);
        assert!(!app.help_open);
        app.update(Action::ToggleHelp);
        assert_eq!(app.update(Action::Quit), Some(Command::Quit));
        assert_eq!(app.update(Action::Quit), None, "Quit is sent once");
    }

    #[test]
    fn sort_cycles_through_all_keys_and_orders_state() {
        let mut key = SortKey::Rate;
        let mut seen = vec![];
        for _ in 0..5 {
            seen.push(key);
            key = key.next();
        }
        assert_eq!(key, SortKey::Rate);
        seen.dedup();
        assert_eq!(seen.len(), 5);

        let peers = vec![
            peer(1, PeerStage::Failed, 0.0),
            peer(2, PeerStage::Queued, 0.0),
            peer(3, PeerStage::Connected, 0.0),
        ];
        let mut order = vec![];
        sort_peers(&peers, SortKey::State, &mut order);
        assert_eq!(order, vec![2, 1, 0]);
        sort_peers(&peers, SortKey::Address, &mut order);
        assert_eq!(order, vec![0, 1, 2]);
    }

    #[test]
    fn log_scroll_is_clamped() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        let mut s = (*snap(vec![], TorrentState::Downloading, 1)).clone();
        s.log = (0..10)
            .map(|i| crate::engine::api::LogLine {
                at: Duration::from_secs(i),
                level: crate::engine::api::LogLevel::Info,
                text: format!("line {i}"),
            })
            .collect();
        app.on_snapshot(Arc::new(s));
        app.log_scroll.set_page(4);
        app.update(Action::FocusNext);
        app.update(Action::FocusNext);
        assert_eq!(app.focus, Focus::Log);
        app.update(Action::Home);
        assert_eq!(app.log_scroll.back(), 6);
        app.update(Action::PageUp);
        assert_eq!(app.log_scroll.back(), 6);
        app.update(Action::Down);
        assert_eq!(app.log_scroll.back(), 5);
        app.update(Action::End);
        assert_eq!(app.log_scroll.back(), 0);
    }
}
