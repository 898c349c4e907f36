//! Opening a file stream (`api/stream.rs`): the session knows the torrent's files and its
//! info hash; the reads themselves go to the torrent's board (`torrent/stream.rs`), not
//! through the session's loop.

use super::Manager;
use crate::engine::api::{FileStream, RequestError, TorrentId};
use crate::engine::torrent::stream::FileSpan;

impl Manager {
    pub(super) fn open_stream(
        &self,
        id: TorrentId,
        file: usize,
    ) -> Result<FileStream, RequestError> {
        let slot = self.slot(id).ok_or(RequestError::NoTorrent(id))?;
        let meta = slot.meta.as_ref().ok_or(RequestError::NoMetadata)?;
        let files: Vec<_> = meta.info.files.iter().filter(|f| !f.padding).collect();
        let f = files.get(file).ok_or(RequestError::NoFile {
            index: file,
            count: files.len(),
        })?;
        let span = FileSpan {
            index: file,
            path: f.path.join("/"),
            start: f.offset,
            len: f.length,
        };
        let streams = &self.session.ctx.streams;
        Ok(streams.open(slot.info_hash, meta.info.geometry(), span))
    }
}
