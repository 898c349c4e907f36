//! The one key table. Key handling ([`from_event_in`]), the footer hints and the help screen
//! all read [`BINDINGS`], so a key cannot work without being listed, or be listed without
//! working. Each binding names the modes it works in: the same key may mean one thing on the
//! list and another in the detail view (space marks a torrent there, pauses here), never two
//! things in one mode.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};

use super::action::Action;
use crate::engine::api::FilePriority;

/// Which keys are live: the screen, or the text line or dialog on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    List,
    /// The detail view on any tab but Files.
    Detail,
    /// The detail view's Files tab: its keys fold folders and set priorities.
    Files,
    /// Typing a name filter on the list: printable keys are text.
    Search,
    /// The remove confirmation.
    Dialog,
    /// The rate limits dialog: printable keys are text.
    Limits,
    /// The move prompt's folder line: printable keys are text.
    Prompt,
    /// The add dialog's text fields (source, save to): printable keys are text.
    AddText,
    /// The add dialog's checkboxes (start paused, the file tree).
    AddPick,
    /// The statistics view over the list.
    Stats,
}

/// One input the table binds: a key without Ctrl (other modifiers are ignored, so `G` is
/// Shift-g), a Ctrl chord, a turn of the mouse wheel or a left click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Key(KeyCode),
    Ctrl(char),
    WheelUp,
    WheelDown,
    Click,
}

/// A line of the help screen and the inputs it describes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding {
    pub on: &'static [Mode],
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
    on: &'static [Mode],
    keys: &'static str,
    help: &'static str,
    inputs: &'static [(Input, Action)],
) -> Binding {
    Binding {
        on,
        keys,
        help,
        inputs,
    }
}

use Action as A;
use KeyCode as K;

const LIST: &[Mode] = &[Mode::List];
const DETAIL: &[Mode] = &[Mode::Detail];
const FILES: &[Mode] = &[Mode::Files];
/// Every tab of the detail view.
const TABS: &[Mode] = &[Mode::Detail, Mode::Files];
const SCREENS: &[Mode] = &[Mode::List, Mode::Detail, Mode::Files];
const SEARCH: &[Mode] = &[Mode::Search];
const DIALOG: &[Mode] = &[Mode::Dialog];
const STATS: &[Mode] = &[Mode::Stats];
const TEXT: &[Mode] = &[Mode::Search, Mode::Dialog, Mode::AddText, Mode::AddPick];
const ADD: &[Mode] = &[Mode::AddText, Mode::AddPick];
const ADD_TEXT: &[Mode] = &[Mode::AddText];
const ADD_PICK: &[Mode] = &[Mode::AddPick];
const LIMITS: &[Mode] = &[Mode::Limits];
const PROMPT: &[Mode] = &[Mode::Prompt];
/// The limits dialog and the move prompt: lines of text.
const FIELDS: &[Mode] = &[Mode::Limits, Mode::Prompt];
const CLICK: A = A::Click { column: 0, row: 0 };

/// In the help screen's order. One line a binding, so the table reads as one.
#[rustfmt::skip]
pub(crate) const BINDINGS: &[Binding] = &[
    // The list.
    bind(LIST, "↑ ↓ j k", "move the selection",
        &[(key(K::Up), A::Up), (ch('k'), A::Up), (key(K::Down), A::Down), (ch('j'), A::Down)]),
    bind(LIST, "PgUp PgDn", "move a page", &[(key(K::PageUp), A::PageUp), (key(K::PageDown), A::PageDown)]),
    bind(LIST, "Home End g G", "first / last torrent",
        &[(key(K::Home), A::Home), (ch('g'), A::Home), (key(K::End), A::End), (ch('G'), A::End)]),
    bind(LIST, "mouse", "click selects a row, the wheel scrolls",
        &[(Input::Click, CLICK), (Input::WheelUp, A::WheelUp), (Input::WheelDown, A::WheelDown)]),
    bind(LIST, "Enter", "the torrent's peers, pieces and events (Esc: back)", &[(key(K::Enter), A::Open)]),
    bind(LIST, "space", "mark / unmark; the keys below act on every marked one", &[(ch(' '), A::ToggleMark)]),
    bind(LIST, "p", "pause or resume", &[(ch('p'), A::TogglePause)]),
    bind(LIST, "F", "force start (ignore the queue)", &[(ch('F'), A::ForceStart)]),
    bind(LIST, "U", "super-seeding on / off (a seed sends each piece once)", &[(ch('U'), A::ToggleSuperSeed)]),
    bind(LIST, "[ ] { }", "queue: up / down / top / bottom",
        &[(ch('['), A::QueueUp), (ch(']'), A::QueueDown), (ch('{'), A::QueueTop), (ch('}'), A::QueueBottom)]),
    bind(LIST, "v", "verify: check every piece again", &[(ch('v'), A::Verify)]),
    bind(LIST, "x Del", "remove (asks: keep or delete the data)", &[(ch('x'), A::Remove), (key(K::Delete), A::Remove)]),
    bind(LIST, "m", "move the data to another folder", &[(ch('m'), A::Move)]),
    bind(LIST, "L / t", "set rate limits / turtle mode (the alternative limits)",
        &[(ch('L'), A::SetLimits), (ch('t'), A::ToggleTurtle)]),
    bind(LIST, "s S", "sort by the next column / reverse the order",
        &[(ch('s'), A::CycleSort), (ch('S'), A::ReverseSort)]),
    bind(LIST, "f l", "filter: by state (downloading, seeding, ...) / by label",
        &[(ch('f'), A::CycleFilter), (ch('l'), A::CycleLabel)]),
    bind(LIST, "/", "search names (Enter keeps the filter, Esc clears it)", &[(ch('/'), A::Search)]),
    bind(LIST, "a", "add a torrent: a .torrent file, a magnet link or a URL", &[(ch('a'), A::Add)]),
    bind(LIST, "i", "statistics: uploaded and downloaded per tracker, per day", &[(ch('i'), A::ToggleStats)]),
    // The statistics view.
    bind(STATS, "↑ ↓ j k", "the tracker (label, torrent) whose days the bars show",
        &[(key(K::Up), A::Up), (ch('k'), A::Up), (key(K::Down), A::Down), (ch('j'), A::Down)]),
    bind(STATS, "b", "rows by tracker, label or torrent", &[(ch('b'), A::CycleStatsBy)]),
    bind(STATS, "i Esc", "back to the list", &[(ch('i'), A::ToggleStats), (key(K::Esc), A::Back)]),
    bind(STATS, "q  Ctrl-C", "quit", &[(ch('q'), A::Quit), (Input::Ctrl('c'), A::Quit)]),
    // The detail view, every tab.
    bind(TABS, "1–6 Tab S-Tab", "tabs: overview peers pieces files trackers log",
        &[(ch('1'), A::ShowTab(0)), (ch('2'), A::ShowTab(1)), (ch('3'), A::ShowTab(2)),
          (ch('4'), A::ShowTab(3)), (ch('5'), A::ShowTab(4)), (ch('6'), A::ShowTab(5)),
          (key(K::Tab), A::NextTab), (key(K::BackTab), A::PrevTab)]),
    bind(TABS, "p / space", "pause or resume the torrent", &[(ch('p'), A::TogglePause), (ch(' '), A::TogglePause)]),
    bind(TABS, "↑ ↓ j k", "move in the tab (peers, pieces, files, trackers, log)",
        &[(key(K::Up), A::Up), (ch('k'), A::Up), (key(K::Down), A::Down), (ch('j'), A::Down)]),
    bind(TABS, "PgUp PgDn", "move a page", &[(key(K::PageUp), A::PageUp), (key(K::PageDown), A::PageDown)]),
    bind(TABS, "Home End g G", "first / last (log: oldest / follow newest)",
        &[(key(K::Home), A::Home), (ch('g'), A::Home), (key(K::End), A::End), (ch('G'), A::End)]),
    bind(TABS, "mouse", "click a tab or a row, the wheel scrolls",
        &[(Input::Click, CLICK), (Input::WheelUp, A::WheelUp), (Input::WheelDown, A::WheelDown)]),
    // Peers, Pieces (and the Overview, Trackers and Log tabs, which have no keys of their own).
    bind(DETAIL, "L t", "rate limits of this torrent / turtle mode on, off",
        &[(ch('L'), A::SetLimits), (ch('t'), A::ToggleTurtle)]),
    bind(DETAIL, "d", "Peers: drop the selected peer (it may come back later)", &[(ch('d'), A::DropPeer)]),
    bind(DETAIL, "b", "Peers: ban the selected peer for this session", &[(ch('b'), A::BanPeer)]),
    bind(DETAIL, "s", "Peers: sort by rate, progress, client, address, state", &[(ch('s'), A::CycleSort)]),
    bind(DETAIL, "← → h l", "Pieces: move the cursor",
        &[(key(K::Left), A::Left), (ch('h'), A::Left), (key(K::Right), A::Right), (ch('l'), A::Right)]),
    bind(DETAIL, "v", "Pieces: what we have / how many peers have it", &[(ch('v'), A::TogglePieceView)]),
    // The Files tab.
    bind(FILES, "← → h l", "fold / unfold a folder (← on a file: its folder)",
        &[(key(K::Left), A::Left), (ch('h'), A::Left), (key(K::Right), A::Right), (ch('l'), A::Right)]),
    bind(FILES, "Enter", "fold or unfold the selected folder", &[(key(K::Enter), A::ToggleFold)]),
    bind(FILES, "S L N H", "priority of the file / folder: skip, low, normal, high",
        &[(ch('S'), A::SetPriority(FilePriority::Skip)), (ch('L'), A::SetPriority(FilePriority::Low)),
          (ch('N'), A::SetPriority(FilePriority::Normal)), (ch('H'), A::SetPriority(FilePriority::High))]),
    bind(FILES, "t", "turtle mode (the alternative limits) on / off", &[(ch('t'), A::ToggleTurtle)]),
    bind(FILES, "o", "download in order (streaming) / rarest first", &[(ch('o'), A::ToggleSequential)]),
    bind(FILES, "P", "play the file in a media player while it downloads", &[(ch('P'), A::Play)]),
    // Both screens.
    bind(SCREENS, "? Esc", "this help; Esc closes it, or goes back to the list",
        &[(ch('?'), A::ToggleHelp), (key(K::Esc), A::Back)]),
    bind(SCREENS, "q  Ctrl-C", "quit (tells the trackers we stopped)", &[(ch('q'), A::Quit), (Input::Ctrl('c'), A::Quit)]),
    // The search line: printable keys are text (see `from_key_in`).
    bind(SEARCH, "Enter", "keep the filter", &[(key(K::Enter), A::Accept)]),
    bind(SEARCH, "Backspace", "erase a character", &[(key(K::Backspace), A::Erase)]),
    bind(SEARCH, "Esc", "clear the filter", &[(key(K::Esc), A::Back)]),
    // The remove dialog.
    bind(DIALOG, "k", "remove, keep the data", &[(ch('k'), A::KeepData)]),
    bind(DIALOG, "d", "remove and delete the data", &[(ch('d'), A::DeleteData)]),
    bind(DIALOG, "Esc n", "cancel", &[(key(K::Esc), A::Back), (ch('n'), A::Back)]),
    // The add dialog: printable keys are text in its fields (see `from_key_in`).
    bind(ADD, "↑ ↓", "the next field; in the file tree, the next row",
        &[(key(K::Up), A::Up), (key(K::Down), A::Down)]),
    bind(ADD_TEXT, "Tab", "complete the path (lists the choices when several match)", &[(key(K::Tab), A::Complete)]),
    bind(ADD_TEXT, "Backspace Ctrl-U", "erase a character / the whole field",
        &[(key(K::Backspace), A::Erase), (Input::Ctrl('u'), A::ClearLine)]),
    bind(ADD_PICK, "space", "check or uncheck (start paused; a file, or a whole folder)", &[(ch(' '), A::ToggleMark)]),
    bind(ADD_PICK, "j k", "the next / previous row", &[(ch('j'), A::Down), (ch('k'), A::Up)]),
    bind(ADD_PICK, "← → h l", "fold / unfold a folder",
        &[(key(K::Left), A::Left), (ch('h'), A::Left), (key(K::Right), A::Right), (ch('l'), A::Right)]),
    bind(ADD_PICK, "PgUp PgDn Home End", "move in the file tree",
        &[(key(K::PageUp), A::PageUp), (key(K::PageDown), A::PageDown), (key(K::Home), A::Home), (key(K::End), A::End)]),
    bind(ADD, "Enter", "add (a new file tree is shown first)", &[(key(K::Enter), A::Accept)]),
    bind(ADD, "Esc", "cancel", &[(key(K::Esc), A::Back)]),
    bind(TEXT, "Ctrl-C", "quit", &[(Input::Ctrl('c'), A::Quit)]),
    // The rate limits dialog and the move prompt: printable keys are text.
    bind(LIMITS, "Tab ↑ ↓", "the other field (down / up)",
        &[(key(K::Tab), A::NextTab), (key(K::BackTab), A::PrevTab), (key(K::Up), A::Up), (key(K::Down), A::Down)]),
    bind(LIMITS, "Enter", "apply the limits", &[(key(K::Enter), A::Accept)]),
    bind(PROMPT, "Enter", "move the data there", &[(key(K::Enter), A::Accept)]),
    bind(PROMPT, "Tab", "complete the folder's name", &[(key(K::Tab), A::NextTab)]),
    bind(FIELDS, "Backspace", "erase a character", &[(key(K::Backspace), A::Erase)]),
    bind(FIELDS, "Esc", "cancel", &[(key(K::Esc), A::Back)]),
    bind(FIELDS, "Ctrl-C", "quit", &[(Input::Ctrl('c'), A::Quit)]),
];

/// The footer's hints in each screen, most useful first (the footer shows as many as fit):
/// the action, and the word for it. The key shown is the first the table binds to that
/// action in that mode.
pub(crate) fn footer(mode: Mode) -> &'static [(Action, &'static str)] {
    match mode {
        Mode::List => &[
            (Action::Quit, "quit"),
            (Action::ToggleHelp, "help"),
            (Action::Open, "open"),
            (Action::Add, "add"),
            (Action::ToggleMark, "mark"),
            (Action::TogglePause, "pause"),
            (Action::Remove, "remove"),
            (Action::Search, "search"),
            (Action::CycleFilter, "filter"),
            (Action::CycleSort, "sort"),
        ],
        Mode::Detail => &[
            (Action::Quit, "quit"),
            (Action::TogglePause, "pause"),
            (Action::DropPeer, "drop"),
            (Action::BanPeer, "ban"),
            (Action::NextTab, "tab"),
            (Action::CycleSort, "sort"),
            (Action::TogglePieceView, "view"),
            (Action::ToggleHelp, "help"),
        ],
        Mode::Files => &[
            (Action::Quit, "quit"),
            (Action::NextTab, "tab"),
            (Action::SetPriority(FilePriority::Skip), "skip"),
            (Action::SetPriority(FilePriority::Normal), "normal"),
            (Action::SetPriority(FilePriority::High), "high"),
            (Action::ToggleFold, "fold"),
            (Action::Play, "play"),
            (Action::ToggleHelp, "help"),
            (Action::ToggleSequential, "in order"),
        ],
        Mode::Search => &[(Action::Accept, "keep"), (Action::Back, "clear")],
        Mode::Stats => &[
            (Action::Back, "back"),
            (Action::Down, "next"),
            (Action::CycleStatsBy, "by"),
            (Action::Quit, "quit"),
        ],
        Mode::Dialog => &[
            (Action::KeepData, "keep data"),
            (Action::DeleteData, "delete data"),
            (Action::Back, "cancel"),
        ],
        Mode::Limits => &[
            (Action::Accept, "apply"),
            (Action::NextTab, "other field"),
            (Action::Back, "cancel"),
        ],
        Mode::Prompt => &[
            (Action::Accept, "move"),
            (Action::NextTab, "complete"),
            (Action::Back, "cancel"),
        ],
        Mode::AddText => &[
            (Action::Accept, "add"),
            (Action::Complete, "complete"),
            (Action::Down, "next"),
            (Action::Back, "cancel"),
        ],
        Mode::AddPick => &[
            (Action::Accept, "add"),
            (Action::ToggleMark, "check"),
            (Action::Right, "unfold"),
            (Action::Back, "cancel"),
        ],
    }
}

/// The bindings live in `mode`, in the help screen's order.
pub(crate) fn bindings(mode: Mode) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.on.contains(&mode))
}

/// What `input` asks for in `mode`, if the table binds it.
pub(crate) fn action_for(input: Input, mode: Mode) -> Option<Action> {
    bindings(mode)
        .flat_map(|b| b.inputs)
        .find(|(i, _)| *i == input)
        .map(|(_, a)| *a)
}

/// The first input bound to `action` in `mode`, as the footer writes it: "q", "Tab", "?".
pub(crate) fn key_label(action: Action, mode: Mode) -> Option<String> {
    let input = bindings(mode)
        .flat_map(|b| b.inputs)
        .find(|(_, a)| *a == action)
        .map(|(i, _)| *i)?;
    Some(match input {
        Input::Key(KeyCode::Char(' ')) => "space".to_string(),
        Input::Key(KeyCode::Char(c)) => c.to_string(),
        Input::Key(KeyCode::Tab) => "Tab".to_string(),
        Input::Key(KeyCode::BackTab) => "Shift-Tab".to_string(),
        Input::Key(KeyCode::Delete) => "Del".to_string(),
        Input::Key(KeyCode::Up) => "↑".to_string(),
        Input::Key(KeyCode::Down) => "↓".to_string(),
        Input::Key(KeyCode::Right) => "→".to_string(),
        Input::Key(code) => format!("{code:?}"),
        Input::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
        Input::WheelUp | Input::WheelDown => "wheel".to_string(),
        Input::Click => "click".to_string(),
    })
}

#[cfg(test)]
/// Maps one terminal event as the detail view reads it (the single-torrent screen).
pub(crate) fn from_event(event: &Event) -> Option<Action> {
    from_event_in(event, Mode::Detail)
}

/// Maps one terminal event in `mode`. Key releases and repeats are ignored (Windows and the
/// kitty protocol report them, and acting on them would double every key).
pub(crate) fn from_event_in(event: &Event, mode: Mode) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => from_key_in(key, mode),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => action_for(Input::WheelUp, mode),
            MouseEventKind::ScrollDown => action_for(Input::WheelDown, mode),
            MouseEventKind::Down(MouseButton::Left) => {
                action_for(Input::Click, mode).map(|a| a.at(mouse.column, mouse.row))
            }
            _ => None,
        },
        Event::Resize(..) => Some(Action::Redraw),
        _ => None,
    }
}

pub(crate) fn from_key_in(key: &KeyEvent, mode: Mode) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char(c) => action_for(Input::Ctrl(c), mode),
            _ => None,
        };
    }
    match (mode, key.code) {
        (Mode::Search | Mode::AddText, KeyCode::Char(c)) => Some(Action::Type(c)),
        (Mode::Limits | Mode::Prompt, KeyCode::Char(c)) => Some(Action::Type(c)),
        _ => action_for(Input::Key(key.code), mode),
    }
}

#[cfg(test)]
mod tests;
