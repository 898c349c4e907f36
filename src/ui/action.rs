//! Terminal events → [`Action`]s. Nothing here knows about the engine or the app state.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

/// Everything a person can ask the interface to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    TogglePause,
    DropPeer,
    BanPeer,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Mouse wheel: always scrolls the peer table, whatever has focus.
    WheelUp,
    WheelDown,
    CycleSort,
    FocusNext,
    FocusPrev,
    TogglePieceView,
    ToggleHelp,
    CloseHelp,
    /// The terminal changed size; nothing to update, but draw now.
    Redraw,
}

/// Maps one terminal event. Key releases and repeats are ignored (Windows and the kitty
/// protocol report them, and acting on them would double every key).
pub fn from_event(event: &Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => from_key(key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Action::WheelUp),
            MouseEventKind::ScrollDown => Some(Action::WheelDown),
            _ => None,
        },
        Event::Resize(..) => Some(Action::Redraw),
        _ => None,
    }
}

pub fn from_key(key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Quit),
            _ => None,
        };
    }
    let action = match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('p') | KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('d') => Action::DropPeer,
        KeyCode::Char('b') => Action::BanPeer,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Home,
        KeyCode::End | KeyCode::Char('G') => Action::End,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char('v') => Action::TogglePieceView,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Esc => Action::CloseHelp,
        _ => return None,
    };
    Some(action)
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
}
