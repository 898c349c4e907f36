//! The session's end of the control socket: each request a client sends (`control::proto`)
//! goes to its verb's file here, which checks what the client gave, asks the session through
//! `engine::api::Client` and answers from the session's line-up, so the verbs see exactly
//! what the screen sees. One file per verb, as mini-redis's `cmd/`; `reply.rs` holds what
//! they share (the torrents a client's IDs name, the answer's lines, the wait until the
//! line-up shows a change).

use std::path::Path;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::control::proto::{Request, Response};
use crate::control::server::ControlServer;
use crate::engine::api::{AddOptions, Client};

mod add;
mod blocklist;
mod command;
mod cross_seed;
mod files;
mod force;
mod goals;
mod label;
mod limit;
pub(crate) mod list;
mod move_to;
mod pause;
mod queue;
mod remove;
mod rename;
mod reply;
mod resume;
mod show;
mod shutdown;
mod stats;
mod stream_url;
mod subscribe;
mod super_seed;
mod verify;
mod watch;

/// Binds the control socket and answers its clients until the task is aborted (which
/// removes the socket file).
/// `stream`: where the session's stream server listens (None: off), for `ttui stream`.
pub(crate) async fn start(
    socket: &Path,
    client: Client,
    stream: Option<std::net::SocketAddr>,
) -> Result<JoinHandle<()>, String> {
    let server = ControlServer::bind(socket).map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::channel::<(Request, oneshot::Sender<Response>)>(64);
    Ok(tokio::spawn(async move {
        let answer = async move {
            while let Some((req, reply)) = rx.recv().await {
                let client = client.clone();
                // One slow request (a URL to fetch) never holds up the others.
                tokio::spawn(async move {
                    let _ = reply.send(handle(req, &client, stream).await);
                });
            }
        };
        tokio::join!(server.run(tx), answer);
    }))
}

pub(crate) async fn handle(
    req: Request,
    client: &Client,
    stream: Option<std::net::SocketAddr>,
) -> Response {
    // Every answer is built from a session that has its saved torrents back; a session
    // that ended before (its sender gone) is answered from what it has.
    let _ = client.watch().wait_for(|s| s.restored).await;
    let current = client.head();
    match req {
        Request::Add {
            items,
            save_path,
            paused,
            files,
            labels,
        } => {
            let opts = AddOptions {
                save_path,
                paused,
                files,
                labels,
            };
            add::apply(items, opts, client).await
        }
        Request::Label { ids, edit } => label::apply(&ids, edit, &current, client).await,
        Request::List => list::apply(current),
        Request::Show { id } => show::apply(&id, &current, client).await,
        Request::Pause { ids } => pause::apply(&ids, &current, client),
        Request::Resume { ids } => resume::apply(&ids, &current, client),
        Request::Force { ids } => force::apply(&ids, &current, client),
        Request::Queue { id, to } => queue::apply(&id, to, &current, client).await,
        Request::SuperSeed { id, on } => super_seed::apply(&id, on, &current, client).await,
        Request::Goals {
            id,
            seed_ratio,
            seed_time_secs,
            seed_idle_secs,
        } => {
            let times = (seed_time_secs, seed_idle_secs);
            goals::apply(&id, seed_ratio, times, &current, client).await
        }
        Request::Verify { ids } => verify::apply(&ids, &current, client),
        Request::Remove { ids, delete_data } => {
            remove::apply(&ids, delete_data, &current, client).await
        }
        Request::Move { id, dir } => move_to::apply(&id, dir, &current, client).await,
        Request::Rename { id, path, name } => {
            rename::apply(&id, (path, name), &current, client).await
        }
        Request::Watch => watch::apply(client.watch()),
        Request::Limit { ids, change } => limit::apply(&ids, change, &current, client).await,
        Request::Subscribe { id } => subscribe::apply(id, client).await,
        Request::Command { id, command } => command::apply(id, command, &current, client),
        Request::Files { id, set } => files::apply(&id, set, &current, client).await,
        Request::BlocklistUpdate => blocklist::apply(client).await,
        Request::Stats { by } => stats::apply(by, client).await,
        Request::CrossSeed { items, add, label } => {
            cross_seed::apply(items, add, label, client).await
        }
        Request::StreamUrl { id, file } => {
            stream_url::apply(&id, file, stream, &current, client).await
        }
        Request::Shutdown => shutdown::apply(client),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::watch;

    use super::*;
    use crate::engine::api::{SessionSnapshot, TorrentId, TorrentLine};

    #[tokio::test]
    async fn a_list_at_start_waits_for_the_saved_torrents() {
        let (requests, _keep) = mpsc::unbounded_channel();
        let (tx, rx) = watch::channel(Arc::new(SessionSnapshot::default()));
        let client = Client::new(requests, rx);
        let list = tokio::spawn(async move { handle(Request::List, &client, None).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !list.is_finished(),
            "answered before the torrents were back"
        );
        tx.send_replace(Arc::new(SessionSnapshot {
            torrents: vec![Arc::new(TorrentLine::placeholder(TorrentId(1)))],
            restored: true,
            ..SessionSnapshot::default()
        }));
        let answer = tokio::time::timeout(Duration::from_secs(10), list).await;
        match answer {
            Ok(Ok(Response::Listing(rows))) => assert_eq!(rows.rows().len(), 1),
            other => panic!("not the restored list: {other:?}"),
        }
    }
}
