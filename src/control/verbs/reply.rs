//! What every verb's handler shares: the torrents a client's IDs name (resolved once, against
//! one line-up), the answer's lines, and the wait (bounded) until the line-up shows what a
//! verb did.

use std::time::Duration;

use crate::control::ids::resolve_ids;
use crate::control::proto::{ControlError, ErrorKind, IdResult, Response};
use crate::engine::api::{Client, RequestError, SessionSnapshot, TorrentId};

/// How long `add`, `remove` and `label` wait for the line-up to show what they did (a tick
/// or two).
const LISTED_WAIT: Duration = Duration::from_secs(2);

pub(super) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ControlError::new(kind, message))
}

/// A failed session request, in the kind and words the socket carries.
pub(super) fn failed(e: &RequestError) -> Response {
    error(ErrorKind::from(e), e.to_string())
}

/// The torrents `ids` names in `current` (an id, an info-hash prefix, or `all`).
pub(super) fn resolve(
    ids: &[String],
    current: &SessionSnapshot,
) -> Result<Vec<TorrentId>, Response> {
    resolve_ids(ids, current).map_err(Response::Error)
}

/// The one torrent a verb that takes one id names, or the error it is answered with.
pub(super) fn one_torrent(id: &str, current: &SessionSnapshot) -> Result<TorrentId, Response> {
    match resolve(&[id.to_string()], current)?[..] {
        [id] => Ok(id),
        [] => Err(error(ErrorKind::UnknownId, "no torrent given")),
        _ => Err(error(ErrorKind::BadArgument, "name exactly one torrent")),
    }
}

pub(super) fn name_of(snap: &SessionSnapshot, id: TorrentId) -> String {
    snap.line(id).map(|t| t.name.clone()).unwrap_or_default()
}

/// One torrent's line in a `Done` answer: None when the request worked.
pub(super) fn line(
    current: &SessionSnapshot,
    id: TorrentId,
    outcome: Result<(), RequestError>,
) -> IdResult {
    IdResult {
        id: id.0,
        name: name_of(current, id),
        error: outcome.err().map(|e| e.to_string()),
    }
}

/// A request naming one torrent that the session answers.
pub(super) async fn one<F>(
    id: &str,
    current: &SessionSnapshot,
    ask: impl FnOnce(TorrentId) -> F,
) -> Response
where
    F: std::future::Future<Output = Result<(), RequestError>>,
{
    match one_torrent(id, current) {
        Ok(id) => Response::Done(vec![line(current, id, ask(id).await)]),
        Err(e) => e,
    }
}

/// One request per torrent `ids` names, with no answer to wait for; each gets its line.
pub(super) fn each(
    ids: &[String],
    current: &SessionSnapshot,
    send: impl Fn(TorrentId) -> Result<(), RequestError>,
) -> Response {
    if ids.is_empty() {
        return error(ErrorKind::BadArgument, "no torrent given (an ID, or `all`)");
    }
    let resolved = match resolve(ids, current) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let names = names(current);
    let mut out = Vec::with_capacity(resolved.len());
    for id in resolved {
        if let Err(e) = send(id) {
            return failed(&e);
        }
        out.push(IdResult {
            id: id.0,
            name: names.of(id),
            error: None,
        });
    }
    Response::Done(out)
}

/// The names of the torrents a verb names, for its answer's lines: each found through the
/// line-up's index (`SessionSnapshot::line`), so `pause all` at 100,000 torrents costs a
/// probe a name, not a scan (10^10 comparisons).
pub(super) struct Names<'a> {
    current: &'a SessionSnapshot,
}

impl Names<'_> {
    pub(super) fn of(&self, id: TorrentId) -> String {
        name_of(self.current, id)
    }
}

pub(super) fn names(current: &SessionSnapshot) -> Names<'_> {
    Names { current }
}

/// Waits (bounded) until the line-up lists none of `ids`: each publication is read once,
/// each line looked up in a set (a `remove all` compared every line with every id).
pub(super) async fn gone(client: &Client, ids: &[TorrentId]) {
    client.wait_gone(ids, LISTED_WAIT).await;
}

/// Waits (bounded) until the session's line-up shows what a request did, so a `list` right
/// after an `add` or a `remove` sees it (the line-up is published every tick).
pub(super) async fn listed(client: &Client, done: impl Fn(&SessionSnapshot) -> bool) {
    client.wait_until(LISTED_WAIT, done).await;
}
