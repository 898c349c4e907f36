//! The control protocol's messages, as JSON inside [`super::frame`]s.
//!
//! A connection starts with one [`Hello`] each way (client first). Its shape is frozen across
//! versions, and so is [`Response::Error`]'s, so a client and a session of different versions
//! always understand each other well enough to say so. After the hellos, the client sends
//! [`Request`]s and reads one [`Response`] for each, in order.
//!
//! Wire shapes (serde): a request is internally tagged by `verb`
//! (`{"verb":"pause","ids":["3"]}`); a response is adjacently tagged
//! (`{"type":"list","data":[...]}`); a .torrent travels as base64 (JSON has no bytes, and an
//! array of numbers would make 64 MiB into 250). serde_json: the de-facto JSON crate, already
//! in the build through reqwest. base64: the same, and its standard engine is what every
//! other language's base64 reads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::protocol::text::shorten;

/// Bumped whenever a message changes shape in a way an older peer would misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// The first frame each way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// "ttui 0.1.0": named in the mismatch message.
    pub program: String,
}

impl Hello {
    pub fn ours() -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            program: format!("ttui {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The error when a session that says `session` meets a client that says `client`, or `None`
/// when they speak the same protocol. Both ends compute it, each from its own side.
pub fn version_mismatch(session: &Hello, client: &Hello) -> Option<ControlError> {
    if session.version == client.version {
        return None;
    }
    Some(ControlError::new(
        ErrorKind::Version,
        format!(
            "{} speaks control protocol {}, the running session ({}) speaks {}: use the ttui \
             that started the session, or stop it (`ttui daemon stop`) and start it again",
            shorten(&client.program),
            client.version,
            shorten(&session.program),
            session.version
        ),
    ))
}

/// What a client asks the session. `ids` are as [`resolve_ids`] reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Request {
    Add {
        items: Vec<AddItem>,
        #[serde(default)]
        save_path: Option<PathBuf>,
        #[serde(default)]
        paused: bool,
        /// `--only-files` and `--sequential`.
        #[serde(default)]
        files: crate::engine::api::AddFiles,
        /// `--label`: checked by the session; a label's config defaults apply.
        #[serde(default)]
        labels: Vec<String>,
    },
    /// `ttui files`: the files with their priorities after `set` (if any) was applied.
    Files {
        id: String,
        #[serde(default)]
        set: Option<super::files::FilesChange>,
    },
    List,
    Show {
        id: String,
    },
    Pause {
        ids: Vec<String>,
    },
    Resume {
        ids: Vec<String>,
    },
    Verify {
        ids: Vec<String>,
    },
    Remove {
        ids: Vec<String>,
        #[serde(default)]
        delete_data: bool,
    },
    Move {
        id: String,
        dir: PathBuf,
    },
    /// `ttui rename ID PATH NAME`: a file or folder of the torrent gets a new last name.
    Rename {
        id: String,
        path: String,
        name: String,
    },
    Shutdown,
    /// `ttui attach`: the session's snapshot, streamed as [`Response::Session`] frames about
    /// twice a second (and at least every few seconds, so a dead link shows) until the
    /// client closes the connection.
    Watch,
    /// `ttui attach`'s open torrent: its full snapshot, streamed as [`Response::Snapshot`]
    /// frames at most four times a second until the client closes the connection.
    Subscribe {
        id: u32,
    },
    /// One torrent command from `ttui attach` (pause, drop or ban a peer...).
    Command {
        id: u32,
        command: crate::engine::api::Command,
    },
    /// `ttui resume --force`: start regardless of the queue (a plain `resume` ends that).
    Force {
        ids: Vec<String>,
    },
    /// `ttui super-seed ID on|off`: BEP 16 super-seeding, kept with the torrent.
    SuperSeed {
        id: String,
        on: bool,
    },
    /// `ttui queue ID top|up|down|bottom`.
    Queue {
        id: String,
        to: crate::engine::api::Move,
    },
    /// `ttui limit ID --seed-ratio R --seed-time DUR --seed-idle DUR`: the torrent's own
    /// seeding goals (absent: unchanged). Durations in seconds.
    Goals {
        id: String,
        #[serde(default)]
        seed_ratio: Option<Set<f64>>,
        #[serde(default)]
        seed_time_secs: Option<Set<u64>>,
        #[serde(default)]
        seed_idle_secs: Option<Set<u64>>,
    },
    /// `ttui label ID +tv -old`: answered with the torrents' rows as they are after it.
    Label {
        ids: Vec<String>,
        edit: crate::engine::api::LabelEdit,
    },
    /// `ttui limit`: no ids for the session's limits, else these torrents' own.
    Limit {
        #[serde(default)]
        ids: Vec<String>,
        #[serde(default)]
        change: crate::engine::api::LimitChange,
    },
    /// `ttui blocklist update`: read the blocklist again now.
    BlocklistUpdate,
    /// `ttui cross-seed DIR`: how each .torrent matches the data the session seeds; `add`:
    /// the matches added, labelled `label`.
    CrossSeed {
        items: Vec<AddItem>,
        #[serde(default)]
        add: bool,
        #[serde(default)]
        label: String,
    },
    /// `ttui stats`: the session's accounting.
    Stats {
        #[serde(default)]
        by: crate::engine::api::StatsBy,
    },
    /// `ttui stream` and `ttui play`: the URL of a file on the session's stream server (no
    /// file: the torrent's largest media file, else its largest file).
    StreamUrl {
        id: String,
        #[serde(default)]
        file: Option<usize>,
    },
}

use crate::engine::api::Set;

/// Every `verb` this version knows; anything else is a newer client's request.
pub const VERBS: [&str; 24] = [
    "add",
    "files",
    "list",
    "show",
    "pause",
    "resume",
    "verify",
    "remove",
    "move",
    "rename",
    "shutdown",
    "watch",
    "subscribe",
    "command",
    "force",
    "queue",
    "goals",
    "limit",
    "label",
    "blocklist_update",
    "stream_url",
    "super_seed",
    "stats",
    "cross_seed",
];

impl Request {
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Add { .. } => "add",
            Request::Label { .. } => "label",
            Request::Files { .. } => "files",
            Request::List => "list",
            Request::Show { .. } => "show",
            Request::Pause { .. } => "pause",
            Request::Resume { .. } => "resume",
            Request::Verify { .. } => "verify",
            Request::Remove { .. } => "remove",
            Request::Move { .. } => "move",
            Request::Rename { .. } => "rename",
            Request::Shutdown => "shutdown",
            Request::Watch => "watch",
            Request::Subscribe { .. } => "subscribe",
            Request::Command { .. } => "command",
            Request::Force { .. } => "force",
            Request::Queue { .. } => "queue",
            Request::SuperSeed { .. } => "super_seed",
            Request::Goals { .. } => "goals",
            Request::Limit { .. } => "limit",
            Request::BlocklistUpdate => "blocklist_update",
            Request::Stats { .. } => "stats",
            Request::CrossSeed { .. } => "cross_seed",
            Request::StreamUrl { .. } => "stream_url",
        }
    }
}

/// One torrent to add. A file is read by the client (it may be `-` or relative to the
/// client's directory) and sent whole; links are resolved by the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddItem {
    Torrent {
        /// Where it came from, for messages ("ubuntu.iso.torrent").
        name: String,
        #[serde(with = "b64")]
        bytes: Vec<u8>,
    },
    Magnet(String),
    Url(String),
}

impl AddItem {
    /// What the session adds for this item of `ttui add`, the add dialog or a script: a URL
    /// is fetched first (within `load::URL_TIMEOUT`), its bytes named by the URL.
    pub(crate) async fn resolve(self) -> Result<crate::engine::api::AddSource, String> {
        use crate::engine::api::AddSource;
        use crate::engine::host::load::{fetch_url, URL_TIMEOUT};
        Ok(match self {
            AddItem::Torrent { name, bytes } => AddSource::Torrent { name, bytes },
            AddItem::Magnet(m) => AddSource::Magnet(m),
            AddItem::Url(u) => {
                let bytes = fetch_url(&u, URL_TIMEOUT).await?;
                AddSource::Torrent { name: u, bytes }
            }
        })
    }

    /// How the item is named in [`AddResult::source`].
    pub fn source(&self) -> &str {
        match self {
            AddItem::Torrent { name, .. } => name,
            AddItem::Magnet(s) | AddItem::Url(s) => s,
        }
    }
}

/// The requests that add `items`, split so no frame passes [`super::frame::MAX_FRAME`]: a
/// batch holds at most 48 MiB of .torrent bytes (64 MiB after base64), or one torrent.
pub fn add_requests(items: Vec<AddItem>, save_path: Option<PathBuf>, paused: bool) -> Vec<Request> {
    const BATCH: usize = 48 << 20;
    let weight = |i: &AddItem| match i {
        AddItem::Torrent { name, bytes } => bytes.len() + name.len(),
        AddItem::Magnet(s) | AddItem::Url(s) => s.len(),
    };
    let mut batches: Vec<Vec<AddItem>> = Vec::new();
    let mut size = 0;
    for item in items {
        let w = weight(&item);
        match batches.last_mut() {
            Some(b) if size + w <= BATCH => b.push(item),
            _ => {
                batches.push(vec![item]);
                size = 0;
            }
        }
        size += w;
    }
    batches
        .into_iter()
        .map(|items| Request::Add {
            items,
            save_path: save_path.clone(),
            paused,
            files: Default::default(),
            labels: Vec::new(),
        })
        .collect()
}

/// The session's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Response {
    Added(Vec<AddResult>),
    List(Vec<TorrentRow>),
    /// Inside the session: `List` as the session writes it, each row made from the snapshot
    /// as it is written ([`crate::control::listing::Listing`]). On the wire it is `List`.
    #[serde(rename = "list", skip_deserializing)]
    Listing(crate::control::listing::Listing),
    Show(Box<TorrentDetail>),
    /// For pause, resume, verify, remove, move and shutdown: one entry per torrent acted on.
    Done(Vec<IdResult>),
    Error(ControlError),
    /// One frame of a [`Request::Watch`] stream: the line-up's change since the frame before.
    Session(Box<crate::control::lineup::LineUpChange>),
    /// One frame of a [`Request::Subscribe`] stream.
    Snapshot(Box<crate::engine::api::Snapshot>),
    /// The limits after a [`Request::Limit`].
    Limits(crate::engine::api::LimitsNow),
    /// The URL a [`Request::StreamUrl`] asked for.
    StreamUrl(StreamUrl),
    /// The blocklist's status after a [`Request::BlocklistUpdate`].
    Blocklist(crate::engine::api::BlocklistStatus),
    /// How each .torrent of a [`Request::CrossSeed`] matches.
    CrossSeed(Vec<crate::engine::api::CrossSeedRow>),
    /// The accounting a [`Request::Stats`] asked for.
    Stats(Box<crate::engine::api::Stats>),
    /// Inside the session only, from its handler to the server: the frames to write, in
    /// order, until the channel ends or the client goes away. Never on the wire.
    #[serde(skip)]
    Stream(Stream),
}

/// The frames of a streamed answer (see [`Response::Stream`]).
#[derive(Debug, Clone)]
pub struct Stream(Arc<Mutex<Option<mpsc::Receiver<Response>>>>);

impl Stream {
    pub fn new(frames: mpsc::Receiver<Response>) -> Stream {
        Stream(Arc::new(Mutex::new(Some(frames))))
    }

    /// The frames, once: the server takes them.
    pub fn take(&self) -> Option<mpsc::Receiver<Response>> {
        self.0.lock().ok()?.take()
    }
}

impl PartialEq for Stream {
    fn eq(&self, other: &Stream) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddResult {
    pub source: String,
    pub id: Option<u32>,
    pub info_hash: Option<String>,
    pub name: Option<String>,
    /// The torrent was in the session already; `id` is its id.
    pub already: bool,
    pub error: Option<String>,
}

/// A file of a torrent on the session's stream server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamUrl {
    pub url: String,
    /// Its index (padding files not counted) and path in the torrent.
    pub file: usize,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResult {
    pub id: u32,
    pub name: String,
    pub error: Option<String>,
}

pub use super::rows::{ExplainRow, FileRow, PeerInfo, TorrentDetail, TorrentRow, TrackerRow};

/// An error a verb prints, with the exit code it ends with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ControlError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ControlError {
        ControlError {
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of failure a script can tell apart by exit code (see README, "Scripting").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NoSession,
    UnknownId,
    BadArgument,
    Version,
    /// Anything else, including a kind a newer session sends that this one does not know.
    #[serde(other)]
    Internal,
}

impl From<&crate::engine::api::RequestError> for ErrorKind {
    /// The kind a failed session request is answered with (and the verb's exit code).
    fn from(e: &crate::engine::api::RequestError) -> ErrorKind {
        use crate::engine::api::RequestError as E;
        match e {
            E::NoTorrent(_) => ErrorKind::UnknownId,
            E::NoMetadata
            | E::BadTorrent(_)
            | E::BadFiles(_)
            | E::BadLabel(_)
            | E::BadSetting(_)
            | E::NotHere(_)
            | E::NoBlocklist
            | E::NoFile { .. }
            | E::Trackers(_) => ErrorKind::BadArgument,
            E::Rename(r) => match r {
                crate::engine::api::RenameError::Disk(_) => ErrorKind::Internal,
                _ => ErrorKind::BadArgument,
            },
            E::Catalog(c) => match c {
                crate::engine::api::CatalogError::NotKept(_) => ErrorKind::Internal,
                _ => ErrorKind::BadArgument,
            },
            E::Blocklist(_) | E::Stopping | E::Stopped | E::Disk(_) | E::Remote(_) => {
                ErrorKind::Internal
            }
        }
    }
}

impl ErrorKind {
    /// 1 anything else, 2 bad argument (as clap's usage errors), 3 no session, 4 unknown id,
    /// 5 the session speaks another protocol version.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::BadArgument => 2,
            ErrorKind::NoSession => 3,
            ErrorKind::UnknownId => 4,
            ErrorKind::Version => 5,
        }
    }
}

/// A request from outside bytes. An unknown `verb` is a newer client's: say so rather than
/// "bad JSON".
pub fn decode_request(body: &[u8]) -> Result<Request, ControlError> {
    serde_json::from_slice(body).map_err(|e| {
        let verb = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("verb")?.as_str().map(str::to_owned));
        match verb {
            Some(v) if !VERBS.contains(&v.as_str()) => ControlError::new(
                ErrorKind::Version,
                format!(
                    "this session ({}) does not know the request `{}`: it is older than the \
                     ttui that sent it",
                    Hello::ours().program,
                    shorten(&v)
                ),
            ),
            _ => ControlError::new(
                ErrorKind::BadArgument,
                format!("bad request: {}", shorten(&e.to_string())),
            ),
        }
    })
}

/// A session's reply, or why it cannot be read.
pub fn decode_response(body: &[u8]) -> Result<Response, ControlError> {
    serde_json::from_slice(body).map_err(|e| {
        ControlError::new(
            ErrorKind::Internal,
            format!(
                "the session sent a reply this ttui cannot read: {}",
                shorten(&e.to_string())
            ),
        )
    })
}

/// `v` as JSON bytes; only a path that is not UTF-8 can fail.
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, ControlError> {
    serde_json::to_vec(v).map_err(|e| ControlError::new(ErrorKind::BadArgument, e.to_string()))
}

mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod verb_tests {
    use super::*;

    /// `decode_request` calls a request whose verb is not in [`VERBS`] a newer client's, so a
    /// verb missing there turns every malformed request of that verb into "the session is
    /// older". Each variant's verb must be listed.
    #[test]
    fn every_verb_is_known() {
        let id = || "1".to_string();
        let all = [
            Request::Add {
                items: vec![],
                save_path: None,
                paused: false,
                files: Default::default(),
                labels: vec![],
            },
            Request::Label {
                ids: vec![],
                edit: crate::engine::api::LabelEdit::Set(vec![]),
            },
            Request::Files {
                id: id(),
                set: None,
            },
            Request::List,
            Request::Show { id: id() },
            Request::Pause { ids: vec![] },
            Request::Resume { ids: vec![] },
            Request::Verify { ids: vec![] },
            Request::Remove {
                ids: vec![],
                delete_data: false,
            },
            Request::Move {
                id: id(),
                dir: PathBuf::new(),
            },
            Request::Rename {
                id: id(),
                path: String::new(),
                name: String::new(),
            },
            Request::Shutdown,
            Request::Watch,
            Request::Subscribe { id: 1 },
            Request::Force { ids: vec![] },
            Request::SuperSeed { id: id(), on: true },
            Request::Queue {
                id: id(),
                to: crate::engine::api::Move::Top,
            },
            Request::Goals {
                id: id(),
                seed_ratio: None,
                seed_time_secs: None,
                seed_idle_secs: None,
            },
            Request::Limit {
                ids: vec![],
                change: Default::default(),
            },
            Request::BlocklistUpdate,
            Request::Stats {
                by: crate::engine::api::StatsBy::Label,
            },
            Request::CrossSeed {
                items: vec![],
                add: true,
                label: "cross-seed".into(),
            },
            Request::StreamUrl {
                id: id(),
                file: None,
            },
        ];
        for r in &all {
            assert!(VERBS.contains(&r.verb()), "{} is not in VERBS", r.verb());
        }
        // `command` carries an engine command; its verb is listed too.
        assert!(VERBS.contains(&"command"));
        assert_eq!(all.len() + 1, VERBS.len());
    }

    #[test]
    fn a_malformed_known_verb_is_a_bad_argument() {
        let e = decode_request(br#"{"verb":"limit","ids":5}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadArgument, "{e:?}");
    }
}
