//! `ttui rename ID PATH NAME`: one file or folder of one torrent renamed; the row shows the
//! torrent's name after it.

use crate::control::proto::{IdResult, Response};
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::{name_of, one_torrent};

pub(super) async fn apply(
    id: &str,
    (path, name): (String, String),
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let id = match one_torrent(id, current) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let top = path.split('/').filter(|c| !c.is_empty()).count() == 1;
    let error = client
        .rename_path(id, path, name.clone())
        .await
        .err()
        .map(|e| e.to_string());
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
