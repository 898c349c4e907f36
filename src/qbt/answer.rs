//! What the qBittorrent face's handlers share: which torrents a request names, how long a
//! handler waits for the session, and the answers qBittorrent gives (empty 200, 400 with a
//! reason, 404/409/500 for a refusal). A leaf, so the handler files import it and not each
//! other.

use std::time::Duration;

use hyper::StatusCode;

use super::form::Params;
use super::text;
use super::Ctx;
use crate::engine::api::{RequestError, Set, TorrentId};
use crate::http::Answer;
use crate::protocol::hex;

/// How long an action waits for the session's answer.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// How long a read of the session's settings may take before the answer goes without.
const SETTINGS_WAIT: Duration = Duration::from_secs(5);

/// The session's settings and those of `ids`; None when the session did not answer in time.
pub(super) async fn settings(
    ctx: &Ctx,
    ids: Vec<TorrentId>,
) -> Option<crate::engine::api::Settings> {
    tokio::time::timeout(SETTINGS_WAIT, ctx.client.settings(ids))
        .await
        .ok()
        .and_then(Result::ok)
}

pub(super) fn ok() -> Answer {
    text(StatusCode::OK, "")
}

pub(super) fn refused(e: ActionError) -> Answer {
    let status = match &e {
        ActionError::Session(RequestError::NoTorrent(_)) => StatusCode::NOT_FOUND,
        ActionError::Session(RequestError::Disk(_)) | ActionError::Slow => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ActionError::Session(_) => StatusCode::CONFLICT,
    };
    text(status, &e.to_string())
}

pub(super) fn bad(what: &str) -> Answer {
    text(StatusCode::BAD_REQUEST, what)
}

/// qBittorrent's share limit: -2 the session's, -1 none, else the value.
pub(super) fn share<T>(v: Option<f64>, of: impl Fn(f64) -> T) -> Option<Set<T>> {
    match v {
        None => None,
        Some(x) if x <= -1.5 => Some(Set::Default),
        Some(x) if x < 0.0 => Some(Set::Off),
        Some(x) => Some(Set::To(of(x))),
    }
}

/// The one torrent `hash` names, with its name.
pub(super) fn one(ctx: &Ctx, p: &Params) -> Option<(TorrentId, String)> {
    let hash = hex::decode_array::<20>(p.get("hash").unwrap_or(""))?;
    ctx.client
        .head()
        .torrents
        .iter()
        .find(|t| t.info_hash == hash)
        .map(|t| (t.id, t.name.clone()))
}

/// The info hashes `hashes` names (`|` separated), each decoded once; None for `all`.
/// Words that are not a hash name nothing, as in qBittorrent.
pub(crate) fn hashes(p: &Params) -> Option<std::collections::HashSet<[u8; 20]>> {
    let words = p.list("hashes", '|');
    if words.iter().any(|h| h == "all") {
        return None;
    }
    Some(
        words
            .iter()
            .filter_map(|h| hex::decode_array::<20>(h))
            .collect(),
    )
}

/// The torrents `hashes` names (`all`: every one); unknown hashes are skipped, as in
/// qBittorrent.
pub(crate) fn targets(ctx: &Ctx, p: &Params) -> Vec<TorrentId> {
    let head = ctx.client.head();
    let named = hashes(p);
    head.torrents
        .iter()
        .filter(|t| named.as_ref().is_none_or(|n| n.contains(&t.info_hash)))
        .map(|t| t.id)
        .collect()
}

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActionError {
    #[error("{0}")]
    Session(#[from] crate::engine::api::RequestError),
    #[error("the session did not answer in time")]
    Slow,
}

pub(super) async fn within<T>(
    asked: impl std::future::Future<Output = Result<T, crate::engine::api::RequestError>>,
) -> Result<T, ActionError> {
    match tokio::time::timeout(REPLY_WAIT, asked).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ActionError::Slow),
    }
}
