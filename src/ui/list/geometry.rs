//! Where the list screen's parts go: pure geometry, shared by the renderer and by `App` (which
//! sizes the list's page), so neither needs the other.

use ratatui::layout::{Constraint, Layout, Rect};

/// Lines of the session header.
pub const HEADER_HEIGHT: u16 = 2;

/// Where the list screen's parts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLayout {
    pub header: Rect,
    /// Filters and the search line.
    pub bar: Rect,
    /// Column titles, then one row per torrent.
    pub table: Rect,
    /// The selected torrent in full (its name and state uncut); empty on short screens.
    pub selected: Rect,
    pub footer: Rect,
}

impl ListLayout {
    /// Torrent rows the table shows at once (at least one).
    pub fn page(&self) -> usize {
        usize::from(self.table.height.saturating_sub(1)).max(1)
    }
}

pub fn layout(area: Rect) -> ListLayout {
    let selected_h = u16::from(area.height >= 14);
    let [header, bar, table, selected, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(selected_h),
        Constraint::Length(1),
    ])
    .areas(area);
    ListLayout {
        header,
        bar,
        table,
        selected,
        footer,
    }
}
