//! The soak's short form (tests/bench/soak.sh: one daemon under churn, recorded every
//! minute): two minutes with 60 torrents, libtorrent peers coming and going over TCP and uTP,
//! torrents added and removed, labels, limits and the queue changing, the tracker going down
//! and up, the DHT on test nodes, the Transmission RPC, qBittorrent's sync/maindata and `ttui
//! attach` polling every second, streams opened, seeked and dropped. Its aims, as the
//! 60-minute record's but for the RSS (two minutes of a debug build say nothing of a leak):
//! once the churn stops, the daemon's open descriptors and threads come back to where they
//! stood at its middle minute, no error repeats without cause, and every torrent whose add
//! was acknowledged is still there after a restart.
//!
//! The script makes its own namespaces inside this test's (only `lo`), addressed from the
//! documentation ranges, and removes them; every process it starts is stopped by pid.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::prereq;

use std::process::Command;

#[test]
fn a_short_soak_gives_back_its_descriptors_and_threads_and_keeps_every_torrent() {
    require_loopback_only();
    if !(prereq::have_tools(&["opentracker", "tmux", "curl", "timeout"])
        && prereq::have_python_libtorrent())
    {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bench/soak.sh");
    // Bounded: `timeout` kills the script (and with it its pid namespace) by pid.
    let out = Command::new("timeout")
        .args(["--kill-after=10", "420", "bash", script])
        .env("TTUI_BIN", env!("CARGO_BIN_EXE_ttui"))
        .env("SOAK_MINUTES", "2")
        .env("SOAK_TORRENTS", "60")
        .env("SOAK_SETTLE", "30")
        .env("SOAK_CHURN", "10")
        .env("SOAK_DOWNLOADS", "2")
        .env("SOAK_STREAMS", "1")
        .env("SOAK_NAT", "0")
        .env("SOAK_PEERS_LIVE", "3")
        .env("SOAK_TRACKER_UP", "40")
        .env("SOAK_TRACKER_DOWN", "15")
        .env("SOAK_RSS_AIM", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("{stdout}\n--- stderr\n{stderr}");
    assert!(out.status.success(), "{}\n{report}", out.status);
    for aim in [
        "- fds at minute",
        "- threads at minute",
        "- after the restart:",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(aim) && l.ends_with(": pass")),
            "{aim}\n{report}"
        );
    }
    assert!(stdout.contains("soak: every aim met"), "{report}");
}
