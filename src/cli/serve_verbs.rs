//! The control verbs that change something: add, remove, move, seeding goals, files, and
//! a key from a remote screen. Each checks what the client gave, sends the session its
//! requests and tells how each went.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::control::ids::resolve_ids;
use crate::control::proto::{AddItem, AddResult, ErrorKind, IdResult, Response};
use crate::engine::api::Set;
use crate::engine::api::*;
use crate::protocol::hex;

use super::serve_send::{
    error, gone, ids_of, listed, name_of, one, outcome, Requests, SessionSnap,
};
use super::serve_show::show;

/// Adds each item, then waits (briefly) until the line-up shows them.
pub(super) async fn add(
    items: Vec<AddItem>,
    save_path: Option<std::path::PathBuf>,
    (paused, files, labels): (bool, AddFiles, Vec<String>),
    requests: &Requests,
    snapshot: &SessionSnap,
) -> Response {
    let mut out = Vec::new();
    for item in items {
        let how = (paused, files.clone(), labels.clone());
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
pub(super) async fn goals(
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

/// Removes each torrent in turn, then waits (briefly) until the line-up no longer shows them.
pub(super) async fn remove(
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

/// The one torrent a verb that takes one id names, or the error it is answered with.
fn one_torrent(id: &str, current: &SessionSnapshot) -> Result<TorrentId, Response> {
    let ids = resolve_ids(&[id.to_string()], &ids_of(current)).map_err(Response::Error)?;
    match ids[..] {
        [id] => Ok(TorrentId(id)),
        [] => Err(error(ErrorKind::UnknownId, "no torrent given")),
        _ => Err(error(ErrorKind::BadArgument, "name exactly one torrent")),
    }
}

/// Moves one torrent's data to `dir`, which must be absolute (the client's working
/// directory is not the session's).
pub(super) async fn move_to(
    id: &str,
    dir: std::path::PathBuf,
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let id = match one_torrent(id, current) {
        Ok(id) => id,
        Err(e) => return e,
    };
    if !dir.is_absolute() {
        return error(
            ErrorKind::BadArgument,
            "the directory must be an absolute path",
        );
    }
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

/// Renames one file or folder of one torrent; the row shows the torrent's name after it.
pub(super) async fn rename(
    id: &str,
    (path, name): (String, String),
    current: &SessionSnapshot,
    requests: &Requests,
) -> Response {
    let id = match one_torrent(id, current) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let top = path.split('/').filter(|c| !c.is_empty()).count() == 1;
    let (reply, rx) = oneshot::channel();
    let request = SessionRequest::RenamePath {
        id,
        path,
        name: name.clone(),
        reply,
    };
    if requests.send(request).is_err() {
        return gone();
    }
    let error = outcome(rx).await;
    // The snapshot is from before: the torrent's new name is the one just given.
    let name = if top && error.is_none() {
        name
    } else {
        name_of(current, id)
    };
    Response::Done(vec![IdResult {
        id: id.0,
        name,
        error,
    }])
}

/// A key from a remote screen, passed on to the torrent.
pub(super) fn torrent_command(
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
pub(super) async fn files(
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

async fn add_one(
    item: AddItem,
    save_path: Option<std::path::PathBuf>,
    (paused, files, labels): (bool, crate::engine::api::AddFiles, Vec<String>),
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
    let source = match item.resolve().await {
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
        labels,
        reply,
    });
    let answer = match sent {
        Ok(()) => rx.await.unwrap_or(Err(RequestError::Stopped)),
        Err(_) => Err(RequestError::Stopped),
    };
    match answer {
        Ok(Added::New {
            id,
            name,
            info_hash,
        }) => {
            result.id = Some(id.0);
            result.name = Some(name);
            result.info_hash = Some(hex::encode(&info_hash));
        }
        Ok(Added::Already {
            id,
            name,
            info_hash,
        }) => {
            result.id = Some(id.0);
            result.name = Some(name);
            result.info_hash = Some(hex::encode(&info_hash));
            result.already = true;
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}
