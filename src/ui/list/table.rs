//! The torrent table: column titles (the sort column marked ▲ or ▼), then the visible rows
//! only, so a frame costs the same with 10 torrents or 10,000.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use crate::engine::api::{SessionSnapshot, TorrentLine, TorrentState};
use crate::fmt;
use crate::ui::app::App;
use crate::ui::theme::Theme;
use crate::ui::widgets::{put_line, span};

use super::columns::{fit_rows, Fit, GAP, MARK_W};
use super::order::Column;
use super::words::{state_style, state_text};
use crate::fmt::date;

fn right(column: Column) -> bool {
    !matches!(column, Column::Name | Column::State | Column::Progress)
}

/// Writes `text` in a cell `w` wide at `x`, cut to fit (never a wide character split).
fn cell(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style, right: bool) {
    let text = fmt::ellipsize(text, usize::from(w));
    let len = text.chars().count() as u16;
    let x = if right { x + w.saturating_sub(len) } else { x };
    buf.set_stringn(x, y, &text, usize::from(w), style);
}

pub fn render(area: Rect, buf: &mut Buffer, session: &SessionSnapshot, order: &[usize], app: &App) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let theme = &app.theme;
    let list = &app.list;
    // Rows under the titles; none when the table is one line high.
    let page = usize::from(area.height - 1);
    let selected_pos = list.position_in(&session.torrents, order);
    let top = list.scroll.top_for(selected_pos, order.len(), page.max(1));
    let visible: Vec<&TorrentLine> = order
        .iter()
        .skip(top)
        .take(page)
        .filter_map(|&i| session.torrents.get(i))
        .map(|t| &**t)
        .collect();
    let f = fit_rows(area.width, &visible);

    // Column titles.
    let title = theme.accent().add_modifier(Modifier::BOLD);
    let mut x = area.x + MARK_W;
    for &(c, w) in &f.cols {
        let mut t = c.title().to_string();
        if c == list.sort.column {
            t.push(if list.sort.ascending { '▲' } else { '▼' });
        }
        cell(buf, x, area.y, w, &t, title, right(c));
        x += w + GAP;
    }

    if visible.is_empty() {
        let why = if session.torrents.is_empty() {
            " no torrents yet: press a to add a .torrent file or a magnet link".to_string()
        } else {
            format!(
                " none of the {} torrents is {}{}",
                session.torrents.len(),
                list.filter.label(),
                if list.search.is_empty() {
                    String::new()
                } else {
                    format!(" with “{}” in its name", fmt::outside(&list.search, 40))
                }
            )
        };
        put_line(buf, area, 1, vec![span(why, theme.dim())]);
        return;
    }
    for (i, t) in visible.iter().enumerate() {
        let y = area.y + 1 + i as u16;
        let selected = list.selected == Some(t.id);
        let marked = list.marked.contains(&t.id);
        row(buf, area.x, y, area.width, t, &f, theme, selected, marked);
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    buf: &mut Buffer,
    left: u16,
    y: u16,
    width: u16,
    t: &TorrentLine,
    f: &Fit,
    theme: &Theme,
    selected: bool,
    marked: bool,
) {
    let bar = theme.selected_row();
    // Under the selection bar every cell takes the bar's style, so a selected error row does
    // not read as an alert twice.
    let st = |s: Style| if selected { bar } else { s };
    if selected {
        buf.set_style(Rect::new(left, y, width, 1), bar);
    }
    let mark = format!(
        "{}{}",
        if selected { '▸' } else { ' ' },
        if marked { '●' } else { ' ' }
    );
    buf.set_stringn(left, y, &mark, usize::from(MARK_W), st(theme.accent()));
    let mut x = left + MARK_W;
    for &(c, w) in &f.cols {
        match c {
            Column::Progress => progress(buf, x, y, w, t, theme, selected),
            _ => {
                let (text, style) = text(c, t, f, theme);
                cell(buf, x, y, w, &text, st(style), right(c));
            }
        }
        x += w + GAP;
    }
}

fn rate(r: f64, wide: bool) -> String {
    match fmt::rate_u64(r) {
        0 => "-".into(),
        r if wide => fmt::bytes_short(r),
        r => fmt::bytes_tiny(r),
    }
}

fn ratio(r: f64) -> String {
    match r {
        r if !r.is_finite() || r <= 0.0 => "0".into(),
        r if r < 10.0 => format!("{r:.2}"),
        r if r < 100.0 => format!("{r:.1}"),
        r => format!("{:.0}", r.min(999_999.0)),
    }
}

fn text(c: Column, t: &TorrentLine, f: &Fit, theme: &Theme) -> (String, Style) {
    let plain = Style::new();
    match c {
        Column::Name => (fmt::outside(&t.name, 512).into_owned(), plain),
        Column::Labels => (super::columns::labels_text(t), theme.dim()),
        Column::State => (state_text(t), state_style(t, theme)),
        Column::Size => {
            let text = if f.size_wide && t.wanted_bytes < t.total_bytes {
                format!(
                    "{} of {}",
                    fmt::bytes_tiny(t.wanted_bytes),
                    fmt::bytes_tiny(t.total_bytes)
                )
            } else {
                fmt::bytes_tiny(t.wanted_bytes)
            };
            (text, plain)
        }
        Column::Down => (rate(t.down_rate, f.rates_wide), theme.down()),
        Column::Up => (rate(t.up_rate, f.rates_wide), theme.up()),
        Column::Eta => {
            let text = match (&t.state, t.eta()) {
                (TorrentState::Paused | TorrentState::Error(_), _) => "-".into(),
                (_, Some(d)) if d.is_zero() => "done".into(),
                (_, Some(d)) => fmt::duration(d),
                (_, None) => "∞".into(),
            };
            (text, plain)
        }
        Column::Ratio => (ratio(t.ratio()), plain),
        Column::Peers => (format!("{}/{}", t.peers, t.seeds), plain),
        Column::Added => (date(t.added, f.added_time), theme.dim()),
        Column::Progress => (String::new(), plain),
    }
}

/// "█████░░░  40%": never 100% until every wanted byte is verified.
fn progress(buf: &mut Buffer, x: u16, y: u16, w: u16, t: &TorrentLine, theme: &Theme, sel: bool) {
    let p = t.progress().clamp(0.0, 1.0);
    let pct = format!("{:>4}", format!("{}%", (p * 100.0).floor() as u32));
    let bar_w = usize::from(w.saturating_sub(5));
    let filled = ((p * bar_w as f64).floor() as usize).min(bar_w);
    let fill_style = match t.state {
        TorrentState::Paused => theme.warn(),
        TorrentState::Error(_) => theme.error(),
        _ => theme.verified(),
    };
    let (fill_style, rest_style, pct_style) = if sel {
        let bar = theme.selected_row();
        (bar, bar, bar)
    } else {
        (fill_style, theme.missing(), Style::new())
    };
    let mut at = x;
    if bar_w > 0 {
        let filled_s = "█".repeat(filled);
        buf.set_stringn(at, y, &filled_s, filled, fill_style);
        at += filled as u16;
        let rest = "░".repeat(bar_w - filled);
        buf.set_stringn(at, y, &rest, bar_w - filled, rest_style);
        at += (bar_w - filled) as u16 + 1;
    }
    let room = usize::from((x + w).saturating_sub(at));
    buf.set_stringn(at, y, &pct, room, pct_style);
}
