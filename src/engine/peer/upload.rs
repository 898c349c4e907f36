//! The peer's requests to us: checked, queued while we unchoke it, read from disk off the
//! async threads and sent. Also answers BEP 9 requests for our info dictionary.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::engine::api::PeerEnd;
use crate::engine::disk::{DiskError, Storage};
use crate::engine::peer::conn::{protocol, PeerConn};
use crate::engine::peer::link::PeerEvent;
use crate::protocol::extension::{self, MetadataMsg};
use crate::protocol::geometry::BlockRef;
use crate::protocol::message::{Message, BLOCK_LEN};

/// Blocks read from disk in one blocking job (one hop to a blocking thread and back, then
/// one socket write): 512 KiB.
const READ_BATCH: usize = 32;

impl PeerConn {
    /// Answers a BEP 9 request for a piece of our info dictionary; other ut_metadata
    /// messages (data, reject) are not expected once we have the metadata and are ignored.
    pub(super) fn on_metadata_request(&mut self, payload: &[u8]) {
        let Some(their_id) = self.ext.ut_metadata() else {
            return;
        };
        if let Ok((MetadataMsg::Request { piece }, _)) = MetadataMsg::decode(payload) {
            let reply = extension::metadata_reply(&self.torrent.info_bytes, piece);
            self.push(&Message::Extended {
                id: their_id,
                payload: Bytes::from(reply),
            });
        }
    }

    pub(super) fn on_request(&mut self, r: BlockRef) -> Result<(), PeerEnd> {
        let info = &self.torrent.info;
        if r.index >= info.num_pieces() {
            return Err(protocol(format!(
                "request for piece {} out of range",
                r.index
            )));
        }
        if r.length > BLOCK_LEN {
            return Err(protocol(format!(
                "request of {} bytes (over 16 KiB)",
                r.length
            )));
        }
        let piece_len = info.piece_len(r.index);
        if r.length == 0 || r.begin as u64 + r.length as u64 > piece_len as u64 {
            return Err(protocol(format!(
                "request beyond the end of piece {}",
                r.index
            )));
        }
        // A super-seed serves a hidden peer only the pieces it offered (BEP 16).
        let have = self.torrent.has_piece(r.index) && (!self.hidden || self.announced.get(r.index));
        if self.flags.am_choking || !have || !self.uploads.queue(r) {
            if self.fast {
                self.push(&Message::Reject {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                });
            }
            return Ok(());
        }
        Ok(())
    }

    /// A read for an upload failed: the session hears of it and the connection ends.
    fn disk_failed(&self, e: DiskError) -> PeerEnd {
        let words = e.to_string();
        self.torrent.send(PeerEvent::DiskError(e));
        PeerEnd::Io(words)
    }

    /// Reading `failed` of the batch found its data gone or unreadable (`DiskError::costs_the_piece`): the
    /// torrent loses that piece (and tells every connection, `on_lost`), the connection goes
    /// on. The batch's blocks not yet sent (`unsent`) are asked again, those of the lost piece
    /// rejected. Any other error ends the connection (`disk_failed`).
    fn read_failed(
        &mut self,
        failed: BlockRef,
        e: DiskError,
        unsent: &[BlockRef],
    ) -> Result<(), PeerEnd> {
        if !e.costs_the_piece() {
            return Err(self.disk_failed(e));
        }
        tracing::warn!(
            "conn {}: piece {} lost from disk: {e}",
            self.conn,
            failed.index
        );
        self.torrent.send(PeerEvent::PieceGone {
            index: failed.index,
            error: e,
        });
        for r in unsent {
            let again = r.index != failed.index && self.uploads.queue(*r);
            if !again && self.fast {
                self.push(&Message::Reject {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                });
            }
        }
        Ok(())
    }

    pub(super) fn reject_uploads(&mut self) {
        let queued = self.uploads.take_all();
        if self.fast {
            for r in queued {
                self.push(&Message::Reject {
                    index: r.index,
                    begin: r.begin,
                    length: r.length,
                });
            }
        }
    }

    /// Sends queued blocks, read from disk straight into the send buffer: here when the page
    /// cache holds them, else on a blocking thread. Under an up limit one block goes at a
    /// time, each paid for before the next, for as long as the gate stays open
    /// (`Throttle::may_send`): a batch would leave as one burst.
    pub(crate) async fn serve_uploads(&mut self) -> Result<(), PeerEnd> {
        // At most a batch's worth per call either way: the caller flushes in between.
        for _ in 0..READ_BATCH {
            if self.flags.am_choking || self.uploads.is_empty() {
                return Ok(());
            }
            if !self.throttle.may_send(tokio::time::Instant::now()) {
                return Ok(());
            }
            if !self.throttle.up_limited() {
                return self.send_batch(READ_BATCH).await;
            }
            self.send_batch(1).await?;
        }
        Ok(())
    }

    /// Reads and sends the next `n` queued blocks, and counts them.
    async fn send_batch(&mut self, n: usize) -> Result<(), PeerEnd> {
        let batch = self.uploads.batch_to_read(n);
        let storage = Arc::clone(&self.torrent.storage);
        // First what the page cache holds, read here; the rest on a blocking thread.
        let (done, mut len) = match append_blocks(&storage, &batch, &mut self.out, cached) {
            Ok(got) => got,
            Err((r, e)) => return self.read_failed(r, e, &batch),
        };
        if let Some(rest) = batch.get(done..).filter(|rest| !rest.is_empty()) {
            let rest = rest.to_vec();
            // The buffer goes to the blocking thread and comes back: nothing else is queued
            // on this connection meanwhile, so the blocks follow whatever was pushed before.
            let mut out = std::mem::take(&mut self.out);
            let waits = Arc::clone(&storage);
            let waiting = (waits.read_waits.start(), waits.device_waits.start());
            let read = tokio::task::spawn_blocking(move || {
                let r = append_blocks(&storage, &rest, &mut out, blocking);
                (out, r, rest)
            })
            .await;
            drop(waiting);
            match read {
                Ok((out, r, rest)) => {
                    self.out = out;
                    match r {
                        Ok((_, more)) => len += more,
                        Err((r, e)) => {
                            // What was read before went out: count it.
                            self.count_sent(len);
                            return self.read_failed(r, e, &rest);
                        }
                    }
                }
                Err(e) => return Err(PeerEnd::Io(e.to_string())),
            }
        }
        self.count_sent(len);
        Ok(())
    }

    fn count_sent(&mut self, len: u64) {
        self.live.uploaded.fetch_add(len, Ordering::Relaxed);
        self.torrent.uploaded.fetch_add(len, Ordering::Relaxed);
        self.throttle.sent(len, tokio::time::Instant::now());
    }
}

/// Reads a block into its place in the send buffer: false when it cannot now (not cached).
type ReadInto = fn(&Storage, BlockRef, &mut [u8]) -> Result<bool, DiskError>;

/// From the session's read cache or the page cache only, without waiting for the device.
fn cached(storage: &Storage, r: BlockRef, dst: &mut [u8]) -> Result<bool, DiskError> {
    if storage.read_block_held(r.index, r.begin, dst) {
        return Ok(true);
    }
    storage.read_block_cached(r.index, r.begin, dst)
}

/// Waiting for the device if need be, reading the block's whole piece into the session's read
/// cache (`disk/read_cache.rs`): only on a blocking thread.
fn blocking(storage: &Storage, r: BlockRef, dst: &mut [u8]) -> Result<bool, DiskError> {
    storage
        .read_block_through_cache(r.index, r.begin, dst)
        .map(|()| true)
}

/// Appends a `piece` message for each block of `batch` to `out`, each read from disk into its
/// place with `read`: no buffer per block and no copy between the disk and the socket write.
/// Stops at the first block `read` cannot do now. Returns the blocks appended and their
/// payload bytes; on an error, the block that failed, and `out` is left as it was.
pub(super) fn append_blocks(
    storage: &Storage,
    batch: &[BlockRef],
    out: &mut BytesMut,
    read: ReadInto,
) -> Result<(usize, u64), (BlockRef, DiskError)> {
    let start = out.len();
    let wanted: usize = batch.iter().map(|r| 13 + r.length as usize).sum();
    out.reserve(wanted);
    let mut payload = 0u64;
    for (done, r) in batch.iter().enumerate() {
        let header = out.len();
        out.put_u32(9 + r.length);
        out.put_u8(7);
        out.put_u32(r.index);
        out.put_u32(r.begin);
        let at = out.len();
        out.resize(at + r.length as usize, 0);
        match read(storage, *r, &mut out[at..]) {
            Ok(true) => payload += u64::from(r.length),
            Ok(false) => {
                out.truncate(header);
                return Ok((done, payload));
            }
            Err(e) => {
                out.truncate(start);
                return Err((*r, e));
            }
        }
    }
    Ok((batch.len(), payload))
}

#[cfg(test)]
mod tests;
