//! The hash-and-write stage: a whole piece is hashed and written on the session's disk pool,
//! and a verified piece is announced once to every connection through the `verified`
//! broadcast (each connection sends `have` where the peer lacks it).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::shared::{Event, Shared};

/// Hashes a complete piece on the disk pool and, when it matches, writes it, marks it
/// verified and announces it to every connection; the coordinator hears of it either way.
pub(crate) fn spawn(shared: &Arc<Shared>, index: u32, blocks: Vec<Bytes>, contributors: Vec<u64>) {
    let shared = Arc::clone(shared);
    let pool = Arc::clone(&shared.pool);
    pool.spawn(move || {
        let expected = shared.info.pieces.get(index as usize).copied();
        let ok = expected == Some(crate::engine::disk::hash_blocks(&blocks));
        if ok {
            let written = {
                let _one_writer = shared.pool.one_writer();
                shared.storage.write_piece(index, &blocks)
            };
            if let Err(e) = written {
                shared.download().picker.piece_failed(index);
                shared.send(Event::DiskError(e));
                return;
            }
            shared.download().picker.piece_verified(index);
            // No receiver only means no connection right now; a later one starts from the
            // picker's bitfield.
            let _ = shared.verified.send(index);
            tracing::debug!("piece {index} verified");
        } else {
            let len: u64 = blocks.iter().map(|b| b.len() as u64).sum();
            shared.wasted.fetch_add(len, Ordering::Relaxed);
            shared.download().picker.piece_failed(index);
            tracing::debug!("piece {index} failed its hash check");
        }
        shared.send(Event::PieceDone {
            index,
            ok,
            contributors,
        });
    });
}
