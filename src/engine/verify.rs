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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::disk::{DiskError, Storage};
    use crate::engine::testkit::{coordinator, TestTorrent};

    /// The write's `io::Error` reaches the coordinator's decision unflattened.
    #[tokio::test]
    async fn a_failed_write_reaches_the_coordinator_with_its_io_kind() {
        let mut t = TestTorrent::new(16_384, 16_384, &[]);
        let block = Bytes::from(vec![7u8; 16_384]);
        let root = t._dir.path().to_path_buf();
        std::fs::remove_file(root.join("t")).unwrap();
        let shared = Arc::get_mut(&mut t.shared).unwrap();
        let mut info = (*shared.info).clone();
        info.pieces[0] = crate::engine::disk::hash_blocks(&[&block]);
        // The file is skipped, so its bytes go to the parts file; a directory stands there.
        shared.storage = Arc::new(Storage::open_skipping(&root, &info, &[true], "parts").unwrap());
        shared.info = Arc::new(info);
        std::fs::create_dir(root.join("parts")).unwrap();

        spawn(&t.shared, 0, vec![block], vec![]);
        let wait = std::time::Duration::from_secs(10);
        let event = tokio::time::timeout(wait, t.events.recv())
            .await
            .unwrap()
            .unwrap();
        let Event::DiskError(e) = event else {
            panic!("{event:?}")
        };
        assert!(
            matches!(&e, DiskError::Io { source, .. } if source.kind() == std::io::ErrorKind::IsADirectory),
            "{e:?}"
        );
        let mut c = coordinator(&t);
        c.on_event(Event::DiskError(e));
        let fatal = c.fatal.unwrap_or_default();
        assert!(fatal.starts_with("disk error: cannot "), "{fatal}");
    }
}
