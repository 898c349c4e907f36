//! The detail view's tabs: switching by key and by mouse, what each tab's keys send, and
//! insta snapshots of every tab and of the list's remove confirmation at 80×24, 120×40 and
//! 200×60.

use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::engine::api::{Command, FilePriority, SessionSnapshot, TorrentState};
use crate::ui::action::{Action, Effect};
use crate::ui::detail_fixture::{app_for, snapshot};
use crate::ui::keys::{from_event_in, Mode};
use crate::ui::layout::screen_layout;
use crate::ui::tabs::{labels, Tab};
use crate::ui::widgets::tab_bar::counts;
use crate::ui::{App, Theme};

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

fn screen(snap: &crate::engine::api::Snapshot, app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| crate::ui::draw(f, snap, app))
        .expect("draw");
    terminal.backend().to_string()
}

/// Every row of a TestBackend dump is `"` + exactly `w` cells + `"`: nothing overflows.
fn assert_fits(text: &str, w: u16, h: u16) {
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), usize::from(h), "{text}");
    for r in rows {
        assert_eq!(r.chars().count(), usize::from(w) + 2, "row too wide: {r}");
    }
}

#[test]
fn each_tab_at_three_sizes() {
    let snap = Arc::new(snapshot());
    for tab in Tab::ALL {
        for (w, h) in SIZES {
            let mut app = app_for(&snap, w, h);
            app.handle(Action::ShowTab(tab.index() as u8));
            if tab == Tab::Files {
                app.handle(Action::Down);
            }
            let text = screen(&snap, &app, w, h);
            assert_fits(&text, w, h);
            let name = format!("detail_{}_{w}x{h}", tab.title().to_lowercase());
            insta::assert_snapshot!(name, text);
        }
    }
}

#[test]
fn digits_tab_and_back_tab_switch_tabs() {
    let snap = Arc::new(snapshot());
    let mut app = app_for(&snap, 80, 24);
    assert_eq!((app.tab, app.mode()), (Tab::Peers, Mode::Detail));
    let key = |c| {
        crossterm::event::Event::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ))
    };
    let action = from_event_in(&key('4'), app.mode());
    assert_eq!(action, Some(Action::ShowTab(3)));
    app.handle(Action::ShowTab(3));
    assert_eq!((app.tab, app.mode()), (Tab::Files, Mode::Files));
    app.handle(Action::NextTab);
    assert_eq!(app.tab, Tab::Trackers);
    app.handle(Action::NextTab);
    app.handle(Action::NextTab);
    assert_eq!(app.tab, Tab::Overview, "wraps around");
    app.handle(Action::PrevTab);
    assert_eq!(app.tab, Tab::Log);
    app.handle(Action::ShowTab(9));
    assert_eq!(app.tab, Tab::Log, "no seventh tab");
    // `S` is a priority on the Files tab and nothing elsewhere.
    assert_eq!(from_event_in(&key('S'), Mode::Detail), None);
    assert_eq!(
        from_event_in(&key('S'), Mode::Files),
        Some(Action::SetPriority(FilePriority::Skip))
    );
}

#[test]
fn clicks_on_the_tab_bar_switch_tabs_and_on_rows_select() {
    let snap = Arc::new(snapshot());
    let mut app = app_for(&snap, 120, 40);
    let bar = screen_layout(Rect::new(0, 0, 120, 40)).tabs;
    for (tab, x, label) in labels(bar.width, &counts(&snap)) {
        let mid = x + label.chars().count() as u16 / 2;
        app.handle(Action::Click {
            column: mid,
            row: bar.y,
        });
        assert_eq!(app.tab, tab, "{label}");
    }
    // Peers: the title, the column titles, then rows in sort order.
    app.handle(Action::ShowTab(1));
    let first = app.selected;
    app.handle(Action::Click {
        column: 10,
        row: bar.y + 4,
    });
    assert_ne!(app.selected, first);
    assert_eq!(app.selected_peer().map(|p| p.addr), app.selected);
    // Files: the third row is the 720p file.
    app.handle(Action::ShowTab(3));
    app.handle(Action::Click {
        column: 10,
        row: bar.y + 5,
    });
    let name = app.files.selected_node().map(|n| n.name.clone());
    assert_eq!(name.as_deref(), Some("bbb_720p.mp4"));
    // The wheel scrolls the tree.
    app.handle(Action::WheelDown);
    assert_eq!(app.files.selected, 5);
}

#[test]
fn file_keys_send_priorities_for_a_file_or_a_whole_folder() {
    let snap = Arc::new(snapshot());
    let mut app = app_for(&snap, 80, 24);
    app.handle(Action::ShowTab(3));
    // The top folder: every file.
    let e = app.handle(Action::SetPriority(FilePriority::High));
    assert_eq!(
        e,
        Some(Effect::Torrent(Command::SetFilePriority {
            files: vec![0, 1, 2, 3, 4],
            priority: FilePriority::High
        }))
    );
    // extras/ holds files 2 and 3.
    for _ in 0..3 {
        app.handle(Action::Down);
    }
    assert_eq!(
        app.files.selected_node().map(|n| n.name.as_str()),
        Some("extras")
    );
    let e = app.handle(Action::SetPriority(FilePriority::Skip));
    assert_eq!(
        e,
        Some(Effect::Torrent(Command::SetFilePriority {
            files: vec![2, 3],
            priority: FilePriority::Skip
        }))
    );
    assert_eq!(app.status.as_deref(), Some("extras/ (2 files): skip"));
    // Enter folds it: README.txt is next.
    app.handle(Action::ToggleFold);
    app.handle(Action::Down);
    assert_eq!(
        app.files.selected_node().map(|n| n.name.as_str()),
        Some("README.txt")
    );
    assert_eq!(
        app.handle(Action::ToggleSequential),
        Some(Effect::Torrent(Command::SetSequential(true)))
    );
    assert_eq!(
        app.handle(Action::ToggleSequential),
        Some(Effect::Torrent(Command::SetSequential(false)))
    );
}

#[test]
fn peer_keys_wait_for_the_peers_tab() {
    let snap = Arc::new(snapshot());
    let mut app = app_for(&snap, 80, 24);
    app.handle(Action::ShowTab(0));
    assert_eq!(app.handle(Action::DropPeer), None);
    assert!(app
        .status
        .as_deref()
        .is_some_and(|s| s.contains("Peers tab")));
    app.handle(Action::ShowTab(1));
    assert!(matches!(
        app.handle(Action::DropPeer),
        Some(Effect::Torrent(Command::DropPeer(_)))
    ));
}

#[test]
fn the_trackers_tab_shows_the_whole_error_and_scrolls() {
    let snap = Arc::new(snapshot());
    // 16 rows leave the tab 9 lines for its 14.
    let mut app = app_for(&snap, 80, 16);
    app.handle(Action::ShowTab(4));
    let text = screen(&snap, &app, 80, 16);
    let flat: String = text
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("the next try backs off to 4 minutes"),
        "the error is cut:\n{text}"
    );
    assert!(
        flat.contains("told: uploaded 1 MiB, downloaded 0 B (this run)"),
        "what the tracker heard last:\n{text}"
    );
    assert!(
        !flat.contains("87 nodes"),
        "no room for the DHT yet:\n{text}"
    );
    app.handle(Action::End);
    let scrolled = screen(&snap, &app, 80, 16);
    assert!(scrolled.contains("87 nodes · 1 peer found"), "{scrolled}");
    assert!(
        scrolled.contains("2 peers named by other peers"),
        "{scrolled}"
    );
    assert!(scrolled.contains("web seeds 0"), "{scrolled}");
    app.handle(Action::Home);
    assert_eq!(screen(&snap, &app, 80, 16), text);
}

#[test]
fn help_lists_the_keys_of_the_open_tab() {
    let snap = Arc::new(snapshot());
    let mut app = app_for(&snap, 80, 24);
    app.handle(Action::ShowTab(3));
    app.handle(Action::ToggleHelp);
    let text = screen(&snap, &app, 80, 24);
    assert_fits(&text, 80, 24);
    assert!(
        text.contains("Files tab") && text.contains("S L N H"),
        "{text}"
    );
    assert!(!text.contains("Peer flags"), "{text}");
    insta::assert_snapshot!("detail_files_help_80x24", text);
}

/// The list's remove confirmation for one torrent and for a marked set.
#[test]
fn remove_confirmation_at_three_sizes() {
    let torrents = vec![
        crate::ui::list::test_line(
            1,
            "debian-12.8.0-amd64-netinst.iso",
            TorrentState::Downloading,
        ),
        crate::ui::list::test_line(2, "archlinux-2026.11.01-x86_64.iso", TorrentState::Seeding),
        crate::ui::list::test_line(3, "Big Buck Bunny", TorrentState::Paused),
    ];
    let session = Arc::new(SessionSnapshot {
        torrents: torrents.into_iter().map(Arc::new).collect(),
        listen_port: 6881,
        ..SessionSnapshot::default()
    });
    for (w, h) in SIZES {
        for marked in [false, true] {
            let mut app = App::for_session(std::path::PathBuf::from("/tmp/t.log"), Theme::plain());
            app.set_viewport(Rect::new(0, 0, w, h));
            app.on_session(Arc::clone(&session));
            if marked {
                app.handle(Action::ToggleMark);
                app.handle(Action::ToggleMark);
            }
            app.handle(Action::Remove);
            assert_eq!(app.mode(), Mode::Dialog);
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
            terminal
                .draw(|f| {
                    let area = f.area();
                    crate::ui::list::render(area, f.buffer_mut(), &session, &app)
                })
                .expect("draw");
            let text = terminal.backend().to_string();
            assert_fits(&text, w, h);
            assert!(
                text.contains("keep the data") && text.contains("delete the data"),
                "{text}"
            );
            let which = if marked { "marked" } else { "one" };
            insta::assert_snapshot!(format!("list_remove_{which}_{w}x{h}"), text);
        }
    }
}

/// The Files tab's order is the torrent's line, whoever set it (the RPC, the qBittorrent
/// API, `ttui files --sequential`), and `o` flips that value, not one the UI keeps.
#[test]
fn the_files_tab_shows_and_flips_the_lines_order() {
    let snap = Arc::new(snapshot());
    let line = |sequential: bool| {
        let mut l = crate::ui::list::test_line(1, "t", TorrentState::Downloading);
        l.sequential = sequential;
        Arc::new(SessionSnapshot {
            torrents: vec![Arc::new(l)],
            ..SessionSnapshot::default()
        })
    };
    let mut app = App::for_session(std::path::PathBuf::from("/tmp/t.log"), Theme::plain());
    app.set_viewport(Rect::new(0, 0, 120, 40));
    app.on_session(line(true));
    app.start_on(crate::engine::api::TorrentId(1));
    app.on_snapshot(Arc::clone(&snap));
    app.handle(Action::ShowTab(Tab::Files.index() as u8));
    // Set elsewhere: shown here, and `o` turns it off.
    assert!(screen(&snap, &app, 120, 40).contains("· in order"));
    assert_eq!(
        app.handle(Action::ToggleSequential),
        Some(Effect::Torrent(Command::SetSequential(false)))
    );
    // Turned off elsewhere: `o` turns it on again.
    app.on_session(line(false));
    assert!(screen(&snap, &app, 120, 40).contains("· rarest first"));
    assert_eq!(
        app.handle(Action::ToggleSequential),
        Some(Effect::Torrent(Command::SetSequential(true)))
    );
}
