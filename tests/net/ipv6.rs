//! Addresses: seeding listens on IPv6 as well as IPv4 (same port), and `--bind` is the source of
//! outgoing connections.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::time::Duration;

use common::*;

#[test]
fn seeds_over_ipv6_and_ipv4_on_one_port() {
    if !prereq::have_ipv6_loopback() {
        return;
    }
    let fx = Fixture::single_file("v6.bin", 9 << 20, 61, 18);
    let port = free_port();
    let torrent = fx.torrent.path.display().to_string();
    // Default bind ("any"): IPv4 and IPv6 on the same port.
    let seeder = spawn_ttui_seeder(&fx.torrent.path, &fx.data_dir, port, &[]);
    for (i, peer) in [format!("[::1]:{port}"), format!("127.0.0.1:{port}")]
        .iter()
        .enumerate()
    {
        let out = fx.dir.path().join(format!("out{i}"));
        let out_arg = out.display().to_string();
        let run = Ttui::run(
            [
                torrent.as_str(),
                "--headless",
                "-o",
                &out_arg,
                "--port",
                "0",
                "--no-trackers",
                "--peer",
                peer,
            ],
            DOWNLOAD_TIMEOUT,
        );
        run.assert_success(peer);
        assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    }
    drop(seeder);
}

/// `--bind` is the source of outgoing connections too, not only the listening address: the
/// seeder's log names the downloader by the address it was told to bind.
#[test]
fn outgoing_connections_come_from_the_bind_address() {
    let fx = Fixture::single_file("bind.bin", 3 << 20, 62, 18);
    let port = free_port();
    let log = fx.dir.path().join("seeder.log");
    let torrent = fx.torrent.path.display().to_string();
    let log_arg = log.display().to_string();
    let seeder = spawn_ttui_seeder(
        &fx.torrent.path,
        &fx.data_dir,
        port,
        &["--bind", "127.0.0.1", "--log-file", &log_arg],
    );
    let out = fx.dir.path().join("out");
    let (out_arg, peer) = (out.display().to_string(), format!("127.0.0.1:{port}"));
    let run = Ttui::run(
        [
            torrent.as_str(),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--no-trackers",
            "--bind",
            "127.0.0.9",
            "--peer",
            &peer,
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("download bound to 127.0.0.9");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    // The seeder logs the downloader's departure; allow it a moment to be written.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("disconnected") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        text.contains("127.0.0.9:"),
        "seeder never saw 127.0.0.9:\n{text}"
    );
    drop(seeder);
}
