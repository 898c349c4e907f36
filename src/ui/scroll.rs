//! One scroll state per scrolling pane, changed only by the app (never while drawing), and the
//! pure functions that place what is visible. The page sizes come from [`super::layout`].

use std::ops::Range;

use super::action::Action;

/// First visible row of a list of `len` rows shown `page` at a time: the window keeps its
/// previous first row `prev_top` when it can, moves just far enough to show `selected`, and
/// never leaves empty rows below the last one.
pub(crate) fn top_row(prev_top: usize, selected: Option<usize>, len: usize, page: usize) -> usize {
    let page = page.max(1);
    let mut top = prev_top.min(len.saturating_sub(page));
    if let Some(sel) = selected {
        if sel < top {
            top = sel;
        } else if sel >= top + page {
            top = sel + 1 - page;
        }
    }
    top
}

/// The lines drawn from a list of `len`, `page` at a time, `back` lines up from the newest:
/// oldest first, and never further back than the oldest full page.
pub(crate) fn tail_window(len: usize, back: usize, page: usize) -> Range<usize> {
    let back = back.min(len.saturating_sub(page));
    let end = len - back;
    end.saturating_sub(page)..end
}

/// The peer table: the selection moves, the window follows it. Pages are counted in rows;
/// until the app knows the screen size, a page is one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListScroll {
    top: usize,
    page: usize,
}

impl ListScroll {
    pub fn top(&self) -> usize {
        self.top
    }
    pub fn page(&self) -> usize {
        self.page.max(1)
    }
    pub fn set_page(&mut self, page: usize) {
        self.page = page;
    }
    /// Moves the window so the selected row shows.
    pub fn follow(&mut self, selected: Option<usize>, len: usize) {
        self.top = top_row(self.top, selected, len, self.page());
    }
    /// The first row for a pane that shows `page` rows this frame (the same as [`Self::top`]
    /// once the app knows the screen size).
    pub fn top_for(&self, selected: Option<usize>, len: usize, page: usize) -> usize {
        top_row(self.top, selected, len, page)
    }
}

/// The event log: follows the newest line until scrolled back (`back` lines up from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TailScroll {
    back: usize,
    /// Lines on screen (one until the app knows the screen size).
    lines: usize,
}

impl TailScroll {
    pub fn back(&self) -> usize {
        self.back
    }
    pub fn set_page(&mut self, lines: usize) {
        self.lines = lines;
    }
    /// Scrolls `back` lines up from the newest, within a list of `len` lines.
    pub fn set_back(&mut self, back: usize, len: usize) {
        self.back = back.min(len.saturating_sub(self.lines.max(1)));
    }
    /// Up goes to older lines, Home to the oldest page, End back to following the newest.
    pub fn navigate(&mut self, action: Action, len: usize) {
        let (back, page) = (self.back, self.lines.max(1));
        let max = len.saturating_sub(page);
        let to = match action {
            Action::Up => back + 1,
            Action::Down => back.saturating_sub(1),
            Action::PageUp => back + page,
            Action::PageDown => back.saturating_sub(page),
            Action::Home => max,
            Action::End => 0,
            _ => back,
        };
        self.set_back(to, len);
    }
}

/// The piece-map cursor: a cell of a grid `width` cells wide with room for `capacity` cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridCursor {
    cell: usize,
    width: usize,
    capacity: usize,
}

impl GridCursor {
    pub fn cell(&self) -> usize {
        self.cell
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn set_grid(&mut self, width: usize, capacity: usize) {
        self.width = width;
        self.capacity = capacity;
    }
    /// Moves over the cells in use for `pieces` pieces: arrows by one cell or one row, page
    /// keys by four rows.
    pub fn navigate(&mut self, action: Action, pieces: usize) {
        let cells = self.capacity.min(pieces);
        if cells == 0 {
            return;
        }
        let cols = self.width.min(cells).max(1);
        let last = cells - 1;
        let c = self.cell.min(last);
        self.cell = match action {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_row_moves_only_to_show_the_selection() {
        // Selection inside the window: nothing moves.
        assert_eq!(top_row(5, Some(7), 30, 5), 5);
        // Below the window: the selection becomes the last visible row.
        assert_eq!(top_row(5, Some(12), 30, 5), 8);
        // Above it: the selection becomes the first.
        assert_eq!(top_row(5, Some(2), 30, 5), 2);
        // The list shrank: no empty rows under the last one.
        assert_eq!(top_row(25, None, 10, 5), 5);
        assert_eq!(top_row(25, None, 3, 5), 0);
        // A zero page counts as one row.
        assert_eq!(top_row(0, Some(4), 10, 0), 4);
    }

    #[test]
    fn list_scroll_follows_a_selection_walk() {
        let mut s = ListScroll::default();
        s.set_page(5);
        for sel in 0..30 {
            s.follow(Some(sel), 30);
            assert!(s.top() <= sel && sel < s.top() + 5, "{sel}: {s:?}");
        }
        assert_eq!(s.top(), 25);
        s.follow(Some(24), 30);
        assert_eq!(s.top(), 24, "one up from the top row scrolls one");
        assert_eq!(s.top_for(Some(29), 30, 10), 20, "a taller pane shows more");
    }

    #[test]
    fn tail_window_follows_and_clamps() {
        assert_eq!(tail_window(10, 0, 4), 6..10);
        assert_eq!(tail_window(10, 3, 4), 3..7);
        assert_eq!(tail_window(10, 100, 4), 0..4);
        assert_eq!(tail_window(2, 0, 4), 0..2);
        assert_eq!(tail_window(0, 5, 4), 0..0);
    }

    #[test]
    fn tail_scroll_keys() {
        let mut s = TailScroll::default();
        s.set_page(4);
        s.navigate(Action::Home, 10);
        assert_eq!(s.back(), 6);
        s.navigate(Action::PageUp, 10);
        assert_eq!(s.back(), 6, "clamped at the oldest page");
        s.navigate(Action::Down, 10);
        assert_eq!(s.back(), 5);
        s.navigate(Action::End, 10);
        assert_eq!(s.back(), 0);
        s.navigate(Action::Up, 3);
        assert_eq!(s.back(), 0, "nothing to scroll when all lines fit");
    }

    #[test]
    fn grid_cursor_stays_on_cells_in_use() {
        let mut g = GridCursor::default();
        g.navigate(Action::Right, 100);
        assert_eq!(g.cell(), 0, "no grid yet");
        g.set_grid(10, 50);
        g.navigate(Action::Down, 100);
        assert_eq!(g.cell(), 10);
        g.navigate(Action::End, 100);
        assert_eq!(g.cell(), 49, "50 cells of 2 pieces");
        g.navigate(Action::PageDown, 100);
        assert_eq!(g.cell(), 49);
        g.navigate(Action::Right, 20);
        assert_eq!(g.cell(), 19, "fewer pieces than cells: one cell each");
        g.navigate(Action::Home, 20);
        g.navigate(Action::Left, 20);
        assert_eq!(g.cell(), 0);
    }
}
