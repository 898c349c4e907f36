//! Private torrents (BEP 27): trackers and given peers only. With the DHT on, no KRPC
//! packet about a private torrent leaves ttui, its handshake does not set the DHT bit, and
//! its BEP 10 handshake offers no `ut_pex`. The only DHT node ttui knows is a UDP socket
//! in this test that answers every query and records what it was asked; a public torrent
//! in the same setup shows that the recorder does see lookups.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use tokio_util::codec::FramedRead;
use ttui::internals::engine::ExtHandshake;
use ttui::internals::protocol::krpc::{Body, Krpc, NodeId, Query, Response};
use ttui::internals::protocol::message::{Message, MessageCodec};

/// (method, the info hash or target it names) of every query received.
type Seen = Arc<Mutex<Vec<(String, Option<[u8; 20]>)>>>;

struct Recorder {
    addr: SocketAddr,
    seen: Seen,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let sock = UdpSocket::bind((loopback_ip(), 0)).expect("bind the recorder");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let (seen, stop): (Seen, _) = (Arc::default(), Arc::new(AtomicBool::new(false)));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        let id = NodeId::random();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(k) = Krpc::decode(&buf[..n]) else {
                    continue;
                };
                let Body::Query { query, .. } = k.body else {
                    continue;
                };
                let named = match &query {
                    Query::Ping => ("ping", None),
                    Query::FindNode { target, .. } => ("find_node", Some(target.0)),
                    Query::GetPeers { info_hash, .. } => ("get_peers", Some(info_hash.0)),
                    Query::AnnouncePeer { info_hash, .. } => ("announce_peer", Some(info_hash.0)),
                    Query::Other(_) => ("other", None),
                };
                if let Ok(mut s) = seen2.lock() {
                    s.push((named.0.to_string(), named.1));
                }
                let reply = Krpc {
                    tid: k.tid,
                    version: None,
                    ip: None,
                    body: Body::Response {
                        id,
                        r: Response {
                            token: Some(b"tok".to_vec()),
                            ..Response::default()
                        },
                    },
                };
                let _ = sock.send_to(&reply.encode(), from);
            }
        });
        Recorder {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<(String, Option<[u8; 20]>)> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn named(&self, hash: &[u8; 20]) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|(_, h)| h.as_ref() == Some(hash))
            .map(|(m, _)| m)
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A private copy of a fixture's payload (`mktorrent -p`, dead tracker).
fn private_torrent(payload: &Path, out: &Path) -> Torrent {
    let res = Command::new("mktorrent")
        .args(["-p", "-a", DEAD_TRACKER, "-l", "16", "-o"])
        .arg(out)
        .arg(payload)
        .output()
        .expect("mktorrent");
    assert!(res.status.success(), "mktorrent: {res:?}");
    Torrent::load(out)
}

/// Dials ttui for `hash`: its handshake, and the `m` of its BEP 10 handshake.
fn handshakes(addr: SocketAddr, hash: [u8; 20]) -> (bool, Vec<String>) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let (stream, hs, _) = ttui::internals::engine::connect_and_handshake(
            addr,
            None,
            hash,
            *b"-XX0000-private-test",
            || {},
        )
        .await
        .expect("handshake with ttui");
        assert!(hs.supports_extensions(), "ttui offers BEP 10");
        let mut rd = FramedRead::new(stream, MessageCodec::new(1 << 16));
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let m = tokio::time::timeout_at(end, rd.next())
                .await
                .expect("ttui sends its extended handshake within 10 s");
            match m {
                Some(Ok(Message::Extended { id: 0, payload })) => {
                    let h = ExtHandshake::decode(&payload).expect("a valid extended handshake");
                    return (hs.supports_dht(), h.m.keys().cloned().collect());
                }
                Some(Ok(_)) => {}
                other => panic!("ttui closed before its extended handshake: {other:?}"),
            }
        }
    })
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_private_torrent_never_reaches_the_dht_and_offers_no_pex() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let _swarm = swarm_lock();
    let rec = Recorder::start();
    let boot = rec.addr.to_string();
    let dht = ["--dht-bootstrap", boot.as_str()];

    // Control: a public torrent in the same setup is looked up and announced.
    let public = Fixture::single_file("public.bin", 256 << 10, 51, 16);
    let pub_port = free_port();
    let mut pub_seed = spawn_ttui_seeder(&public.torrent.path, &public.data_dir, pub_port, &dht);
    let pub_hash = public.torrent.info_hash;
    wait_until(
        "the public torrent's announce",
        Duration::from_secs(30),
        || rec.named(&pub_hash).iter().any(|m| m == "announce_peer"),
    );
    let (pub_dht_bit, _) = handshakes(SocketAddr::from(([127, 0, 0, 1], pub_port)), pub_hash);
    assert!(pub_dht_bit, "a public torrent's handshake sets the DHT bit");
    pub_seed.kill();

    // The private torrent: a seeder and a leecher, both with the DHT on.
    let fx = Fixture::single_file("private.bin", 2 << 20, 52, 16);
    let t = private_torrent(&fx.payload, &fx.dir.path().join("private.torrent"));
    let hash = t.info_hash;
    let seed_port = free_port();
    let mut seeder = spawn_ttui_seeder(&t.path, &fx.data_dir, seed_port, &dht);
    let seed_addr = SocketAddr::from(([127, 0, 0, 1], seed_port));
    let (dht_bit, ext) = handshakes(seed_addr, hash);
    assert!(!dht_bit, "a private torrent's handshake sets no DHT bit");
    assert!(
        !ext.iter().any(|k| k == "ut_pex"),
        "a private torrent offers ut_pex: {ext:?}"
    );
    let before = rec.seen().len();
    let out = fx.out_dir("out");
    let (out_arg, peer) = (out.display().to_string(), seed_addr.to_string());
    let run = Ttui::run(
        [
            t.path.to_str().expect("utf-8 path"),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            &free_port().to_string(),
            "--no-trackers",
            "--peer",
            &peer,
            "--dht-bootstrap",
            &boot,
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("private download from --peer");
    assert_same_tree(&fx.payload, &out.join(&t.name));
    // Give anything queued a moment to arrive, then look at everything the node was asked.
    std::thread::sleep(Duration::from_secs(2));
    seeder.kill();
    let seen = rec.seen();
    assert!(
        seen.len() > before,
        "the leecher's DHT node never talked to the recorder (is the DHT on?)\n{}",
        run.log_tail
    );
    let leaked = rec.named(&hash);
    assert!(
        leaked.is_empty(),
        "KRPC queries named the private info hash: {leaked:?}"
    );
}
