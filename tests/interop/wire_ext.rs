//! BEP 21 (`upload_only`) and BEP 54 (`lt_donthave`) against python3-libtorrent 2.0.8:
//! - ttui seeding meets a libtorrent seed: ttui reads its `upload_only` and the two part
//!   (both complete);
//! - ttui as a partial seed (`--only-files`, every wanted piece in) tells a libtorrent leecher
//!   it only uploads: libtorrent marks it so, and drops it once it has all ttui can give;
//! - a piece ttui seeds is cut from its file while a libtorrent leecher is connected: the
//!   first read of it finds it gone, and libtorrent's view of our pieces loses it
//!   (`lt_donthave`), while the connection and the torrent go on.
//!
//! Receiving `lt_donthave` is covered by the connection's unit tests (`peer/conn/tests.rs`):
//! libtorrent sends it only in share mode, which a test cannot steer to a given piece.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;

const WAIT: Duration = Duration::from_secs(60);

/// Loopback only, python3-libtorrent installed (else None: skipped), the swarm lock held (bind
/// it first so it is dropped last), a fresh Env.
fn setup(prefix: &str) -> Option<(SwarmGuard, Env)> {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return None;
    }
    let lock = swarm_lock();
    Some((lock, Env::new(prefix)))
}

/// `ttui seed` of `torrent` from `data` on `ip:port` over TCP, dialing nobody; its log file.
fn seeder(
    env: &Env,
    torrent: &Torrent,
    data: &Path,
    ip: &str,
    port: u16,
    extra: &[&str],
) -> (Proc, PathBuf) {
    let log = env.logs.join(format!("seed-{ip}.log"));
    let mut cmd = env.ttui();
    cmd.arg("seed")
        .arg(&torrent.path)
        .args([
            "--headless",
            "--no-trackers",
            "--no-dht",
            "--transport",
            "tcp",
        ])
        .args(["--bind", ip, "--port", &port.to_string()])
        .args(extra)
        .arg("-o")
        .arg(data)
        .arg("--log-file")
        .arg(&log);
    let mut proc = Proc::spawn(&format!("seed-{ip}"), &mut cmd, &env.logs);
    proc.logs.push(log.clone());
    let needle = format!("listening for peers on port {port}");
    proc.wait_until("ttui to listen", WAIT, |_| {
        fs::read_to_string(&log).is_ok_and(|t| t.contains(&needle))
    });
    (proc, log)
}

fn text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Polls `done` every 250 ms for `limit`; panics with `report()` when it never holds.
fn wait_for(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    report: impl Fn() -> String,
) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}\n{}",
            report()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A torrent of `files` (none announced: no tracker) under `fixtures/data`.
fn payload(
    env: &Env,
    name: &str,
    files: &[(&str, u64)],
    seed_no: u64,
) -> (Payload, Torrent, PathBuf) {
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let p = Payload::make(&data, &fixtures, name, files, seed_no);
    let bare = p
        .torrent
        .with_trackers(&fixtures.join(format!("{name}-bare.torrent")), None, &[]);
    (p, bare, data)
}

/// Two seeds: ttui reads libtorrent's `upload_only` (its log names the peer upload-only) and
/// the connection ends at once, whichever side closes it first: ttui as "not needed (both
/// complete)", libtorrent as an "upload to upload connection".
#[test]
fn two_seeds_part_and_ttui_sees_the_libtorrent_seed_as_upload_only() {
    let Some((_lock, env)) = setup("ttui-bep21-seeds-") else {
        return;
    };
    let (_, bare, data) = payload(&env, "both.bin", &[("", 16 * PLEN)], 21);
    let (ip, port) = ("127.0.0.31", free_port());
    let (mut ttui, log) = seeder(&env, &bare, &data, ip, port, &[]);
    let opts = LtOptions {
        seed_mode: true,
        peers: vec![SocketAddr::from(([127, 0, 0, 31], port))],
        ..LtOptions::default()
    };
    let lt = LibtorrentPeer::start(&bare, &data, opts);
    let lt_addr = lt.addr().ip().to_string();
    wait_for(
        "the two seeds to meet and part",
        WAIT,
        || {
            let t = text(&log);
            t.contains("upload only (BEP 21)")
                && t.lines()
                    .any(|l| l.contains(&lt_addr) && l.contains("disconnected: "))
        },
        || format!("{}\n{}", text(&log), lt.stderr_text()),
    );
    let t = text(&log);
    let line = t
        .lines()
        .find(|l| l.contains("upload only (BEP 21)"))
        .unwrap();
    assert!(line.contains(&lt_addr), "the line names the peer: {line}");
    let ended = t
        .lines()
        .find(|l| l.contains(&lt_addr) && l.contains("disconnected: "))
        .unwrap();
    assert!(
        ended.contains("not needed (both complete)")
            || lt.stderr_text().contains("upload to upload connection"),
        "{ended}\n{}",
        lt.stderr_text()
    );
    assert!(!t.contains("disk error"), "{t}");
    ttui.kill();
    drop(lt);
}

/// `ttui seed --only-files` with the skipped file absent: every wanted piece is in, so its
/// handshake says `upload_only`. libtorrent, leeching everything slowly, holds ttui as
/// upload-only while it fetches, and drops it once ttui has nothing more for it
/// ("uninteresting upload-only peer"). Without the flag it would stay connected for good.
#[test]
fn a_partial_seed_says_upload_only_and_libtorrent_drops_it_when_done_with_it() {
    let Some((_lock, env)) = setup("ttui-bep21-partial-") else {
        return;
    };
    let files = [
        ("a.bin", 4 * PLEN),
        ("b.bin", 2 * PLEN),
        ("c.bin", 3 * PLEN + 777),
    ];
    let (p, bare, data) = payload(&env, "part", &files, 22);
    fs::remove_file(data.join(&p.files[1].0)).unwrap();
    let (ip, port) = ("127.0.0.32", free_port());
    let (mut ttui, log) = seeder(&env, &bare, &data, ip, port, &["--only-files", "0,2"]);
    let ttui_addr = SocketAddr::from(([127, 0, 0, 32], port));
    let leech = env.root.path().join("leech");
    let opts = LtOptions {
        peers: vec![ttui_addr],
        // Eight pieces at 96 KiB/s: several of its once-a-second peer lines.
        download_limit: 96 * 1024,
        peer_lines: true,
        ..LtOptions::default()
    };
    let mut lt = LibtorrentPeer::start_leecher(&bare, &leech, opts);
    wait_for(
        "libtorrent to hold ttui as upload-only",
        WAIT,
        || {
            lt.peer_views()
                .iter()
                .any(|v| v.addr.ip() == ttui_addr.ip() && v.upload_only)
        },
        || format!("{}\n{}\n{}", lt.stdout_text(), lt.stderr_text(), text(&log)),
    );
    let view = lt
        .peer_views()
        .into_iter()
        .find(|v| v.addr.ip() == ttui_addr.ip() && v.upload_only)
        .unwrap();
    // It has the wanted files' pieces only: b.bin's two are missing.
    assert_eq!(view.lacks, [4, 5], "{view:?}");
    wait_for(
        "libtorrent to drop ttui once it had all ttui has",
        WAIT,
        || lt.stderr_text().contains("uninteresting upload-only peer"),
        || format!("{}\n{}\n{}", lt.stdout_text(), lt.stderr_text(), text(&log)),
    );
    lt.uploaded_fresh();
    let (down, _) = *lt.progress().last().unwrap();
    assert!(
        down >= 7 * PLEN + 777,
        "dropped before it had the wanted pieces: {down} B"
    );
    assert!(!ttui.exited(), "{}", ttui.report());
    ttui.kill();
    drop(lt);
}

/// ttui seeds; a slow libtorrent leecher holds every piece of ours in its view. The file is
/// cut to half its length: the first read of a piece past the cut finds it gone, ttui logs
/// the loss, and libtorrent's view of our pieces loses it (BEP 54 `lt_donthave`, which
/// libtorrent offers and reads). The connection stays and ttui keeps running.
#[test]
fn a_piece_cut_from_disk_is_taken_back_with_lt_donthave() {
    let Some((_lock, env)) = setup("ttui-bep54-") else {
        return;
    };
    let pieces = 16u64;
    let (_, bare, data) = payload(&env, "cut.bin", &[("", pieces * PLEN)], 54);
    let (ip, port) = ("127.0.0.33", free_port());
    let (mut ttui, log) = seeder(&env, &bare, &data, ip, port, &[]);
    let ttui_addr = SocketAddr::from(([127, 0, 0, 33], port));
    let leech = env.root.path().join("leech");
    let opts = LtOptions {
        peers: vec![ttui_addr],
        // 16 pieces of 64 KiB at 64 KiB/s: the test is over well before it could finish.
        download_limit: 64 * 1024,
        peer_lines: true,
        ..LtOptions::default()
    };
    let lt = LibtorrentPeer::start_leecher(&bare, &leech, opts);
    let ours = |v: &LtPeerView| v.addr.ip() == ttui_addr.ip();
    let report =
        |lt: &LibtorrentPeer| format!("{}\n{}\n{}", lt.stdout_text(), lt.stderr_text(), text(&log));
    wait_for(
        "libtorrent to see all of ttui's pieces",
        WAIT,
        || {
            lt.peer_views()
                .iter()
                .any(|v| ours(v) && v.pieces == pieces)
        },
        || report(&lt),
    );
    let seen = lt.peer_views().len();
    let half = pieces / 2;
    fs::OpenOptions::new()
        .write(true)
        .open(data.join("cut.bin"))
        .unwrap()
        .set_len(half * PLEN)
        .unwrap();
    wait_for(
        "libtorrent to hear of a lost piece",
        WAIT,
        || {
            lt.peer_views()[seen..]
                .iter()
                .any(|v| ours(v) && !v.lacks.is_empty())
        },
        || report(&lt),
    );
    let view = lt.peer_views()[seen..]
        .iter()
        .find(|v| ours(v) && !v.lacks.is_empty())
        .cloned()
        .unwrap();
    assert!(
        view.lacks.iter().all(|i| (half..pieces).contains(i)),
        "only pieces past the cut are taken back: {view:?}"
    );
    let t = text(&log);
    for i in &view.lacks {
        assert!(t.contains(&format!("piece {i} lost (")), "{t}");
    }
    assert!(!t.contains("disk error"), "the torrent went on: {t}");
    assert!(!ttui.exited(), "{}", ttui.report());
    ttui.kill();
    drop(lt);
}
