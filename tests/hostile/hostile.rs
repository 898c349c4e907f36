//! Hostile peers: behaviour real clients never produce, played by a scripted fake peer in an
//! in-process swarm (one good ttui seeder, the fake, one ttui downloader, all on 127.0.0.1).
//!
//! Most cases pause the good seeder first: it accepts the downloader but unchokes nobody, so the
//! fake is the only peer that can act and the case does not depend on who wins a race. Once the
//! fake's row shows the expected end, the seeder is resumed and the download must complete with
//! files identical to the payload.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::fakepeer;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fakepeer::*;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use ttui::internals::engine::api::{Command, PeerEnd, PeerRow, PeerStage, Snapshot, TorrentState};
use ttui::internals::engine::TorrentEnd;
use ttui::internals::protocol::handshake::Handshake;
use ttui::internals::protocol::message::{Message, BLOCK_LEN};

const PIECE: u32 = 64 * 1024;
/// Whole-test bound for the quick cases.
const LIMIT: Duration = Duration::from_secs(90);
/// How long a fake keeps a connection open waiting for the engine to hang up.
const HOLD: Duration = Duration::from_secs(40);
const DOWNLOAD: Duration = Duration::from_secs(60);

/// One swarm: a (possibly paused) good seeder, the fake, and a downloader dialing both.
struct Case {
    fx: Fixture,
    seeder: Running,
    fake: FakePeer,
    dl: Running,
}

impl Case {
    async fn start<S, Fut>(script: S) -> Case
    where
        S: Fn(Wire, Arc<Ctx>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let fx = Fixture::new(PIECE);
        let mut seeder = fx.start_seeder(true).await;
        seeder
            .wait_for(Duration::from_secs(5), "the seeder to pause", |s| {
                log_has(s, "paused")
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let fake = FakePeer::listen(Arc::clone(&fx.ctx), script).await;
        let dl = fx.start_downloader("dl", vec![seeder.addr(), fake.addr]);
        Case {
            fx,
            seeder,
            fake,
            dl,
        }
    }

    /// Waits until the fake's row in the downloader satisfies `pred`.
    async fn wait_fake(
        &mut self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&PeerRow) -> bool,
    ) -> PeerRow {
        let addr = self.fake.addr;
        let snap = self
            .dl
            .wait_for(limit, what, |s| row(s, addr).is_some_and(&pred))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let r = row(&snap, addr).cloned();
        r.unwrap_or_else(|| unreachable!("predicate held on this row"))
    }

    /// Waits until the fake's connection ended with a reason matching `pred`.
    async fn fake_ends(&mut self, what: &str, pred: impl Fn(&PeerEnd) -> bool) -> PeerRow {
        let r = self
            .wait_fake(Duration::from_secs(20), what, |r| {
                r.end.as_ref().is_some_and(&pred)
            })
            .await;
        assert!(r.stage.is_gone(), "ended row should be gone: {r:?}");
        // The seeder is still paused: nothing can have completed the download yet, so the end
        // was the engine's reaction to the fake, not the shutdown after completion.
        assert_eq!(self.dl.latest().state, TorrentState::Downloading);
        r
    }

    /// The fake's script saw the engine hang up (rather than timing out itself).
    async fn assert_engine_hung_up(&mut self) {
        match self.fake.next_result(Duration::from_secs(10)).await {
            Some(Ok(())) => {}
            other => panic!("fake script did not see the engine close the connection: {other:?}"),
        }
    }

    /// Resumes the seeder; the download must complete with the right files. Ends every task.
    async fn complete(mut self) -> Arc<Snapshot> {
        self.seeder.command(Command::Resume);
        let (outcome, snap) = self
            .dl
            .finish(DOWNLOAD)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome, TorrentEnd::Complete, "{}", describe(&snap));
        assert_eq!(snap.verified_pieces() as u32, snap.num_pieces);
        self.fx.assert_files_match(&self.fx.out_dir("dl"));
        let good = row(&snap, self.seeder.addr())
            .unwrap_or_else(|| panic!("no seeder row\n{}", describe(&snap)));
        assert!(
            good.downloaded > 0,
            "nothing came from the good seeder: {good:?}"
        );
        assert_eq!(
            self.seeder.quit(Duration::from_secs(10)).await,
            Ok(TorrentEnd::Quit)
        );
        self.fake.stop();
        snap
    }
}

fn protocol_error(needle: &'static str) -> impl Fn(&PeerEnd) -> bool {
    move |e| matches!(e, PeerEnd::Protocol(text) if text.contains(needle))
}

/// A protocol-violation case: the fake answers the handshake, sends `bytes`, and holds the
/// connection until the engine drops it.
async fn violation_case(bytes: Vec<u8>, needle: &'static str) {
    let bytes = Arc::new(bytes);
    let mut c = Case::start(move |mut w, ctx| {
        let bytes = Arc::clone(&bytes);
        async move {
            answer_handshake(&mut w, &ctx).await?;
            w.write_raw(&bytes).await?;
            w.hold_until_closed(HOLD).await
        }
    })
    .await;
    let r = c.fake_ends(needle, protocol_error(needle)).await;
    assert_eq!(r.stage, PeerStage::Disconnected, "{r:?}");
    c.assert_engine_hung_up().await;
    let addr = c.fake.addr.to_string();
    let snap = c.complete().await;
    assert!(
        snap.log
            .iter()
            .any(|l| l.text.contains(&addr) && l.text.contains(needle)),
        "log does not mention the violation\n{}",
        describe(&snap)
    );
}

/// Length of piece `index` from a snapshot's geometry (the last piece is short).
fn fx_piece_len(s: &Snapshot, index: u32) -> u32 {
    let start = u64::from(index) * u64::from(s.piece_length);
    s.total_length
        .saturating_sub(start)
        .min(u64::from(s.piece_length)) as u32
}

fn encoded(m: &Message) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    ttui::internals::protocol::message::encode_into(m, &mut b);
    b.to_vec()
}

// --- 1, 2: bad data ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_piece_is_fetched_again_elsewhere() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let bad_piece = Arc::new(AtomicU32::new(u32::MAX));
        let bad = Arc::clone(&bad_piece);
        let mut c = Case::start(move |mut w, ctx| {
            let bad = Arc::clone(&bad);
            async move {
                greet_as_seed(&mut w, &ctx).await?;
                unchoke_when_interested(&mut w).await?;
                // The first piece asked for is served wrong every time; the rest correctly.
                serve(&mut w, &ctx, |index, _, data| {
                    let _ =
                        bad.compare_exchange(u32::MAX, index, Ordering::SeqCst, Ordering::SeqCst);
                    if bad.load(Ordering::SeqCst) == index {
                        Answer::Send(flip_bytes(data))
                    } else {
                        Answer::Send(data)
                    }
                })
                .await
                .map(|_| ())
            }
        })
        .await;
        let snap =
            c.dl.wait_for(Duration::from_secs(20), "a hash failure", |s| {
                log_has(s, "failed its hash check")
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let p = bad_piece.load(Ordering::SeqCst);
        assert!(
            log_has(
                &snap,
                &format!("piece {p} failed its hash check (from {})", c.fake.addr)
            ),
            "{}",
            describe(&snap)
        );
        let fake_addr = c.fake.addr;
        let snap = c.complete().await;
        assert!(
            snap.wasted >= u64::from(fx_piece_len(&snap, p)),
            "wasted {} after piece {p} failed",
            snap.wasted
        );
        let fake =
            row(&snap, fake_addr).unwrap_or_else(|| panic!("no fake row\n{}", describe(&snap)));
        assert!(fake.hash_failures >= 1, "{fake:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_corruption_gets_the_peer_banned() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            serve(&mut w, &ctx, |_, _, data| Answer::Send(flip_bytes(data)))
                .await
                .map(|_| ())
        })
        .await;
        let r = c
            .fake_ends("ban for hash failures", |e| {
                matches!(e, PeerEnd::HashFailures(_) | PeerEnd::Banned)
            })
            .await;
        assert!(r.hash_failures >= 2, "{r:?}");
        c.assert_engine_hung_up().await;
        let fake_addr = c.fake.addr;
        let snap = c.complete().await;
        assert!(
            log_has(&snap, &format!("banned {fake_addr}")),
            "{}",
            describe(&snap)
        );
        assert!(
            // At least two pieces failed, and at most one is the short last piece.
            snap.wasted > u64::from(PIECE),
            "wasted {}",
            snap.wasted
        );
        let fake =
            row(&snap, fake_addr).unwrap_or_else(|| panic!("no fake row\n{}", describe(&snap)));
        assert!(
            matches!(fake.end, Some(PeerEnd::HashFailures(_) | PeerEnd::Banned)),
            "{fake:?}"
        );
        // Banned means never dialed again.
        assert_eq!(fake.attempts, 1, "{fake:?}");
    })
    .await;
}

// --- 3, 4, 5, 18: handshake ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_info_hash_at_handshake() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, _ctx| async move {
            w.read_handshake().await?;
            w.write_raw(&Handshake::new([0x42; 20], FAKE_ID).encode())
                .await?;
            w.hold_until_closed(HOLD).await
        })
        .await;
        let r = c
            .fake_ends("wrong info hash", |e| *e == PeerEnd::WrongInfoHash)
            .await;
        assert_eq!(r.stage, PeerStage::Failed);
        c.assert_engine_hung_up().await;
        let fake_addr = c.fake.addr;
        let snap = c.complete().await;
        assert!(
            log_has(&snap, &format!("{fake_addr}: failed: wrong info hash")),
            "{}",
            describe(&snap)
        );
    })
    .await;
}

async fn not_bittorrent_case(reply: Vec<u8>) {
    let reply = Arc::new(reply);
    let mut c = Case::start(move |mut w, _ctx| {
        let reply = Arc::clone(&reply);
        async move {
            w.read_handshake().await?;
            w.write_raw(&reply).await?;
            w.hold_until_closed(HOLD).await
        }
    })
    .await;
    let r = c
        .fake_ends("not a BitTorrent peer", |e| *e == PeerEnd::NotBitTorrent)
        .await;
    assert_eq!(r.stage, PeerStage::Failed);
    c.assert_engine_hung_up().await;
    let fake_addr = c.fake.addr;
    let snap = c.complete().await;
    assert!(
        log_has(
            &snap,
            &format!("{fake_addr}: failed: not a BitTorrent peer")
        ),
        "{}",
        describe(&snap)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reply_instead_of_handshake() {
    let _g = MEASURE.read().await;
    bounded(
        LIMIT,
        not_bittorrent_case(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_protocol_string() {
    let _g = MEASURE.read().await;
    let mut raw = Handshake::new([0; 20], FAKE_ID).encode();
    raw[19] = b'X'; // "BitTorrent protocoX"
    assert_eq!(&raw[1..20], b"BitTorrent protocoX");
    bounded(LIMIT, not_bittorrent_case(raw.to_vec())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_one_byte_per_second_times_out() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            w.read_handshake().await?;
            let ours = Handshake::new(ctx.info_hash, FAKE_ID).encode();
            for b in ours {
                // The engine hanging up makes a later write fail: that is the expected end.
                if w.write_raw(&[b]).await.is_err() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err("the engine waited for the whole dripped handshake".into())
        })
        .await;
        let t0 = Instant::now();
        let r = c
            .fake_ends("handshake timeout", |e| *e == PeerEnd::HandshakeTimeout)
            .await;
        let waited = t0.elapsed();
        assert_eq!(r.stage, PeerStage::Failed);
        assert!(
            waited >= Duration::from_secs(8),
            "timed out too early ({waited:?})"
        );
        let fake_addr = c.fake.addr;
        let snap = c.complete().await;
        let fake = row(&snap, fake_addr).cloned();
        assert_eq!(fake.and_then(|f| f.end), Some(PeerEnd::HandshakeTimeout));
    })
    .await;
}

// --- 6 - 10: malformed messages after the handshake ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_length_prefix_is_refused_without_allocating() {
    // Alone in the process, so the memory numbers are ours.
    let _g = MEASURE.write().await;
    bounded(LIMIT, async {
        let rss0 = proc_status_kib("VmRSS").expect("VmRSS");
        let size0 = proc_status_kib("VmSize").expect("VmSize");
        violation_case(
            vec![0xFF, 0xFF, 0xFF, 0xFF],
            "frame of 4294967295 bytes exceeds the limit",
        )
        .await;
        let rss1 = proc_status_kib("VmRSS").expect("VmRSS");
        let size1 = proc_status_kib("VmSize").expect("VmSize");
        let (drss, dsize) = (rss1.saturating_sub(rss0), size1.saturating_sub(size0));
        eprintln!("huge frame: RSS +{drss} KiB, VmSize +{dsize} KiB");
        assert!(drss < 64 * 1024, "RSS grew by {drss} KiB");
        // A reserved but untouched 4 GiB buffer would not show in RSS; it would in VmSize.
        // Threads and malloc arenas of the two engines alone add several hundred MiB here.
        assert!(dsize < 2 * 1024 * 1024, "address space grew by {dsize} KiB");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_id() {
    let _g = MEASURE.read().await;
    bounded(
        LIMIT,
        violation_case(vec![0, 0, 0, 1, 99], "unknown message id 99"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitfield_of_wrong_length() {
    let _g = MEASURE.read().await;
    let fx = Fixture::new(PIECE);
    let n = fx.ctx.num_pieces();
    let len = (n as usize).div_ceil(8);
    drop(fx);
    let msg = encoded(&Message::Bitfield(Bytes::from(vec![0xFF; len + 1])));
    let needle: &'static str =
        Box::leak(format!("bitfield is {} bytes, expected {len}", len + 1).into_boxed_str());
    bounded(LIMIT, violation_case(msg, needle)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitfield_with_spare_bits_set() {
    let _g = MEASURE.read().await;
    let fx = Fixture::new(PIECE);
    let n = fx.ctx.num_pieces();
    drop(fx);
    assert_ne!(n % 8, 0, "the payload must leave spare bits");
    let msg = encoded(&Message::Bitfield(Bytes::from(vec![
        0xFF;
        (n as usize)
            .div_ceil(8)
    ])));
    bounded(LIMIT, violation_case(msg, "spare bits")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn have_out_of_range() {
    let _g = MEASURE.read().await;
    let fx = Fixture::new(PIECE);
    let n = fx.ctx.num_pieces();
    drop(fx);
    let needle: &'static str = Box::leak(format!("have index {n} out of range").into_boxed_str());
    bounded(LIMIT, violation_case(encoded(&Message::Have(n)), needle)).await;
}

/// Our id for BEP 54's `lt_donthave` in the extended handshake ttui sends (its `m`).
const LT_DONTHAVE_ID: u8 = 4;

fn donthave(index: u32) -> Message {
    Message::Extended {
        id: LT_DONTHAVE_ID,
        payload: Bytes::copy_from_slice(&index.to_be_bytes()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donthave_out_of_range() {
    let _g = MEASURE.read().await;
    let fx = Fixture::new(PIECE);
    let n = fx.ctx.num_pieces();
    drop(fx);
    let needle: &'static str =
        Box::leak(format!("lt_donthave index {n} out of range").into_boxed_str());
    bounded(LIMIT, violation_case(encoded(&donthave(n)), needle)).await;
}

/// A seed that takes back (BEP 54 `lt_donthave`) the piece ttui first asked it for: ttui
/// cancels its requests for that piece, never asks the fake for it again, and completes from
/// the good seeder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donthave_cancels_our_requests_for_that_piece() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        // The piece taken back; whether ttui cancelled it; whether it asked for it again.
        let taken = Arc::new(AtomicU32::new(u32::MAX));
        let cancelled = Arc::new(AtomicU32::new(0));
        let asked_again = Arc::new(AtomicU32::new(0));
        let (t, c, a) = (
            Arc::clone(&taken),
            Arc::clone(&cancelled),
            Arc::clone(&asked_again),
        );
        let mut case = Case::start(move |mut w, ctx| {
            let (taken, cancelled, asked_again) = (Arc::clone(&t), Arc::clone(&c), Arc::clone(&a));
            async move {
                greet_as_seed(&mut w, &ctx).await?;
                unchoke_when_interested(&mut w).await?;
                let first = w
                    .wait_msg("a request", |m| matches!(m, Message::Request { .. }))
                    .await?;
                let Message::Request { index: p, .. } = first else {
                    return Err("not a request".into());
                };
                taken.store(p, Ordering::SeqCst);
                w.send(&[donthave(p)]).await?;
                // Requests never answered; ended by the engine's close (or the test's stop).
                loop {
                    match w.recv().await? {
                        None => return Ok(()),
                        Some(Message::Cancel { index, .. }) if index == p => {
                            cancelled.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(Message::Request { index, .. })
                            if index == p && cancelled.load(Ordering::SeqCst) > 0 =>
                        {
                            asked_again.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(_) => {}
                    }
                }
            }
        })
        .await;
        let start = Instant::now();
        while cancelled.load(Ordering::SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no cancel for piece {} after lt_donthave\n{}",
                taken.load(Ordering::SeqCst),
                describe(&case.dl.latest())
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let p = taken.load(Ordering::SeqCst);
        let fake = case.fake.addr;
        // Still connected, holding every piece but the one taken back.
        case.wait_fake(
            Duration::from_secs(5),
            "the fake's pieces to drop one",
            |r| r.stage == PeerStage::Connected && r.progress > 0.5 && r.progress < 1.0,
        )
        .await;
        let snap = case.complete().await;
        assert_eq!(
            asked_again.load(Ordering::SeqCst),
            0,
            "piece {p} asked of {fake} after it was taken back\n{}",
            describe(&snap)
        );
    })
    .await;
}

// --- 11, 12, 17: a leecher misbehaving towards the seeder ------------------------------------

/// Connects to the seeder as a leecher, gets unchoked, sends one bad request; the seeder must
/// drop exactly that connection and go on serving a real downloader.
async fn bad_request_case(req: Message, needle: &'static str) {
    let fx = Fixture::new(PIECE);
    let mut seeder = fx.start_seeder(false).await;
    let (mut w, _) = dial_as_leecher(seeder.addr(), &fx.ctx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.send(&[Message::Interested])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.wait_msg("unchoke", |m| matches!(m, Message::Unchoke))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.send(&[req]).await.unwrap_or_else(|e| panic!("{e}"));
    w.hold_until_closed(Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("seeder kept the bad leecher: {e}"));
    let me = w.local;
    let snap = seeder
        .wait_for(Duration::from_secs(10), "the bad leecher's row", |s| {
            row(s, me).is_some_and(|r| r.end.as_ref().is_some_and(protocol_error(needle)))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = row(&snap, me).cloned().unwrap_or_else(|| unreachable!());
    assert_eq!(r.stage, PeerStage::Disconnected, "{r:?}");
    assert!(log_has(&snap, needle), "{}", describe(&snap));

    let mut dl = fx.start_downloader("dl", vec![seeder.addr()]);
    let (outcome, snap) = dl.finish(DOWNLOAD).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome, TorrentEnd::Complete, "{}", describe(&snap));
    fx.assert_files_match(&fx.out_dir("dl"));
    assert_eq!(
        seeder.quit(Duration::from_secs(10)).await,
        Ok(TorrentEnd::Quit)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_out_of_range_to_the_seeder() {
    let _g = MEASURE.read().await;
    let n = Fixture::new(PIECE).ctx.num_pieces();
    let needle: &'static str =
        Box::leak(format!("request for piece {n} out of range").into_boxed_str());
    bounded(
        LIMIT,
        bad_request_case(
            Message::Request {
                index: n,
                begin: 0,
                length: BLOCK_LEN,
            },
            needle,
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_over_16_kib_to_the_seeder() {
    let _g = MEASURE.read().await;
    bounded(
        LIMIT,
        bad_request_case(
            Message::Request {
                index: 0,
                begin: 0,
                length: 2 * BLOCK_LEN,
            },
            "(over 16 KiB)",
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flood_to_the_seeder() {
    const FLOOD: u64 = 10_000;
    let _g = MEASURE.write().await;
    bounded(Duration::from_secs(120), async {
        let fx = Fixture::new(PIECE);
        let mut seeder = fx.start_seeder(false).await;
        let rss0 = proc_status_kib("VmRSS").expect("VmRSS");
        let (mut w, _) = dial_as_leecher(seeder.addr(), &fx.ctx).await.unwrap_or_else(|e| panic!("{e}"));
        let me = w.local;
        w.send(&[Message::Interested]).await.unwrap_or_else(|e| panic!("{e}"));
        w.wait_msg("unchoke", |m| matches!(m, Message::Unchoke)).await.unwrap_or_else(|e| panic!("{e}"));

        // Every block of the torrent, round and round, 10,000 requests in one burst.
        let ctx = Arc::clone(&fx.ctx);
        let blocks: Vec<(u32, u32, u32)> = (0..ctx.num_pieces())
            .flat_map(|i| {
                let plen = ctx.info.piece_len(i);
                (0..ctx.blocks_in(i)).map(move |b| (i, b * BLOCK_LEN, (plen - b * BLOCK_LEN).min(BLOCK_LEN)))
            })
            .collect();
        let mut burst = bytes::BytesMut::new();
        for k in 0..FLOOD as usize {
            let (index, begin, length) = blocks[k % blocks.len()];
            ttui::internals::protocol::message::encode_into(&Message::Request { index, begin, length }, &mut burst);
        }
        // Answers are read (and checked) while the burst is written, as a real peer would.
        let (mut reader, mut writer) = w.split();
        let burster = tokio::spawn(async move {
            let r = writer.write_all(&burst).await;
            (writer, r)
        });
        let ctx2 = Arc::clone(&ctx);
        let counter = tokio::spawn(async move {
            let (mut pieces, mut rejects, mut bad) = (0u64, 0u64, 0u64);
            while pieces + rejects < FLOOD {
                match reader.next().await {
                    None => return Err(format!("seeder closed the flooding connection after {pieces} pieces, {rejects} rejects")),
                    Some(Err(e)) => return Err(format!("reading answers: {e}")),
                    Some(Ok(Message::Piece { index, begin, data })) => {
                        pieces += 1;
                        if ctx2.block(index, begin, data.len() as u32).as_deref() != Some(&data[..]) {
                            bad += 1;
                        }
                    }
                    Some(Ok(Message::Reject { .. })) => rejects += 1,
                    Some(Ok(_)) => {}
                }
            }
            Ok((pieces, rejects, bad))
        });
        // A real downloader at the same time.
        let mut dl = fx.start_downloader("dl", vec![seeder.addr()]);
        let (outcome, snap) = dl.finish(DOWNLOAD).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome, TorrentEnd::Complete, "{}", describe(&snap));
        fx.assert_files_match(&fx.out_dir("dl"));

        let (np, nr, nb) = match tokio::time::timeout(Duration::from_secs(60), counter).await {
            Ok(Ok(Ok(counts))) => counts,
            other => panic!("flood not fully answered: {other:?}"),
        };
        eprintln!("flood: {np} pieces, {nr} rejects, {nb} bad blocks");
        assert_eq!(nb, 0, "seeder sent wrong data under flood");
        assert_eq!(np + nr, FLOOD);
        // The write half lives until here: dropping it would end the connection.
        let (writer, wrote) = burster.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(wrote.is_ok(), "{wrote:?}");
        let rss1 = proc_status_kib("VmRSS").expect("VmRSS");
        let drss = rss1.saturating_sub(rss0);
        eprintln!("flood: RSS +{drss} KiB");
        assert!(drss < 96 * 1024, "RSS grew by {drss} KiB under a request flood");

        assert!(seeder.is_running());
        // Snapshots lag by up to a tick; the short last blocks make the bound approximate.
        let served = np * u64::from(BLOCK_LEN) / 2;
        let s = seeder
            .wait_for(Duration::from_secs(5), "the flooder's upload count", |s| {
                row(s, me).is_some_and(|r| r.uploaded >= served && r.stage == PeerStage::Connected)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.state, TorrentState::Seeding, "{}", describe(&s));
        assert_eq!(seeder.quit(Duration::from_secs(10)).await, Ok(TorrentEnd::Quit));
        drop(writer);
    })
    .await;
}

// --- 13, 14, 15, 16: a seeder misbehaving towards the downloader -------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrequested_piece() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            let Message::Request { index, .. } = w
                .wait_msg("a request", |m| matches!(m, Message::Request { .. }))
                .await?
            else {
                unreachable!()
            };
            // Offset 1 is never a block boundary, so it cannot have been asked for.
            w.send(&[Message::Piece {
                index,
                begin: 1,
                data: Bytes::from(vec![7u8; BLOCK_LEN as usize]),
            }])
            .await?;
            w.hold_until_closed(HOLD).await
        })
        .await;
        c.fake_ends("unrequested piece", protocol_error("unrequested piece"))
            .await;
        c.assert_engine_hung_up().await;
        let snap = c.complete().await;
        assert!(log_has(&snap, "unrequested piece"), "{}", describe(&snap));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piece_block_of_wrong_length() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            let Message::Request {
                index,
                begin,
                length,
            } = w
                .wait_msg("a request", |m| matches!(m, Message::Request { .. }))
                .await?
            else {
                unreachable!()
            };
            let mut data = ctx
                .block(index, begin, length)
                .ok_or("request out of range")?;
            data.truncate(1000);
            w.send(&[Message::Piece {
                index,
                begin,
                data: Bytes::from(data),
            }])
            .await?;
            w.hold_until_closed(HOLD).await
        })
        .await;
        c.fake_ends(
            "short block",
            protocol_error("piece block of 1000 bytes, asked for"),
        )
        .await;
        c.assert_engine_hung_up().await;
        c.complete().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchokes_then_never_answers() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            serve(&mut w, &ctx, |_, _, _| Answer::Ignore)
                .await
                .map(|_| ())
        })
        .await;
        let r = c
            .wait_fake(Duration::from_secs(10), "requests to the fake", |r| {
                r.stage == PeerStage::Connected
                    && !r.flags.peer_choking
                    && r.requests_in_flight >= 8
            })
            .await;
        let t0 = Instant::now();
        eprintln!("silent fake holds {} requests", r.requests_in_flight);
        // Snubbed after 15 s without a block: its requests go back to the pool; the engine keeps
        // at most one probe request with a snubbed peer.
        let r = c
            .wait_fake(Duration::from_secs(25), "the fake to be snubbed", |r| {
                r.requests_in_flight <= 1
            })
            .await;
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(12),
            "snubbed after only {waited:?}"
        );
        assert_eq!(
            r.stage,
            PeerStage::Connected,
            "a snubbed peer stays connected: {r:?}"
        );
        assert_eq!(r.downloaded, 0);
        let fake_addr = c.fake.addr;
        let snap = c.complete().await;
        let fake =
            row(&snap, fake_addr).unwrap_or_else(|| panic!("no fake row\n{}", describe(&snap)));
        assert_eq!(fake.downloaded, 0, "{fake:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_in_the_middle_of_a_piece() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let mut c = Case::start(|mut w, ctx| async move {
            greet_as_seed(&mut w, &ctx).await?;
            unchoke_when_interested(&mut w).await?;
            let mut piece = None;
            let mut sent = 0;
            loop {
                let Some(m) = w.recv().await? else {
                    return Err("engine closed first".into());
                };
                let Message::Request {
                    index,
                    begin,
                    length,
                } = m
                else {
                    continue;
                };
                // The short last piece may have a single block: it cannot be half sent.
                if piece.is_none() && ctx.blocks_in(index) < 2 {
                    continue;
                }
                let p = *piece.get_or_insert(index);
                if index != p || begin / BLOCK_LEN >= ctx.blocks_in(p) / 2 {
                    continue;
                }
                let data = ctx
                    .block(index, begin, length)
                    .ok_or("request out of range")?;
                w.send(&[Message::Piece {
                    index,
                    begin,
                    data: Bytes::from(data),
                }])
                .await?;
                sent += 1;
                if sent == ctx.blocks_in(p) / 2 {
                    return w.close_gracefully(HOLD).await;
                }
            }
        })
        .await;
        let half = u64::from(PIECE / 2);
        let r = c
            .fake_ends("closed by peer", |e| *e == PeerEnd::ClosedByPeer)
            .await;
        assert_eq!(r.stage, PeerStage::Disconnected);
        assert_eq!(r.downloaded, half, "{r:?}");
        c.assert_engine_hung_up().await;
        let (fake_addr, good_addr, total) =
            (c.fake.addr, c.seeder.addr(), c.fx.meta.info.total_length);
        let snap = c.complete().await;
        let fake =
            row(&snap, fake_addr).unwrap_or_else(|| panic!("no fake row\n{}", describe(&snap)));
        assert_eq!(fake.end, Some(PeerEnd::ClosedByPeer));
        // The half piece received before the close is kept: the good seeder sends only the rest.
        let good = row(&snap, good_addr).unwrap_or_else(|| unreachable!());
        // Duplicated endgame blocks (see `endgame_never_asks_one_peer_twice_for_a_block`) count
        // as wasted; the useful rest is exactly what the fake did not send.
        assert_eq!(
            good.downloaded - snap.wasted,
            total - half,
            "{}",
            describe(&snap)
        );
    })
    .await;
}

// --- regressions: engine bugs found while building this kit, fixed since -----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_sent_during_the_initial_check_is_kept() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let fx = Fixture::new(PIECE);
        let e = ttui::internals::engine::start(
            fx.meta.clone(),
            ttui::internals::engine::Options {
                output: fx.seed_root.clone(),
                port: 0,
                bind: LOOPBACK,
                seed: true,
                use_trackers: false,
                check_threads: 1,
                ..Default::default()
            },
        );
        let mut r = Running::new(e);
        r.command(Command::Pause);
        let got = r
            .wait_for(Duration::from_secs(20), "the pause to take effect", |s| {
                s.listen_port != 0 && log_has(s, "paused")
            })
            .await;
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(r.quit(Duration::from_secs(10)).await, Ok(TorrentEnd::Quit));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_seeder_reports_paused() {
    let _g = MEASURE.read().await;
    bounded(LIMIT, async {
        let fx = Fixture::new(PIECE);
        let mut seeder = fx.start_seeder(true).await;
        let got = seeder
            .wait_for(Duration::from_secs(5), "state Paused", |s| {
                s.state == TorrentState::Paused
            })
            .await;
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(
            seeder.quit(Duration::from_secs(10)).await,
            Ok(TorrentEnd::Quit)
        );
    })
    .await;
}

#[test]
fn endgame_never_asks_one_peer_twice_for_a_block() {
    use ttui::internals::engine::torrent::picker::{BlockRef, Picker};
    use ttui::internals::protocol::bitfield::Bitfield;
    // One piece of two blocks; the peer first takes one block, then tops its pipeline up.
    let mut p = Picker::new(1, 2 * BLOCK_LEN, 2 * u64::from(BLOCK_LEN), Bitfield::new(1));
    let peer = Bitfield::full(1);
    let mut first = Vec::new();
    p.pick(&peer, 1, &|_| false, &mut first);
    assert_eq!(first.len(), 1);
    let in_flight = first.clone();
    let mut more: Vec<BlockRef> = Vec::new();
    p.pick(&peer, 4, &|r| in_flight.contains(&r), &mut more);
    let mut all = in_flight.clone();
    all.extend(&more);
    let mut dedup = all.clone();
    dedup.sort_by_key(|r| (r.index, r.begin));
    dedup.dedup();
    assert_eq!(
        all.len(),
        dedup.len(),
        "one peer asked twice for a block: {all:?}"
    );
}
