//! The one key table. Key handling ([`from_event`]), the footer hints and the help screen all
//! read [`BINDINGS`], so a key cannot work without being listed, or be listed without working.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use super::action::Action;

/// One input the table binds: a key without Ctrl (other modifiers are ignored, so `G` is
/// Shift-g), a Ctrl chord, or a turn of the mouse wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Key(KeyCode),
    Ctrl(char),
    WheelUp,
    WheelDown,
}

/// A line of the help screen and the inputs it describes.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys as the help screen names them.
    pub keys: &'static str,
    pub help: &'static str,
    pub inputs: &'static [(Input, Action)],
}

const fn ch(c: char) -> Input {
    Input::Key(KeyCode::Char(c))
}

const fn key(code: KeyCode) -> Input {
    Input::Key(code)
}

const fn bind(
    keys: &'static str,
    help: &'static str,
    inputs: &'static [(Input, Action)],
) -> Binding {
    Binding { keys, help, inputs }
}

use Action as A;
use KeyCode as K;

/// In the help screen's order. One line a binding, so the table reads as one.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind("p / space", "pause or resume the torrent", &[(ch('p'), A::TogglePause), (ch(' '), A::TogglePause)]),
    bind("d", "drop the selected peer (it may come back later)", &[(ch('d'), A::DropPeer)]),
    bind("b", "ban the selected peer for this session", &[(ch('b'), A::BanPeer)]),
    bind("↑ ↓ j k", "move in the focused pane",
        &[(key(K::Up), A::Up), (ch('k'), A::Up), (key(K::Down), A::Down), (ch('j'), A::Down)]),
    bind("PgUp PgDn", "move a page", &[(key(K::PageUp), A::PageUp), (key(K::PageDown), A::PageDown)]),
    bind("Home End g G", "first / last (log: oldest / follow newest)",
        &[(key(K::Home), A::Home), (ch('g'), A::Home), (key(K::End), A::End), (ch('G'), A::End)]),
    bind("← → h l", "move the piece-map cursor",
        &[(key(K::Left), A::Left), (ch('h'), A::Left), (key(K::Right), A::Right), (ch('l'), A::Right)]),
    bind("mouse wheel", "scroll the peer table", &[(Input::WheelUp, A::WheelUp), (Input::WheelDown, A::WheelDown)]),
    bind("s", "sort peers: rate, progress, client, address, state", &[(ch('s'), A::CycleSort)]),
    bind("Tab Shift-Tab", "focus peers / pieces / events", &[(key(K::Tab), A::FocusNext), (key(K::BackTab), A::FocusPrev)]),
    bind("v", "piece map: what we have / how many peers have it", &[(ch('v'), A::TogglePieceView)]),
    bind("?", "this help; Esc or ? closes it", &[(ch('?'), A::ToggleHelp), (key(K::Esc), A::CloseHelp)]),
    bind("q  Ctrl-C", "quit (tells the tracker we stopped)", &[(ch('q'), A::Quit), (Input::Ctrl('c'), A::Quit)]),
];

/// The footer's hints, in the order shown: the action, and the word for it. The key shown is
/// the first the table binds to that action.
pub const FOOTER: &[(Action, &str)] = &[
    (Action::Quit, "quit"),
    (Action::TogglePause, "pause"),
    (Action::DropPeer, "drop"),
    (Action::BanPeer, "ban"),
    (Action::CycleSort, "sort"),
    (Action::TogglePieceView, "view"),
    (Action::FocusNext, "focus"),
    (Action::ToggleHelp, "help"),
];

/// What `input` asks for, if the table binds it.
pub fn action_for(input: Input) -> Option<Action> {
    BINDINGS
        .iter()
        .flat_map(|b| b.inputs)
        .find(|(i, _)| *i == input)
        .map(|(_, a)| *a)
}

/// The first input bound to `action`, as the footer writes it: "q", "Tab", "?".
pub fn key_label(action: Action) -> Option<String> {
    let input = BINDINGS
        .iter()
        .flat_map(|b| b.inputs)
        .find(|(_, a)| *a == action)
        .map(|(i, _)| *i)?;
    Some(match input {
        Input::Key(KeyCode::Char(c)) => c.to_string(),
        Input::Key(KeyCode::Tab) => "Tab".to_string(),
        Input::Key(KeyCode::BackTab) => "Shift-Tab".to_string(),
        Input::Key(code) => format!("{code:?}"),
        Input::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
        Input::WheelUp | Input::WheelDown => "wheel".to_string(),
    })
}

/// Maps one terminal event. Key releases and repeats are ignored (Windows and the kitty
/// protocol report them, and acting on them would double every key).
pub fn from_event(event: &Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => from_key(key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => action_for(Input::WheelUp),
            MouseEventKind::ScrollDown => action_for(Input::WheelDown),
            _ => None,
        },
        Event::Resize(..) => Some(Action::Redraw),
        _ => None,
    }
}

pub fn from_key(key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char(c) => action_for(Input::Ctrl(c)),
            _ => None,
        };
    }
    action_for(Input::Key(key.code))
}

#[cfg(test)]
mod tests {
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
    fn ctrl_c_quits_but_ctrl_d_does_not_drop() {
        let ctrl_c = key(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
            KeyEventKind::Press,
        );
        let ctrl_d = key(
            KeyCode::Char('d'),
            KeyModifiers::CONTROL,
            KeyEventKind::Press,
        );
        assert_eq!(from_event(&ctrl_c), Some(Action::Quit));
        assert_eq!(from_event(&ctrl_d), None);
    }

    #[test]
    fn vim_and_arrow_keys_agree() {
        let p = |c| from_event(&key(c, KeyModifiers::NONE, KeyEventKind::Press));
        assert_eq!(p(KeyCode::Char('j')), p(KeyCode::Down));
        assert_eq!(p(KeyCode::Char('k')), p(KeyCode::Up));
        assert_eq!(p(KeyCode::Char(' ')), Some(Action::TogglePause));
        assert_eq!(p(KeyCode::Char('p')), Some(Action::TogglePause));
        assert_eq!(p(KeyCode::Esc), Some(Action::CloseHelp));
        assert_eq!(p(KeyCode::Char('x')), None);
    }

    #[test]
    fn wheel_and_resize() {
        let wheel = Event::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 3,
            row: 4,
            modifiers: KeyModifiers::NONE,
        });
        assert_eq!(from_event(&wheel), Some(Action::WheelDown));
        assert_eq!(from_event(&Event::Resize(80, 24)), Some(Action::Redraw));
    }

    #[test]
    fn every_bound_input_maps_to_its_action_and_has_a_help_line() {
        for b in BINDINGS {
            assert!(!b.keys.is_empty() && !b.help.is_empty());
            for &(input, action) in b.inputs {
                assert_eq!(action_for(input), Some(action), "{}", b.keys);
            }
        }
        let all: Vec<Input> = BINDINGS
            .iter()
            .flat_map(|b| b.inputs)
            .map(|p| p.0)
            .collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} bound twice");
        }
        for (action, _) in FOOTER {
            assert!(key_label(*action).is_some(), "{action:?} has no key");
        }
        assert_eq!(key_label(Action::Quit).as_deref(), Some("q"));
        assert_eq!(key_label(Action::FocusNext).as_deref(), Some("Tab"));
    }
}
