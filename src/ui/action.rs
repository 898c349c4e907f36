//! Everything a person can ask the interface to do (which keys ask for what is
//! [`super::keys`]), and what the interface then asks of the engine ([`Effect`]).

use std::path::PathBuf;

use crate::engine::api::{Command, FilePriority, LimitChange, LimitsNow, TorrentId};

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
    /// Mouse wheel: scrolls the peer table (detail) or the list, whatever has focus.
    WheelUp,
    WheelDown,
    /// A left click at a screen cell (the key table binds it at 0,0; the event fills in
    /// where).
    Click {
        column: u16,
        row: u16,
    },
    CycleSort,
    /// The detail view's tabs: the next, the previous, or one by number (0 is the first).
    NextTab,
    PrevTab,
    ShowTab(u8),
    TogglePieceView,
    ToggleHelp,
    /// Esc: closes help, a dialog or the search line, or goes back from the detail view to
    /// the list.
    Back,
    /// The terminal changed size; nothing to update, but draw now.
    Redraw,

    // The list screen.
    /// Enter: the selected torrent's detail view.
    Open,
    /// Space: mark or unmark the selected torrent (actions then apply to every marked one).
    ToggleMark,
    /// Reverse the list's sort order.
    ReverseSort,
    /// Next state filter: all, downloading, seeding, paused, queued, error.
    CycleFilter,
    /// The list shows only the torrents carrying the next label in use (then all again).
    CycleLabel,
    /// `/`: start typing a name filter.
    Search,
    ForceStart,
    /// BEP 16 super-seeding on where it is off, off where it is on.
    ToggleSuperSeed,
    QueueUp,
    QueueDown,
    QueueTop,
    QueueBottom,
    Verify,
    /// Asks first: keep the data, delete it, or cancel.
    Remove,
    /// `m`: asks for the folder to move the data to.
    Move,
    /// `L`: the rate limits dialog (the session's, the marked torrents' or the open one's).
    SetLimits,
    /// `t`: turtle mode (the session's alternative limits) on or off.
    ToggleTurtle,
    /// `i`: the statistics view (bytes per tracker, per day) opens or closes.
    ToggleStats,
    /// In the statistics view: rows by tracker, then label, then torrent.
    CycleStatsBy,

    // The add dialog (`a`).
    /// Open the add dialog.
    Add,
    /// Tab in a path field: complete it from the file system.
    Complete,
    /// Ctrl-U in a text field: empty it.
    ClearLine,

    // The search line (text entry) and the remove dialog.
    /// A character typed into the search line.
    Type(char),
    /// Backspace in the search line.
    Erase,
    /// Enter in the search line: keep the filter and go back to the list's keys.
    Accept,
    /// In the remove dialog.
    KeepData,
    DeleteData,

    // The Files tab.
    /// Fold or unfold the selected folder.
    ToggleFold,
    /// The selected file, or every file in the selected folder.
    SetPriority(FilePriority),
    /// Ask for pieces in order instead of rarest first.
    ToggleSequential,
    /// Play the selected file in a media player, streamed while it downloads.
    Play,
}

impl Action {
    /// The same action at the cell the mouse names (only a click carries one).
    pub fn at(self, column: u16, row: u16) -> Action {
        match self {
            Action::Click { .. } => Action::Click { column, row },
            other => other,
        }
    }
}

/// What one torrent of a session is asked, in plain data: the loop asks it through the
/// session's `Client` (and awaits the answer off the loop where it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Torrent {
        id: TorrentId,
        command: Command,
    },
    Verify {
        id: TorrentId,
    },
    Remove {
        id: TorrentId,
        delete_data: bool,
    },
    /// Start regardless of the queue (and resume).
    Force {
        id: TorrentId,
    },
    /// BEP 16 super-seeding on or off.
    SuperSeed {
        id: TorrentId,
        on: bool,
    },
    /// Move in the queue.
    Queue {
        id: TorrentId,
        to: crate::engine::api::Move,
    },
    /// Rate limits: the session's when `ids` is empty, else these torrents' own. A change of
    /// all None only asks what they are (the dialog's prefill).
    Limit {
        ids: Vec<TorrentId>,
        change: LimitChange,
    },
    /// Move the torrent's data into `dir`.
    Move {
        id: TorrentId,
        dir: PathBuf,
    },
    /// Add a torrent (the add dialog): `files.only` set when some files were unchecked.
    Add {
        item: crate::control::proto::AddItem,
        /// None: the session's default.
        save_path: Option<std::path::PathBuf>,
        paused: bool,
        files: crate::engine::api::AddFiles,
    },
    /// The session's accounting, for the statistics view.
    Stats {
        by: crate::engine::api::StatsBy,
    },
}

/// The engine's answer to a [`Request`] someone waits for, handed back to
/// [`super::app::App::on_reply`] by the session loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The statistics view's rows.
    Stats(Result<crate::engine::api::Stats, String>),
    Limits {
        ids: Vec<TorrentId>,
        change: LimitChange,
        result: Result<LimitsNow, String>,
    },
    Moved {
        id: TorrentId,
        dir: PathBuf,
        result: Result<(), String>,
    },
    Removed {
        id: TorrentId,
        delete_data: bool,
        result: Result<(), String>,
    },
    /// A force start or a queue move: the status line already said what was asked; only a
    /// refusal has more to say.
    Done {
        what: &'static str,
        id: TorrentId,
        result: Result<(), String>,
    },
}

/// What [`super::app::App::handle`] asks the event loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// For the torrent the detail view shows (the single-torrent loop sends it as is).
    Torrent(Command),
    /// For torrents of the session: one request per marked (or the selected) torrent.
    Session(Vec<Request>),
    /// Show this torrent's detail view: subscribe to its full snapshot.
    Open(TorrentId),
    /// Back from the detail view to the list: the subscription can end.
    Close,
    /// Stop everything (tracker `stopped`, resume data saved) and end.
    Quit,
    /// Play this file (its index in `Snapshot::files`) of this torrent: the screen's
    /// [`super::Player`] finds the stream and the player.
    Play { id: TorrentId, file: usize },
}

impl Effect {
    /// The command the single-torrent loop sends for this effect, if any.
    pub fn into_command(self) -> Option<Command> {
        match self {
            Effect::Torrent(c) => Some(c),
            Effect::Quit => Some(Command::Quit),
            Effect::Session(_) | Effect::Open(_) | Effect::Close | Effect::Play { .. } => None,
        }
    }
}
