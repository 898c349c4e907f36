//! `ttui remove [--delete]`: each torrent removed (its files too with `--delete`), then a
//! wait (brief) until the line-up no longer shows them.

use crate::control::proto::{IdResult, Response};
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::{gone, names, resolve};

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
    // Every request sent before any answer is awaited: a torrent with a task is gone once
    // its task has ended (trackers told, files synced), and those end together, not one
    // after the other.
    let asked: Vec<_> = resolved
        .iter()
        .map(|&id| (id, client.remove(id, delete_data)))
        .collect();
    let names = names(current);
    let mut out = Vec::with_capacity(asked.len());
    for (id, answer) in asked {
        out.push(IdResult {
            id: id.0,
            name: names.of(id),
            error: answer.await.err().map(|e| e.to_string()),
        });
    }
    gone(client, &resolved).await;
    Response::Done(out)
}
