//! `ttui label`: each torrent's labels changed by the session, then the torrents' rows as
//! the line-up shows them afterwards (so `--json` gives what `list --json` would).

use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, LabelEdit, SessionSnapshot, TorrentId};

use super::reply::{error, failed, listed, resolve};
use crate::control::listing::row;

pub(super) async fn apply(
    ids: &[String],
    edit: LabelEdit,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let resolved = match resolve(ids, current) {
        Ok(ids) if !ids.is_empty() => ids,
        Ok(_) => return error(ErrorKind::BadArgument, "no torrent given (an ID, or `all`)"),
        Err(e) => return e,
    };
    let mut now: Vec<(TorrentId, Vec<String>)> = Vec::new();
    for id in resolved {
        match client.labels(id, edit.clone()).await {
            Ok(labels) => now.push((id, labels)),
            Err(e) => return failed(&e),
        }
    }
    let shows = |s: &SessionSnapshot| {
        now.iter().all(|(id, labels)| {
            s.torrents
                .iter()
                .any(|t| t.id == *id && t.labels == *labels)
        })
    };
    listed(client, shows).await;
    let after = client.head();
    let rows = after
        .torrents
        .iter()
        .filter(|t| now.iter().any(|(id, _)| *id == t.id))
        .map(|t| row(t))
        .collect();
    Response::List(rows)
}
