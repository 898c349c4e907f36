//! `--proxy`: ttui's peer connections, announces and web seed requests go through a real
//! SOCKS5 server, Debian's dante (`danted`), run in the foreground on its own loopback
//! addresses: it listens on 127.0.0.41 and relays from 127.0.0.42, while ttui leaves from
//! 127.0.0.31 (`--bind`). Whoever ttui talks to must see only 127.0.0.42: a seed's log of
//! incoming connections, a web seed's log of clients, the tracker's list of peers.
//!
//! Most tests run dante with `socksmethod: none`; ttui still offers its user and password (RFC
//! 1929), and dante picks "no authentication" among the methods offered. One runs it with
//! `username` (a login it checks: tests/support/dante.rs): the right password gets through, a
//! wrong one is named as such and nothing is sent around the proxy.
//!
//! Run through tests/run.sh: tests that start third-party programs refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::dante;
use crate::prereq;
use crate::webseed_srv;

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use dante::*;

/// The addresses a ttui's log says peers connected from ("ADDR: incoming, payload …").
fn incoming_from(log: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let at = l.find(": incoming")?;
            let addr = l[..at].rsplit(' ').next()?;
            let ip = addr.parse::<SocketAddr>().ok()?.ip();
            Some(ip.to_string())
        })
        .collect()
}

/// `ttui seed` bound to its own address, no trackers, no DHT; returned once seeding.
fn seed_at(ip: &str, torrent: &Torrent, data: &Path, port: u16, log: &Path) -> Ttui {
    let args: Vec<String> = vec![
        "seed".into(),
        torrent.path.display().to_string(),
        "-o".into(),
        data.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "--bind".into(),
        ip.into(),
        "--port".into(),
        port.to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    let mut seed = Ttui::spawn(args);
    seed.wait_for_stdout("ttui to seed", WAIT, |s| s.contains("seeding"));
    seed
}

/// What every download through the proxy starts from: a seed on `ip` (with its log), and
/// the leecher's output folder, log and `--peer` address.
struct Swarm {
    seed: Ttui,
    seed_log: PathBuf,
    out: PathBuf,
    log: PathBuf,
    peer: String,
}

fn swarm(fx: &Fixture, ip: &str) -> Swarm {
    let port = free_port();
    let seed_log = fx.dir.path().join("seed.log");
    Swarm {
        seed: seed_at(ip, &fx.torrent, &fx.data_dir, port, &seed_log),
        seed_log,
        out: fx.out_dir("out"),
        log: fx.dir.path().join("leech.log"),
        peer: format!("{ip}:{port}"),
    }
}

/// A headless download bound to TTUI_AT, through `proxy`, with `extra` flags.
fn leecher_args(
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
        "--port".into(),
        free_port().to_string(),
        "--log-file".into(),
        log.display().to_string(),
        "--proxy".into(),
        proxy.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn have_dante() -> bool {
    prereq::have_tools(&["danted"])
}

/// A download from a ttui seed through dante with `--proxy-only` completes byte-identical;
/// the seed saw every connection come from dante's external address, none from ttui's; the
/// password shows nowhere (stdout, stderr, log, `ttui config`).
#[test]
fn a_download_through_dante_comes_only_from_its_address() {
    require_loopback_only();
    if !have_dante() {
        return;
    }
    let fx = Fixture::single_file("proxied.bin", (6 << 20) + 123, 41, 16);
    let mut dante = Dante::start();
    let Swarm {
        mut seed,
        seed_log,
        out,
        log,
        peer,
    } = swarm(&fx, "127.0.0.21");
    let args = leecher_args(
        &fx.torrent,
        &out,
        &log,
        &dante.url("socks5"),
        &["--no-trackers", "--proxy-only", "--peer", &peer],
    );
    let done = Ttui::run(args, DOWNLOAD_TIMEOUT);
    done.assert_success("download through dante");
    assert_same_tree(&fx.payload, &out.join("proxied.bin"));
    let from = incoming_from(&seed_log);
    assert_eq!(
        from,
        BTreeSet::from([DANTE_OUT.to_string()]),
        "where the seed's connections came from\n{}",
        tail(&seed_log, 30)
    );
    let leech_log = fs::read_to_string(&log).unwrap_or_default();
    assert!(leech_log.contains("DHT and uTP off"), "{}", tail(&log, 30));
    for (what, text) in [
        ("stdout", &done.stdout),
        ("stderr", &done.stderr),
        ("log", &leech_log),
    ] {
        assert!(
            !text.contains(SECRET),
            "the password in the leecher's {what}"
        );
    }
    // `ttui config` shows both settings, the password masked.
    let shown = Command::new(env!("CARGO_BIN_EXE_ttui"))
        .args(["config", "--proxy", &dante.url("socks5h"), "--proxy-only"])
        .env("XDG_CONFIG_HOME", fx.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let url = format!("socks5h://ttui:***@{DANTE_IN}:{}", dante.port);
    assert!(
        text.lines()
            .any(|l| l.contains("proxy ") && l.contains(&url)),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("proxy_only") && l.contains("on")),
        "{text}"
    );
    seed.kill();
    dante.stop();
}

/// Dante that checks a login: with the right password the download goes through it, byte-
/// identical; with a wrong one the log says the proxy refused our login, and nothing reaches
/// the seed (`--proxy-only`: no way around it).
#[test]
fn dante_checks_the_login_and_a_wrong_password_is_named() {
    require_loopback_only();
    if !have_dante() {
        return;
    }
    let fx = Fixture::single_file("login.bin", (2 << 20) + 77, 47, 16);
    let mut dante = Dante::start_with_login();

    let wrong = dante.url("socks5").replace(SECRET, "not-the-password");
    let Swarm {
        mut seed,
        seed_log,
        out,
        log,
        peer,
    } = swarm(&fx, "127.0.0.24");
    let args = leecher_args(
        &fx.torrent,
        &out,
        &log,
        &wrong,
        &["--no-trackers", "--proxy-only", "--peer", &peer],
    );
    let mut leech = Ttui::spawn(args);
    let start = Instant::now();
    while !fs::read_to_string(&log).is_ok_and(|t| t.contains("the proxy refused our login")) {
        assert!(
            start.elapsed() < WAIT,
            "no 'refused our login' in the log\n{}\n{}",
            tail(&log, 30),
            leech.report()
        );
        sleep(Duration::from_millis(100));
    }
    assert!(
        incoming_from(&seed_log).is_empty(),
        "the seed was reached: {:?}",
        incoming_from(&seed_log)
    );
    leech.kill();

    let out_ok = out.with_file_name("out-login-ok");
    fs::create_dir_all(&out_ok).unwrap();
    let args = leecher_args(
        &fx.torrent,
        &out_ok,
        &log.with_file_name("leech-ok.log"),
        &dante.url("socks5"),
        &["--no-trackers", "--proxy-only", "--peer", &peer],
    );
    let done = Ttui::run(args, DOWNLOAD_TIMEOUT);
    done.assert_success("download through dante with a login");
    assert_same_tree(&fx.payload, &out_ok.join("login.bin"));
    assert_eq!(
        incoming_from(&seed_log),
        BTreeSet::from([DANTE_OUT.to_string()]),
        "where the seed's connections came from\n{}",
        tail(&seed_log, 30)
    );
    seed.kill();
    dante.stop();
}

/// With the proxy down and `--proxy-only`, nothing reaches the seed, the peer is never
/// dialed directly, and the log says the proxy is down with the reason.
#[test]
fn proxy_only_with_the_proxy_down_connects_nothing() {
    require_loopback_only();
    if !have_dante() {
        return;
    }
    let fx = Fixture::single_file("unproxied.bin", 1 << 20, 43, 16);
    let mut dante = Dante::start();
    dante.stop();
    let Swarm {
        mut seed,
        seed_log,
        out,
        log,
        peer,
    } = swarm(&fx, "127.0.0.22");
    let args = leecher_args(
        &fx.torrent,
        &out,
        &log,
        &dante.url("socks5"),
        &["--no-trackers", "--proxy-only", "--peer", &peer],
    );
    let mut leech = Ttui::spawn(args);
    let start = Instant::now();
    while !fs::read_to_string(&log)
        .is_ok_and(|t| t.contains("proxy") && t.contains("down: cannot reach the proxy"))
    {
        assert!(
            start.elapsed() < WAIT,
            "no 'proxy down' in the log\n{}",
            leech.report()
        );
        sleep(Duration::from_millis(100));
    }
    // A few more retries' worth: still nothing at the seed.
    sleep(Duration::from_secs(6));
    assert!(
        incoming_from(&seed_log).is_empty(),
        "the seed was reached: {:?}",
        incoming_from(&seed_log)
    );
    leech.kill();
    seed.kill();
}

/// A one-shot whose only way out is a proxy that is down, and which knows no peer (no
/// tracker, no `--peer`): its progress lines say why, as a session's explainer does, from
/// what its session knows of the proxy (the UDP association it could not make), not from a
/// peer's failure; the words name the proxy without its password.
#[test]
fn a_one_shot_that_knows_no_peer_names_the_proxy_that_is_down() {
    require_loopback_only();
    let fx = Fixture::single_file("nowhere.bin", 1 << 20, 44, 16);
    let out = fx.out_dir("nowhere");
    let log = out.with_extension("log");
    let proxy = format!("socks5://ttui:hunter2@{}", closed_addr());
    let args = leecher_args(
        &fx.torrent,
        &out,
        &log,
        &proxy,
        &["--no-trackers", "--no-dht", "--proxy-only"],
    );
    let mut leech = Ttui::spawn(args);
    leech.wait_for_stdout("the explainer to name the proxy", WAIT, |s| {
        s.contains("peers 0/0") && s.contains("why: the proxy socks5://")
    });
    let said = leech.stdout_now();
    let line = said
        .lines()
        .find(|l| l.contains("why: the proxy"))
        .unwrap_or("");
    assert!(line.contains("is down"), "{line}");
    assert!(!said.contains("hunter2"), "the password was shown: {line}");
    leech.kill();
}

/// `--proxy-only` through a rate-limited download: dante is killed in the middle, and while
/// it is down the progress line's explainer says the proxy is down (with the error), the log
/// too, and the seed sees nothing from ttui's own address; dante comes back on the same port
/// and the download resumes by itself and completes byte-identical.
#[test]
fn proxy_only_rides_out_dante_down_and_back() {
    require_loopback_only();
    if !have_dante() {
        return;
    }
    let fx = Fixture::single_file("restarted.bin", 8 << 20, 47, 16);
    let mut dante = Dante::start();
    let Swarm {
        mut seed,
        seed_log,
        out,
        log,
        peer,
    } = swarm(&fx, "127.0.0.23");
    let args = leecher_args(
        &fx.torrent,
        &out,
        &log,
        &dante.url("socks5"),
        &[
            "--no-trackers",
            "--proxy-only",
            "--peer",
            &peer,
            "--down-limit",
            "512K",
        ],
    );
    let mut leech = Ttui::spawn(args);
    leech.wait_for_stdout("a fifth of the download", WAIT, |s| {
        last_percent(s).is_some_and(|p| p >= 20.0)
    });
    dante.stop();
    let down_at = Instant::now();
    // The session's word on its proxy, named (password masked).
    leech.wait_for_stdout("the explainer to say the proxy is down", WAIT, |s| {
        s.contains("why: the proxy socks5://ttui:***@")
            && s.contains("is down: cannot reach the proxy")
    });
    let logged = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("down: cannot reach the proxy"),
        "{}",
        tail(&log, 30)
    );
    let before = last_percent(&leech.stdout_now()).unwrap_or(0.0);
    assert!(before < 100.0, "finished while dante was down");
    assert!(!leech.has_exited(), "ttui gave up while the proxy was down");
    assert!(
        down_at.elapsed() >= Duration::from_secs(10),
        "the explainer spoke early"
    );
    dante.run();
    leech
        .wait(DOWNLOAD_TIMEOUT)
        .assert_success("the download after dante came back");
    assert_same_tree(&fx.payload, &out.join("restarted.bin"));
    assert_eq!(
        incoming_from(&seed_log),
        BTreeSet::from([DANTE_OUT.to_string()]),
        "where the seed's connections came from\n{}",
        tail(&seed_log, 30)
    );
    let up = format!("{DANTE_IN}:{} up", dante.port);
    assert!(
        fs::read_to_string(&log).is_ok_and(|t| t.contains(&up)),
        "no {up:?} in the log\n{}",
        tail(&log, 30)
    );
    seed.kill();
    dante.stop();
}

/// HTTP announces and web seed requests go through dante too (`socks5h://`: dante resolves
/// the names): the web seed's server logs only dante's address as its client, and the
/// tracker lists ttui at dante's address, never at its own.
#[test]
fn the_tracker_and_the_web_seed_see_only_dante() {
    require_loopback_only();
    if !have_dante() || !prereq::have_tools(&["mktorrent", "python3", "opentracker"]) {
        return;
    }
    let data = tempdir("ttui-proxy-data-");
    let payload = make_single_file_payload(data.path(), "webseeded.bin", (3 << 20) + 7, 13);
    let work = tempdir("ttui-proxy-");
    let server = webseed_srv::HttpSeed::start(data.path(), "ok");
    let t = webseed_srv::make_torrent_with_url(
        &payload,
        &server.url(),
        16,
        &work.path().join("ws.torrent"),
    );
    let tracker = Opentracker::start(&[t.info_hash]);
    let t = t.with_trackers(
        &work.path().join("tracked.torrent"),
        Some(&tracker.http_url()),
        &[],
    );
    let dante = Dante::start();
    let (out, log) = (work.path().join("out"), work.path().join("leech.log"));
    // No login: reqwest offers only username/password when given one, which dante's
    // `socksmethod: none` refuses (the explainer then says so, in SOCKS words).
    let url = format!("socks5h://{DANTE_IN}:{}", dante.port);
    let mut args = leecher_args(&t, &out, &log, &url, &["--down-limit", "512K"]);
    let port_at = args.iter().position(|a| a == "--port").unwrap() + 1;
    let port: u16 = args[port_at].parse().unwrap();
    args.push("--no-dht".into());
    let mut leech = Ttui::spawn(args);
    // Listed while it downloads (it says `stopped` when it exits).
    let mut listed = Vec::new();
    let start = Instant::now();
    while listed.is_empty() && !leech.has_exited() {
        assert!(
            start.elapsed() < WAIT,
            "the tracker never listed ttui\n{}",
            leech.report()
        );
        sleep(Duration::from_millis(200));
        listed = tracker_peers(&tracker, &t.info_hash);
    }
    let expect = SocketAddr::new(DANTE_OUT.parse().unwrap(), port);
    assert_eq!(listed, [expect], "where the tracker lists ttui");
    leech
        .wait(DOWNLOAD_TIMEOUT)
        .assert_success("download from the web seed through dante");
    assert_same_tree(&payload, &out.join("webseeded.bin"));
    assert_eq!(
        server.clients(),
        [DANTE_OUT],
        "where the web seed's requests came from"
    );
}

/// `proxy_only` without a proxy would let everything go direct: refused in one line.
#[test]
fn proxy_only_without_a_proxy_is_refused() {
    let home = tempdir("ttui-proxy-cfg-");
    let out = Command::new(env!("CARGO_BIN_EXE_ttui"))
        .args(["config", "--no-config", "--proxy-only"])
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_STATE_HOME", home.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("proxy_only is on but no proxy is set"),
        "{err}"
    );
}
