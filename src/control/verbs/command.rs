//! A key pressed on a remote screen (`ttui attach`), passed on to its torrent.

use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, Command, SessionSnapshot, TorrentId};

use super::reply::{error, failed, line};

pub(super) fn apply(
    id: u32,
    command: Command,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    // Quitting a torrent is the session's business, never a remote screen's.
    if command == Command::Quit {
        return error(
            ErrorKind::BadArgument,
            "a torrent cannot be quit from outside",
        );
    }
    let id = TorrentId(id);
    if !current.torrents.iter().any(|t| t.id == id) {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    }
    match client.command(id, command) {
        Ok(()) => Response::Done(vec![line(current, id, Ok(()))]),
        Err(e) => failed(&e),
    }
}
