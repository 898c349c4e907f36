//! `ttui add` (and `ttui FILE` handed to a running session): each item read and added, then
//! a wait (brief) until the line-up lists them, so a `list` right after sees them.

use crate::control::proto::{AddItem, AddResult, Response};
use crate::engine::api::{lists_all, AddOptions, Added, Client, TorrentId};
use crate::protocol::hex;

use super::reply::listed;

pub(super) async fn apply(items: Vec<AddItem>, opts: AddOptions, client: &Client) -> Response {
    let mut out = Vec::new();
    for item in items {
        out.push(add_one(item, opts.clone(), client).await);
    }
    let added: Vec<TorrentId> = out.iter().filter_map(|r| r.id).map(TorrentId).collect();
    listed(client, |snap| lists_all(snap, &added)).await;
    Response::Added(out)
}

async fn add_one(item: AddItem, opts: AddOptions, client: &Client) -> AddResult {
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
    match client.add(source, opts).await {
        Ok(added) => {
            let (Added::New {
                id,
                name,
                info_hash,
            }
            | Added::Already {
                id,
                name,
                info_hash,
            }) = &added;
            result.id = Some(id.0);
            result.name = Some(name.clone());
            result.info_hash = Some(hex::encode(info_hash));
            result.already = matches!(added, Added::Already { .. });
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}
