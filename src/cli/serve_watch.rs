//! The streamed answers `ttui attach` reads: the session's snapshot ([`Request::Watch`]) and
//! one torrent's ([`Request::Subscribe`]). Each runs as a task feeding a small channel the
//! control server writes out; the task ends when the server drops the channel (the client
//! went away or stopped taking frames) or the source ends (the session stops, the torrent is
//! removed).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::control::proto::{ControlError, ErrorKind, Response, Stream};
use crate::engine::api::{SessionRequest, SessionSnapshot, Snapshot, TorrentId};

/// The session list is sent at most this often.
const SESSION_EVERY: Duration = Duration::from_millis(500);
/// An open torrent's snapshot is sent at most this often.
const TORRENT_EVERY: Duration = Duration::from_millis(250);
/// With nothing new, the last frame goes again this often, so the client can tell a quiet
/// session from a dead link.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// `Watch`: the session's snapshots.
pub fn watch_session(snapshot: watch::Receiver<Arc<SessionSnapshot>>) -> Response {
    stream(snapshot, SESSION_EVERY, |s| {
        Response::Session(Box::new(SessionSnapshot::clone(s)))
    })
}

/// `Subscribe`: one torrent's full snapshots, for as long as the client reads them.
pub async fn subscribe(id: u32, requests: &mpsc::UnboundedSender<SessionRequest>) -> Response {
    let (reply, rx) = oneshot::channel();
    let id = TorrentId(id);
    if requests
        .send(SessionRequest::Subscribe { id, reply })
        .is_err()
    {
        return Response::Error(ControlError::new(
            ErrorKind::Internal,
            "the session is stopping",
        ));
    }
    match rx.await {
        Ok(Some(snaps)) => stream(snaps, TORRENT_EVERY, |s: &Arc<Snapshot>| {
            Response::Snapshot(Box::new(Snapshot::clone(s)))
        }),
        _ => Response::Error(ControlError::new(
            ErrorKind::UnknownId,
            format!("no torrent {}", id.0),
        )),
    }
}

fn stream<T: Send + Sync + 'static>(
    mut source: watch::Receiver<T>,
    every: Duration,
    frame: impl Fn(&T) -> Response + Send + 'static,
) -> Response {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let next = frame(&source.borrow_and_update());
            if tx.send(next).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
            // A timeout sends the same frame again: the heartbeat.
            if let Ok(Err(_)) = tokio::time::timeout(HEARTBEAT, source.changed()).await {
                return;
            }
        }
    });
    Response::Stream(Stream::new(rx))
}
