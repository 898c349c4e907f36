//! `ttui remove [--delete]`: each torrent removed in turn (its files too with `--delete`),
//! then a wait (brief) until the line-up no longer shows them.

use crate::control::proto::Response;
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::{line, listed, resolve};

pub(super) async fn apply(
    ids: &[String],
    delete_data: bool,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let resolved = match resolve(ids, current) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let mut out = Vec::new();
    for id in resolved {
        out.push(line(current, id, client.remove(id, delete_data).await));
    }
    listed(client, |snap| {
        !snap
            .torrents
            .iter()
            .any(|t| out.iter().any(|r| r.id == t.id.0))
    })
    .await;
    Response::Done(out)
}
