//! What every RPC request is answered with (`Ctx`): the session's client and line-up,
//! what session-get tells beside them (`Facts`), and what the RPC keeps of its own
//! (`Stored`). Apart from the server so the methods need not name it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

use super::activity;
use super::session_id::SessionId;
use super::Credentials;
use crate::engine::api::{Client, SessionSnapshot, TorrentId};
use crate::http::LoginPacer;

/// What session-get tells of the session that the line-up does not carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub state_dir: PathBuf,
    pub max_peers: usize,
    pub dht: bool,
    pub pex: bool,
    /// Local service discovery (Transmission's `lpd-enabled`).
    pub lsd: bool,
    pub utp: bool,
    /// Transmission's word: `required`, `preferred` or `tolerated`.
    pub encryption: &'static str,
    /// `on_complete`, shown as `script-torrent-done-filename` (read-only: a command to run
    /// is for the config file, not for whoever holds the RPC's password).
    pub on_complete: Option<PathBuf>,
}

/// What the RPC keeps of its own: limits given while their `...-enabled` is off.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stored {
    pub session_down: u64,
    pub session_up: u64,
    pub torrent_limits: std::collections::HashMap<TorrentId, (u64, u64)>,
    /// `incomplete-dir` given while `incomplete-dir-enabled` is off.
    pub incomplete_dir: Option<PathBuf>,
}

/// What every request is answered with.
pub(crate) struct Ctx {
    pub client: Client,
    pub snapshot: watch::Receiver<Arc<SessionSnapshot>>,
    pub activity: activity::Shared,
    pub stored: Mutex<Stored>,
    pub facts: Facts,
    pub session_id: SessionId,
    pub started: Instant,
    /// File counts torrent-get has asked the session for (`torrents::file_counts`).
    pub file_counts: Mutex<HashMap<TorrentId, usize>>,
    /// Torrents torrent-add answered before the line-up listed them (`torrents::listed`).
    pub unlisted: Mutex<Vec<TorrentId>>,
    pub(super) creds: Option<Credentials>,
    pub(super) whitelist: Vec<String>,
    pub(super) pacer: Mutex<LoginPacer>,
    pub(super) web_home: Option<PathBuf>,
}
