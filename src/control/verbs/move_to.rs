//! `ttui move ID DIR`: one torrent's data moved to `dir`, which must be absolute (the
//! client's working directory is not the session's).

use std::path::PathBuf;

use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, SessionSnapshot};

use super::reply::{error, line, one_torrent};

pub(super) async fn apply(
    id: &str,
    dir: PathBuf,
    current: &SessionSnapshot,
    client: &Client,
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
    Response::Done(vec![line(current, id, client.move_to(id, dir).await)])
}
