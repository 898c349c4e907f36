//! Message stream encryption against real clients that require it, on loopback: Transmission
//! 3.00 with `"encryption": 2` and libtorrent 2.0 with both policies forced. ttui downloads
//! byte-identical with default options and with `--encryption require`, and with
//! `--encryption off` it names the likely cause of the closed handshakes.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;

/// A headless download from `peer` alone (no tracker), `extra` flags added; checked
/// byte-identical, and ttui's own log must say the payload was RC4.
fn download_from(fx: &Fixture, peer: SocketAddr, extra: &[&str], what: &str) {
    let out = fx.out_dir(&format!("out-{}", extra.join("").replace('-', "")));
    let log = out.with_extension("log");
    let (torrent, out_arg, log_arg, peer) = (
        fx.torrent.path.display().to_string(),
        out.display().to_string(),
        log.display().to_string(),
        peer.to_string(),
    );
    let bind = loopback_ip().to_string();
    let mut args = vec![
        torrent.as_str(),
        "--headless",
        "--no-trackers",
        "-o",
        &out_arg,
        "--port",
        "0",
        "--peer",
        &peer,
        // Transmission serves one download per source address: a fresh one each run.
        "--bind",
        &bind,
        "--log-file",
        &log_arg,
    ];
    args.extend_from_slice(extra);
    let run = Ttui::run(args, DOWNLOAD_TIMEOUT);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    run.assert_success(what);
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    assert!(
        log_text.contains(&format!("{peer}: connected, payload RC4")),
        "{what}: no RC4 connection to {peer} in the log:\n{}",
        last_lines(&log_text, 30)
    );
    eprintln!("{what}: {:.1}s", run.elapsed.as_secs_f64());
}

/// With `--encryption off`, ttui cannot get a byte from `peers`; it must say why in its log,
/// and, stopped, exit non-zero with the download incomplete.
fn off_fails(fx: &Fixture, peers: &[SocketAddr]) {
    let out = fx.out_dir("out-off");
    let log = out.with_extension("log");
    let (torrent, out_arg, log_arg) = (
        fx.torrent.path.display().to_string(),
        out.display().to_string(),
        log.display().to_string(),
    );
    let peer_args: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
    let mut args = vec![
        torrent.as_str(),
        "--headless",
        "--no-trackers",
        "--encryption",
        "off",
        "-o",
        &out_arg,
        "--port",
        "0",
        "--log-file",
        &log_arg,
    ];
    for p in &peer_args {
        args.extend_from_slice(&["--peer", p]);
    }
    let mut ttui = Ttui::spawn(args);
    let reason = "failed: closed during handshake (it may require encryption)";
    let start = Instant::now();
    let log_text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if peer_args
            .iter()
            .all(|p| text.contains(&format!("{p}: {reason}")))
        {
            break text;
        }
        if start.elapsed() > Duration::from_secs(40) || ttui.has_exited() {
            ttui.kill();
            panic!(
                "no {reason:?} for every peer in the log:\n{}\n{}",
                last_lines(&text, 30),
                ttui.report()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe { libc::kill(ttui.pid() as i32, libc::SIGTERM) };
    let run = ttui.wait(Duration::from_secs(20));
    let _ = std::fs::remove_file(&log);
    assert!(
        !run.status.success(),
        "ttui exited 0 without the data\n{}",
        last_lines(&log_text, 20)
    );
    assert!(
        run.stdout.contains("stopped: 0 B of"),
        "ttui got data without encryption:\n{}",
        last_lines(&run.stdout, 5)
    );
}

#[test]
fn transmission_requiring_encryption() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-tr.bin", 6_000_011, 21, 16);
    let seeder = TransmissionSeeder::start_with(&fx.torrent, &fx.data_dir, 2);
    download_from(&fx, seeder.addr(), &[], "Transmission, default options");
    download_from(
        &fx,
        seeder.addr(),
        &["--encryption", "require"],
        "Transmission, --encryption require",
    );
    off_fails(&fx, &[seeder.addr()]);
}

#[test]
fn libtorrent_requiring_encryption() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-lt.bin", 6_000_011, 22, 16);
    let opts = LtOptions {
        seed_mode: true,
        encryption: Some("forced"),
        ..LtOptions::default()
    };
    let seeder = LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts);
    download_from(&fx, seeder.addr(), &[], "libtorrent, default options");
    download_from(
        &fx,
        seeder.addr(),
        &["--encryption", "require"],
        "libtorrent, --encryption require",
    );
    off_fails(&fx, &[seeder.addr()]);
}

#[test]
fn plain_only_libtorrent_still_serves_a_default_ttui() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-plain.bin", 3_000_017, 23, 16);
    let opts = LtOptions {
        seed_mode: true,
        encryption: Some("disabled"),
        ..LtOptions::default()
    };
    let seeder = LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts);
    let out = fx.out_dir("out");
    let (torrent, out_arg, peer) = (
        fx.torrent.path.display().to_string(),
        out.display().to_string(),
        seeder.addr().to_string(),
    );
    let run = Ttui::run(
        [
            torrent.as_str(),
            "--headless",
            "--no-trackers",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--peer",
            &peer,
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("plain-only libtorrent");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
}

#[test]
fn libtorrent_requiring_encryption_downloads_from_ttui_seed() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-seed.bin", 5_000_011, 24, 16);
    let port = free_port();
    let log = fx.out_dir("logs").join("seeder.log");
    let log_arg = log.display().to_string();
    let mut seeder = spawn_ttui_seeder(
        &fx.torrent.path,
        &fx.data_dir,
        port,
        &["--encryption", "require", "--log-file", &log_arg],
    );
    let save = fx.out_dir("lt-save");
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        encryption: Some("forced"),
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&fx.torrent, &save, opts);
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    assert_same_tree(&fx.payload, &save.join(&fx.torrent.name));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    seeder.kill();
    assert!(
        text.contains("incoming, payload RC4"),
        "no incoming RC4 connection in the seeder's log:\n{}",
        last_lines(&text, 30)
    );
}
