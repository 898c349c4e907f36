//! `ttui label`: each torrent's labels changed by the session, then the torrents' rows as
//! the line-up shows them afterwards (so `--json` gives what `list --json` would).

use tokio::sync::oneshot;

use crate::control::ids::resolve_ids;
use crate::control::proto::{ErrorKind, Response};

use crate::engine::api::{LabelEdit, SessionRequest, SessionSnapshot, TorrentId};

use super::serve_send::{error, gone, ids_of, listed, Requests, SessionSnap};
use super::serve_show::row;

pub(super) async fn label(
    ids: &[String],
    edit: LabelEdit,
    current: &SessionSnapshot,
    requests: &Requests,
    snapshot: &SessionSnap,
) -> Response {
    let resolved = match resolve_ids(ids, &ids_of(current)) {
        Ok(ids) if !ids.is_empty() => ids,
        Ok(_) => return error(ErrorKind::BadArgument, "no torrent given (an ID, or `all`)"),
        Err(e) => return Response::Error(e),
    };
    let mut now: Vec<(TorrentId, Vec<String>)> = Vec::new();
    for id in resolved.into_iter().map(TorrentId) {
        let (reply, rx) = oneshot::channel();
        let edit = edit.clone();
        if requests
            .send(SessionRequest::Labels { id, edit, reply })
            .is_err()
        {
            return gone();
        }
        match rx.await {
            Ok(Ok(labels)) => now.push((id, labels)),
            Ok(Err(e)) => return error(ErrorKind::from(&e), e.to_string()),
            Err(_) => return gone(),
        }
    }
    let shows = |s: &SessionSnapshot| {
        now.iter().all(|(id, labels)| {
            s.torrents
                .iter()
                .any(|t| t.id == *id && t.labels == *labels)
        })
    };
    listed(snapshot, shows).await;
    let after = snapshot.borrow().clone();
    let rows = after
        .torrents
        .iter()
        .filter(|t| now.iter().any(|(id, _)| *id == t.id))
        .map(row)
        .collect();
    Response::List(rows)
}
