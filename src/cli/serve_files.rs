//! The session's side of `ttui files`: checks the file indices against the torrent and
//! hands the change to the torrent as commands.

use tokio::sync::oneshot;

use crate::control::files::FilesChange;
use crate::control::proto::{ControlError, ErrorKind, Response};
use crate::engine::api::{Command, SessionRequest, TorrentId};

/// Where the session takes requests (`serve::Requests`).
type Requests = tokio::sync::mpsc::UnboundedSender<SessionRequest>;

/// Sends the change; an index past the last file is refused with a one-line error and
/// nothing is changed.
pub(crate) async fn apply(
    id: TorrentId,
    set: FilesChange,
    requests: &Requests,
) -> Result<(), Response> {
    let bad = |m: String| Response::Error(ControlError::new(ErrorKind::BadArgument, m));
    let (reply, rx) = oneshot::channel();
    let gone = || {
        Response::Error(ControlError::new(
            ErrorKind::Internal,
            "the session has stopped",
        ))
    };
    requests
        .send(SessionRequest::Files { id, reply })
        .map_err(|_| gone())?;
    let Some(files) = rx.await.map_err(|_| gone())? else {
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
        requests
            .send(SessionRequest::Torrent { id, command })
            .map_err(|_| gone())?;
    }
    if let Some(on) = set.sequential {
        let command = Command::SetSequential(on);
        requests
            .send(SessionRequest::Torrent { id, command })
            .map_err(|_| gone())?;
    }
    Ok(())
}
