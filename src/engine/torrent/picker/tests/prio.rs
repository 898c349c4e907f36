//! Unit tests of the picker's priority classes, skipped pieces and sequential order.
use super::*;
use FilePriority::*;

const PIECE: u32 = 16 * 1024;

/// A picker of `n` one-block pieces, none verified, every piece seen on `avail` peers.
fn picker(n: u32, avail: &[u16]) -> Picker {
    let mut p = Picker::new(n, PIECE, u64::from(n * PIECE), Bitfield::new(n));
    for (i, a) in avail.iter().enumerate() {
        for _ in 0..*a {
            p.add_availability(i as u32);
        }
    }
    p
}

/// Picks one piece at a time and completes it at once: the order pieces are started in.
fn order(p: &mut Picker) -> Vec<u32> {
    let peer = Bitfield::full(p.num_pieces());
    let mut seen = Vec::new();
    for _ in 0..p.num_pieces() + 1 {
        let mut out = Vec::new();
        p.pick(&peer, 1, &|_| false, &mut out);
        p.debug_check();
        let Some(r) = out.first() else { break };
        assert!(matches!(p.block_received(*r, 1), Received::Complete { .. }));
        p.piece_verified(r.index);
        p.debug_check();
        seen.push(r.index);
    }
    seen
}

#[test]
fn skipped_pieces_are_never_requested_and_do_not_hold_completion() {
    let mut p = picker(6, &[1; 6]);
    p.set_priorities(vec![Normal, Skip, Normal, Skip, Skip, Low]);
    p.debug_check();
    assert!(!p.wants(1) && p.wants(0));
    let mut only_skipped = Bitfield::new(6);
    only_skipped.set(1);
    only_skipped.set(3);
    assert!(!p.wants_any(&only_skipped));
    assert_eq!(p.left(), 3 * u64::from(PIECE));
    let mut got = order(&mut p);
    got.sort_unstable();
    assert_eq!(got, vec![0, 2, 5]);
    assert!(p.is_complete() && !p.have().is_complete());
    assert_eq!(p.left(), 0);
    // Un-skipping one fetches it, and only it.
    let mut prio = vec![Normal; 6];
    prio[1] = Skip;
    prio[4] = Skip;
    p.set_priorities(prio);
    assert!(!p.is_complete());
    assert_eq!(order(&mut p), vec![3]);
    assert!(p.is_complete());
}

#[test]
fn high_before_normal_before_low_rarest_first_within_a_class() {
    // Availability: the rarest pieces are low ones, so classes must win over rarity.
    let avail = [1, 9, 5, 2, 1, 8, 3, 4];
    let mut have = Bitfield::new(12);
    // Past the random first pieces: 4 verified already (pieces 8..12).
    for i in 8..12 {
        have.set(i);
    }
    let mut p = Picker::new(12, PIECE, 12 * u64::from(PIECE), have);
    for (i, a) in avail.iter().enumerate() {
        for _ in 0..*a {
            p.add_availability(i as u32);
        }
    }
    let mut prio = vec![Low, High, Normal, Normal, Low, High, Normal, Skip];
    prio.extend([Normal; 4]);
    p.set_priorities(prio);
    // High {1: 9, 5: 8} → 5, 1; Normal {2: 5, 3: 2, 6: 3} → 3, 6, 2; Low {0: 1, 4: 1}.
    let got = order(&mut p);
    assert_eq!(&got[..5], &[5, 1, 3, 6, 2]);
    let mut low = got[5..].to_vec();
    low.sort_unstable();
    assert_eq!(low, vec![0, 4]);
}

#[test]
fn sequential_takes_the_lowest_index_and_boosted_pieces_first() {
    let mut p = picker(10, &[1, 5, 5, 1, 1, 5, 1, 2, 5, 1]);
    p.set_priorities(vec![
        Normal, Normal, Skip, Normal, Normal, Normal, Normal, Normal, Normal, Normal,
    ]);
    p.set_order(true, Vec::new());
    assert_eq!(order(&mut p), vec![0, 1, 3, 4, 5, 6, 7, 8, 9]);

    let mut p = picker(10, &[1; 10]);
    // One wanted file over pieces 2..=7: its first and last go first.
    p.set_priorities(vec![
        Skip, Skip, Normal, Normal, Normal, Normal, Normal, Normal, Skip, Skip,
    ]);
    p.set_order(true, vec![7, 2]);
    assert_eq!(order(&mut p), vec![2, 7, 3, 4, 5, 6]);
}

#[test]
fn a_piece_skipped_while_in_flight_is_finished_then_nothing_more() {
    let mut p = picker(3, &[1; 3]);
    p.set_order(true, Vec::new());
    let peer = Bitfield::full(3);
    let mut out = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut out);
    assert_eq!(out[0].index, 0);
    p.set_priorities(vec![Skip, Skip, Normal]);
    p.debug_check();
    // Released with nothing received: it leaves the pool and the counts.
    p.release(out.clone());
    p.debug_check();
    assert!(!p.block_wanted(out[0]));
    assert_eq!(order(&mut p), vec![2]);
    assert!(p.is_complete());
}

/// A verified piece whose data is gone is missing again: wanted, it is fetched again and the
/// torrent is not complete until it is; skipped, it only leaves `have`.
#[test]
fn a_lost_piece_is_missing_again_and_fetched_when_wanted() {
    let mut p = Picker::new(6, PIECE, 6 * u64::from(PIECE), Bitfield::full(6));
    p.set_priorities(vec![Normal, Skip, Normal, Normal, Normal, Normal]);
    assert!(p.is_complete());
    assert!(p.piece_lost(2));
    p.debug_check();
    assert!(!p.piece_lost(2), "lost once");
    assert!(!p.piece_lost(6), "out of range");
    assert!(!p.have().get(2) && !p.is_complete());
    assert_eq!(p.left(), u64::from(PIECE));
    assert!(p.wants(2));
    assert!(p.piece_lost(1));
    p.debug_check();
    assert!(!p.wants(1));
    assert_eq!(p.left(), u64::from(PIECE));
    assert_eq!(order(&mut p), vec![2]);
    assert!(p.is_complete() && !p.have().get(1));
}
