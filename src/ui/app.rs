//! UI state and the one place it changes: [`App::update`] (keys) and [`App::on_snapshot`]
//! (engine data). No I/O, no clocks: time comes from the snapshot's `elapsed`, which keeps
//! tests deterministic.

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ratatui::style::{Color, Modifier, Style};

use crate::engine::api::{Command, PeerAddr, PeerRow, PeerStage, Snapshot, TorrentState};

use super::action::Action;
use super::widgets::pieces::{grid_cells, grid_stats, CellStats};

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
pub enum SortKey {
    /// Download rate, fastest first (then upload rate).
    #[default]
    Rate,
    /// Peer's share of the torrent, most first.
    Progress,
    Client,
    Address,
    /// Connected first, failed last.
    State,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Rate => SortKey::Progress,
            SortKey::Progress => SortKey::Client,
            SortKey::Client => SortKey::Address,
            SortKey::Address => SortKey::State,
            SortKey::State => SortKey::Rate,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Rate => "rate",
            SortKey::Progress => "progress",
            SortKey::Client => "client",
            SortKey::Address => "address",
            SortKey::State => "state",
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

/// Colours when allowed, otherwise only modifiers; every state that colour marks is also told
/// apart by a symbol or by text, so NO_COLOR loses nothing. Named ANSI colours only, so the
/// user's 16-colour palette decides what they look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// <https://no-color.org>: set and not empty disables colour.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }
    pub const fn colored() -> Self {
        Theme { color: true }
    }
    pub const fn plain() -> Self {
        Theme { color: false }
    }
    pub fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
    pub fn verified(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn in_flight(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn missing(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn failed(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn down(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn up(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
        } else {
            self.fg(Color::DarkGray)
        }
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    /// The selected table row: one neutral bar across the whole row whatever the peer's state,
    /// so a selected failed peer does not read as an alert (the row's cells drop their own
    /// colours under it). Without colour, reverse video does it.
    pub fn selected_row(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::colored()
    }
}

/// Samples kept for the graph: one a second for five minutes.
pub const HISTORY_LEN: usize = 300;
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Down/up rate history as (seconds since engine start, bytes/s) points, bounded.
#[derive(Debug, Clone, Default)]
pub struct History {
    down: VecDeque<(f64, f64)>,
    up: VecDeque<(f64, f64)>,
    last_sample: Option<Duration>,
    peak_down: f64,
    peak_up: f64,
}

impl History {
    /// Takes at most one sample per second of engine time, however often snapshots change.
    pub fn record(&mut self, at: Duration, down: f64, up: f64) {
        if let Some(last) = self.last_sample {
            if at < last {
                // The engine clock went backwards (a new engine): old points would be lies.
                *self = History::default();
            } else if at - last < SAMPLE_EVERY {
                return;
            }
        }
        self.last_sample = Some(at);
        let t = at.as_secs_f64();
        let clean = |r: f64| if r.is_finite() && r > 0.0 { r } else { 0.0 };
        push_bounded(&mut self.down, (t, clean(down)));
        push_bounded(&mut self.up, (t, clean(up)));
        self.peak_down = self.down.iter().map(|p| p.1).fold(0.0, f64::max);
        self.peak_up = self.up.iter().map(|p| p.1).fold(0.0, f64::max);
    }
    /// Points oldest first. Contiguous because `record` re-packs the ring after each push.
    pub fn down(&self) -> &[(f64, f64)] {
        self.down.as_slices().0
    }
    pub fn up(&self) -> &[(f64, f64)] {
        self.up.as_slices().0
    }
    pub fn peak_down(&self) -> f64 {
        self.peak_down
    }
    pub fn peak_up(&self) -> f64 {
        self.peak_up
    }
    pub fn len(&self) -> usize {
        self.down.len()
    }
    pub fn is_empty(&self) -> bool {
        self.down.is_empty()
    }
}

fn push_bounded(ring: &mut VecDeque<(f64, f64)>, point: (f64, f64)) {
    if ring.len() >= HISTORY_LEN {
        ring.pop_front();
    }
    ring.push_back(point);
    ring.make_contiguous();
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
    /// Log lines scrolled up from the newest (0 = follow the tail).
    pub log_scroll: usize,
    /// Piece map cursor (cell index) when the piece pane has focus.
    pub piece_cursor: usize,
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
    // Layout feedback written by `draw` (which only gets `&App`): page size for PgUp/PgDn, the
    // scroll offset that keeps the selection in view, and the piece map's width for ↑/↓.
    pub(crate) peer_page: Cell<usize>,
    pub(crate) peer_offset: Cell<usize>,
    pub(crate) piece_cols: Cell<usize>,
    pub(crate) piece_cells: Cell<usize>,
    pub(crate) piece_capacity: Cell<usize>,
    pub(crate) log_page: Cell<usize>,
    /// Piece-map cell stats for `last` at the grid size of the last frame.
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
            log_scroll: 0,
            piece_cursor: 0,
            history: History::default(),
            quitting: false,
            engine_gone: false,
            status: None,
            last: None,
            order: Vec::new(),
            peer_page: Cell::new(10),
            peer_offset: Cell::new(0),
            piece_cols: Cell::new(0),
            piece_cells: Cell::new(0),
            piece_capacity: Cell::new(0),
            log_page: Cell::new(5),
            piece_stats: Vec::new(),
        }
    }

    /// Folds in a new snapshot: graph history, peer order, selection.
    pub fn on_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.history
            .record(snap.elapsed, snap.down_rate, snap.up_rate);
        sort_peers(&snap.peers, self.sort, &mut self.order);
        // One pass over the pieces per snapshot instead of per frame.
        let cells = grid_cells(self.piece_capacity.get(), snap.pieces.len());
        grid_stats(&snap, cells, &mut self.piece_stats);
        self.last = Some(snap);
        self.fix_selection();
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

    /// Keeps a valid selection: the same peer if still listed, else the row at the same
    /// position, else nothing (empty list).
    fn fix_selection(&mut self) {
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
    }

    fn is_paused(&self) -> bool {
        matches!(
            self.last.as_deref().map(|s| &s.state),
            Some(TorrentState::Paused)
        )
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
        let page = self.peer_page.get().max(1) as isize;
        match action {
            Action::Quit => return self.quit(),
            Action::TogglePause => {
                // Before the first snapshot there is no state to toggle.
                self.last.as_ref()?;
                return Some(if self.is_paused() {
                    Command::Resume
                } else {
                    Command::Pause
                });
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
            Action::Home => {
                self.selection_moved = true;
                self.select_row(0);
            }
            Action::End => {
                self.selection_moved = true;
                self.select_row(self.order.len().saturating_sub(1));
            }
            _ => {}
        }
    }

    fn navigate_pieces(&mut self, action: Action) {
        let cells = self.piece_cells.get();
        if cells == 0 {
            return;
        }
        let cols = self.piece_cols.get().max(1);
        let last = cells - 1;
        let c = self.piece_cursor.min(last);
        self.piece_cursor = match action {
            Action::Left => c.saturating_sub(1),
            Action::Right => (c + 1).min(last),
            Action::Up => c.saturating_sub(cols),
            Action::Down => (c + cols).min(last),
            Action::PageUp => c.saturating_sub(cols * 4),
            Action::PageDown => (c + cols * 4).min(last),
            Action::Home => 0,
            Action::End => last,
            _ => c,
        };
    }

    fn navigate_log(&mut self, action: Action) {
        let lines = self.last.as_deref().map_or(0, |s| s.log.len());
        let page = self.log_page.get().max(1);
        let max = lines.saturating_sub(page);
        self.log_scroll = match action {
            Action::Up => self.log_scroll + 1,
            Action::Down => self.log_scroll.saturating_sub(1),
            Action::PageUp => self.log_scroll + page,
            Action::PageDown => self.log_scroll.saturating_sub(page),
            Action::Home => max,
            Action::End => 0,
            _ => self.log_scroll,
        }
        .min(max);
    }
}

/// Connected peers first, the dead last: the order a person scans in.
fn stage_rank(stage: PeerStage) -> u8 {
    match stage {
        PeerStage::Connected => 0,
        PeerStage::Handshaking => 1,
        PeerStage::Connecting => 2,
        PeerStage::Queued => 3,
        PeerStage::Disconnected => 4,
        PeerStage::Failed => 5,
    }
}

fn desc(a: f64, b: f64) -> Ordering {
    b.total_cmp(&a)
}

/// Fills `out` with indices of `peers` in display order. Ties fall back to state then address,
/// so the order is total and rows do not jump between equal peers.
pub fn sort_peers(peers: &[PeerRow], key: SortKey, out: &mut Vec<usize>) {
    out.clear();
    out.extend(0..peers.len());
    let by_state = |a: &PeerRow, b: &PeerRow| stage_rank(a.stage).cmp(&stage_rank(b.stage));
    out.sort_unstable_by(|&i, &j| {
        let (a, b) = (&peers[i], &peers[j]);
        let primary = match key {
            SortKey::Rate => desc(a.down_rate, b.down_rate).then(desc(a.up_rate, b.up_rate)),
            SortKey::Progress => desc(a.progress as f64, b.progress as f64),
            SortKey::Client => match (&a.client, &b.client) {
                (Some(x), Some(y)) => x
                    .chars()
                    .flat_map(char::to_lowercase)
                    .cmp(y.chars().flat_map(char::to_lowercase)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            SortKey::Address => a.addr.cmp(&b.addr),
            SortKey::State => by_state(a, b).then(desc(a.down_rate, b.down_rate)),
        };
        primary.then(by_state(a, b)).then(a.addr.cmp(&b.addr))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{ChokeFlags, PeerEnd, PeerSource, TorrentState};
    use std::net::SocketAddr;

    fn peer(last_octet: u8, stage: PeerStage, down: f64) -> PeerRow {
        PeerRow {
            addr: SocketAddr::from(([127, 0, 0, last_octet], 6881)),
            source: PeerSource::Tracker,
            client: None,
            id_client: None,
            peer_id: None,
            stage,
            end: stage.is_gone().then_some(PeerEnd::Refused),
            since: Duration::from_secs(1),
            flags: ChokeFlags::default(),
            down_rate: down,
            up_rate: 0.0,
            downloaded: 0,
            uploaded: 0,
            progress: 0.0,
            requests_in_flight: 0,
            hash_failures: 0,
            attempts: 1,
            handshake_time: None,
        }
    }

    fn snap(peers: Vec<PeerRow>, state: TorrentState, elapsed: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            id: Default::default(),
            name: "t".into(),
            info_hash: [0; 20],
            output: PathBuf::from("/tmp/t"),
            total_length: 100,
            piece_length: 10,
            num_pieces: 10,
            state,
            verified_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            down_rate: elapsed as f64 * 100.0,
            up_rate: 0.0,
            elapsed: Duration::from_secs(elapsed),
            pieces: vec![Default::default(); 10],
            availability: vec![0; 10],
            peers,
            trackers: vec![],
            log: vec![],
            listen_port: 0,
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

    #[test]
    fn pause_toggles_on_engine_state() {
        let mut app = App::new(PathBuf::new(), Theme::plain());
        assert_eq!(
            app.update(Action::TogglePause),
            None,
            "nothing to pause before a snapshot"
        );
        app.on_snapshot(snap(vec![], TorrentState::Downloading, 1));
        assert_eq!(app.update(Action::TogglePause), Some(Command::Pause));
        app.on_snapshot(snap(vec![], TorrentState::Paused, 2));
        assert_eq!(app.update(Action::TogglePause), Some(Command::Resume));
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
    fn history_samples_once_a_second_and_is_bounded() {
        let mut h = History::default();
        h.record(Duration::from_millis(0), 1.0, 2.0);
        h.record(Duration::from_millis(400), 50.0, 2.0);
        assert_eq!(h.len(), 1, "a second sample within 1 s is skipped");
        for s in 1..=400u64 {
            h.record(Duration::from_secs(s), s as f64, f64::NAN);
        }
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h.down().len(), HISTORY_LEN, "slice is the whole ring");
        assert_eq!(h.down().first().map(|p| p.0), Some(101.0));
        assert_eq!(h.peak_down(), 400.0);
        assert_eq!(h.peak_up(), 0.0, "NaN rates are recorded as 0");
        h.record(Duration::from_secs(5), 7.0, 0.0);
        assert_eq!(h.len(), 1, "clock going back starts a new history");
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
        app.log_page.set(4);
        app.update(Action::FocusNext);
        app.update(Action::FocusNext);
        assert_eq!(app.focus, Focus::Log);
        app.update(Action::Home);
        assert_eq!(app.log_scroll, 6);
        app.update(Action::PageUp);
        assert_eq!(app.log_scroll, 6);
        app.update(Action::Down);
        assert_eq!(app.log_scroll, 5);
        app.update(Action::End);
        assert_eq!(app.log_scroll, 0);
    }
}
