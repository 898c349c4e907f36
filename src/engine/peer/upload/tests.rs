//! Tests for the upload path: blocks read from disk into the send buffer.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::*;
use crate::engine::peer::link::PeerCmd;
use crate::engine::peer::link::PeerLive;
use crate::engine::peer::rate::{Bucket, Limiter};
use crate::engine::testkit::TestTorrent;
use crate::protocol::message::{encode_into, MessageCodec};

/// 3 pieces of two 16 KiB blocks, the last of 1000 bytes.
const PIECE: u32 = 32 * 1024;
const TOTAL: u64 = 2 * PIECE as u64 + 1000;
const PIECES: u32 = 3;
const BLOCK: u32 = 16 * 1024;

/// A torrent whose pieces are all on disk; byte `i` of the payload is `i % 251`.
fn seeded() -> TestTorrent {
    let t = TestTorrent::new(PIECE, TOTAL, &[0, 1, 2]);
    for index in 0..PIECES {
        let start = u64::from(index) * u64::from(PIECE);
        let end = (start + u64::from(PIECE)).min(TOTAL);
        let piece: Vec<u8> = (start..end).map(byte).collect();
        t.shared.storage.write_piece(index, &[piece]).unwrap();
    }
    t
}

fn byte(at: u64) -> u8 {
    (at % 251) as u8
}

fn block(index: u32, begin: u32, length: u32) -> BlockRef {
    BlockRef {
        index,
        begin,
        length,
    }
}

fn expected(r: BlockRef) -> Message {
    let start = u64::from(r.index) * u64::from(PIECE) + u64::from(r.begin);
    Message::Piece {
        index: r.index,
        begin: r.begin,
        data: Bytes::from(
            (start..start + u64::from(r.length))
                .map(byte)
                .collect::<Vec<_>>(),
        ),
    }
}

fn decode(out: &mut BytesMut) -> Vec<Message> {
    let mut codec = MessageCodec::new(PIECES);
    let mut got = Vec::new();
    while let Some(m) = codec.decode(out).unwrap() {
        got.push(m);
    }
    assert!(out.is_empty(), "a whole number of frames");
    got
}

#[test]
fn blocks_are_read_into_place_as_piece_messages_after_what_was_queued() {
    let t = seeded();
    let batch = [block(1, BLOCK, BLOCK), block(2, 0, 1000), block(0, 100, 50)];
    let mut out = BytesMut::new();
    encode_into(&Message::Unchoke, &mut out);
    let got = append_blocks(&t.shared.storage, &batch, &mut out, blocking).unwrap();
    assert_eq!(got, (3, u64::from(BLOCK) + 1000 + 50));
    let mut want = vec![Message::Unchoke];
    want.extend(batch.iter().map(|r| expected(*r)));
    assert_eq!(decode(&mut out), want);
}

#[test]
fn a_failed_read_leaves_the_buffer_as_it_was() {
    let t = seeded();
    let mut out = BytesMut::new();
    encode_into(&Message::Unchoke, &mut out);
    // The second block is past the end of the torrent's last piece.
    let batch = [block(0, 0, BLOCK), block(2, 1000, 10)];
    assert!(append_blocks(&t.shared.storage, &batch, &mut out, blocking).is_err());
    assert_eq!(decode(&mut out), [Message::Unchoke]);
}

#[test]
fn the_page_cache_serves_what_it_holds_and_stops_at_the_first_block_it_does_not() {
    let t = seeded();
    // Just written: in the page cache.
    let batch = [block(0, 0, BLOCK), block(2, 0, 1000)];
    let mut out = BytesMut::new();
    let got = append_blocks(&t.shared.storage, &batch, &mut out, cached).unwrap();
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(got, (2, u64::from(BLOCK) + 1000));
        let want: Vec<Message> = batch.iter().map(|r| expected(*r)).collect();
        assert_eq!(decode(&mut out), want);
    }
    // A reader that cannot do the second block: the first stays, the second's header goes.
    fn first_only(s: &Storage, r: BlockRef, dst: &mut [u8]) -> Result<bool, DiskError> {
        if r.index == 2 {
            return Ok(false);
        }
        blocking(s, r, dst)
    }
    let mut out = BytesMut::new();
    let got = append_blocks(&t.shared.storage, &batch, &mut out, first_only).unwrap();
    assert_eq!(got, (1, u64::from(BLOCK)));
    assert_eq!(decode(&mut out), [expected(batch[0])]);
}

fn unchoked(t: &TestTorrent) -> (PeerConn, Arc<PeerLive>) {
    let live = Arc::new(PeerLive::new());
    let mut c = PeerConn::new(7, &t.link(), &live, true);
    c.on_command(PeerCmd::Unchoke).unwrap();
    c.out.clear();
    (c, live)
}

#[tokio::test]
async fn unlimited_a_batch_goes_at_once_and_every_byte_is_counted() {
    let t = seeded();
    let (mut c, live) = unchoked(&t);
    let reqs = [
        block(0, 0, BLOCK),
        block(0, BLOCK, BLOCK),
        block(2, 0, 1000),
    ];
    for r in reqs {
        c.on_request(r).unwrap();
    }
    c.serve_uploads().await.unwrap();
    assert!(c.uploads.is_empty());
    let want: Vec<Message> = reqs.iter().map(|r| expected(*r)).collect();
    assert_eq!(decode(&mut c.out), want);
    let total = 2 * u64::from(BLOCK) + 1000;
    assert_eq!(live.uploaded.load(Ordering::Relaxed), total);
    assert_eq!(t.shared.uploaded.load(Ordering::Relaxed), total);
}

#[tokio::test]
async fn under_an_up_limit_one_block_goes_and_is_paid_for_before_the_next() {
    let t = seeded();
    let (mut c, live) = unchoked(&t);
    // 1 KiB/s: the first block's debt shuts the gate for seconds.
    let up = Limiter::new(vec![Arc::new(Bucket::new(1024))]);
    c.set_limiters(Limiter::none(), up);
    for r in [block(0, 0, BLOCK), block(0, BLOCK, BLOCK)] {
        c.on_request(r).unwrap();
    }
    c.serve_uploads().await.unwrap();
    c.serve_uploads().await.unwrap();
    assert_eq!(decode(&mut c.out), [expected(block(0, 0, BLOCK))]);
    assert_eq!(live.uploaded.load(Ordering::Relaxed), u64::from(BLOCK));
    assert!(!c.uploads.is_empty(), "the second block waits for the gate");
}

#[tokio::test]
async fn under_an_up_limit_blocks_go_one_by_one_while_the_gate_stays_open() {
    let t = seeded();
    let (mut c, live) = unchoked(&t);
    // 10 MiB/s: a turn's share (4 MiB) covers the three blocks.
    let up = Limiter::new(vec![Arc::new(Bucket::new(10 << 20))]);
    c.set_limiters(Limiter::none(), up);
    let reqs = [
        block(0, 0, BLOCK),
        block(0, BLOCK, BLOCK),
        block(2, 0, 1000),
    ];
    for r in reqs {
        c.on_request(r).unwrap();
    }
    c.serve_uploads().await.unwrap();
    assert!(c.uploads.is_empty(), "one call sends all three");
    let want: Vec<Message> = reqs.iter().map(|r| expected(*r)).collect();
    assert_eq!(decode(&mut c.out), want);
    assert_eq!(
        live.uploaded.load(Ordering::Relaxed),
        2 * u64::from(BLOCK) + 1000
    );
}

/// A file cut short under us: the read of a block past its end costs that piece (the torrent
/// hears `PieceGone`, the peer a reject), not the connection; the other blocks still go.
#[tokio::test]
async fn a_block_gone_from_disk_is_rejected_and_its_piece_reported_lost() {
    let mut t = seeded();
    let (mut c, _) = unchoked(&t);
    let file = t._dir.path().join("t");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(2 * u64::from(PIECE))
        .unwrap();
    let reqs = [block(0, 0, BLOCK), block(2, 0, 1000), block(1, 0, BLOCK)];
    for r in reqs {
        c.on_request(r).unwrap();
    }
    c.serve_uploads().await.unwrap();
    c.serve_uploads().await.unwrap();
    assert!(c.uploads.is_empty());
    let got = decode(&mut c.out);
    assert_eq!(got.len(), 3, "{got:?}");
    for want in [
        expected(reqs[0]),
        expected(reqs[2]),
        Message::Reject {
            index: 2,
            begin: 0,
            length: 1000,
        },
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    let events = t.drain();
    assert!(
        matches!(&events[..], [PeerEvent::PieceGone { index: 2, error }] if error.is_missing_data()),
        "{events:?}"
    );
}
