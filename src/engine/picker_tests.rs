//! Unit tests of `picker.rs`.
use super::*;

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
            if let Received::Complete { contributors } = p.block_received(r, 1) {
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
    assert_eq!(other, a);
    p.debug_check();
    assert!(matches!(p.block_received(a[0], 1), Received::Stored));
    assert!(matches!(p.block_received(other[0], 2), Received::Duplicate));
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

#[path = "picker_prio_tests.rs"]
mod prio;
