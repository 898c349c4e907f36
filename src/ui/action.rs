//! Everything a person can ask the interface to do. Which keys ask for what is
//! [`super::keys`].

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
