use super::*;
use crossterm::event::{KeyEventState, MouseEvent};

fn key(code: KeyCode, modifiers: KeyModifiers, kind: KeyEventKind) -> Event {
    Event::Key(KeyEvent {
        code,
        modifiers,
        kind,
        state: KeyEventState::NONE,
    })
}

fn press(code: KeyCode, mode: Mode) -> Option<Action> {
    from_event_in(&key(code, KeyModifiers::NONE, KeyEventKind::Press), mode)
}

const MODES: [Mode; 10] = [
    Mode::List,
    Mode::Detail,
    Mode::Files,
    Mode::Search,
    Mode::Dialog,
    Mode::Limits,
    Mode::Prompt,
    Mode::AddText,
    Mode::AddPick,
    Mode::Stats,
];

#[test]
fn press_maps_release_does_not() {
    let press = key(KeyCode::Char('q'), KeyModifiers::NONE, KeyEventKind::Press);
    let release = key(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
        KeyEventKind::Release,
    );
    let repeat = key(KeyCode::Char('q'), KeyModifiers::NONE, KeyEventKind::Repeat);
    assert_eq!(from_event(&press), Some(Action::Quit));
    assert_eq!(from_event(&release), None);
    assert_eq!(from_event(&repeat), None);
}

#[test]
fn ctrl_c_quits_everywhere_but_ctrl_d_does_not_drop() {
    let ctrl = |c| key(KeyCode::Char(c), KeyModifiers::CONTROL, KeyEventKind::Press);
    for mode in MODES {
        assert_eq!(
            from_event_in(&ctrl('c'), mode),
            Some(Action::Quit),
            "{mode:?}"
        );
    }
    assert_eq!(from_event(&ctrl('d')), None);
}

#[test]
fn vim_and_arrow_keys_agree() {
    let p = |c| from_event(&key(c, KeyModifiers::NONE, KeyEventKind::Press));
    assert_eq!(p(KeyCode::Char('j')), p(KeyCode::Down));
    assert_eq!(p(KeyCode::Char('k')), p(KeyCode::Up));
    assert_eq!(p(KeyCode::Char(' ')), Some(Action::TogglePause));
    assert_eq!(p(KeyCode::Char('p')), Some(Action::TogglePause));
    assert_eq!(p(KeyCode::Esc), Some(Action::Back));
    assert_eq!(p(KeyCode::Char('x')), None);
}

#[test]
fn the_same_key_means_what_its_screen_says() {
    assert_eq!(
        press(KeyCode::Char(' '), Mode::List),
        Some(Action::ToggleMark)
    );
    assert_eq!(
        press(KeyCode::Char(' '), Mode::Detail),
        Some(Action::TogglePause)
    );
    assert_eq!(press(KeyCode::Char('v'), Mode::List), Some(Action::Verify));
    assert_eq!(
        press(KeyCode::Char('v'), Mode::Detail),
        Some(Action::TogglePieceView)
    );
    assert_eq!(press(KeyCode::Char('d'), Mode::List), None);
    assert_eq!(
        press(KeyCode::Char('d'), Mode::Dialog),
        Some(Action::DeleteData)
    );
    assert_eq!(press(KeyCode::Enter, Mode::List), Some(Action::Open));
    // Typing a name: letters are text, even the ones bound elsewhere.
    assert_eq!(
        press(KeyCode::Char('q'), Mode::Search),
        Some(Action::Type('q'))
    );
    assert_eq!(
        press(KeyCode::Char('/'), Mode::Search),
        Some(Action::Type('/'))
    );
    assert_eq!(press(KeyCode::Backspace, Mode::Search), Some(Action::Erase));
    // The add dialog: text in its fields, choices on its checkboxes.
    assert_eq!(press(KeyCode::Char('a'), Mode::List), Some(Action::Add));
    assert_eq!(
        press(KeyCode::Char(' '), Mode::AddText),
        Some(Action::Type(' '))
    );
    assert_eq!(press(KeyCode::Tab, Mode::AddText), Some(Action::Complete));
    assert_eq!(
        press(KeyCode::Char(' '), Mode::AddPick),
        Some(Action::ToggleMark)
    );
    assert_eq!(press(KeyCode::Char('q'), Mode::AddPick), None);
    assert_eq!(press(KeyCode::Enter, Mode::AddPick), Some(Action::Accept));
    assert_eq!(press(KeyCode::Esc, Mode::Search), Some(Action::Back));
    assert_eq!(
        press(KeyCode::Char('q'), Mode::Dialog),
        None,
        "a dialog wants an answer"
    );
}

#[test]
fn wheel_click_and_resize() {
    let mouse = |kind| {
        Event::Mouse(MouseEvent {
            kind,
            column: 3,
            row: 4,
            modifiers: KeyModifiers::NONE,
        })
    };
    let wheel = mouse(MouseEventKind::ScrollDown);
    assert_eq!(from_event(&wheel), Some(Action::WheelDown));
    assert_eq!(from_event_in(&wheel, Mode::List), Some(Action::WheelDown));
    let click = mouse(MouseEventKind::Down(MouseButton::Left));
    assert_eq!(
        from_event_in(&click, Mode::List),
        Some(Action::Click { column: 3, row: 4 })
    );
    assert_eq!(
        from_event(&click),
        Some(Action::Click { column: 3, row: 4 }),
        "the detail view's tabs and rows take clicks"
    );
    assert_eq!(from_event(&Event::Resize(80, 24)), Some(Action::Redraw));
}

#[test]
fn every_bound_input_maps_to_its_action_and_has_a_help_line() {
    for b in BINDINGS {
        assert!(!b.keys.is_empty() && !b.help.is_empty() && !b.on.is_empty());
        for &mode in b.on {
            for &(input, action) in b.inputs {
                assert_eq!(action_for(input, mode), Some(action), "{}", b.keys);
            }
        }
    }
    for mode in MODES {
        let all: Vec<Input> = bindings(mode).flat_map(|b| b.inputs).map(|p| p.0).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} bound twice in {mode:?}");
        }
        for (action, _) in footer(mode) {
            assert!(
                key_label(*action, mode).is_some(),
                "{action:?} has no key in {mode:?}"
            );
        }
    }
    assert_eq!(key_label(Action::Quit, Mode::List).as_deref(), Some("q"));
    assert_eq!(
        key_label(Action::ToggleMark, Mode::List).as_deref(),
        Some("space")
    );
    assert_eq!(
        key_label(Action::NextTab, Mode::Detail).as_deref(),
        Some("Tab")
    );
}
