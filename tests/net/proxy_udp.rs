//! `--proxy` and UDP: the session's UDP (UDP trackers, uTP, the DHT) goes through dante's
//! UDP relay (SOCKS5 UDP ASSOCIATE), and nowhere while the proxy grants none. Dante listens
//! on 127.0.0.41 and relays from 127.0.0.42; ttui leaves from 127.0.0.31 (`--bind`), so
//! whoever ttui talks to must see 127.0.0.42 only: opentracker's list of peers, a
//! libtorrent seed's peers (its `peer_connect_alert`s).
//!
//! Run through tests/run.sh: tests that start third-party programs refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::dante;
use crate::lt;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use dante::*;

/// Headless `ttui` bound to TTUI_AT through `proxy` with `extra` flags; no DHT.
fn ttui_args(
    torrent: &Torrent,
    out: &Path,
    log: &Path,
    proxy: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut v: Vec<String> = vec![
        torrent.path.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--headless".into(),
        "--bind".into(),
        TTUI_AT.into(),
        "--no-dht".into(),
        "--log-file".into(),
        log.display().to_string(),
        "--proxy".into(),
        proxy.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The lines of a libtorrent peer's alerts naming `ip` as a peer's address.
fn alerts_from(lt: &LibtorrentPeer, ip: &str) -> Vec<String> {
    lt.stderr_text()
        .lines()
        .filter(|l| l.contains(&format!("{ip}:")))
        .map(str::to_string)
        .collect()
}

fn have_tools() -> bool {
    prereq::have_tools(&["danted"])
}

/// A torrent whose only tracker is opentracker's UDP port: ttui announces through dante's
/// relay, and the tracker lists ttui at dante's external address, never at its own.
#[test]
fn a_udp_tracker_sees_ttui_only_at_dantes_address() {
    require_loopback_only();
    if !have_tools() || !prereq::have_tools(&["opentracker"]) {
        return;
    }
    let fx = Fixture::single_file("udp-tracked.bin", 1 << 20, 53, 16);
    let tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent.with_trackers(
        &fx.dir.path().join("udp.torrent"),
        Some(&tracker.udp_url()),
        &[],
    );
    let mut dante = Dante::start_with(true);
    let (out, log) = (fx.out_dir("out"), fx.dir.path().join("leech.log"));
    let port = free_port();
    let args = ttui_args(
        &t,
        &out,
        &log,
        &dante.url("socks5"),
        &["--port", &port.to_string()],
    );
    let mut leech = Ttui::spawn(args);
    let mut listed = Vec::new();
    let start = Instant::now();
    while listed.is_empty() {
        assert!(
            start.elapsed() < WAIT && !leech.has_exited(),
            "the tracker never listed ttui\n{}\n{}",
            leech.report(),
            tail(&log, 30)
        );
        sleep(Duration::from_millis(200));
        listed = tracker_peers(&tracker, &t.info_hash);
    }
    let expect = SocketAddr::new(DANTE_OUT.parse().unwrap(), port);
    assert_eq!(listed, [expect], "where the tracker lists ttui");
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("proxy UDP relay at"), "{}", tail(&log, 30));
    leech.kill();
    dante.stop();
}

/// A uTP-only libtorrent seed serves ttui through dante's UDP relay, byte-identical; the
/// seed's peers came from dante's address only (`--proxy-only`: ttui does not even listen).
/// A uTP-only libtorrent seed of `fx`, dante with UDP, and the arguments of a headless uTP
/// download from that seed through dante with `--proxy-only` (and `extra`): the seed, dante,
/// the output folder, ttui's log and the arguments.
fn utp_through_dante(
    fx: &Fixture,
    extra: &[&str],
) -> (
    LibtorrentPeer,
    Dante,
    std::path::PathBuf,
    std::path::PathBuf,
    Vec<String>,
) {
    let lt = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            transport: Some("utp"),
            ..LtOptions::default()
        },
    );
    let dante = Dante::start_with(true);
    let (out, log) = (fx.out_dir("out"), fx.dir.path().join("leech.log"));
    let peer = lt.addr().to_string();
    let mut flags = vec![
        "--no-trackers",
        "--proxy-only",
        "--transport",
        "utp",
        "--peer",
        &peer,
    ];
    flags.extend_from_slice(extra);
    let args = ttui_args(&fx.torrent, &out, &log, &dante.url("socks5"), &flags);
    (lt, dante, out, log, args)
}

#[test]
fn a_utp_download_goes_through_dantes_relay() {
    require_loopback_only();
    if !have_tools() || !prereq::have_python_libtorrent() {
        return;
    }
    let fx = Fixture::single_file("utp-proxied.bin", (3 << 20) + 5, 57, 16);
    let (lt, mut dante, out, _log, args) = utp_through_dante(&fx, &[]);
    let done = Ttui::run(args, DOWNLOAD_TIMEOUT);
    done.assert_success("a uTP download through dante");
    assert_same_tree(&fx.payload, &out.join("utp-proxied.bin"));
    assert!(
        alerts_from(&lt, TTUI_AT).is_empty(),
        "the seed saw ttui's own address: {:?}",
        alerts_from(&lt, TTUI_AT)
    );
    assert!(
        !alerts_from(&lt, DANTE_OUT).is_empty(),
        "no peer from dante's address at the seed:\n{}",
        lt.stderr_text()
    );
    dante.stop();
}

/// The DHT through dante's relay: a trackerless magnet with `--proxy-only` finds its
/// DHT-only libtorrent seed and completes byte-identical; with `--proxy-only` the DHT can only
/// have gone through the relay, and the libtorrent nodes' own log (their DHT packets and
/// connections) names dante's address and never ttui's.
#[test]
fn the_dht_goes_through_dantes_relay() {
    require_loopback_only();
    if !have_tools() || !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("dht-proxied.bin", (2 << 20) + 9, 59, 16);
    let torrent = fx.torrent_with("dht-proxied-dht.torrent", None, &[]);
    let alerts = fx.dir.path().join("lt-alerts.log");
    let mut dht = lt::LtDht::start_with(4, Some(&alerts));
    dht.seed(0, &torrent.path, &fx.data_dir);
    let mut dante = Dante::start_with(true);
    let (out, log) = (fx.out_dir("out"), fx.dir.path().join("leech.log"));
    let mut args: Vec<String> = vec![
        format!("magnet:?xt=urn:btih:{}", torrent.hash_hex()),
        "-o".into(),
        out.display().to_string(),
        "--headless".into(),
        "--bind".into(),
        TTUI_AT.into(),
        "--port".into(),
        free_port().to_string(),
        "--log-file".into(),
        log.display().to_string(),
        "--proxy".into(),
        dante.url("socks5"),
        "--proxy-only".into(),
    ];
    args.extend(dht.bootstrap_args());
    let done = Ttui::run(args, DOWNLOAD_TIMEOUT);
    done.assert_success(&format!("a DHT magnet through dante\n{}", tail(&log, 30)));
    assert_same_tree(&fx.payload, &out.join("dht-proxied.bin"));
    dht.drain();
    let seen = fs::read_to_string(&alerts).unwrap_or_default();
    assert!(
        !seen.contains(&format!("{TTUI_AT}:")),
        "a libtorrent node saw ttui's own address:\n{}",
        seen.lines()
            .filter(|l| l.contains(TTUI_AT))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        seen.contains(&format!("{DANTE_OUT}:")),
        "no alert names dante's address ({} lines of alerts)",
        seen.lines().count()
    );
    dante.stop();
}

/// Dante restarted in the middle of a uTP download (`--proxy-only`): while it is gone the
/// log says UDP is off, when it is back ttui asks for a new association by itself, and the
/// download resumes through the new relay and completes byte-identical; the seed never sees
/// ttui's own address.
#[test]
fn a_utp_download_rides_out_a_relay_restart() {
    require_loopback_only();
    if !have_tools() || !prereq::have_python_libtorrent() {
        return;
    }
    let fx = Fixture::single_file("relay-restart.bin", 6 << 20, 61, 16);
    let (lt, mut dante, out, log, args) = utp_through_dante(&fx, &["--down-limit", "512K"]);
    let mut leech = Ttui::spawn(args);
    leech.wait_for_stdout("a fifth of the download", WAIT, |s| {
        last_percent(s).is_some_and(|p| p >= 20.0)
    });
    let relays = |log: &Path| {
        fs::read_to_string(log)
            .unwrap_or_default()
            .matches("proxy UDP relay at")
            .count()
    };
    assert_eq!(relays(&log), 1, "{}", tail(&log, 30));
    dante.stop();
    let start = Instant::now();
    while !fs::read_to_string(&log).is_ok_and(|t| t.contains("proxy carries no UDP")) {
        assert!(
            start.elapsed() < WAIT,
            "no 'proxy carries no UDP' after dante's end\n{}",
            tail(&log, 30)
        );
        sleep(Duration::from_millis(100));
    }
    let before = last_percent(&leech.stdout_now()).unwrap_or(0.0);
    assert!(before < 100.0, "finished while dante was down");
    dante.run();
    leech.wait(DOWNLOAD_TIMEOUT).assert_success(&format!(
        "the download after dante came back\n{}",
        tail(&log, 30)
    ));
    assert_same_tree(&fx.payload, &out.join("relay-restart.bin"));
    assert_eq!(relays(&log), 2, "a second association: {}", tail(&log, 30));
    assert!(
        alerts_from(&lt, TTUI_AT).is_empty(),
        "the seed saw ttui's own address: {:?}",
        alerts_from(&lt, TTUI_AT)
    );
    dante.stop();
}

/// Dante without UDP ASSOCIATE: `show --json` says the proxy carries no UDP, and no uTP
/// datagram of ttui's reaches the uTP-only seed, neither through dante nor around it.
#[test]
fn without_udp_at_the_proxy_utp_is_off_and_says_so() {
    require_loopback_only();
    if !have_tools() || !prereq::have_python_libtorrent() {
        return;
    }
    let fx = Fixture::single_file("no-udp.bin", 1 << 20, 59, 16);
    let lt = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            transport: Some("utp"),
            ..LtOptions::default()
        },
    );
    let mut dante = Dante::start_with(false);
    let state = fx.dir.path().join("state");
    let log = fx.dir.path().join("daemon.log");
    let ttui = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ttui"));
        c.args(args)
            .arg("--state-dir")
            .arg(&state)
            .env_remove("XDG_RUNTIME_DIR")
            .env("XDG_STATE_HOME", fx.dir.path())
            .env("XDG_CONFIG_HOME", fx.dir.path())
            .env("TTUI_NO_PUBLIC_ROUTERS", "1");
        c
    };
    let out = fx.out_dir("out");
    let (out_s, log_s, url, peer) = (
        out.display().to_string(),
        log.display().to_string(),
        dante.url("socks5"),
        lt.addr().to_string(),
    );
    // Default transports (TCP and uTP): uTP is tried first and must go nowhere.
    let mut daemon = Proc::spawn(
        "ttui-daemon",
        &mut ttui(&[
            "daemon",
            "-o",
            &out_s,
            "--bind",
            TTUI_AT,
            "--port",
            "0",
            "--no-dht",
            "--log-file",
            &log_s,
            "--proxy",
            &url,
            "--peer",
            &peer,
        ]),
        fx.dir.path(),
    );
    let verb = |args: &[&str]| {
        let o = ttui(args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let start = Instant::now();
    let torrent = fx.torrent.path.display().to_string();
    let hash = fx.torrent.hash_hex();
    while !verb(&["add", &torrent]).0 {
        assert!(
            start.elapsed() < WAIT,
            "the daemon never took the torrent\n{}",
            daemon.report()
        );
        sleep(Duration::from_millis(200));
    }
    let start = Instant::now();
    let json = loop {
        let (ok, text) = verb(&["show", &hash, "--json"]);
        let v: Option<serde_json::Value> = ok.then(|| serde_json::from_str(&text).ok()).flatten();
        if let Some(v) = v.filter(|v| v["proxy"]["udp_off"].is_string()) {
            break v;
        }
        assert!(
            start.elapsed() < WAIT,
            "show --json never said UDP is off: {text}\n{}",
            daemon.report()
        );
        sleep(Duration::from_millis(200));
    };
    let why = json["proxy"]["udp_off"].as_str().unwrap_or_default();
    assert!(why.contains("no UDP association"), "{json:#}");
    // A few dials' worth: uTP first each time, then TCP through dante.
    sleep(Duration::from_secs(8));
    assert!(
        alerts_from(&lt, TTUI_AT).is_empty(),
        "the seed saw ttui's own address: {:?}",
        alerts_from(&lt, TTUI_AT)
    );
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("proxy carries no UDP: DHT and uTP off"),
        "{}",
        tail(&log, 30)
    );
    daemon.kill();
    dante.stop();
}
