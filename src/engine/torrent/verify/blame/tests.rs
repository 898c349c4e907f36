use super::*;

fn d(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn only_the_senders_of_blocks_that_differ_are_culprits() {
    let good = [d(0), d(1), d(2), d(3)];
    // Conn 7 sent blocks 1 and 3, both bad; conn 8 sent 0 and 2, both good.
    let a = Attempt {
        digests: vec![d(0), d(9), d(2), d(9)],
        senders: vec![Some(8), Some(7), Some(8), Some(7)],
    };
    assert_eq!(
        culprits(&[a], &good),
        vec![Culprit {
            conn: 7,
            blocks: vec![1, 3]
        }]
    );
}

#[test]
fn a_good_piece_again_blames_nobody() {
    let good = [d(0), d(1)];
    let a = Attempt {
        digests: good.to_vec(),
        senders: vec![Some(1), Some(2)],
    };
    assert!(culprits(&[a], &good).is_empty());
}

#[test]
fn attempts_add_up_and_a_block_is_named_once() {
    let good = [d(0), d(1), d(2)];
    let first = Attempt {
        digests: vec![d(9), d(1), d(2)],
        senders: vec![Some(5), Some(6), Some(6)],
    };
    let second = Attempt {
        digests: vec![d(9), d(1), d(8)],
        senders: vec![Some(5), Some(5), Some(6)],
    };
    assert_eq!(
        culprits(&[first, second], &good),
        vec![
            Culprit {
                conn: 5,
                blocks: vec![0]
            },
            Culprit {
                conn: 6,
                blocks: vec![2]
            }
        ]
    );
}

#[test]
fn a_block_of_unknown_sender_or_past_the_piece_blames_nobody() {
    let good = [d(0)];
    let a = Attempt {
        digests: vec![d(9), d(9)],
        senders: vec![None, Some(3)],
    };
    assert!(culprits(&[a], &good).is_empty());
}

#[test]
fn blame_waits_for_a_failure_from_several_senders_while_its_attempts_are_kept() {
    for v2 in [false, true] {
        assert_eq!(on_failure(&[1], 1, v2), Blame::Contributors);
        assert_eq!(on_failure(&[1, 2], 1, v2), Blame::Deferred);
        // Not kept (no room, or the bytes could not be read back): nothing to prove it later.
        assert_eq!(on_failure(&[1, 2], 0, v2), Blame::Contributors);
    }
    // A v1 piece that failed again charges everyone; a v2 one waits while its attempts are
    // kept.
    assert_eq!(on_failure(&[1, 2], 2, false), Blame::Contributors);
    assert_eq!(on_failure(&[1, 2], 2, true), Blame::Deferred);
    assert_eq!(
        on_failure(&[1, 2], ATTEMPTS_PER_PIECE, true),
        Blame::Deferred
    );
    assert_eq!(
        on_failure(&[1, 2], ATTEMPTS_PER_PIECE + 1, true),
        Blame::Contributors
    );
}

#[test]
fn digests_cover_each_block_and_the_short_last_one() {
    let data: Vec<u8> = (0..2 * BLOCK_LEN as usize + 10).map(|i| i as u8).collect();
    let got = block_digests(data.len() as u32, |begin, buf| {
        buf.copy_from_slice(&data[begin as usize..begin as usize + buf.len()]);
        Ok(())
    })
    .unwrap();
    let want: Vec<[u8; 32]> = data
        .chunks(BLOCK_LEN as usize)
        .map(|c| Sha256::digest(c).into())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn many_blocks_are_named_in_short() {
    assert_eq!(block_list(&[3]), "3");
    assert_eq!(block_list(&[3, 7]), "3, 7");
    let many: Vec<u32> = (0..10).collect();
    assert_eq!(block_list(&many), "0, 1, 2, 3, 4, 5, 6, 7 and 2 more");
}

#[test]
fn a_deferred_v2_piece_of_several_blocks_is_narrowed() {
    let leaves = vec![[1; 32], [2; 32]];
    let senders = vec![Some(1), Some(2)];
    assert_eq!(
        narrow(Blame::Deferred, 2, Some(leaves.clone()), senders.clone()),
        Blame::Narrow {
            width: 2,
            leaves: leaves.clone(),
            senders: senders.clone()
        }
    );
    // One block: nothing to narrow. v1 (no leaves): nothing to ask. A sole sender: charged.
    assert_eq!(
        narrow(Blame::Deferred, 1, Some(leaves.clone()), senders.clone()),
        Blame::Deferred
    );
    assert_eq!(
        narrow(Blame::Deferred, 0, None, senders.clone()),
        Blame::Deferred
    );
    assert_eq!(
        narrow(Blame::Contributors, 2, Some(leaves), senders),
        Blame::Contributors
    );
}
