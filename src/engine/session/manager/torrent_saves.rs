//! Adds answered once their .torrent is on disk, with the disk's wait off the session's loop.
//! An add is in the session at once (its slot made, listed at the next tick); its .torrent is
//! written on a blocking thread, a batch of adds at a time, each file fsynced and the state
//! directory once a batch: a burst of adds (a client adding a library) waited two fsyncs an
//! add inside the loop, which was most of an add's time. Its answer waits for the write, so
//! an add that was answered survives a crash as before; one whose write failed is taken out
//! again and answered with the error, as when the write came first.

use tokio::sync::oneshot;

use super::Manager;
use crate::engine::api::{Added, RequestError, TorrentId};
use crate::engine::session::persist::{KeepError, Persist};
use crate::engine::session::store::StoreError;

/// An added torrent whose .torrent is still to be kept.
pub(super) struct Unsaved {
    pub id: TorrentId,
    pub info_hash: [u8; 20],
    pub bytes: Vec<u8>,
    pub added: Added,
    pub reply: oneshot::Sender<Result<Added, RequestError>>,
}

/// One of a batch, written (or not).
pub(super) struct Saved {
    id: TorrentId,
    info_hash: [u8; 20],
    added: Added,
    reply: oneshot::Sender<Result<Added, RequestError>>,
    result: Result<(), StoreError>,
}

/// The adds waiting for the batch being written, and whether one is.
#[derive(Default)]
pub(super) struct TorrentSaves {
    queued: Vec<Unsaved>,
    busy: bool,
}

impl Manager {
    /// Keeps `u`'s .torrent (with the next batch) and answers its add once it is kept.
    pub(super) fn keep_added(&mut self, u: Unsaved) {
        self.saves.queued.push(u);
        self.save_batch();
    }

    /// Starts writing the queued adds when no batch is being written.
    fn save_batch(&mut self) {
        if self.saves.busy || self.saves.queued.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.saves.queued);
        let Some(store) = self.persist.as_ref().map(Persist::store) else {
            for u in batch {
                let _ = u.reply.send(Ok(u.added));
            }
            return;
        };
        self.saves.busy = true;
        let done = self.saved_tx.clone();
        tokio::task::spawn_blocking(move || {
            let (files, rest): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|u| ((u.info_hash, u.bytes), (u.id, u.added, u.reply)))
                .unzip();
            let results = store.save_torrents(&files);
            let saved = files
                .into_iter()
                .zip(rest)
                .zip(results)
                .map(|(((info_hash, _), (id, added, reply)), result)| Saved {
                    id,
                    info_hash,
                    added,
                    reply,
                    result,
                })
                .collect();
            let _ = done.send(saved);
        });
    }

    /// A batch is written: its adds are answered, the next batch starts.
    pub(super) fn on_saved(&mut self, batch: Vec<Saved>) {
        self.saves.busy = false;
        for s in batch {
            let listed = self.slots.id_of(&s.info_hash) == Some(s.id);
            match s.result {
                Ok(()) => {
                    // Removed while it was written: the file it left goes too (unless the
                    // same torrent was added again meanwhile).
                    if self.slots.id_of(&s.info_hash).is_none() {
                        if let Some(p) = &mut self.persist {
                            p.remove(&s.info_hash);
                        }
                    }
                    let _ = s.reply.send(Ok(s.added));
                }
                Err(e) => {
                    if listed {
                        self.remove(s.id, false, oneshot::channel().0);
                    }
                    let e = KeepError::Torrent(e);
                    let _ = s.reply.send(Err(RequestError::Disk(e.to_string())));
                }
            }
        }
        self.save_batch();
    }

    /// At shutdown: the adds still queued are kept now (the batch being written finishes on
    /// its own thread).
    pub(super) fn save_queued_now(&mut self) {
        let batch = std::mem::take(&mut self.saves.queued);
        if let (false, Some(p)) = (batch.is_empty(), &self.persist) {
            let files: Vec<_> = batch.into_iter().map(|u| (u.info_hash, u.bytes)).collect();
            for r in p.store().save_torrents(&files) {
                if let Err(e) = r {
                    tracing::warn!("{}", KeepError::Torrent(e));
                }
            }
        }
    }
}
