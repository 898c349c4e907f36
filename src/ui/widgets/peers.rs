//! The peer table: who we talk to, how each connection stands, and why the dead ones died.
//! The words about each peer are [`super::peer_words`].

use std::net::SocketAddr;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget, Wrap};

use crate::engine::api::{PeerRow, PeerStage, Snapshot};
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

    // Fixed columns: marker, address, client, [state], flags, down, up, have, req, got, sent.
    let rate_w = if wide { 9 } else { 6 };
    let mut fixed: Vec<u16> = vec![1, addr_w as u16, client_w as u16, 3, rate_w, rate_w, 4];
    let mut header = vec![
        "", "Address", "Client", "State", "Flg", "Down/s", "Up/s", "Have",
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
    let padded: Vec<usize> = [1, 2].into_iter().chain(4..fixed.len()).collect();
    let spare = state_room.saturating_sub(state_need);
    let pad = (spare / padded.len()).min(6) as u16;
    for &i in &padded {
        if let Some(w) = fixed.get_mut(i) {
            *w += pad;
        }
    }
    let state_w = state_room.saturating_sub(usize::from(pad) * padded.len());
    let mut widths: Vec<Constraint> = fixed.iter().map(|&w| Constraint::Length(w)).collect();
    widths.insert(3, Constraint::Fill(1));
    let header_row = Row::new(header.into_iter().enumerate().map(|(i, h)| {
        // Numeric columns are right-aligned, so their titles are too.
        if i >= 5 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{ChokeFlags, PeerEnd, PeerSource};
    use crate::ui::theme::Theme;
    use crate::ui::widgets::test_util::{rows, text};
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    fn peer(
        o: u8,
        stage: PeerStage,
        end: Option<PeerEnd>,
        client: Option<&str>,
        down: f64,
    ) -> PeerRow {
        PeerRow {
            client: client.map(str::to_string),
            end,
            since: Duration::from_secs(4),
            flags: ChokeFlags {
                am_choking: true,
                am_interested: true,
                peer_choking: true,
                peer_interested: false,
            },
            down_rate: down,
            progress: 0.5,
            requests_in_flight: 7,
            attempts: 1,
            ..PeerRow::new(
                SocketAddr::from(([127, 0, 0, o], 51413)),
                PeerSource::Tracker,
                stage,
            )
        }
    }

    fn snapshot(peers: Vec<PeerRow>) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            elapsed: Duration::from_secs(1),
            peers,
            ..Snapshot::empty("x", 10, 1)
        })
    }

    /// A connected Transmission at 2 KiB/s and a peer that refused the connection.
    fn transmission_and_refused() -> Arc<Snapshot> {
        snapshot(vec![
            peer(
                2,
                PeerStage::Connected,
                None,
                Some("Transmission 3.00"),
                2048.0,
            ),
            peer(3, PeerStage::Failed, Some(PeerEnd::Refused), None, 0.0),
        ])
    }

    fn render_app(app: &App, snap: &Snapshot, w: u16, h: u16) -> Buffer {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, snap, app);
        buf
    }

    #[test]
    fn table_shows_failures_dimmed_and_selected_detail() {
        let s = transmission_and_refused();
        let mut app = App::new(PathBuf::new(), Theme::colored());
        app.on_snapshot(s.clone());
        let buf = render_app(&app, &s, 80, 8);
        let r = rows(&buf);
        assert!(
            r[0].contains("Peers 1 connected / 2 known · sort: rate"),
            "{r:?}"
        );
        assert!(r[1].contains("Address") && r[1].contains("Flg"), "{r:?}");
        assert!(
            r[2].starts_with("▸ 127.0.0.2:51413")
                && r[2].contains("Transmission 3.00")
                && r[2].contains("d."),
            "{r:?}"
        );
        assert!(r[2].contains("2.0K") && r[2].contains("50%"), "{r:?}");
        assert!(
            r[3].contains("failed: connection") && r[3].contains('…'),
            "cut to fit 80 columns: {r:?}"
        );
        let dim_cell = buf.cell((3, 3)).expect("cell");
        assert!(
            dim_cell.modifier.contains(Modifier::DIM),
            "failed rows are dimmed"
        );
        let t = text(&buf);
        assert!(t.contains("they choke us, we are interested"), "{t}");
        let wide = rows(&render_app(&app, &s, 160, 8));
        assert!(
            wide[3].contains("failed: connection refused "),
            "in full when there is room: {wide:?}"
        );
        assert!(wide[2].contains("2.0 KiB"), "{wide:?}");
        assert!(
            wide[1].contains("Req") && wide[2].contains(" 7 "),
            "requests column when wide: {wide:?}"
        );
    }

    #[test]
    fn selection_scrolls_into_view() {
        let peers = (1..=30)
            .map(|i| peer(i, PeerStage::Connected, None, None, 0.0))
            .collect();
        let s = snapshot(peers);
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        app.peer_scroll.set_page(5);
        app.update(crate::ui::Action::End);
        assert_eq!(app.peer_scroll.top(), 25);
        let r = rows(&render_app(&app, &s, 80, 8));
        assert!(r[6].starts_with("▸ 127.0.0.30:51413"), "{r:?}");
        assert!(r[2].starts_with("  127.0.0.26:"), "{r:?}");
    }

    #[test]
    fn selected_row_is_one_neutral_bar_whatever_the_state() {
        let s = snapshot(vec![
            peer(2, PeerStage::Failed, Some(PeerEnd::Refused), None, 0.0),
            peer(3, PeerStage::Connected, None, Some("aria2"), 0.0),
        ]);
        for theme in [Theme::colored(), Theme::plain()] {
            let mut app = App::new(PathBuf::new(), theme);
            app.on_snapshot(s.clone());
            let buf = render_app(&app, &s, 100, 8);
            let r = rows(&buf);
            assert!(r[2].starts_with("▸ 127.0.0.3"), "top row selected: {r:?}");
            let bg = |x: u16, y: u16| buf.cell((x, y)).map(|c| (c.bg, c.modifier));
            // Every cell of the selected row, gaps included, carries the same background.
            let (sel_bg, sel_mod) = bg(0, 2).expect("cell");
            for x in 0..100 {
                assert_eq!(bg(x, 2).map(|b| b.0), Some(sel_bg), "x={x}");
            }
            if theme.color {
                assert_eq!(sel_bg, ratatui::style::Color::Blue);
            } else {
                assert!(sel_mod.contains(Modifier::REVERSED));
            }
            // Moving onto the failed peer gives it the same bar, not a red one.
            app.update(crate::ui::Action::Down);
            let buf = render_app(&app, &s, 100, 8);
            assert_eq!(buf.cell((0, 3)).map(|c| c.bg), Some(sel_bg));
            assert_eq!(buf.cell((40, 3)).map(|c| c.bg), Some(sel_bg));
            let state_x = rows(&buf)[3].find("failed").expect("state text") as u16;
            let state_x = rows(&buf)[3][..usize::from(state_x)].chars().count() as u16;
            assert_eq!(
                buf.cell((state_x, 3)).map(|c| c.fg),
                Some(if theme.color {
                    ratatui::style::Color::White
                } else {
                    ratatui::style::Color::Reset
                }),
                "no red text on the bar"
            );
            assert_ne!(
                buf.cell((40, 2)).map(|c| c.bg),
                Some(sel_bg).filter(|_| theme.color)
            );
        }
    }

    #[test]
    fn spare_width_does_not_all_go_to_state() {
        let s = transmission_and_refused();
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        let r = rows(&render_app(&app, &s, 160, 8));
        let state = r[1].find("State").expect("State header");
        let flg = r[1].find("Flg").expect("Flg header");
        let longest = "failed: connection refused".len();
        assert!(
            flg - state <= longest + 16,
            "State column {} wide for {longest} of text: {r:#?}",
            flg - state
        );
        assert!(r[1].trim_end().ends_with("Sent"), "{r:#?}");
    }

    #[test]
    fn empty_list_says_why() {
        let s = snapshot(vec![]);
        let app = App::new(PathBuf::new(), Theme::plain());
        let t = text(&render_app(&app, &s, 80, 5));
        assert!(t.contains("no peers yet"), "{t}");
    }

    #[test]
    fn selected_peer_line_shows_the_peer_id_client_only_when_it_differs() {
        let mut lt_app = peer(
            2,
            PeerStage::Connected,
            None,
            Some("lt_client/2.0.8.0"),
            0.0,
        );
        lt_app.id_client = Some("libtorrent 2.0.8".into());
        let mut aria = peer(3, PeerStage::Connected, None, Some("aria2/1.36.0"), 0.0);
        aria.id_client = Some("aria2 1.36.0".into());
        let s = snapshot(vec![lt_app.clone(), aria]);
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        let t = text(&render_app(&app, &s, 160, 8));
        assert!(
            t.contains("▸ 127.0.0.2:51413 lt_client/2.0.8.0 (peer id: libtorrent 2.0.8)"),
            "{t}"
        );
        app.update(crate::ui::Action::Down);
        let t = text(&render_app(&app, &s, 160, 8));
        assert!(!t.contains("peer id:"), "{t}");
    }

    #[test]
    fn outside_text_is_cleaned_and_cut() {
        let mut evil = peer(2, PeerStage::Connected, None, None, 0.0);
        evil.client = Some(format!("x\x1b[31m{}", "y".repeat(100_000)));
        evil.id_client = Some("z\u{202E}gpj".into());
        let gone = peer(
            3,
            PeerStage::Failed,
            Some(PeerEnd::Protocol("bad\x07bell".into())),
            None,
            0.0,
        );
        let s = snapshot(vec![evil, gone]);
        let mut app = App::new(PathBuf::new(), Theme::plain());
        app.on_snapshot(s.clone());
        let r = rows(&render_app(&app, &s, 160, 12));
        assert!(
            r.iter()
                .all(|l| !l.chars().any(|c| c.is_control() || c == '\u{202E}')),
            "{r:#?}"
        );
        assert!(
            r[2].contains("x\u{fffd}[31myyy") && r[2].contains('…'),
            "{r:#?}"
        );
        app.update(crate::ui::Action::Down);
        let t = text(&render_app(&app, &s, 160, 12));
        assert!(t.contains("bad\u{fffd}bell"), "{t}");
    }
}
