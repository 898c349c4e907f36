//! `ttui stream ID [FILE]` and `ttui play ID [FILE]`: the URL of a torrent's file on the
//! session's stream server (`stream/`). Without a file, the largest media file (a film's
//! sample and subtitles are smaller), else the largest file.

use std::net::SocketAddr;

use crate::control::proto::{ErrorKind, Response, StreamUrl};
use crate::engine::api::{Client, FileLine, SessionSnapshot};

use super::reply::{error, failed, one_torrent};

pub(super) async fn apply(
    id: &str,
    file: Option<usize>,
    stream: Option<SocketAddr>,
    current: &SessionSnapshot,
    client: &Client,
) -> Response {
    let Some(at) = stream else {
        return error(
            ErrorKind::BadArgument,
            "the session's stream server is off (stream.listen = \"off\" in its config)",
        );
    };
    let id = match one_torrent(id, current) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let Some(hash) = current.line(id).map(|t| t.info_hash) else {
        return error(ErrorKind::UnknownId, format!("no torrent {}", id.0));
    };
    let files = match client.files(id).await {
        Ok(Some(files)) => files,
        Ok(None) => {
            return error(
                ErrorKind::BadArgument,
                format!(
                    "torrent {} has no file list yet (its metadata is still being fetched)",
                    id.0
                ),
            )
        }
        Err(e) => return failed(&e),
    };
    let real: Vec<&FileLine> = files.iter().filter(|f| !f.padding).collect();
    let index = match file {
        Some(i) if i < real.len() => i,
        Some(i) => {
            return error(
                ErrorKind::BadArgument,
                format!(
                    "file {i} does not exist: the torrent has {} files (0 to {})",
                    real.len(),
                    real.len().saturating_sub(1)
                ),
            )
        }
        None => match pick(&real) {
            Some(i) => i,
            None => return error(ErrorKind::BadArgument, "the torrent has no files"),
        },
    };
    let path = real.get(index).map(|f| f.path.clone()).unwrap_or_default();
    Response::StreamUrl(StreamUrl {
        url: format!("http://{at}{}", crate::http::stream_path(&hash, index)),
        file: index,
        path,
    })
}

/// The largest media file, else the largest file.
fn pick(files: &[&FileLine]) -> Option<usize> {
    let largest = |media: bool| {
        files
            .iter()
            .enumerate()
            .filter(|(_, f)| !media || crate::http::mime::is_media(&f.path))
            .max_by_key(|(_, f)| f.size)
            .map(|(i, _)| i)
    };
    largest(true).or_else(|| largest(false))
}
