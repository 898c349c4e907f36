//! The peer table: who we talk to, how each connection stands, and why the dead ones died.
//! The words about each peer are [`super::peer_words`].

use std::net::SocketAddr;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget, Wrap};

use crate::engine::api::{PeerRow, PeerSource, PeerStage, Snapshot};
use crate::net::Encryption;
use crate::ui::app::{App, Focus};
use crate::ui::layout::PeerPane;

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

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

pub fn render(area: Rect, buf: &mut Buffer, snap: &Snapshot, app: &App) {
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
        put_line(
            buf,
            inner,
            0,
            vec![span(
                " no peers yet: waiting for the tracker or for incoming connections",
                theme.dim(),
            )],
        );
        return;
    }

    // Bottom lines: the selected peer in words, and the flag legend when there is room.
    let split = PeerPane::of(inner);
    let PeerPane {
        table_h,
        detail_h,
        legend: show_legend,
    } = split;
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

    let wide = inner.width >= 100;
    let huge = inner.width >= 150;
    // Source and connection in words only when the state column keeps its room.
    let roomy = inner.width >= 120;
    let addrs: Vec<String> = visible.iter().map(|p| addr_text(&p.addr)).collect();
    let clients: Vec<String> = visible.iter().map(|p| client_text(p)).collect();
    let addr_w = addrs
        .iter()
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, if wide { 40 } else { 21 });
    let client_w = clients
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(
            6,
            if huge {
                32
            } else if wide {
                24
            } else {
                17
            },
        );

    // Fixed columns: marker, address, source, connection, client, [state], flags, down, up,
    // have, req, got, sent.
    let rate_w = if wide { 9 } else { 6 };
    let (src_w, conn_w) = if roomy { (8, 7) } else { (3, 4) };
    let mut fixed: Vec<u16> = vec![
        1,
        addr_w as u16,
        src_w,
        conn_w,
        client_w as u16,
        3,
        rate_w,
        rate_w,
        4,
    ];
    let mut header = vec![
        "",
        "Address",
        if roomy { "Source" } else { "Src" },
        "Conn",
        "Client",
        "State",
        "Flg",
        "Down/s",
        "Up/s",
        "Have",
    ];
    if wide {
        fixed.push(3);
        header.push("Req");
    }
    if huge {
        fixed.extend([9, 9]);
        header.extend(["Got", "Sent"]);
    }
    // The state column gets what its longest visible text needs (cut with "…" when even that
    // does not fit). Room beyond that first widens the address, client and numeric columns by
    // up to six cells each, which spreads the slack as even gaps instead of one wide hole
    // after State; anything still left goes back to State.
    let spacing = fixed.len() as u16;
    let state_room = usize::from(
        inner
            .width
            .saturating_sub(fixed.iter().sum::<u16>() + spacing),
    );
    let state_need = visible
        .iter()
        .map(|p| state_text(p).chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    // Address, client, then everything after the flags.
    let padded: Vec<usize> = [1, 4].into_iter().chain(6..fixed.len()).collect();
    let spare = state_room.saturating_sub(state_need);
    let pad = (spare / padded.len()).min(6) as u16;
    for &i in &padded {
        if let Some(w) = fixed.get_mut(i) {
            *w += pad;
        }
    }
    let state_w = state_room.saturating_sub(usize::from(pad) * padded.len());
    let mut widths: Vec<Constraint> = fixed.iter().map(|&w| Constraint::Length(w)).collect();
    widths.insert(5, Constraint::Fill(1));
    let header_row = Row::new(header.into_iter().enumerate().map(|(i, h)| {
        // Numeric columns are right-aligned, so their titles are too.
        if i >= 7 {
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
                let is_sel = selected_pos == Some(offset + i);
                // The bar's own colours win over the cells' (red on blue would not read);
                // the detail line below still spells out the selected peer's state.
                let bar = is_sel && focused;
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
                    Cell::from(ellipsize(&addr, addr_w).into_owned()),
                    Cell::from(source_text(p.source, roomy)),
                    Cell::from(conn_text(p, roomy)),
                    Cell::from(ellipsize(&client, client_w).into_owned()),
                    Cell::from(ellipsize(&state_text(p), state_w).into_owned())
                        .style(paint(state_style)),
                    Cell::from(flags),
                    rate_cell(p.down_rate, paint(theme.down()), wide),
                    rate_cell(p.up_rate, paint(theme.up()), wide),
                    right(if connected {
                        format!("{:.0}%", (p.progress.clamp(0.0, 1.0) * 100.0).floor())
                    } else {
                        String::new()
                    }),
                ];
                if wide {
                    cells.push(right(if connected {
                        p.requests_in_flight.to_string()
                    } else {
                        String::new()
                    }));
                }
                if huge {
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
            });
    let table = Table::new(rows, widths)
        .header(header_row)
        .column_spacing(1);
    let table_area = Rect {
        height: table_h,
        ..inner
    };
    Widget::render(table, table_area, buf);

    let selected = selected_pos
        .and_then(|s| order.get(s))
        .and_then(|&i| snap.peers.get(i));
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
    if show_legend {
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
#[path = "peers_tests.rs"]
mod tests;
