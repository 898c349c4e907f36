//! How the control server's handlers talk to the session: IDs a client gave resolved against
//! the line-up, one session request per torrent, the answer awaited, and the wait (bounded)
//! until the line-up shows what a request did.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::control::ids::resolve_ids;
use crate::control::proto::{ControlError, ErrorKind, IdResult, Response};
use crate::engine::api::*;

/// Where the session takes requests.
pub(crate) type Requests = tokio::sync::mpsc::UnboundedSender<SessionRequest>;
pub(super) type SessionSnap = tokio::sync::watch::Receiver<std::sync::Arc<SessionSnapshot>>;

/// How long `add` and `remove` wait for the line-up to show what they did (a tick or two).
const LISTED_WAIT: Duration = Duration::from_secs(2);

pub(super) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ControlError::new(kind, message))
}

pub(super) fn gone() -> Response {
    error(ErrorKind::Internal, "the session is stopping")
}

/// The `(id, info hash)` of every torrent, which IDs given by a client resolve against.
pub(super) fn ids_of(snap: &SessionSnapshot) -> Vec<(u32, [u8; 20])> {
    snap.torrents
        .iter()
        .map(|t| (t.id.0, t.info_hash))
        .collect()
}

/// What a session request that answers `Result<(), RequestError>` came to, in the words the
/// socket carries: None when it worked.
pub(super) async fn outcome(rx: oneshot::Receiver<Result<(), RequestError>>) -> Option<String> {
    match rx.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the session stopped".into()),
    }
}

pub(super) fn force(id: TorrentId, on: bool) -> SessionRequest {
    SessionRequest::Force {
        id,
        on,
        reply: oneshot::channel().0,
    }
}

/// A request naming one torrent that the session answers.
pub(super) async fn one(
    id: &str,
    current: &SessionSnapshot,
    requests: &Requests,
    make: impl FnOnce(TorrentId, oneshot::Sender<Result<(), RequestError>>) -> SessionRequest,
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
    let error = outcome(rx).await;
    Response::Done(vec![IdResult {
        id: id.0,
        name: name_of(current, id),
        error,
    }])
}

/// Waits (bounded) until the session's line-up shows what a request did, so a `list` right
/// after an `add` or a `remove` sees it (the line-up is published every tick).
pub(super) async fn listed(snapshot: &SessionSnap, done: impl Fn(&SessionSnapshot) -> bool) {
    let mut snapshot = snapshot.clone();
    let _ = tokio::time::timeout(LISTED_WAIT, snapshot.wait_for(|s| done(s))).await;
}

pub(super) fn name_of(snap: &SessionSnapshot, id: TorrentId) -> String {
    snap.torrents
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

/// Sends one request per resolved id; each gets its line.
pub(super) fn each(
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
