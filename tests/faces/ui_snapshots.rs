//! Whole-screen snapshots of the TUI at 80×24 and 160×48, from hand-made snapshots (fixed
//! durations, no clocks) so they are byte-for-byte deterministic.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

use ttui::internals::engine::api::{
    ChokeFlags, LogLevel, LogLine, PeerEnd, PeerRow, PeerSource, PeerStage, PieceState, Snapshot,
    TorrentState, TrackerRow, TrackerStatus,
};
use ttui::internals::net::{Encryption, TransportKind};
use ttui::internals::ui::{self, Action, App, Theme};

const MIB: u64 = 1024 * 1024;
const PIECES: u32 = 400;
const PIECE_LEN: u32 = 256 * 1024;

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], port))
}

fn flags(
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
) -> ChokeFlags {
    ChokeFlags {
        am_choking,
        am_interested,
        peer_choking,
        peer_interested,
    }
}

fn peer(last: u8, stage: PeerStage) -> PeerRow {
    PeerRow {
        since: Duration::from_secs(3),
        attempts: 1,
        ..PeerRow::new(addr(last, 51413), PeerSource::Tracker, stage)
    }
}

fn connected(
    last: u8,
    client: &str,
    f: ChokeFlags,
    down: f64,
    up: f64,
    progress: f32,
    reqs: u32,
) -> PeerRow {
    PeerRow {
        client: Some(client.to_string()),
        flags: f,
        down_rate: down,
        up_rate: up,
        downloaded: (down * 40.0) as u64,
        uploaded: (up * 40.0) as u64,
        progress,
        requests_in_flight: reqs,
        handshake_time: Some(Duration::from_millis(12)),
        since: Duration::from_secs(40),
        transport: Some(TransportKind::Tcp),
        encryption: Some(Encryption::Plain),
        ..peer(last, PeerStage::Connected)
    }
}

fn gone(last: u8, stage: PeerStage, end: PeerEnd, attempts: u32) -> PeerRow {
    PeerRow {
        end: Some(end),
        attempts,
        since: Duration::from_secs(17),
        ..peer(last, stage)
    }
}

fn log(at: u64, level: LogLevel, text: &str) -> LogLine {
    LogLine {
        at: Duration::from_secs(at),
        level,
        text: text.to_string(),
    }
}

fn tracker(status: TrackerStatus, next: u64) -> TrackerRow {
    TrackerRow {
        url: "http://127.0.0.1:6969/announce".into(),
        tier: 0,
        status,
        last_announce: Some(Duration::from_secs(12)),
        next_announce: Some(Duration::from_secs(next)),
        seeders: Some(3),
        leechers: Some(2),
        warning: None,
        last_counts: None,
    }
}

fn base(state: TorrentState) -> Snapshot {
    Snapshot {
        info_hash: [0xab; 20],
        output: PathBuf::from("/tmp/ttui-out"),
        state,
        elapsed: Duration::from_secs(4),
        trackers: vec![tracker(TrackerStatus::Ok { peers: 2 }, 1795)],
        log: vec![
            log(0, LogLevel::Info, "started: 400 pieces of 256 KiB, 100 MiB"),
            log(1, LogLevel::Info, "tracker 127.0.0.1:6969: 2 peers"),
        ],
        listen_port: 6881,
        ..Snapshot::empty(
            "debian-12.8.0-amd64-netinst.iso",
            PIECES as u64 * PIECE_LEN as u64,
            PIECE_LEN,
        )
    }
}

fn connecting() -> Snapshot {
    let mut s = base(TorrentState::Downloading);
    s.peers = vec![
        PeerRow {
            since: Duration::from_secs(2),
            ..peer(2, PeerStage::Connecting)
        },
        peer(3, PeerStage::Queued),
    ];
    s
}

/// A deterministic scatter (rarest-first downloads are not in order).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn mid_download() -> Snapshot {
    let mut s = base(TorrentState::Downloading);
    let mut seed = 7;
    let mut verified = 0u64;
    for i in 0..PIECES as usize {
        let r = lcg(&mut seed) % 100;
        s.pieces[i] = match r {
            0..=44 => PieceState::Verified,
            45..=52 => PieceState::InFlight,
            53 => PieceState::Failed,
            _ => PieceState::Missing,
        };
        if s.pieces[i] == PieceState::Verified {
            verified += 1;
        }
        s.availability[i] = if i % 97 == 5 {
            0
        } else {
            (lcg(&mut seed) % 5) as u16 + 1
        };
    }
    s.verified_bytes = verified * PIECE_LEN as u64;
    s.downloaded = s.verified_bytes + 3 * MIB;
    s.uploaded = 6 * MIB;
    s.wasted = PIECE_LEN as u64;
    s.down_rate = 3.4 * MIB as f64;
    s.up_rate = 180.0 * 1024.0;
    s.elapsed = Duration::from_secs(75);
    s.peers = vec![
        connected(
            2,
            "Transmission 3.00",
            flags(true, true, false, false),
            1.9 * MIB as f64,
            0.0,
            1.0,
            64,
        ),
        PeerRow {
            source: PeerSource::Dht,
            transport: Some(TransportKind::Utp),
            encryption: Some(Encryption::Rc4),
            ..connected(
                3,
                "libtorrent 2.0.8",
                flags(false, true, false, true),
                1.2 * MIB as f64,
                150.0 * 1024.0,
                0.62,
                48,
            )
        },
        PeerRow {
            source: PeerSource::Incoming,
            ..connected(
                4,
                "aria2/1.36.0",
                flags(false, true, true, true),
                0.0,
                30.0 * 1024.0,
                0.35,
                0,
            )
        },
        PeerRow {
            hash_failures: 2,
            ..connected(
                5,
                "libtorrent 1.2.19",
                flags(true, true, false, false),
                300.0 * 1024.0,
                0.0,
                1.0,
                12,
            )
        },
        PeerRow {
            since: Duration::from_secs(1),
            source: PeerSource::Pex,
            ..peer(6, PeerStage::Handshaking)
        },
        gone(7, PeerStage::Failed, PeerEnd::Refused, 3),
        gone(8, PeerStage::Failed, PeerEnd::WrongInfoHash, 1),
        gone(9, PeerStage::Failed, PeerEnd::ConnectTimeout, 2),
        PeerRow {
            client: Some("Transmission 3.00".into()),
            ..gone(10, PeerStage::Disconnected, PeerEnd::ClosedByPeer, 1)
        },
    ];
    s.trackers = vec![
        tracker(TrackerStatus::Ok { peers: 9 }, 1712),
        TrackerRow {
            url: "udp://127.0.0.1:6970/announce".into(),
            tier: 1,
            status: TrackerStatus::Failed("connection refused".into()),
            ..tracker(TrackerStatus::NotContacted, 60)
        },
    ];
    s.log = vec![
        log(0, LogLevel::Info, "started: 400 pieces of 256 KiB, 100 MiB"),
        log(1, LogLevel::Info, "tracker 127.0.0.1:6969: 9 peers"),
        log(
            2,
            LogLevel::Warn,
            "127.0.0.7:51413 connection refused (will retry)",
        ),
        log(
            3,
            LogLevel::Warn,
            "127.0.0.8:51413 wrong info hash, dropped",
        ),
        log(12, LogLevel::Warn, "127.0.0.9:51413 timed out connecting"),
        log(
            31,
            LogLevel::Error,
            "piece 53 failed its hash check (from 127.0.0.5:51413), refetching",
        ),
        log(60, LogLevel::Info, "127.0.0.10:51413 closed by peer"),
    ];
    s
}

fn paused() -> Snapshot {
    let mut s = mid_download();
    s.state = TorrentState::Paused;
    s.down_rate = 0.0;
    s.up_rate = 0.0;
    for p in &mut s.peers {
        p.down_rate = 0.0;
        p.up_rate = 0.0;
        p.requests_in_flight = 0;
    }
    s.log.push(log(75, LogLevel::Info, "paused by user"));
    s
}

fn complete() -> Snapshot {
    let mut s = base(TorrentState::Complete);
    s.pieces = vec![PieceState::Verified; PIECES as usize];
    s.availability = vec![2; PIECES as usize];
    s.verified_bytes = s.total_length;
    s.downloaded = s.total_length;
    s.elapsed = Duration::from_secs(190);
    s.peers = vec![
        gone(2, PeerStage::Disconnected, PeerEnd::NotNeeded, 1),
        gone(3, PeerStage::Disconnected, PeerEnd::NotNeeded, 1),
    ];
    s.log.push(log(
        189,
        LogLevel::Info,
        "all 400 pieces verified in 3m 09s",
    ));
    s
}

/// Feeds a minute of history (one snapshot a second ramping up to the final rate), then the
/// snapshot itself, as the event loop would.
fn app_for(snap: &Arc<Snapshot>) -> App {
    app_after(snap, snap)
}

/// The same, when the minute before `snap` looked like `before` (a paused torrent was
/// downloading until a moment ago).
fn app_after(before: &Snapshot, snap: &Arc<Snapshot>) -> App {
    let mut app = App::new(
        PathBuf::from("/home/user/.local/state/ttui/ttui.log"),
        Theme::plain(),
    );
    let end = snap.elapsed.as_secs();
    for t in end.saturating_sub(60)..end {
        let mut s = before.clone();
        let phase = (t % 20) as f64 / 20.0;
        s.elapsed = Duration::from_secs(t);
        s.down_rate = before.down_rate * (0.5 + phase);
        s.up_rate = before.up_rate * (1.0 - phase / 2.0);
        app.on_snapshot(Arc::new(s));
    }
    app.on_snapshot(snap.clone());
    app
}

fn screen(snap: &Arc<Snapshot>, app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|f| ui::draw(f, snap, app)).expect("draw");
    terminal.backend().to_string()
}

fn check(name: &str, snap: Snapshot, prepare: impl Fn(&mut App)) {
    check_after(name, &snap.clone(), snap, prepare);
}

/// Both sizes, with the app sized for the screen as the event loop does before drawing.
fn check_after(name: &str, before: &Snapshot, snap: Snapshot, prepare: impl Fn(&mut App)) {
    let snap = Arc::new(snap);
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app_after(before, &snap);
        app.set_viewport(Rect::new(0, 0, w, h));
        prepare(&mut app);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&snap, &app, w, h));
    }
}

#[test]
fn connecting_screen() {
    check("connecting", connecting(), |app| {
        app.update(Action::ShowTab(1));
    });
}

#[test]
fn mid_download_screen() {
    check("mid_download", mid_download(), |_| {});
}

#[test]
fn paused_screen() {
    // The history is of the download before the pause: the graph keeps its peak.
    check_after("paused", &mid_download(), paused(), |_| {});
}

#[test]
fn help_screen() {
    check("help", mid_download(), |app| {
        app.update(Action::ToggleHelp);
    });
}

#[test]
fn complete_screen() {
    check("complete", complete(), |_| {});
}

#[test]
fn availability_view_screen() {
    check("availability", mid_download(), |app| {
        app.update(Action::ShowTab(2));
        app.update(Action::TogglePieceView);
        app.update(Action::Down);
        app.update(Action::Down);
    });
}

/// NO_COLOR: same text, and not one cell carries a colour.
#[test]
fn plain_theme_has_no_colour_but_same_symbols() {
    let snap = Arc::new(mid_download());
    let plain = app_for(&snap);
    let mut coloured = app_for(&snap);
    coloured.theme = Theme::colored();
    let draw = |app: &App| {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
        terminal.draw(|f| ui::draw(f, &snap, app)).expect("draw");
        terminal.backend().buffer().clone()
    };
    let (p, c) = (draw(&plain), draw(&coloured));
    let text = |b: &ratatui::buffer::Buffer| {
        b.content()
            .iter()
            .map(|c| c.symbol().to_string())
            .collect::<String>()
    };
    assert_eq!(text(&p), text(&c));
    assert!(p
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(
        c.content().iter().any(|c| c.fg == Color::Green),
        "the coloured theme does colour"
    );
    // Only the 16 named colours, never RGB or indexed.
    assert!(c
        .content()
        .iter()
        .all(|c| !matches!(c.fg, Color::Rgb(..) | Color::Indexed(_))
            && !matches!(c.bg, Color::Rgb(..) | Color::Indexed(_))));
}

/// Selection is by address: re-sorting keeps the same peer selected and dropping it sends its
/// address.
#[test]
fn sort_cycle_keeps_selected_peer() {
    let snap = Arc::new(mid_download());
    let mut app = app_for(&snap);
    app.update(Action::ShowTab(1));
    app.update(Action::Down);
    let chosen = app.selected.expect("a selection");
    for _ in 0..5 {
        app.update(Action::CycleSort);
        assert_eq!(app.selected, Some(chosen));
    }
    assert_eq!(
        app.update(Action::DropPeer),
        Some(ttui::internals::engine::api::Command::DropPeer(chosen))
    );
    let text = screen(&snap, &app, 80, 24);
    assert!(text.contains(&format!("▸ {chosen}")), "{text}");
}

/// Tiny and huge terminals must not panic.
#[test]
fn odd_sizes_do_not_panic() {
    let snap = Arc::new(mid_download());
    let mut app = app_for(&snap);
    for (w, h) in [(1, 1), (10, 3), (20, 8), (80, 10), (300, 100)] {
        screen(&snap, &app, w, h);
        app.update(Action::ToggleHelp);
        screen(&snap, &app, w, h);
        app.update(Action::Back);
    }
}

/// The session list (the home screen).
mod list;
