//! The statistics view (`i` on the list): the session's accounting per tracker (or label, or
//! torrent) as a table of today, this week, this month and all time, and the selected row's
//! last days as bars, uploaded and downloaded side by side.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Clear, Widget};

use crate::engine::api::{Moved, StatsBy, StatsRow};
use crate::fmt::{bytes_tiny, ellipsize};
use crate::ui::app::App;
use crate::ui::keys::Mode;

use super::help::render_hints;
use super::{put_line, span};

/// Columns each day's pair of bars takes (two bars and a gap).
const DAY_COLS: u16 = 3;

/// Draws the view over the whole of `area`.
pub(crate) fn render(area: Rect, buf: &mut Buffer, app: &App) {
    let Some(view) = &app.stats else {
        return;
    };
    let theme = &app.theme;
    Clear.render(area, buf);
    if area.height < 8 || area.width < 40 {
        put_line(
            buf,
            area,
            0,
            vec![Span::raw("statistics: the terminal is too small")],
        );
        return;
    }
    let by = view.by.word();
    let title = format!(" statistics by {by}: payload bytes as trackers are told ");
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(true))
        .title(Line::from(title).style(theme.title(true)));
    let inner = block.inner(area);
    block.render(area, buf);
    let footer = Rect {
        y: inner.bottom().saturating_sub(1),
        height: 1,
        ..inner
    };
    render_hints(footer, buf, app, Mode::Stats, Vec::new(), &|_| None);
    let body = Rect {
        height: inner.height.saturating_sub(1),
        ..inner
    };
    let Some(stats) = &view.stats else {
        let words = view
            .error
            .as_deref()
            .map_or("asking the session…".to_string(), |e| {
                format!("not available: {e}")
            });
        put_line(buf, body, 0, vec![Span::raw(words)]);
        return;
    };
    if stats.rows.is_empty() {
        let words = format!(
            "nothing counted yet by {by}: bytes count once torrents upload or download (today is {})",
            stats.today
        );
        put_line(buf, body, 0, vec![Span::raw(words)]);
        return;
    }
    // The table takes what the rows need, up to half the body; the bars the rest.
    let selected = view.selected_row();
    let table_rows = (stats.rows.len() as u16 + 1).min(body.height / 2).max(2);
    let table = Rect {
        height: table_rows,
        ..body
    };
    render_table(table, buf, app, &stats.rows, selected);
    if view.by != StatsBy::Torrent && stats.rows.iter().any(|r| r.shared > 0) {
        let what = if view.by == StatsBy::Tracker {
            "trackers"
        } else {
            "labels"
        };
        let note = format!(
            "torrents with several {what} count in each of their rows; days are local, weeks start on Monday"
        );
        put_line(buf, body, table_rows, vec![span(note, theme.dim())]);
    }
    let Some(row) = stats.rows.get(selected) else {
        return;
    };
    let below = Rect {
        y: body.y + table_rows + 1,
        height: body.height.saturating_sub(table_rows + 1),
        ..body
    };
    render_days(below, buf, app, row, view.by, &stats.today);
}

fn render_table(area: Rect, buf: &mut Buffer, app: &App, rows: &[StatsRow], selected: usize) {
    let theme = &app.theme;
    let both = |m: Moved| format!("{:>6} {:>6}", tiny(m.uploaded), tiny(m.downloaded));
    // Each period: uploaded and downloaded in 13 columns; the key takes what is left.
    let fixed = 1 + 8 + 4 * (2 + 13) + 2 + 6;
    let key_w = usize::from(area.width).saturating_sub(fixed).clamp(8, 48);
    let head = format!(
        "{:<key_w$} {:>8}  {:>13}  {:>13}  {:>13}  {:>13}  {:>6}",
        "", "torrents", "today ↑ ↓", "week ↑ ↓", "month ↑ ↓", "all ↑ ↓", "ratio"
    );
    put_line(buf, area, 0, vec![span(head, theme.dim())]);
    let visible = usize::from(area.height.saturating_sub(1));
    let first = selected.saturating_sub(visible.saturating_sub(1));
    for (n, (i, r)) in rows
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .enumerate()
    {
        let key = ellipsize(&crate::fmt::outside(&r.key, key_w), key_w).into_owned();
        let ratio = r.ratio.map_or("-".to_string(), |x| format!("{x:.2}"));
        let text = format!(
            "{key:<key_w$} {:>8}  {}  {}  {}  {}  {:>6}",
            r.torrents,
            both(r.today),
            both(r.week),
            both(r.month),
            both(r.all),
            ratio
        );
        let style = if i == selected {
            theme.selected_row()
        } else {
            Style::new()
        };
        put_line(buf, area, n as u16 + 1, vec![span(text, style)]);
    }
}

fn render_days(area: Rect, buf: &mut Buffer, app: &App, row: &StatsRow, by: StatsBy, today: &str) {
    let theme = &app.theme;
    if area.height < 4 {
        return;
    }
    let fit = usize::from(area.width / DAY_COLS).min(row.days.len());
    let days = &row.days[row.days.len() - fit..];
    let top = days
        .iter()
        .map(|d| d.moved.uploaded.max(d.moved.downloaded))
        .max()
        .unwrap_or(0);
    let what = match by {
        StatsBy::Tracker => "tracker",
        StatsBy::Label => "label",
        StatsBy::Torrent => "torrent",
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let name = ellipsize(&crate::fmt::outside(&row.key, 60), 60).into_owned();
    let legend = vec![
        span(format!("the last {fit} days of {what} "), Style::new()),
        span(name, bold),
        span("  ", Style::new()),
        span("█ uploaded", theme.up()),
        span(" ", Style::new()),
        span("█ downloaded", theme.down()),
        span(
            format!("  tallest day {} (to {today})", tiny(top)),
            theme.dim(),
        ),
    ];
    put_line(buf, area, 0, legend);
    let chart_area = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    // Scaled to the tallest day; a day that moved anything shows at least a sliver.
    let scale = |v: u64| -> u64 {
        if top == 0 || v == 0 {
            0
        } else {
            (v.saturating_mul(1000) / top).max(1)
        }
    };
    let groups: Vec<BarGroup> = days
        .iter()
        .map(|d| {
            let day = d.day.get(8..10).unwrap_or("").to_string();
            BarGroup::default().label(Line::from(day)).bars(&[
                Bar::default()
                    .value(scale(d.moved.uploaded))
                    .text_value(String::new())
                    .style(theme.up()),
                Bar::default()
                    .value(scale(d.moved.downloaded))
                    .text_value(String::new())
                    .style(theme.down()),
            ])
        })
        .collect();
    let mut chart = BarChart::default()
        .bar_width(1)
        .bar_gap(0)
        .group_gap(DAY_COLS - 2)
        .max(1000);
    for g in groups {
        chart = chart.data(g);
    }
    chart.render(chart_area, buf);
}

fn tiny(n: u64) -> String {
    if n == 0 {
        "-".into()
    } else {
        bytes_tiny(n)
    }
}

#[cfg(test)]
mod tests;
