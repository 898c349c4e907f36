use super::*;
use bytes::Bytes;
use sha1::{Digest, Sha1};

use crate::engine::disk::{DiskError, Storage};
use crate::engine::testkit::{coordinator, TestTorrent};
use crate::engine::torrent::download::Received;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::geometry::BlockRef;

/// The first block of piece 0.
const FIRST: BlockRef = BlockRef {
    index: 0,
    begin: 0,
    length: 16_384,
};
const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A torrent of two pieces of three blocks each (the last piece shorter), whose piece hashes
/// are those of `data`.
fn torrent(data: &[u8]) -> TestTorrent {
    torrent_of(3 * 16_384, data)
}

/// A torrent of pieces of `piece` bytes whose hashes are those of `data`.
fn torrent_of(piece: u32, data: &[u8]) -> TestTorrent {
    let mut t = TestTorrent::new(piece, data.len() as u64, &[]);
    t.adjust(|facts| {
        let mut info = (*facts.info).clone();
        info.pieces = data
            .chunks(piece as usize)
            .map(|c| Sha1::digest(c).into())
            .collect();
        facts.info = Arc::new(info);
    });
    t
}

/// Every block of every piece, delivered in `order` (a permutation of block numbers) with
/// block `corrupt` flipped; the writer is started as the download path does.
fn deliver(t: &TestTorrent, data: &[u8], order: &[usize], corrupt: Option<usize>) {
    let mut want = Vec::new();
    let pieces = t.shared.info.num_pieces();
    t.shared
        .download()
        .picker
        .pick(&Bitfield::full(pieces), 100, &|_| false, &mut want);
    want.sort_by_key(|r: &BlockRef| (r.index, r.begin));
    let piece = t.shared.info.piece_length as usize;
    for &n in order {
        let r = want[n];
        let at = r.index as usize * piece + r.begin as usize;
        let mut bytes = data[at..at + r.length as usize].to_vec();
        if corrupt == Some(n) {
            bytes[5] ^= 0xff;
        }
        let got = t.shared.download().receive(r, Bytes::from(bytes), n as u64);
        if let Received::Stored { wake: Some(piece) } = got {
            start(&t.shared, piece);
        }
    }
}

async fn piece_done(t: &mut TestTorrent) -> (u32, bool, Vec<u64>) {
    let (index, ok, contributors, _) = piece_blame(t).await;
    (index, ok, contributors)
}

async fn piece_blame(t: &mut TestTorrent) -> (u32, bool, Vec<u64>, Blame) {
    loop {
        let event = tokio::time::timeout(WAIT, t.events.recv())
            .await
            .unwrap()
            .unwrap();
        if let Event::PieceDone {
            index,
            ok,
            contributors,
            blame,
        } = event
        {
            return (index, ok, contributors, blame);
        }
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn pieces_received_out_of_order_are_verified_and_on_disk() {
    let data = payload(5 * 16_384 + 100);
    let mut t = torrent(&data);
    // Piece 1 first, backwards; then piece 0 with its first block last.
    deliver(&t, &data, &[5, 4, 3, 1, 2, 0], None);
    let mut done = vec![piece_done(&mut t).await, piece_done(&mut t).await];
    done.sort();
    assert_eq!(
        done,
        vec![(0, true, vec![1, 2, 0]), (1, true, vec![5, 4, 3])]
    );
    assert!(t.shared.download().picker.is_complete());
    let mut back = vec![0u8; data.len()];
    for p in 0..2u32 {
        let mut buf = Vec::new();
        t.shared.storage.read_piece(p, &mut buf).unwrap();
        let at = p as usize * 3 * 16_384;
        back[at..at + buf.len()].copy_from_slice(&buf);
    }
    assert!(back == data, "the bytes on disk are the payload");
    assert_eq!(t.shared.download().held_bytes(), 0);
}

/// A piece larger than what may wait in memory, its first block last: the blocks past
/// `AHEAD_CAP` are written ahead and read back for the hash.
#[tokio::test]
async fn blocks_written_ahead_of_a_late_gap_are_read_back_and_verified() {
    let blocks = 96;
    assert!(blocks * 16_384 > crate::engine::disk::inorder::AHEAD_CAP + 16_384);
    let data = payload(blocks * 16_384);
    let mut t = torrent_of(data.len() as u32, &data);
    let order: Vec<usize> = (1..blocks).chain([0]).collect();
    deliver(&t, &data, &order, None);
    let (index, ok, _) = piece_done(&mut t).await;
    assert_eq!((index, ok), (0, true));
    let mut back = Vec::new();
    t.shared.storage.read_piece(0, &mut back).unwrap();
    assert!(back == data, "the bytes on disk are the payload");
    assert_eq!(t.shared.download().held_bytes(), 0);
}

/// A corrupt block among those written ahead fails the piece like any other.
#[tokio::test]
async fn a_corrupt_block_written_ahead_fails_its_piece() {
    let blocks = 96;
    let data = payload(blocks * 16_384);
    let mut t = torrent_of(data.len() as u32, &data);
    let order: Vec<usize> = (1..blocks).chain([0]).collect();
    deliver(&t, &data, &order, Some(blocks - 2));
    let (index, ok, _) = piece_done(&mut t).await;
    assert_eq!((index, ok), (0, false));
}

#[tokio::test]
async fn a_corrupt_block_fails_its_piece_blames_its_senders_and_is_fetched_again() {
    let data = payload(5 * 16_384 + 100);
    let mut t = torrent(&data);
    deliver(&t, &data, &[0, 2, 1, 3, 4, 5], Some(2));
    let mut done = vec![piece_done(&mut t).await, piece_done(&mut t).await];
    done.sort();
    assert_eq!(
        done,
        vec![(0, false, vec![0, 2, 1]), (1, true, vec![3, 4, 5])]
    );
    let d = t.shared.download();
    assert!(!d.picker.have().get(0));
    assert!(d.picker.have().get(1));
    assert!(
        d.picker.block_wanted(FIRST),
        "a failed piece is missing again"
    );
    assert_eq!(
        t.shared.wasted.load(Ordering::Relaxed),
        3 * 16_384,
        "the whole piece counts as wasted"
    );
}

/// A piece from several senders that fails is not blamed on them all: once it verifies,
/// the sender whose block differs from the good piece is named, with that block alone.
#[tokio::test]
async fn once_a_failed_piece_verifies_the_sender_of_its_bad_block_is_named() {
    let data = payload(3 * 16_384);
    let mut t = torrent(&data);
    // Blocks 0, 1, 2 from connections 0, 1, 2; connection 2's is bad.
    deliver(&t, &data, &[0, 1, 2], Some(2));
    let (index, ok, _, blame) = piece_blame(&mut t).await;
    assert_eq!((index, ok, blame), (0, false, Blame::Deferred));
    deliver(&t, &data, &[2, 0, 1], None);
    let (index, ok, _, blame) = piece_blame(&mut t).await;
    assert_eq!(
        (index, ok, blame),
        (
            0,
            true,
            Blame::Proven(vec![blame::Culprit {
                conn: 2,
                blocks: vec![2]
            }])
        )
    );
    assert!(t.shared.download().take_failed(0).is_empty(), "forgotten");
}

/// A piece from one sender is charged to it at once, as before; once the piece verifies the
/// proof names it too.
#[tokio::test]
async fn a_piece_from_one_sender_is_charged_at_once() {
    let data = payload(16_384);
    let mut t = torrent_of(16_384, &data);
    deliver(&t, &data, &[0], Some(0));
    let (_, ok, _, blame) = piece_blame(&mut t).await;
    assert_eq!((ok, blame), (false, Blame::Contributors));
    deliver(&t, &data, &[0], None);
    let (_, ok, _, blame) = piece_blame(&mut t).await;
    assert!(ok);
    assert!(
        matches!(&blame, Blame::Proven(c) if c.len() == 1 && c[0].conn == 0),
        "{blame:?}"
    );
}

/// The write's `io::Error` reaches the coordinator's decision unflattened.
#[tokio::test]
async fn a_failed_write_reaches_the_coordinator_with_its_io_kind() {
    let mut t = TestTorrent::new(16_384, 16_384, &[]);
    let block = vec![7u8; 16_384];
    let root = t._dir.path().to_path_buf();
    // Nothing was written yet, so the file was never created (created at its first use).
    assert!(!root.join("t").exists());
    t.adjust(|facts| {
        let mut info = (*facts.info).clone();
        info.pieces[0] = crate::engine::disk::hash_blocks(&[&block]);
        // The file is skipped, so its bytes go to the parts file; a directory stands there.
        facts.storage = Arc::new(
            Storage::open_skipping(
                &Arc::new(crate::engine::disk::OpenFiles::new(4)),
                &root,
                &info,
                &[true],
                "parts",
            )
            .unwrap(),
        );
        facts.info = Arc::new(info);
    });
    std::fs::create_dir(root.join("parts")).unwrap();

    deliver(&t, &block, &[0], None);
    let event = tokio::time::timeout(WAIT, t.events.recv())
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
    // The piece is not marked, and is wanted again once the writer has failed it.
    for _ in 0..100 {
        if t.shared.download().picker.block_wanted(FIRST) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(t.shared.download().picker.block_wanted(FIRST));
    assert!(!t.shared.download().picker.have().get(0));
    let mut c = coordinator(&t);
    c.on_event(Event::DiskError(e));
    let fatal = c.fatal().unwrap_or_default().to_string();
    assert!(fatal.starts_with("disk error: cannot "), "{fatal}");
}

/// The runs `write_runs` makes of `batch`: (start, block lengths).
fn runs_of(batch: &[Job], cap: usize) -> Vec<(u32, Vec<usize>)> {
    let mut runs = Vec::new();
    write_runs::<()>(batch, cap, |begin, run| {
        runs.push((begin, run.iter().map(|b| b.len()).collect()));
        Ok(())
    })
    .unwrap();
    runs
}

#[test]
fn a_batch_is_written_in_runs_of_blocks_that_continue_one_another() {
    let b = |n: usize| Bytes::from(vec![1u8; n]);
    let batch = [
        Job::Next(0, b(100)),
        Job::Next(100, b(100)),
        Job::Next(200, b(50)),
        // Bytes ahead of a gap start a run of their own; a re-read writes nothing, and the
        // blocks after it that continue the bytes before it join their run.
        Job::Ahead(1000, b(100)),
        Job::Ahead(1100, b(100)),
        Job::Reread(250, 750),
        Job::Next(1200, b(100)),
        Job::Next(1300, b(100)),
    ];
    assert_eq!(
        runs_of(&batch, 1 << 20),
        vec![(0, vec![100, 100, 50]), (1000, vec![100, 100, 100, 100])]
    );
    // The cap ends a run: 250 bytes at most, and a block larger than the cap goes alone.
    let batch = [
        Job::Next(0, b(100)),
        Job::Next(100, b(100)),
        Job::Next(200, b(100)),
        Job::Next(300, b(400)),
        Job::Next(700, b(50)),
    ];
    assert_eq!(
        runs_of(&batch, 250),
        vec![
            (0, vec![100, 100]),
            (200, vec![100]),
            (300, vec![400]),
            (700, vec![50])
        ]
    );
    assert!(runs_of(&[Job::Reread(0, 10)], 250).is_empty());
    // So does its count of blocks.
    let batch: Vec<Job> = (0..40).map(|i| Job::Next(i, b(1))).collect();
    assert_eq!(
        runs_of(&batch, 1 << 20),
        vec![
            (0, vec![1; RUN_BLOCKS]),
            (RUN_BLOCKS as u32, vec![1; 40 - RUN_BLOCKS])
        ]
    );
}

#[test]
fn a_failed_run_ends_the_batch_with_its_error() {
    let b = |n: usize| Bytes::from(vec![1u8; n]);
    let batch = [
        Job::Next(0, b(10)),
        Job::Ahead(50, b(10)),
        Job::Next(90, b(10)),
    ];
    let mut calls = 0;
    let r = write_runs(&batch, 100, |begin, _| {
        calls += 1;
        if begin == 50 {
            Err("full")
        } else {
            Ok(())
        }
    });
    assert_eq!(r, Err("full"));
    assert_eq!(calls, 2, "nothing after the failed run is written");
}
