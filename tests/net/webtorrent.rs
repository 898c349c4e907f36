//! WebTorrent peers, real ones: the `webtorrent` npm package in Node
//! (tests/net/webtorrent/peer.mjs: WebRTC only, its TCP listener closed) and its browser
//! bundle in headless Chromium (tests/net/webtorrent/browser.html), all finding each other
//! through the `bittorrent-tracker` server (tests/net/ws_tracker/server.mjs) on 127.0.0.1.
//! A ttui daemon downloads from them and uploads to them over WebRTC data channels; every
//! copy is compared byte for byte.
//!
//! One test runs on a test internet of namespaces instead (tests/netlab): ttui and a Node
//! peer behind two NATs, the tracker and coturn (STUN) on a public host of it.
//!
//! Nothing leaves loopback or that test internet: the namespace has only `lo`, the peers'
//! WebRTC configurations name no ICE server but the test's coturn, their torrents name only
//! the test's tracker, and Chromium runs with the flags of tests/net/webrtc.rs.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::kit::*;
use crate::netlab::{self, Host, Kind, Lab};
use crate::payload::*;
use crate::prereq;
use crate::webrtc::{read_request, Browser, Coturn};
use crate::ws_tracker::{node_modules, WsTracker};

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Node's start, the first announce, ICE and a few MiB over loopback: seconds; this bounds
/// each wait on a loaded machine.
const WAIT: Duration = Duration::from_secs(90);

/// A WebTorrent peer in Node, killed by pid on drop (its stdin closing ends it too).
struct NodePeer {
    child: Child,
    _stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl NodePeer {
    fn start(modules: &Path, args: &[&str], name: &str) -> NodePeer {
        NodePeer::start_in(None, modules, args, name)
    }

    /// In `host` of a test internet (tests/netlab), or here with none.
    fn start_in(host: Option<&Host>, modules: &Path, args: &[&str], name: &str) -> NodePeer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/webtorrent/peer.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .args(args)
            // peer.mjs takes the directory holding node_modules.
            .env("TTUI_NODE_MODULES", modules.parent().unwrap());
        let mut cmd = match host {
            Some(h) => h.command(&cmd),
            None => cmd,
        };
        let (child, stdin, lines) = spawn_line_child(&mut cmd, name);
        NodePeer {
            child,
            _stdin: stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line whose `event` is `event`, within `WAIT`; an `error` line fails.
    fn wait(&mut self, event: &str) -> Value {
        let until = Instant::now() + WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "the WebTorrent peer said no `{event}`; it said: {:#?}",
                    self.seen
                );
            };
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            self.seen.push(line);
            match v["event"].as_str() {
                Some(e) if e == event => return v,
                Some("error") => panic!("the WebTorrent peer failed: {:#?}", self.seen),
                _ => {}
            }
        }
    }

    /// Everything it said so far (read without waiting).
    fn said(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the tests need: node with the npm set, and the tracker.
fn setup() -> Option<(PathBuf, WsTracker)> {
    require_loopback_only();
    let modules = node_modules()?;
    if !modules.join("webtorrent").is_dir() {
        prereq::skip("the npm package webtorrent (TTUI_NODE_MODULES, made by tests/run.sh)");
        return None;
    }
    let tracker = WsTracker::start(&modules);
    Some((modules, tracker))
}

/// Waits until the daemon lists `hash` as seeding, every byte verified.
fn wait_complete(env: &Env, daemon: &mut Daemon, hash: &str) {
    env.wait_list("the download over WebRTC", WAIT, daemon, |rows| {
        rows.iter().any(|r| {
            r["info_hash"] == hash
                && r["state"] == "seeding"
                && r["verified_bytes"] == r["total_bytes"]
        })
    });
}

/// The daemon's log says a WebRTC data channel opened with a WebTorrent peer.
fn assert_webrtc_peer(daemon: &mut Daemon) {
    let log = daemon.log_text();
    assert!(
        !lines_with(&log, "WebRTC data channel open (WebTorrent").is_empty(),
        "no WebRTC connection with a WebTorrent peer in the log\n{}",
        daemon.report()
    );
}

/// A WebTorrent seeder in Node makes a torrent whose only tracker is the WebSocket one; the
/// daemon, given the .torrent, downloads it over WebRTC, byte-identical.
#[test]
fn ttui_downloads_from_a_webtorrent_seeder_in_node() {
    from_node_seeder("from-node.bin", 3_000_000, 82, "torrentFile");
}

/// A magnet whose only tracker is `ws://`: the metadata comes from the WebTorrent seeder
/// over WebRTC (BEP 9), then the data.
#[test]
fn a_magnet_with_only_a_websocket_tracker_fetches_its_metadata_from_webtorrent_peers() {
    from_node_seeder("by-magnet.bin", 1_500_000, 83, "magnet");
}

/// A Node seeder of `len` bytes; the daemon is given what its `ready` line says under `by`
/// (its .torrent's path or its magnet) and downloads it over WebRTC, byte-identical.
fn from_node_seeder(name: &str, len: u64, seed: u64, by: &str) {
    let Some((modules, tracker)) = setup() else {
        return;
    };
    let env = Env::new("ttui-webtorrent-");
    let node_dir = env.root.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let file = make_single_file_payload(&node_dir, name, len, seed);
    let url = tracker.url();
    let mut seeder = NodePeer::start(
        &modules,
        &["seed", file.to_str().unwrap(), "--tracker", &url],
        "the WebTorrent seeder",
    );
    let ready = seeder.wait("ready");
    let given = ready[by].as_str().unwrap().to_string();
    if by == "magnet" {
        assert!(given.contains("tr=ws%3A"), "{given}");
    }
    let hash = ready["infoHash"].as_str().unwrap().to_string();

    let mut daemon = Daemon::start(&env, "1", &[]);
    let added = env.verb(&["add", &given]);
    assert_eq!(added.code, 0, "{added:?}");
    wait_complete(&env, &mut daemon, &hash);
    assert_eq!(
        sha256_file(&env.out.join(name)),
        sha256_file(&file),
        "the copy differs"
    );
    assert_webrtc_peer(&mut daemon);
    assert!(
        seeder
            .said()
            .iter()
            .any(|l| l.contains("\"type\":\"webrtc\"")),
        "the seeder saw no WebRTC wire: {:#?}",
        seeder.said()
    );
    daemon.assert_alive("the end");
}

/// The daemon seeds a torrent whose only tracker is the WebSocket one; a WebTorrent leecher
/// in Node downloads it from ttui over WebRTC, byte-identical.
#[test]
fn a_webtorrent_leecher_in_node_downloads_from_ttui() {
    let Some((modules, tracker)) = setup() else {
        return;
    };
    let env = Env::new("ttui-webtorrent-up-");
    let made = env.root.path().join("t");
    let url = tracker.url();
    let mut p = Payload::make(&env.out, &made, "to-node.bin", &[("", 2_500_000)], 84);
    p.torrent = p
        .torrent
        .with_trackers(&made.join("to-node-ws.torrent"), Some(&url), &[]);
    let mut daemon = Daemon::start(&env, "1", &[]);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    wait_complete(&env, &mut daemon, &p.hash());

    let dest = env.root.path().join("node-leech");
    std::fs::create_dir_all(&dest).unwrap();
    let mut leecher = NodePeer::start(
        &modules,
        &[
            "leech",
            &p.path(),
            dest.to_str().unwrap(),
            "--tracker",
            &url,
        ],
        "the WebTorrent leecher",
    );
    let done = leecher.wait("done");
    let got = PathBuf::from(done["path"].as_str().unwrap());
    assert_eq!(sha256_file(&got), sha256_file(&p.root));
    assert_webrtc_peer(&mut daemon);
    daemon.assert_alive("the end");
}

const PAGE: &str = include_str!("webtorrent/browser.html");

/// WebTorrent's browser bundle in headless Chromium downloads from the daemon over WebRTC;
/// the page posts the SHA-256 of the file it got.
#[test]
fn a_webtorrent_leecher_in_chromium_downloads_from_ttui() {
    let Some((modules, tracker)) = setup() else {
        return;
    };
    if !prereq::have_tools(&["chromium"]) {
        return;
    }
    let env = Env::new("ttui-webtorrent-browser-");
    let made = env.root.path().join("t");
    let url = tracker.url();
    let mut p = Payload::make(&env.out, &made, "to-browser.bin", &[("", 2_000_000)], 85);
    p.torrent = p
        .torrent
        .with_trackers(&made.join("to-browser-ws.torrent"), Some(&url), &[]);
    let mut daemon = Daemon::start(&env, "1", &[]);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    wait_complete(&env, &mut daemon, &p.hash());

    let (digest, logs, mut browser) = browser_leech(&env, &modules, &p.torrent.path);
    let Some(digest) = digest else {
        panic!(
            "the page posted no digest; its log: {logs:#?}\n{}\n{}",
            browser.report(),
            daemon.report()
        );
    };
    assert_eq!(digest, sha256_file(&p.root), "the page's log: {logs:#?}");
    assert!(
        logs.iter().any(|l| l.starts_with("wire webrtc")),
        "the page's log: {logs:#?}"
    );
    assert_webrtc_peer(&mut daemon);
    daemon.assert_alive("the end");
}

/// Serves the page, WebTorrent's bundle and `torrent` on 127.0.0.1, opens the page in
/// Chromium and waits for the digest it posts: (the digest, the page's log, the browser).
pub(crate) fn browser_leech(
    env: &Env,
    modules: &Path,
    torrent: &Path,
) -> (Option<String>, Vec<String>, Browser) {
    let bundle = std::fs::read(modules.join("webtorrent/dist/webtorrent.min.js")).unwrap();
    let torrent = std::fs::read(torrent).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std_mpsc::channel::<(String, String)>();
    rt.spawn(serve_page(listener, bundle, torrent, tx));
    let dir = env.root.path().join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let browser = Browser::start(&dir, &format!("http://127.0.0.1:{port}/"));
    let mut logs = Vec::new();
    let until = Instant::now() + WAIT;
    let digest = loop {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((kind, body)) if kind == "result" => break Some(body),
            Ok((_, body)) => {
                let failed = body.starts_with("error");
                logs.push(body);
                if failed {
                    break None;
                }
            }
            Err(_) => break None,
        }
    };
    rt.shutdown_background();
    (digest, logs, browser)
}

async fn serve_page(
    listener: tokio::net::TcpListener,
    bundle: Vec<u8>,
    torrent: Vec<u8>,
    events: std_mpsc::Sender<(String, String)>,
) {
    use tokio::io::AsyncWriteExt;
    let (bundle, torrent) = (std::sync::Arc::new(bundle), std::sync::Arc::new(torrent));
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        let (bundle, torrent, events) = (bundle.clone(), torrent.clone(), events.clone());
        tokio::spawn(async move {
            let Some((method, path, body)) = read_request(&mut conn).await else {
                return;
            };
            let (status, kind, reply): (&str, &str, Vec<u8>) =
                match (method.as_str(), path.as_str()) {
                    ("GET", "/") => ("200 OK", "text/html", PAGE.as_bytes().to_vec()),
                    ("GET", "/webtorrent.min.js") => ("200 OK", "text/javascript", bundle.to_vec()),
                    ("GET", "/t.torrent") => {
                        ("200 OK", "application/x-bittorrent", torrent.to_vec())
                    }
                    ("POST", "/result") => {
                        let _ = events.send(("result".into(), body));
                        ("200 OK", "text/plain", Vec::new())
                    }
                    ("POST", "/log") => {
                        let _ = events.send(("log".into(), body));
                        ("200 OK", "text/plain", Vec::new())
                    }
                    _ => ("404 Not Found", "text/plain", Vec::new()),
                };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(&reply).await;
            let _ = conn.shutdown().await;
        });
    }
}

/// A private torrent whose tracker list holds a WebSocket tracker never announces there
/// (browser peers are not its tracker's peers): the row says why, and the tracker never
/// hears of the torrent.
#[test]
fn a_private_torrent_never_announces_to_a_websocket_tracker() {
    let Some((_modules, mut tracker)) = setup() else {
        return;
    };
    let env = Env::new("ttui-webtorrent-private-");
    let file = make_single_file_payload(&env.out, "private.bin", 200_000, 86);
    let torrent = env.root.path().join("private.torrent");
    let url = tracker.url();
    let mut create = env.ttui();
    create.args([
        "create",
        "--no-config",
        "--v1",
        "--private",
        "--tracker",
        &url,
        "-o",
    ]);
    create.arg(&torrent).arg(&file);
    assert_eq!(run(create, "ttui create").code, 0);
    let mut daemon = Daemon::start(&env, "1", &[]);
    let added = env.verb(&["add", torrent.to_str().unwrap(), "--json"]);
    assert_eq!(added.code, 0, "{added:?}");
    let rows = env.wait_list("the private torrent", WAIT, &mut daemon, |rows| {
        rows.len() == 1
    });
    let hash = rows[0]["info_hash"].as_str().unwrap().to_string();
    let until = Instant::now() + WAIT;
    loop {
        let show = env.verb(&["show", &hash, "--json"]);
        let shown: Value = serde_json::from_str(&show.stdout).unwrap_or_default();
        let row = shown["trackers"][0].to_string();
        if row.contains("a private torrent takes no browser peers") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the row never said why: {row}\n{}",
            daemon.report()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        tracker.swarm(&hash),
        (0, 0),
        "the tracker heard of the private torrent"
    );
    daemon.assert_alive("the end");
}

/// The bridge. A python3-libtorrent seed reachable over TCP only (its tracker: opentracker,
/// over HTTP) and a WebTorrent leecher in Chromium reachable over WebRTC only (its tracker:
/// the WebSocket one) share no transport. ttui, given the torrent with both trackers, takes
/// pieces from the one and serves them to the other: the browser's copy is byte-identical.
#[test]
fn ttui_bridges_a_tcp_only_libtorrent_seed_to_a_browser() {
    let Some((modules, ws)) = setup() else {
        return;
    };
    if !prereq::have_tools(&["chromium", "opentracker"]) || !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-webtorrent-bridge-");
    let lt_dir = env.root.path().join("lt");
    let made = env.root.path().join("t");
    let p = Payload::make(&lt_dir, &made, "bridge.bin", &[("", 3_000_000)], 87);
    let tracker = Opentracker::start(&[p.torrent.info_hash]);
    let tiers = vec![vec![tracker.http_url()], vec![ws.url()]];
    let both = p.torrent.with_trackers(
        &made.join("bridge-both.torrent"),
        Some(&tracker.http_url()),
        &tiers,
    );
    let mut tracker = tracker;
    let _seed = LibtorrentSeeder::start(&both, &lt_dir, LtOptions::default());
    tracker.wait_seeders(&both.info_hash, 1);

    let mut daemon = Daemon::start(&env, "1", &[]);
    assert_eq!(env.verb(&["add", both.path.to_str().unwrap()]).code, 0);
    // The browser joins at once: the pieces reach it as ttui gets them.
    let (digest, logs, mut browser) = browser_leech(&env, &modules, &both.path);
    let Some(digest) = digest else {
        panic!(
            "the page posted no digest; its log: {logs:#?}\n{}\n{}",
            browser.report(),
            daemon.report()
        );
    };
    assert_eq!(digest, sha256_file(&p.root), "the page's log: {logs:#?}");
    let wires: Vec<&String> = logs.iter().filter(|l| l.starts_with("wire ")).collect();
    assert!(
        !wires.is_empty() && wires.iter().all(|l| l.starts_with("wire webrtc")),
        "the browser's connections: {logs:#?}"
    );
    wait_complete(&env, &mut daemon, &p.hash());
    assert_eq!(
        sha256_file(&env.out.join("bridge.bin")),
        sha256_file(&p.root)
    );
    assert_webrtc_peer(&mut daemon);
    let log = daemon.log_text();
    assert!(
        !lines_with(&log, "connected, payload").is_empty(),
        "ttui never connected to libtorrent over TCP\n{}",
        daemon.report()
    );
    daemon.assert_alive("the end");
}

/// Behind NATs, on the test internet (tests/netlab): ttui behind one NAT, a WebTorrent
/// seeder in Node behind another (masquerade, no port mapping: neither can take an
/// unsolicited packet), the WebSocket tracker and coturn (a STUN server) on a public host.
/// Neither peer's host address is routable from the other, so the data channel can only come
/// up between the addresses the NATs show, which each learned from coturn and offered as a
/// server-reflexive candidate; ttui downloads byte-identical over it.
#[test]
fn a_webtorrent_peer_and_ttui_behind_two_nats_meet_through_server_reflexive_candidates() {
    if !netlab::have_tools() || !prereq::have_tools(&["turnserver"]) {
        return;
    }
    let Some(modules) = node_modules() else {
        return;
    };
    if !modules.join("webtorrent").is_dir() {
        prereq::skip("the npm package webtorrent (TTUI_NODE_MODULES, made by tests/run.sh)");
        return;
    }
    let mut lab = Lab::new();
    lab.add("public", Kind::Public4);
    let (nat_a, nat_b) = (lab.nat("nat-a"), lab.nat("nat-b"));
    lab.add("ttui", Kind::Nat4(nat_a));
    lab.add("node", Kind::Nat4(nat_b));
    let (public, ttui_host, node_host) = (
        lab.host("public").clone(),
        lab.host("ttui").clone(),
        lab.host("node").clone(),
    );
    let stun = Coturn::start_in(Some(&public), &public.ip4().to_string(), 3478);
    let tracker = WsTracker::start_in(&modules, Some(&public));

    let env = Env::new("ttui-webtorrent-nat-");
    let node_dir = env.root.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let file = make_single_file_payload(&node_dir, "across-nats.bin", 2_000_000, 88);
    let stun_at = stun.addr.to_string();
    let mut seeder = NodePeer::start_in(
        Some(&node_host),
        &modules,
        &[
            "seed",
            file.to_str().unwrap(),
            "--tracker",
            &tracker.url(),
            "--stun",
            &stun_at,
        ],
        "the WebTorrent seeder behind NAT B",
    );
    let ready = seeder.wait("ready");
    let torrent = ready["torrentFile"].as_str().unwrap().to_string();

    let log = env.root.path().join("ttui.log");
    let run = Ttui::spawn_wrapped(
        &["ip", "netns", "exec", &ttui_host.ns],
        [
            torrent.as_str(),
            "--headless",
            "-o",
            env.out.to_str().unwrap(),
            "--no-dht",
            "--no-lsd",
            "--stun-server",
            &stun_at,
            "--log-file",
            log.to_str().unwrap(),
        ],
    );
    let text = || String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    let mut run = run;
    let until = Instant::now() + WAIT;
    while !run.has_exited() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = |seeder: &mut NodePeer| {
        format!(
            "ttui's log:\n{}\nthe seeder said: {:#?}",
            last_lines(&text(), 80),
            seeder.said(),
        )
    };
    if !run.has_exited() {
        panic!(
            "ttui did not complete from a WebTorrent peer behind another NAT\n{}",
            report(&mut seeder)
        );
    }
    let fin = run.wait(WAIT);
    fin.assert_success(&report(&mut seeder));
    assert_eq!(
        sha256_file(&env.out.join("across-nats.bin")),
        sha256_file(&file),
        "the copy differs"
    );
    // The data channel's far end is NAT B's public address: the seeder's server-reflexive
    // candidate (its host address, 192.0.2.x behind NAT B, is unreachable from NAT A).
    let node_nat = node_host.nat_v4.unwrap().to_string();
    let log_text = text();
    let opened = lines_with(&log_text, "WebRTC data channel open (WebTorrent");
    assert!(
        opened.iter().any(|l| l.contains(&format!("{node_nat}:"))),
        "no data channel with the seeder at its NAT's address {node_nat}: {opened:#?}\n{}",
        last_lines(&log_text, 60)
    );
}
