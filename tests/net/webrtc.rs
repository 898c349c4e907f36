//! WebRTC data channels against a real browser: headless Chromium on a page served by the
//! test from 127.0.0.1 (tests/net/webrtc/page.html). The page and ttui trade SDPs through
//! the test's HTTP server (no trickle: each SDP carries its candidates, as WebTorrent's
//! simple-peer sends them); ttui sends 1 MiB on the data channel, the page echoes every
//! message and posts the SHA-256 of what it received. Both directions byte-identical, with
//! the browser offering and with ttui offering.
//!
//! Chromium stays on loopback: no STUN server in the page (`iceServers: []`), host
//! candidates as plain addresses (not mDNS names), loopback allowed as a candidate, no
//! background networking, component updates, sync or safe browsing, every host name
//! resolving to nothing and a dead proxy for anything not on loopback. The namespace the
//! tests run in has only `lo` besides.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::netlab::Host;
use crate::prereq;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::time::{timeout, timeout_at, Instant};

use ttui::internals::net::webrtc::{
    Connecting, OfferId, Stage, WebRtc, WebRtcConfig, WebRtcStream, MAX_SDP,
};

/// Chromium's start, the page's ICE gathering and the connection take a few seconds; this
/// bounds each wait on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

/// What ttui sends and the page echoes.
const N: usize = 1 << 20;

const PAGE: &str = include_str!("webrtc/page.html");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_offers_and_a_data_channel_carries_bytes_both_ways() {
    browser_echo("browser-offers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttui_offers_to_chromium_and_a_data_channel_carries_bytes_both_ways() {
    browser_echo("ttui-offers").await;
}

async fn browser_echo(mode: &str) {
    require_loopback_only();
    if !prereq::have_tools(&["chromium"]) {
        return;
    }
    let dir = tempdir("ttui-webrtc-");
    let rtc = WebRtc::bind(WebRtcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..WebRtcConfig::default()
    })
    .await
    .unwrap();
    let (events, mut rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hangup = Arc::new(Notify::new());
    let server = tokio::spawn(serve(listener, rtc.clone(), events, Arc::clone(&hangup)));
    let url = format!("http://127.0.0.1:{port}/?mode={mode}&n={N}");
    let mut browser = Browser::start(dir.path(), &url);

    let mut logs = Vec::new();
    let until = Instant::now() + WAIT;
    let connecting = loop {
        match timeout_at(until, rx.recv()).await {
            Ok(Some(Event::Connecting(c))) => break c,
            Ok(Some(Event::Log(l))) => logs.push(l),
            other => panic!(
                "no SDP from the page ({other:?}); its log: {logs:?}\n{}",
                browser.report()
            ),
        }
    };
    let stage = connecting.stage.clone();
    let stream = match timeout(WAIT, connecting.established()).await {
        Ok(Ok(s)) => s,
        other => panic!(
            "not connected: {other:?} in {:?}; the page's log: {logs:?}\n{}",
            *stage.borrow(),
            browser.report()
        ),
    };
    assert_eq!(*stage.borrow(), Stage::Open);

    let data = pattern(N);
    let (mut rd, wr, echoed) = timeout(WAIT, exchange(stream, data.clone()))
        .await
        .unwrap_or_else(|_| panic!("no echo in time; the page's log: {logs:?}"));
    assert!(echoed == data, "the echo differs from what was sent");

    let want: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = loop {
        match timeout_at(until + WAIT, rx.recv()).await {
            Ok(Some(Event::Result(d))) => break d,
            Ok(Some(Event::Log(l))) => logs.push(l),
            other => panic!("no digest from the page ({other:?}); its log: {logs:?}"),
        }
    };
    assert_eq!(digest, want, "what the page received");
    hangup.notify_one();
    // The page hangs up: the stream ends, with nothing more in it.
    let mut rest = Vec::new();
    let end = timeout(WAIT, rd.read_to_end(&mut rest))
        .await
        .unwrap_or_else(|_| panic!("the stream did not end; the page's log: {logs:?}"));
    assert!(
        rest.is_empty(),
        "{} bytes after the echo ({end:?})",
        rest.len()
    );
    drop(wr);
    while let Ok(Event::Log(l)) = rx.try_recv() {
        logs.push(l);
    }
    assert!(
        !logs.iter().any(|l| l.starts_with("error")),
        "the page's log: {logs:?}"
    );
    server.abort();
    drop(browser);
}

/// Writes `data` while reading as many bytes back; the halves stay open.
async fn exchange(
    stream: WebRtcStream,
    data: Vec<u8>,
) -> (ReadHalf<WebRtcStream>, WriteHalf<WebRtcStream>, Vec<u8>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let len = data.len();
    let writer = async move {
        for chunk in data.chunks(5_000) {
            wr.write_all(chunk).await.unwrap();
        }
        wr
    };
    let reader = async move {
        let mut got = vec![0u8; len];
        rd.read_exact(&mut got).await.unwrap();
        (rd, got)
    };
    let (wr, (rd, got)) = futures::future::join(writer, reader).await;
    (rd, wr, got)
}

fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

enum Event {
    Connecting(Connecting),
    Result(String),
    Log(String),
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Connecting(_) => f.write_str("Connecting"),
            Event::Result(r) => write!(f, "Result({r})"),
            Event::Log(l) => write!(f, "Log({l})"),
        }
    }
}

/// The page's server: the page itself, and the signalling (`GET /offer` gives ttui's offer,
/// `POST /answer` takes the page's answer; `POST /offer` takes the page's offer and gives
/// ttui's answer), the page's result and log lines, and `GET /hangup`, answered when the
/// test has its echo back.
async fn serve(
    listener: TcpListener,
    rtc: WebRtc,
    events: mpsc::UnboundedSender<Event>,
    hangup: Arc<Notify>,
) {
    let offer: Arc<Mutex<Option<OfferId>>> = Arc::default();
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let (rtc, events, offer) = (rtc.clone(), events.clone(), Arc::clone(&offer));
        let hangup = Arc::clone(&hangup);
        tokio::spawn(async move {
            let _ = timeout(WAIT, handle(conn, rtc, events, offer, hangup)).await;
        });
    }
}

async fn handle(
    mut conn: TcpStream,
    rtc: WebRtc,
    events: mpsc::UnboundedSender<Event>,
    offer: Arc<Mutex<Option<OfferId>>>,
    hangup: Arc<Notify>,
) {
    let Some((method, path, body)) = read_request(&mut conn).await else {
        return;
    };
    let route = path.split('?').next().unwrap_or("");
    let (status, kind, reply) = match (method.as_str(), route) {
        ("GET", "/") => ("200 OK", "text/html", PAGE.to_string()),
        ("GET", "/offer") => {
            let o = rtc.offer().await.unwrap();
            *offer.lock().unwrap() = Some(o.id);
            ("200 OK", "text/plain", o.sdp)
        }
        ("POST", "/answer") => {
            let id = offer
                .lock()
                .unwrap()
                .take()
                .expect("an offer before its answer");
            let connecting = rtc.connect(id, &body).await.unwrap();
            let _ = events.send(Event::Connecting(connecting));
            ("200 OK", "text/plain", String::new())
        }
        ("POST", "/offer") => {
            let (answer, connecting) = rtc.answer(&body).await.unwrap();
            let _ = events.send(Event::Connecting(connecting));
            ("200 OK", "text/plain", answer)
        }
        ("POST", "/result") => {
            let _ = events.send(Event::Result(body));
            ("200 OK", "text/plain", String::new())
        }
        ("GET", "/hangup") => {
            hangup.notified().await;
            ("200 OK", "text/plain", String::new())
        }
        ("POST", "/log") => {
            let _ = events.send(Event::Log(body));
            ("200 OK", "text/plain", String::new())
        }
        _ => ("404 Not Found", "text/plain", String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(reply.as_bytes()).await;
    let _ = conn.shutdown().await;
}

/// One request: method, path, body (at most an SDP's worth).
pub(crate) async fn read_request(conn: &mut TcpStream) -> Option<(String, String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 << 10 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    if length > MAX_SDP * 2 {
        return None;
    }
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    Some((method, path, body))
}

/// Headless Chromium in a process group of its own, killed (the group, by its id) on drop.
pub(crate) struct Browser {
    proc: Proc,
}

impl Browser {
    pub(crate) fn start(dir: &Path, url: &str) -> Browser {
        use std::os::unix::process::CommandExt;
        let profile = dir.join("profile");
        let dead_proxy = closed_addr();
        let mut cmd = Command::new("chromium");
        cmd.args(["--headless=new", "--no-sandbox", "--disable-gpu"])
            .arg(format!("--user-data-dir={}", profile.display()))
            // Host candidates as addresses: a peer that cannot resolve mDNS names (ttui)
            // never connects to `xxxx.local`.
            .arg("--disable-features=WebRtcHideLocalIpsWithMdns")
            // The namespace has only `lo`: without this, Chromium gathers no candidate.
            .arg("--allow-loopback-in-peer-connection")
            // Nothing beyond loopback: no background requests, updates, sync, safe
            // browsing or metrics; every name resolves to nothing; any request not to
            // loopback goes to a proxy that is not there.
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--safebrowsing-disable-auto-update",
                "--metrics-recording-only",
                "--no-pings",
                "--no-first-run",
                "--no-default-browser-check",
            ])
            .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
            .arg(format!("--proxy-server=http://{dead_proxy}"))
            .env("TMPDIR", dir)
            .process_group(0)
            .arg(url);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        Browser {
            proc: Proc::spawn("chromium", &mut cmd, &logs),
        }
    }

    pub(crate) fn report(&mut self) -> String {
        self.proc.report()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Its renderer and utility processes share its group: all of them, by the group's
        // id (the browser's pid), then the browser itself is reaped.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.proc.pid())])
            .status();
        self.proc.kill();
    }
}

/// coturn, Debian's STUN and TURN server, as a STUN server on 127.0.0.1 (no TURN, no TLS),
/// killed by pid on drop.
pub(crate) struct Coturn {
    pub(crate) proc: Proc,
    _dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl Coturn {
    pub(crate) fn start(ip: &str) -> Coturn {
        Coturn::start_in(None, ip, free_port())
    }

    /// In `host` of a test internet (tests/netlab), or here with none.
    pub(crate) fn start_in(host: Option<&Host>, ip: &str, port: u16) -> Coturn {
        let dir = tempdir("ttui-coturn-");
        let mut cmd = Command::new("turnserver");
        cmd.args(["-n", "--stun-only", "--no-tls", "--no-dtls", "--no-cli"])
            .args(["--listening-ip", ip, "--listening-port", &port.to_string()])
            .args([
                "--log-file",
                "stdout",
                "--simple-log",
                "--no-software-attribute",
            ])
            .arg("--pidfile")
            .arg(dir.path().join("pid"))
            .arg("--userdb")
            .arg(dir.path().join("turndb"));
        let proc = match host {
            Some(h) => h.spawn("turnserver", &cmd, dir.path()),
            None => Proc::spawn("turnserver", &mut cmd, dir.path()),
        };
        let addr = SocketAddr::new(ip.parse().unwrap(), port);
        Coturn {
            proc,
            _dir: dir,
            addr,
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        self.proc.kill();
    }
}

/// The driver asks a real STUN server (coturn) for its address and learns it (on loopback,
/// the socket's own: no NAT between); a server that never answers leaves it unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stun_server_tells_the_driver_the_address_it_sees() {
    require_loopback_only();
    if !prereq::have_tools(&["turnserver"]) {
        return;
    }
    let mut coturn = Coturn::start("127.0.0.1");
    let rtc = WebRtc::bind(WebRtcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        stun: Some(coturn.addr),
        ..WebRtcConfig::default()
    })
    .await
    .unwrap();
    let until = Instant::now() + WAIT;
    while rtc.reflexive().is_none() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rtc.reflexive(),
        Some(rtc.local_addr()),
        "coturn's log:\n{}",
        coturn.proc.report()
    );
    // A silent server (nothing listens there): nothing is learned, nothing breaks.
    let silent = WebRtc::bind(WebRtcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        stun: Some(closed_addr()),
        ..WebRtcConfig::default()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(silent.reflexive(), None);
    let offer = silent.offer().await.unwrap();
    assert!(!offer.sdp.contains("srflx"), "{}", offer.sdp);
}
