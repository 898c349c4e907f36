use super::*;

const B: u32 = 16_384;

/// A piece of `len` bytes where byte i is `i * 7 + 3` (so a block out of place hashes wrong).
fn piece(len: u32) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(7) + 3) as u8).collect()
}

fn digest(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

fn block(p: &[u8], begin: u32, len: u32) -> Bytes {
    Bytes::copy_from_slice(&p[begin as usize..(begin + len) as usize])
}

/// Feeds `order` (block begins, in arrival order) through the cursor and hashes what it
/// releases, as the writer does; returns the hash, what each push did, and the release order.
fn run(p: &[u8], blocks: &[(u32, u32)]) -> (PieceHash, Vec<Push>, Vec<u32>, InOrder) {
    run_capped(p, blocks, AHEAD_CAP)
}

/// As `run`, with `cap` bytes allowed to wait; a "disk" takes what is written ahead and gives
/// it back for its hash, as the writer does with the file.
fn run_capped(
    p: &[u8],
    blocks: &[(u32, u32)],
    cap: usize,
) -> (PieceHash, Vec<Push>, Vec<u32>, InOrder) {
    let mut cursor = InOrder::with_cap(p.len() as u32, cap);
    let mut hash = PieceHash::default();
    let mut released = Vec::new();
    let mut pushes = Vec::new();
    let mut disk = vec![0u8; p.len()];
    for &(begin, len) in blocks {
        let data = if u64::from(begin) + u64::from(len) <= p.len() as u64 {
            block(p, begin, len)
        } else {
            Bytes::from(vec![0u8; len as usize])
        };
        pushes.push(cursor.push(begin, data, |job| match job {
            Job::Next(at, d) => {
                released.push(at);
                hash.update(&d);
            }
            Job::Ahead(at, d) => disk[at as usize..at as usize + d.len()].copy_from_slice(&d),
            Job::Reread(at, n) => {
                released.push(at);
                hash.update(&disk[at as usize..(at + n) as usize]);
            }
        }));
    }
    (hash, pushes, released, cursor)
}

/// The bytes a job hashes now, for tests that feed a hash by hand.
fn next_bytes(job: Job) -> Bytes {
    match job {
        Job::Next(_, d) => d,
        other => panic!("expected the next bytes, got {other:?}"),
    }
}

#[test]
fn in_order_blocks_are_released_at_once_and_match() {
    let p = piece(3 * B);
    let (hash, pushes, released, cursor) = run(&p, &[(0, B), (B, B), (2 * B, B)]);
    assert_eq!(pushes, vec![Push::Released; 3]);
    assert_eq!(released, vec![0, B, 2 * B]);
    assert!(cursor.is_complete());
    assert_eq!(cursor.waiting_bytes(), 0);
    assert!(hash.matches(3 * B, Some(&digest(&p))));
}

#[test]
fn out_of_order_blocks_wait_for_the_gap_then_follow_it() {
    let p = piece(4 * B);
    let (hash, pushes, released, cursor) = run(&p, &[(3 * B, B), (B, B), (0, B), (2 * B, B)]);
    assert_eq!(
        pushes,
        vec![Push::Waiting, Push::Waiting, Push::Released, Push::Released]
    );
    assert_eq!(released, vec![0, B, 2 * B, 3 * B], "hashed in piece order");
    assert!(cursor.is_complete());
    assert!(hash.matches(4 * B, Some(&digest(&p))));
}

#[test]
fn a_gap_filled_late_holds_only_the_blocks_after_it() {
    let p = piece(5 * B);
    let (_, _, released, cursor) = run(&p, &[(0, B), (2 * B, B), (3 * B, B), (4 * B, B)]);
    assert_eq!(released, vec![0]);
    assert!(!cursor.is_complete());
    assert_eq!(cursor.waiting_bytes(), 3 * B as usize);
    // Now the gap: everything goes, nothing stays.
    let (hash, _, released, cursor) =
        run(&p, &[(0, B), (2 * B, B), (3 * B, B), (4 * B, B), (B, B)]);
    assert_eq!(released, vec![0, B, 2 * B, 3 * B, 4 * B]);
    assert_eq!(cursor.waiting_bytes(), 0);
    assert!(hash.matches(5 * B, Some(&digest(&p))));
}

#[test]
fn a_duplicate_block_is_ignored_before_and_after_release() {
    let p = piece(3 * B);
    // 2B twice while waiting, 0 twice after release.
    let (hash, pushes, released, cursor) = run(
        &p,
        &[(2 * B, B), (2 * B, B), (0, B), (0, B), (B, B), (B, B)],
    );
    assert_eq!(
        pushes,
        vec![
            Push::Waiting,
            Push::Ignored,
            Push::Released,
            Push::Ignored,
            Push::Released,
            Push::Ignored
        ]
    );
    assert_eq!(released, vec![0, B, 2 * B]);
    assert_eq!(cursor.waiting_bytes(), 0);
    assert!(hash.matches(3 * B, Some(&digest(&p))));
}

#[test]
fn a_wrong_block_fails_the_hash() {
    let p = piece(2 * B);
    let mut cursor = InOrder::new(2 * B);
    let mut hash = PieceHash::default();
    cursor.push(0, block(&p, 0, B), |j| hash.update(&next_bytes(j)));
    let mut bad = block(&p, B, B).to_vec();
    bad[100] ^= 1;
    cursor.push(B, Bytes::from(bad), |j| hash.update(&next_bytes(j)));
    assert!(cursor.is_complete());
    assert!(!hash.matches(2 * B, Some(&digest(&p))));
}

#[test]
fn an_incomplete_or_unknown_piece_never_matches() {
    let p = piece(2 * B);
    let mut hash = PieceHash::default();
    hash.update(&p[..B as usize]);
    // Half the bytes hash to the half's digest, but the piece is longer.
    assert!(!hash.clone().matches(2 * B, Some(&digest(&p[..B as usize]))));
    assert!(hash.clone().matches(B, Some(&digest(&p[..B as usize]))));
    assert!(!hash.matches(B, None), "no expected hash (no such piece)");
}

#[test]
fn the_last_short_block_of_the_last_piece_completes_it() {
    // The torrent's last piece: two full blocks and 10 bytes.
    let len = 2 * B + 10;
    let p = piece(len);
    let (hash, pushes, released, cursor) = run(&p, &[(2 * B, 10), (0, B), (B, B)]);
    assert_eq!(pushes[0], Push::Waiting);
    assert_eq!(released, vec![0, B, 2 * B]);
    assert!(cursor.is_complete());
    assert!(hash.matches(len, Some(&digest(&p))));
}

#[test]
fn a_block_past_the_end_or_empty_is_ignored() {
    let len = B + 10;
    let p = piece(len);
    let (_, pushes, released, cursor) = run(&p, &[(B, B), (u32::MAX - 5, B), (B, 0), (0, B)]);
    assert_eq!(
        pushes,
        vec![Push::Ignored, Push::Ignored, Push::Ignored, Push::Released]
    );
    assert_eq!(released, vec![0]);
    assert_eq!(cursor.waiting_bytes(), 0);
    assert!(!cursor.is_complete());
}

#[test]
fn a_block_overlapping_released_bytes_is_dropped_when_the_gap_reaches_it() {
    let p = piece(3 * B);
    // A block at B/2 waits; when 0..B is released it starts inside released bytes.
    let (_, _, released, cursor) = run(&p, &[(B / 2, B), (0, B), (B, B)]);
    assert_eq!(released, vec![0, B]);
    assert_eq!(cursor.waiting_bytes(), 0);
}

#[test]
fn past_the_cap_blocks_ahead_of_a_gap_are_written_and_read_back_in_order() {
    // Eight blocks, the first one last; only two may wait in memory.
    let p = piece(8 * B);
    let mut order: Vec<(u32, u32)> = (1..8).map(|i| (i * B, B)).collect();
    order.push((0, B));
    let (hash, pushes, released, cursor) = run_capped(&p, &order, 2 * B as usize);
    assert_eq!(&pushes[..2], &[Push::Waiting, Push::Waiting]);
    assert_eq!(&pushes[2..7], &[Push::WrittenAhead; 5]);
    assert_eq!(pushes[7], Push::Released);
    assert_eq!(
        released,
        (0..8).map(|i| i * B).collect::<Vec<_>>(),
        "hashed in order"
    );
    assert!(cursor.is_complete());
    assert_eq!(cursor.waiting_bytes(), 0);
    assert!(hash.matches(8 * B, Some(&digest(&p))));
}

#[test]
fn memory_ahead_of_a_gap_never_passes_the_cap() {
    let p = piece(64 * B);
    let mut cursor = InOrder::with_cap(64 * B, 4 * B as usize);
    let mut most = 0;
    for i in 1..64 {
        cursor.push(i * B, block(&p, i * B, B), |_| {});
        most = most.max(cursor.waiting_bytes());
    }
    assert_eq!(most, 4 * B as usize);
}

#[test]
fn a_duplicate_of_a_block_written_ahead_is_ignored() {
    let p = piece(3 * B);
    let (hash, pushes, released, _) =
        run_capped(&p, &[(B, B), (2 * B, B), (2 * B, B), (0, B)], B as usize);
    assert_eq!(
        pushes,
        vec![
            Push::Waiting,
            Push::WrittenAhead,
            Push::Ignored,
            Push::Released
        ]
    );
    assert_eq!(released, vec![0, B, 2 * B]);
    assert!(hash.matches(3 * B, Some(&digest(&p))));
}

#[test]
fn a_v2_piece_hashes_its_files_bytes_as_a_tree_and_skips_the_padding() {
    use crate::protocol::merkle;
    use crate::protocol::metainfo::V2Piece;
    // 40,000 bytes of a file at the end of a 64 KiB piece: three leaves, the last partial,
    // and 25,536 bytes of alignment padding after them that no leaf covers.
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let leaves: Vec<merkle::Hash> = data.chunks(16_384).map(merkle::leaf).collect();
    let want = V2Piece {
        hash: merkle::root(&leaves, 4, [0; 32]),
        data: 40_000,
        leaves: 4,
    };
    let mut piece = data.clone();
    piece.resize(65_536, 0);
    assert!(want.matches_bytes(&piece));
    let mut hash = PieceHash::new(Some(&want));
    // Fed in pieces that do not fall on leaf boundaries, padding included.
    for chunk in piece.chunks(10_000) {
        hash.update(chunk);
    }
    assert!(hash.clone().matches(65_536, Expected::Merkle(Some(&want))));
    assert!(!hash.clone().matches(65_535, Expected::Merkle(Some(&want))));
    assert!(!hash.matches(65_536, Expected::Sha1(None)), "hashed as v2");
    // One byte of the file changed: no match.
    let mut bad = PieceHash::new(Some(&want));
    piece[39_999] ^= 1;
    bad.update(&piece);
    assert!(!bad.matches(65_536, Expected::Merkle(Some(&want))));
}

#[test]
fn a_resumed_piece_rereads_its_good_blocks_around_the_ones_fetched_again() {
    // Blocks 0, 2 and 3 are on disk and good; block 1 is fetched again.
    let b = 16_384u32;
    let mut out = Vec::new();
    let mut c = InOrder::resumed(4 * b, [(0, b), (2 * b, b), (3 * b, b)], |j| out.push(j));
    assert_eq!(
        out,
        [Job::Reread(0, b)],
        "the good prefix is read back at once"
    );
    out.clear();
    let data = Bytes::from(vec![1u8; b as usize]);
    assert_eq!(c.push(b, data.clone(), |j| out.push(j)), Push::Released);
    assert_eq!(
        out,
        [
            Job::Next(b, data),
            Job::Reread(2 * b, b),
            Job::Reread(3 * b, b)
        ]
    );
    assert!(c.is_complete());
    // Good blocks that do not fit the piece are not taken.
    let mut none = Vec::new();
    let c = InOrder::resumed(b, [(b, b)], |j| none.push(j));
    assert!(none.is_empty() && !c.is_complete());
}

#[test]
fn a_v2_verdict_gives_the_leaves_as_hashed() {
    use crate::protocol::merkle;
    use crate::protocol::metainfo::V2Piece;
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let leaves: Vec<merkle::Hash> = data.chunks(16_384).map(merkle::leaf).collect();
    let want = V2Piece {
        hash: merkle::root(&leaves, 4, [0; 32]),
        data: 40_000,
        leaves: 4,
    };
    let mut piece = data.clone();
    piece.resize(65_536, 0);
    piece[20_000] ^= 1;
    let mut hash = PieceHash::new(Some(&want));
    hash.update(&piece);
    let (ok, got) = hash.verdict(65_536, Expected::Merkle(Some(&want)));
    assert!(!ok);
    let got = got.unwrap();
    assert_eq!(got.len(), 3, "the file's blocks only, the last one short");
    assert_eq!((got[0], got[2]), (leaves[0], leaves[2]));
    assert_ne!(got[1], leaves[1]);
    let mut v1 = PieceHash::default();
    v1.update(&piece);
    assert_eq!(v1.verdict(65_536, Expected::Sha1(None)), (false, None));
}
