//! Hostile inputs that used to break the engine itself (issue 10, defects 2 and 3), each next
//! to a real libtorrent seeder that must still deliver the whole torrent:
//! - a peer whose extended handshake says `reqq` 1 (legal, but it made the peer task panic
//!   and keep its connection slot for good);
//! - a tracker reply listing 600,000 peers (every one was kept, memory grew past 1 GB).
//!
//! Runs in a loopback-only network namespace (tests/run.sh); starts python3-libtorrent.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::fakepeer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{require_loopback_only, swarm_lock, LibtorrentPeer, LtOptions, Torrent};
use fakepeer::{
    answer_handshake, bounded, log_has, proc_status_kib, row, Fixture, Running, Wire, LOOPBACK,
    MEASURE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use ttui::internals::engine::api::{PeerEnd, PeerSource, Snapshot, TrackerStatus};
use ttui::internals::engine::{self, Options, TorrentEnd};
use ttui::internals::protocol::handshake::Handshake;
use ttui::internals::protocol::message::Message;

const PIECE: u32 = 64 * 1024;
const LIMIT: Duration = Duration::from_secs(150);
const DOWNLOAD: Duration = Duration::from_secs(90);

/// A BEP 10 handshake with `reqq` 1 (keys in bencode order).
fn reqq_one() -> Message {
    Message::Extended {
        id: 0,
        payload: Bytes::from_static(b"d1:mde4:reqqi1e1:v10:fake-reqq1e"),
    }
}

/// The fixture's torrent as a file libtorrent can load (no trackers).
fn torrent_file(fx: &Fixture) -> Torrent {
    let path = fx.tmp.path().join("hostile.torrent");
    let mut bytes = b"d4:info".to_vec();
    bytes.extend_from_slice(&fx.meta.info_bytes);
    bytes.push(b'e');
    std::fs::write(&path, bytes).expect("write torrent");
    let t = Torrent::load(&path);
    assert_eq!(t.info_hash, fx.meta.info_hash);
    t
}

async fn start_libtorrent(t: &Torrent, data: &Path, opts: LtOptions) -> LibtorrentPeer {
    let (t, data) = (t.clone(), data.to_path_buf());
    tokio::task::spawn_blocking(move || LibtorrentPeer::start(&t, &data, opts))
        .await
        .expect("start libtorrent")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn finish_complete(dl: &mut Running, fx: &Fixture, name: &str) -> Arc<Snapshot> {
    let (outcome, snap) = dl.finish(DOWNLOAD).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcome,
        TorrentEnd::Complete,
        "{}",
        fakepeer::describe(&snap)
    );
    fx.assert_files_match(&fx.out_dir(name));
    snap
}

/// A peer that asks for `reqq` 1 gets one request at a time, keeps its connection until the
/// download is done, and the download completes.
#[test]
fn a_peer_with_reqq_1_is_served_one_request_at_a_time() {
    require_loopback_only();
    let _swarm = swarm_lock();
    runtime().block_on(bounded(LIMIT, async {
        let _g = MEASURE.read().await;
        let fx = Fixture::new(PIECE);
        let t = torrent_file(&fx);
        // Slow enough that the fake gets a share of the requests.
        let opts = LtOptions {
            seed_mode: true,
            upload_limit: 1 << 20,
            ..LtOptions::default()
        };
        let lt = start_libtorrent(&t, &fx.seed_root, opts).await;
        let most = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicU32::new(0));
        let (most2, served2) = (Arc::clone(&most), Arc::clone(&served));
        let fake = fakepeer::FakePeer::listen(Arc::clone(&fx.ctx), move |mut w, ctx| {
            let (most, served) = (Arc::clone(&most2), Arc::clone(&served2));
            async move {
                answer_handshake(&mut w, &ctx).await?;
                w.send(&[reqq_one(), Message::Bitfield(ctx.full_bitfield())])
                    .await?;
                fakepeer::unchoke_when_interested(&mut w).await?;
                serve_slowly(&mut w, &ctx, &most, &served).await
            }
        })
        .await;
        let mut dl = fx.start_downloader("dl", vec![lt.addr(), fake.addr]);
        let snap = finish_complete(&mut dl, &fx, "dl").await;
        let r = row(&snap, fake.addr).unwrap_or_else(|| panic!("no row for the fake"));
        assert!(
            served.load(Ordering::Relaxed) > 0 && r.downloaded > 0,
            "the fake served nothing: {r:?}"
        );
        assert_eq!(
            most.load(Ordering::Relaxed),
            1,
            "more requests outstanding than the peer's reqq allows"
        );
        // Its task lived to the end: the engine hung up because both were complete.
        assert_eq!(r.end, Some(PeerEnd::NotNeeded), "{r:?}");
        assert!(
            !log_has(&snap, "internal error"),
            "{}",
            fakepeer::describe(&snap)
        );
        drop(lt);
    }));
}

/// Serves requests, each after a pause in which the engine could pipeline more; records the
/// most requests outstanding at once.
async fn serve_slowly(
    w: &mut Wire,
    ctx: &fakepeer::Ctx,
    most: &AtomicUsize,
    served: &AtomicU32,
) -> Result<(), String> {
    let mut queue: std::collections::VecDeque<(u32, u32, u32)> = Default::default();
    loop {
        let msg = if queue.is_empty() {
            w.recv().await?
        } else {
            match tokio::time::timeout(Duration::from_millis(40), w.recv()).await {
                Ok(m) => m?,
                Err(_) => {
                    let Some((index, begin, length)) = queue.pop_front() else {
                        continue;
                    };
                    let data = ctx
                        .block(index, begin, length)
                        .ok_or("request out of range")?;
                    let piece = Message::Piece {
                        index,
                        begin,
                        data: Bytes::from(data),
                    };
                    if w.send(&[piece]).await.is_err() {
                        return Ok(());
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        };
        match msg {
            None => return Ok(()),
            Some(Message::Request {
                index,
                begin,
                length,
            }) => {
                queue.push_back((index, begin, length));
                most.fetch_max(queue.len(), Ordering::Relaxed);
            }
            Some(Message::Cancel { index, begin, .. }) => {
                queue.retain(|r| !(r.0 == index && r.1 == begin))
            }
            Some(_) => {}
        }
    }
}

/// Fifty peers that say `reqq` 1 take every connection slot, then leave: their slots come
/// back (once, each panicking task kept its slot and every later connection was refused),
/// and a libtorrent seeder that dials in afterwards delivers the torrent.
#[test]
fn fifty_reqq_1_peers_do_not_use_up_the_slots() {
    require_loopback_only();
    let _swarm = swarm_lock();
    runtime().block_on(bounded(LIMIT, async {
        let _g = MEASURE.read().await;
        let fx = Fixture::new(PIECE);
        let t = torrent_file(&fx);
        let mut dl = fx.start_downloader("dl", Vec::new());
        let snap = dl
            .wait_for(Duration::from_secs(20), "the downloader to listen", |s| {
                s.listen_port != 0
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let dl_addr = SocketAddr::new(LOOPBACK, snap.listen_port);
        let max_peers = Options::default().max_peers;
        let mut wires = Vec::new();
        for i in 0..max_peers {
            // Each its own peer id, or the engine would keep one as a duplicate.
            let mut id = *b"-FK0001-reqq1-000000";
            id[18..].copy_from_slice(format!("{i:02}").as_bytes());
            let mut w = Wire::connect(dl_addr, fx.ctx.num_pieces())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            w.write_raw(&Handshake::new(fx.ctx.info_hash, id).encode())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            w.read_handshake().await.unwrap_or_else(|e| panic!("{e}"));
            w.send(&[reqq_one(), Message::HaveNone])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            wires.push(w);
        }
        dl.wait_for(Duration::from_secs(20), "every slot taken", |s| {
            s.connected_peers() == max_peers
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        // Long enough for a few of the engine's rate updates, where `reqq` sizes the pipeline.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let fakes: Vec<SocketAddr> = wires.iter().map(|w| w.local).collect();
        drop(wires);
        let snap = dl
            .wait_for(
                Duration::from_secs(20),
                "the fakes' slots to come back",
                |s| s.connected_peers() == 0,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for a in &fakes {
            let r = row(&snap, *a).unwrap_or_else(|| panic!("no row for {a}"));
            assert!(
                matches!(r.end, Some(PeerEnd::ClosedByPeer | PeerEnd::Reset)),
                "{r:?}"
            );
        }
        let opts = LtOptions {
            seed_mode: true,
            peers: vec![dl_addr],
            ..LtOptions::default()
        };
        let lt = start_libtorrent(&t, &fx.seed_root, opts).await;
        let snap = finish_complete(&mut dl, &fx, "dl").await;
        let from_lt: u64 = snap
            .peers
            .iter()
            .filter(|p| p.addr.ip() == lt.addr().ip() && p.source == PeerSource::Incoming)
            .map(|p| p.downloaded)
            .sum();
        assert!(from_lt > 0, "{}", fakepeer::describe(&snap));
        drop(lt);
    }));
}

/// An HTTP tracker on 127.0.0.1 whose every reply lists `n` peers (compact, all on loopback
/// addresses where nothing listens). Returns its announce URL and the count of announces.
async fn huge_tracker(n: u32) -> (String, Arc<AtomicU32>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind tracker");
    let url = format!(
        "http://{}/announce",
        listener.local_addr().expect("tracker address")
    );
    let mut peers = Vec::with_capacity(n as usize * 6);
    for i in 0..n {
        // 127.1.x.y, ports from 20000: distinct, loopback, closed.
        peers.extend_from_slice(&[127, 1, (i >> 8) as u8 & 0x3f, i as u8]);
        peers.extend_from_slice(&(20_000 + (i >> 14) as u16).to_be_bytes());
    }
    let mut body = format!("d8:intervali1800e5:peers{}:", peers.len()).into_bytes();
    body.extend_from_slice(&peers);
    body.push(b'e');
    let body = Arc::new(body);
    let hits = Arc::new(AtomicU32::new(0));
    let hits2 = Arc::clone(&hits);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let (body, hits) = (Arc::clone(&body), Arc::clone(&hits2));
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 2048];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 << 10 {
                    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                        Ok(Ok(k)) if k > 0 => req.extend_from_slice(&buf[..k]),
                        _ => return,
                    }
                }
                hits.fetch_add(1, Ordering::Relaxed);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, hits, task)
}

/// A tracker that lists 600,000 peers costs bounded memory and a bounded peer table, and
/// the download from a real seeder completes.
#[test]
fn a_tracker_listing_600000_peers_costs_bounded_memory() {
    require_loopback_only();
    let _swarm = swarm_lock();
    runtime().block_on(bounded(LIMIT, async {
        let _g = MEASURE.write().await;
        let fx = Fixture::new(PIECE);
        let t = torrent_file(&fx);
        let (url, hits, tracker) = huge_tracker(600_000).await;
        // Slow, so the download outlasts the announce and the dialing that follows.
        let opts = LtOptions {
            seed_mode: true,
            upload_limit: 512 << 10,
            ..LtOptions::default()
        };
        let lt = start_libtorrent(&t, &fx.seed_root, opts).await;
        let rss_before = proc_status_kib("VmRSS").unwrap_or(0);
        let mut meta = fx.meta.clone();
        meta.trackers = vec![vec![url]];
        let mut dl = Running::new(engine::start(
            meta,
            Options {
                output: fx.out_dir("dl"),
                port: 0,
                bind: LOOPBACK,
                peers: vec![lt.addr()],
                use_trackers: true,
                check_threads: 1,
                ..Options::default()
            },
        ));
        let (mut most_rows, mut most_rss, mut listed) = (0, 0, 0);
        let deadline = tokio::time::Instant::now() + DOWNLOAD;
        while dl.is_running() && tokio::time::Instant::now() < deadline {
            let s = dl.latest();
            most_rows = most_rows.max(s.peers.len());
            most_rss = most_rss.max(proc_status_kib("VmRSS").unwrap_or(0));
            for r in &s.trackers {
                if let TrackerStatus::Ok { peers } = r.status {
                    listed = listed.max(peers);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let snap = finish_complete(&mut dl, &fx, "dl").await;
        tracker.abort();
        eprintln!(
            "tracker hits {}, peers kept from the reply {listed}, most rows {most_rows}, \
             RSS {rss_before} KiB -> at most {most_rss} KiB",
            hits.load(Ordering::Relaxed)
        );
        assert!(
            hits.load(Ordering::Relaxed) >= 1,
            "the tracker was never asked"
        );
        assert!(
            listed > 0 && listed <= ttui::internals::tracker::MAX_PEERS_PER_REPLY,
            "peers taken from the reply: {listed}"
        );
        assert!(most_rows <= 3_100, "peer table grew to {most_rows} rows");
        assert!(
            most_rss.saturating_sub(rss_before) < 200 << 10,
            "RSS grew from {rss_before} KiB to {most_rss} KiB"
        );
        let from_lt = row(&snap, lt.addr()).map(|r| r.downloaded).unwrap_or(0);
        assert!(from_lt > 0, "{}", fakepeer::describe(&snap));
        drop(lt);
    }));
}

/// An extended handshake nested 20,000 levels deep (`d1:x` + `l`×N + `e`×N + `e`, well under the
/// frame cap): handed straight to serde_bencode it overflowed the worker's stack and aborted
/// the whole process (issue 10, defect 1). Now only that peer is dropped.
fn deeply_nested_ext_handshake() -> Message {
    let n = 20_000;
    let mut payload = b"d1:x".to_vec();
    payload.extend(std::iter::repeat_n(b'l', n));
    payload.extend(std::iter::repeat_n(b'e', n));
    payload.push(b'e');
    Message::Extended {
        id: 0,
        payload: Bytes::from(payload),
    }
}

/// Downloading: the nested handshake ends only the fake's connection (a test binary that
/// aborts instead fails the run), and libtorrent still delivers the whole torrent.
#[test]
fn a_deeply_nested_extended_handshake_drops_only_that_peer() {
    require_loopback_only();
    let _swarm = swarm_lock();
    runtime().block_on(bounded(LIMIT, async {
        let _g = MEASURE.read().await;
        let fx = Fixture::new(PIECE);
        let t = torrent_file(&fx);
        let opts = LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        };
        let lt = start_libtorrent(&t, &fx.seed_root, opts).await;
        let sent = Arc::new(AtomicU32::new(0));
        let sent2 = Arc::clone(&sent);
        let fake = fakepeer::FakePeer::listen(Arc::clone(&fx.ctx), move |mut w, ctx| {
            let sent = Arc::clone(&sent2);
            async move {
                answer_handshake(&mut w, &ctx).await?;
                w.send(&[deeply_nested_ext_handshake()]).await?;
                sent.fetch_add(1, Ordering::Relaxed);
                w.hold_until_closed(Duration::from_secs(20)).await
            }
        })
        .await;
        let mut dl = fx.start_downloader("dl", vec![lt.addr(), fake.addr]);
        let snap = finish_complete(&mut dl, &fx, "dl").await;
        assert!(sent.load(Ordering::Relaxed) > 0, "the fake never sent it");
        let r = row(&snap, fake.addr).unwrap_or_else(|| panic!("no row for the fake"));
        assert!(
            matches!(r.end, Some(PeerEnd::Protocol(_))),
            "the fake should end with a protocol error: {r:?}"
        );
        drop(lt);
    }));
}

/// Seeding: a leecher that sends the nested handshake is dropped, and the seeder goes on
/// serving a real downloader.
#[test]
fn a_seeder_survives_a_deeply_nested_extended_handshake() {
    require_loopback_only();
    let _swarm = swarm_lock();
    runtime().block_on(bounded(LIMIT, async {
        let _g = MEASURE.read().await;
        let fx = Fixture::new(PIECE);
        let mut seeder = fx.start_seeder(false).await;
        let (mut w, _) = fakepeer::dial_as_leecher(seeder.addr(), &fx.ctx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        w.send(&[deeply_nested_ext_handshake()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        w.hold_until_closed(Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("seeder kept the hostile leecher: {e}"));
        let mut dl = fx.start_downloader("dl", vec![seeder.addr()]);
        finish_complete(&mut dl, &fx, "dl").await;
        assert_eq!(
            seeder.quit(Duration::from_secs(10)).await,
            Ok(TorrentEnd::Quit)
        );
    }));
}
