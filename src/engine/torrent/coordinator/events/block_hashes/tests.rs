//! Unit tests of `block_hashes.rs`: whom a failed piece's block hashes are asked of, and
//! what becomes of a wait.
use std::time::Instant;

use super::{culprits, BlockHashes, HashRequest, Waiting, ANSWER_WITHIN, MAX_WAITING};
use crate::engine::torrent::verify::blame::Culprit;

fn waiting(index: u32, conn: u64, due: Instant) -> Waiting {
    Waiting {
        index,
        head: HashRequest {
            pieces_root: [index as u8; 32],
            base_layer: 0,
            index: index * 4,
            length: 4,
            proof_layers: 0,
        },
        hash: [0; 32],
        width: 4,
        leaves: Vec::new(),
        senders: Vec::new(),
        conn,
        asked: vec![conn],
        due,
    }
}

#[test]
fn only_a_v2_peer_with_pieces_not_asked_yet_is_chosen_the_seed_first() {
    let mut b = BlockHashes::default();
    b.handshaken(1, true);
    b.handshaken(2, false);
    b.handshaken(3, true);
    b.handshaken(4, true);
    // conn 2 (no v2 bit) has every piece; 1 has some; 3 all; 4 none.
    let peers = || [(1, 10), (2, 32), (3, 32), (4, 0)].into_iter();
    assert_eq!(b.choose(peers(), &[]), Some(3));
    assert_eq!(b.choose(peers(), &[3]), Some(1));
    assert_eq!(b.choose(peers(), &[3, 1]), None);
    // One that answered before comes first; one that went quiet is not asked again.
    b.proved(1);
    assert_eq!(b.choose(peers(), &[]), Some(1));
    b.went_quiet(1);
    assert_eq!(b.choose(peers(), &[]), Some(3));
    // Among equals, the one with fewer questions unanswered: failed pieces are spread.
    b.wait(waiting(9, 3, Instant::now() + ANSWER_WITHIN));
    b.handshaken(5, true);
    let with_5 = || [(3, 32), (5, 32)].into_iter();
    assert_eq!(b.choose(with_5(), &[]), Some(5));
    b.wait(waiting(10, 5, Instant::now() + ANSWER_WITHIN));
    assert_eq!(b.choose(with_5(), &[]), Some(3));
    b.ended(5);
    // A connection that ended is asked nothing (and hands back what waited on it).
    assert_eq!(b.ended(3).len(), 1);
    assert_eq!(b.choose(peers(), &[]), None);
}

#[test]
fn an_answer_counts_only_from_the_peer_asked_and_for_what_was_asked() {
    let now = Instant::now();
    let mut b = BlockHashes::default();
    let w = waiting(5, 7, now + ANSWER_WITHIN);
    let head = w.head;
    b.wait(w.clone());
    assert_eq!(b.answered(8, &head), None, "another connection");
    let mut other = head;
    other.index += 4;
    assert_eq!(b.answered(7, &other), None, "another run");
    assert_eq!(b.answered(7, &head), Some(w));
    assert_eq!(b.answered(7, &head), None, "once");
}

#[test]
fn a_peer_that_does_not_answer_in_time_or_leaves_hands_the_piece_back() {
    let now = Instant::now();
    let mut b = BlockHashes::default();
    b.wait(waiting(1, 7, now + ANSWER_WITHIN));
    b.wait(waiting(2, 8, now + ANSWER_WITHIN));
    assert!(b.expired(now).is_empty());
    let late: Vec<u32> = b
        .expired(now + ANSWER_WITHIN)
        .iter()
        .map(|w| w.index)
        .collect();
    assert_eq!(late.len(), 2);
    // Both went quiet.
    b.handshaken(7, true);
    assert_eq!(b.choose([(7, 1)].into_iter(), &[]), None);
    b.wait(waiting(3, 9, now + ANSWER_WITHIN));
    let gone: Vec<u32> = b.ended(9).iter().map(|w| w.index).collect();
    assert_eq!(gone, [3]);
    assert!(b.expired(now + 2 * ANSWER_WITHIN).is_empty());
}

#[test]
fn waits_are_bounded() {
    let now = Instant::now();
    let mut b = BlockHashes::default();
    for i in 0..MAX_WAITING as u32 {
        assert!(b.has_room());
        b.wait(waiting(i, 1, now));
    }
    assert!(!b.has_room());
    // One piece waits once.
    b.wait(waiting(0, 2, now));
    assert_eq!(b.expired(now).len(), MAX_WAITING);
}

#[test]
fn the_senders_of_the_bad_blocks_are_the_culprits() {
    let senders = [Some(1), Some(2), None, Some(2), Some(1)];
    assert_eq!(
        culprits(&[1, 2, 3], &senders),
        [Culprit {
            conn: 2,
            blocks: vec![1, 3]
        }]
    );
    assert_eq!(
        culprits(&[4, 1, 9], &senders),
        [
            Culprit {
                conn: 1,
                blocks: vec![4]
            },
            Culprit {
                conn: 2,
                blocks: vec![1]
            }
        ]
    );
}

#[test]
fn a_proven_liars_blocks_are_named_without_asking_when_others_sent_the_rest() {
    let mut b = BlockHashes::default();
    assert!(b.liars_blocks(&[Some(1), Some(2), Some(1)]).is_empty());
    b.liar(1);
    b.liar(1);
    assert_eq!(b.liars_blocks(&[Some(1), Some(2), Some(1), None]), [0, 2]);
    // Nothing to keep: all of it came from the liar, so it is fetched again whole.
    assert!(b.liars_blocks(&[Some(1), Some(1)]).is_empty());
    assert!(b.liars_blocks(&[Some(3), None]).is_empty());
}
