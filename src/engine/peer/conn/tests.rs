//! Unit tests of `conn.rs` (with `pipeline.rs` and `upload.rs`, which it calls): what one
//! connection does with each message, over a real picker and a torrent in a temporary
//! directory, with no socket.
use super::*;
use crate::engine::peer::link::PeerEvent;
use crate::engine::peer::pex::PexEvent;
use crate::engine::testkit::TestTorrent;
use crate::protocol::holepunch::HoleMsg;
use crate::protocol::message::MessageCodec;
use tokio_util::codec::Decoder;

/// 7 pieces of two 16 KiB blocks, the last of 1000 bytes: 13 blocks.
const PIECE: u32 = 32 * 1024;
const TOTAL: u64 = 6 * PIECE as u64 + 1000;
const PIECES: u32 = 7;
const BLOCK: u32 = 16 * 1024;
const CONN: u64 = 7;

fn torrent(have: &[u32]) -> TestTorrent {
    TestTorrent::new(PIECE, TOTAL, have)
}

fn open(t: &TestTorrent, fast: bool) -> (PeerConn, Arc<PeerLive>) {
    let live = Arc::new(PeerLive::new());
    (PeerConn::new(CONN, &t.link(), &live, fast), live)
}

/// The messages the connection queued for the peer since the last call.
fn sent(c: &mut PeerConn) -> Vec<Message> {
    let mut codec = MessageCodec::new(PIECES);
    let mut out = Vec::new();
    while let Some(m) = codec.decode(&mut c.out).unwrap() {
        out.push(m);
    }
    assert!(c.out.is_empty(), "a whole number of frames");
    out
}

/// The reason a message ended the connection as a protocol violation.
fn violation(r: Result<(), PeerEnd>) -> String {
    match r {
        Err(PeerEnd::Protocol(why)) => why,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

fn block(index: u32, begin: u32, length: u32) -> BlockRef {
    BlockRef {
        index,
        begin,
        length,
    }
}

fn piece_msg(r: BlockRef) -> Message {
    Message::Piece {
        index: r.index,
        begin: r.begin,
        data: Bytes::from(vec![0u8; r.length as usize]),
    }
}

/// What `downloading` starts from: the short last piece is ours, so every piece asked for has
/// two blocks and one block never completes a piece (which would start a hashing job).
const LAST: &[u32] = &[6];

/// The peer has everything and unchoked us; two of our requests are out.
fn downloading(t: &TestTorrent, fast: bool) -> (PeerConn, Arc<PeerLive>) {
    let (mut c, live) = open(t, fast);
    c.on_message(Message::Bitfield(Bytes::from_static(&[0xfe])))
        .unwrap();
    c.on_message(Message::Unchoke).unwrap();
    c.pacing.set_depth(2);
    c.fill_pipeline();
    assert_eq!(c.requests.len(), 2);
    let requests = sent(&mut c);
    assert_eq!(
        requests.len(),
        3,
        "interested and two requests: {requests:?}"
    );
    (c, live)
}

/// What another peer with every piece would be given now, `max` blocks at most.
fn pick_for_another(t: &TestTorrent, max: usize) -> Vec<BlockRef> {
    let mut out = Vec::new();
    let all = Bitfield::full(PIECES);
    t.shared
        .download()
        .picker
        .pick(&all, max, &|_| false, &mut out);
    out
}

#[test]
fn a_have_out_of_range_ends_the_connection() {
    let t = torrent(&[]);
    let (mut c, _) = open(&t, false);
    let why = violation(c.on_message(Message::Have(PIECES)));
    assert!(why.contains("have index 7 out of range"), "{why}");
    assert!(violation(c.on_message(Message::Have(u32::MAX))).contains("out of range"));
}

#[test]
fn a_have_counts_once_and_makes_us_interested_only_in_what_we_lack() {
    let t = torrent(&[5]);
    let (mut c, live) = open(&t, false);
    c.on_message(Message::Have(5)).unwrap();
    assert_eq!(sent(&mut c), [], "we have piece 5 already");
    c.on_message(Message::Have(3)).unwrap();
    c.on_message(Message::Have(3)).unwrap();
    assert_eq!(sent(&mut c), [Message::Interested]);
    assert!(live.flags().am_interested);
    assert_eq!(live.pieces.load(Ordering::Relaxed), 2);
    let d = t.shared.download();
    assert_eq!(
        d.picker.availability()[3],
        1,
        "a repeated have is not counted twice"
    );
    assert_eq!(d.picker.availability()[5], 1);
}

#[test]
fn a_bitfield_of_the_wrong_size_or_with_spare_bits_set_ends_the_connection() {
    let t = torrent(&[]);
    let (mut c, _) = open(&t, false);
    violation(c.on_message(Message::Bitfield(Bytes::from_static(&[0xfe, 0]))));
    // 7 pieces: the eighth bit of the byte is spare.
    violation(c.on_message(Message::Bitfield(Bytes::from_static(&[0x01]))));
    assert!(t
        .shared
        .download()
        .picker
        .availability()
        .iter()
        .all(|&n| n == 0));
}

#[test]
fn a_new_bitfield_replaces_the_counts_of_the_old() {
    let t = torrent(&[]);
    let (mut c, live) = open(&t, true);
    c.on_message(Message::Bitfield(Bytes::from_static(&[0b1100_0000])))
        .unwrap();
    c.on_message(Message::HaveAll).unwrap();
    let avail = t.shared.download().picker.availability().to_vec();
    assert_eq!(avail, [1; PIECES as usize], "not 2 for pieces 0 and 1");
    assert_eq!(live.pieces.load(Ordering::Relaxed), PIECES);
    c.on_message(Message::HaveNone).unwrap();
    assert!(t
        .shared
        .download()
        .picker
        .availability()
        .iter()
        .all(|&n| n == 0));
    assert_eq!(sent(&mut c), [Message::Interested, Message::NotInterested]);
}

#[test]
fn fast_extension_messages_need_the_fast_extension() {
    let t = torrent(&[]);
    let (mut plain, _) = open(&t, false);
    for m in [
        Message::HaveAll,
        Message::HaveNone,
        Message::Suggest(0),
        Message::AllowedFast(0),
        Message::Reject {
            index: 0,
            begin: 0,
            length: BLOCK,
        },
    ] {
        let why = violation(plain.on_message(m.clone()));
        assert!(why.contains("without the fast extension"), "{m:?}: {why}");
    }
    let (mut fast, _) = open(&t, true);
    fast.on_message(Message::Suggest(0)).unwrap();
    fast.on_message(Message::AllowedFast(0)).unwrap();
}

#[test]
fn a_hash_request_is_rejected_and_only_asked_hashes_go_to_the_torrent() {
    use crate::protocol::merkle::proof::HashRequest;
    let mut t = torrent(&[]);
    let (mut c, _) = open(&t, false);
    sent(&mut c);
    let head = HashRequest {
        pieces_root: [1; 32],
        base_layer: 0,
        index: 0,
        length: 2,
        proof_layers: 0,
    };
    c.on_message(Message::HashRequest(head)).unwrap();
    assert_eq!(sent(&mut c), [Message::HashReject(head)]);
    let hashes = || Message::Hashes {
        head,
        hashes: vec![0; 64].into(),
    };
    // Unasked: dropped.
    c.on_message(hashes()).unwrap();
    c.on_message(Message::HashReject(head)).unwrap();
    assert_eq!(sent(&mut c), []);
    assert!(
        !t.drain()
            .iter()
            .any(|e| matches!(e, PeerEvent::Hashes { .. } | PeerEvent::HashReject { .. })),
        "unasked hashes reached the torrent"
    );
    // Asked twice: each answer once, then no more.
    c.on_command(PeerCmd::AskHashes(head)).unwrap();
    c.on_command(PeerCmd::AskHashes(head)).unwrap();
    assert_eq!(
        sent(&mut c),
        [Message::HashRequest(head), Message::HashRequest(head)]
    );
    c.on_message(hashes()).unwrap();
    c.on_message(Message::HashReject(head)).unwrap();
    c.on_message(hashes()).unwrap();
    let events = t.drain();
    let n = |f: &dyn Fn(&PeerEvent) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(
        n(
            &|e| matches!(e, PeerEvent::Hashes { conn: CONN, head: h, hashes } if *h == head && hashes.len() == 64)
        ),
        1,
        "{events:?}"
    );
    assert_eq!(
        n(&|e| matches!(e, PeerEvent::HashReject { conn: CONN, head: h } if *h == head)),
        1,
        "{events:?}"
    );
}

#[test]
fn a_reject_gives_the_block_back_to_the_picker() {
    let t = torrent(LAST);
    let (mut c, live) = downloading(&t, true);
    let r = c.requests.iter().copied().next().unwrap();
    let kept = c.requests.iter().copied().nth(1).unwrap();
    // Not ours: changes nothing.
    c.on_message(Message::Reject {
        index: 6,
        begin: 0,
        length: 1000,
    })
    .unwrap();
    assert_eq!(c.requests.len(), 2);
    c.on_message(Message::Reject {
        index: r.index,
        begin: r.begin,
        length: r.length,
    })
    .unwrap();
    assert_eq!(c.requests.iter().copied().collect::<Vec<_>>(), [kept]);
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 1);
    assert_eq!(
        pick_for_another(&t, 1),
        [r],
        "the started piece is finished first"
    );
    // A rejected request is not one we wait for: its block would be unrequested.
    let why = violation(c.on_message(piece_msg(r)));
    assert!(why.contains("unrequested"), "{why}");
}

/// `downloading`, then the peer chokes us; also returns the requests that were in flight.
fn choked(t: &TestTorrent, fast: bool) -> (PeerConn, Arc<PeerLive>, Vec<BlockRef>) {
    let (mut c, live) = downloading(t, fast);
    let asked: Vec<BlockRef> = c.requests.iter().copied().collect();
    c.on_message(Message::Choke).unwrap();
    (c, live, asked)
}

/// BEP 6: with the fast extension a choke rejects nothing. Our requests stay ours (no other
/// peer is given them, nothing is asked again) until the peer rejects them or serves them.
#[test]
fn a_choke_with_the_fast_extension_keeps_our_requests_until_rejected_or_served() {
    let t = torrent(LAST);
    let (mut c, live, asked) = choked(&t, true);
    assert!(live.flags().peer_choking);
    assert_eq!(c.requests.iter().copied().collect::<Vec<_>>(), asked);
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 2);
    let others = pick_for_another(&t, 12);
    assert!(
        asked.iter().all(|r| !others.contains(r)),
        "{asked:?} given to another peer: {others:?}"
    );
    c.fill_pipeline();
    assert_eq!(sent(&mut c), [], "nothing asked while choked");
    // The peer drops one: a reject gives it back. It serves the other: a block we wait for.
    c.on_message(reject(asked[0])).unwrap();
    assert!(pick_for_another(&t, 12).contains(&asked[0]));
    c.on_message(piece_msg(asked[1])).unwrap();
    assert!(c.requests.is_empty());
    assert_eq!(live.downloaded.load(Ordering::Relaxed), u64::from(BLOCK));
    assert_eq!(
        t.shared.wasted.load(Ordering::Relaxed),
        0,
        "no block came twice"
    );
}

/// Requests a choke kept are not kept for ever: a peer that neither serves nor rejects them
/// for the snub time gives them back.
#[test]
fn requests_a_choke_kept_time_out_like_a_snub() {
    let t = torrent(LAST);
    let (mut c, live, asked) = choked(&t, true);
    let now = Instant::now();
    c.update_rate(now);
    assert_eq!(c.requests.len(), 2, "the choke just came");
    c.last_block = now - Duration::from_secs(60);
    c.update_rate(now);
    assert!(c.requests.is_empty());
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 0);
    let again = pick_for_another(&t, 12);
    assert!(asked.iter().all(|r| again.contains(r)), "{again:?}");
    // A block that comes after all is still taken (stale), not a violation.
    c.on_message(piece_msg(asked[0])).unwrap();
}

/// Without the fast extension a choke rejects every request in flight (BEP 3).
#[test]
fn a_choke_releases_our_requests_and_a_late_block_is_still_taken() {
    let t = torrent(LAST);
    let (mut c, live, asked) = choked(&t, false);
    assert!(c.requests.is_empty());
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 0);
    assert!(live.flags().peer_choking);
    // Both blocks can go to someone else now.
    let again = pick_for_another(&t, 12);
    assert!(
        asked.iter().all(|r| again.contains(r)),
        "{asked:?} in {again:?}"
    );
    // A block already on its way when the peer choked is no violation.
    c.on_message(piece_msg(asked[0])).unwrap();
    assert_eq!(
        live.downloaded.load(Ordering::Relaxed),
        u64::from(asked[0].length)
    );
    assert_eq!(
        t.shared.downloaded.load(Ordering::Relaxed),
        u64::from(BLOCK)
    );
}

#[test]
fn a_piece_must_answer_a_request_of_its_length() {
    let t = torrent(LAST);
    let (mut c, _) = downloading(&t, false);
    let r = c.requests.iter().copied().next().unwrap();
    let short = Message::Piece {
        index: r.index,
        begin: r.begin,
        data: Bytes::from_static(&[0; 10]),
    };
    assert!(violation(c.on_message(short)).contains("asked for 16384"));
    let other = (0..6).find(|i| c.requests.iter().all(|r| r.index != *i));
    let never = block(other.unwrap(), 0, BLOCK);
    assert!(violation(c.on_message(piece_msg(never))).contains("unrequested"));
    let huge = block(r.index, r.begin, BLOCK + 1);
    assert!(violation(c.on_message(piece_msg(huge))).contains("16385 bytes"));
    assert_eq!(c.requests.len(), 2, "nothing taken from a bad block");
}

#[test]
fn a_block_that_answers_a_request_is_recorded() {
    let t = torrent(LAST);
    let (mut c, live) = downloading(&t, false);
    let r = c.requests.iter().copied().next().unwrap();
    c.on_message(piece_msg(r)).unwrap();
    assert_eq!(c.requests.len(), 1);
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 1);
    assert_eq!(live.downloaded.load(Ordering::Relaxed), u64::from(BLOCK));
    // The same block again: no longer in flight, never given up on.
    assert!(violation(c.on_message(piece_msg(r))).contains("unrequested"));
}

#[test]
fn writers_behind_stop_reading_and_asking_until_they_catch_up() {
    let t = torrent(LAST);
    let (mut c, _live) = downloading(&t, false);
    let now = TokioInstant::now();
    assert!(c.may_read(now));
    // The session's writers fall behind (another torrent's, say): the next block is taken,
    // and from then on the connection neither reads nor asks.
    let backlog = t.shared.download().caught_up();
    let over = crate::engine::disk::backlog::SESSION_LAG_BYTES + 1;
    backlog.add(over);
    let r = c.requests.iter().copied().next().unwrap();
    c.on_message(piece_msg(r)).unwrap();
    assert!(!c.may_read(now), "held back, the socket is left unread");
    c.pacing.set_depth(8);
    c.fill_pipeline();
    assert_eq!(c.requests.len(), 1, "and nothing more is asked for");
    assert!(sent(&mut c).is_empty());
    // A wake while still behind changes nothing; once they caught up, both go on.
    c.writers_caught_up();
    assert!(!c.may_read(now));
    backlog.sub(over);
    c.writers_caught_up();
    assert!(c.may_read(now));
    c.fill_pipeline();
    assert!(c.requests.len() > 1, "asks again: {:?}", sent(&mut c));
}

#[test]
fn blocks_received_twice_or_never_asked_for_count_as_wasted() {
    let t = torrent(LAST);
    let wasted = || t.shared.wasted.load(Ordering::Relaxed);
    let (mut c, _) = downloading(&t, false);
    let asked: Vec<BlockRef> = c.requests.iter().copied().collect();
    c.on_message(Message::Choke).unwrap();
    // Another peer delivers the block first; ours, already on its way, comes second.
    let first = t
        .link()
        .receive(asked[0], Bytes::from(vec![0u8; BLOCK as usize]), CONN + 1);
    assert!(!first.duplicate, "{first:?}");
    assert_eq!(wasted(), 0);
    c.on_message(piece_msg(asked[0])).unwrap();
    assert_eq!(wasted(), u64::from(BLOCK));
    // A block nobody asked this peer for is read, thrown away and ends the connection.
    let other = (0..6).find(|i| asked.iter().all(|r| r.index != *i));
    let never = block(other.unwrap(), 0, BLOCK);
    assert!(violation(c.on_message(piece_msg(never))).contains("unrequested"));
    assert_eq!(wasted(), 2 * u64::from(BLOCK));
}

fn request(r: BlockRef) -> Message {
    Message::Request {
        index: r.index,
        begin: r.begin,
        length: r.length,
    }
}

fn reject(r: BlockRef) -> Message {
    Message::Reject {
        index: r.index,
        begin: r.begin,
        length: r.length,
    }
}

#[test]
fn requests_outside_the_torrent_or_a_piece_end_the_connection() {
    let t = torrent(&[0, 1, 2, 3, 4, 5, 6]);
    let (mut c, _) = open(&t, true);
    c.on_command(PeerCmd::Unchoke).unwrap();
    let bad = [
        (block(PIECES, 0, BLOCK), "out of range"),
        (block(0, 0, BLOCK + 1), "over 16 KiB"),
        (block(0, 0, 0), "beyond the end"),
        (block(0, PIECE - 100, 200), "beyond the end"),
        (block(6, 0, 1001), "beyond the end"),
        (block(0, u32::MAX, BLOCK), "beyond the end"),
    ];
    for (r, reason) in bad {
        let why = violation(c.on_message(request(r)));
        assert!(why.contains(reason), "{r:?}: {why}");
    }
    c.on_message(request(block(6, 0, 1000))).unwrap();
    c.on_message(request(block(0, BLOCK, BLOCK))).unwrap();
    assert_eq!(c.uploads.queued().count(), 2);
    c.on_message(Message::Cancel {
        index: 0,
        begin: BLOCK,
        length: BLOCK,
    })
    .unwrap();
    assert_eq!(
        c.uploads.queued().copied().collect::<Vec<_>>(),
        [block(6, 0, 1000)]
    );
}

#[test]
fn requests_we_will_not_serve_are_rejected_with_the_fast_extension_and_dropped_without() {
    let t = torrent(&[0]);
    let (mut fast, _) = open(&t, true);
    // Choking (the start): rejected.
    fast.on_message(request(block(0, 0, BLOCK))).unwrap();
    fast.on_command(PeerCmd::Unchoke).unwrap();
    // A piece we lack: rejected.
    fast.on_message(request(block(1, 0, BLOCK))).unwrap();
    fast.on_message(request(block(0, BLOCK, BLOCK))).unwrap();
    // Choking again rejects what was queued.
    fast.on_command(PeerCmd::Choke).unwrap();
    assert!(fast.uploads.is_empty());
    assert_eq!(
        sent(&mut fast),
        [
            reject(block(0, 0, BLOCK)),
            Message::Unchoke,
            reject(block(1, 0, BLOCK)),
            Message::Choke,
            reject(block(0, BLOCK, BLOCK)),
        ]
    );

    let (mut plain, _) = open(&t, false);
    plain.on_message(request(block(0, 0, BLOCK))).unwrap();
    assert!(plain.uploads.is_empty());
    assert_eq!(sent(&mut plain), []);
}

#[test]
fn interest_and_the_extended_handshake_reach_the_coordinator() {
    let mut t = torrent(&[]);
    let (mut c, live) = open(&t, false);
    c.on_message(Message::Interested).unwrap();
    assert!(live.flags().peer_interested);
    let mut m = std::collections::BTreeMap::new();
    m.insert(UT_PEX.to_string(), 3u8);
    let h = ExtHandshake {
        m,
        v: Some("qBittorrent/4.6.0".into()),
        reqq: Some(3),
        p: Some(51413),
        ..ExtHandshake::default()
    };
    c.on_message(Message::Extended {
        id: HANDSHAKE_ID,
        payload: Bytes::from(h.encode()),
    })
    .unwrap();
    assert_eq!(
        (c.pacing.reqq(), c.pacing.depth()),
        (3, 3),
        "their reqq caps our pipeline"
    );
    assert_eq!(c.ext.ut_pex(), Some(3));
    let events = t.drain();
    assert!(
        matches!(events[0], PeerEvent::Interest { conn: CONN }),
        "{events:?}"
    );
    assert!(
        matches!(
            events[1],
            PeerEvent::Pex {
                conn: CONN,
                event: PexEvent::Extensions {
                    ut_pex: true,
                    holepunch: false,
                    listen_port: Some(51413)
                }
            }
        ),
        "{events:?}"
    );
    assert!(
        matches!(&events[2], PeerEvent::Client { conn: CONN, name } if name.contains("qBittorrent"))
    );

    let why = violation(c.on_message(Message::Extended {
        id: HANDSHAKE_ID,
        payload: Bytes::from_static(b"not a dictionary"),
    }));
    assert!(why.contains("malformed extended handshake"), "{why}");
}

#[test]
fn a_verified_piece_is_announced_once_and_only_to_a_peer_without_it() {
    let t = torrent(&[]);
    let (mut c, _) = open(&t, false);
    c.on_message(Message::Have(2)).unwrap();
    sent(&mut c);
    c.on_verified(2);
    c.on_verified(3);
    c.on_verified(3);
    assert_eq!(sent(&mut c), [Message::Have(3)]);
}

#[test]
fn pause_cancels_what_is_asked_and_chokes() {
    let t = torrent(LAST);
    let (mut c, live) = downloading(&t, false);
    c.on_command(PeerCmd::Unchoke).unwrap();
    sent(&mut c);
    let asked: Vec<BlockRef> = c.requests.iter().copied().collect();
    c.on_command(PeerCmd::Pause).unwrap();
    let cancels = asked.iter().map(|r| Message::Cancel {
        index: r.index,
        begin: r.begin,
        length: r.length,
    });
    let mut want: Vec<Message> = cancels.collect();
    want.extend([Message::NotInterested, Message::Choke]);
    assert_eq!(sent(&mut c), want);
    assert!(c.requests.is_empty());
    let f = live.flags();
    assert!(f.am_choking && !f.am_interested);
    // Paused: no requests even though the peer unchokes us again.
    c.on_message(Message::Unchoke).unwrap();
    c.fill_pipeline();
    assert_eq!(sent(&mut c), []);
    assert_eq!(
        c.on_command(PeerCmd::Disconnect(PeerEnd::DroppedByUser)),
        Err(PeerEnd::DroppedByUser)
    );
}

#[test]
fn a_dropped_connection_gives_back_its_blocks_and_its_pieces() {
    let t = torrent(LAST);
    let (c, live) = downloading(&t, false);
    drop(c);
    assert!(t
        .shared
        .download()
        .picker
        .availability()
        .iter()
        .all(|&n| n == 0));
    assert_eq!(live.in_flight.load(Ordering::Relaxed), 0);
    assert_eq!(live.flags(), ChokeFlags::default());
    assert_eq!(pick_for_another(&t, 100).len(), 12, "no block left booked");
}

/// The peer's extended handshake offering `m` and, when set, BEP 21's `upload_only`.
fn their_handshake(m: &[(&str, u8)], upload_only: bool) -> Message {
    let h = ExtHandshake {
        m: m.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        upload_only,
        ..ExtHandshake::default()
    };
    Message::Extended {
        id: HANDSHAKE_ID,
        payload: Bytes::from(h.encode()),
    }
}

/// The extended messages queued since the last call, as (id, payload).
fn extended(c: &mut PeerConn) -> Vec<(u8, Vec<u8>)> {
    sent(c)
        .into_iter()
        .filter_map(|m| match m {
            Message::Extended { id, payload } => Some((id, payload.to_vec())),
            _ => None,
        })
        .collect()
}

const ALL: &[u32] = &[0, 1, 2, 3, 4, 5, 6];

#[test]
fn our_handshake_offers_both_messages_and_says_upload_only_once_complete() {
    for (have, upload_only) in [(ALL, true), (LAST, false)] {
        let t = torrent(have);
        let (mut c, _) = open(&t, true);
        c.send_ext_handshake();
        let got = extended(&mut c);
        let [(0, payload)] = &got[..] else {
            panic!("one handshake: {got:?}");
        };
        let h = ExtHandshake::decode(payload).unwrap();
        assert_eq!(h.upload_only, upload_only, "have {have:?}");
        assert_eq!(h.id_of(UPLOAD_ONLY), Some(UPLOAD_ONLY_ID));
        assert_eq!(h.id_of(LT_DONTHAVE), Some(LT_DONTHAVE_ID));
    }
}

/// Completing while connected: libtorrent (which offers the message) gets `upload_only` 1,
/// a peer that does not gets a new extended handshake saying so; once only.
#[test]
fn completing_tells_the_peer_by_its_message_or_a_new_handshake() {
    let t = torrent(&[0, 1, 2, 3, 4, 5]);
    let (mut lt, _) = open(&t, true);
    lt.send_ext_handshake();
    lt.on_message(their_handshake(&[(UPLOAD_ONLY, 3)], false))
        .unwrap();
    let (mut other, _) = open(&t, true);
    other.send_ext_handshake();
    let (mut plain, _) = open(&t, true);
    for c in [&mut lt, &mut other, &mut plain] {
        sent(c);
    }
    t.shared.download().picker.piece_verified(6);
    lt.on_verified(6);
    other.on_verified(6);
    plain.on_verified(6);
    assert_eq!(
        sent(&mut lt),
        [
            Message::Have(6),
            Message::Extended {
                id: 3,
                payload: Bytes::from_static(&[1])
            }
        ]
    );
    let got = extended(&mut other);
    let [(0, payload)] = &got[..] else {
        panic!("a new handshake: {got:?}");
    };
    assert!(ExtHandshake::decode(payload).unwrap().upload_only);
    assert_eq!(
        sent(&mut plain),
        [Message::Have(6)],
        "no extensions, no word"
    );
    lt.refresh_upload_only();
    assert_eq!(sent(&mut lt), [], "said once");
}

/// Two sides with nothing for each other part (libtorrent's "upload to upload connection"):
/// the peer only uploads, or has every piece, and we have every piece we want.
#[test]
fn an_upload_only_peer_is_dropped_once_we_want_nothing_more() {
    let done = torrent(ALL);
    let (mut c, live) = open(&done, true);
    assert_eq!(
        c.on_message(their_handshake(&[], true)),
        Err(PeerEnd::NotNeeded)
    );
    assert!(live.upload_only.load(Ordering::Relaxed), "the row says so");
    let (mut seed, _) = open(&done, true);
    assert_eq!(seed.on_message(Message::HaveAll), Err(PeerEnd::NotNeeded));

    // Still downloading: kept, and its word is followed (`upload_only` 0 and 1).
    let t = torrent(LAST);
    let (mut c, live) = open(&t, true);
    c.on_message(their_handshake(&[], true)).unwrap();
    c.on_message(Message::HaveAll).unwrap();
    assert!(live.upload_only.load(Ordering::Relaxed));
    let msg = |on: u8| Message::Extended {
        id: UPLOAD_ONLY_ID,
        payload: Bytes::from(vec![on]),
    };
    c.on_message(msg(0)).unwrap();
    assert!(!live.upload_only.load(Ordering::Relaxed));
    c.on_message(msg(1)).unwrap();
    assert!(live.upload_only.load(Ordering::Relaxed));
    // Complete now: the next tick parts.
    for i in 0..6 {
        t.shared.download().picker.piece_verified(i);
    }
    assert_eq!(c.on_tick(), Err(PeerEnd::NotNeeded));
    // A message of another size is a protocol error.
    let (mut c, _) = open(&torrent(LAST), true);
    let why = violation(c.on_message(Message::Extended {
        id: UPLOAD_ONLY_ID,
        payload: Bytes::from_static(&[1, 0]),
    }));
    assert!(why.contains("upload_only"), "{why}");
}

fn donthave(index: u32) -> Message {
    Message::Extended {
        id: LT_DONTHAVE_ID,
        payload: Bytes::copy_from_slice(&index.to_be_bytes()),
    }
}

/// BEP 54 received: the piece leaves the peer's pieces and the availability counts, our
/// requests for it are cancelled and go back to the picker.
#[test]
fn a_donthave_takes_the_piece_back_and_cancels_what_we_asked_of_it() {
    let t = torrent(LAST);
    let (mut c, live) = downloading(&t, true);
    let asked: Vec<BlockRef> = c.requests.iter().copied().collect();
    let index = asked[0].index;
    assert!(asked.iter().all(|r| r.index == index), "{asked:?}");
    assert_eq!(t.shared.download().picker.availability()[index as usize], 1);
    c.on_message(donthave(index)).unwrap();
    let cancels: Vec<Message> = asked
        .iter()
        .map(|r| Message::Cancel {
            index: r.index,
            begin: r.begin,
            length: r.length,
        })
        .collect();
    assert_eq!(sent(&mut c), cancels);
    assert!(c.requests.is_empty());
    assert!(!c.peer_has.get(index));
    assert_eq!(live.pieces.load(Ordering::Relaxed), 6);
    assert_eq!(t.shared.download().picker.availability()[index as usize], 0);
    // Given back: another peer is offered those blocks.
    let again = pick_for_another(&t, 12);
    assert!(
        asked.iter().all(|r| again.contains(r)),
        "{asked:?} in {again:?}"
    );
    // A late block of a cancelled request is not a violation.
    c.on_message(piece_msg(asked[0])).unwrap();
    // Once more, or a piece it never had: nothing changes.
    c.on_message(donthave(index)).unwrap();
    assert_eq!(live.pieces.load(Ordering::Relaxed), 6);
}

#[test]
fn a_donthave_of_its_last_wanted_piece_ends_our_interest() {
    let t = torrent(&[0, 1, 2, 3, 4, 6]);
    let (mut c, live) = open(&t, true);
    c.on_message(Message::Have(5)).unwrap();
    assert_eq!(sent(&mut c), [Message::Interested]);
    c.on_message(donthave(5)).unwrap();
    assert_eq!(sent(&mut c), [Message::NotInterested]);
    assert!(!live.flags().am_interested);
}

#[test]
fn a_donthave_out_of_range_or_of_another_size_ends_the_connection() {
    let t = torrent(&[]);
    let (mut c, _) = open(&t, true);
    let why = violation(c.on_message(donthave(PIECES)));
    assert!(why.contains("lt_donthave index 7 out of range"), "{why}");
    violation(c.on_message(donthave(u32::MAX)));
    for payload in [&[][..], &[0, 0, 0][..], &[0, 0, 0, 1, 0][..]] {
        let why = violation(c.on_message(Message::Extended {
            id: LT_DONTHAVE_ID,
            payload: Bytes::copy_from_slice(payload),
        }));
        assert!(why.contains("lt_donthave"), "{why}");
    }
}

/// A piece we lost: peers that take `lt_donthave` hear of it where we had announced it, and
/// one that offered `upload_only` hears we no longer only upload. A piece verified again
/// meanwhile is not taken back.
#[test]
fn a_lost_piece_is_taken_back_from_peers_that_take_donthave() {
    let t = torrent(ALL);
    let (mut lt, _) = open(&t, true);
    lt.send_ext_handshake();
    lt.send_have_state();
    lt.on_message(their_handshake(
        &[(UPLOAD_ONLY, 3), (LT_DONTHAVE, 7)],
        false,
    ))
    .unwrap();
    let (mut plain, _) = open(&t, true);
    plain.send_have_state();
    for c in [&mut lt, &mut plain] {
        sent(c);
    }
    assert!(t.shared.download().picker.piece_lost(2));
    lt.on_lost(2);
    plain.on_lost(2);
    assert_eq!(
        extended(&mut lt),
        [(7, vec![0, 0, 0, 2]), (3, vec![0])],
        "lt_donthave, then upload_only 0"
    );
    assert!(!lt.announced.get(2));
    assert_eq!(sent(&mut plain), []);
    lt.on_lost(2);
    assert_eq!(sent(&mut lt), [], "once");
    // Lost, verified again before the connection heard: nothing to take back.
    assert!(t.shared.download().picker.piece_lost(4));
    t.shared.download().picker.piece_verified(4);
    lt.on_lost(4);
    assert_eq!(sent(&mut lt), []);
    // Missed broadcasts: caught up from the picker.
    assert!(t.shared.download().picker.piece_lost(5));
    lt.on_lost_lagged();
    assert_eq!(extended(&mut lt), [(7, vec![0, 0, 0, 5])]);
}

/// BEP 55: offered while PEX is on; our messages go out under the peer's id once it offers
/// the extension (never before), its messages reach the coordinator, and a malformed one ends
/// the connection.
#[test]
fn holepunch_messages_go_both_ways_and_a_malformed_one_ends_the_connection() {
    let mut t = torrent(&[]);
    let (mut c, _) = open(&t, true);
    c.send_ext_handshake();
    let got = extended(&mut c);
    let [(0, payload)] = &got[..] else {
        panic!("one handshake: {got:?}");
    };
    let h = ExtHandshake::decode(payload).unwrap();
    assert_eq!(h.id_of(UT_HOLEPUNCH), Some(UT_HOLEPUNCH_ID));
    let ask = HoleMsg::rendezvous("203.0.113.9:6881".parse().unwrap());
    c.on_command(PeerCmd::SendHolepunch(ask)).unwrap();
    assert_eq!(extended(&mut c), []);
    c.on_message(their_handshake(&[(UT_HOLEPUNCH, 9)], false))
        .unwrap();
    let _ = sent(&mut c);
    c.on_command(PeerCmd::SendHolepunch(ask)).unwrap();
    assert_eq!(extended(&mut c), [(9, ask.encode())]);
    let _ = t.drain();
    let connect = HoleMsg::connect("198.51.100.4:51413".parse().unwrap());
    c.on_message(Message::Extended {
        id: UT_HOLEPUNCH_ID,
        payload: Bytes::from(connect.encode()),
    })
    .unwrap();
    let events = t.drain();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PeerEvent::Holepunch { conn: CONN, msg } if *msg == connect)),
        "{events:?}"
    );
    let why = violation(c.on_message(Message::Extended {
        id: UT_HOLEPUNCH_ID,
        payload: Bytes::from_static(&[1, 0, 1]),
    }));
    assert!(why.contains("ut_holepunch"), "{why}");
}

/// BEP 16: a connection that starts while super-seeding is on shows nothing (`have_none`),
/// announces only what the coordinator offers, rejects requests for anything else, and gets a
/// `have` for every other piece once super-seeding ends.
#[test]
fn a_super_seed_shows_nothing_and_serves_only_its_offers() {
    let t = torrent(ALL);
    t.shared.super_seeding.store(true, Ordering::Relaxed);
    let (mut c, _) = open(&t, true);
    c.send_have_state();
    assert_eq!(sent(&mut c), [Message::HaveNone]);
    c.on_command(PeerCmd::Offer(3)).unwrap();
    c.on_command(PeerCmd::Offer(3)).unwrap();
    assert_eq!(sent(&mut c), [Message::Have(3)], "one have per offer");
    c.on_command(PeerCmd::Unchoke).unwrap();
    sent(&mut c);
    let asked = block(4, 0, BLOCK);
    c.on_message(Message::Request {
        index: asked.index,
        begin: asked.begin,
        length: asked.length,
    })
    .unwrap();
    assert_eq!(
        sent(&mut c),
        [Message::Reject {
            index: 4,
            begin: 0,
            length: BLOCK
        }]
    );
    c.on_command(PeerCmd::Unhide).unwrap();
    let rest: Vec<Message> = (0..PIECES).filter(|&i| i != 3).map(Message::Have).collect();
    assert_eq!(sent(&mut c), rest);
}
