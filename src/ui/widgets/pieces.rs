//! The piece map: one cell per piece, or per group of pieces when there are more pieces than
//! cells. One pass over the pieces per frame (each piece is read once), so the cost is
//! O(pieces + cells) whatever the screen size.

use std::ops::Range;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use ratatui::widgets::Widget;

use crate::engine::api::Snapshot;
use crate::ui::app::{App, Focus, PieceView};
use crate::ui::grid::{cell_range, cell_stats, grid_cells, CellStats};
use crate::ui::layout::{grid_capacity, piece_inner};
use crate::ui::theme::Theme;

use super::{pane, put_line, span};

pub(crate) const SYM_MISSING: char = '·';
pub(crate) const SYM_IN_FLIGHT: char = '↓';
pub(crate) const SYM_VERIFIED: char = '█';
pub(crate) const SYM_FAILED: char = '✗';
/// Partly verified groups, by fraction done.
const SHADES: [char; 3] = ['░', '▒', '▓'];

/// Symbol and style for a cell in the "what we have" view. Each state has its own symbol, so
/// the map reads the same without colour.
pub(crate) fn state_symbol(s: &CellStats, theme: &Theme) -> (char, Style) {
    if s.failed > 0 {
        (SYM_FAILED, theme.failed())
    } else if s.total > 0 && s.verified == s.total {
        (SYM_VERIFIED, theme.verified())
    } else if s.verified == 0 {
        if s.in_flight > 0 {
            (SYM_IN_FLIGHT, theme.in_flight())
        } else {
            (SYM_MISSING, theme.missing())
        }
    } else {
        let frac = s.verified as f64 / s.total as f64;
        let shade = SHADES[((frac * 3.0) as usize).min(2)];
        (
            shade,
            if s.in_flight > 0 {
                theme.in_flight()
            } else {
                theme.verified()
            },
        )
    }
}

/// Availability bands: symbol, colour and legend label. Each band has its own glyph so the view
/// reads without colour, and its own colour so ▓ and █ are not told apart by shape alone.
const AVAIL_BANDS: [(char, Color, &str); 5] = [
    (SYM_MISSING, Color::Red, "0"),
    ('░', Color::Yellow, "1"),
    ('▒', Color::Cyan, "2-3"),
    ('▓', Color::Green, "4-7"),
    ('█', Color::Blue, "8+"),
];

fn avail_band(peers: u16) -> (char, Color) {
    let i = match peers {
        0 => 0,
        1 => 1,
        2..=3 => 2,
        4..=7 => 3,
        _ => 4,
    };
    let (sym, color, _) = AVAIL_BANDS[i];
    (sym, color)
}

/// Availability view: how many connected peers hold the rarest piece of the cell that we still
/// need. Cells we have entirely are drawn dim (band of their rarest piece), so what stands out
/// is the rare pieces still to fetch.
pub(crate) fn avail_symbol(s: &CellStats, theme: &Theme) -> (char, Style) {
    if s.total > 0 && s.min_avail_needed == u16::MAX {
        let (sym, _) = avail_band(s.min_avail);
        return (sym, theme.dim());
    }
    let (sym, color) = avail_band(s.min_avail_needed);
    let style = theme.fg(color);
    (
        sym,
        if color == Color::Red {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        },
    )
}

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let focused = app.focus == Focus::Pieces;
    let n = snap.pieces.len();
    let view = match app.piece_view {
        PieceView::State => "have",
        PieceView::Availability => "avail",
    };
    // The title needs the verified count, which the grid pass below gathers for free; the
    // pane's inner area does not depend on its title.
    let inner = piece_inner(area);
    let cells = grid_cells(grid_capacity(inner), n);
    // Stats computed once per snapshot in `App::on_snapshot` make a redraw O(cells); a grid
    // the app was not sized for falls back to one pass over the pieces.
    let cached = app.piece_stats_for(snap, cells);
    let cols = (inner.width as usize).min(cells.max(1));
    let cursor = focused.then(|| app.piece_cursor.cell().min(cells.saturating_sub(1)));

    let mut done = 0usize;
    let mut cursor_stats = None;
    for cell in 0..cells {
        let range = cell_range(cell, cells, n);
        let stats = match cached.and_then(|c| c.get(cell)) {
            Some(s) => *s,
            None => cell_stats(snap, range.clone()),
        };
        done += stats.verified as usize;
        let (sym, mut style) = match app.piece_view {
            PieceView::State => state_symbol(&stats, theme),
            PieceView::Availability => avail_symbol(&stats, theme),
        };
        if cursor == Some(cell) {
            style = theme.selected();
            cursor_stats = Some((range, stats));
        }
        let x = inner.x + (cell % cols) as u16;
        let y = inner.y + (cell / cols) as u16;
        if let Some(c) = buf.cell_mut((x, y)) {
            c.set_char(sym).set_style(style);
        }
    }
    if cells == 0 {
        done = snap.verified_pieces();
    }
    let title = if cells > 0 && n > cells {
        Line::from(format!(
            " Pieces {done}/{n} · {}/cell · {view} (v) ",
            n.div_ceil(cells)
        ))
    } else {
        Line::from(format!(" Pieces {done}/{n} · {view} (v) "))
    };
    pane(title, focused, theme).render(area, buf);

    if inner.height >= 2 {
        let legend_row = inner.height - 1;
        let spans = match cursor_stats {
            Some((range, s)) => cursor_line(range, &s, theme),
            None => legend(app.piece_view, theme),
        };
        put_line(buf, inner, legend_row, spans);
    }
}

fn legend<'a>(view: PieceView, theme: &Theme) -> Vec<Span<'a>> {
    match view {
        PieceView::State => vec![
            span(SYM_VERIFIED.to_string(), theme.verified()),
            Span::raw("have "),
            span("▒", theme.verified()),
            Span::raw("part "),
            span(SYM_IN_FLIGHT.to_string(), theme.in_flight()),
            Span::raw("active "),
            span(SYM_MISSING.to_string(), theme.missing()),
            Span::raw("none "),
            span(SYM_FAILED.to_string(), theme.failed()),
            Span::raw("bad hash"),
        ],
        PieceView::Availability => {
            let mut spans = vec![Span::raw("peers: ")];
            for (sym, color, label) in AVAIL_BANDS {
                spans.push(span(sym.to_string(), theme.fg(color)));
                spans.push(Span::raw(format!("{label} ")));
            }
            spans.push(span("dim", theme.dim()));
            spans.push(Span::raw("=have"));
            spans
        }
    }
}

fn cursor_line<'a>(range: Range<usize>, s: &CellStats, theme: &Theme) -> Vec<Span<'a>> {
    let what = if range.len() == 1 {
        format!("piece {}", range.start)
    } else {
        format!("pieces {}–{}", range.start, range.end.saturating_sub(1))
    };
    let mut text = format!("{what}: {}/{} have", s.verified, s.total);
    if s.in_flight > 0 {
        text.push_str(&format!(", {} in flight", s.in_flight));
    }
    if s.failed > 0 {
        text.push_str(&format!(", {} bad hash", s.failed));
    }
    text.push_str(&format!(", on {} peers", s.min_avail));
    if s.max_avail != s.min_avail {
        text.push_str(&format!("–{}", s.max_avail));
    }
    vec![span(text, theme.accent())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::PieceState;
    use crate::ui::widgets::test_util::rows;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn snapshot(pieces: Vec<PieceState>, availability: Vec<u16>) -> Snapshot {
        let n = pieces.len() as u64;
        Snapshot {
            pieces,
            availability,
            ..Snapshot::empty("x", n, 1)
        }
    }

    fn draw(s: &Snapshot, app: &App, w: u16, h: u16) -> Buffer {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, s, app);
        buf
    }

    #[test]
    fn cached_stats_match_fresh_ones() {
        let pieces = (0..1000)
            .map(|i| {
                [
                    PieceState::Missing,
                    PieceState::Verified,
                    PieceState::InFlight,
                ][i % 3]
            })
            .collect();
        let s = Arc::new(snapshot(
            pieces,
            (0..1000).map(|i| (i % 7) as u16).collect(),
        ));
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        let fresh = rows(&draw(&s, &app, 30, 6));
        assert!(
            app.piece_stats_for(&s, 116).is_none(),
            "the app does not know the grid yet"
        );
        let inner = piece_inner(Rect::new(0, 0, 30, 6));
        app.piece_cursor
            .set_grid(usize::from(inner.width), grid_capacity(inner));
        app.on_snapshot(s.clone());
        assert!(
            app.piece_stats_for(&s, 116).is_some(),
            "cache built for the known grid"
        );
        assert_eq!(rows(&draw(&s, &app, 30, 6)), fresh);
        let other = snapshot(vec![PieceState::Missing; 1000], vec![0; 1000]);
        assert!(
            app.piece_stats_for(&other, 116).is_none(),
            "never used for another snapshot"
        );
    }

    #[test]
    fn one_cell_per_piece_with_distinct_symbols() {
        use PieceState::*;
        let s = snapshot(vec![Missing, InFlight, Verified, Failed], vec![0, 1, 2, 9]);
        let app = App::new(PathBuf::new(), Theme::colored());
        let buf = draw(&s, &app, 40, 3);
        let r = rows(&buf);
        assert!(r[0].contains("Pieces 1/4"), "{r:?}");
        assert_eq!(&r[1].chars().take(5).collect::<String>(), " ·↓█✗");
        assert!(
            r[2].contains("have") && r[2].contains("active") && r[2].contains("bad hash"),
            "{r:?}"
        );
        assert_eq!(
            buf.cell((2, 1)).map(|c| c.fg),
            Some(ratatui::style::Color::Yellow)
        );
        let plain = App::new(PathBuf::new(), Theme::plain());
        let r2 = rows(&draw(&s, &plain, 40, 3));
        assert_eq!(
            r[1], r2[1],
            "without colour the symbols alone tell states apart"
        );
    }

    #[test]
    fn groups_shade_by_fraction_and_failed_wins() {
        use PieceState::*;
        // 2 cells × 4 pieces: first cell 1/4 verified, second has a failed piece.
        let s = snapshot(
            vec![
                Verified, Missing, Missing, Missing, Verified, Verified, Failed, Verified,
            ],
            vec![],
        );
        let app = App::new(PathBuf::new(), Theme::plain());
        let r = rows(&draw(&s, &app, 3, 3));
        assert_eq!(r[1], " ░✗");
        let s = snapshot(vec![Verified, Verified, Verified, InFlight], vec![]);
        let r = rows(&draw(&s, &app, 2, 3));
        assert_eq!(r[1], " ▓");
    }

    #[test]
    fn availability_view_marks_pieces_nobody_has() {
        let s = snapshot(vec![PieceState::Missing; 5], vec![0, 1, 3, 5, 12]);
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.update(crate::ui::Action::TogglePieceView);
        let r = rows(&draw(&s, &app, 40, 3));
        assert!(r[0].contains("avail (v)"), "{r:?}");
        assert!(r[1].starts_with(" ·░▒▓█"), "{r:?}");
    }

    #[test]
    fn availability_view_dims_what_we_have_and_colours_each_band() {
        use PieceState::*;
        let s = snapshot(
            vec![Missing, Missing, Missing, Missing, Verified, Verified],
            vec![0, 1, 5, 12, 0, 12],
        );
        let mut app = App::new(PathBuf::new(), Theme::colored());
        app.update(crate::ui::Action::TogglePieceView);
        let buf = draw(&s, &app, 40, 3);
        let r = rows(&buf);
        assert!(r[1].starts_with(" ·░▓█·█"), "{r:?}");
        let cell = |x: u16| buf.cell((x, 1)).cloned().expect("cell");
        let colours: Vec<_> = (1..5).map(|x| cell(x).fg).collect();
        let mut distinct = colours.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "one colour per band: {colours:?}");
        assert_ne!(cell(3).fg, cell(4).fg, "▓ and █ differ in colour");
        for x in [5, 6] {
            assert!(
                cell(x).modifier.contains(Modifier::DIM),
                "pieces we have are dimmed"
            );
        }
        assert!(!cell(4).modifier.contains(Modifier::DIM));
        // A group shows the rarest piece we still need, not one we already have.
        let s = snapshot(vec![Verified, Missing], vec![0, 5]);
        let r = rows(&draw(&s, &app, 2, 3));
        assert_eq!(r[1], " ▓");
    }

    #[test]
    fn cursor_describes_its_cell() {
        let s = Arc::new(snapshot(vec![PieceState::Verified; 100], vec![2; 100]));
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        app.update(crate::ui::Action::ShowTab(2));
        // 50 cells of 2 pieces.
        app.piece_cursor.set_grid(50, 50);
        app.update(crate::ui::Action::Right);
        let r = rows(&draw(&s, &app, 51, 3));
        assert!(
            r[2].starts_with(" pieces 2–3: 2/2 have, on 2 peers"),
            "{r:?}"
        );
    }
}
