//! The session list at 80×24, 120×40 and 200×60, and its remove dialog and help, from a
//! hand-made session snapshot (fixed dates, no clocks).

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

use ttui::internals::engine::api::{SessionSnapshot, TorrentId, TorrentLine, TorrentState};
use ttui::internals::ui::list;
use ttui::internals::ui::{Action, App, Theme};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// 2026-11-23 09:00 UTC.
const ADDED: u64 = 1_795_683_600 - 3 * 86_400;

fn line(id: u32, name: &str, state: TorrentState, total: u64, done: f64) -> TorrentLine {
    let verified = (total as f64 * done) as u64;
    TorrentLine {
        info_hash: [id as u8; 20],
        name: name.to_string(),
        state,
        total_bytes: total,
        wanted_bytes: total,
        verified_bytes: verified,
        downloaded: verified,
        save_path: PathBuf::from("/home/user/Downloads"),
        added: ADDED + u64::from(id) * 3_700,
        // Payload last moved a day after it was added.
        last_activity: ADDED + u64::from(id) * 3_700 + 86_400,
        ..TorrentLine::placeholder(TorrentId(id))
    }
}

pub fn session() -> SessionSnapshot {
    use TorrentState as S;
    let mut debian = line(
        1,
        "debian-12.8.0-amd64-netinst.iso",
        S::Downloading,
        631 * MIB,
        0.45,
    );
    debian.down_rate = 3.4 * MIB as f64;
    debian.up_rate = 180.0 * 1024.0;
    debian.uploaded = 20 * MIB;
    (debian.peers, debian.seeds) = (12, 4);
    let mut ubuntu = line(
        2,
        "ubuntu-24.04.1-desktop-amd64.iso",
        S::Seeding,
        6 * GIB,
        1.0,
    );
    ubuntu.up_rate = 512.0 * 1024.0;
    ubuntu.uploaded = 9 * GIB + 300 * MIB;
    (ubuntu.peers, ubuntu.seeds) = (3, 0);
    let mut arch = line(
        3,
        "archlinux-2024.11.01-x86_64.iso",
        S::Paused,
        1200 * MIB,
        1.0,
    );
    arch.why = Some("ratio 2.0 reached".into());
    arch.uploaded = 2400 * MIB;
    let fedora = line(
        4,
        "Fedora-Workstation-Live-x86_64-41-1.4.iso",
        S::Checking {
            checked: 920,
            total: 2300,
            rate: 310 << 20,
            eta: Some(5),
        },
        2300 * MIB,
        0.0,
    );
    let disk = line(
        5,
        "big-dataset-2024.tar.zst",
        S::Error("disk full".into()),
        80 * GIB,
        0.62,
    );
    let mut long = line(
        6,
        "The.Complete.Works.of.Someone.Very.Prolific.1999-2024.Remastered.Deluxe.Edition.FLAC.24bit-96kHz.Multi-Disc.Box-Set",
        S::Downloading,
        14 * GIB,
        0.08,
    );
    long.wanted_bytes = 9 * GIB;
    long.why = Some("no peer has 3 pieces".into());
    long.down_rate = 1500.0;
    (long.peers, long.seeds) = (2, 0);
    let mut evil = line(
        7,
        "evil\x1b[2J\x1b]0;pwned\x07name.iso",
        S::Paused,
        700 * MIB,
        0.0,
    );
    evil.queue = Some(ttui::internals::engine::api::QueueState::Waiting {
        seed: false,
        rank: 4,
        slots: 3,
    });
    evil.why = evil.queue.map(|q| q.why());
    SessionSnapshot {
        torrents: [debian, ubuntu, arch, fedora, disk, long, evil]
            .into_iter()
            .map(Arc::new)
            .collect(),
        down_rate: 3.4 * MIB as f64 + 1500.0,
        up_rate: 692.0 * 1024.0,
        listen_port: 6881,
        dht_nodes: Some(312),
        incoming: 0,
        default_save_path: PathBuf::from("/home/user/Downloads"),
        save_error: None,
        ..SessionSnapshot::default()
    }
}

fn app_for(snap: &Arc<SessionSnapshot>, w: u16, h: u16) -> App {
    let mut app = App::for_session(
        PathBuf::from("/home/user/.local/state/ttui/ttui.log"),
        Theme::plain(),
    );
    app.set_viewport(Rect::new(0, 0, w, h));
    app.on_session(snap.clone());
    app
}

fn draw(snap: &SessionSnapshot, app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| {
            let area = f.area();
            list::render(area, f.buffer_mut(), snap, app)
        })
        .expect("draw");
    terminal
}

fn screen(snap: &SessionSnapshot, app: &App, w: u16, h: u16) -> String {
    draw(snap, app, w, h).backend().to_string()
}

fn check(name: &str, w: u16, h: u16, prepare: impl Fn(&mut App)) {
    let snap = Arc::new(session());
    let mut app = app_for(&snap, w, h);
    prepare(&mut app);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&snap, &app, w, h));
    });
}

#[test]
fn list_at_three_sizes() {
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        check("list", w, h, |app| {
            // A mark and a moved selection show too.
            app.handle(Action::ToggleMark);
            app.handle(Action::Down);
        });
    }
}

#[test]
fn remove_dialog() {
    check("list_remove", 80, 24, |app| {
        app.handle(Action::Remove);
    });
}

#[test]
fn list_help() {
    check("list_help", 80, 24, |app| {
        app.handle(Action::ToggleHelp);
    });
}

#[test]
fn search_filter_and_sort() {
    check("list_search", 120, 40, |app| {
        app.handle(Action::CycleFilter);
        app.handle(Action::CycleSort);
        app.handle(Action::Search);
        for c in "ISO".chars() {
            app.handle(Action::Type(c));
        }
    });
}

fn rows(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.top()..a.bottom())
        .map(|y| {
            (a.left()..a.right())
                .map(|x| buf[(x, y)].symbol())
                .collect()
        })
        .collect()
}

/// Nothing runs past its cell: every row is exactly the screen wide, the escape bytes are
/// gone, and each state's words are on screen at 120 columns.
#[test]
fn cells_stay_in_their_columns() {
    let snap = Arc::new(session());
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let app = app_for(&snap, w, h);
        let t = draw(&snap, &app, w, h);
        let r = rows(t.backend().buffer());
        let all = r.join("\n");
        assert!(!all.contains('\x1b') && !all.contains('\x07'), "{all}");
        assert!(all.contains("evil\u{fffd}[2J"), "{all}");
        if w >= 120 {
            // At 120 columns a long reason is cut after 22 characters (the selected line
            // under the table has it whole); at 200 all of it shows.
            let cut = if w >= 200 { usize::MAX } else { 22 };
            for words in [
                "downloading",
                "seeding",
                "paused: ratio 2.0 reached",
                "checking: 40% checked",
                "error: disk full",
                "downloading: no peer has 3 pieces",
                "queued: 4th for 3 download slots",
            ] {
                let words: String = words.chars().take(cut).collect();
                assert!(all.contains(&words), "{words} at {w}:\n{all}");
            }
        }
    }
}

/// NO_COLOR: the same text, and not one cell carries a colour.
#[test]
fn plain_theme_has_no_colour() {
    let snap = Arc::new(session());
    let plain = app_for(&snap, 120, 40);
    let mut coloured = app_for(&snap, 120, 40);
    coloured.theme = Theme::colored();
    let p = draw(&snap, &plain, 120, 40).backend().buffer().clone();
    let c = draw(&snap, &coloured, 120, 40).backend().buffer().clone();
    assert_eq!(rows(&p), rows(&c));
    assert!(p
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(
        c.content().iter().any(|c| c.fg == Color::Red),
        "the error is red"
    );
}

#[test]
fn ten_thousand_torrents_scroll_to_the_last() {
    let base = session();
    let torrents = (0..10_000u32)
        .map(|i| {
            let mut t = base.torrents[(i % 7) as usize].clone();
            Arc::make_mut(&mut t).id = TorrentId(i + 1);
            Arc::make_mut(&mut t).name = format!("torrent {:05}", i + 1);
            Arc::make_mut(&mut t).added = u64::from(i);
            t
        })
        .collect();
    let snap = Arc::new(SessionSnapshot { torrents, ..base });
    let mut app = app_for(&snap, 80, 24);
    app.handle(Action::End);
    let text = screen(&snap, &app, 80, 24);
    assert!(text.contains("▸ torrent 10000"), "{text}");
    assert!(!text.contains("torrent 00001 "), "{text}");
    app.handle(Action::PageUp);
    let text = screen(&snap, &app, 80, 24);
    assert!(text.contains("torrent 09982"), "one page up:\n{text}");
}

#[test]
fn odd_sizes_do_not_panic() {
    let snap = Arc::new(session());
    for (w, h) in [
        (1, 1),
        (10, 3),
        (20, 5),
        (20, 8),
        (40, 12),
        (80, 10),
        (300, 100),
    ] {
        let mut app = app_for(&snap, w, h);
        screen(&snap, &app, w, h);
        app.handle(Action::Remove);
        screen(&snap, &app, w, h);
        app.handle(Action::Back);
        app.handle(Action::ToggleHelp);
        screen(&snap, &app, w, h);
    }
    let empty = SessionSnapshot::default();
    let app = app_for(&Arc::new(empty.clone()), 80, 24);
    assert!(screen(&empty, &app, 80, 24).contains("no torrents yet"));
}

/// Enter opens the selected torrent's detail view, whose footer says how to come back.
#[test]
fn the_detail_view_opened_from_the_list_says_esc_goes_back() {
    let snap = Arc::new(session());
    let mut app = app_for(&snap, 80, 24);
    app.handle(Action::Down);
    assert_eq!(
        app.handle(Action::Open),
        Some(ttui::internals::ui::action::Effect::Open(TorrentId(2)))
    );
    let detail = Arc::new(ttui::internals::engine::api::Snapshot::empty(
        "ubuntu.iso",
        1 << 20,
        1 << 16,
    ));
    app.on_snapshot(detail.clone());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| ttui::internals::ui::draw(f, &detail, &app))
        .expect("draw");
    let r = rows(terminal.backend().buffer());
    assert!(r[23].starts_with(" Esc list  q quit"), "{}", r[23]);
}
