//! Clock steps: NTP steps the wall clock by hours, forward or back, while the session runs.
//! The daemon runs under libfaketime (Debian's faketime, by LD_PRELOAD), whose offset it reads
//! each second from a file the test rewrites; the monotonic clock is left alone, as a real
//! step leaves it. Through a step of 5 hours forward and then 10 back, a seed announcing to a
//! counting tracker and a download from libtorrent stay sane: the seeding time shown does not
//! jump with the clock, no announce goes out early (no burst), the ETA stays within reason,
//! the download completes, nothing panics, and the resume data brings both back after a
//! restart on the true clock with their counts intact.
//!
//! Needs Debian's faketime and python3-libtorrent; tests/run.sh provides both, in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::kit::*;
use crate::payload::*;
use crate::prereq;
use crate::recording_tracker::RecordingTracker;

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
const WAIT: Duration = Duration::from_secs(60);
/// libfaketime reads its offset file once a second (FAKETIME_CACHE_DURATION); a step is in
/// force after this.
const STEP_TAKES: Duration = Duration::from_secs(3);

fn row<'a>(rows: &'a [Value], hash: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["info_hash"] == hash)
        .unwrap_or_else(|| panic!("{hash} not listed: {rows:?}"))
}

/// Steps the daemon's wall clock to `offset` from the true one ("+5h", "-5h").
fn step(file: &Path, offset: &str) {
    let tmp = file.with_extension("tmp");
    fs::write(&tmp, offset).unwrap();
    fs::rename(&tmp, file).unwrap();
    sleep(STEP_TAKES);
}

/// For `watch`: the seed's shown seeding time stays within `around` ± a minute, the tracker
/// hears no new announce, and a downloading torrent's ETA stays under a day.
fn sane_for(
    env: &Env,
    daemon: &mut Daemon,
    tracker: &RecordingTracker,
    (seed, download): (&str, &str),
    what: &str,
) {
    let announces = tracker.count();
    let start = Instant::now();
    let mut last_secs = None;
    while start.elapsed() < Duration::from_secs(8) {
        daemon.assert_alive(what);
        let rows = env.list();
        let s = row(&rows, seed);
        let secs = s["seeding_secs"].as_u64().unwrap_or_default();
        assert!(
            secs < 600,
            "{what}: seeding time jumped with the clock: {s}"
        );
        if let Some(before) = last_secs {
            assert!(secs + 5 >= before, "{what}: seeding time went back: {s}");
        }
        last_secs = Some(secs);
        let d = row(&rows, download);
        if let Some(eta) = d["eta_secs"].as_u64() {
            assert!(eta < 86_400, "{what}: ETA {eta} s: {d}");
        }
        sleep(Duration::from_millis(500));
    }
    assert!(
        tracker.count() <= announces + 1,
        "{what}: {} announces in 8 s",
        tracker.count() - announces
    );
}

#[test]
fn wall_clock_steps_of_hours_leave_times_announces_and_resume_data_sane() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    if !Path::new(LIBFAKETIME).exists() {
        prereq::skip("Debian's faketime (libfaketime) is missing");
        return;
    }
    let env = Env::new("ttui-clock-");
    let tracker = RecordingTracker::start(std::net::Ipv4Addr::LOCALHOST);
    let url = tracker.url();
    let made = env.root.path().join("t");
    let seeds = env.root.path().join("seeds");
    let seed = Payload::make(&env.out, &made, "seeded.bin", &[("", 700_000)], 71);
    let seed_torrent = seed
        .torrent
        .with_trackers(&made.join("tracked.torrent"), Some(&url), &[]);
    let down = Payload::make(&seeds, &made, "fetched.bin", &[("", 12_000_000)], 72);
    let lt = LibtorrentSeeder::start(
        &down.torrent,
        &seeds,
        LtOptions {
            upload_limit: 600_000,
            ..LtOptions::default()
        },
    );
    let offset = env.root.path().join("faketime");
    fs::write(&offset, "+0").unwrap();
    let vars = [
        ("LD_PRELOAD", LIBFAKETIME),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_CACHE_DURATION", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    let peers = ["--peer".to_string(), lt.addr().to_string()];
    let mut daemon = Daemon::start_with(&env, "1", &peers, &vars);
    assert_eq!(
        env.verb(&["add", &seed_torrent.path.display().to_string()])
            .code,
        0
    );
    assert_eq!(env.verb(&["add", &down.path()]).code, 0);
    let (hs, hd) = (seed.hash(), down.hash());
    env.wait_list(
        "the seed seeding, the download under way",
        WAIT,
        &mut daemon,
        |rows| {
            rows.iter()
                .any(|r| r["info_hash"] == hs && r["state"] == "seeding")
                && rows
                    .iter()
                    .any(|r| r["info_hash"] == hd && r["verified_bytes"].as_u64() > Some(0))
        },
    );
    // Its `started` announce.
    let start = Instant::now();
    while tracker.count() == 0 {
        assert!(start.elapsed() < WAIT, "no announce");
        sleep(Duration::from_millis(100));
    }
    let pair = (hs.as_str(), hd.as_str());
    sane_for(&env, &mut daemon, &tracker, pair, "before any step");

    step(&offset, "+5h");
    sane_for(&env, &mut daemon, &tracker, pair, "5 hours forward");
    step(&offset, "-5h");
    sane_for(&env, &mut daemon, &tracker, pair, "10 hours back");

    let rows = env.wait_list("the download complete", WAIT, &mut daemon, |rows| {
        row(rows, &hd)["state"] == "seeding"
    });
    assert_same_tree(&down.root, &env.out.join("fetched.bin"));
    let seeded = row(&rows, &hs)["seeding_secs"].as_u64().unwrap();
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");

    // Back on the true clock: the resume data holds both, with the seeding time counted.
    let _ = daemon.term();
    let mut daemon = Daemon::start(&env, "2", &[]);
    let rows = env.wait_list("both back seeding", WAIT, &mut daemon, |rows| {
        rows.len() == 2 && all_seeding(rows, 2)
    });
    let after = row(&rows, &hs)["seeding_secs"].as_u64().unwrap();
    assert!(
        after + 5 >= seeded && after < 600,
        "seeding time {seeded} s before the restart, {after} s after"
    );
    drop(daemon);
    drop(lt);
}
