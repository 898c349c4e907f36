//! The list's UI state and the one place it changes: which torrents show in what order, the
//! selection (by id, so it stays on its torrent when rows re-sort), the marks, the search line,
//! the remove dialog, and the limits dialog and move prompt (their keys live beside their
//! drawing, in `limits_dialog` and `move_prompt`; the commands on torrents in `state_commands`).
//! No I/O; [`ListState::handle`] answers what the engine should do.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use ratatui::layout::Rect;

use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine};
use crate::ui::action::{Action, Effect, Request};
use crate::ui::scroll::ListScroll;

use super::order::{counts, order, Sort};
use super::shown::{Query, Shown};
use super::words::Filter;

/// The most characters a search may hold (a paste into the search line stops there).
const SEARCH_MAX: usize = 200;

/// The remove confirmation: which torrents, and the one name when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveDialog {
    pub ids: Vec<TorrentId>,
    pub name: Option<String>,
}

#[derive(Debug, Default)]
pub struct ListState {
    pub filter: Filter,
    /// `l`: only the torrents carrying this label (None: every torrent).
    pub label: Option<String>,
    pub sort: Sort,
    pub search: String,
    /// Keys go to the search line.
    pub searching: bool,
    pub marked: BTreeSet<TorrentId>,
    pub selected: Option<TorrentId>,
    /// Row of the selection, used when the selected torrent leaves the list.
    selected_row: usize,
    pub scroll: ListScroll,
    pub dialog: Option<RemoveDialog>,
    /// `L`: the rate limits dialog (also over the detail view).
    pub limits: Option<super::limits_dialog::LimitsDialog>,
    /// `m`: the folder to move the data to.
    pub moving: Option<super::move_prompt::MovePrompt>,
    /// The add dialog, while open (`a`; see `add_state.rs`).
    pub adding: Option<super::add_state::AddDialog>,
    /// Where the table (column titles, then rows) is on screen, for the mouse.
    pub table: Rect,
    /// Names of the torrents asked to be removed, for the answer's line: the list the session
    /// publishes may drop a torrent before its removal's answer arrives.
    pub(super) removing: std::collections::BTreeMap<TorrentId, String>,
    last: Option<Arc<SessionSnapshot>>,
    /// The rows of `last.torrents` shown, in order, and the filter counts: kept between
    /// snapshots and keys (see `shown.rs`).
    shown: Shown,
}

/// What a key on the list did: the engine request, if any, and a line for the footer.
#[derive(Debug, Default, PartialEq)]
pub struct KeyOutcome {
    pub effect: Option<Effect>,
    pub status: Option<String>,
}

impl KeyOutcome {
    fn effect(effect: Effect) -> Self {
        KeyOutcome {
            effect: Some(effect),
            status: None,
        }
    }
    pub(super) fn say(status: impl Into<String>) -> Self {
        KeyOutcome {
            effect: None,
            status: Some(status.into()),
        }
    }
}

impl ListState {
    /// Folds in a new session snapshot: order, filter counts, marks, selection.
    pub fn on_session(&mut self, snap: Arc<SessionSnapshot>) {
        let query = self.query();
        match self.last.take() {
            Some(old) => self.shown.on_lines(&old.torrents, &snap.torrents, &query),
            None => self.shown.ask(&snap.torrents, &query),
        }
        self.last = Some(snap);
        if !self.marked.is_empty() {
            let ids: BTreeSet<TorrentId> = self.shown.ids().iter().copied().collect();
            self.marked.retain(|id| ids.contains(id));
        }
        self.reselect();
    }

    /// What the list is asked to show now.
    fn query(&self) -> Query {
        Query {
            filter: self.filter,
            label: self.label.clone(),
            sort: self.sort,
            search: self.search.clone(),
        }
    }

    /// The rows shown: indices into the last snapshot's lines, in order.
    fn order(&self) -> &[usize] {
        self.shown.rows()
    }

    pub fn session(&self) -> Option<&Arc<SessionSnapshot>> {
        self.last.as_ref()
    }

    fn lines(&self) -> &[Arc<TorrentLine>] {
        self.last.as_deref().map_or(&[], |s| s.torrents.as_slice())
    }

    fn reorder(&mut self) {
        let query = self.query();
        let lines = self
            .last
            .as_deref()
            .map_or(&[][..], |s| s.torrents.as_slice());
        self.shown.ask(lines, &query);
        self.reselect();
    }

    /// Display order of `snap.torrents`: cached when `snap` is the snapshot last folded in.
    pub fn order_for<'a>(&'a self, snap: &SessionSnapshot) -> Cow<'a, [usize]> {
        match &self.last {
            Some(last) if std::ptr::eq(Arc::as_ptr(last), snap) => Cow::Borrowed(self.order()),
            _ => {
                let mut out = Vec::new();
                order(
                    &snap.torrents,
                    (self.filter, self.label.as_deref()),
                    &self.search,
                    self.sort,
                    &mut out,
                );
                Cow::Owned(out)
            }
        }
    }

    /// How many torrents each filter admits, in [`Filter::ALL`] order.
    pub fn counts_for(&self, snap: &SessionSnapshot) -> [usize; 6] {
        match &self.last {
            Some(last) if std::ptr::eq(Arc::as_ptr(last), snap) => self.shown.counts(),
            _ => counts(&snap.torrents, self.label.as_deref()),
        }
    }

    pub fn set_page(&mut self, rows: usize) {
        self.scroll.set_page(rows);
        self.follow();
    }

    /// The selected torrent's line in the last snapshot.
    pub fn selected_line(&self) -> Option<&TorrentLine> {
        self.line(self.selected?)
    }

    /// Whether `lines` are the last snapshot's.
    fn is_last(&self, lines: &[Arc<TorrentLine>]) -> bool {
        std::ptr::eq(lines, self.lines())
    }

    /// Row of the selection in `order` (of the snapshot whose lines are `lines`).
    pub fn position_in(&self, lines: &[Arc<TorrentLine>], order: &[usize]) -> Option<usize> {
        let id = self.selected?;
        if !self.is_last(lines) {
            return order
                .iter()
                .position(|&i| lines.get(i).is_some_and(|t| t.id == id));
        }
        // Of the last snapshot: found by its index among the ids kept in one array, the row
        // it had tried first, rather than reading each row's line (a cache miss each).
        let at = self.shown.index_of(id)?;
        if order.get(self.selected_row) == Some(&at) {
            return Some(self.selected_row);
        }
        order.iter().position(|&i| i == at)
    }

    fn position(&self) -> Option<usize> {
        self.position_in(self.lines(), self.order())
    }

    fn follow(&mut self) {
        let pos = self.position();
        self.scroll.follow(pos, self.order().len());
    }

    /// The same torrent if still shown, else the row where it was, else nothing.
    fn reselect(&mut self) {
        if let Some(pos) = self.position() {
            self.selected_row = pos;
        } else if self.order().is_empty() {
            self.selected = None;
            self.selected_row = 0;
        } else {
            self.select_row(self.selected_row.min(self.order().len() - 1));
        }
        self.follow();
    }

    fn select_row(&mut self, row: usize) {
        let id = self.order().get(row).and_then(|&i| self.shown.id(i));
        if let Some(id) = id {
            self.selected = Some(id);
            self.selected_row = row;
        }
    }

    fn move_by(&mut self, delta: isize) {
        if self.order().is_empty() {
            return;
        }
        let cur = self.position().unwrap_or(0) as isize;
        let last = self.order().len() as isize - 1;
        self.select_row((cur.saturating_add(delta)).clamp(0, last) as usize);
        self.follow();
    }

    /// The marked torrents still in the session, or else the selected one.
    pub fn targets(&self) -> Vec<TorrentId> {
        if self.marked.is_empty() {
            self.selected.into_iter().collect()
        } else {
            self.marked.iter().copied().collect()
        }
    }

    /// The torrent's line in the last snapshot.
    pub fn line(&self, id: TorrentId) -> Option<&TorrentLine> {
        let i = self.shown.index_of(id)?;
        self.lines().get(i).map(|t| &**t).filter(|t| t.id == id)
    }

    /// Applies one list action (help, quit and the screen switch are the app's).
    pub fn handle(&mut self, action: Action) -> KeyOutcome {
        if self.limits.is_some() {
            return self.limits_key(action);
        }
        if self.moving.is_some() {
            return self.move_key(action);
        }
        if self.dialog.is_some() {
            return self.answer(action);
        }
        if self.adding.is_some() {
            return self.add_key(action);
        }
        if self.searching {
            return self.type_search(action);
        }
        let page = self.scroll.page() as isize;
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::WheelUp => self.move_by(-3),
            Action::WheelDown => self.move_by(3),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::Home => self.move_by(isize::MIN / 2),
            Action::End => self.move_by(isize::MAX / 2),
            Action::Click { column, row } => self.click(column, row),
            Action::Open => {
                if let Some(id) = self.selected {
                    return KeyOutcome::effect(Effect::Open(id));
                }
            }
            Action::ToggleMark => {
                if let Some(id) = self.selected {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.move_by(1);
                }
            }
            Action::CycleSort => self.resort(self.sort.next()),
            Action::ReverseSort => self.resort(self.sort.reversed()),
            Action::CycleFilter => {
                self.filter = self.filter.next();
                self.reorder();
            }
            Action::CycleLabel => {
                self.label = super::order::next_label(self.lines(), self.label.as_deref());
                self.reorder();
            }
            Action::Search => self.searching = true,
            Action::Back => {
                if !self.search.is_empty() {
                    self.search.clear();
                    self.reorder();
                } else {
                    self.marked.clear();
                }
            }
            _ => return self.command_key(action),
        }
        KeyOutcome::default()
    }

    fn resort(&mut self, sort: Sort) {
        self.sort = sort;
        self.reorder();
    }

    /// Sorts by `column`; again on the same column reverses.
    pub fn sort_by(&mut self, column: super::order::Column) {
        let sort = if self.sort.column == column {
            self.sort.reversed()
        } else {
            Sort {
                column,
                ascending: column.ascending_first(),
            }
        };
        self.resort(sort);
    }

    /// A click on a torrent's row selects it; on a column title, sorts by that column.
    fn click(&mut self, x: u16, row: u16) {
        let t = self.table;
        if row < t.y || row >= t.bottom() || x < t.x || x >= t.right() {
            return;
        }
        if row == t.y {
            let top = self.scroll.top();
            let lines = self.lines();
            let visible: Vec<&TorrentLine> = self
                .order()
                .iter()
                .skip(top)
                .take(self.scroll.page())
                .filter_map(|&i| lines.get(i))
                .map(|t| &**t)
                .collect();
            if let Some(c) = super::columns::fit_rows(t.width, &visible).column_at(t.x, x) {
                self.sort_by(c);
            }
            return;
        }
        let top = self.scroll.top();
        let index = top + usize::from(row - t.y - 1);
        if index < self.order().len() {
            self.select_row(index);
            self.follow();
        }
    }

    fn type_search(&mut self, action: Action) -> KeyOutcome {
        match action {
            Action::Type(c) if !c.is_control() && self.search.chars().count() < SEARCH_MAX => {
                self.search.push(c)
            }
            Action::Erase => {
                self.search.pop();
            }
            Action::Accept => self.searching = false,
            Action::Back => {
                self.searching = false;
                self.search.clear();
            }
            _ => return KeyOutcome::default(),
        }
        self.reorder();
        KeyOutcome::default()
    }

    fn answer(&mut self, action: Action) -> KeyOutcome {
        let delete_data = match action {
            Action::KeepData => false,
            Action::DeleteData => true,
            Action::Back => {
                self.dialog = None;
                return KeyOutcome::say("nothing removed");
            }
            _ => return KeyOutcome::default(),
        };
        let Some(dialog) = self.dialog.take() else {
            return KeyOutcome::default();
        };
        for id in &dialog.ids {
            self.marked.remove(id);
        }
        let what = match &dialog.name {
            Some(name) => crate::fmt::outside(name, 40).into_owned(),
            None => format!("{} torrents", dialog.ids.len()),
        };
        let how = match (delete_data, dialog.ids.len()) {
            (false, _) => "(data kept)",
            (true, 1) => "and its data",
            (true, _) => "and their data",
        };
        for &id in &dialog.ids {
            if let Some(t) = self.line(id) {
                let name = crate::fmt::outside(&t.name, 40).into_owned();
                self.removing.insert(id, name);
            }
        }
        let reqs = dialog
            .ids
            .into_iter()
            .map(|id| Request::Remove { id, delete_data })
            .collect();
        self.send(reqs, format!("removing {what} {how}"))
    }
}

#[cfg(test)]
mod tests;
