//! Why a request to the session failed, as a type callers can tell apart (a missing torrent is
//! not a refused file). The words are the `Display` of each; the control socket and the UI
//! turn them into text only at their edge. thiserror: the crate's one way to write an error
//! type (its derive writes `Display` and `Error` from the attributes).

use super::TorrentId;

/// The failure of one session request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No torrent has this id (removed meanwhile, or never there).
    #[error("no torrent {0}")]
    NoTorrent(TorrentId),
    /// A magnet whose metadata has not arrived cannot be moved or verified yet.
    #[error("its metadata has not arrived yet")]
    NoMetadata,
    /// The session is shutting down and takes no new torrent.
    #[error("the session is stopping")]
    Stopping,
    /// The session's task has ended: nobody reads requests any more.
    #[error("the session has stopped")]
    Stopped,
    /// The torrent or magnet given could not be read (the reason names it).
    #[error("{0}")]
    BadTorrent(String),
    /// The files asked for do not fit the torrent (`--only-files`).
    #[error("{0}")]
    BadFiles(ValueError),
    /// Moving or deleting its files failed on disk (the reason names the path).
    #[error("{0}")]
    Disk(String),
    /// A setting or limit that cannot be applied (the reason says which and why).
    #[error("{0}")]
    BadSetting(String),
    /// What a session over the control socket answered: only its words travel.
    #[error("{0}")]
    Remote(String),
    /// A label that cannot be kept (empty, too long, a comma, too many).
    #[error("{0}")]
    BadLabel(#[from] super::LabelError),
    /// A category or tag that cannot be made, changed or removed so.
    #[error("{0}")]
    Catalog(#[from] super::CatalogError),
    /// A file or folder that cannot be renamed so (the reason names it).
    #[error("{0}")]
    Rename(#[from] super::RenameError),
    /// A request this face cannot carry (an attached screen has no way to set goals).
    #[error("{0}")]
    NotHere(&'static str),
    /// A tracker edit that cannot be made (the URL there already, or not there).
    #[error("{0}")]
    Trackers(#[from] super::TrackerEditError),
    /// `blocklist update` with no blocklist set.
    #[error("no blocklist is set (blocklist = PATH or URL in the config file, or --blocklist)")]
    NoBlocklist,
    /// A blocklist update that failed; the list in force stays (the words say so).
    #[error("{0}")]
    Blocklist(String),
    /// A file index past the torrent's last file (padding files not counted).
    #[error("no file {index}: the torrent has {count} files (0 to {last})", last = count.saturating_sub(1))]
    NoFile { index: usize, count: usize },
}

/// A value a person typed (a flag, a config key, a verb's argument, a key in the TUI) that
/// could not be read; its `Display` is the one line they see, with an example of what works.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("not a rate: {0:?} (e.g. 500K, 2M, 1.5MiB, 0 for unlimited)")]
    NotARate(String),
    #[error("rate too large: {0:?}")]
    RateTooLarge(String),
    #[error("not a daily window: {0:?} (e.g. 01:00-07:00)")]
    NotAWindow(String),
    #[error("empty daily window: {0:?}")]
    EmptyWindow(String),
    #[error("`{0}` is not a ratio (e.g. 1.0, 2.5, off)")]
    NotARatio(String),
    #[error("`{0}` is not a duration (e.g. 45s, 90m, 2h, 1d, 1h30m)")]
    NotADuration(String),
    #[error("`{0}` is not one of top, up, down, bottom")]
    NotAMove(String),
    #[error("unknown priority {0:?} (skip, low, normal or high)")]
    NotAPriority(String),
    #[error("bad file list {text:?} at {part:?}: use indices and ranges like 0,3-5")]
    BadFileList { text: String, part: String },
    #[error("file {index} does not exist: the torrent has {count} files (0 to {})", count.saturating_sub(1))]
    NoSuchFile { index: usize, count: usize },
    #[error("{0:?} is not an http://HOST[:PORT]/PATH URL")]
    NotAnIgdUrl(String),
    #[error("{0:?} names no host")]
    NoIgdHost(String),
}
