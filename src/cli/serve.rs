//! The session's end of the control socket: each request a client sends (`control::proto`)
//! becomes session requests, and the answer is built from the session's snapshot, so the
//! verbs see exactly what the screen sees.
//!
//! This file takes the requests and sends each to its handler: `serve_verbs.rs` (the verbs
//! that change something), `serve_show.rs` (`list` and `show`: the rows), `serve_send.rs`
//! (resolving IDs, sending session requests, waiting for the line-up), `serve_watch.rs`,
//! `serve_files.rs`, `limit.rs`.

use std::path::Path;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::control::ids::resolve_ids;
use crate::control::proto::{ErrorKind, Request, Response};
use crate::control::server::ControlServer;
use crate::engine::api::*;

use super::serve_send::{each, error, force, ids_of, one, SessionSnap};
use super::serve_show::show;
use super::serve_verbs::{add, files, goals, move_to, remove, rename, torrent_command};

pub(crate) use super::serve_send::Requests;
pub(crate) use super::serve_show::row;

/// Binds the control socket and answers its clients until the task is aborted (which
/// removes the socket file).
pub(crate) async fn start(
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

pub(crate) async fn handle(req: Request, requests: &Requests, snapshot: &SessionSnap) -> Response {
    // Every answer is built from a session that has its saved torrents back; a session
    // that ended before (its sender gone) is answered from what it has.
    let _ = snapshot.clone().wait_for(|s| s.restored).await;
    let current = snapshot.borrow().clone();
    match req {
        Request::Add {
            items,
            save_path,
            paused,
            files,
            labels,
        } => {
            add(
                items,
                save_path,
                (paused, files, labels),
                requests,
                snapshot,
            )
            .await
        }
        Request::Label { ids, edit } => {
            super::serve_labels::label(&ids, edit, &current, requests, snapshot).await
        }
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
        Request::Rename { id, path, name } => rename(&id, (path, name), &current, requests).await,
        Request::Watch => super::serve_watch::watch_session(snapshot.clone()),
        Request::Limit { ids, change } => {
            super::limit::serve(ids, change, requests, &ids_of(&current)).await
        }
        Request::Subscribe { id } => super::serve_watch::subscribe(id, requests).await,
        Request::Command { id, command } => torrent_command(id, command, &current, requests),
        Request::Files { id, set } => files(&id, set, &current, requests).await,
        Request::BlocklistUpdate => blocklist_update(requests).await,
        Request::Shutdown => {
            let _ = requests.send(SessionRequest::Shutdown);
            Response::Done(Vec::new())
        }
    }
}

/// `ttui blocklist update`: the status once the list was read again, or why it was not.
async fn blocklist_update(requests: &mpsc::UnboundedSender<SessionRequest>) -> Response {
    let (reply, rx) = tokio::sync::oneshot::channel();
    if requests
        .send(SessionRequest::BlocklistUpdate { reply })
        .is_err()
    {
        return Response::Error(crate::control::proto::ControlError::new(
            ErrorKind::Internal,
            "the session has stopped",
        ));
    }
    match rx.await {
        Ok(Ok(status)) => Response::Blocklist(status),
        Ok(Err(e)) => Response::Error(crate::control::proto::ControlError::new(
            ErrorKind::from(&e),
            e.to_string(),
        )),
        Err(_) => Response::Error(crate::control::proto::ControlError::new(
            ErrorKind::Internal,
            "the session has stopped",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::watch;

    use super::*;

    #[tokio::test]
    async fn a_list_at_start_waits_for_the_saved_torrents() {
        let (requests, _keep) = mpsc::unbounded_channel();
        let (tx, rx) = watch::channel(Arc::new(SessionSnapshot::default()));
        let list = tokio::spawn(async move { handle(Request::List, &requests, &rx).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !list.is_finished(),
            "answered before the torrents were back"
        );
        tx.send_replace(Arc::new(SessionSnapshot {
            torrents: vec![TorrentLine::placeholder(TorrentId(1))],
            restored: true,
            ..SessionSnapshot::default()
        }));
        let answer = tokio::time::timeout(Duration::from_secs(10), list).await;
        match answer {
            Ok(Ok(Response::List(rows))) => assert_eq!(rows.len(), 1),
            other => panic!("not the restored list: {other:?}"),
        }
    }
}
