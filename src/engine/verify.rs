//! The writer: blocks released in piece order (`download.rs`) are written and hashed on the
//! session's disk pool, and a piece whose last byte is hashed is compared, then marked
//! verified and announced once to every connection through the `verified` broadcast (each
//! connection sends `have` where the peer lacks it), or failed and fetched again.
//!
//! A piece's bytes reach the disk before its hash is known. That is safe because nothing
//! trusts unverified bytes: a piece is served, announced and saved as done only once its
//! whole hash matched, and after a crash the restart check hashes what it does not know to
//! be verified (a piece written half, or whole but not yet compared, is simply missing).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::download::Take;
use crate::engine::inorder::{Job, PieceHash};
use crate::engine::shared::{Event, Shared};

/// Starts the writer of piece `index` on the disk pool; the caller got `Received::Stored {
/// wake: true }`, so no other writer of this piece runs. It drains the piece's queue, then
/// stops; writers of different pieces hash in parallel.
pub(crate) fn start(shared: &Arc<Shared>, index: u32) {
    let shared = Arc::clone(shared);
    let pool = Arc::clone(&shared.pool);
    pool.spawn(move || run(&shared, index));
}

fn run(shared: &Shared, index: u32) {
    let mut batch = Vec::new();
    let mut hash = PieceHash::default();
    let mut first = true;
    loop {
        let take =
            shared
                .download()
                .writer_take(index, &mut batch, &mut hash, std::mem::take(&mut first));
        match take {
            Take::Blocks => {
                if !hash.unwritten {
                    write(shared, index, &batch, &mut hash);
                }
                batch.clear();
            }
            Take::Finish(contributors) => {
                if hash.unwritten {
                    // As a write error always did: the piece is fetched again, and the
                    // coordinator heard of the error (a full disk stops the torrent).
                    shared.download().picker.piece_failed(index);
                } else {
                    finish(shared, index, hash, contributors);
                }
                shared.download().writer_ended();
                return;
            }
            Take::Done => return,
        }
    }
}

/// Writes the blocks, one writer in the session at a time (concurrent writes to one file make
/// the kernel spin on its inode lock), then hashes them outside that lock: those in memory as
/// they are, those written ahead of a gap read back from the file (the page cache).
fn write(shared: &Shared, index: u32, batch: &[Job], hash: &mut PieceHash) {
    let written = {
        let _one_writer = shared.pool.one_writer();
        batch.iter().try_for_each(|job| match job {
            Job::Next(begin, data) | Job::Ahead(begin, data) => {
                shared.storage.write_block(index, *begin, data)
            }
            Job::Reread(..) => Ok(()),
        })
    };
    if let Err(e) = written {
        hash.unwritten = true;
        shared.send(Event::DiskError(e));
        return;
    }
    let mut back = Vec::new();
    for job in batch {
        match job {
            Job::Next(_, data) => hash.update(data),
            Job::Ahead(..) => {}
            Job::Reread(begin, len) => {
                back.resize(*len as usize, 0);
                if let Err(e) = shared.storage.read_block(index, *begin, &mut back) {
                    // Bytes we wrote and cannot read back: the piece is fetched again.
                    hash.unwritten = true;
                    shared.send(Event::DiskError(e));
                    return;
                }
                hash.update(&back);
            }
        }
    }
}

fn finish(shared: &Shared, index: u32, hash: PieceHash, contributors: Vec<u64>) {
    let len = shared.storage.piece_len(index).unwrap_or(0);
    let ok = hash.matches(len, shared.info.pieces.get(index as usize));
    if ok {
        shared.download().picker.piece_verified(index);
        // No receiver only means no connection right now; a later one starts from the
        // picker's bitfield.
        let _ = shared.verified.send(index);
        tracing::debug!("piece {index} verified");
    } else {
        shared.wasted.fetch_add(u64::from(len), Ordering::Relaxed);
        shared.download().picker.piece_failed(index);
        tracing::debug!("piece {index} failed its hash check");
    }
    shared.send(Event::PieceDone {
        index,
        ok,
        contributors,
    });
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
