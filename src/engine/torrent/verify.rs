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

use crate::engine::disk::inorder::{Expected, Job, PieceHash};
use crate::engine::torrent::download::{Senders, Take};
use crate::engine::torrent::shared::{Event, Shared};
use blame::{Attempt, Blame};

/// Starts the writer of piece `index` on the disk pool; the caller got `Received::Stored {
/// wake: Some(index) }`, so no other writer of this piece runs. It drains the piece's queue, then
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
            Take::Finish(senders) => {
                if hash.unwritten {
                    // As a write error always did: the piece is fetched again, and the
                    // coordinator heard of the error (a full disk holds the torrent).
                    shared.download().picker.piece_unwritten(index);
                } else {
                    finish(shared, index, hash, senders);
                }
                shared.download().writer_ended();
                return;
            }
            Take::Done => return,
        }
    }
}

/// Writes the blocks, one writer a device at a time (concurrent writes to one file make the
/// kernel spin on its inode lock), then hashes them outside that lock: those in memory as
/// they are, those written ahead of a gap read back from the file (the page cache).
fn write(shared: &Shared, index: u32, batch: &[Job], hash: &mut PieceHash) {
    let written = {
        let writer = shared.pool.writer(shared.storage.device());
        let _one_writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        write_runs(batch, WRITE_RUN, |begin, run| {
            shared.storage.write_run(index, begin, run)
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

/// Most bytes one `pwritev` takes (`Storage::write_run`): a writer's whole batch
/// (`download::TAKE_BYTES`), the floor's write size too. Per GiB on this machine's ext4,
/// 65,536 writes of 16 KiB cost 0.39 s of system time and 4,096 of 256 KiB 0.21 (`dd`, best
/// of seven): a call, an inode lock and a folio each, and the kernel sizes a new folio by
/// the write.
const WRITE_RUN: usize = 256 << 10;

/// Hands `write` each run of the batch's blocks that continue one another in the piece (in
/// the batch's order, at most `cap` bytes a run unless one block is larger): the blocks
/// of a batch are mostly the piece's next ones, one after another. `Reread` jobs write
/// nothing (their bytes went as `Ahead`).
fn write_runs<E>(
    batch: &[Job],
    cap: usize,
    mut write: impl FnMut(u32, &[&[u8]]) -> Result<(), E>,
) -> Result<(), E> {
    let mut run: [&[u8]; RUN_BLOCKS] = [&[]; RUN_BLOCKS];
    let (mut len, mut start, mut end, mut bytes) = (0, 0u32, 0u32, 0usize);
    for job in batch {
        let (begin, data) = match job {
            Job::Next(begin, data) | Job::Ahead(begin, data) => (*begin, data),
            Job::Reread(..) => continue,
        };
        if len > 0 && (begin != end || bytes + data.len() > cap || len == RUN_BLOCKS) {
            write(start, &run[..len])?;
            len = 0;
        }
        if len == 0 {
            (start, bytes) = (begin, 0);
        }
        run[len] = data;
        len += 1;
        bytes += data.len();
        end = begin.wrapping_add(data.len() as u32);
    }
    if len > 0 {
        write(start, &run[..len])?;
    }
    Ok(())
}

/// Most blocks in one run: a run is built on the stack, so writing allocates nothing. A
/// batch of 16 KiB blocks reaches `WRITE_RUN` first.
const RUN_BLOCKS: usize = 32;

fn finish(shared: &Shared, index: u32, hash: PieceHash, senders: Senders) {
    let len = shared.storage.piece_len(index).unwrap_or(0);
    let expected = Expected::of(&shared.info, index);
    let (ok, leaves) = hash.verdict(len, expected);
    let read = |begin, buf: &mut [u8]| shared.storage.read_block(index, begin, buf);
    let blame = if ok {
        // Earlier failed attempts are compared with the good bytes before anyone hears of
        // the piece: nothing writes to it any more, and reading it back costs only here.
        let attempts = shared.download().take_failed(index);
        let culprits = match attempts.is_empty() {
            true => Vec::new(),
            false => match blame::block_digests(len, read) {
                Ok(good) => blame::culprits(&attempts, &good),
                Err(e) => {
                    tracing::debug!("piece {index}: cannot read it back to blame: {e}");
                    Vec::new()
                }
            },
        };
        shared.download().picker.piece_verified(index);
        // No receiver only means no connection right now; a later one starts from the
        // picker's bitfield.
        let _ = shared.verified.send(index);
        tracing::debug!("piece {index} verified");
        Blame::Proven(culprits)
    } else {
        // Its bad bytes are read back before the piece is fetched again, when the picker
        // lets new blocks overwrite them.
        let digests = blame::block_digests(len, read);
        let mut d = shared.download();
        let kept = match digests {
            Ok(digests) => d.keep_failed(
                index,
                Attempt {
                    digests,
                    senders: senders.blocks.clone(),
                },
            ),
            Err(_) => 0,
        };
        let width = match expected {
            Expected::Merkle(Some(p)) => p.leaves,
            _ => 0,
        };
        let blame = blame::narrow(
            blame::on_failure(&senders.contributors, kept, width >= 2),
            width,
            leaves,
            senders.blocks,
        );
        // A piece to narrow stays held (as hashing) until a peer's block hashes name its bad
        // blocks, or the coordinator gives up on them: then it is fetched again, and what it
        // wasted counted (`coordinator/events/block_hashes.rs`).
        if !matches!(blame, Blame::Narrow { .. }) {
            shared.wasted.fetch_add(u64::from(len), Ordering::Relaxed);
            d.picker.piece_failed(index);
        }
        drop(d);
        tracing::debug!("piece {index} failed its hash check");
        blame
    };
    shared.send(Event::PieceDone {
        index,
        ok,
        contributors: senders.contributors,
        blame,
    });
}

pub(crate) mod blame;

#[cfg(test)]
mod tests;
