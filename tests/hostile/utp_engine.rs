//! uTP in the engine, end to end with the real binary: a uTP-only python3-libtorrent seeder
//! (TCP off both ways) serves ttui with default options and with `--transport utp`, and not
//! with `--transport tcp` (a clear reason); a uTP-only libtorrent leecher downloads from
//! `ttui seed`; ttui to ttui over uTP with encryption required; ttui to ttui through a lossy,
//! reordering UDP relay; and hostile datagrams at a downloading ttui's UDP port.
//!
//! Run inside the loopback-only namespace (tests/run.sh); every test refuses to start
//! elsewhere. Every client binds its own 127.0.0.x; every ttui runs with `--no-dht`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
mod hostile;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A uTP-only libtorrent seeder of `fx`.
fn utp_only_seeder(fx: &Fixture) -> LibtorrentPeer {
    let opts = LtOptions {
        seed_mode: true,
        transport: Some("utp"),
        ..LtOptions::default()
    };
    LibtorrentPeer::start(&fx.torrent, &fx.data_dir, opts)
}

/// Arguments of a headless download of `fx` from `peer` alone, on a fresh 127.0.0.x.
fn leech_args(
    fx: &Fixture,
    out: &Path,
    log: &Path,
    peer: SocketAddr,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        fx.torrent.path.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "-o".into(),
        out.display().to_string(),
        "--port".into(),
        "0".into(),
        "--bind".into(),
        loopback_ip().to_string(),
        "--peer".into(),
        peer.to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ]
    .into();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Downloads `fx` from `peer` with `extra` flags: byte-identical, over uTP (the log says so).
/// Returns the log text.
fn download_over_utp(fx: &Fixture, peer: SocketAddr, extra: &[&str], what: &str) -> String {
    download_over(fx, peer, extra, what, ["uTP", "TCP"])
}

/// Downloads `fx` from `peer` with `extra` flags: byte-identical, over `kinds[0]` and never
/// `kinds[1]` (the log says so). Returns the log text.
fn download_over(
    fx: &Fixture,
    peer: SocketAddr,
    extra: &[&str],
    what: &str,
    [yes, no]: [&str; 2],
) -> String {
    let name = format!("out-{}", extra.join("").replace('-', ""));
    let out = fx.out_dir(&name);
    let log = fx.dir.path().join(format!("{name}.log"));
    let run = Ttui::run(leech_args(fx, &out, &log, peer, extra), DOWNLOAD_TIMEOUT);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    run.assert_success(what);
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    assert!(
        text.contains(&format!("{peer}: connected over {yes}")),
        "{what}: no {yes} connection to {peer} in the log:\n{}",
        last_lines(&text, 30)
    );
    assert!(
        !text.contains(&format!("{peer}: connected over {no}")),
        "{what}: a {no} connection to {peer}:\n{}",
        last_lines(&text, 30)
    );
    eprintln!("{what}: {:.1}s", run.elapsed.as_secs_f64());
    text
}

#[test]
fn utp_only_libtorrent_seeder_serves_default_and_utp_only_ttui() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("utp-lt.bin", 8_000_003, 31, 18).untracked();
    let mut seeder = utp_only_seeder(&fx);
    download_over_utp(&fx, seeder.addr(), &[], "default options");
    download_over_utp(
        &fx,
        seeder.addr(),
        &["--transport", "utp"],
        "--transport utp",
    );
    let up = seeder.uploaded_fresh();
    assert!(up >= 2 * 8_000_003, "libtorrent uploaded only {up} bytes");
}

/// `--transport tcp` against a uTP-only peer: libtorrent accepts TCP and resets, and ttui
/// says the peer may accept only uTP; stopped, it exits non-zero with nothing downloaded.
#[test]
fn tcp_only_ttui_cannot_use_a_utp_only_seeder_and_says_why() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("utp-tcp.bin", 2_000_003, 32, 18).untracked();
    let seeder = utp_only_seeder(&fx);
    let out = fx.out_dir("out-tcp");
    let log = fx.dir.path().join("tcp.log");
    let peer = seeder.addr();
    let mut ttui = Ttui::spawn(leech_args(&fx, &out, &log, peer, &["--transport", "tcp"]));
    let reason =
        format!("{peer}: failed: closed during handshake over TCP (it may accept only uTP)");
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&reason) {
            break text;
        }
        if start.elapsed() > Duration::from_secs(40) || ttui.has_exited() {
            ttui.kill();
            panic!(
                "no {reason:?} in the log:\n{}\n{}",
                last_lines(&text, 30),
                ttui.report()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        !text.contains("connected over uTP"),
        "{}",
        last_lines(&text, 30)
    );
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe { libc::kill(ttui.pid() as i32, libc::SIGTERM) };
    let run = ttui.wait(Duration::from_secs(20));
    let _ = std::fs::remove_file(&log);
    assert!(!run.status.success(), "ttui exited 0 without the data");
    assert!(
        run.stdout.contains("stopped: 0 B of"),
        "ttui got data over TCP from a uTP-only peer:\n{}",
        last_lines(&run.stdout, 5)
    );
}

/// A TCP-only libtorrent (uTP off; its UDP port open and silent to SYNs): a default ttui
/// goes on over TCP once uTP has had a round trip to answer; `--transport utp` names the cause.
#[test]
fn tcp_only_libtorrent_gets_tcp_from_a_default_ttui_and_a_reason_from_utp_only() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("tcp-lt.bin", 4_000_037, 37, 18).untracked();
    let seeder = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    download_over(
        &fx,
        seeder.addr(),
        &[],
        "default options, TCP-only seeder",
        ["TCP", "uTP"],
    );
    let out = fx.out_dir("out-utp-only");
    let log = fx.dir.path().join("utp-only.log");
    let peer = seeder.addr();
    let mut ttui = Ttui::spawn(leech_args(&fx, &out, &log, peer, &["--transport", "utp"]));
    let reason = format!("{peer}: failed: no answer over uTP (it may speak only TCP)");
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&reason) {
            break text;
        }
        if start.elapsed() > Duration::from_secs(30) || ttui.has_exited() {
            ttui.kill();
            panic!(
                "no {reason:?} in the log:\n{}\n{}",
                last_lines(&text, 30),
                ttui.report()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    ttui.kill();
    let _ = std::fs::remove_file(&log);
    assert!(
        !text.contains("connected over TCP"),
        "{}",
        last_lines(&text, 30)
    );
}

/// `ttui seed` on its own 127.0.0.x and a fixed port; returns it and its address.
fn ttui_seeder(fx: &Fixture, extra: &[&str], log: &Path) -> (Ttui, SocketAddr) {
    let ip = loopback_ip();
    let port = free_port();
    let (ip_s, log_s) = (ip.to_string(), log.display().to_string());
    let mut args = vec!["--no-dht", "--bind", &ip_s, "--log-file", &log_s];
    args.extend_from_slice(extra);
    let seeder = spawn_ttui_seeder(&fx.torrent.path, &fx.data_dir, port, &args);
    (seeder, SocketAddr::new(IpAddr::V4(ip), port))
}

#[test]
fn utp_only_libtorrent_leecher_downloads_from_ttui_seed() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("utp-seed.bin", 6_000_007, 33, 18);
    let log = fx.dir.path().join("seeder.log");
    let (mut seeder, addr) = ttui_seeder(&fx, &[], &log);
    let save = fx.out_dir("lt-save");
    let opts = LtOptions {
        peers: vec![addr],
        transport: Some("utp"),
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&fx.torrent, &save, opts);
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    assert_same_tree(&fx.payload, &save.join(&fx.torrent.name));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    seeder.kill();
    let lt = leecher.addr().ip().to_string();
    assert!(
        text.lines()
            .any(|l| l.contains(&lt) && l.contains("incoming over uTP")),
        "no incoming uTP connection from {lt} in the seeder's log:\n{}",
        last_lines(&text, 30)
    );
}

#[test]
fn ttui_to_ttui_over_utp_with_encryption_required() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("utp-rc4.bin", 6_000_011, 34, 18);
    let log = fx.dir.path().join("seeder.log");
    let both = ["--transport", "utp", "--encryption", "require"];
    let (mut seeder, addr) = ttui_seeder(&fx, &both, &log);
    let text = download_over_utp(&fx, addr, &both, "ttui to ttui, uTP + RC4");
    let seeder_text = std::fs::read_to_string(&log).unwrap_or_default();
    seeder.kill();
    assert!(
        text.contains(&format!("{addr}: connected, payload RC4")),
        "{}",
        last_lines(&text, 30)
    );
    assert!(
        seeder_text.contains("incoming over uTP") && seeder_text.contains("incoming, payload RC4"),
        "{}",
        last_lines(&seeder_text, 30)
    );
}

/// ttui to ttui through a relay that drops 2 % of the datagrams and reorders 3 %.
#[test]
fn ttui_to_ttui_through_a_lossy_reordering_relay() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("utp-lossy.bin", 12_000_017, 35, 18);
    let log = fx.dir.path().join("seeder.log");
    let (mut seeder, addr) = ttui_seeder(&fx, &["--transport", "utp"], &log);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (via, stats, _relay) = rt.block_on(common::relay::start(loopback_ip(), addr, 20, 30));
    let text = download_over_utp(&fx, via, &["--transport", "utp"], "through the lossy relay");
    seeder.kill();
    drop(rt);
    let (dropped, reordered) = stats.counts();
    eprintln!("relay: dropped {dropped}, reordered {reordered}");
    assert!(dropped > 50, "the relay dropped only {dropped} datagrams");
    assert!(
        reordered > 50,
        "the relay reordered only {reordered} datagrams"
    );
    assert!(text.contains("connected over uTP"));
}

/// Hostile datagrams at a downloading ttui: no crash, the download completes, memory stays
/// bounded.
#[test]
fn hostile_datagrams_during_a_download() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let len = 24_000_029;
    let fx = Fixture::single_file("utp-hostile.bin", len, 36, 18).untracked();
    // Throttled so the download lasts while the attacks run.
    let opts = LtOptions {
        seed_mode: true,
        transport: Some("utp"),
        upload_limit: 3_000_000,
        ..LtOptions::default()
    };
    let mut seeder = LibtorrentPeer::start(&fx.torrent, &fx.data_dir, opts);
    let out = fx.out_dir("out-hostile");
    let log = fx.dir.path().join("hostile.log");
    let (ip, port) = (loopback_ip(), free_port());
    let mut args = leech_args(&fx, &out, &log, seeder.addr(), &["--transport", "utp"]);
    // Its own address and a known port, so the attacker can aim at it.
    let at = args.iter().position(|a| a == "--bind").expect("--bind") + 1;
    args[at] = ip.to_string();
    let at = args.iter().position(|a| a == "--port").expect("--port") + 1;
    args[at] = port.to_string();
    let mut ttui = Ttui::spawn(args);
    let target = SocketAddr::new(IpAddr::V4(ip), port);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sent = std::sync::Arc::new(hostile::Sent::default());
    let attack = rt.spawn(hostile::attack(target, fx.torrent.info_hash, sent.clone()));
    let (mut peak_kib, start) = (0u64, Instant::now());
    while !ttui.has_exited() && start.elapsed() < DOWNLOAD_TIMEOUT {
        peak_kib = peak_kib.max(rss_kib(ttui.pid()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    attack.abort();
    drop(rt);
    let report = sent.summary();
    let run = ttui.wait(Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let _ = seeder.report();
    run.assert_success("download under hostile datagrams");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    eprintln!(
        "hostile: {:.1}s, peak RSS {} MiB, sent (wrong ids, impossible acks, zero-window acks, SYNs, garbage) {report:?}",
        run.elapsed.as_secs_f64(),
        peak_kib / 1024
    );
    assert!(peak_kib > 0, "RSS was never read");
    assert!(
        report.iter().all(|&n| n > 0),
        "every attack ran during the download: {report:?}"
    );
    assert!(
        peak_kib < hostile::RSS_LIMIT_KIB,
        "ttui grew to {} MiB under hostile datagrams:\n{}",
        peak_kib / 1024,
        last_lines(&text, 20)
    );
    assert!(
        text.contains("connected over uTP"),
        "{}",
        last_lines(&text, 30)
    );
}

/// Resident memory of a process, from /proc (None once it is gone).
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
