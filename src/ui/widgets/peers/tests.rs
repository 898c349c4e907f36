use super::*;
use crate::engine::api::{ChokeFlags, DhtRow, PeerEnd, PeerSource, TrackerRow};
use crate::ui::theme::Theme;
use crate::ui::widgets::test_util::{rows, text};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn peer(o: u8, stage: PeerStage, end: Option<PeerEnd>, client: Option<&str>, down: f64) -> PeerRow {
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
    app.update(crate::ui::Action::ShowTab(1));
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
        r[3].contains("failed: con") && r[3].contains('…'),
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
    app.update(crate::ui::Action::ShowTab(1));
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
        app.update(crate::ui::Action::ShowTab(1));
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
    app.update(crate::ui::Action::ShowTab(1));
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

/// An empty peer list with `trackers` announce URLs, the DHT on or off, listening or not.
fn empty(trackers: usize, dht: bool, listen_port: u16) -> Snapshot {
    let tracker = |i: usize| TrackerRow::not_contacted(format!("http://127.0.0.1:{i}/a"), i);
    Snapshot {
        trackers: (0..trackers).map(tracker).collect(),
        dht: dht.then(DhtRow::default),
        listen_port,
        ..Snapshot::empty("x", 10, 1)
    }
}

#[test]
fn empty_list_says_why() {
    let s = empty(1, false, 6881);
    let app = App::new(PathBuf::new(), Theme::plain());
    let t = text(&render_app(&app, &s, 90, 5));
    assert!(
        t.contains("no peers yet: waiting for the tracker or incoming connections"),
        "{t}"
    );
}

#[test]
fn empty_list_names_only_the_sources_in_use() {
    let cases = [
        (
            empty(2, true, 6881),
            " no peers yet: waiting for the trackers, the DHT or incoming connections",
        ),
        // --no-trackers (or a torrent without one): the tracker is not waited for.
        (
            empty(0, true, 6881),
            " no peers yet: no tracker; waiting for the DHT or incoming connections",
        ),
        (
            empty(0, false, 6881),
            " no peers yet: no tracker, DHT off; waiting for incoming connections",
        ),
        (
            empty(0, true, 0),
            " no peers yet: no tracker; waiting for the DHT",
        ),
        (empty(1, false, 0), " no peers yet: waiting for the tracker"),
        (
            empty(0, false, 0),
            " no peers: no tracker, DHT off, not listening for incoming connections",
        ),
    ];
    for (snap, want) in cases {
        assert_eq!(waiting_for(&snap), want);
    }
    // The line the pane draws is that one.
    let app = App::new(PathBuf::new(), Theme::plain());
    let t = text(&render_app(&app, &empty(0, false, 6881), 100, 5));
    assert!(
        t.contains("no tracker, DHT off; waiting for incoming connections"),
        "{t}"
    );
    assert!(!t.contains("waiting for the tracker"), "{t}");
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
    app.update(crate::ui::Action::ShowTab(1));
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
    app.update(crate::ui::Action::ShowTab(1));
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

/// Every row says where the peer came from and how its connection runs: words when the table
/// is roomy, short codes when it is not.
#[test]
fn rows_show_source_transport_and_encryption() {
    use crate::engine::api::PeerSource;
    use crate::net::{Encryption, TransportKind};
    let mut utp = peer(2, PeerStage::Connected, None, Some("libtorrent 2.0.8"), 0.0);
    utp.source = PeerSource::Dht;
    utp.transport = Some(TransportKind::Utp);
    utp.encryption = Some(Encryption::Rc4);
    let mut tcp = peer(3, PeerStage::Connected, None, Some("aria2 1.37.0"), 0.0);
    tcp.source = PeerSource::Pex;
    tcp.transport = Some(TransportKind::Tcp);
    tcp.encryption = Some(Encryption::Plain);
    let s = snapshot(vec![utp, tcp]);
    let mut app = App::new(PathBuf::new(), Theme::plain());
    app.update(crate::ui::Action::ShowTab(1));
    app.on_snapshot(s.clone());
    let wide = rows(&render_app(&app, &s, 160, 8));
    let row = |r: &[String], ip: &str| r.iter().find(|l| l.contains(ip)).cloned().unwrap();
    assert!(
        wide[1].contains("Source") && wide[1].contains("Conn"),
        "{wide:?}"
    );
    assert!(
        row(&wide, "127.0.0.2").contains("DHT      uTP/RC4"),
        "{wide:?}"
    );
    assert!(
        row(&wide, "127.0.0.3").contains("PEX      TCP "),
        "{wide:?}"
    );
    let narrow = rows(&render_app(&app, &s, 80, 8));
    assert!(row(&narrow, "127.0.0.2").contains("DHT uTP*"), "{narrow:?}");
    assert!(row(&narrow, "127.0.0.3").contains("PEX TCP "), "{narrow:?}");
}
