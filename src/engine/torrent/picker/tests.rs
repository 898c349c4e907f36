//! Unit tests of `picker.rs`.
use super::*;
use endgame::ENDGAME_LATE;
use std::time::{Duration, Instant};

#[test]
fn downloads_everything_once_then_completes() {
    // 3 pieces of 40 KiB (3 blocks, last 8 KiB) + a 10-byte last piece.
    let total = 3 * 40 * 1024 + 10;
    let mut p = Picker::new(4, 40 * 1024, total, Bitfield::new(4));
    let peer = Bitfield::full(4);
    p.add_bitfield(&peer);
    let mut got = 0u64;
    let mut completed = 0;
    loop {
        let mut out = Vec::new();
        p.pick(&peer, 5, &|_| false, &mut out);
        p.debug_check();
        if out.is_empty() {
            break;
        }
        for r in out {
            got += r.length as u64;
            if let Received::Complete { contributors, .. } = p.block_received(r, 1) {
                assert_eq!(contributors, vec![1]);
                p.piece_verified(r.index);
                completed += 1;
            }
            p.debug_check();
        }
    }
    assert_eq!(completed, 4);
    assert_eq!(got, total);
    assert!(p.is_complete());
    assert_eq!(p.verified_bytes(), total);
}

#[test]
fn released_blocks_and_failed_pieces_come_back() {
    let mut p = Picker::new(2, 32 * 1024, 64 * 1024, Bitfield::new(2));
    p.set_endgame_late(Duration::ZERO);
    let peer = Bitfield::full(2);
    let mut out = Vec::new();
    p.pick(&peer, 2, &|_| false, &mut out);
    assert_eq!(out.len(), 2);
    p.release(out.clone());
    p.debug_check();
    let mut again = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut again);
    assert_eq!(again.len(), 4);
    for r in again.iter().filter(|r| r.index == again[0].index) {
        if let Received::Complete { .. } = p.block_received(*r, 7) {
            p.piece_failed(r.index);
        }
    }
    p.debug_check();
    let mut states = Vec::new();
    p.piece_states(&mut states);
    assert!(states.contains(&PieceState::Failed));
    // The failed piece is requestable again.
    let failed = again[0].index;
    let mut third = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut third);
    assert_eq!(third.iter().filter(|r| r.index == failed).count(), 2);
    // Everything is now requested: the rest are endgame duplicates of the other piece.
    assert!(p.in_endgame());
    assert!(third
        .iter()
        .filter(|r| r.index != failed)
        .all(|r| again.contains(r)));
}

#[test]
fn a_late_block_of_a_released_piece_is_kept() {
    let mut p = Picker::new(2, 32 * 1024, 64 * 1024, Bitfield::new(2));
    let mut out = Vec::new();
    p.pick(&Bitfield::full(2), 1, &|_| false, &mut out);
    p.release(out.clone());
    p.debug_check();
    assert!(matches!(p.block_received(out[0], 1), Received::Stored));
    p.debug_check();
    let mut states = Vec::new();
    p.piece_states(&mut states);
    assert_eq!(states[out[0].index as usize], PieceState::InFlight);
}

#[test]
fn endgame_duplicates_onto_other_peers_only() {
    let mut p = Picker::new(1, 32 * 1024, 32 * 1024, Bitfield::new(1));
    p.set_endgame_late(Duration::ZERO);
    let peer = Bitfield::full(1);
    let mut a = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut a);
    assert_eq!(a.len(), 2);
    assert!(p.in_endgame());
    let mine = a.clone();
    let mut same = Vec::new();
    p.pick(&peer, 10, &|r| mine.contains(&r), &mut same);
    assert!(same.is_empty());
    let mut other = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut other);
    // The same blocks, newest request first.
    assert_eq!(other, a.iter().rev().copied().collect::<Vec<_>>());
    p.debug_check();
    assert!(matches!(p.block_received(a[0], 1), Received::Stored));
    assert!(matches!(p.block_received(other[1], 2), Received::Duplicate));
}

#[test]
fn endgame_asks_for_one_copy_of_a_block_at_most() {
    // One piece of 4 blocks, all requested from a first peer.
    let mut p = Picker::new(1, 64 * 1024, 64 * 1024, Bitfield::new(1));
    p.set_endgame_late(Duration::ZERO);
    let peer = Bitfield::full(1);
    let mut a = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut a);
    assert_eq!(a.len(), 4);
    let mut b = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut b);
    assert_eq!(b.len(), 4);
    // A third peer gets nothing: every block has its one copy.
    let mut c = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut c);
    assert!(c.is_empty(), "third copies: {c:?}");
    p.debug_check();
    // A copy given back (its peer choked) can be asked of another peer again.
    p.release([b[0]]);
    p.pick(&peer, 10, &|_| false, &mut c);
    assert_eq!(c, vec![b[0]]);
    p.debug_check();
}

#[test]
fn endgame_copies_the_newest_requests_first() {
    // 2 pieces of 4 blocks: the first peer asks for 3 blocks, a second for the other 5.
    let mut p = Picker::new(2, 64 * 1024, 128 * 1024, Bitfield::new(2));
    p.set_endgame_late(Duration::ZERO);
    let peer = Bitfield::full(2);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    p.pick(&peer, 3, &|_| false, &mut first);
    p.pick(&peer, 5, &|_| false, &mut second);
    assert!(p.in_endgame());
    // A third peer with room for 2 copies the last two blocks the second one asked for:
    // those it sends last, so a cancel there is still in time.
    let mut third = Vec::new();
    p.pick(&peer, 2, &|_| false, &mut third);
    assert_eq!(third, vec![second[4], second[3]]);
    // A fourth takes the next newest, never those a peer has in flight itself.
    let mine = second.clone();
    let mut fourth = Vec::new();
    p.pick(&peer, 2, &|r| mine.contains(&r), &mut fourth);
    assert_eq!(fourth, vec![first[2], first[1]]);
    p.debug_check();
}

#[test]
fn endgame_copies_only_late_requests() {
    let mut p = Picker::new(1, 64 * 1024, 64 * 1024, Bitfield::new(1));
    let peer = Bitfield::full(1);
    let mut a = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut a);
    assert!(p.in_endgame());
    // Just asked for: a peer that keeps up delivers them, no copy yet.
    let mut b = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut b);
    assert!(b.is_empty(), "copies of fresh requests: {b:?}");
    // Once late, they are copied (newest first).
    let later = Instant::now() + ENDGAME_LATE;
    p.pick_endgame(&[0], 10, &|_| false, &mut b, later);
    assert_eq!(b, a.iter().rev().copied().collect::<Vec<_>>());
    p.debug_check();
}

#[test]
fn a_block_off_the_block_grid_is_never_ours() {
    let mut p = Picker::new(1, 32 * 1024, 32 * 1024, Bitfield::new(1));
    let mut out = Vec::new();
    p.pick(&Bitfield::full(1), 10, &|_| false, &mut out);
    let odd = BlockRef {
        index: 0,
        begin: 100,
        length: 16,
    };
    assert!(matches!(p.block_received(odd, 1), Received::Duplicate));
    assert!(!p.block_wanted(odd));
    p.release([odd]);
    p.debug_check();
    assert!(p.block_wanted(out[0]));
}

#[test]
fn rarest_first_after_random_start() {
    let mut have = Bitfield::new(10);
    for i in 0..4 {
        have.set(i);
    }
    let mut p = Picker::new(10, 16 * 1024, 160 * 1024, have);
    for i in 4..10 {
        for _ in 0..(if i == 7 { 1 } else { 5 }) {
            p.add_availability(i);
        }
    }
    let mut out = Vec::new();
    p.pick(&Bitfield::full(10), 1, &|_| false, &mut out);
    assert_eq!(out[0].index, 7);
}

mod prio;

mod deadline;

/// A piece that failed while a request of its first try still waits at a peer (an endgame
/// copy never answered) is fetched again, but that block is not asked of that peer twice.
#[test]
fn a_failed_piece_is_not_asked_again_of_a_peer_that_still_has_its_block_in_flight() {
    let mut p = Picker::new(1, 32 * 1024, 32 * 1024, Bitfield::new(1));
    let peer = Bitfield::full(1);
    let mut first = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut first);
    assert_eq!(first.len(), 2);
    let waiting = first[1];
    for r in &first {
        if let Received::Complete { .. } = p.block_received(*r, 1) {
            p.piece_failed(r.index);
        }
    }
    p.debug_check();
    let mut again = Vec::new();
    p.pick(&peer, 10, &|r| r == waiting, &mut again);
    p.debug_check();
    assert_eq!(
        again,
        vec![first[0]],
        "the block in flight here is left to others"
    );
    let mut other = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut other);
    assert_eq!(other, vec![waiting]);
}

/// A failed piece narrowed to its bad blocks is asked for those alone, and completes with
/// the senders of its good blocks kept.
#[test]
fn a_narrowed_piece_fetches_its_bad_blocks_alone() {
    // One piece of four blocks.
    let mut p = Picker::new(1, 64 * 1024, 64 * 1024, Bitfield::new(1));
    let peer = Bitfield::full(1);
    p.add_bitfield(&peer);
    let mut out = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut out);
    assert_eq!(out.len(), 4);
    let mut senders = Vec::new();
    for (i, r) in out.iter().enumerate() {
        if let Received::Complete { senders: s, .. } = p.block_received(*r, i as u64 % 2 + 1) {
            senders = s;
        }
    }
    assert_eq!(senders, [Some(1), Some(2), Some(1), Some(2)]);
    p.debug_check();
    // No bad block inside it: refused, nothing changed.
    assert!(!p.refetch_blocks(0, &[9], &senders));
    p.debug_check();
    assert!(p.refetch_blocks(0, &[1, 3], &senders));
    p.debug_check();
    assert!(!p.refetch_blocks(0, &[1], &senders), "no longer held");
    let mut again = Vec::new();
    p.pick(&peer, 10, &|_| false, &mut again);
    p.debug_check();
    let begins: Vec<u32> = again.iter().map(|r| r.begin).collect();
    assert_eq!(begins, [16_384, 49_152]);
    let mut done = None;
    for r in again {
        if let Received::Complete {
            contributors,
            senders,
        } = p.block_received(r, 3)
        {
            done = Some((contributors, senders));
        }
    }
    let (contributors, senders) = done.expect("complete with the bad blocks alone");
    assert_eq!(contributors, [1, 3]);
    assert_eq!(senders, [Some(1), Some(3), Some(1), Some(3)]);
    p.piece_verified(0);
    p.debug_check();
    assert!(p.is_complete());
}
