//! WebSocket trackers against the real one: the `bittorrent-tracker` npm package's server
//! (tests/net/ws_tracker/server.mjs), WebSocket only, on 127.0.0.1. The tracker's own view
//! (its swarm's counts, the events it took) says what arrived; the tracker task's rows and a
//! session's `ttui show --json` say what ttui made of the answers.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::kit::*;
use crate::netlab::Host;
use crate::payload::*;
use crate::prereq;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use ttui::internals::net::webrtc::{WebRtc, WebRtcConfig};

use ttui::internals::tracker::{
    spawn_with_config, Progress, TaskConfig, TrackerCommand, TrackerRow, TrackerStatus,
    TrackerUpdate,
};

/// The first announce and the tracker's answer take well under a second; this bounds them
/// on a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

/// The directory holding `node_modules` with `bittorrent-tracker`, or a skip.
pub(crate) fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("TTUI_NODE_MODULES")
        .map(|d| PathBuf::from(d).join("node_modules"))
        .filter(|d| d.join("bittorrent-tracker").is_dir());
    if dir.is_none() || !prereq::have_tools(&["node"]) {
        prereq::skip(
            "the npm package bittorrent-tracker (TTUI_NODE_MODULES, made by tests/run.sh)",
        );
        return None;
    }
    dir
}

/// A running bittorrent-tracker server, killed by pid on drop.
pub(crate) struct WsTracker {
    child: Child,
    stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
    /// Lines read while looking for another kind: events seen before they are asked for.
    seen: Vec<Value>,
    ip: IpAddr,
    port: u16,
}

impl WsTracker {
    /// On 127.0.0.1.
    pub(crate) fn start(modules: &Path) -> WsTracker {
        WsTracker::start_in(modules, None)
    }

    /// In a host of a test internet (tests/netlab), on its IPv4 address; on 127.0.0.1 with
    /// none.
    pub(crate) fn start_in(modules: &Path, host: Option<&Host>) -> WsTracker {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/ws_tracker/server.mjs");
        let ip = host.map_or(IpAddr::from([127, 0, 0, 1]), |h| h.ip4().into());
        let mut cmd = Command::new("node");
        cmd.arg(script).arg(modules).arg(ip.to_string());
        let mut cmd = match host {
            Some(h) => h.command(&cmd),
            None => cmd,
        };
        let (child, stdin, lines) = spawn_line_child(&mut cmd, "the WebSocket tracker");
        let mut t = WsTracker {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            ip,
            port: 0,
        };
        let first = t.lines.recv_timeout(WAIT).expect("the tracker listens");
        t.port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a port: {first}"));
        t
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://{}/announce", SocketAddr::new(self.ip, self.port))
    }

    /// The next JSON line, within `limit`.
    fn next(&mut self, limit: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(limit).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}")))
    }

    /// The tracker's counts of the torrent: (complete, incomplete).
    pub(crate) fn swarm(&mut self, hash_hex: &str) -> (u64, u64) {
        writeln!(self.stdin, "swarm {hash_hex}").unwrap();
        self.stdin.flush().unwrap();
        let until = Instant::now() + WAIT;
        while let Some(v) = self.next(until.saturating_duration_since(Instant::now())) {
            if v.get("complete").is_some() {
                return (
                    v["complete"].as_u64().unwrap(),
                    v["incomplete"].as_u64().unwrap(),
                );
            }
            self.seen.push(v);
        }
        panic!("the tracker did not answer `swarm`");
    }

    /// A browser-like leecher joins the swarm with `n` WebRTC offers, which the tracker relays
    /// to the peers already in it; what the server said of it.
    fn offer(&mut self, hash_hex: &str, n: usize) -> Value {
        self.offer_sdp(hash_hex, n, None)
    }

    /// `offer`, with `sdp` (a real offer) in each offer instead of a fake one.
    fn offer_sdp(&mut self, hash_hex: &str, n: usize, sdp: Option<&str>) -> Value {
        let sdp = sdp
            .map(|s| format!(" {}", Value::from(s)))
            .unwrap_or_default();
        writeln!(self.stdin, "offer {hash_hex} {n}{sdp}").unwrap();
        self.stdin.flush().unwrap();
        let until = Instant::now() + WAIT;
        while let Some(v) = self.next(until.saturating_duration_since(Instant::now())) {
            if v.get("offered").is_some() {
                return v;
            }
            self.seen.push(v);
        }
        panic!("the browser-like leecher got no answer");
    }

    /// Waits for the tracker to take an announce with `event` (start, update, complete, stop)
    /// for the torrent; the events it took until then.
    fn wait_event(&mut self, event: &str, hash_hex: &str, limit: Duration) -> Vec<Value> {
        self.try_event(event, hash_hex, limit)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `wait_event`, or why not.
    fn try_event(
        &mut self,
        event: &str,
        hash_hex: &str,
        limit: Duration,
    ) -> Result<Vec<Value>, String> {
        let is = |v: &Value| v["event"] == event && v["info_hash"] == hash_hex;
        if self.seen.iter().any(is) {
            return Ok(self.seen.clone());
        }
        let until = Instant::now() + limit;
        while let Some(v) = self.next(until.saturating_duration_since(Instant::now())) {
            let done = is(&v);
            self.seen.push(v);
            if done {
                return Ok(self.seen.clone());
            }
        }
        Err(format!(
            "no `{event}` for {hash_hex} in {limit:?}; seen {:?}",
            self.seen
        ))
    }
}

impl Drop for WsTracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Task {
    commands: mpsc::Sender<TrackerCommand>,
    updates: mpsc::Receiver<TrackerUpdate>,
    progress: watch::Sender<Progress>,
    handle: tokio::task::JoinHandle<()>,
}

fn start_task(url: &str, hash: [u8; 20], peer_id: [u8; 20], left: u64) -> Task {
    let config = TaskConfig {
        shuffle: false,
        backoff_first: Duration::from_millis(300),
        refresh: Duration::from_millis(200),
        ..TaskConfig::default()
    };
    let (progress, prx) = watch::channel(Progress {
        uploaded: 0,
        downloaded: 0,
        left,
    });
    let (commands, crx) = mpsc::channel(8);
    let (utx, updates) = mpsc::channel(64);
    let tiers = vec![vec![url.to_string()]];
    let handle = spawn_with_config(config, tiers, hash, peer_id, 6881, prx, crx, utx);
    Task {
        commands,
        updates,
        progress,
        handle,
    }
}

impl Task {
    /// Reads updates until a status row for `url` satisfies `pred`; that row.
    async fn row(&mut self, url: &str, mut pred: impl FnMut(&TrackerRow) -> bool) -> TrackerRow {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut logs = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(TrackerUpdate::Status(rows))) => {
                    if let Some(r) = rows.into_iter().find(|r| r.url == url && pred(r)) {
                        return r;
                    }
                }
                Ok(Some(TrackerUpdate::Log(_, line))) => logs.push(line),
                Ok(Some(_)) => {}
                Ok(None) => panic!("updates closed; log {logs:#?}"),
                Err(_) => panic!("no such row in {WAIT:?}; log {logs:#?}"),
            }
        }
    }

    async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        self.commands.send(TrackerCommand::Stop(tx)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.handle)
            .await
            .unwrap()
            .unwrap();
    }
}

/// A seed announces `started` with nothing left: the tracker counts it complete, the row
/// shows the tracker's counts as working; `stopped` at the end takes it out of the swarm.
// Multi-threaded: the waits on the tracker's lines block a thread, not the tracker task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_is_counted_complete_and_its_row_shows_the_trackers_counts() {
    let Some(modules) = node_modules() else {
        return;
    };
    let mut tracker = WsTracker::start(&modules);
    let url = tracker.url();
    let hash = [0x5e; 20];
    let h = hex(&hash);
    let peer_id = *b"-TT0001-wsseed000001";
    let mut task = start_task(&url, hash, peer_id, 0);
    let row = task
        .row(&url, |r| matches!(r.status, TrackerStatus::Ok { .. }))
        .await;
    assert_eq!((row.seeders, row.leechers), (Some(1), Some(0)), "{row:?}");
    assert_eq!(row.status.word(), "working");
    let events = tracker.wait_event("start", &h, WAIT);
    assert!(
        events.iter().any(|e| e["peer_id"] == hex(&peer_id)),
        "{events:?}"
    );
    assert_eq!(tracker.swarm(&h), (1, 0));

    task.stop().await;
    tracker.wait_event("stop", &h, WAIT);
    assert_eq!(tracker.swarm(&h), (0, 0));
}

/// A browser's offers, which the tracker relays to ttui, are dropped (no WebRTC yet): the
/// answers to ttui's own announces still match, and count the browser as a leecher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_relayed_by_the_tracker_are_dropped_and_the_answers_still_match() {
    let Some(modules) = node_modules() else {
        return;
    };
    let mut tracker = WsTracker::start(&modules);
    let url = tracker.url();
    let hash = [0x0f; 20];
    let h = hex(&hash);
    let mut task = start_task(&url, hash, *b"-TT0001-wsoffer00001", 0);
    task.row(&url, |r| r.seeders == Some(1)).await;
    let offered = tracker.offer(&h, 3);
    // ttui is the one peer in the swarm: one offer went to its socket.
    assert_eq!(offered["relayed_to"], 1, "{offered}");
    task.commands
        .send(TrackerCommand::Reannounce)
        .await
        .unwrap();
    let row = task
        .row(&url, |r| {
            matches!(r.status, TrackerStatus::Ok { .. }) && r.leechers == Some(1)
        })
        .await;
    assert_eq!(row.seeders, Some(1), "{row:?}");
    assert_eq!(tracker.swarm(&h), (1, 1));
    task.stop().await;
    tracker.wait_event("stop", &h, WAIT);
    assert_eq!(tracker.swarm(&h), (0, 1));
}

/// A leecher announces `started`, then `completed` once every piece is in, then `stopped`:
/// the tracker takes each, and moves it from incomplete to complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leecher_announces_started_completed_and_stopped() {
    let Some(modules) = node_modules() else {
        return;
    };
    let mut tracker = WsTracker::start(&modules);
    let url = tracker.url();
    let hash = [0x1e; 20];
    let h = hex(&hash);
    let mut task = start_task(&url, hash, *b"-TT0001-wsleech00001", 5000);
    let row = task
        .row(&url, |r| matches!(r.status, TrackerStatus::Ok { .. }))
        .await;
    assert_eq!((row.seeders, row.leechers), (Some(0), Some(1)), "{row:?}");
    tracker.wait_event("start", &h, WAIT);
    assert_eq!(tracker.swarm(&h), (0, 1));

    task.progress.send_replace(Progress {
        uploaded: 0,
        downloaded: 5000,
        left: 0,
    });
    task.commands.send(TrackerCommand::Completed).await.unwrap();
    tracker.wait_event("complete", &h, WAIT);
    let row = task.row(&url, |r| r.seeders == Some(1)).await;
    assert_eq!(row.leechers, Some(0), "{row:?}");
    assert_eq!(tracker.swarm(&h), (1, 0));

    task.stop().await;
    tracker.wait_event("stop", &h, WAIT);
    assert_eq!(tracker.swarm(&h), (0, 0));
}

/// A session seeding a torrent whose only tracker is a `ws://` one: `ttui show --json` gives
/// the tracker's row as working with its counts, the tracker counts the seed, and removing
/// the torrent announces `stopped`. Dormancy is off: a seed with no peers falls asleep at
/// once, which tells its trackers nothing (the socket stays open for it), and a torrent
/// removed asleep has no task to say `stopped`.
#[test]
fn a_session_seeds_through_a_websocket_tracker_and_stops() {
    require_loopback_only();
    let Some(modules) = node_modules() else {
        return;
    };
    let mut tracker = WsTracker::start(&modules);
    let url = tracker.url();
    let env = Env::new("ttui-wstracker-");
    let made = env.root.path().join("t");
    let mut p = Payload::make(&env.out, &made, "browsers", &[("a.bin", 300_000)], 3);
    p.torrent = p
        .torrent
        .with_trackers(&made.join("browsers-ws.torrent"), Some(&url), &[]);
    let mut daemon = Daemon::start_with(&env, "1", &[], &[("TTUI_DORMANT_AFTER_SECS", "0")]);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    let hash = p.hash();
    let start = Instant::now();
    let shown = loop {
        let show = env.verb(&["show", &hash, "--json"]);
        if show.code == 0 {
            let shown: Value = serde_json::from_str(&show.stdout).unwrap();
            let row = &shown["trackers"][0];
            if row["status"] == "working" && row["seeders"] == 1 {
                break shown;
            }
        }
        daemon.assert_alive("the first announce");
        assert!(
            start.elapsed() < WAIT * 2,
            "no working tracker: {}\n{}",
            show.stdout,
            daemon.report()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let row = &shown["trackers"][0];
    assert_eq!(row["url"], url.as_str(), "{shown}");
    assert_eq!(row["leechers"], 0, "{shown}");
    assert_eq!(tracker.swarm(&hash), (1, 0));

    assert_eq!(env.verb(&["remove", &hash]).code, 0);
    if let Err(e) = tracker.try_event("stop", &hash, WAIT) {
        panic!("{e}\n{}", daemon.report());
    }
    assert_eq!(tracker.swarm(&hash), (0, 0));
    daemon.assert_alive("the end");
}

/// A WebRTC connection that cannot come up shows in its torrent's peer table, stage by stage.
/// A browser-like leecher's offer (a real one, made by a driver of ours, its candidate moved
/// to a UDP socket that never answers) reaches the seeding session through the tracker;
/// `ttui show --json` lists the peer as connecting in ICE at the address the offer names,
/// then as failed with ICE's timeout, and the torrent's log says so. The session's STUN
/// server never answers: the explainer names it, holding the torrent's browser side back
/// once the peer failed.
#[test]
fn a_webrtc_peer_that_never_answers_shows_connecting_in_ice_then_failed() {
    require_loopback_only();
    let Some(modules) = node_modules() else {
        return;
    };
    let mut tracker = WsTracker::start(&modules);
    let url = tracker.url();
    let env = Env::new("ttui-wstracker-stages-");
    let made = env.root.path().join("t");
    let mut p = Payload::make(&env.out, &made, "stages", &[("a.bin", 300_000)], 5);
    p.torrent = p
        .torrent
        .with_trackers(&made.join("stages-ws.torrent"), Some(&url), &[]);
    let no_stun = closed_addr().to_string();
    let mut daemon = Daemon::start_with(
        &env,
        "1",
        &["--stun-server".into(), no_stun.clone()],
        &[("TTUI_DORMANT_AFTER_SECS", "0")],
    );
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    let hash = p.hash();
    if let Err(e) = tracker.try_event("start", &hash, WAIT) {
        panic!("{e}\n{}", daemon.report());
    }

    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_at = silent.local_addr().unwrap();
    let sdp = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let rtc = WebRtc::bind(WebRtcConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..WebRtcConfig::default()
        })
        .await
        .unwrap();
        let offer = rtc.offer().await.unwrap();
        let port = rtc.local_addr().port();
        offer.sdp.replace(
            &format!(" {port} typ"),
            &format!(" {} typ", silent_at.port()),
        )
    });
    let sent = tracker.offer_sdp(&hash, 1, Some(&sdp));
    assert_eq!(sent["relayed_to"], 1, "{sent}");

    // Polls `show --json` until a WebRTC row satisfies `pred`; that row.
    let mut webrtc_row = |what: &str, limit: Duration, pred: &dyn Fn(&Value) -> bool| {
        let start = Instant::now();
        loop {
            let show = env.verb(&["show", &hash, "--json"]);
            if show.code == 0 {
                let shown: Value = serde_json::from_str(&show.stdout).unwrap();
                let rows = shown["peers"].as_array().cloned().unwrap_or_default();
                if let Some(r) = rows.iter().find(|r| r["transport"] == "WebRTC" && pred(r)) {
                    return r.clone();
                }
                assert!(
                    start.elapsed() < limit,
                    "no WebRTC row {what}: {}\n{}",
                    shown["peers"],
                    daemon.report()
                );
            }
            daemon.assert_alive(what);
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let connecting = webrtc_row("connecting in ICE", WAIT, &|r| {
        r["state"] == "connecting" && r["webrtc_stage"] == "ICE"
    });
    assert_eq!(connecting["address"], silent_at.to_string(), "{connecting}");
    assert!(
        connecting["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("WebTorrent")),
        "{connecting}"
    );
    // The driver gives ICE 15 s.
    let failed = webrtc_row("failed in ICE", WAIT, &|r| r["state"] == "failed");
    assert_eq!(failed["webrtc_stage"], "ICE", "{failed}");
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("ICE timed out")),
        "{failed}"
    );
    // The text form says the same.
    let text = env.verb(&["show", &hash]).stdout;
    assert!(
        text.lines().any(|l| l.contains("WebRTC")
            && l.contains("failed (ICE)")
            && l.contains("ICE timed out")),
        "{text}"
    );
    let shown: Value = serde_json::from_str(&env.verb(&["show", &hash, "--json"]).stdout).unwrap();
    let finding = shown["explain"]
        .as_array()
        .and_then(|e| e.iter().find(|f| f["check"] == "webrtc"))
        .unwrap_or_else(|| panic!("no webrtc finding: {}", shown["explain"]))
        .clone();
    assert_eq!(finding["verdict"], "holding_back", "{finding}");
    let evidence = finding["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with(&format!("no STUN answer from {no_stun}"))
            && evidence.ends_with("1 browser peer failed in ICE"),
        "{finding}"
    );
    // The torrent's log (its coordinator's lines), not only the session's.
    let log = daemon.log_text();
    assert!(
        lines_with(&log, "(its offer): ICE timed out")
            .iter()
            .any(|l| l.contains("coordinator")),
        "{}",
        daemon.report()
    );
    daemon.assert_alive("the end");
}
