//! The session's end of the control socket: each request a client sends (`control::proto`)
//! becomes session requests, and the answer is built from the session's snapshot, so the
//! verbs see exactly what the screen sees.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::control::ids::{hex, resolve_ids};
use crate::control::proto::{
    AddItem, AddResult, ControlError, ErrorKind, IdResult, Request, Response,
};
use crate::control::rows::{ExplainRow, FileRow, PeerInfo, TorrentDetail, TorrentRow, TrackerRow};
use crate::control::server::ControlServer;
use crate::engine::api::*;
use crate::engine::session::goals::Set;

pub(crate) type Requests = mpsc::UnboundedSender<SessionRequest>;
type SessionSnap = watch::Receiver<Arc<SessionSnapshot>>;

/// How long `show` waits for a torrent's first full snapshot (built on its next tick).
const DETAIL_WAIT: Duration = Duration::from_millis(1500);
/// How long `add` and `remove` wait for the line-up to show what they did (a tick or two).
const LISTED_WAIT: Duration = Duration::from_secs(2);

/// Binds the control socket and answers its clients until the task is aborted (which
/// removes the socket file).
pub async fn start(
    socket: &Path,
    requests: Requests,
    snapshot: SessionSnap,
) -> Result<JoinHandle<()>, String> {
    let server = ControlServer::bind(socket).map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::channel::<(Request, oneshot::Sender<Response>)>(64);
    Ok(tokio::spawn(async move {
        let answer = async move {
            while let Some((req, reply)) = rx.recv().await {
                let (requests, snapshot) = (requests.clone(), snapshot.clone());
                // One slow request (a URL to fetch) never holds up the others.
                tokio::spawn(async move {
                    let _ = reply.send(handle(req, &requests, &snapshot).await);
                });
            }
        };
        tokio::join!(server.run(tx), answer);
    }))
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ControlError::new(kind, message))
}

fn gone() -> Response {
    error(ErrorKind::Internal, "the session is stopping")
}

/// The `(id, info hash)` of every torrent, which IDs given by a client resolve against.
fn ids_of(snap: &SessionSnapshot) -> Vec<(u32, [u8; 20])> {
    snap.torrents
        .iter()
        .map(|t| (t.id.0, t.info_hash))
        .collect()
}

pub async fn handle(req: Request, requests: &Requests, snapshot: &SessionSnap) -> Response {
    let current = snapshot.borrow().clone();
    match req {
        Request::Add {
            items,
            save_path,
            paused,
            files,
        } => add(items, save_path, (paused, files), requests, snapshot).await,
        Request::List => Response::List(current.torrents.iter().map(row).collect()),
        Request::Show { id } => {
            let ids = match resolve_ids(std::slice::from_ref(&id), &ids_of(&current)) {
                Ok(ids) => ids,
                Err(e) => return Response::Error(e),
            };
            match ids.first() {
                Some(&id) => show(TorrentId(id), &current, requests).await,
                None => error(ErrorKind::UnknownId, "no torrent given"),
            }
        }
        Request::Pause { ids } | Request::Resume { ids } | Request::Verify { ids }
            if ids.is_empty() =>
        {
            error(ErrorKind::BadArgument, "no torrent given (an ID, or `all`)")
        }
        Request::Pause { ids } => each(&ids, &current, requests, |id| SessionRequest::Torrent {
            id,
            command: Command::Pause,
        }),
        Request::Resume { ids } => {
            // A plain resume puts a forced torrent back under the queue.
            let _ = each(&ids, &current, requests, |id| force(id, false));
            each(&ids, &current, requests, |id| SessionRequest::Torrent {
                id,
                command: Command::Resume,
            })
        }
        Request::Force { ids } => {
            let _ = each(&ids, &current, requests, |id| force(id, true));
            each(&ids, &current, requests, |id| SessionRequest::Torrent {
                id,
                command: Command::Resume,
            })
        }
        Request::Queue { id, to } => {
            one(&id, &current, requests, |id, reply| SessionRequest::Queue {
                id,
                to,
                reply,
            })
            .await
        }
        Request::Goals {
            id,
            seed_ratio,
            seed_time_secs,
            seed_idle_secs,
        } => {
            let times = (seed_time_secs, seed_idle_secs);
            goals(&id, seed_ratio, times, &current, requests).await
        }
        Request::Verify { ids } => {
            each(&ids, &current, requests, |id| SessionRequest::Verify { id })
        }
        Request::Remove { ids, delete_data } => {
            remove(&ids, delete_data, &current, requests, snapshot).await
        }
        Request::Move { id, dir } => move_to(&id, dir, &current, requests).await,
        Request::Watch => super::serve_watch::watch_session(snapshot.clone()),
        Request::Limit { ids, change } => {
            super::limit::serve(ids, change, requests, &ids_of(&current)).await
        }
        Request::Subscribe { id } => super::serve_watch::subscribe(id, requests).await,
        Request::Command { id, command } => torrent_command(id, command, &current, requests),
        Request::Files { id, set } => files(&id, set, &current, requests).await,
        Request::Shutdown => {
            let _ = requests.send(SessionRequest::Shutdown);
            Response::Done(Vec::new())
        }
    }
}

/// Adds each item, then waits (briefly) until the line-up shows them.
async fn add(
    items: Vec<AddItem>,
    save_path: Option<std::path::PathBuf>,
    (paused, files): (bool, AddFiles),
    requests: &Requests,
    snapshot: &SessionSnap,
) -> Response {
    let mut out = Vec::new();
    for item in items {
        let how = (paused, files.clone());
        out.push(add_one(item, save_path.clone(), how, requests).await);
    }
    let added: Vec<u32> = out.iter().filter_map(|r| r.id).collect();
    listed(snapshot, |snap| {
        added
            .iter()
            .all(|id| snap.torrents.iter().any(|t| t.id.0 == *id))
    })
    .await;
    Response::Added(out)
}

/// Sets a torrent's seeding goals; `times` are the seeding and idle times in seconds.
async fn goals(
    id: &str,
    seed_ratio: Option<Set<f64>>,
    (seed_time_secs, seed_idle_secs): (Option<Set<u64>>, Option<Set<u64>>),
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let d = |s: Set<u64>| match s {
        Set::To(v) => Set::To(Duration::from_secs(v)),
        Set::Off => Set::Off,
        Set::Default => Set::Default,
    };
    if seed_ratio.is_some_and(|r| matches!(r, Set::To(r) if !(r.is_finite() && r >= 0.0))) {
        return error(
            ErrorKind::BadArgument,
            "a ratio goal is a number of 0 or more",
        );
    }
    let (seed_time, idle) = (seed_time_secs.map(d), seed_idle_secs.map(d));
    one(id, current, requests, |id, reply| SessionRequest::Goals {
        id,
        ratio: seed_ratio,
        seed_time,
        idle,
        reply,
    })
    .await
}

/// What a session request that answers `Result<(), String>` came to: None when it worked.
async fn outcome(rx: oneshot::Receiver<Result<(), String>>) -> Option<String> {
    match rx.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the session stopped".into()),
    }
}

/// Removes each torrent in turn, then waits (briefly) until the line-up no longer shows them.
async fn remove(
    ids: &[String],
    delete_data: bool,
    current: &SessionSnapshot,
    requests: &Requests,
    snapshot: &SessionSnap,
) -> Response {
    let resolved = match resolve_ids(ids, &ids_of(current)) {
        Ok(ids) => ids,
        Err(e) => return Response::Error(e),
    };
    let mut out = Vec::new();
    for id in resolved {
        let (reply, rx) = oneshot::channel();
        let id = TorrentId(id);
        if requests
            .send(SessionRequest::Remove {
                id,
                delete_data,
                reply,
            })
            .is_err()
        {
            return gone();
        }
        let error = outcome(rx).await;
        out.push(IdResult {
            id: id.0,
            name: name_of(current, id),
            error,
        });
    }
    listed(snapshot, |snap| {
        !snap
            .torrents
            .iter()
            .any(|t| out.iter().any(|r| r.id == t.id.0))
    })
    .await;
    Response::Done(out)
}

/// Moves one torrent's data to `dir`, which must be absolute (the client's working
/// directory is not the session's).
async fn move_to(
    id: &str,
    dir: std::path::PathBuf,
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let ids = match resolve_ids(&[id.to_string()], &ids_of(current)) {
        Ok(ids) => ids,
        Err(e) => return Response::Error(e),
    };
    let Some(&id) = ids.first() else {
        return error(ErrorKind::UnknownId, "no torrent given");
    };
    if !dir.is_absolute() {
        return error(
            ErrorKind::BadArgument,
            "the directory must be an absolute path",
        );
    }
    let id = TorrentId(id);
    let (reply, rx) = oneshot::channel();
    if requests
        .send(SessionRequest::Move { id, dir, reply })
        .is_err()
    {
        return gone();
    }
    let error = outcome(rx).await;
    Response::Done(vec![IdResult {
        id: id.0,
        name: name_of(current, id),
        error,
    }])
}

/// A key from a remote screen, passed on to the torrent.
fn torrent_command(
    id: u32,
    command: Command,
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    // Quitting a torrent is the session's business, never a remote screen's.
    if command == Command::Quit {
        return error(
            ErrorKind::BadArgument,
            "a torrent cannot be quit from outside",
        );
    }
    let id = TorrentId(id);
    if !current.torrents.iter().any(|t| t.id == id) {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    }
    if requests
        .send(SessionRequest::Torrent { id, command })
        .is_err()
    {
        return gone();
    }
    Response::Done(vec![IdResult {
        id: id.0,
        name: name_of(current, id),
        error: None,
    }])
}

/// One torrent's files, after applying `set` if given.
async fn files(
    id: &str,
    set: Option<crate::control::files::FilesChange>,
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let rows = ids_of(current);
    let id = match resolve_ids(&[id.to_string()], &rows) {
        Ok(ids) if ids.len() == 1 => TorrentId(ids[0]),
        Ok(_) => return error(ErrorKind::BadArgument, "name one torrent"),
        Err(e) => return Response::Error(e),
    };
    if let Some(set) = set {
        if let Err(e) = super::serve_files::apply(id, set, requests).await {
            return e;
        }
    }
    show(id, current, requests).await
}

fn force(id: TorrentId, on: bool) -> SessionRequest {
    SessionRequest::Force {
        id,
        on,
        reply: oneshot::channel().0,
    }
}

/// A request naming one torrent that the session answers.
async fn one(
    id: &str,
    current: &SessionSnapshot,
    requests: &Requests,
    make: impl FnOnce(TorrentId, oneshot::Sender<Result<(), String>>) -> SessionRequest,
) -> Response {
    let rows: Vec<(u32, [u8; 20])> = current
        .torrents
        .iter()
        .map(|t| (t.id.0, t.info_hash))
        .collect();
    let id = match resolve_ids(&[id.to_string()], &rows) {
        Ok(ids) if ids.len() == 1 => TorrentId(ids[0]),
        Ok(_) => return error(ErrorKind::BadArgument, "name one torrent"),
        Err(e) => return Response::Error(e),
    };
    let (reply, rx) = oneshot::channel();
    if requests.send(make(id, reply)).is_err() {
        return gone();
    }
    let error = match rx.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the session stopped".into()),
    };
    Response::Done(vec![IdResult {
        id: id.0,
        name: name_of(current, id),
        error,
    }])
}

/// Waits (bounded) until the session's line-up shows what a request did, so a `list` right
/// after an `add` or a `remove` sees it (the line-up is published every tick).
async fn listed(snapshot: &SessionSnap, done: impl Fn(&SessionSnapshot) -> bool) {
    let mut snapshot = snapshot.clone();
    let _ = tokio::time::timeout(LISTED_WAIT, snapshot.wait_for(|s| done(s))).await;
}

fn name_of(snap: &SessionSnapshot, id: TorrentId) -> String {
    snap.torrents
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

/// Sends one request per resolved id; each gets its line.
fn each(
    ids: &[String],
    current: &SessionSnapshot,
    requests: &Requests,
    make: impl Fn(TorrentId) -> SessionRequest,
) -> Response {
    let rows: Vec<(u32, [u8; 20])> = current
        .torrents
        .iter()
        .map(|t| (t.id.0, t.info_hash))
        .collect();
    let resolved = match resolve_ids(ids, &rows) {
        Ok(ids) => ids,
        Err(e) => return Response::Error(e),
    };
    let mut out = Vec::new();
    for id in resolved {
        let id = TorrentId(id);
        if requests.send(make(id)).is_err() {
            return gone();
        }
        out.push(IdResult {
            id: id.0,
            name: name_of(current, id),
            error: None,
        });
    }
    Response::Done(out)
}

async fn add_one(
    item: AddItem,
    save_path: Option<std::path::PathBuf>,
    (paused, files): (bool, crate::engine::api::AddFiles),
    requests: &Requests,
) -> AddResult {
    let mut result = AddResult {
        source: item.source().to_string(),
        id: None,
        info_hash: None,
        name: None,
        already: false,
        error: None,
    };
    let source = match crate::cli::load::add_source(item).await {
        Ok(source) => source,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let (reply, rx) = oneshot::channel();
    let sent = requests.send(SessionRequest::Add {
        source,
        save_path,
        paused,
        files,
        reply,
    });
    let answer = match sent {
        Ok(()) => rx
            .await
            .unwrap_or_else(|_| Err("the session stopped".into())),
        Err(_) => Err("the session stopped".into()),
    };
    match answer {
        Ok(Added::New {
            id,
            name,
            info_hash,
        }) => {
            result.id = Some(id.0);
            result.name = Some(name);
            result.info_hash = Some(hex(&info_hash));
        }
        Ok(Added::Already {
            id,
            name,
            info_hash,
        }) => {
            result.id = Some(id.0);
            result.name = Some(name);
            result.info_hash = Some(hex(&info_hash));
            result.already = true;
        }
        Err(e) => result.error = Some(e),
    }
    result
}

/// Waiting for a queue slot, as the session's queue says in `why`.
fn queued(t: &TorrentLine) -> bool {
    !matches!(t.state, TorrentState::Error(_))
        && t.why.as_deref().is_some_and(|w| w.starts_with("queued:"))
}

/// The one-word state scripts match on.
pub fn state_word(s: &TorrentState) -> &'static str {
    match s {
        TorrentState::Checking { .. } => "checking",
        TorrentState::Downloading => "downloading",
        TorrentState::Paused => "paused",
        TorrentState::Complete | TorrentState::Seeding => "seeding",
        TorrentState::Error(_) => "error",
    }
}

pub fn row(t: &TorrentLine) -> TorrentRow {
    let why = match &t.state {
        TorrentState::Checking { checked, total } if *total > 0 => Some(format!(
            "checking {}%",
            u64::from(*checked) * 100 / u64::from(*total)
        )),
        _ => t.why.clone(),
    };
    TorrentRow {
        id: t.id.0,
        info_hash: hex(&t.info_hash),
        name: t.name.clone(),
        state: if queued(t) {
            "queued".into()
        } else {
            state_word(&t.state).into()
        },
        queue_position: t.queue_position,
        why,
        progress: t.progress(),
        wanted_bytes: t.wanted_bytes,
        total_bytes: t.total_bytes,
        verified_bytes: t.verified_bytes,
        downloaded: t.downloaded,
        uploaded: t.uploaded,
        ratio: t.ratio(),
        down_rate: t.down_rate as u64,
        up_rate: t.up_rate as u64,
        peers: t.peers,
        seeds: t.seeds,
        eta_secs: t.eta().map(|d| d.as_secs()),
        save_path: t.save_path.display().to_string(),
        added: t.added,
        completed: t.completed,
    }
}

/// `show`: the line, the files with their verified bytes, the trackers and the peers.
async fn show(id: TorrentId, current: &SessionSnapshot, requests: &Requests) -> Response {
    let Some(line) = current.torrents.iter().find(|t| t.id == id) else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    let (reply, rx) = oneshot::channel();
    if requests
        .send(SessionRequest::Subscribe { id, reply })
        .is_err()
    {
        return gone();
    }
    let Ok(Some(mut snaps)) = rx.await else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    // A torrent nobody watched has not built its full snapshot: wait for the next one.
    snaps.mark_unchanged();
    let _ = tokio::time::timeout(DETAIL_WAIT, snaps.changed()).await;
    let snap = snaps.borrow().clone();
    let (reply, rx) = oneshot::channel();
    let files = match requests.send(SessionRequest::Files { id, reply }) {
        Ok(()) => rx.await.ok().flatten().unwrap_or_default(),
        Err(_) => return gone(),
    };
    Response::Show(Box::new(TorrentDetail {
        row: row(line),
        files: file_rows(&files, &snap),
        trackers: snap.trackers.iter().map(tracker_row).collect(),
        peers: snap.peers.iter().map(peer_info).collect(),
        explain: explain_rows(&snap, current),
    }))
}

/// Verified bytes per file, from the piece states.
fn file_rows(files: &[FileLine], snap: &Snapshot) -> Vec<FileRow> {
    let plen = u64::from(snap.piece_length.max(1));
    files
        .iter()
        .filter(|f| !f.padding)
        .enumerate()
        .map(|(i, f)| {
            let (start, end) = (f.offset, f.offset + f.size);
            let mut verified = 0;
            if f.size > 0 {
                for p in start / plen..=(end - 1) / plen {
                    if snap.pieces.get(p as usize) == Some(&PieceState::Verified) {
                        let (ps, pe) = (p * plen, (p + 1) * plen);
                        verified += end.min(pe) - start.max(ps);
                    }
                }
            }
            // Numbered as priorities are set: padding files left out.
            let priority = snap
                .files
                .get(i)
                .map_or(FilePriority::Normal, |r| r.priority);
            FileRow {
                index: i as u32,
                path: f.path.clone(),
                size: f.size,
                verified_bytes: verified,
                priority: priority.word().into(),
            }
        })
        .collect()
}

/// The explainer's findings, with what the session knows (its DHT, limits, the queue).
fn explain_rows(snap: &Snapshot, session: &SessionSnapshot) -> Vec<ExplainRow> {
    let ctx = crate::engine::api::ExplainContext::from_session(session, snap.id);
    crate::engine::api::explain(snap, &ctx)
        .into_iter()
        .map(|f| ExplainRow {
            check: f.check.name().to_string(),
            verdict: f.verdict.name().to_string(),
            evidence: f.evidence,
            advice: f.advice,
        })
        .collect()
}

fn tracker_row(t: &crate::engine::api::TrackerRow) -> TrackerRow {
    let (status, last_error) = match &t.status {
        TrackerStatus::NotContacted => ("not contacted".to_string(), None),
        TrackerStatus::Announcing => ("announcing".to_string(), None),
        TrackerStatus::Ok { peers } => (format!("ok: {peers} peers"), None),
        TrackerStatus::Failed(e) => ("failed".to_string(), Some(e.clone())),
    };
    TrackerRow {
        url: t.url.clone(),
        tier: t.tier as u32,
        status,
        last_error,
    }
}

fn peer_info(p: &PeerRow) -> PeerInfo {
    PeerInfo {
        address: p.addr.to_string(),
        client: p.client.clone(),
        state: p.stage.label().to_string(),
        reason: p.end.as_ref().map(|e| e.to_string()),
        down_rate: p.down_rate as u64,
        up_rate: p.up_rate as u64,
    }
}
