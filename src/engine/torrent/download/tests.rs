use super::*;
use crate::engine::disk::backlog::WriteBacklog;
use crate::engine::disk::inorder::Job;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::message::BLOCK_LEN;

fn block(r: &BlockRef) -> Bytes {
    Bytes::from(vec![r.begin as u8 + 1; r.length as usize])
}

/// The begins of the blocks queued for piece `index`'s writer.
fn queued(d: &Download, index: u32) -> Vec<u32> {
    d.pieces
        .get(&index)
        .map(|f| {
            f.jobs
                .iter()
                .map(|j| match j {
                    Job::Next(b, _) | Job::Ahead(b, _) | Job::Reread(b, _) => *b,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn blocks_are_queued_in_piece_order_and_only_gaps_are_held() {
    // One piece of three blocks, the last one short.
    let len = 2 * BLOCK_LEN + 10;
    let mut d = Download::new(
        Picker::new(1, len, len as u64, Bitfield::new(1)),
        Arc::default(),
    );
    let mut want = Vec::new();
    d.picker.pick(&Bitfield::full(1), 10, &|_| false, &mut want);
    assert_eq!(want.len(), 3);
    // Out of order, from two peers: the last block waits for the gap before it.
    let r = d.receive(want[2], block(&want[2]), 1);
    assert_eq!(r, Received::Stored { wake: None });
    assert!(queued(&d, 0).is_empty());
    assert_eq!(d.held_bytes(), 10);
    let r = d.receive(want[0], block(&want[0]), 2);
    assert_eq!(
        r,
        Received::Stored { wake: None },
        "below the wake threshold"
    );
    assert_eq!(queued(&d, 0), vec![0]);
    assert_eq!(d.receive(want[0], block(&want[0]), 2), Received::Duplicate);
    // The gap fills: both go, the piece is whole and its writer is woken.
    let r = d.receive(want[1], block(&want[1]), 1);
    assert_eq!(r, Received::Stored { wake: Some(0) });
    assert_eq!(queued(&d, 0), vec![0, BLOCK_LEN, 2 * BLOCK_LEN]);
    assert_eq!(d.held_bytes(), len as usize);

    // The writer takes the blocks, then the end with the blocks' senders, and the piece's
    // entry is gone with it.
    let (mut batch, mut hash) = (Vec::new(), PieceHash::default());
    assert!(d.writers_running());
    assert_eq!(d.writer_take(0, &mut batch, &mut hash, true), Take::Blocks);
    assert_eq!(batch.len(), 3);
    assert_eq!(d.held_bytes(), 0);
    batch.clear();
    let Take::Finish(Senders {
        mut contributors, ..
    }) = d.writer_take(0, &mut batch, &mut hash, false)
    else {
        panic!("no finish")
    };
    contributors.sort();
    assert_eq!(contributors, vec![1, 2]);
    assert!(d.pieces.is_empty(), "nothing is left behind");
    // The piece's verdict is not in yet: a clean stop still waits for this writer.
    assert!(d.writers_running());
    d.writer_ended();
    assert!(!d.writers_running());
}

#[test]
fn a_writer_is_woken_by_enough_bytes_once_until_it_stops() {
    let per_wake = WAKE_BYTES / BLOCK_LEN as usize;
    let piece = 4 * per_wake as u32 * BLOCK_LEN;
    let mut d = Download::new(
        Picker::new(2, piece, 2 * piece as u64, Bitfield::new(2)),
        Arc::default(),
    );
    let mut want = Vec::new();
    d.picker
        .pick(&Bitfield::full(2), 8 * per_wake, &|_| false, &mut want);
    want.sort_by_key(|r| (r.index, r.begin));
    let mut wakes = Vec::new();
    for (i, r) in want.iter().take(3 * per_wake).enumerate() {
        if let Received::Stored { wake: Some(0) } = d.receive(*r, block(r), 1) {
            wakes.push(i);
        }
    }
    // Woken when the threshold was reached, then not again while it "runs".
    assert_eq!(wakes, vec![per_wake - 1]);
    assert!(d.writers_running());
    // It takes them in batches of at most TAKE_BYTES, in order.
    let (mut batch, mut hash) = (Vec::new(), PieceHash::default());
    let mut taken = Vec::new();
    let mut first = true;
    while d.writer_take(0, &mut batch, &mut hash, std::mem::take(&mut first)) == Take::Blocks {
        assert!(batch.iter().map(Job::held).sum::<usize>() <= TAKE_BYTES);
        taken.extend(batch.drain(..).map(|j| match j {
            Job::Next(b, _) => b,
            other => panic!("{other:?}"),
        }));
        assert!(taken.len() <= 3 * per_wake, "no end");
    }
    assert_eq!(taken.len(), 3 * per_wake);
    assert!(taken.windows(2).all(|w| w[0] < w[1]));
    // Nothing more: it stopped, and the next threshold wakes a new one.
    assert!(
        !d.writers_running(),
        "a writer that stopped is not waited for"
    );
    let mut woken = false;
    for r in want.iter().skip(3 * per_wake).take(per_wake) {
        woken |= d.receive(*r, block(r), 1) == (Received::Stored { wake: Some(0) });
    }
    assert!(woken);
    // Piece 1's writer is another one, woken by its own bytes.
    let r = want.iter().find(|r| r.index == 1).unwrap();
    assert_eq!(d.receive(*r, block(r), 1), Received::Stored { wake: None });
}

#[test]
fn many_pieces_below_the_threshold_wake_the_fullest_writer_past_the_idle_budget() {
    // Pieces of 2 * WAKE_BYTES, each filled by its own "peer" in turn, one block at a time:
    // none reaches WAKE_BYTES before their sum passes IDLE_BYTES.
    let per_wake = WAKE_BYTES / BLOCK_LEN as usize;
    let pieces = (2 * IDLE_BYTES / WAKE_BYTES) as u32;
    let piece = 2 * per_wake as u32 * BLOCK_LEN;
    let mut d = Download::new(
        Picker::new(
            pieces,
            piece,
            u64::from(pieces) * u64::from(piece),
            Bitfield::new(pieces),
        ),
        Arc::default(),
    );
    let mut want = Vec::new();
    let all = pieces as usize * 2 * per_wake;
    d.picker
        .pick(&Bitfield::full(pieces), all, &|_| false, &mut want);
    want.sort_by_key(|r| (r.begin, r.index));
    let mut wakes = Vec::new();
    for r in &want {
        if let Received::Stored { wake: Some(index) } = d.receive(*r, block(r), 1) {
            wakes.push(index);
        }
        assert!(
            d.idle <= IDLE_BYTES + BLOCK_LEN as usize,
            "idle {} past its budget",
            d.idle
        );
        if wakes.len() == 2 {
            break;
        }
    }
    // The first wake came from the budget, not from a piece reaching WAKE_BYTES, and named
    // a piece with bytes waiting; a second one went to another piece.
    assert_eq!(wakes.len(), 2, "woken by the budget");
    assert_ne!(wakes[0], wakes[1]);
    assert!(d.writers_running());
    // Both below WAKE_BYTES when woken: only the budget could wake them.
    assert!(d.lagging > 0 && d.lagging < 2 * WAKE_BYTES, "{}", d.lagging);
}

#[test]
fn connections_wait_while_running_writers_are_behind() {
    let piece = 256 * BLOCK_LEN;
    let mut d = Download::new(
        Picker::new(1, piece, piece as u64, Bitfield::new(1)),
        Arc::default(),
    );
    let mut want = Vec::new();
    d.picker
        .pick(&Bitfield::full(1), 256, &|_| false, &mut want);
    want.sort_by_key(|r| r.begin);
    // Bytes below the wake threshold sit without a writer: they never hold requests back.
    let per_wake = WAKE_BYTES / BLOCK_LEN as usize;
    for r in want.iter().take(per_wake - 1) {
        d.receive(*r, block(r), 1);
    }
    assert!(!d.writers_behind());
    // Once woken, its writer "stalls": what it has to catch up on grows to the limit.
    let mut behind_at = None;
    for (i, r) in want.iter().enumerate().skip(per_wake - 1) {
        d.receive(*r, block(r), 1);
        if d.writers_behind() {
            behind_at = Some(i);
            break;
        }
    }
    assert_eq!(behind_at, Some(LAG_BYTES / BLOCK_LEN as usize));
    // The writer takes a bounded batch; what it holds counts until it comes back for more.
    let (mut batch, mut hash) = (Vec::new(), PieceHash::default());
    assert_eq!(d.writer_take(0, &mut batch, &mut hash, true), Take::Blocks);
    let held: usize = batch.iter().map(Job::held).sum();
    assert!(held <= TAKE_BYTES && held > 0, "{held}");
    assert!(
        d.writers_behind(),
        "the batch in the writer's hands still counts"
    );
    // Once it is back, its last batch is done: the connections may go on.
    batch.clear();
    assert_eq!(d.writer_take(0, &mut batch, &mut hash, false), Take::Blocks);
    assert!(!d.writers_behind());
}

#[test]
fn one_torrents_backlog_holds_the_others_back_at_the_sessions_budget() {
    let piece = 64 * BLOCK_LEN;
    let session = Arc::new(WriteBacklog::new(WAKE_BYTES));
    let new = || {
        Download::new(
            Picker::new(1, piece, piece as u64, Bitfield::new(1)),
            Arc::clone(&session),
        )
    };
    let (mut a, b) = (new(), new());
    let mut want = Vec::new();
    a.picker.pick(&Bitfield::full(1), 64, &|_| false, &mut want);
    want.sort_by_key(|r| r.begin);
    // A's writer is woken at WAKE_BYTES and stalls; one block more is past the session's
    // budget, far below A's own.
    let per_wake = WAKE_BYTES / BLOCK_LEN as usize;
    for r in want.iter().take(per_wake + 1) {
        a.receive(*r, block(r), 1);
    }
    assert!(a.lagging <= LAG_BYTES, "A alone would go on");
    assert!(
        b.writers_behind(),
        "B has nothing queued, but the session is over"
    );
    // A ends (removed, paused) before its writer took anything: the budget is free again.
    drop(a);
    assert_eq!(session.queued(), 0);
    assert!(!b.writers_behind());
}

#[test]
fn a_failed_pieces_blocks_go_to_another_peer_than_their_last_sender_for_a_while() {
    let len = 3 * BLOCK_LEN;
    let mut d = Download::new(
        Picker::new(1, len, len as u64, Bitfield::new(1)),
        Arc::default(),
    );
    let attempt = |senders: Vec<Option<u64>>| Attempt {
        digests: vec![[0; 32]; 3],
        senders,
    };
    let now = Instant::now();
    // Nobody else has the piece: its last senders are asked again at once.
    d.picker.add_availability(0);
    assert_eq!(
        d.keep_failed(0, attempt(vec![Some(1), Some(2), Some(1)])),
        1
    );
    assert!(d.retry_elsewhere(1, now).is_empty());
    // A second peer has it: each sender is kept off the blocks it sent, for a while.
    d.picker.add_availability(0);
    assert_eq!(d.retry_elsewhere(1, now), vec![(0, 0), (0, 2 * BLOCK_LEN)]);
    assert_eq!(d.retry_elsewhere(2, now), vec![(0, BLOCK_LEN)]);
    assert!(d.retry_elsewhere(3, now).is_empty());
    assert!(d
        .retry_elsewhere(1, Instant::now() + RETRY_ELSEWHERE)
        .is_empty());
    // Verified (or proven): nothing is held back any more.
    d.take_failed(0);
    assert!(d.retry_elsewhere(1, now).is_empty());
}
