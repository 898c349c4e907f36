//! Rate limits against real peers on loopback (issue 20, "Rate limits"): python3-libtorrent
//! seeders and a leecher, a web seed, `ttui daemon` (and one headless run over uTP) limited
//! by flags and changed at runtime with `ttui limit`. Each case measures the payload rate over
//! a 30 s window from both ends where both count (ttui's `list --json` counters and
//! libtorrent's progress counters; the web seed case from ttui's alone, since the server's
//! socket buffers hide its rate) and checks it within ±10 % of the limit (fair sharing: each
//! torrent within ±10 % of half). The cases run at once, so the binary takes about 80 s;
//! they check the limiter's accuracy, not speed.
//!
//! Run through tests/run.sh: every process here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
use crate::webseed_srv;

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;
const WINDOW: Duration = Duration::from_secs(30);
/// Time for connections and the first requests before a window starts.
const WARMUP: Duration = Duration::from_secs(4);
const START_WAIT: Duration = Duration::from_secs(30);

fn field(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {row}"))
}

/// libtorrent's counter (`pick`: 0 down, 1 up) at the moment a new progress line shows.
fn lt_sample(lt: &LibtorrentPeer, pick: usize) -> (Instant, u64) {
    let n = lt.progress().len();
    let start = Instant::now();
    loop {
        let p = lt.progress();
        if p.len() > n {
            let last = p[p.len() - 1];
            return (Instant::now(), if pick == 0 { last.0 } else { last.1 });
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "libtorrent went silent"
        );
        sleep(Duration::from_millis(20));
    }
}

/// Rates over one window: ttui's own counter `key` of each torrent row (by info hash), and
/// libtorrent's counter from `lt`.
fn window(
    env: &Env,
    hashes: &[String],
    key: &str,
    lt: &[(&LibtorrentPeer, usize)],
) -> (Vec<f64>, Vec<f64>) {
    let count = |rows: &[Value]| -> Vec<u64> {
        hashes.iter().map(|h| field(row_of(rows, h), key)).collect()
    };
    let (t0, a0) = (Instant::now(), count(&env.list()));
    let l0: Vec<(Instant, u64)> = lt.iter().map(|(p, k)| lt_sample(p, *k)).collect();
    sleep(WINDOW.saturating_sub(t0.elapsed()));
    let (t1, a1) = (Instant::now(), count(&env.list()));
    let l1: Vec<(Instant, u64)> = lt.iter().map(|(p, k)| lt_sample(p, *k)).collect();
    let dt = t1.duration_since(t0).as_secs_f64();
    let ours = a0
        .iter()
        .zip(&a1)
        .map(|(a, b)| (b - a) as f64 / dt)
        .collect();
    let theirs = l0
        .iter()
        .zip(&l1)
        .map(|((ta, a), (tb, b))| (b - a) as f64 / tb.duration_since(*ta).as_secs_f64())
        .collect();
    (ours, theirs)
}

fn assert_near(what: &str, measured: f64, target: f64, tolerance: f64) {
    let err = (measured - target) / target;
    eprintln!(
        "{what}: target {:.0} KiB/s, measured {:.1} KiB/s ({:+.1} %)",
        target / KIB,
        measured / KIB,
        err * 100.0
    );
    assert!(
        err.abs() <= tolerance,
        "{what}: {:.1} KiB/s is not within {:.0} % of {:.0} KiB/s",
        measured / KIB,
        tolerance * 100.0,
        target / KIB
    );
}

fn add(env: &Env, p: &Payload, out: Option<&Path>) {
    let path = p.path();
    let mut args = vec!["add", path.as_str()];
    let o = out.map(|o| o.display().to_string());
    if let Some(o) = &o {
        args.extend(["-o", o.as_str()]);
    }
    let r = env.verb(&args);
    assert_eq!(r.code, 0, "{r:?}");
}

fn seeder(p: &Payload, data: &Path, transport: Option<&'static str>) -> LibtorrentPeer {
    LibtorrentPeer::start(
        &p.torrent,
        data,
        LtOptions {
            seed_mode: true,
            transport,
            ..LtOptions::default()
        },
    )
}

/// A download limited to 1 MiB/s, then lowered to 200 KiB/s with `ttui limit` (the window
/// starts 2 s after the verb, so a slow change would show); the line says why.
fn download_then_runtime_change() {
    let env = Env::new("ttui-rate-down-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "down",
        &[("", 48 << 20)],
        1,
    );
    let lt = seeder(&p, &data, None);
    let mut d = Daemon::start(
        &env,
        "1",
        &[
            "--peer".into(),
            lt.addr().to_string(),
            "--down-limit".into(),
            "1M".into(),
        ],
    );
    add(&env, &p, None);
    env.wait_list("the download to start", START_WAIT, &mut d, |r| {
        field(row_of(r, &p.hash()), "downloaded") > 0
    });
    sleep(WARMUP);
    let (ours, theirs) = window(&env, &[p.hash()], "downloaded", &[(&lt, 1)]);
    assert_near("down 1 MiB/s (ttui)", ours[0], MIB, 0.10);
    assert_near("down 1 MiB/s (libtorrent seeder)", theirs[0], MIB, 0.10);
    let why = env.list()[0]["why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.starts_with("limited: down 1 MiB/s (session limit)"),
        "why: {why:?}"
    );

    let r = env.verb(&["limit", "--down", "200K", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let now: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(now["down"], 200 * 1024, "{now}");
    sleep(Duration::from_secs(2));
    // ttui's counter from 2 s after the change: what it reads obeys the new limit at once.
    // The seeder's from 8 s after: before the change ttui had a turn of blocks requested (a
    // second at 1 MiB/s), which the seeder sent then and ttui reads at the new rate, so the
    // seeder sends nothing until they are read (5 s at 200 KiB/s); a window that began
    // before that would read low by what it had sent ahead, not because the limit is off.
    let hash = p.hash();
    let count = || field(row_of(&env.list(), &hash), "downloaded");
    let (t0, a0) = (Instant::now(), count());
    sleep(Duration::from_secs(6));
    let l0 = lt_sample(&lt, 1);
    sleep(WINDOW.saturating_sub(t0.elapsed()));
    let (t1, a1) = (Instant::now(), count());
    sleep(Duration::from_secs(6));
    let l1 = lt_sample(&lt, 1);
    assert_near(
        "down 200 KiB/s after `ttui limit` (ttui)",
        (a1 - a0) as f64 / t1.duration_since(t0).as_secs_f64(),
        200.0 * KIB,
        0.10,
    );
    assert_near(
        "down 200 KiB/s after `ttui limit` (libtorrent seeder)",
        (l1.1 - l0.1) as f64 / l1.0.duration_since(l0.0).as_secs_f64(),
        200.0 * KIB,
        0.10,
    );
    let shown = env.verb(&["limit"]);
    assert!(
        shown
            .stdout
            .contains("session: down 200 KiB/s, up unlimited"),
        "{shown:?}"
    );
    assert!(d.term().success());
}

/// Two torrents, each from its own seeder, under one 2 MiB/s session limit.
fn two_torrents_share_fairly() {
    let env = Env::new("ttui-rate-fair-");
    let data = env.root.path().join("data");
    let t = env.root.path().join("t");
    let a = Payload::make(&data, &t, "fair-a", &[("", 48 << 20)], 2);
    let b = Payload::make(&data, &t, "fair-b", &[("", 48 << 20)], 3);
    let (la, lb) = (seeder(&a, &data, None), seeder(&b, &data, None));
    let peers = vec![
        "--peer".into(),
        la.addr().to_string(),
        "--peer".into(),
        lb.addr().to_string(),
        "--down-limit".into(),
        "2M".into(),
    ];
    let mut d = Daemon::start(&env, "1", &peers);
    add(&env, &a, None);
    add(&env, &b, None);
    env.wait_list("both downloads to start", START_WAIT, &mut d, |r| {
        field(row_of(r, &a.hash()), "downloaded") > 0
            && field(row_of(r, &b.hash()), "downloaded") > 0
    });
    sleep(WARMUP);
    let (ours, theirs) = window(
        &env,
        &[a.hash(), b.hash()],
        "downloaded",
        &[(&la, 1), (&lb, 1)],
    );
    assert_near("fair share, torrent a (ttui)", ours[0], MIB, 0.10);
    assert_near("fair share, torrent b (ttui)", ours[1], MIB, 0.10);
    assert_near(
        "fair share, total (ttui)",
        ours[0] + ours[1],
        2.0 * MIB,
        0.10,
    );
    assert_near(
        "fair share, total (libtorrent seeders)",
        theirs[0] + theirs[1],
        2.0 * MIB,
        0.10,
    );
    assert!(d.term().success());
}

/// ttui seeds to a libtorrent leecher under a 1 MiB/s upload limit, then 200 KiB/s set with
/// `ttui limit`.
fn upload_limited() {
    let env = Env::new("ttui-rate-up-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "up",
        &[("", 48 << 20)],
        4,
    );
    let save = env.root.path().join("leech");
    std::fs::create_dir_all(&save).unwrap();
    let mut leecher = LibtorrentPeer::start_leecher(&p.torrent, &save, LtOptions::default());
    let mut d = Daemon::start(
        &env,
        "1",
        &[
            "--peer".into(),
            leecher.addr().to_string(),
            "--up-limit".into(),
            "1M".into(),
        ],
    );
    add(&env, &p, Some(&data));
    env.wait_list("the upload to start", START_WAIT, &mut d, |r| {
        field(row_of(r, &p.hash()), "uploaded") > 0
    });
    sleep(WARMUP);
    let (ours, theirs) = window(&env, &[p.hash()], "uploaded", &[(&leecher, 0)]);
    assert_near("up 1 MiB/s (ttui)", ours[0], MIB, 0.10);
    assert_near("up 1 MiB/s (libtorrent leecher)", theirs[0], MIB, 0.10);
    let why = env.list()[0]["why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.starts_with("limited: up 1 MiB/s (session limit)"),
        "why: {why:?}\n{}",
        leecher.report()
    );

    let r = env.verb(&["limit", "--up", "200K"]);
    assert_eq!(r.code, 0, "{r:?}");
    sleep(Duration::from_secs(2));
    let (ours, theirs) = window(&env, &[p.hash()], "uploaded", &[(&leecher, 0)]);
    assert_near(
        "up 200 KiB/s after `ttui limit` (ttui)",
        ours[0],
        200.0 * KIB,
        0.10,
    );
    assert_near(
        "up 200 KiB/s after `ttui limit` (libtorrent leecher)",
        theirs[0],
        200.0 * KIB,
        0.10,
    );
    assert!(d.term().success());
}

/// A download from a web seed alone (BEP 19, 256 KiB pieces) under a 500 KiB/s limit.
fn web_seed_obeys_the_limit() {
    let env = Env::new("ttui-rate-web-");
    let data = env.root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let payload = make_single_file_payload(&data, "web", 24 << 20, 6);
    let server = webseed_srv::HttpSeed::start(&data, "ok");
    let torrent = webseed_srv::make_torrent_with_url(
        &payload,
        &server.url(),
        18,
        &env.root.path().join("web.torrent"),
    );
    let hash = torrent.hash_hex();
    let mut d = Daemon::start(&env, "1", &["--down-limit".into(), "500K".into()]);
    let path = torrent.path.display().to_string();
    let r = env.verb(&["add", path.as_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    env.wait_list("the web seed download to start", START_WAIT, &mut d, |r| {
        field(row_of(r, &hash), "downloaded") > 0
    });
    sleep(WARMUP);
    let (ours, _) = window(&env, std::slice::from_ref(&hash), "downloaded", &[]);
    assert_near("web seed down 500 KiB/s (ttui)", ours[0], 500.0 * KIB, 0.10);
    assert!(server.requests() > 0, "the server saw no request");
    let rows = env.list();
    let why = row_of(&rows, &hash)["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("limited: down 500 KiB/s (session limit)"),
        "why: {why:?}"
    );
    assert!(d.term().success());
}

/// A headless download over uTP only, limited to 500 KiB/s, measured at the seeder.
fn utp_obeys_the_limit() {
    let dir = tempdir("ttui-rate-utp-");
    let data = dir.path().join("data");
    let p = Payload::make(&data, &dir.path().join("t"), "utp", &[("", 24 << 20)], 5);
    let lt = seeder(&p, &data, Some("utp"));
    let out = dir.path().join("out");
    let (torrent, out_s, peer) = (p.path(), out.display().to_string(), lt.addr().to_string());
    let bind = loopback_ip().to_string();
    let mut ttui = Ttui::spawn([
        torrent.as_str(),
        "--headless",
        "--no-trackers",
        "--no-dht",
        "--transport",
        "utp",
        "--port",
        "0",
        "--bind",
        bind.as_str(),
        "--peer",
        peer.as_str(),
        "-o",
        out_s.as_str(),
        "--down-limit",
        "500K",
    ]);
    let start = Instant::now();
    while lt.progress().last().is_none_or(|p| p.1 == 0) {
        assert!(
            start.elapsed() < START_WAIT,
            "no upload over uTP\n{}",
            ttui.stdout_now()
        );
        assert!(!ttui.has_exited(), "ttui ended: {}", ttui.stdout_now());
        sleep(Duration::from_millis(200));
    }
    sleep(WARMUP);
    let (t0, a) = lt_sample(&lt, 1);
    sleep(WINDOW);
    let (t1, b) = lt_sample(&lt, 1);
    let rate = (b - a) as f64 / t1.duration_since(t0).as_secs_f64();
    assert_near(
        "uTP down 500 KiB/s (libtorrent seeder)",
        rate,
        500.0 * KIB,
        0.10,
    );
    ttui.kill();
}

#[test]
fn limits_hold_against_libtorrent() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let cases: Vec<(&str, fn())> = vec![
        ("download and runtime change", download_then_runtime_change),
        ("fair sharing", two_torrents_share_fairly),
        ("upload", upload_limited),
        ("uTP", utp_obeys_the_limit),
        ("web seed", web_seed_obeys_the_limit),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let failed: Vec<&str> = handles
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}");
}
