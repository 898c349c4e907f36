//! insta snapshots of the add dialog: a multi-file .torrent's tree at 80×24, 120×40 and
//! 200×60, a magnet link, and an ambiguous Tab.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::engine::api::{SessionSnapshot, TorrentState};
use crate::ui::action::Action;
use crate::ui::keys::Mode;
use crate::ui::list::add_state::tests::setup;
use crate::ui::list::add_state::AddDialog;
use crate::ui::{App, Theme};

fn session() -> Arc<SessionSnapshot> {
    Arc::new(SessionSnapshot {
        torrents: vec![
            Arc::new(crate::ui::list::test_line(
                1,
                "debian-12.8.0-amd64-netinst.iso",
                TorrentState::Seeding,
            )),
            Arc::new(crate::ui::list::test_line(
                2,
                "Big Buck Bunny",
                TorrentState::Paused,
            )),
        ],
        listen_port: 6881,
        default_save_path: PathBuf::from("/srv/downloads"),
        ..SessionSnapshot::default()
    })
}

/// The list at `w`×`h` with `dialog` open on it.
fn screen(dialog: AddDialog, w: u16, h: u16) -> String {
    let session = session();
    let mut app = App::for_session(PathBuf::from("/tmp/t.log"), Theme::plain());
    app.set_viewport(Rect::new(0, 0, w, h));
    app.on_session(Arc::clone(&session));
    app.handle(Action::Add);
    app.list.adding = Some(dialog);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| {
            let area = f.area();
            crate::ui::list::render(area, f.buffer_mut(), &session, &app)
        })
        .expect("draw");
    let text = terminal.backend().to_string();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), usize::from(h), "{text}");
    for r in rows {
        assert_eq!(r.chars().count(), usize::from(w) + 2, "row too wide: {r}");
    }
    text
}

fn typed(d: &mut AddDialog, text: &str) {
    for c in text.chars() {
        d.handle(Action::Type(c));
    }
}

#[test]
fn the_file_tree_at_three_sizes() {
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let (_dir, mut d) = setup();
        typed(&mut d, "show.torrent");
        d.handle(Action::Accept);
        assert_eq!(d.mode(), Mode::AddPick);
        d.handle(Action::Down); // s01
        d.handle(Action::ToggleMark);
        d.handle(Action::Down);
        d.handle(Action::Down);
        d.handle(Action::Down); // s02
        let text = screen(d, w, h);
        assert!(
            text.contains("[-] show") && text.contains("[ ] s01"),
            "{text}"
        );
        assert!(
            text.contains("4 files") && text.contains("2 checked"),
            "{text}"
        );
        insta::assert_snapshot!(format!("add_tree_{w}x{h}"), text);
    }
}

#[test]
fn a_magnet_link_and_an_ambiguous_tab() {
    let (_dir, mut d) = setup();
    d.paste(&format!("magnet:?xt=urn:btih:{}&dn=x", "ab".repeat(20)));
    let text = screen(d, 80, 24);
    assert!(
        text.contains("Files tab once the metadata arrives"),
        "{text}"
    );
    insta::assert_snapshot!("add_magnet_80x24", text);

    let (_dir, mut d) = setup();
    d.handle(Action::Complete);
    let text = screen(d, 80, 24);
    assert!(
        text.contains("3 match:") && text.contains("bad.torrent"),
        "{text}"
    );
    insta::assert_snapshot!("add_candidates_80x24", text);
}

#[test]
fn a_long_tree_scrolls_with_the_selection_inside_the_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("disc/track{i:02}.flac")).collect();
    let files: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 30_000_000)).collect();
    let bytes = crate::ui::list::add_state::tests::torrent("album", &files);
    std::fs::write(dir.path().join("album.torrent"), bytes).unwrap();
    let mut d = AddDialog::new(std::path::Path::new("/srv"), dir.path().to_path_buf(), None);
    typed(&mut d, "album.torrent");
    d.handle(Action::Accept);
    d.handle(Action::End);
    let text = screen(d, 80, 24);
    assert!(text.contains("track39.flac"), "{text}");
    assert!(!text.contains("track00.flac"), "{text}");
    assert!(text.contains("40 files"), "{text}");
}
