//! The peer table: who we talk to, how each connection stands, and why the dead ones died.
//! The words about each peer are [`super::peer_words`].

use std::net::SocketAddr;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget, Wrap};

use crate::engine::api::{PeerRow, PeerSource, PeerStage, Snapshot};
use crate::net::Encryption;
use crate::ui::app::{App, Focus};
use crate::ui::layout::PeerPane;
use crate::ui::theme::Theme;

use super::peer_columns::{self, Columns, Needs, FIRST_NUMERIC};
use super::peer_words::{client_text, detail_line, flag_code, state_text, FLAG_LEGEND};
use super::{put_line, render_pane, span};
use crate::fmt::{self, ellipsize};

fn addr_text(addr: &SocketAddr) -> String {
    addr.to_string()
}

fn rate_cell(rate: f64, style: Style, wide: bool) -> Cell<'static> {
    let r = fmt::rate_u64(rate);
    let text = match (r, wide) {
        (0, _) => "-".to_string(),
        (_, true) => fmt::bytes_short(r),
        (_, false) => fmt::bytes_tiny(r),
    };
    Cell::from(Line::from(text).alignment(Alignment::Right)).style(if r == 0 {
        Style::new()
    } else {
        style
    })
}

/// The most chars among `texts`.
fn widest<S: AsRef<str>>(texts: impl Iterator<Item = S>) -> usize {
    texts.map(|t| t.as_ref().chars().count()).max().unwrap_or(0)
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

/// The empty list's line: only the sources this torrent uses (no tracker with
/// `--no-trackers`, no DHT with `--no-dht` or a private torrent, nothing incoming when not
/// listening). PEX is never named: it learns peers from connected ones, so it cannot bring
/// the first.
fn waiting_for(snap: &Snapshot) -> String {
    let mut from = Vec::new();
    match snap.trackers.len() {
        0 => {}
        1 => from.push("the tracker"),
        _ => from.push("the trackers"),
    }
    if snap.dht.is_some() {
        from.push("the DHT");
    }
    if snap.listen_port > 0 {
        from.push("incoming connections");
    }
    let missing = match (snap.trackers.is_empty(), snap.dht.is_none()) {
        (false, _) => "",
        (true, false) => "no tracker; ",
        (true, true) => "no tracker, DHT off; ",
    };
    match from.as_slice() {
        [] => " no peers: no tracker, DHT off, not listening for incoming connections".into(),
        [one] => format!(" no peers yet: {missing}waiting for {one}"),
        [first @ .., last] => format!(
            " no peers yet: {missing}waiting for {} or {last}",
            first.join(", ")
        ),
    }
}

pub(crate) fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
    let theme = &app.theme;
    let focused = app.focus == Focus::Peers;
    let title = Line::from(vec![
        Span::raw(" Peers "),
        Span::raw(format!(
            "{} connected / {} known",
            snap.connected_peers(),
            snap.peers.len()
        )),
        Span::raw(format!(" · sort: {} ", app.sort.label())),
    ]);
    let inner = render_pane(area, buf, title, focused, theme);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if snap.peers.is_empty() {
        put_line(buf, inner, 0, vec![span(waiting_for(snap), theme.dim())]);
        return;
    }

    // Bottom lines: the selected peer in words, and the flag legend when there is room.
    let split = PeerPane::of(inner);
    let page = split.page();

    let order = app.order_for(snap);
    let selected_pos = app.selected.and_then(|a| {
        order
            .iter()
            .position(|&i| snap.peers.get(i).is_some_and(|p| p.addr == a))
    });
    let offset = app.peer_scroll.top_for(selected_pos, order.len(), page);
    let visible: Vec<&PeerRow> = order
        .iter()
        .skip(offset)
        .take(page)
        .filter_map(|&i| snap.peers.get(i))
        .collect();

    let table_area = Rect {
        height: split.table_h,
        ..inner
    };
    let selected_row = selected_pos.and_then(|s| s.checked_sub(offset));
    render_table(table_area, buf, &visible, selected_row, focused, theme);

    let selected = selected_pos
        .and_then(|s| order.get(s))
        .and_then(|&i| snap.peers.get(i));
    render_footer(inner, buf, split, selected, theme);
}

/// The table itself: `visible` are the rows on this page, `selected` the selected one's
/// index among them.
fn render_table(
    area: Rect,
    buf: &mut Buffer,
    visible: &[&PeerRow],
    selected: Option<usize>,
    focused: bool,
    theme: &Theme,
) {
    let addrs: Vec<String> = visible.iter().map(|p| addr_text(&p.addr)).collect();
    let clients: Vec<String> = visible.iter().map(|p| client_text(p)).collect();
    let cols = peer_columns::fit(
        area.width,
        Needs {
            addr: widest(addrs.iter()),
            client: widest(clients.iter()),
            state: widest(visible.iter().map(|p| state_text(p))),
        },
    );
    let header_row = Row::new(cols.header().into_iter().enumerate().map(|(i, h)| {
        // Numeric columns are right-aligned, so their titles are too.
        if i >= FIRST_NUMERIC {
            Cell::from(Line::from(h).alignment(Alignment::Right))
        } else {
            Cell::from(h)
        }
    }))
    .style(theme.accent().add_modifier(Modifier::BOLD));

    let rows =
        visible
            .iter()
            .zip(addrs)
            .zip(clients)
            .enumerate()
            .map(|(i, ((p, addr), client))| {
                let is_sel = selected == Some(i);
                peer_row(p, &addr, &client, &cols, is_sel, is_sel && focused, theme)
            });
    let table = Table::new(rows, cols.constraints())
        .header(header_row)
        .column_spacing(1);
    Widget::render(table, area, buf);
}

/// One peer's row. `bar`: it is selected in the focused pane, so the selection bar's colours
/// win over the cells' (red on blue would not read); the detail line below still spells out
/// the selected peer's state.
fn peer_row(
    p: &PeerRow,
    addr: &str,
    client: &str,
    cols: &Columns,
    is_sel: bool,
    bar: bool,
    theme: &Theme,
) -> Row<'static> {
    let paint = |style: Style| if bar { Style::new() } else { style };
    let connected = p.stage == PeerStage::Connected;
    let [dc, uc] = flag_code(&p.flags);
    let flags = if connected {
        Line::from(vec![
            span(
                dc.to_string(),
                if dc == 'D' {
                    paint(theme.down())
                } else {
                    Style::new()
                },
            ),
            span(
                uc.to_string(),
                if uc == 'U' {
                    paint(theme.up())
                } else {
                    Style::new()
                },
            ),
        ])
    } else {
        Line::default()
    };
    let state_style = match p.stage {
        PeerStage::Connected if p.hash_failures > 0 => theme.warn(),
        PeerStage::Connected => theme.verified(),
        PeerStage::Failed => theme.error(),
        _ => Style::new(),
    };
    let mut cells = vec![
        Cell::from(if is_sel { "▸" } else { " " }),
        Cell::from(ellipsize(addr, cols.addr_w).into_owned()),
        Cell::from(source_text(p.source, cols.roomy)),
        Cell::from(conn_text(p, cols.roomy)),
        Cell::from(ellipsize(client, cols.client_w).into_owned()),
        Cell::from(ellipsize(&state_text(p), cols.state_w).into_owned()).style(paint(state_style)),
        Cell::from(flags),
        rate_cell(p.down_rate, paint(theme.down()), cols.wide),
        rate_cell(p.up_rate, paint(theme.up()), cols.wide),
        right(if connected {
            format!("{:.0}%", (p.progress.clamp(0.0, 1.0) * 100.0).floor())
        } else {
            String::new()
        }),
    ];
    if cols.wide {
        cells.push(right(if connected {
            p.requests_in_flight.to_string()
        } else {
            String::new()
        }));
    }
    if cols.huge {
        cells.push(right(if p.downloaded > 0 {
            fmt::bytes_short(p.downloaded)
        } else {
            String::new()
        }));
        cells.push(right(if p.uploaded > 0 {
            fmt::bytes_short(p.uploaded)
        } else {
            String::new()
        }));
    }
    let mut style = if p.stage.is_gone() {
        theme.dim()
    } else {
        Style::new()
    };
    if is_sel {
        // Unfocused, the ▸ marker and bold keep the place without a bar.
        style = if bar {
            theme.selected_row()
        } else {
            style.add_modifier(Modifier::BOLD)
        };
    }
    Row::new(cells).style(style)
}

/// Under the table: the selected peer in words, then the flag legend when there is room.
fn render_footer(
    inner: Rect,
    buf: &mut Buffer,
    split: PeerPane,
    selected: Option<&PeerRow>,
    theme: &Theme,
) {
    let PeerPane {
        table_h,
        detail_h,
        legend,
    } = split;
    if let Some(p) = selected {
        // A one-column margin keeps the wrapped second line off the screen edge.
        let detail_area = Rect {
            x: inner.x + 1,
            y: inner.y + table_h,
            width: inner.width.saturating_sub(1),
            height: detail_h.min(inner.height - table_h),
        };
        Paragraph::new(Line::from(detail_line(p, theme)))
            .wrap(Wrap { trim: true })
            .render(detail_area, buf);
    }
    if legend {
        put_line(
            buf,
            inner,
            table_h + detail_h,
            vec![
                span(" Flags: ", theme.dim()),
                span(FLAG_LEGEND, theme.dim()),
            ],
        );
    }
}

/// Where the peer came from: the whole word when the table is wide, three letters otherwise.
fn source_text(s: PeerSource, wide: bool) -> &'static str {
    if wide {
        return s.word();
    }
    match s {
        PeerSource::Tracker => "trk",
        PeerSource::Dht => "DHT",
        PeerSource::Pex => "PEX",
        PeerSource::Manual => "man",
        PeerSource::Incoming => "in",
        PeerSource::WebSeed => "web",
        PeerSource::Lsd => "LSD",
    }
}

/// How the connection runs once handshaken: "uTP/RC4", "TCP" (plain) when wide; narrow,
/// "uTP*" marks RC4 (the legend says so).
fn conn_text(p: &PeerRow, wide: bool) -> String {
    let Some(t) = p.transport else {
        return String::new();
    };
    match (p.encryption, wide) {
        (Some(Encryption::Rc4), true) => format!("{t}/RC4"),
        (Some(Encryption::Rc4), false) => format!("{t}*"),
        _ => t.to_string(),
    }
}

#[cfg(test)]
mod tests;
