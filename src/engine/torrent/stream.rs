//! The engine's side of file streams (`api/stream.rs`): per torrent a [`Board`] of open
//! readers, and for the session one [`Streams`] that knows each running torrent's state.
//!
//! Why a board per torrent and not per task: a torrent's task comes and goes (paused, queued,
//! asleep, restarted), and a stream outlives it. The board keeps each reader's position; when
//! a task starts it attaches its `Shared` here (`open.rs`) and gets the readers' windows at
//! once. Only `Weak` references to a task's state are kept, and none across an `.await`, so a
//! reader waiting for a piece never keeps an ended task's state alive.
//!
//! The windows: each reader's pieces from its position to a few seconds ahead at the
//! torrent's download rate (at least `MIN_WINDOW` pieces, at most `MAX_WINDOW_BYTES`), and the
//! file's last piece (containers keep their index there), go to the picker as deadlines
//! (`picker/deadline.rs`), ahead of rarest-first. Several readers' windows are interleaved
//! piece by piece, so streams share the peers' pipelines fairly. A seek moves the window at
//! once: the picker starts the new pieces first, the old window's pieces fall back to the
//! torrent's own order, and peers that have the new pieces cancel the other requests they
//! still hold for us (about a second of them), which would otherwise be sent first. This is libtorrent's `set_piece_deadline` and rqbit's `FileStream`
//! written for our picker.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use crate::engine::api::{FileStream, StreamError, StreamPort, StreamRead, StreamRow};
use crate::engine::torrent::shared::{Event, Shared};
use crate::protocol::geometry::Geometry;

/// Pieces ahead of a reader fetched first, at the least (the one under it and the next).
const MIN_WINDOW: u32 = 2;
/// Seconds of the torrent's download rate the window covers ahead of a reader.
const WINDOW_SECS: u64 = 4;
/// The window's largest size: a fast swarm's few seconds are plenty of buffer.
const MAX_WINDOW_BYTES: u64 = 32 << 20;
/// The download rate is measured over at least this long.
const RATE_SPAN: Duration = Duration::from_secs(1);

/// The session's streams: the running torrents' states by info hash, and the boards of
/// torrents with open streams.
#[derive(Debug)]
pub(crate) struct Streams {
    inner: Mutex<Inner>,
    /// Bumped whenever a torrent attaches or goes: a waiting reader looks again.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Inner {
    live: HashMap<[u8; 20], Weak<Shared>>,
    boards: HashMap<[u8; 20], Weak<Board>>,
    /// Torrents removed while a board was open: their reads fail at once.
    gone: Vec<[u8; 20]>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("live", &self.live.len())
            .field("boards", &self.boards.len())
            .finish()
    }
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            inner: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl Streams {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A torrent's task has started: its readers' windows go to its picker now.
    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        let board = {
            let mut inner = self.lock();
            inner.live.retain(|_, w| w.strong_count() > 0);
            inner.boards.retain(|_, w| w.strong_count() > 0);
            inner.gone.retain(|h| *h != shared.info_hash);
            inner.live.insert(shared.info_hash, Arc::downgrade(shared));
            inner.boards.get(&shared.info_hash).and_then(Weak::upgrade)
        };
        if let Some(board) = board {
            board.push_deadlines(shared);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The torrent was removed: open streams' reads end with `Gone`.
    pub(crate) fn remove(&self, info_hash: &[u8; 20]) {
        {
            let mut inner = self.lock();
            inner.live.remove(info_hash);
            if inner.boards.remove(info_hash).is_some() {
                inner.gone.push(*info_hash);
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn live(&self, info_hash: &[u8; 20]) -> Option<Arc<Shared>> {
        self.lock().live.get(info_hash).and_then(Weak::upgrade)
    }

    fn is_gone(&self, info_hash: &[u8; 20]) -> bool {
        self.lock().gone.contains(info_hash)
    }

    /// Opens a stream on one file: `start` and `len` are its span in the torrent's bytes.
    pub(crate) fn open(
        self: &Arc<Self>,
        info_hash: [u8; 20],
        geometry: Geometry,
        file: FileSpan,
    ) -> FileStream {
        let board = {
            let mut inner = self.lock();
            inner.gone.retain(|h| *h != info_hash);
            match inner.boards.get(&info_hash).and_then(Weak::upgrade) {
                Some(b) => b,
                None => {
                    let b = Arc::new(Board {
                        streams: Arc::clone(self),
                        info_hash,
                        geometry,
                        state: Mutex::new(BoardState::default()),
                    });
                    inner.boards.insert(info_hash, Arc::downgrade(&b));
                    b
                }
            }
        };
        let id = board.add(file.clone());
        if let Some(shared) = self.live(&info_hash) {
            board.push_deadlines(&shared);
        }
        let len = file.len;
        FileStream::new(board, id, file.index, file.path, len)
    }

    /// The open streams of a torrent, for `show`.
    pub(crate) fn rows(&self, info_hash: &[u8; 20]) -> Vec<StreamRow> {
        let board = self.lock().boards.get(info_hash).and_then(Weak::upgrade);
        board.map(|b| b.rows()).unwrap_or_default()
    }
}

/// Where a streamed file lies in its torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSpan {
    /// Its index in the torrent's file order, padding left out.
    pub index: usize,
    pub path: String,
    /// Its first byte in the torrent's payload.
    pub start: u64,
    pub len: u64,
}

/// One torrent's open streams.
pub(crate) struct Board {
    streams: Arc<Streams>,
    info_hash: [u8; 20],
    geometry: Geometry,
    state: Mutex<BoardState>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("info_hash", &crate::protocol::hex::encode(&self.info_hash))
            .finish()
    }
}

#[derive(Debug, Default)]
struct BoardState {
    readers: BTreeMap<u64, Reader>,
    next_id: u64,
    /// The torrent's download rate as last measured (bytes per second).
    rate: u64,
    /// (when, the torrent's downloaded counter then), to measure the rate.
    sample: Option<(Instant, u64)>,
}

#[derive(Debug)]
struct Reader {
    file: FileSpan,
    position: u64,
    window: Option<(u32, u32)>,
    waited_bytes: u64,
    waiting: bool,
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, file: FileSpan) -> u64 {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.readers.insert(
            id,
            Reader {
                file,
                position: 0,
                window: None,
                waited_bytes: 0,
                waiting: false,
            },
        );
        id
    }

    fn rows(&self) -> Vec<StreamRow> {
        self.lock()
            .readers
            .values()
            .map(|r| StreamRow {
                file: r.file.index,
                position: r.position,
                window: r.window,
                waited_bytes: r.waited_bytes,
                waiting: r.waiting,
            })
            .collect()
    }

    /// Every reader's window, measured at the torrent's rate now, to the picker.
    fn push_deadlines(&self, shared: &Shared) {
        // The pieces under readers that jumped out of their windows.
        let mut due: Vec<u32> = Vec::new();
        let downloaded = shared.downloaded.load(std::sync::atomic::Ordering::Relaxed);
        let urgent = {
            let mut st = self.lock();
            let now = Instant::now();
            match st.sample {
                Some((at, bytes)) if now.duration_since(at) >= RATE_SPAN => {
                    let secs = now.duration_since(at).as_secs_f64();
                    st.rate = (downloaded.saturating_sub(bytes) as f64 / secs) as u64;
                    st.sample = Some((now, downloaded));
                }
                Some(_) => {}
                None => st.sample = Some((now, downloaded)),
            }
            let rate = st.rate;
            let mut lists = Vec::new();
            for r in st.readers.values_mut() {
                let w = window(&self.geometry, &r.file, r.position, rate);
                if let Some(w) = w.filter(|w| jumped(r.window, w)) {
                    due.extend(w.due());
                }
                r.window = w.map(|w| (w.first, w.last));
                lists.push(w.map(|w| w.pieces()).unwrap_or_default());
            }
            interleave(&lists)
        };
        let dropped = {
            let mut d = shared.download();
            let before: Vec<u32> = d.picker.deadlines().to_vec();
            d.picker.set_deadlines(urgent);
            let now = d.picker.deadlines();
            let gone: Vec<u32> = before.into_iter().filter(|p| !now.contains(p)).collect();
            d.picker.requested_in(&gone)
        };
        if !dropped.is_empty() {
            tracing::debug!(
                "stream: {} requested blocks left every window",
                dropped.len()
            );
            shared.send(Event::StreamDropped(dropped));
        }
        if !due.is_empty() {
            let d = shared.download();
            due.retain(|i| d.picker.wants(*i));
        }
        if !due.is_empty() {
            shared.send(Event::StreamSeek(due.into()));
        }
    }

    fn set_position(&self, id: u64, offset: u64) {
        if let Some(r) = self.lock().readers.get_mut(&id) {
            r.position = offset.min(r.file.len);
        }
        if let Some(shared) = self.streams.live(&self.info_hash) {
            self.push_deadlines(&shared);
        }
    }

    fn set_waiting(&self, id: u64, waiting: bool, bytes: u64) {
        if let Some(r) = self.lock().readers.get_mut(&id) {
            r.waiting = waiting;
            r.waited_bytes += bytes;
        }
    }

    async fn read_at(&self, id: u64, offset: u64, max: usize) -> Result<Vec<u8>, StreamError> {
        let Some(file) = self.lock().readers.get(&id).map(|r| r.file.clone()) else {
            return Err(StreamError::Gone);
        };
        if offset >= file.len {
            return Err(StreamError::PastEnd {
                offset,
                len: file.len,
            });
        }
        self.set_position(id, offset);
        let at = file.start + offset;
        let Some((piece, begin, len)) = piece_slice(&self.geometry, at, file.len - offset, max)
        else {
            return Err(StreamError::PastEnd {
                offset,
                len: file.len,
            });
        };
        let mut attached = self.streams.changed.subscribe();
        let mut waited = false;
        loop {
            attached.borrow_and_update();
            if self.streams.is_gone(&self.info_hash) {
                self.set_waiting(id, false, 0);
                return Err(StreamError::Gone);
            }
            // The task's state is held only between awaits, never across one.
            let ready = self.streams.live(&self.info_hash).map(|shared| {
                let verified = shared.verified.subscribe();
                let have = shared.download().picker.have().get(piece);
                (have.then(|| Arc::clone(&shared.storage)), verified)
            });
            match ready {
                Some((Some(storage), _)) => {
                    self.set_waiting(id, false, 0);
                    let read = tokio::task::spawn_blocking(move || {
                        let mut buf = vec![0u8; len as usize];
                        storage.read_block(piece, begin, &mut buf).map(|()| buf)
                    })
                    .await;
                    return match read {
                        Ok(Ok(buf)) => Ok(buf),
                        Ok(Err(e)) => Err(StreamError::Disk(e.to_string())),
                        Err(e) => Err(StreamError::Disk(e.to_string())),
                    };
                }
                Some((None, mut verified)) => {
                    if !waited {
                        waited = true;
                        self.set_waiting(id, true, u64::from(len));
                    }
                    let ended = tokio::select! {
                        r = verified.recv() => match r {
                            // The task ended: wait for the next one to attach.
                            Err(broadcast::error::RecvError::Closed) => None,
                            _ => Some(true),
                        },
                        r = attached.changed() => Some(r.is_ok()),
                    };
                    let attached_ok = match ended {
                        Some(ok) => ok,
                        None => attached.changed().await.is_ok(),
                    };
                    if !attached_ok {
                        return Err(StreamError::Gone);
                    }
                }
                None => {
                    if !waited {
                        waited = true;
                        self.set_waiting(id, true, u64::from(len));
                    }
                    if attached.changed().await.is_err() {
                        return Err(StreamError::Gone);
                    }
                }
            }
        }
    }
}

impl StreamPort for Board {
    fn seek(&self, id: u64, offset: u64) {
        self.set_position(id, offset);
    }

    fn read(&self, id: u64, offset: u64, max: usize) -> StreamRead<'_> {
        Box::pin(self.read_at(id, offset, max))
    }

    fn close(&self, id: u64) {
        self.lock().readers.remove(&id);
        if let Some(shared) = self.streams.live(&self.info_hash) {
            self.push_deadlines(&shared);
        }
    }
}

/// A reader's window: pieces `first..=last`, and the file's last piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    first: u32,
    last: u32,
    tail: u32,
}

/// Whether a reader whose window was `old` (pieces `first..=last`) and is now `new` jumped:
/// it had none (the stream just opened), or the piece under it is outside the old window. A
/// reader going on in order stays inside its window as it slides.
fn jumped(old: Option<(u32, u32)>, new: &Window) -> bool {
    old.is_none_or(|(first, last)| !(first..=last).contains(&new.first))
}

impl Window {
    /// The pieces a reader that jumped waits for first: the one under it and the next, and
    /// the file's last (a player that opens a file reads its index there).
    fn due(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (self.first..=self.last).take(MIN_WINDOW as usize).collect();
        if self.tail > self.last {
            out.push(self.tail);
        }
        out
    }

    fn pieces(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (self.first..=self.last).collect();
        if self.tail > self.last {
            // Right after the piece under the reader: a player reads the index there next.
            out.insert(1.min(out.len()), self.tail);
        }
        out
    }
}

/// The window of a reader at `position` in `file`, at `rate` bytes per second; None for an
/// empty file.
fn window(g: &Geometry, file: &FileSpan, position: u64, rate: u64) -> Option<Window> {
    if file.len == 0 {
        return None;
    }
    let plen = u64::from(g.piece_length()).max(1);
    let at = file.start + position.min(file.len - 1);
    let tail = u32::try_from((file.start + file.len - 1) / plen).ok()?;
    let first = u32::try_from(at / plen).ok()?;
    let ahead = rate.saturating_mul(WINDOW_SECS).min(MAX_WINDOW_BYTES);
    let count = u32::try_from(ahead.div_ceil(plen))
        .unwrap_or(u32::MAX)
        .max(MIN_WINDOW);
    let last = first.saturating_add(count - 1).min(tail);
    Some(Window { first, last, tail })
}

/// The lists merged one piece of each in turn, each piece once: readers share fairly.
fn interleave(lists: &[Vec<u32>]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for l in lists {
            if let Some(p) = l.get(k) {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
        }
    }
    out
}

/// The piece under payload byte `at` and the slice of it a read returns: from `at` to the
/// piece's end, at most `max` bytes and `left` (what is left of the file). None past the end.
fn piece_slice(g: &Geometry, at: u64, left: u64, max: usize) -> Option<(u32, u32, u32)> {
    let plen = u64::from(g.piece_length());
    let piece = g.piece_at(at)?;
    let this_len = u64::from(g.piece_len(piece)?);
    let begin = at - u64::from(piece) * plen;
    let len = (this_len - begin).min(left).min(max as u64);
    (len > 0).then_some((piece, begin as u32, len as u32))
}

#[cfg(test)]
mod tests;
