//! Colours and text styles. Every state that colour marks is also told apart by a symbol or by
//! text, so NO_COLOR loses nothing.

use ratatui::style::{Color, Modifier, Style};

/// Colours when allowed, otherwise only modifiers; every state that colour marks is also told
/// apart by a symbol or by text, so NO_COLOR loses nothing. Named ANSI colours only, so the
/// user's 16-colour palette decides what they look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// <https://no-color.org>: set and not empty disables colour.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }
    pub const fn colored() -> Self {
        Theme { color: true }
    }
    pub const fn plain() -> Self {
        Theme { color: false }
    }
    pub fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
    pub fn verified(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn in_flight(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn missing(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn failed(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn down(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn up(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
        } else {
            self.fg(Color::DarkGray)
        }
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    /// The selected table row: one neutral bar across the whole row whatever the peer's state,
    /// so a selected failed peer does not read as an alert (the row's cells drop their own
    /// colours under it). Without colour, reverse video does it.
    pub fn selected_row(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::colored()
    }
}
