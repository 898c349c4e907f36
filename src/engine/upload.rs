//! The peer's requests to us: checked, queued while we unchoke it, read from disk off the
//! async threads and sent. Also answers BEP 9 requests for our info dictionary.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::api::PeerEnd;
use crate::engine::conn::{protocol, PeerConn};
use crate::engine::picker::BlockRef;
use crate::engine::shared::Event;
use crate::protocol::extension::{self, MetadataMsg};
use crate::protocol::message::{Message, BLOCK_LEN};

/// Blocks read from disk in one blocking job.
const READ_BATCH: usize = 16;

impl PeerConn {
    /// Answers a BEP 9 request for a piece of our info dictionary; other ut_metadata
    /// messages (data, reject) are not expected once we have the metadata and are ignored.
    pub(super) fn on_metadata_request(&mut self, payload: &[u8]) {
        let Some(their_id) = self.ext.ut_metadata() else {
            return;
        };
        if let Ok((MetadataMsg::Request { piece }, _)) = MetadataMsg::decode(payload) {
            let reply = extension::metadata_reply(&self.shared.info_bytes, piece);
            self.push(&Message::Extended {
                id: their_id,
                payload: Bytes::from(reply),
            });
        }
    }

    pub(super) fn on_request(&mut self, r: BlockRef) -> Result<(), PeerEnd> {
        let info = &self.shared.info;
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
        let have = self.shared.download().picker.have().get(r.index);
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

    /// Sends queued blocks: those read already, else a batch read from disk. Under an up
    /// limit the blocks sent are paid for before more go (`Throttle::may_send`).
    pub(crate) async fn serve_uploads(&mut self) -> Result<(), PeerEnd> {
        if self.flags.am_choking || self.uploads.is_empty() {
            return Ok(());
        }
        if !self.throttle.may_send(tokio::time::Instant::now()) {
            return Ok(());
        }
        if !self.uploads.has_ready() {
            self.read_uploads().await?;
        }
        while let Some((r, data)) = self.uploads.next_ready() {
            let len = data.len() as u64;
            self.push(&Message::Piece {
                index: r.index,
                begin: r.begin,
                data,
            });
            self.live.uploaded.fetch_add(len, Ordering::Relaxed);
            self.shared.uploaded.fetch_add(len, Ordering::Relaxed);
            self.throttle.sent(len, tokio::time::Instant::now());
            if !self.throttle.may_send(tokio::time::Instant::now()) {
                break;
            }
        }
        Ok(())
    }

    async fn read_uploads(&mut self) -> Result<(), PeerEnd> {
        let batch = self.uploads.batch_to_read(READ_BATCH);
        let storage = Arc::clone(&self.shared.storage);
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(batch.len());
            for r in batch {
                let mut buf = vec![0u8; r.length as usize];
                storage.read_block(r.index, r.begin, &mut buf)?;
                out.push((r, Bytes::from(buf)));
            }
            Ok::<_, crate::engine::disk::DiskError>(out)
        })
        .await;
        let blocks = match read {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let words = e.to_string();
                self.shared.send(Event::DiskError(e));
                return Err(PeerEnd::Io(words));
            }
            Err(e) => return Err(PeerEnd::Io(e.to_string())),
        };
        self.uploads.read(blocks);
        Ok(())
    }
}
