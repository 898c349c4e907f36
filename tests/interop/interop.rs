//! ttui against real BitTorrent clients on loopback: Transmission 3.00, libtorrent 2.0 and
//! aria2 1.36 seed a ≥64 MiB multi-file torrent announced through opentracker, and ttui
//! must download it byte-identical; `ttui handshake` and `ttui probe` must name them.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// A complete headless download of `torrent` into `out`, checked against `payload`.
fn download_and_compare(torrent: &Torrent, out: &Path, payload: &Path, what: &str) -> Finished {
    let out_arg = out.display().to_string();
    let torrent_arg = torrent.path.display().to_string();
    let run = Ttui::run(
        [
            torrent_arg.as_str(),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            "0",
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success(what);
    assert!(
        run.stdout.contains("complete"),
        "{what}: exit 0 but no completion line\n{}",
        last_lines(&run.stdout, 20)
    );
    assert_same_tree(payload, &out.join(&torrent.name));
    eprintln!(
        "{what}: {:.1}s — {}",
        run.elapsed.as_secs_f64(),
        last_lines(&run.stdout, 1)
    );
    run
}

/// The fixture, a tracker that knows its hash, and the torrent announcing over HTTP.
fn http_swarm(seed: u64, piece_log2: u32) -> (Fixture, Opentracker, Torrent) {
    let fx = Fixture::multi_file("interop payload", seed, piece_log2);
    assert!(multi_file_len() >= 64 << 20);
    let tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("http.torrent", Some(&tracker.http_url()), &[]);
    (fx, tracker, t)
}

#[test]
fn downloads_from_transmission_via_http_tracker() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let (fx, mut tracker, t) = http_swarm(1, 18);
    // Transmission never dials loopback peers: ttui must learn its address from the
    // tracker and dial it.
    let seeder = TransmissionSeeder::start(&t, &fx.data_dir);
    tracker.wait_seeders(&t.info_hash, 1);
    download_and_compare(&t, &fx.out_dir("out"), &fx.payload, "from Transmission");
    // Stopping it leaves nothing in /tmp: not even the RPC lock it keeps at a fixed path
    // there and removes only on a clean shutdown (the kit kills it, then removes the lock).
    let held = held_session_files(seeder.pid());
    assert!(
        !held.is_empty(),
        "Transmission holds no /tmp/tr_session_id_* file"
    );
    drop(seeder);
    for f in held {
        assert!(!f.exists(), "{} left behind", f.display());
    }
}

#[test]
fn downloads_from_libtorrent_via_http_tracker() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let (fx, mut tracker, t) = http_swarm(2, 18);
    let _seeder = LibtorrentSeeder::start(&t, &fx.data_dir, LtOptions::default());
    tracker.wait_seeders(&t.info_hash, 1);
    download_and_compare(&t, &fx.out_dir("out"), &fx.payload, "from libtorrent");
}

#[test]
fn downloads_from_aria2_via_http_tracker() {
    require_loopback_only();
    let _swarm = swarm_lock();
    // 512 KiB pieces here, for a second piece geometry.
    let (fx, mut tracker, t) = http_swarm(3, 19);
    let _seeder = Aria2Seeder::start(&t, &fx.data_dir);
    tracker.wait_seeders(&t.info_hash, 1);
    download_and_compare(&t, &fx.out_dir("out"), &fx.payload, "from aria2");
}

#[test]
fn downloads_from_libtorrent_via_udp_tracker() {
    require_loopback_only();
    let _swarm = swarm_lock();
    // 128 KiB pieces: a third geometry.
    let fx = Fixture::multi_file("udp payload", 4, 17);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    // Only the udp:// tracker, so ttui cannot fall back to HTTP.
    let udp_url = tracker.udp_url();
    let t = fx.torrent_with("udp.torrent", None, &[vec![udp_url]]);
    let _seeder = LibtorrentSeeder::start(&t, &fx.data_dir, LtOptions::default());
    tracker.wait_seeders(&t.info_hash, 1);
    download_and_compare(&t, &fx.out_dir("out"), &fx.payload, "via the UDP tracker");
}

/// libtorrent's and aria2's upload caps in the three-seeder test: together they would need
/// ~20 s for the payload, so Transmission (silent for its first ~10 s) must contribute too.
const CAPPED_RATE: u64 = 3 << 19;

#[test]
fn downloads_from_transmission_libtorrent_and_aria2_together() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let (fx, mut tracker, t) = http_swarm(5, 18);
    let mut tr = TransmissionSeeder::start(&t, &fx.data_dir);
    let lt = LibtorrentSeeder::start(
        &t,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            upload_limit: CAPPED_RATE,
            ..LtOptions::default()
        },
    );
    let a2 = Aria2Seeder::start_limited(&t, &fx.data_dir, CAPPED_RATE);
    tracker.wait_seeders(&t.info_hash, 3);
    let run = download_and_compare(&t, &fx.out_dir("out"), &fx.payload, "from all three");
    // Every seeder served part of it. The counters trail by up to a second (libtorrent's
    // stats line, Transmission's RPC), so look a few times.
    let mut ups = (0, 0, 0);
    for _ in 0..25 {
        ups = (tr.uploaded(&t), lt.uploaded(), a2.uploaded());
        if ups.0 > 0 && ups.1 > 0 && ups.2 > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "uploaded: Transmission {} B, libtorrent {} B, aria2 {} B",
        ups.0, ups.1, ups.2
    );
    assert!(
        ups.0 > 0 && ups.1 > 0 && ups.2 > 0,
        "not every seeder contributed (Transmission, libtorrent, aria2 uploaded {ups:?})\n\
         ttui stdout:\n{}\n{}\n{}",
        last_lines(&run.stdout, 30),
        run.log_tail,
        tr.report()
    );
}

#[test]
fn handshake_names_transmission() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("handshake.bin", 3_000_017, 6, 16);
    let seeder = TransmissionSeeder::start(&fx.torrent, &fx.data_dir);
    let torrent_arg = fx.torrent.path.display().to_string();
    let addr = seeder.addr().to_string();
    let run = Ttui::run(
        ["handshake", torrent_arg.as_str(), &addr],
        Duration::from_secs(30),
    );
    run.assert_success("ttui handshake");
    // "-TR3000-" in hex.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("Peer ID: 2d5452") && l.len() == "Peer ID: ".len() + 40),
        "no -TR… peer id in:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim() == "Client: Transmission 3.00"),
        "Transmission not named in:\n{}",
        run.stdout
    );
}

#[test]
fn probe_names_live_seeders_and_reports_a_closed_port() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("probe.bin", 2_000_003, 7, 16);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("probe.torrent", Some(&tracker.http_url()), &[]);
    let tr = TransmissionSeeder::start(&t, &fx.data_dir);
    let lt = LibtorrentSeeder::start(&t, &fx.data_dir, LtOptions::default());
    let a2 = Aria2Seeder::start(&t, &fx.data_dir);
    tracker.wait_seeders(&t.info_hash, 3);
    let closed = closed_addr();
    let torrent_arg = t.path.display().to_string();
    let closed_arg = closed.to_string();
    let run = Ttui::run(
        ["probe", torrent_arg.as_str(), "--peer", &closed_arg],
        Duration::from_secs(60),
    );
    run.assert_success("ttui probe");
    let row = |addr: &str| -> String {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(addr))
            .unwrap_or_else(|| panic!("no row for {addr} in:\n{}", run.stdout))
            .to_string()
    };
    let expect = [
        (tr.addr().to_string(), "Transmission 3.00"),
        (lt.addr().to_string(), "libtorrent"),
        (a2.addr().to_string(), "aria2"),
        (closed_arg.clone(), "refused"),
    ];
    for (addr, want) in &expect {
        let r = row(addr);
        assert!(
            r.to_lowercase().contains(&want.to_lowercase()),
            "row for {addr} lacks {want:?}: {r}"
        );
    }
    // Each row also reports how long the attempt took.
    assert!(
        row(&closed_arg).contains("ms"),
        "no time in the row: {}",
        row(&closed_arg)
    );
}
