//! The attached screen's requests, answered the way the session would answer them but over
//! the control protocol: a command connection (opened again once if it broke) for the
//! requests, and a streamed connection per open torrent.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{internal, ControlLink, Target, COMMAND_TIMEOUT, IDLE};
use crate::control::proto::{AddItem, ControlError, ErrorKind, Request, Response};
use crate::control::Client;
use crate::engine::api::{
    AddFiles, AddSource, Added, LimitChange, LimitTarget, LimitsNow, RequestError, SessionRequest,
    Snapshot, TorrentId,
};

/// Answers the screen's requests the way the session would, over the control protocol.
pub(super) async fn serve_requests(
    target: Target,
    mut rx: mpsc::UnboundedReceiver<SessionRequest>,
) {
    let mut control: Option<Client<ControlLink>> = None;
    let mut detail: Option<JoinHandle<()>> = None;
    while let Some(req) = rx.recv().await {
        match req {
            SessionRequest::Subscribe { id, reply } => {
                let _ = reply.send(subscribe(&target, &mut detail, id).await);
            }
            SessionRequest::Torrent { id, command } => {
                let r = Request::Command { id: id.0, command };
                let _ = ask(&target, &mut control, &r).await;
            }
            SessionRequest::Verify { id } => {
                let r = Request::Verify {
                    ids: vec![id.0.to_string()],
                };
                let _ = ask(&target, &mut control, &r).await;
            }
            SessionRequest::Remove {
                id,
                delete_data,
                reply,
            } => {
                let r = Request::Remove {
                    ids: vec![id.0.to_string()],
                    delete_data,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Add {
                source,
                save_path,
                paused,
                files,
                labels,
                reply,
            } => {
                // The add dialog: the session answers as it does `ttui add`.
                let r = add_request(source, save_path, (paused, files), labels);
                let _ = reply.send(added(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Move { id, dir, reply } => {
                let r = Request::Move {
                    id: id.0.to_string(),
                    dir,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Files { reply, .. } => {
                let _ = reply.send(None);
            }
            // The screen never asks these; the qBittorrent API asks its own session.
            SessionRequest::Journal { reply, .. } => {
                let _ = reply.send(Vec::new());
            }
            SessionRequest::PeerJournal { reply, .. } => {
                let _ = reply.send(Vec::new());
            }
            SessionRequest::PieceHashes { reply, .. } => {
                let _ = reply.send(None);
            }
            SessionRequest::Trackers { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("tracker edits")));
            }
            SessionRequest::Force { id, on, reply } => {
                let ids = vec![id.0.to_string()];
                let r = if on {
                    Request::Force { ids }
                } else {
                    Request::Resume { ids }
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::SuperSeed { id, on, reply } => {
                let r = Request::SuperSeed {
                    id: id.0.to_string(),
                    on,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Queue { id, to, reply } => {
                let r = Request::Queue {
                    id: id.0.to_string(),
                    to,
                };
                let _ = reply.send(done(ask(&target, &mut control, &r).await));
            }
            SessionRequest::Labels { id, edit, reply } => {
                let r = Request::Label {
                    ids: vec![id.0.to_string()],
                    edit,
                };
                let _ = reply.send(labels_of(id, ask(&target, &mut control, &r).await));
            }
            SessionRequest::Goals { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere(
                    "not from an attached screen: use `ttui limit`",
                )));
            }
            SessionRequest::Limit {
                target: whose,
                change,
                reply,
            } => {
                let _ = reply.send(limit(&target, &mut control, whose, change).await);
            }
            // Only the RPC asks these, and it runs in the session's own process.
            SessionRequest::Settings { reply, .. } => drop(reply),
            SessionRequest::Peek { reply, .. } => drop(reply),
            SessionRequest::Streams { reply, .. } => drop(reply),
            SessionRequest::Locate { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            SessionRequest::RenamePath { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            // A stream is read where the session runs: the attached screen prints its URL.
            SessionRequest::OpenStream { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            SessionRequest::Catalog { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            SessionRequest::SetSettings { reply, .. } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            // Quitting the attached screen leaves the session running.
            SessionRequest::BlocklistUpdate { reply } => {
                let _ = reply.send(Err(RequestError::NotHere("not from an attached screen")));
            }
            SessionRequest::Shutdown => {}
        }
    }
    if let Some(task) = detail {
        task.abort();
    }
}

/// `Subscribe`: the open torrent's stream, replacing the one before.
async fn subscribe(
    target: &Target,
    detail: &mut Option<JoinHandle<()>>,
    id: TorrentId,
) -> Option<watch::Receiver<Arc<Snapshot>>> {
    if let Some(old) = detail.take() {
        old.abort();
    }
    match open_detail(target, id).await {
        Ok((snaps, task)) => {
            *detail = Some(task);
            Some(snaps)
        }
        Err(e) => {
            tracing::warn!("attach: torrent {id}: {}", e.message);
            None
        }
    }
}

/// The add dialog's request, as `ttui add` sends it.
fn add_request(
    source: AddSource,
    save_path: Option<std::path::PathBuf>,
    (paused, files): (bool, AddFiles),
    labels: Vec<String>,
) -> Request {
    let item = match source {
        AddSource::Torrent { name, bytes } => AddItem::Torrent { name, bytes },
        AddSource::Magnet(m) => AddItem::Magnet(m),
    };
    Request::Add {
        items: vec![item],
        save_path,
        paused,
        files,
        labels,
    }
}

/// The limits dialog's change, as `ttui limit` sends it; the limits now in force.
async fn limit(
    target: &Target,
    control: &mut Option<Client<ControlLink>>,
    whose: LimitTarget,
    change: LimitChange,
) -> Result<LimitsNow, RequestError> {
    let ids = match whose {
        LimitTarget::Session => Vec::new(),
        LimitTarget::All => vec!["all".to_string()],
        LimitTarget::Torrents(ids) => ids.iter().map(|id| id.0.to_string()).collect(),
    };
    match ask(target, control, &Request::Limit { ids, change }).await {
        Ok(Response::Limits(now)) => Ok(now),
        Ok(_) => Err(RequestError::Remote(
            "the session answered something else".into(),
        )),
        Err(e) => Err(RequestError::Remote(e.message)),
    }
}

/// The session's answer to a request on torrents, as an in-process session gives it: the
/// first torrent's error, if any.
fn done(answer: Result<Response, ControlError>) -> Result<(), RequestError> {
    match answer.map_err(|e| RequestError::Remote(e.message))? {
        Response::Done(results) => results
            .into_iter()
            .find_map(|r| r.error)
            .map_or(Ok(()), |e| Err(RequestError::Remote(e))),
        _ => Ok(()),
    }
}

/// A torrent's labels after `ttui label`, from the row the session answers with.
fn labels_of(
    id: TorrentId,
    answer: Result<Response, ControlError>,
) -> Result<Vec<String>, RequestError> {
    match answer.map_err(|e| RequestError::Remote(e.message))? {
        Response::List(rows) => Ok(rows
            .into_iter()
            .find(|r| r.id == id.0)
            .map(|r| r.labels)
            .unwrap_or_default()),
        Response::Error(e) => Err(RequestError::Remote(e.message)),
        _ => Err(RequestError::Remote(
            "unexpected answer from the session".into(),
        )),
    }
}

/// The session's answer to one add, as an in-process session gives it.
fn added(answer: Result<Response, ControlError>) -> Result<Added, RequestError> {
    let remote = |s: &str| RequestError::Remote(s.to_string());
    let r = match answer.map_err(|e| RequestError::Remote(e.message))? {
        Response::Added(mut results) if !results.is_empty() => results.swap_remove(0),
        Response::Error(e) => return Err(RequestError::Remote(e.message)),
        _ => return Err(remote("unexpected answer from the session")),
    };
    if let Some(e) = r.error {
        return Err(RequestError::Remote(e));
    }
    let id = TorrentId(r.id.ok_or_else(|| remote("the session gave no id"))?);
    let name = r.name.unwrap_or_default();
    // Only the id and the name are shown; the hash is kept when it reads as one.
    let info_hash = r
        .info_hash
        .and_then(|h| crate::protocol::hex::decode_array(&h))
        .unwrap_or([0u8; 20]);
    Ok(if r.already {
        Added::Already {
            id,
            name,
            info_hash,
        }
    } else {
        Added::New {
            id,
            name,
            info_hash,
        }
    })
}

/// One request on the command connection, opened (or opened again, once) as needed.
async fn ask(
    target: &Target,
    control: &mut Option<Client<ControlLink>>,
    r: &Request,
) -> Result<Response, ControlError> {
    let mut last = None;
    for _ in 0..2 {
        let mut client = match control.take() {
            Some(c) => c,
            None => {
                let mut c = target.open(true).await?;
                c.set_reply_timeout(COMMAND_TIMEOUT);
                c
            }
        };
        match client.request(r).await {
            Ok(answer) => {
                *control = Some(client);
                return Ok(answer);
            }
            // The session's own refusal: the connection is fine, asking again won't help.
            Err(e) if e.kind != ErrorKind::Internal => {
                *control = Some(client);
                return Err(e);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| internal("no answer".into()));
    tracing::warn!("attach: {}: {}", r.verb(), e.message);
    Err(e)
}

/// A streamed connection for torrent `id`, and the task feeding its watch; the task ends
/// (closing the connection) when the screen drops the receiver or the stream ends.
async fn open_detail(
    target: &Target,
    id: TorrentId,
) -> Result<(watch::Receiver<Arc<Snapshot>>, JoinHandle<()>), ControlError> {
    let mut conn = target.open(true).await?;
    conn.start(&Request::Subscribe { id: id.0 }).await?;
    let first = match conn.next_frame(IDLE).await? {
        Response::Snapshot(s) => *s,
        _ => return Err(internal("unexpected answer from the session".into())),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                frame = conn.next_frame(IDLE) => match frame {
                    Ok(Response::Snapshot(s)) => {
                        let _ = tx.send(Arc::new(*s));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                () = tx.closed() => return,
            }
        }
    });
    Ok((rx, task))
}
