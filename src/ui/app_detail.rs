//! The detail view's half of [`App`]: the peer selection (by address, so it stays on its peer
//! when rows re-sort) and the keys of the peer, piece and log panes.

use crate::engine::api::{Command, PeerRow};

use crate::ui::action::{Action, Effect};
use crate::ui::sort::sort_peers;

use super::{App, Focus, PieceView, Screen};

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

    pub(super) fn detail(&mut self, action: Action) -> Option<Effect> {
        let page = self.peer_scroll.page() as isize;
        match action {
            Action::Back if self.has_list => {
                self.screen = Screen::List;
                return Some(Effect::Close);
            }
            Action::TogglePause => {
                // Before the first snapshot there is no torrent to pause. The engine chooses
                // between pausing and resuming against its own state: the last snapshot may
                // predate a press still on its way, and choosing here could undo it.
                self.last.as_ref()?;
                return Some(Effect::Torrent(Command::TogglePause));
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
            _ => {}
        }
        None
    }

    pub(super) fn navigate_peers(&mut self, action: Action, page: isize) {
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

    pub(super) fn navigate_pieces(&mut self, action: Action) {
        let pieces = self.last.as_deref().map_or(0, |s| s.pieces.len());
        self.piece_cursor.navigate(action, pieces);
    }

    pub(super) fn navigate_log(&mut self, action: Action) {
        let len = self.log_len();
        self.log_scroll.navigate(action, len);
    }
}
