//! Message stream encryption against real clients that require it, on loopback: Transmission
//! 3.00 with `"encryption": 2` and libtorrent 2.0 with both policies forced. ttui downloads
//! byte-identical with default options and with `--encryption require`, and with
//! `--encryption off` it names the likely cause of the closed handshakes, in its error and on
//! its progress line.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// A headless download from `peer` alone (no tracker), `extra` flags added; checked
/// byte-identical, and ttui's own log must say the payload was RC4. `what` names the run
/// (and its output directory, so each run starts empty).
fn download_from(fx: &Fixture, peer: SocketAddr, extra: &[&str], what: &str) {
    let dir: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let out = fx.out_dir(&format!("out-{dir}"));
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
        "--no-dht",
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

/// Long enough for ttui to give up by itself: four dials 5, 10 and 20 s apart, then the
/// headless run's 10 s without any source left.
const GIVE_UP_WITHIN: Duration = Duration::from_secs(120);

/// A ttui with `--encryption off` dialing `peers`, which all require encryption. It gives
/// up by itself only after ~50 s of backoff, so it runs beside the other checks of a test.
struct OffRun {
    ttui: Ttui,
    log: PathBuf,
    peers: Vec<String>,
}

impl OffRun {
    fn spawn(fx: &Fixture, peers: &[SocketAddr]) -> OffRun {
        let out = fx.out_dir("out-off");
        let log = out.with_extension("log");
        let (torrent, out_arg, log_arg) = (
            fx.torrent.path.display().to_string(),
            out.display().to_string(),
            log.display().to_string(),
        );
        let peers: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        let mut args = vec![
            torrent.as_str(),
            "--headless",
            "--no-trackers",
            "--no-dht",
            "--encryption",
            "off",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--log-file",
            &log_arg,
        ];
        for p in &peers {
            args.extend_from_slice(&["--peer", p]);
        }
        let ttui = Ttui::spawn(args);
        OffRun { ttui, log, peers }
    }

    /// ttui cannot get a byte from the peers; it must say why in its log for each, and
    /// once no peer is left to try, end by itself with a non-zero exit naming the reason
    /// and the download incomplete.
    fn check(self) {
        let reason = "closed during handshake (it may require encryption)";
        let run = self.ttui.wait(GIVE_UP_WITHIN);
        let log_text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        for p in &self.peers {
            assert!(
                log_text.contains(&format!("{p}: failed: {reason}")),
                "no {reason:?} for {p} in the log:\n{}",
                last_lines(&log_text, 30)
            );
        }
        assert_eq!(
            run.status.code(),
            Some(1),
            "ttui did not fail\n{}\n{}",
            last_lines(&run.stdout, 5),
            last_lines(&run.stderr, 5)
        );
        assert!(
            run.stderr.contains("no peer left to try") && run.stderr.contains(reason),
            "the error does not name the reason:\n{}",
            last_lines(&run.stderr, 5)
        );
        // The progress line says why while no byte arrives (the explainer's top finding).
        assert!(
            run.stdout.contains("why: ")
                && run
                    .stdout
                    .contains("closed the plain handshake: they may require encryption")
                && run.stdout.contains("--encryption prefer"),
            "the progress line never said why:\n{}",
            last_lines(&run.stdout, 5)
        );
        assert!(
            run.stdout.contains("stopped: 0 B of"),
            "ttui got data without encryption:\n{}",
            last_lines(&run.stdout, 5)
        );
        eprintln!(
            "--encryption off gave up after {:.1}s",
            run.elapsed.as_secs_f64()
        );
    }
}

/// Transmission (`"encryption": 2`) and a forced libtorrent seed one payload. ttui downloads
/// it from each with default options and with `--encryption require`, while a ttui with
/// `--encryption off` fails against both (its give-up time covers the four downloads).
#[test]
fn transmission_and_libtorrent_requiring_encryption() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-req.bin", 6_000_011, 21, 16).untracked();
    let transmission = TransmissionSeeder::start_with(&fx.torrent, &fx.data_dir, 2);
    let opts = LtOptions {
        seed_mode: true,
        encryption: Some("forced"),
        ..LtOptions::default()
    };
    let libtorrent = LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts);
    let off = OffRun::spawn(&fx, &[transmission.addr(), libtorrent.addr()]);
    let require = ["--encryption", "require"];
    for (name, addr) in [
        ("Transmission", transmission.addr()),
        ("libtorrent", libtorrent.addr()),
    ] {
        download_from(&fx, addr, &[], &format!("{name}, default options"));
        download_from(
            &fx,
            addr,
            &require,
            &format!("{name}, --encryption require"),
        );
    }
    off.check();
}

#[test]
fn plain_only_libtorrent_still_serves_a_default_ttui() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-plain.bin", 3_000_017, 23, 16).untracked();
    let opts = LtOptions {
        seed_mode: true,
        encryption: Some("disabled"),
        ..LtOptions::default()
    };
    let seeder = LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts);
    let out = fx.out_dir("out");
    let log = out.with_extension("log");
    let (torrent, out_arg, peer, log_arg) = (
        fx.torrent.path.display().to_string(),
        out.display().to_string(),
        seeder.addr().to_string(),
        log.display().to_string(),
    );
    let run = Ttui::run(
        [
            torrent.as_str(),
            "--headless",
            "--no-trackers",
            "--no-dht",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--peer",
            &peer,
            "--log-file",
            &log_arg,
        ],
        DOWNLOAD_TIMEOUT,
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    run.assert_success("plain-only libtorrent");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    // The row and the event log say why this connection is plain.
    assert!(
        text.contains(&format!("{peer}: encrypted handshake refused ("))
            && text.contains("); plain accepted"),
        "no note of the refused encrypted handshake in the log:\n{}",
        last_lines(&text, 30)
    );
    assert!(
        text.contains(&format!("{peer}: connected, payload plain")),
        "{}",
        last_lines(&text, 30)
    );
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
        &[
            "--encryption",
            "require",
            "--no-dht",
            "--log-file",
            &log_arg,
        ],
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

/// aria2 with `--bt-require-crypto=true` and a forced libtorrent both download from a
/// default (`prefer`) `ttui seed`: incoming MSE, told apart from plain by its first bytes.
#[test]
fn leechers_requiring_encryption_download_from_a_default_ttui_seed() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-a2.bin", 7_000_003, 25, 16);
    // aria2 has no way to be given a peer: the seeder is found through a tracker.
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("enc-a2.torrent", Some(&tracker.http_url()), &[]);
    let port = free_port();
    let log = fx.out_dir("logs").join("seeder.log");
    let (t_arg, data_arg, port_arg, log_arg) = (
        t.path.display().to_string(),
        fx.data_dir.display().to_string(),
        port.to_string(),
        log.display().to_string(),
    );
    let mut seeder = Ttui::spawn([
        "seed",
        t_arg.as_str(),
        "-o",
        &data_arg,
        "--headless",
        "--no-dht",
        "--bind",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--log-file",
        &log_arg,
    ]);
    seeder.wait_for_stdout("ttui to seed", WAIT, |s| s.contains("seeding"));
    tracker.wait_seeders(&t.info_hash, 1);

    let a2_out = fx.out_dir("aria2-out");
    aria2_download_with(
        &t,
        &a2_out,
        &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"],
        DOWNLOAD_TIMEOUT,
    );
    assert_same_tree(&fx.payload, &a2_out.join(&t.name));

    let lt_save = fx.out_dir("lt-save");
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        encryption: Some("forced"),
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&fx.torrent, &lt_save, opts);
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    assert_same_tree(&fx.payload, &lt_save.join(&fx.torrent.name));

    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let alive = !seeder.has_exited();
    seeder.kill();
    assert!(alive, "ttui seed exited while serving\n{}", seeder.report());
    let rc4_in = text.matches("incoming, payload RC4").count();
    assert!(
        rc4_in >= 2,
        "{rc4_in} incoming RC4 connections in the seeder's log, want one per leecher:\n{}",
        last_lines(&text, 30)
    );
    assert!(
        !text.contains("incoming, payload plain"),
        "a leecher that requires encryption got plain:\n{}",
        last_lines(&text, 30)
    );
}

/// ttui to ttui, `--encryption require` on both sides: RC4 both ways.
#[test]
fn ttui_to_ttui_both_requiring_encryption() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-tt.bin", 6_000_037, 26, 16);
    let port = free_port();
    let log = fx.out_dir("logs").join("seeder.log");
    let log_arg = log.display().to_string();
    let mut seeder = spawn_ttui_seeder(
        &fx.torrent.path,
        &fx.data_dir,
        port,
        &[
            "--encryption",
            "require",
            "--no-dht",
            "--log-file",
            &log_arg,
        ],
    );
    download_from(
        &fx,
        SocketAddr::from(([127, 0, 0, 1], port)),
        &["--encryption", "require"],
        "ttui seed, both --encryption require",
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    seeder.kill();
    assert!(
        text.contains("incoming, payload RC4") && !text.contains("incoming, payload plain"),
        "the seeder did not take RC4 only:\n{}",
        last_lines(&text, 30)
    );
}

/// A magnet link's metadata comes over MSE too: from a libtorrent seeder that requires
/// encryption, with default options and with `--encryption require` (a plain dial, as the
/// fetcher used to make, is closed by it).
#[test]
fn magnet_metadata_from_a_seeder_requiring_encryption() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-magnet.bin", 2_000_003, 27, 16).untracked();
    let opts = LtOptions {
        seed_mode: true,
        encryption: Some("forced"),
        ..LtOptions::default()
    };
    let seeder = LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts);
    let link = format!(
        "magnet:?xt=urn:btih:{}&dn=x&x.pe={}",
        fx.torrent.hash_hex(),
        seeder.addr()
    );
    for extra in [&[][..], &["--encryption", "require"][..]] {
        let out = fx.out_dir(&format!("out-magnet{}", extra.len()));
        let out_arg = out.display().to_string();
        let mut args = vec![
            link.as_str(),
            "--headless",
            "--no-trackers",
            "--no-dht",
            "--port",
            "0",
            "-o",
            &out_arg,
        ];
        args.extend_from_slice(extra);
        let run = Ttui::run(args, DOWNLOAD_TIMEOUT);
        run.assert_success(&format!("magnet with {extra:?}"));
        assert!(
            run.stderr.contains("magnet: metadata ("),
            "no metadata line:\n{}",
            last_lines(&run.stderr, 10)
        );
        assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    }
}

/// `ttui probe` (default `prefer`) tries RC4 only and plain only and says which ways each
/// peer answered; `ttui handshake --encryption require` names RC4.
#[test]
fn probe_says_which_ways_each_peer_answers() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("enc-probe.bin", 1_000_003, 28, 16).untracked();
    let start = |encryption| {
        let opts = LtOptions {
            seed_mode: true,
            encryption,
            ..LtOptions::default()
        };
        LibtorrentSeeder::start(&fx.torrent, &fx.data_dir, opts)
    };
    let (forced, disabled, either) = (start(Some("forced")), start(Some("disabled")), start(None));
    let torrent_arg = fx.torrent.path.display().to_string();
    let peers: Vec<String> = [&forced, &disabled, &either]
        .iter()
        .map(|s| s.addr().to_string())
        .collect();
    let run = Ttui::run(
        [
            "probe",
            torrent_arg.as_str(),
            "--no-trackers",
            "--peer",
            &peers[0],
            "--peer",
            &peers[1],
            "--peer",
            &peers[2],
        ],
        Duration::from_secs(90),
    );
    run.assert_success("ttui probe");
    for (addr, ways) in peers.iter().zip(["RC4 only", "plain only", "both"]) {
        let row = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(addr.as_str()))
            .unwrap_or_else(|| panic!("no row for {addr} in:\n{}", run.stdout));
        assert!(
            row.contains("libtorrent") && row.trim_end().ends_with(ways),
            "row for {addr} should say {ways:?}: {row}"
        );
    }
    let run = Ttui::run(
        [
            "handshake",
            torrent_arg.as_str(),
            &peers[0],
            "--encryption",
            "require",
        ],
        Duration::from_secs(30),
    );
    run.assert_success("ttui handshake --encryption require");
    assert!(
        run.stdout.lines().any(|l| l.trim() == "Encryption: RC4"),
        "{}",
        run.stdout
    );
    let run = Ttui::run(
        [
            "handshake",
            torrent_arg.as_str(),
            &peers[0],
            "--encryption",
            "off",
        ],
        Duration::from_secs(30),
    );
    assert!(
        !run.status.success()
            && run
                .stderr
                .contains("closed during handshake (it may require encryption)"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}
