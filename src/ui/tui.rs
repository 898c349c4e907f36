//! Terminal setup and teardown. Every way out of the UI (quit, error, panic) restores the
//! terminal, so the user's shell is never left in raw mode on the alternate screen.

use std::io::{self, stdout, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub(crate) type Tui = Terminal<CrosstermBackend<Stdout>>;

/// True while raw mode / alternate screen are on, so restore runs once and the panic hook
/// knows whether a TUI is up at all (headless runs keep the normal panic behaviour).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen, mouse capture. On failure whatever was switched on is undone.
pub(crate) fn init() -> io::Result<Tui> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let setup = || -> io::Result<Tui> {
        // Bracketed paste: a pasted magnet link arrives as one event, not as keys to act on.
        execute!(
            stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        )?;
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        terminal.hide_cursor()?;
        terminal.clear()?;
        Ok(terminal)
    };
    setup().inspect_err(|_| {
        let _ = restore();
    })
}

/// Undoes [`init`]. Safe to call more than once and from the panic hook.
pub(crate) fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Try every step even if one fails: a half-restored terminal is the worst outcome.
    let raw = disable_raw_mode();
    let screen = execute!(
        stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        Show
    );
    raw.and(screen)
}

/// Call after `color_eyre::install()`. On a panic anywhere (any thread or task) while the TUI
/// is up: restore the terminal first so the report is readable, print it with the previous
/// (color-eyre) hook, then exit — a UI whose engine task died would only show stale numbers.
pub(crate) fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A peer task's panic is caught at its boundary and ends only that connection (its row
        // says "internal error"): the screen stays up, and the report goes to the log file.
        if crate::engine::host::panic_is_caught() {
            tracing::error!("peer task panicked: {info}");
            return;
        }
        let was_active = ACTIVE.load(Ordering::SeqCst);
        let _ = restore();
        previous(info);
        if was_active {
            std::process::exit(101);
        }
    }));
}
