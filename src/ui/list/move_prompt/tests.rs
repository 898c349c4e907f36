//! The move prompt (`m`): prefill, refusals, one request per marked torrent, Tab completion,
//! and insta snapshots at 80×24, 120×40 and 200×60.

use std::path::PathBuf;

use crate::ui::action::{Action, Request};
use crate::ui::list::limits_dialog::tests::{
    draw_list, erase, id, list, requests, session_app, typing, SIZES,
};
use crate::ui::list::state::KeyOutcome;

use super::complete_dir;

#[test]
fn move_prompt_prefills_refuses_empty_and_moves_each_marked() {
    let mut l = list(false);
    assert_eq!(l.handle(Action::Move), KeyOutcome::default());
    let p = l.moving.as_ref().expect("open");
    assert_eq!(p.what, "debian-12.8.0-amd64-netinst.iso");
    assert_eq!(p.text, "/home/user/Downloads/");
    erase(&mut l, 100);
    let out = l.handle(Action::Accept);
    assert_eq!(out, KeyOutcome::default());
    assert!(l
        .moving
        .as_ref()
        .and_then(|p| p.error.as_deref())
        .is_some_and(|e| e.contains("give the folder")));
    typing(&mut l, "data");
    l.handle(Action::Accept);
    assert!(l
        .moving
        .as_ref()
        .and_then(|p| p.error.as_deref())
        .is_some_and(|e| e.contains("not a full path")));
    assert_eq!(
        l.handle(Action::Back).status.as_deref(),
        Some("nothing moved")
    );
    assert!(l.moving.is_none());
    // Three marked: each is moved.
    for _ in 0..3 {
        l.handle(Action::ToggleMark);
    }
    l.handle(Action::Move);
    assert_eq!(
        l.moving.as_ref().map(|p| p.what.as_str()),
        Some("3 marked torrents")
    );
    typing(&mut l, "iso");
    let out = l.handle(Action::Accept);
    assert_eq!(
        out.status.as_deref(),
        Some("moving 3 marked torrents to /home/user/Downloads/iso")
    );
    let dir = PathBuf::from("/home/user/Downloads/iso");
    let want: Vec<Request> = (1..=3)
        .map(|i| Request::Move {
            id: id(i),
            dir: dir.clone(),
        })
        .collect();
    assert_eq!(requests(out), want);
}

#[test]
fn tab_completes_a_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for d in ["alpha", "alps", "beta", ".hidden"] {
        std::fs::create_dir(tmp.path().join(d)).expect("mkdir");
    }
    std::fs::write(tmp.path().join("bravo"), b"a file").expect("write");
    let base = format!("{}/", tmp.path().display());
    assert_eq!(
        complete_dir(&format!("{base}b")),
        Some(format!("{base}beta/"))
    );
    assert_eq!(
        complete_dir(&format!("{base}al")),
        Some(format!("{base}alp"))
    );
    assert_eq!(complete_dir(&format!("{base}alp")), None, "nothing to add");
    assert_eq!(complete_dir(&format!("{base}z")), None);
    assert_eq!(
        complete_dir(&format!("{base}.h")),
        Some(format!("{base}.hidden/"))
    );
    assert_eq!(complete_dir("relative/pa"), None);
    let mut l = list(false);
    l.handle(Action::Move);
    erase(&mut l, 100);
    typing(&mut l, &format!("{base}be"));
    l.handle(Action::NextTab);
    assert_eq!(
        l.moving.as_ref().map(|p| p.text.clone()),
        Some(format!("{base}beta/"))
    );
}

#[test]
fn move_prompt_at_three_sizes() {
    for (w, h) in SIZES {
        let mut app = session_app(w, h);
        app.handle(Action::ToggleMark);
        app.handle(Action::ToggleMark);
        app.handle(Action::ToggleMark);
        app.handle(Action::Move);
        let text = draw_list(&app, w, h);
        assert!(
            text.contains("Move 3 marked torrents to: /home/user/Downloads/"),
            "{text}"
        );
        insta::assert_snapshot!(format!("move_marked_{w}x{h}"), text);
    }
}
