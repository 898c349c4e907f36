//! Piece deadlines (`picker/deadline.rs`).
use super::*;

/// 16 pieces of one 16 KiB block each.
fn picker() -> (Picker, Bitfield) {
    let mut p = Picker::new(16, BLOCK_LEN, 16 * u64::from(BLOCK_LEN), Bitfield::new(16));
    let peer = Bitfield::full(16);
    p.add_bitfield(&peer);
    (p, peer)
}

#[test]
fn deadline_pieces_come_first_in_their_order() {
    let (mut p, peer) = picker();
    p.set_deadlines(vec![9, 3, 12]);
    let mut out = Vec::new();
    p.pick(&peer, 3, &|_| false, &mut out);
    p.debug_check();
    let pieces: Vec<u32> = out.iter().map(|r| r.index).collect();
    assert_eq!(pieces, vec![9, 3, 12]);
}

#[test]
fn a_seek_moves_the_next_requests_to_the_new_window() {
    let (mut p, peer) = picker();
    p.set_deadlines(vec![0, 1]);
    let mut out = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut out);
    assert_eq!(out[0].index, 0);
    p.set_deadlines(vec![14, 15]);
    let mut next = Vec::new();
    p.pick(&peer, 2, &|_| false, &mut next);
    p.debug_check();
    let pieces: Vec<u32> = next.iter().map(|r| r.index).collect();
    assert_eq!(pieces, vec![14, 15]);
}

#[test]
fn a_skipped_piece_on_a_deadline_is_fetched_and_stays_wanted() {
    let (mut p, peer) = picker();
    p.set_priorities(vec![FilePriority::Skip; 16]);
    assert!(p.is_complete());
    p.set_deadlines(vec![5]);
    p.debug_check();
    assert!(!p.is_complete());
    let mut out = Vec::new();
    p.pick(&peer, 4, &|_| false, &mut out);
    p.debug_check();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].index, 5);
    // A later change of the files' priorities does not skip it again.
    p.set_priorities(vec![FilePriority::Skip; 16]);
    p.debug_check();
    assert!(p.wants(5));
    assert!(!p.wants(6));
}

#[test]
fn deadlines_ignore_pieces_we_have_and_the_peer_lacks() {
    let (mut p, _) = picker();
    let mut peer = Bitfield::new(16);
    peer.set(7);
    peer.set(8);
    p.set_deadlines(vec![2, 7, 99, 7, 8]);
    assert_eq!(p.deadlines(), &[2, 7, 8]);
    let mut out = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut out);
    let r = out[0];
    assert_eq!(r.index, 7);
    assert!(matches!(p.block_received(r, 1), Received::Complete { .. }));
    p.piece_verified(7);
    let mut next = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut next);
    assert_eq!(next[0].index, 8);
    p.debug_check();
}

#[test]
fn the_blocks_requested_in_a_window_are_listed_for_cancelling() {
    let mut p = Picker::new(4, 2 * BLOCK_LEN, 8 * u64::from(BLOCK_LEN), Bitfield::new(4));
    let peer = Bitfield::full(4);
    p.add_bitfield(&peer);
    p.set_deadlines(vec![1]);
    let mut out = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut out);
    assert_eq!(out[0].index, 1);
    assert_eq!(p.requested_in(&[1, 2]), out);
    assert!(matches!(p.block_received(out[0], 1), Received::Stored));
    assert!(p.requested_in(&[1]).is_empty());
    p.debug_check();
}

#[test]
fn a_stream_block_late_on_one_peer_is_asked_of_another_before_endgame() {
    let (mut p, peer) = picker();
    p.set_endgame_late(std::time::Duration::ZERO);
    p.set_deadlines(vec![7]);
    let mut slow = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut slow);
    assert_eq!(slow.iter().map(|r| r.index).collect::<Vec<_>>(), vec![7]);
    // Fifteen pieces are not even asked for yet: no endgame. The stream's block is copied to
    // the next peer first all the same; that peer never gets it twice.
    assert!(!p.in_endgame());
    let mut fast = Vec::new();
    let asked = slow[0];
    p.pick(&peer, 2, &|_| false, &mut fast);
    p.debug_check();
    assert_eq!(fast[0], asked);
    assert_ne!(fast[1].index, 7);
    let mut again = Vec::new();
    p.pick(&peer, 1, &|r| r == asked, &mut again);
    p.debug_check();
    assert_ne!(again[0], asked, "a block asked of this peer already");
}
