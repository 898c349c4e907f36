//! Tracker client against a real opentracker on 127.0.0.1 and against tiny in-process fakes.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::prereq;

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};

use ttui::internals::tracker::udp::UdpSchedule;
use ttui::internals::tracker::{
    announce, announce_with, spawn_with_config, AnnounceEvent, AnnounceRequest, LogLevel, Progress,
    SwarmHashes, TaskConfig, TrackerCommand, TrackerError, TrackerStatus, TrackerUpdate,
};

// ---------------------------------------------------------------------------------------------
// opentracker launcher

/// A running opentracker, killed by pid on drop.
struct OpenTracker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A port free for both TCP and UDP right now (opentracker uses the same number for both).
/// Ports come from a per-process counter so parallel tests never pick the same one.
fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = 20_000 + (std::process::id() as usize % 2_000) * 10;
    for _ in 0..200 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = u16::try_from(base + n % 40_000).unwrap_or(20_000);
        let addr = local(port);
        if StdTcpListener::bind(addr).is_ok() && StdUdpSocket::bind(addr).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

impl OpenTracker {
    fn start(whitelist: &[[u8; 20]]) -> OpenTracker {
        for _ in 0..3 {
            if let Some(t) = Self::try_start(whitelist) {
                return t;
            }
        }
        panic!("opentracker did not start (is the Debian package installed?)");
    }

    fn try_start(whitelist: &[[u8; 20]]) -> Option<OpenTracker> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().ok()?;
        // It chroots to the dir and drops to `nobody`, who must still read the whitelist.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).ok()?;
        let list: String = whitelist.iter().map(|h| hex(h) + "\n").collect();
        let wl = dir.path().join("whitelist.txt");
        std::fs::write(&wl, list).ok()?;
        std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o644)).ok()?;
        let port = free_port();
        let p = port.to_string();
        let child = Command::new("opentracker")
            .args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-d"])
            .arg(dir.path())
            .args(["-w", "whitelist.txt", "-u", "nobody"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut t = OpenTracker {
            child,
            port,
            _dir: dir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = t.child.try_wait() {
                return None;
            }
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Someone else may own the port: make sure ours did not exit on a failed bind.
                std::thread::sleep(Duration::from_millis(100));
                return match t.child.try_wait() {
                    Ok(None) => Some(t),
                    _ => None,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn client() -> reqwest::Client {
    // The same client the engine uses (no pooling: opentracker closes after each reply).
    ttui::internals::tracker::http_client_builder()
        .no_proxy()
        .build()
        .unwrap()
}

fn req(info_hash: [u8; 20], peer: u8, port: u16, event: AnnounceEvent) -> AnnounceRequest {
    let mut peer_id = *b"-TT0001-000000000000";
    peer_id[19] = peer;
    AnnounceRequest {
        info_hash,
        peer_id,
        port,
        progress: Progress {
            uploaded: 0,
            downloaded: 0,
            left: 1000,
        },
        event,
        numwant: 50,
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    free_port()
}

fn quick() -> UdpSchedule {
    UdpSchedule::doubling(Duration::from_millis(150), 3)
}

/// Hashes with a byte that must be percent-encoded, so a wrong encoding shows.
const HASH_A: [u8; 20] = *b"\x01\x02 +%&=?\xff\x80abcdefghij";
const HASH_B: [u8; 20] = [0xb0; 20];
/// A hybrid's v2 hash cut to 20 bytes, beside `HASH_B` as its v1 hash.
const HASH_B_V2: [u8; 20] = [0xb2; 20];
const NOT_LISTED: [u8; 20] = [0x77; 20];

// ---------------------------------------------------------------------------------------------
// one announce against opentracker

#[tokio::test]
async fn http_second_peer_sees_first() {
    let ot = OpenTracker::start(&[HASH_A]);
    let http = client();
    let first = announce(
        &ot.http(),
        &req(HASH_A, 1, 40001, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap();
    assert!(first.interval >= Duration::from_secs(30));
    let second = announce(
        &ot.http(),
        &req(HASH_A, 2, 40002, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap();
    assert!(second.peers.contains(&local(40001)), "{:?}", second.peers);
    assert_eq!(second.leechers, Some(2));
    assert_eq!(second.seeders, Some(0));
    assert!(second.min_interval.is_some());
}

#[tokio::test]
async fn udp_second_peer_sees_first() {
    let ot = OpenTracker::start(&[HASH_B]);
    let http = client();
    let first = announce(
        &ot.udp(),
        &req(HASH_B, 1, 40011, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap();
    assert!(first.interval >= Duration::from_secs(30));
    let mut r = req(HASH_B, 2, 40012, AnnounceEvent::Started);
    r.progress.left = 0;
    let second = announce(&ot.udp(), &r, &http).await.unwrap();
    assert!(second.peers.contains(&local(40011)), "{:?}", second.peers);
    assert_eq!(second.seeders, Some(1));
    assert_eq!(second.leechers, Some(1));
}

#[tokio::test]
async fn not_whitelisted_gives_the_trackers_reason() {
    let ot = OpenTracker::start(&[HASH_A]);
    let http = client();
    let e = announce(
        &ot.http(),
        &req(NOT_LISTED, 1, 40021, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap_err();
    match &e {
        TrackerError::Failure(text) => assert!(text.contains("not authorized"), "{text}"),
        other => panic!("expected a failure reason, got {other:?}"),
    }
    assert!(e.to_string().starts_with("tracker says: "));
}

#[tokio::test]
async fn dead_udp_port_times_out_in_bounded_time() {
    let url = format!("udp://127.0.0.1:{}/announce", dead_port());
    let schedule = quick();
    let start = Instant::now();
    let e = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::Started),
        &client(),
        &schedule,
    )
    .await
    .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, TrackerError::Timeout(_)), "{e:?}");
    assert!(
        took >= Duration::from_millis(900),
        "gave up too early: {took:?}"
    );
    // Loose on purpose: a loaded machine delays timers, and the lower bound is the point.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[tokio::test]
async fn dead_http_port_is_a_connect_error() {
    let url = format!("http://127.0.0.1:{}/announce", dead_port());
    let start = Instant::now();
    let e = announce(&url, &req(HASH_A, 1, 1, AnnounceEvent::Started), &client())
        .await
        .unwrap_err();
    assert!(matches!(e, TrackerError::Connect(_)), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// the tracker task

struct TaskHarness {
    commands: mpsc::Sender<TrackerCommand>,
    updates: mpsc::Receiver<TrackerUpdate>,
    handle: tokio::task::JoinHandle<()>,
    progress: watch::Sender<Progress>,
}

fn start_task(
    tiers: Vec<Vec<String>>,
    hashes: impl Into<SwarmHashes>,
    peer: u8,
    port: u16,
) -> TaskHarness {
    start_task_with(tiers, hashes, peer, port, |_| {})
}

fn start_task_with(
    tiers: Vec<Vec<String>>,
    hashes: impl Into<SwarmHashes>,
    peer: u8,
    port: u16,
    tweak: impl FnOnce(&mut TaskConfig),
) -> TaskHarness {
    let mut config = TaskConfig {
        shuffle: false,
        udp_schedule: quick(),
        backoff_first: Duration::from_millis(300),
        refresh: Duration::from_millis(200),
        ..TaskConfig::default()
    };
    tweak(&mut config);
    let (ptx, prx) = watch::channel(Progress {
        uploaded: 0,
        downloaded: 0,
        left: 1000,
    });
    let (ctx, crx) = mpsc::channel(8);
    let (utx, urx) = mpsc::channel(64);
    let mut peer_id = *b"-TT0001-task00000000";
    peer_id[19] = peer;
    let handle = spawn_with_config(config, tiers, hashes, peer_id, port, prx, crx, utx);
    TaskHarness {
        commands: ctx,
        updates: urx,
        handle,
        progress: ptx,
    }
}

impl TaskHarness {
    /// Reads updates until `pred` holds for one (bounded), returning every update seen.
    async fn until(
        &mut self,
        secs: u64,
        mut pred: impl FnMut(&TrackerUpdate) -> bool,
    ) -> Vec<TrackerUpdate> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(u)) => {
                    let done = pred(&u);
                    seen.push(u);
                    if done {
                        return seen;
                    }
                }
                Ok(None) => panic!("updates closed; seen {seen:#?}"),
                Err(_) => panic!("condition not met in {secs} s; seen {seen:#?}"),
            }
        }
    }
}

fn is_ok_row(u: &TrackerUpdate, url: &str) -> bool {
    matches!(u, TrackerUpdate::Status(rows)
        if rows.iter().any(|r| r.url == url && matches!(r.status, TrackerStatus::Ok { .. })))
}

#[tokio::test]
async fn tier_fails_over_to_the_live_tracker() {
    let ot = OpenTracker::start(&[HASH_A]);
    // Someone else is in the swarm, so the task gets a peer back.
    announce(
        &ot.http(),
        &req(HASH_A, 9, 40099, AnnounceEvent::Started),
        &client(),
    )
    .await
    .unwrap();
    let dead = format!("http://127.0.0.1:{}/announce", dead_port());
    let alive = ot.http();
    let mut h = start_task(vec![vec![dead.clone(), alive.clone()]], HASH_A, 1, 40031);
    let seen = h.until(10, |u| is_ok_row(u, &alive)).await;
    let Some(TrackerUpdate::Status(rows)) = seen.last() else {
        unreachable!()
    };
    assert_eq!(rows.len(), 2);
    // BEP 12: the tracker that answered moves to the front of its tier.
    assert_eq!(rows[0].url, alive);
    assert_eq!(rows[0].tier, 0);
    assert!(
        matches!(rows[0].status, TrackerStatus::Ok { peers } if peers >= 1),
        "{rows:?}"
    );
    assert!(rows[0].last_announce.is_some());
    let next = rows[0]
        .next_announce
        .expect("next announce of the working tracker");
    assert!(next > Duration::from_secs(25), "{next:?}");
    assert_eq!(rows[1].url, dead);
    assert!(
        matches!(&rows[1].status, TrackerStatus::Failed(why) if why.contains("refused")),
        "{rows:?}"
    );
    assert!(seen
        .iter()
        .any(|u| matches!(u, TrackerUpdate::Log(LogLevel::Warn, t) if t.contains(&dead))));
    // The peer batch arrives too (it may come right after the status row).
    let mut peers: Vec<SocketAddr> = seen
        .iter()
        .filter_map(|u| match u {
            TrackerUpdate::Peers(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    if peers.is_empty() {
        let more = h.until(5, |u| matches!(u, TrackerUpdate::Peers(_))).await;
        if let Some(TrackerUpdate::Peers(p)) = more.last() {
            peers = p.clone();
        }
    }
    assert!(peers.contains(&local(40099)), "{peers:?}");
    drop(h.commands);
    tokio::time::timeout(Duration::from_secs(2), h.handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_tier_with_only_dead_trackers_backs_off_and_says_when() {
    // A tracker that never answers, so every packet the task sends is seen.
    let (dead, packets) = fake_udp(Box::new(|_: &[u8]| Vec::new())).await;
    // A `stopped` round to this tracker would take the whole (long) stop bound.
    let mut h = start_task_with(vec![vec![dead.clone()]], HASH_A, 1, 40041, |c| {
        c.stop_timeout = Duration::from_secs(60);
    });
    let seen = h
        .until(10, |u| {
            matches!(u, TrackerUpdate::Status(rows)
                if matches!(&rows[0].status, TrackerStatus::Failed(w) if w.contains("timed out")))
        })
        .await;
    let Some(TrackerUpdate::Status(rows)) = seen.last() else {
        unreachable!()
    };
    let next = rows[0]
        .next_announce
        .expect("a failed tier says when it retries");
    // backoff_first (300 ms) plus at most a tenth of it: retries are spread at random so the
    // torrents of a session do not retry a dead tracker in lockstep.
    assert!(next <= Duration::from_millis(330), "{next:?}");
    // One connect per try of the schedule (a late reader may see the retry begin).
    let first_round = packets.lock().unwrap().len();
    assert!(first_round >= 3, "{first_round} packets");
    // The retry happens and fails again, with a doubled wait.
    let seen = h
        .until(
            10,
            |u| matches!(u, TrackerUpdate::Log(LogLevel::Warn, t) if t.contains("retry in 600 ms")),
        )
        .await;
    let Some(TrackerUpdate::Log(_, warn)) = seen.last() else {
        unreachable!()
    };
    assert!(warn.contains(&dead) && warn.contains("timed out"), "{warn}");
    let second_round = packets.lock().unwrap().len();
    assert!(
        second_round >= 6,
        "the retry sent {second_round} packets in all"
    );
    let (tx, rx) = oneshot::channel();
    h.commands.send(TrackerCommand::Stop(tx)).await.unwrap();
    // Nothing ever answered, so there is nobody to tell `stopped`: it ends at once. A
    // `stopped` round to the silent tracker would take the whole 60 s stop bound.
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("Stop waited for a tracker that never answered")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), h.handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn tiers_work_in_parallel_and_completed_and_stop_reach_the_tracker() {
    let ot = OpenTracker::start(&[HASH_B]);
    let http = client();
    let (udp_url, http_url) = (ot.udp(), ot.http());
    let mut h = start_task(
        vec![vec![udp_url.clone()], vec![http_url.clone()]],
        HASH_B,
        1,
        40051,
    );
    let mut ok_udp = false;
    let mut ok_http = false;
    h.until(10, |u| {
        ok_udp |= is_ok_row(u, &udp_url);
        ok_http |= is_ok_row(u, &http_url);
        ok_udp && ok_http
    })
    .await;
    // Another peer sees us.
    let other = announce(
        &http_url,
        &req(HASH_B, 7, 40052, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap();
    assert!(other.peers.contains(&local(40051)), "{:?}", other.peers);

    h.progress.send_replace(Progress {
        uploaded: 0,
        downloaded: 1000,
        left: 0,
    });
    h.commands.send(TrackerCommand::Completed).await.unwrap();
    let mut completed = 0;
    h.until(10, |u| {
        if matches!(u, TrackerUpdate::Log(LogLevel::Info, t) if t.contains("(completed)") && t.contains(" ok")) {
            completed += 1;
        }
        completed == 2
    })
    .await;
    let scrape = announce(
        &http_url,
        &req(HASH_B, 7, 40052, AnnounceEvent::None),
        &http,
    )
    .await
    .unwrap();
    assert_eq!(
        scrape.seeders,
        Some(1),
        "the tracker counts us as a seeder now"
    );

    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    h.commands.send(TrackerCommand::Stop(tx)).await.unwrap();
    // Bounded (the task gives the `stopped` round 3 s); loose here for a loaded machine.
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), h.handle)
        .await
        .unwrap()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    // `stopped` removed us from the swarm.
    let after = announce(
        &http_url,
        &req(HASH_B, 7, 40052, AnnounceEvent::None),
        &http,
    )
    .await
    .unwrap();
    assert!(!after.peers.contains(&local(40051)), "{:?}", after.peers);
}

/// A hybrid torrent (BEP 52) is two swarms on a tracker: the task announces, completes and
/// stops under both hashes, and the peers listed only under the v2 one come apart (they
/// are dialed under that hash).
#[tokio::test]
async fn a_hybrid_is_announced_completed_and_stopped_under_both_hashes() {
    let ot = OpenTracker::start(&[HASH_B, HASH_B_V2]);
    let http = client();
    let (udp_url, http_url) = (ot.udp(), ot.http());
    // A v2-only client, in the v2 swarm alone.
    announce(
        &http_url,
        &req(HASH_B_V2, 8, 40063, AnnounceEvent::Started),
        &http,
    )
    .await
    .unwrap();
    let mut h = start_task(
        vec![vec![udp_url.clone()], vec![http_url.clone()]],
        SwarmHashes::new(HASH_B, Some(HASH_B_V2)),
        1,
        40061,
    );
    let mut under_v2 = Vec::new();
    let mut ok = (false, false);
    h.until(10, |u| {
        if let TrackerUpdate::PeersUnderV2(p) = u {
            under_v2.extend(p.iter().copied());
        }
        ok.0 |= is_ok_row(u, &udp_url);
        ok.1 |= is_ok_row(u, &http_url);
        ok == (true, true) && under_v2.contains(&local(40063))
    })
    .await;
    assert!(under_v2.contains(&local(40063)), "{under_v2:?}");
    for hash in [HASH_B, HASH_B_V2] {
        let other = announce(&http_url, &req(hash, 7, 40062, AnnounceEvent::None), &http)
            .await
            .unwrap();
        assert!(other.peers.contains(&local(40061)), "{:?}", other.peers);
    }

    h.progress.send_replace(Progress {
        uploaded: 0,
        downloaded: 1000,
        left: 0,
    });
    h.commands.send(TrackerCommand::Completed).await.unwrap();
    let mut completed = 0;
    h.until(10, |u| {
        if matches!(u, TrackerUpdate::Log(LogLevel::Info, t) if t.contains("(completed)") && t.contains(" ok")) {
            completed += 1;
        }
        // Two trackers, each under two hashes.
        completed == 4
    })
    .await;
    assert_eq!(completed, 4);
    for hash in [HASH_B, HASH_B_V2] {
        let scrape = announce(&http_url, &req(hash, 7, 40062, AnnounceEvent::None), &http)
            .await
            .unwrap();
        assert_eq!(scrape.seeders, Some(1), "a seed in both swarms");
    }

    let (tx, rx) = oneshot::channel();
    h.commands.send(TrackerCommand::Stop(tx)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .unwrap()
        .unwrap();
    for hash in [HASH_B, HASH_B_V2] {
        let after = announce(&http_url, &req(hash, 7, 40062, AnnounceEvent::None), &http)
            .await
            .unwrap();
        assert!(!after.peers.contains(&local(40061)), "{:?}", after.peers);
    }
}

#[tokio::test]
async fn task_ends_when_the_engine_goes_away() {
    let dead = format!("http://127.0.0.1:{}/announce", dead_port());
    let h = start_task(vec![vec![dead.clone()]], HASH_A, 1, 40061);
    drop(h.updates);
    tokio::time::timeout(Duration::from_secs(2), h.handle)
        .await
        .unwrap()
        .unwrap();

    let h = start_task(vec![vec![dead]], HASH_A, 1, 40062);
    drop(h.commands);
    tokio::time::timeout(Duration::from_secs(2), h.handle)
        .await
        .unwrap()
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// fake HTTP tracker

/// Serves `replies` (status, body), one connection each, and hands back the request lines.
async fn fake_http(replies: Vec<(u16, Vec<u8>)>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let mut lines = Vec::new();
        for (status, body) in replies {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head);
            lines.push(text.lines().next().unwrap_or_default().to_string());
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(&body);
            let _ = sock.write_all(&out).await;
            let _ = sock.shutdown().await;
        }
        lines
    });
    (url, handle)
}

#[tokio::test]
async fn http_request_is_encoded_and_dict_peers_parse() {
    let body = b"d8:intervali120e5:peersld2:ip9:127.0.0.57:peer id20:AAAAAAAAAAAAAAAAAAAA4:porti6001eed2:ip3:::14:porti6002eed2:ip9:127.0.0.54:porti6001eeee".to_vec();
    let (url, server) = fake_http(vec![(200, body)]).await;
    let r = announce(
        &url,
        &req(HASH_A, 1, 6881, AnnounceEvent::Completed),
        &client(),
    )
    .await
    .unwrap();
    assert_eq!(r.interval, Duration::from_secs(120));
    let want: Vec<SocketAddr> = vec![
        "127.0.0.5:6001".parse().unwrap(),
        "[::1]:6002".parse().unwrap(),
        "127.0.0.5:6001".parse().unwrap(),
    ];
    assert_eq!(
        r.peers, want,
        "the raw reply keeps duplicates; the task de-duplicates"
    );
    let lines = server.await.unwrap();
    let line = &lines[0];
    assert!(line.starts_with("GET /announce?info_hash=%01%02%20%2B%25%26%3D%3F%FF%80abcdefghij&peer_id=-TT0001-00000000000%01&port=6881&"), "{line}");
    for part in [
        "uploaded=0",
        "downloaded=0",
        "left=1000",
        "compact=1",
        "numwant=50",
        "key=",
        "event=completed",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
}

#[tokio::test]
async fn http_failure_warning_status_and_garbage() {
    let (url, _s) = fake_http(vec![
        (200, b"d14:failure reason11:go away nowe".to_vec()),
        (200, b"d8:intervali60e15:warning message13:be nice\x1b[31m!5:peers6:\x7f\x00\x00\x01\x1a\xe1e".to_vec()),
        (200, b"<html>not a tracker</html>".to_vec()),
        (503, b"overloaded".to_vec()),
        (400, b"d14:failure reason9:bad queryee".to_vec()),
        (200, vec![b'l'; 100_000]),
    ])
    .await;
    let http = client();
    let r = req(HASH_A, 1, 6881, AnnounceEvent::None);
    assert_eq!(
        announce(&url, &r, &http).await.unwrap_err(),
        TrackerError::Failure("go away now".into())
    );
    let ok = announce(&url, &r, &http).await.unwrap();
    assert_eq!(
        ok.warning.as_deref(),
        Some("be nice[31m!"),
        "escape byte dropped"
    );
    assert_eq!(ok.peers, vec![local(6881)]);
    assert!(matches!(
        announce(&url, &r, &http).await.unwrap_err(),
        TrackerError::BadReply(_)
    ));
    assert_eq!(
        announce(&url, &r, &http).await.unwrap_err(),
        TrackerError::HttpStatus(503)
    );
    assert_eq!(
        announce(&url, &r, &http).await.unwrap_err(),
        TrackerError::Failure("bad query".into())
    );
    assert!(matches!(
        announce(&url, &r, &http).await.unwrap_err(),
        TrackerError::BadReply(_)
    ));
}

#[tokio::test]
async fn http_oversized_reply_is_refused() {
    let mut body = b"d8:intervali60e5:peers5000000:".to_vec();
    body.resize(body.len() + 5_000_000, 0);
    body.push(b'e');
    let (url, _s) = fake_http(vec![(200, body)]).await;
    let e = announce(&url, &req(HASH_A, 1, 6881, AnnounceEvent::None), &client())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TrackerError::BadReply(w) if w.contains("larger")),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// fake UDP tracker

const MAGIC: u64 = 0x41727101980;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn connect_reply(txid: u32, conn_id: u64) -> Vec<u8> {
    let mut v = 0u32.to_be_bytes().to_vec();
    v.extend_from_slice(&txid.to_be_bytes());
    v.extend_from_slice(&conn_id.to_be_bytes());
    v
}

fn announce_reply(txid: u32, interval: u32, peers: &[u8]) -> Vec<u8> {
    let mut v = 1u32.to_be_bytes().to_vec();
    v.extend_from_slice(&txid.to_be_bytes());
    v.extend_from_slice(&interval.to_be_bytes());
    v.extend_from_slice(&3u32.to_be_bytes()); // leechers
    v.extend_from_slice(&4u32.to_be_bytes()); // seeders
    v.extend_from_slice(peers);
    v
}

fn error_reply(txid: u32, msg: &str) -> Vec<u8> {
    let mut v = 3u32.to_be_bytes().to_vec();
    v.extend_from_slice(&txid.to_be_bytes());
    v.extend_from_slice(msg.as_bytes());
    v
}

type Handler = Box<dyn FnMut(&[u8]) -> Vec<Vec<u8>> + Send>;

/// Answers each datagram with whatever `handler` returns; records every datagram.
async fn fake_udp(mut handler: Handler) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let url = format!("udp://{}/announce", sock.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let pkt = buf[..n].to_vec();
            log2.lock().unwrap().push(pkt.clone());
            for reply in handler(&pkt) {
                let _ = sock.send_to(&reply, from).await;
            }
        }
    });
    (url, log)
}

/// A correct tracker: connect id 0xC0FFEE, the given peers.
fn well_behaved(peers: Vec<u8>, connects: Arc<AtomicUsize>) -> Handler {
    Box::new(move |p: &[u8]| {
        let txid = u32_at(p, 12);
        if p.len() == 16 && u64::from_be_bytes(p[..8].try_into().unwrap()) == MAGIC {
            connects.fetch_add(1, Ordering::SeqCst);
            vec![connect_reply(txid, 0xC0FFEE)]
        } else if p.len() >= 98 && u64::from_be_bytes(p[..8].try_into().unwrap()) == 0xC0FFEE {
            vec![announce_reply(txid, 5, &peers)]
        } else {
            vec![error_reply(txid, "bad connection id")]
        }
    })
}

#[tokio::test]
async fn udp_packet_layout_and_connection_id_reuse() {
    let connects = Arc::new(AtomicUsize::new(0));
    let peers = vec![127, 0, 0, 9, 0x1f, 0x90, 127, 0, 0, 9, 0x1f, 0x90, 1, 2, 3];
    let (url, log) = fake_udp(well_behaved(peers, connects.clone())).await;
    let http = client();
    let mut r = req(HASH_A, 1, 6999, AnnounceEvent::Started);
    r.progress = Progress {
        uploaded: 11,
        downloaded: 22,
        left: 33,
    };
    let resp = announce_with(&url, &r, &http, &quick()).await.unwrap();
    let p: SocketAddr = "127.0.0.9:8080".parse().unwrap();
    assert_eq!(
        resp.peers,
        vec![p, p],
        "ragged tail ignored; duplicates are the task's job"
    );
    assert_eq!((resp.seeders, resp.leechers), (Some(4), Some(3)));
    assert_eq!(
        resp.interval,
        Duration::from_secs(30),
        "interval 5 s is clamped up"
    );
    r.event = AnnounceEvent::Stopped;
    announce_with(&url, &r, &http, &quick()).await.unwrap();
    assert_eq!(
        connects.load(Ordering::SeqCst),
        1,
        "connection id reused within 60 s"
    );

    let pkts = log.lock().unwrap().clone();
    assert_eq!(pkts.len(), 3);
    let a = &pkts[1];
    assert_eq!(a.len(), 98);
    assert_eq!(u32_at(a, 8), 1, "action announce");
    assert_eq!(&a[16..36], &HASH_A);
    assert_eq!(&a[36..56], &r.peer_id);
    assert_eq!(
        u64::from_be_bytes(a[56..64].try_into().unwrap()),
        22,
        "downloaded"
    );
    assert_eq!(
        u64::from_be_bytes(a[64..72].try_into().unwrap()),
        33,
        "left"
    );
    assert_eq!(
        u64::from_be_bytes(a[72..80].try_into().unwrap()),
        11,
        "uploaded"
    );
    assert_eq!(u32_at(a, 80), 2, "event started");
    assert_eq!(u32_at(a, 92), 50, "numwant");
    assert_eq!(u16::from_be_bytes([a[96], a[97]]), 6999);
    assert_eq!(u32_at(&pkts[2], 80), 3, "event stopped");
    assert_ne!(
        u32_at(&pkts[0], 12),
        u32_at(a, 12),
        "fresh transaction id per request"
    );
}

#[tokio::test]
async fn udp_wrong_transaction_id_is_ignored() {
    // Only wrong ids: the client keeps waiting and times out within the schedule.
    let (url, log) = fake_udp(Box::new(|p: &[u8]| {
        let txid = u32_at(p, 12);
        vec![connect_reply(txid.wrapping_add(1), 1)]
    }))
    .await;
    let start = Instant::now();
    let e = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TrackerError::Timeout(_)), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(log.lock().unwrap().len(), 3, "one connect per try");

    // A stale reply first, then the right one: accepted.
    let connects = Arc::new(AtomicUsize::new(0));
    let mut inner = well_behaved(vec![127, 0, 0, 1, 0, 7], connects);
    let (url, _log) = fake_udp(Box::new(move |p: &[u8]| {
        let txid = u32_at(p, 12);
        let mut out = vec![announce_reply(txid ^ 0xffff, 60, &[10, 0, 0, 1, 0, 1])];
        out.extend(inner(p));
        out
    }))
    .await;
    let r = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!(r.peers, vec![local(7)]);
}

#[tokio::test]
async fn udp_error_action_and_garbage() {
    let (url, _log) = fake_udp(Box::new(|p: &[u8]| {
        let txid = u32_at(p, 12);
        if p.len() == 16 {
            vec![connect_reply(txid, 5)]
        } else {
            vec![error_reply(txid, "unregistered torrent\n\x1b[2J")]
        }
    }))
    .await;
    let e = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
        &quick(),
    )
    .await
    .unwrap_err();
    assert_eq!(e, TrackerError::Failure("unregistered torrent [2J".into()));

    // Short and odd datagrams are no reply at all; a short announce reply is a bad reply.
    let (url, _log) = fake_udp(Box::new(|p: &[u8]| {
        let txid = u32_at(p, 12);
        if p.len() == 16 {
            vec![
                vec![0, 1],
                b"garbage garbage garbage".to_vec(),
                connect_reply(txid, 5),
            ]
        } else {
            let mut short = 1u32.to_be_bytes().to_vec();
            short.extend_from_slice(&txid.to_be_bytes());
            short.extend_from_slice(&[0, 0]);
            vec![short]
        }
    }))
    .await;
    let e = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TrackerError::BadReply(_)), "{e:?}");
}

#[tokio::test]
async fn udp_over_ipv6_reads_18_byte_peers() {
    if !prereq::have_ipv6_loopback() {
        return;
    }
    let sock = UdpSocket::bind("[::1]:0").await.unwrap();
    let url = format!("udp://{}/announce", sock.local_addr().unwrap());
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let p = &buf[..n];
            let txid = u32_at(p, 12);
            let reply = if n == 16 {
                connect_reply(txid, 9)
            } else {
                let mut peer = [0u8; 18];
                peer[15] = 1;
                peer[16] = 0x1a;
                peer[17] = 0xe1;
                announce_reply(txid, 60, &peer)
            };
            let _ = sock.send_to(&reply, from).await;
        }
    });
    let r = announce_with(
        &url,
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!(r.peers, vec!["[::1]:6881".parse::<SocketAddr>().unwrap()]);
}

#[tokio::test]
async fn other_schemes_are_refused() {
    let e = announce(
        "ftp://127.0.0.1/announce",
        &req(HASH_A, 1, 1, AnnounceEvent::None),
        &client(),
    )
    .await
    .unwrap_err();
    assert_eq!(e, TrackerError::UnsupportedScheme("ftp".into()));
}

/// Thousands of torrents starting together must not open thousands of tracker connections at
/// once: announces beyond `MAX_CONCURRENT_ANNOUNCES` wait for a slot.
#[tokio::test]
async fn announces_in_flight_are_bounded_across_the_process() {
    let max = ttui::internals::tracker::MAX_CONCURRENT_ANNOUNCES;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and never answers, so every announce that got a slot keeps it.
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    let tiers: Vec<Vec<String>> = (0..max + 20)
        .map(|i| vec![format!("http://127.0.0.1:{port}/t{i}/announce")])
        .collect();
    let task = start_task(tiers, [0x5a; 20], 9, 6881);
    // Bounded wait: until the count stops growing for a second, at most 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = usize::MAX;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = accepted.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    let seen = accepted.load(Ordering::SeqCst);
    task.handle.abort();
    server.abort();
    assert!(seen >= 1, "no announce was sent at all");
    assert!(
        seen <= max,
        "{seen} announces in flight at once; at most {max} may be"
    );
}

#[tokio::test]
async fn many_torrents_announcing_at_once_share_one_udp_connection_id() {
    let connects = Arc::new(AtomicUsize::new(0));
    let (url, log) = fake_udp(well_behaved(Vec::new(), connects.clone())).await;
    let http = client();
    let announces = (0..20u8).map(|i| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let mut hash = HASH_A;
            hash[0] = i;
            let r = req(hash, 1, 6999, AnnounceEvent::Started);
            announce_with(&url, &r, &http, &quick()).await
        }
    });
    for r in futures::future::join_all(announces).await {
        r.unwrap();
    }
    assert_eq!(
        connects.load(Ordering::SeqCst),
        1,
        "20 torrents' announces made one connect"
    );
    assert_eq!(log.lock().unwrap().len(), 21);
}
