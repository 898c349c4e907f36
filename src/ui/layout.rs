//! Where everything goes, as pure functions of the screen or pane area. The widgets draw with
//! these, and the app sizes its scroll states with the same ones, so a page key moves exactly
//! one page of what is on screen.

use ratatui::layout::{Constraint, Layout, Rect};

/// Lines of the header (name, progress bar, rates, tracker).
pub(crate) const HEADER_HEIGHT: u16 = 4;

/// Where each part of the detail view goes: the header on every tab, the tab bar under it,
/// then the open tab's body. The Peers tab, the one the view opens on, is the live screen
/// `ttui file.torrent` has always shown: peers on top, the piece grid and the graph side by
/// side, the events under them. Pieces, files, trackers and the log each fill the whole body
/// on their tab; the Overview splits it between the explainer and the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScreenLayout {
    pub header: Rect,
    pub tabs: Rect,
    pub body: Rect,
    /// The Overview's explainer findings, then its throughput graph.
    pub findings: Rect,
    pub throughput: Rect,
    /// The Peers tab: the peer table, then the grid and graph, then the events.
    pub peers: Rect,
    pub live_pieces: Rect,
    pub live_graph: Rect,
    pub live_log: Rect,
    pub pieces: Rect,
    pub log: Rect,
    pub footer: Rect,
}

pub(crate) fn screen_layout(area: Rect) -> ScreenLayout {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // The findings get ~2/5 (a title and a few wrapped lines), the graph the rest.
    let findings_h = (body.height * 2 / 5).clamp(3, 14).min(body.height);
    let [findings, throughput] =
        Layout::vertical([Constraint::Length(findings_h), Constraint::Fill(1)]).areas(body);
    // Peers get ~45% (at least 10 rows: title, column header, 6 peers, 2 detail lines); the
    // piece map + graph row and the log share the rest.
    let peers_h = (body.height * 45 / 100).max(10).min(body.height);
    let rest = body.height - peers_h;
    let middle_h = rest - rest / 2;
    let [peers, middle, live_log] = Layout::vertical([
        Constraint::Length(peers_h),
        Constraint::Length(middle_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    let [live_pieces, live_graph] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .areas(middle);
    ScreenLayout {
        header,
        tabs,
        body,
        findings,
        throughput,
        peers,
        live_pieces,
        live_graph,
        live_log,
        pieces: body,
        log: body,
        footer,
    }
}

/// Inside a pane: every pane has its title on a top rule and no other border.
pub(crate) fn pane_inner(area: Rect) -> Rect {
    Rect {
        y: area.y.saturating_add(1).min(area.bottom()),
        height: area.height.saturating_sub(1),
        ..area
    }
}

/// How the peer pane's inside is split: the table (column header + peer rows), the selected
/// peer in words (one line when the screen is wide enough or short, else two), and the flag
/// legend when there is room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerPane {
    pub table_h: u16,
    pub detail_h: u16,
    pub legend: bool,
}

impl PeerPane {
    pub(crate) fn of(inner: Rect) -> PeerPane {
        let detail_h: u16 = if inner.width >= 140 || inner.height < 9 {
            1
        } else {
            2
        };
        let legend = inner.height >= 13;
        let bottom = detail_h + u16::from(legend);
        PeerPane {
            table_h: inner.height.saturating_sub(bottom),
            detail_h,
            legend,
        }
    }

    /// Peer rows the table shows at once (at least one).
    pub(crate) fn page(&self) -> usize {
        usize::from(self.table_h.saturating_sub(1)).max(1)
    }
}

/// Event lines the log pane shows at once.
pub(crate) fn log_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(1))
}

/// The piece map's inside: one column in from the edge, like every other pane's content.
pub(crate) fn piece_inner(area: Rect) -> Rect {
    let inner = pane_inner(area);
    Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(1),
        ..inner
    }
}

/// Rows of cells in the piece map's inside: all but the legend line when there are two or more.
pub(crate) fn grid_rows(inner: Rect) -> u16 {
    if inner.height >= 2 {
        inner.height - 1
    } else {
        inner.height
    }
}

/// Cells the piece map has room for.
pub(crate) fn grid_capacity(inner: Rect) -> usize {
    usize::from(inner.width) * usize::from(grid_rows(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_tile_the_screen() {
        for (w, h) in [(80, 24), (160, 48), (20, 8)] {
            let l = screen_layout(Rect::new(0, 0, w, h));
            assert_eq!(l.header.height, HEADER_HEIGHT.min(h));
            assert_eq!(l.tabs.y, l.header.bottom());
            assert_eq!(l.body.y, l.tabs.bottom());
            assert_eq!(l.footer.bottom(), h);
            assert_eq!(l.findings.height + l.throughput.height, l.body.height);
            // The Peers tab stacks the table, the grid beside the graph, and the events.
            assert_eq!(l.peers.y, l.body.y);
            assert_eq!(l.live_pieces.y, l.peers.bottom());
            assert_eq!(l.live_graph.y, l.live_pieces.y);
            assert_eq!(l.live_log.y, l.live_pieces.bottom());
            assert_eq!(l.live_log.bottom(), l.body.bottom());
        }
    }

    #[test]
    fn peer_pane_shares_its_rows() {
        let narrow = PeerPane::of(Rect::new(0, 0, 80, 20));
        assert_eq!(
            (narrow.table_h, narrow.detail_h, narrow.legend),
            (17, 2, true)
        );
        assert_eq!(narrow.page(), 16);
        let short = PeerPane::of(Rect::new(0, 0, 80, 7));
        assert_eq!((short.table_h, short.detail_h, short.legend), (6, 1, false));
        let wide = PeerPane::of(Rect::new(0, 0, 150, 12));
        assert_eq!((wide.table_h, wide.detail_h), (11, 1));
        assert_eq!(PeerPane::of(Rect::new(0, 0, 80, 1)).page(), 1);
    }

    #[test]
    fn piece_grid_keeps_a_legend_line() {
        let inner = piece_inner(Rect::new(0, 0, 31, 7));
        assert_eq!(inner, Rect::new(1, 1, 30, 6));
        assert_eq!(grid_rows(inner), 5);
        assert_eq!(grid_capacity(inner), 150);
        assert_eq!(grid_rows(Rect::new(0, 0, 5, 1)), 1);
    }
}
