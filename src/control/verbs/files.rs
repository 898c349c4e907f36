//! `ttui files ID [--priority P LIST | --skip LIST | --sequential on|off]`: the file indices
//! checked against the torrent, the change handed to it as commands, then its files as
//! `show` gives them.

use crate::control::files::FilesChange;
use crate::control::proto::{ErrorKind, Response};
use crate::engine::api::{Client, Command, SessionSnapshot, TorrentId};

use super::reply::{error, failed, one_torrent};
use super::show::show;

pub(super) async fn apply(
    id: &str,
    set: Option<FilesChange>,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let id = match one_torrent(id, current) {
        Ok(id) => id,
        Err(e) => return e,
    };
    if let Some(set) = set {
        if let Err(e) = change(id, set, client).await {
            return e;
        }
    }
    show(id, current, client).await
}

/// Sends the change; an index past the last file is refused with a one-line error and
/// nothing is changed.
async fn change(id: TorrentId, set: FilesChange, client: &Client) -> Result<(), Response> {
    let bad = |m: String| error(ErrorKind::BadArgument, m);
    let Some(files) = client.files(id).await.map_err(|e| failed(&e))? else {
        return Err(bad(format!(
            "torrent {} has no file list yet (its metadata is still being fetched)",
            id.0
        )));
    };
    let count = files.iter().filter(|f| !f.padding).count();
    if let Some(priority) = set.priority {
        if let Some(b) = set.files.iter().find(|i| **i >= count) {
            return Err(bad(format!(
                "file {b} does not exist: the torrent has {count} files (0 to {})",
                count.saturating_sub(1)
            )));
        }
        let command = Command::SetFilePriority {
            files: set.files,
            priority,
        };
        client.command(id, command).map_err(|e| failed(&e))?;
    }
    if let Some(on) = set.sequential {
        client
            .command(id, Command::SetSequential(on))
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}
