//! The limits dialog (`L`) and turtle mode (`t`): what each key does, what is sent, and
//! insta snapshots at 80×24, 120×40 and 200×60. The helpers serve `move_prompt_tests` too.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::engine::api::show_rate;
use crate::engine::api::{
    LimitChange, LimitsNow, SessionSnapshot, TorrentId, TorrentLimits, TorrentState, Turtle,
};
use crate::ui::action::{Action, Effect, Reply, Request};
use crate::ui::keys::{from_key_in, Mode};
use crate::ui::list::state::{KeyOutcome, ListState};
use crate::ui::list::test_line;
use crate::ui::{App, Theme};

pub(crate) const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

pub(crate) fn session(turtle: bool) -> Arc<SessionSnapshot> {
    let names = [
        "debian-12.8.0-amd64-netinst.iso",
        "archlinux-2026.11.01-x86_64.iso",
        "Big Buck Bunny",
    ];
    let torrents = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut t = test_line(i as u32 + 1, n, TorrentState::Downloading);
            t.save_path = PathBuf::from("/home/user/Downloads");
            t
        })
        .map(Arc::new)
        .collect();
    Arc::new(SessionSnapshot {
        torrents,
        listen_port: 6881,
        down_limit: 1024 * 1024,
        up_limit: 0,
        turtle,
        ..SessionSnapshot::default()
    })
}

pub(crate) fn list(turtle: bool) -> ListState {
    let mut l = ListState::default();
    l.set_page(5);
    l.on_session(session(turtle));
    l
}

pub(crate) fn id(n: u32) -> TorrentId {
    TorrentId(n)
}

pub(crate) fn requests(out: KeyOutcome) -> Vec<Request> {
    match out.effect {
        Some(Effect::Session(r)) => r,
        other => panic!("expected requests, got {other:?}"),
    }
}

pub(crate) fn typing(l: &mut ListState, text: &str) {
    for c in text.chars() {
        assert_eq!(l.handle(Action::Type(c)), KeyOutcome::default());
    }
}

pub(crate) fn erase(l: &mut ListState, n: usize) {
    for _ in 0..n {
        l.handle(Action::Erase);
    }
}

fn limit(ids: Vec<TorrentId>, down: u64, up: u64) -> Request {
    Request::Limit {
        ids,
        change: LimitChange {
            down: Some(down),
            up: Some(up),
            turtle: None,
        },
    }
}

#[test]
fn the_keys_reach_the_dialog_and_typing_is_text() {
    let key = |c, mode| from_key_in(&crossterm::event::KeyEvent::from(c), mode);
    use crossterm::event::KeyCode as K;
    assert_eq!(key(K::Char('L'), Mode::List), Some(Action::SetLimits));
    assert_eq!(key(K::Char('L'), Mode::Detail), Some(Action::SetLimits));
    assert_eq!(key(K::Char('t'), Mode::List), Some(Action::ToggleTurtle));
    assert_eq!(key(K::Char('t'), Mode::Files), Some(Action::ToggleTurtle));
    assert_eq!(key(K::Char('m'), Mode::List), Some(Action::Move));
    for mode in [Mode::Limits, Mode::Prompt] {
        assert_eq!(key(K::Char('q'), mode), Some(Action::Type('q')));
        assert_eq!(key(K::Char('L'), mode), Some(Action::Type('L')));
        assert_eq!(key(K::Esc, mode), Some(Action::Back));
        assert_eq!(key(K::Enter, mode), Some(Action::Accept));
        assert_eq!(key(K::Backspace, mode), Some(Action::Erase));
    }
    assert_eq!(key(K::Down, Mode::Limits), Some(Action::Down));
    assert_eq!(key(K::Tab, Mode::Prompt), Some(Action::NextTab));
}

#[test]
fn session_limits_prefill_edit_and_apply() {
    let mut l = list(false);
    let out = l.handle(Action::SetLimits);
    assert_eq!(
        requests(out),
        vec![Request::Limit {
            ids: vec![],
            change: LimitChange::default()
        }],
        "opening asks the engine what the limits are"
    );
    let d = l.limits.as_ref().expect("the dialog is open");
    assert_eq!(d.whose, "the session");
    assert_eq!(d.fields, ["1M".to_string(), String::new()]);
    // Down: 1M → 2M; Tab; up: 500K.
    erase(&mut l, 2);
    typing(&mut l, "2M");
    l.handle(Action::NextTab);
    typing(&mut l, "500K");
    let out = l.handle(Action::Accept);
    assert_eq!(
        out.status.as_deref(),
        Some(
            format!(
                "session limits: down {}, up {}",
                show_rate(2 << 20),
                show_rate(500 << 10)
            )
            .as_str()
        )
    );
    assert_eq!(requests(out), vec![limit(vec![], 2 << 20, 500 << 10)]);
    assert!(l.limits.is_none());
}

#[test]
fn a_bad_rate_says_why_and_sends_nothing_then_esc_cancels() {
    let mut l = list(false);
    l.handle(Action::SetLimits);
    l.handle(Action::Down);
    typing(&mut l, "fast");
    let out = l.handle(Action::Accept);
    assert_eq!(out, KeyOutcome::default(), "nothing sent");
    let d = l.limits.as_ref().expect("still open");
    let error = d.error.as_deref().expect("an error line");
    assert!(error.starts_with("Up: not a rate: \"fast\""), "{error}");
    // Typing clears the error; Esc closes without sending.
    l.handle(Action::Erase);
    assert_eq!(l.limits.as_ref().map(|d| d.error.clone()), Some(None));
    let out = l.handle(Action::Back);
    assert_eq!(out.effect, None);
    assert_eq!(out.status.as_deref(), Some("rate limits unchanged"));
    assert!(l.limits.is_none());
}

#[test]
fn marked_torrents_get_their_own_limits_and_the_reply_prefills() {
    let mut l = list(false);
    l.handle(Action::ToggleMark);
    l.handle(Action::ToggleMark);
    l.handle(Action::SetLimits);
    let d = l.limits.as_ref().expect("open");
    assert_eq!(d.whose, "2 marked torrents");
    assert_eq!(d.ids, vec![id(1), id(2)]);
    assert_eq!(d.fields, [String::new(), String::new()], "unknown yet");
    let own = |i: u32, down| TorrentLimits {
        id: i,
        name: String::new(),
        down,
        up: 0,
    };
    let now = LimitsNow {
        torrents: vec![own(1, 300 << 10), own(2, 300 << 10)],
        ..LimitsNow::default()
    };
    let ids = [id(1), id(2)];
    assert_eq!(l.on_limits(&ids, LimitChange::default(), Ok(now)), None);
    assert_eq!(
        l.limits.as_ref().map(|d| d.fields.clone()),
        Some(["300K".to_string(), String::new()])
    );
    // Both emptied: unlimited, for each marked torrent.
    erase(&mut l, 4);
    let out = l.handle(Action::Accept);
    assert_eq!(
        out.status.as_deref(),
        Some("limits of 2 torrents: down unlimited, up unlimited")
    );
    assert_eq!(requests(out), vec![limit(vec![id(1), id(2)], 0, 0)]);
}

#[test]
fn a_late_reply_does_not_overwrite_what_was_typed() {
    let mut l = list(false);
    l.handle(Action::SetLimits);
    erase(&mut l, 2);
    typing(&mut l, "7K");
    let now = LimitsNow {
        down: 5 << 20,
        ..LimitsNow::default()
    };
    l.on_limits(&[], LimitChange::default(), Ok(now));
    assert_eq!(
        l.limits.as_ref().map(|d| d.fields[0].clone()).as_deref(),
        Some("7K")
    );
}

#[test]
fn in_turtle_mode_the_dialog_asks_for_the_normal_limits() {
    let mut l = list(true);
    l.handle(Action::SetLimits);
    let d = l.limits.as_ref().expect("open");
    assert_eq!(
        d.fields,
        [String::new(), String::new()],
        "in force are turtle's"
    );
    assert!(d
        .note
        .as_deref()
        .is_some_and(|n| n.contains("turtle mode is on")));
    let now = LimitsNow {
        down: 4 << 20,
        up: 1 << 20,
        turtle: true,
        ..LimitsNow::default()
    };
    l.on_limits(&[], LimitChange::default(), Ok(now));
    assert_eq!(
        l.limits.as_ref().map(|d| d.fields.clone()),
        Some(["4M".to_string(), "1M".to_string()])
    );
}

#[test]
fn t_toggles_turtle_mode_and_the_reply_says_its_limits() {
    let mut l = list(false);
    let out = l.handle(Action::ToggleTurtle);
    assert_eq!(out.status.as_deref(), Some("turtle mode on"));
    let change = LimitChange {
        turtle: Some(Turtle::Toggle),
        ..LimitChange::default()
    };
    assert_eq!(
        requests(out),
        vec![Request::Limit {
            ids: vec![],
            change
        }]
    );
    let now = LimitsNow {
        alt_down: 100 << 10,
        turtle: true,
        ..LimitsNow::default()
    };
    assert_eq!(
        l.on_limits(&[], change, Ok(now.clone())),
        Some(format!(
            "turtle mode on (down {}, up unlimited)",
            show_rate(100 << 10)
        ))
    );
    let off = LimitsNow {
        turtle: false,
        ..now
    };
    assert_eq!(
        l.on_limits(&[], change, Ok(off)),
        Some("turtle mode off".into())
    );
    let mut on = list(true);
    assert_eq!(
        on.handle(Action::ToggleTurtle).status.as_deref(),
        Some("turtle mode off")
    );
    assert_eq!(
        l.on_limits(
            &[id(9)],
            LimitChange {
                down: Some(1),
                ..LimitChange::default()
            },
            Err("no torrent 9".into())
        ),
        Some("rate limits: no torrent 9".into())
    );
}

pub(crate) fn session_app(w: u16, h: u16) -> App {
    let mut app = App::for_session(PathBuf::from("/tmp/t.log"), Theme::plain());
    app.set_viewport(Rect::new(0, 0, w, h));
    app.on_session(session(false));
    app
}

#[test]
fn in_the_detail_view_l_is_the_open_torrents_limits() {
    let snap = Arc::new(crate::ui::detail_fixture::snapshot());
    let mut app = session_app(80, 24);
    app.start_on(id(3));
    app.on_snapshot(Arc::clone(&snap));
    let effect = app.handle(Action::SetLimits);
    assert_eq!(app.mode(), Mode::Limits);
    assert_eq!(
        effect,
        Some(Effect::Session(vec![Request::Limit {
            ids: vec![id(3)],
            change: LimitChange::default()
        }]))
    );
    assert_eq!(
        app.list.limits.as_ref().map(|d| d.whose.as_str()),
        Some("Big Buck Bunny")
    );
    // Keys are the dialog's now: `q` is text, not quit.
    assert_eq!(app.handle(Action::Type('q')), None);
    assert!(!app.quitting);
    app.handle(Action::Erase);
    typing_app(&mut app, "64K");
    let effect = app.handle(Action::Accept);
    assert_eq!(
        effect,
        Some(Effect::Session(vec![limit(vec![id(3)], 64 << 10, 0)]))
    );
    assert_eq!(app.mode(), Mode::Detail);
    // The engine's answer to a move lands in the status line.
    app.on_reply(Reply::Moved {
        id: id(3),
        dir: PathBuf::from("/srv"),
        result: Err("disk full".into()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("moving Big Buck Bunny failed: disk full")
    );
    // The single-torrent screen has no session to ask.
    let mut single = crate::ui::detail_fixture::app_for(&snap, 80, 24);
    assert_eq!(single.handle(Action::SetLimits), None);
    assert!(single
        .status
        .as_deref()
        .is_some_and(|s| s.contains("in a session only")));
}

pub(crate) fn typing_app(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle(Action::Type(c));
    }
}

pub(crate) fn draw_list(app: &App, w: u16, h: u16) -> String {
    let snap = app.list.session().cloned().expect("a session");
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| {
            let area = f.area();
            crate::ui::list::render(area, f.buffer_mut(), &snap, app)
        })
        .expect("draw");
    let text = terminal.backend().to_string();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), usize::from(h));
    assert!(
        rows.iter().all(|r| r.chars().count() == usize::from(w) + 2),
        "{text}"
    );
    text
}

#[test]
fn limits_dialog_at_three_sizes() {
    for (w, h) in SIZES {
        let mut app = session_app(w, h);
        app.handle(Action::SetLimits);
        app.handle(Action::Down);
        typing_app(&mut app, "lots");
        app.handle(Action::Accept);
        let text = draw_list(&app, w, h);
        assert!(
            text.contains("Rate limits: the session") && text.contains("not a rate"),
            "{text}"
        );
        insta::assert_snapshot!(format!("limits_session_{w}x{h}"), text);
    }
}

#[test]
fn limits_dialog_over_the_detail_view() {
    let snap = Arc::new(crate::ui::detail_fixture::snapshot());
    let mut app = session_app(80, 24);
    app.start_on(id(3));
    app.on_snapshot(Arc::clone(&snap));
    app.handle(Action::SetLimits);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| crate::ui::draw(f, &snap, &app))
        .expect("draw");
    let text = terminal.backend().to_string();
    assert!(text.contains("Rate limits: Big Buck Bunny"), "{text}");
    insta::assert_snapshot!("limits_detail_80x24", text);
}

#[test]
fn in_turtle_mode_the_session_dialog_says_which_limits_it_sets() {
    let mut app = App::for_session(PathBuf::from("/tmp/t.log"), Theme::plain());
    app.set_viewport(Rect::new(0, 0, 80, 24));
    app.on_session(session(true));
    app.handle(Action::SetLimits);
    let text = draw_list(&app, 80, 24);
    assert!(
        text.contains("turtle mode is on: these apply once it is off"),
        "{text}"
    );
    insta::assert_snapshot!("limits_session_turtle_80x24", text);
}
