//! The session's pool for hashing and disk writes: blocking work kept off the async threads.

use std::sync::{Mutex, MutexGuard};

/// Where pieces are hashed and written, off the async threads.
#[derive(Debug, Default)]
pub(crate) struct DiskPool {
    /// Pieces are hashed in parallel but written one at a time: concurrent writes to one
    /// file make the kernel spin on the inode lock (measured: a sixth of all CPU time).
    one_writer: Mutex<()>,
}

impl DiskPool {
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, job: F) {
        tokio::task::spawn_blocking(job);
    }

    /// Held while writing a piece.
    pub(crate) fn one_writer(&self) -> MutexGuard<'_, ()> {
        self.one_writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}
