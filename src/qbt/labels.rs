//! Categories and tags (`torrents/categories`, `createCategory`, `setCategory`, `addTags`
//! ...), on the engine's one model of them (`engine::api::Catalog`): a category is a label
//! with a directory, a torrent's category the first of its labels that is one, its tags the
//! others. So what Sonarr files under a category shows as the same label over the
//! Transmission RPC and in `ttui list`.
//!
//! Status codes as qBittorrent's API docs give them: 400 for a missing name, 409 for a name
//! that is invalid, taken or unknown.

use std::path::PathBuf;
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::answer::{ok, targets, within, ActionError};
use super::form::Params;
use super::{json as json_answer, text, Ctx};
use crate::engine::api::{Catalog, CatalogEdit, LabelEdit, RequestError, TorrentId};
use crate::http::Answer;

/// How long an edit of labels waits for the line-up to show it, so that a client that
/// lists right after sees what it set (as the Transmission RPC's `torrent-set` does).
const SHOWN_WAIT: Duration = Duration::from_secs(2);

/// Sets a torrent's labels, then waits (bounded) until the line-up shows them.
async fn relabel(ctx: &Ctx, id: TorrentId, edit: LabelEdit) -> Result<(), ActionError> {
    let now = within(ctx.client.labels(id, edit)).await?;
    let shown = |s: &crate::engine::api::SessionSnapshot| {
        s.torrents.iter().any(|t| t.id == id && t.labels == now)
    };
    ctx.client.wait_until(SHOWN_WAIT, shown).await;
    Ok(())
}

/// The session's catalog, or the answer to give when the session does not say.
pub(super) async fn catalog(ctx: &Ctx) -> Result<Catalog, Answer> {
    within(ctx.client.catalog()).await.map_err(failed)
}

fn failed(e: ActionError) -> Answer {
    let status = match &e {
        ActionError::Session(RequestError::Catalog(crate::engine::api::CatalogError::NotKept(
            _,
        ))) => StatusCode::INTERNAL_SERVER_ERROR,
        ActionError::Session(RequestError::Catalog(
            crate::engine::api::CatalogError::PathGoesUp(_),
        )) => StatusCode::BAD_REQUEST,
        ActionError::Session(RequestError::Catalog(_) | RequestError::BadLabel(_)) => {
            StatusCode::CONFLICT
        }
        ActionError::Session(_) | ActionError::Slow => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, &e.to_string())
}

/// qBittorrent's `savePath`: "" is the default directory.
fn save_path(p: &Params) -> Option<PathBuf> {
    p.get("savePath")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// `tags=a,b` as names, blanks dropped.
fn tags(p: &Params) -> Vec<String> {
    p.list("tags", ',')
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Answers a call about categories or tags; None: not one of them.
pub(super) async fn route(ctx: &Ctx, call: &str, p: &Params) -> Option<Answer> {
    let edit = |e: CatalogEdit| async move {
        match within(ctx.client.edit_catalog(e)).await {
            Ok(_) => ok(),
            Err(e) => failed(e),
        }
    };
    let name = || p.get("category").map(str::trim).unwrap_or("").to_string();
    Some(match call {
        "torrents/categories" => match catalog(ctx).await {
            Ok(c) => json_answer(&categories_json(&c)),
            Err(a) => a,
        },
        "torrents/tags" => match catalog(ctx).await {
            Ok(c) => json_answer(&json!(c.tags)),
            Err(a) => a,
        },
        "torrents/createCategory" | "torrents/editCategory" => {
            let name = name();
            if name.is_empty() {
                return Some(text(StatusCode::BAD_REQUEST, "Category name is empty"));
            }
            let save_path = save_path(p);
            edit(if call == "torrents/createCategory" {
                CatalogEdit::CreateCategory { name, save_path }
            } else {
                CatalogEdit::EditCategory { name, save_path }
            })
            .await
        }
        "torrents/removeCategories" => {
            let names = p
                .list("categories", '\n')
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            edit(CatalogEdit::RemoveCategories(names)).await
        }
        "torrents/createTags" => edit(CatalogEdit::CreateTags(tags(p))).await,
        "torrents/deleteTags" => edit(CatalogEdit::DeleteTags(tags(p))).await,
        "torrents/setCategory" => set_category(ctx, p, &name()).await,
        "torrents/addTags" | "torrents/removeTags" => {
            change_tags(ctx, p, call == "torrents/addTags").await
        }
        _ => return None,
    })
}

/// `{"tv": {"name": "tv", "savePath": "/data/tv"}}`, as qBittorrent lists them.
pub(super) fn categories_json(c: &Catalog) -> Value {
    let map: Map<String, Value> = c
        .categories
        .iter()
        .map(|c| {
            let path = c
                .save_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (c.name.clone(), json!({"name": c.name, "savePath": path}))
        })
        .collect();
    Value::Object(map)
}

async fn set_category(ctx: &Ctx, p: &Params, name: &str) -> Answer {
    let catalog = match catalog(ctx).await {
        Ok(c) => c,
        Err(a) => return a,
    };
    if !name.is_empty() && !catalog.is_category(name) {
        return text(StatusCode::CONFLICT, "Incorrect category name");
    }
    let category = (!name.is_empty()).then_some(name);
    let head = ctx.client.head();
    for id in targets(ctx, p) {
        let Some(t) = head.line(id) else {
            continue;
        };
        let labels = catalog.with_category(&t.labels, category);
        if let Err(e) = relabel(ctx, id, LabelEdit::Set(labels)).await {
            return failed(e);
        }
    }
    ok()
}

/// `addTags` / `removeTags` (no `tags`: every tag, as qBittorrent 5 does); a category's name
/// is no tag.
async fn change_tags(ctx: &Ctx, p: &Params, add: bool) -> Answer {
    let catalog = match catalog(ctx).await {
        Ok(c) => c,
        Err(a) => return a,
    };
    let names = tags(p);
    if let Some(c) = names.iter().find(|n| catalog.is_category(n)) {
        return text(StatusCode::CONFLICT, &format!("`{c}` is a category"));
    }
    let head = ctx.client.head();
    for id in targets(ctx, p) {
        let edit = match (add, names.is_empty()) {
            (true, _) => LabelEdit::Change {
                add: names.clone(),
                remove: Vec::new(),
            },
            (false, false) => LabelEdit::Change {
                add: Vec::new(),
                remove: names.clone(),
            },
            (false, true) => {
                let Some(t) = head.line(id) else {
                    continue;
                };
                LabelEdit::Set(catalog.with_category(&t.labels, catalog.split(&t.labels).0))
            }
        };
        if let Err(e) = relabel(ctx, id, edit).await {
            return failed(e);
        }
    }
    ok()
}
