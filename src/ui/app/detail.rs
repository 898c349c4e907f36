//! The detail view's half of [`App`]: the peer selection (by address, so it stays on its peer
//! when rows re-sort) and the keys of the peer, piece and log panes.

use crate::engine::api::{Command, FilePriority, PeerRow};

use crate::ui::action::{Action, Effect};
use crate::ui::layout::{pane_inner, screen_layout, PeerPane};
use crate::ui::sort::sort_peers;
use crate::ui::tabs::{tab_at, Tab};
use crate::ui::widgets;
use crate::ui::widgets::tab_bar::counts;

use super::{App, PieceView, Screen};

impl App {
    pub(super) fn peers(&self) -> &[PeerRow] {
        self.last
            .as_deref()
            .map(|s| s.peers.as_slice())
            .unwrap_or(&[])
    }

    pub(super) fn selected_position(&self) -> Option<usize> {
        let addr = self.selected?;
        let peers = self.peers();
        self.order
            .iter()
            .position(|&i| peers.get(i).is_some_and(|p| p.addr == addr))
    }

    /// Keeps a valid selection (see [`Self::reselect`]) and the table's window on it.
    pub(super) fn fix_selection(&mut self) {
        self.reselect();
        self.follow_selection();
    }

    pub(super) fn follow_selection(&mut self) {
        let selected = self.selected_position();
        self.peer_scroll.follow(selected, self.order.len());
    }

    /// The same peer if still listed, else the row at the same position, else nothing (empty
    /// list).
    pub(super) fn reselect(&mut self) {
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

    pub(super) fn select_row(&mut self, row: usize) {
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

    pub(super) fn move_selection(&mut self, delta: isize) {
        if self.order.is_empty() {
            return;
        }
        self.selection_moved = true;
        let cur = self.selected_position().unwrap_or(0) as isize;
        let last = self.order.len() as isize - 1;
        self.select_row((cur + delta).clamp(0, last) as usize);
        self.follow_selection();
    }

    /// One key on a torrent's screen: a command for the torrent, or a move in the view.
    pub(super) fn detail(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Back if self.has_list => {
                self.screen = Screen::List;
                Some(Effect::Close)
            }
            Action::TogglePause
            | Action::DropPeer
            | Action::BanPeer
            | Action::SetLimits
            | Action::ToggleTurtle
            | Action::SetPriority(_)
            | Action::ToggleSequential
            | Action::Play => self.detail_command(action),
            _ => {
                self.detail_view(action);
                None
            }
        }
    }

    /// What the torrent (or the session's limits) should do, and the footer line saying so.
    fn detail_command(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::TogglePause => {
                // Before the first snapshot there is no torrent to pause. The engine chooses
                // between pausing and resuming against its own state: the last snapshot may
                // predate a press still on its way, and choosing here could undo it.
                self.last.as_ref()?;
                return Some(Effect::Torrent(Command::TogglePause));
            }
            Action::DropPeer | Action::BanPeer if self.tab != Tab::Peers => {
                self.status = Some("pick the peer on the Peers tab (2) first".into());
            }
            Action::DropPeer => {
                let peer = self.selected_peer()?;
                if peer.stage.is_gone() {
                    self.status = Some(format!("{} is not connected", peer.addr));
                    return None;
                }
                let addr = peer.addr;
                self.status = Some(format!("dropping {addr}"));
                return Some(Effect::Torrent(Command::DropPeer(addr)));
            }
            Action::BanPeer => {
                let addr = self.selected_peer()?.addr;
                self.status = Some(format!("banned {addr} for this session"));
                return Some(Effect::Torrent(Command::BanPeer(addr)));
            }
            // The session's requests: the single-torrent screen has no session to ask.
            Action::SetLimits | Action::ToggleTurtle if !self.has_list => {
                self.status = Some("rate limits: in a session only (ttui, ttui attach)".into());
            }
            Action::SetLimits => {
                let Screen::Detail(id) = self.screen else {
                    return None;
                };
                let out = self.list.open_limits(vec![id]);
                self.status = out.status;
                return out.effect;
            }
            Action::ToggleTurtle => {
                let out = self.list.toggle_turtle();
                self.status = out.status;
                return out.effect;
            }
            Action::SetPriority(p) => return self.set_priority(p),
            Action::Play => return self.play(),
            Action::ToggleSequential => {
                let on = !self.sequential();
                self.files.sequential = on;
                self.status = Some(if on {
                    "downloading in order (streaming)".into()
                } else {
                    "downloading rarest first".into()
                });
                return Some(Effect::Torrent(Command::SetSequential(on)));
            }
            _ => {}
        }
        None
    }

    /// Tabs, sorting and movement within the tab shown.
    fn detail_view(&mut self, action: Action) {
        let page = self.peer_scroll.page() as isize;
        match action {
            Action::NextTab => self.show_tab(self.tab.next()),
            Action::PrevTab => self.show_tab(self.tab.prev()),
            Action::ShowTab(i) => {
                if let Some(t) = Tab::nth(usize::from(i)) {
                    self.show_tab(t);
                }
            }
            Action::Click { column, row } => self.click(column, row),
            Action::CycleSort => {
                self.sort = self.sort.next();
                if let Some(last) = &self.last {
                    sort_peers(&last.peers, self.sort, &mut self.order);
                }
                self.fix_selection();
            }
            Action::TogglePieceView => {
                self.piece_view = match self.piece_view {
                    PieceView::State => PieceView::Availability,
                    PieceView::Availability => PieceView::State,
                }
            }
            Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End
            | Action::WheelUp
            | Action::WheelDown
            | Action::ToggleFold => match self.tab {
                Tab::Overview => {}
                Tab::Peers => self.navigate_peers(action, page),
                Tab::Pieces => self.navigate_pieces(action),
                Tab::Files => self.files.navigate(action),
                Tab::Trackers => self.navigate_trackers(action),
                Tab::Log => self.navigate_log(action),
            },
            _ => {}
        }
    }

    pub(super) fn navigate_peers(&mut self, action: Action, page: isize) {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-page),
            Action::PageDown => self.move_selection(page),
            Action::WheelUp => self.move_selection(-3),
            Action::WheelDown => self.move_selection(3),
            Action::Home => self.move_selection(isize::MIN / 2),
            Action::End => self.move_selection(isize::MAX / 2),
            _ => {}
        }
    }

    pub(super) fn navigate_pieces(&mut self, action: Action) {
        let action = match action {
            Action::WheelUp => Action::Up,
            Action::WheelDown => Action::Down,
            other => other,
        };
        let pieces = self.last.as_deref().map_or(0, |s| s.pieces.len());
        self.piece_cursor.navigate(action, pieces);
    }

    pub(super) fn navigate_log(&mut self, action: Action) {
        let action = match action {
            Action::WheelUp => Action::Up,
            Action::WheelDown => Action::Down,
            other => other,
        };
        let len = self.log_len();
        self.log_scroll.navigate(action, len);
    }

    pub(super) fn show_tab(&mut self, tab: Tab) {
        self.tab = tab;
        if let Some(focus) = tab.focus() {
            self.focus = focus;
        }
    }

    /// Lines the Trackers tab can scroll down by at the current screen size.
    fn tracker_lines_below(&self) -> usize {
        let Some(snap) = self.last.as_deref() else {
            return 0;
        };
        let inner = pane_inner(screen_layout(self.viewport).body);
        let lines = widgets::trackers::lines(snap, &self.theme, usize::from(inner.width));
        lines.len().saturating_sub(usize::from(inner.height))
    }

    pub(super) fn navigate_trackers(&mut self, action: Action) {
        let page = usize::from(screen_layout(self.viewport).body.height.max(2) - 1);
        let max = self.tracker_lines_below();
        let s = self.tracker_scroll.min(max);
        self.tracker_scroll = match action {
            Action::Up => s.saturating_sub(1),
            Action::Down => s + 1,
            Action::WheelUp => s.saturating_sub(3),
            Action::WheelDown => s + 3,
            Action::PageUp => s.saturating_sub(page),
            Action::PageDown => s + page,
            Action::Home => 0,
            Action::End => max,
            _ => s,
        }
        .min(max);
    }

    /// A click on the tab bar opens that tab; on a row of the peer table or the file tree,
    /// selects it.
    fn click(&mut self, x: u16, y: u16) {
        let l = screen_layout(self.viewport);
        let tab = match self.last.as_deref() {
            Some(snap) => tab_at(l.tabs, x, y, &counts(snap)),
            None => tab_at(l.tabs, x, y, &|_| None),
        };
        if let Some(tab) = tab {
            return self.show_tab(tab);
        }
        let inner = pane_inner(l.body);
        // The first row of both tables is their column titles.
        if y <= inner.y || y >= inner.bottom() || x < inner.x || x >= inner.right() {
            return;
        }
        let at = usize::from(y - inner.y - 1);
        match self.tab {
            Tab::Peers if y < inner.y + PeerPane::of(inner).table_h => {
                let row = self.peer_scroll.top() + at;
                if row < self.order.len() {
                    self.selection_moved = true;
                    self.select_row(row);
                    self.follow_selection();
                }
            }
            Tab::Files => {
                let top = self.files.scroll.top();
                self.files.select(top + at);
            }
            _ => {}
        }
    }

    /// The priority for the selected file, or every file in the selected folder.
    fn set_priority(&mut self, priority: FilePriority) -> Option<Effect> {
        let files = self.files.targets();
        let node = self.files.selected_node()?;
        let name = crate::fmt::outside(&node.name, 40).into_owned();
        self.status = Some(if node.is_folder() {
            format!("{name}/ ({} files): {priority}", files.len())
        } else {
            format!("{name}: {priority}")
        });
        Some(Effect::Torrent(Command::SetFilePriority {
            files,
            priority,
        }))
    }

    /// `P` on the Files tab: the selected file goes to the screen's player, which says how
    /// it went on the footer line.
    fn play(&mut self) -> Option<Effect> {
        if !self.has_list {
            self.status = Some("play: in a session only (ttui, ttui attach)".into());
            return None;
        }
        let Screen::Detail(id) = self.screen else {
            return None;
        };
        let node = self.files.selected_node()?;
        let name = crate::fmt::outside(&node.name, 40).into_owned();
        let Some(file) = node.file else {
            self.status = Some(format!("{name}/ is a folder: pick a file to play"));
            return None;
        };
        self.status = Some(format!("{name}: starting the player"));
        Some(Effect::Play { id, file })
    }
}
