//! Reading one file of a torrent while it downloads, for a face that serves it (the HTTP
//! stream, `stream/`). A [`FileStream`] is a reader with a position: the engine fetches the
//! pieces under that position, and a window ahead of it, before any other ("piece
//! deadlines", as libtorrent names them), and a read waits until the pieces under the bytes it
//! asks for are verified, then returns at once. It never returns bytes that were not verified.
//!
//! The face holds only this handle; the engine's side is a [`StreamPort`] that the torrent
//! room implements (`torrent/stream.rs`), so this room names no other. Dropping the handle
//! closes the stream at once: its window leaves the picker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The offset asked for is at or past the end of the file.
    #[error("offset {offset} is past the end of the file ({len} bytes)")]
    PastEnd { offset: u64, len: u64 },
    /// The torrent was removed (or the session ended) while the stream was open.
    #[error("the torrent is gone")]
    Gone,
    /// Reading verified bytes back from disk failed.
    #[error("reading the file failed: {0}")]
    Disk(String),
}

/// A boxed future, as a trait object's async method returns it.
pub type StreamRead<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, StreamError>> + Send + 'a>>;

/// The engine's side of open streams, one per torrent. `id`s are the port's own.
pub trait StreamPort: Send + Sync + std::fmt::Debug {
    /// Moves stream `id`'s reader to `offset` (within its file): its window moves there.
    fn seek(&self, id: u64, offset: u64);
    /// Up to `max` bytes of the file from `offset`, once the pieces under them are verified:
    /// at least one byte unless `offset` is at the end. Moves the reader to `offset` first.
    fn read(&self, id: u64, offset: u64, max: usize) -> StreamRead<'_>;
    /// The stream is closed: its window leaves the picker.
    fn close(&self, id: u64);
}

/// One open stream of one file. Not `Clone`: one reader, one position.
#[derive(Debug)]
pub struct FileStream {
    port: Arc<dyn StreamPort>,
    id: u64,
    /// The file's index in the torrent's file order (padding left out).
    file: usize,
    /// The file's path inside the torrent (`/`-separated, the torrent's name first).
    path: String,
    len: u64,
    position: u64,
}

impl FileStream {
    /// A stream on the port's stream `id` (the engine makes these; see `Client::open_stream`).
    pub fn new(port: Arc<dyn StreamPort>, id: u64, file: usize, path: String, len: u64) -> Self {
        FileStream {
            port,
            id,
            file,
            path,
            len,
            position: 0,
        }
    }

    pub fn file(&self) -> usize {
        self.file
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the next `read` starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves the position (clamped to the end): the window of pieces fetched first moves
    /// with it at once.
    pub fn seek(&mut self, offset: u64) {
        self.position = offset.min(self.len);
        self.port.seek(self.id, self.position);
    }

    /// Up to `max` bytes from the position, once they are verified; advances the position.
    /// Empty at the end of the file.
    pub async fn read(&mut self, max: usize) -> Result<Vec<u8>, StreamError> {
        if self.position >= self.len || max == 0 {
            return Ok(Vec::new());
        }
        let want = max.min(usize::try_from(self.len - self.position).unwrap_or(usize::MAX));
        let bytes = self.port.read(self.id, self.position, want).await?;
        self.position += bytes.len() as u64;
        Ok(bytes)
    }
}

impl Drop for FileStream {
    fn drop(&mut self) {
        self.port.close(self.id);
    }
}

/// One open stream as `show --json` and the Files tab show it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamRow {
    pub file: usize,
    /// Where the reader is, in the file.
    pub position: u64,
    /// The pieces fetched first for it (first..=last), None before its first read.
    pub window: Option<(u32, u32)>,
    /// Bytes its reads have had to wait for, all reads together.
    pub waited_bytes: u64,
    /// True while a read waits for a piece.
    pub waiting: bool,
}
