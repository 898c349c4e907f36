//! Resume: a download killed with SIGKILL halfway finishes from where it stopped, and a
//! run over complete data with nobody to talk to ends at once having downloaded nothing.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::time::Duration;

use common::*;

/// libtorrent's upload cap, so the halfway point lasts long enough to be seen in
/// once-a-second progress lines (64 MiB take ~11 s).
const SEED_RATE: u64 = 6 << 20;

#[test]
fn killed_download_resumes_and_complete_data_needs_no_peers() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("resume payload", 11, 18);
    let total = multi_file_len();
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("http.torrent", Some(&tracker.http_url()), &[]);
    let seeder = LibtorrentSeeder::start(
        &t,
        &fx.data_dir,
        LtOptions {
            upload_limit: SEED_RATE,
            ..LtOptions::default()
        },
    );
    tracker.wait_seeders(&t.info_hash, 1);

    let out = fx.out_dir("out");
    let out_arg = out.display().to_string();
    let torrent_arg = t.path.display().to_string();
    let args = [
        torrent_arg.as_str(),
        "--headless",
        "-o",
        &out_arg,
        "--port",
        "0",
    ];

    // 1. Kill it (SIGKILL, by pid) once a progress line shows about half.
    let mut first = Ttui::spawn(args);
    first.wait_for_stdout("ttui to reach ~50%", Duration::from_secs(90), |out| {
        last_percent(out).is_some_and(|p| p >= 45.0)
    });
    assert!(
        !first.has_exited(),
        "ttui finished before it could be killed halfway; the seeder's rate cap did not hold\n{}",
        first.report()
    );
    first.kill();
    let at_kill = last_percent(&first.stdout_now()).unwrap_or(0.0);
    assert!(
        at_kill < 100.0,
        "killed at {at_kill}%: nothing left to resume"
    );
    eprintln!("killed at {at_kill:.1}%");

    // 2. Same command, same output directory: it must finish, identical, fetching only
    // what was missing (verified pieces survive a SIGKILL: they sit in the page cache).
    let second = Ttui::run(args, DOWNLOAD_TIMEOUT);
    second.assert_success("resumed download");
    assert_same_tree(&fx.payload, &out.join(&t.name));
    let fetched = downloaded_bytes(&second.stdout).unwrap_or_else(|| {
        panic!(
            "no `downloaded <size>` in:\n{}",
            last_lines(&second.stdout, 5)
        )
    });
    let missing = (total as f64 * (1.0 - at_kill / 100.0)) as u64;
    let slack = 4 << 20; // partial pieces lost with the process, endgame duplicates
    assert!(
        fetched > 0 && fetched <= missing + slack,
        "resumed run downloaded {fetched} bytes; at most {missing} + {slack} were missing"
    );
    eprintln!(
        "resumed run downloaded {fetched} of {total} bytes in {:.1}s",
        second.elapsed.as_secs_f64()
    );

    // 3. Complete data, no tracker, the only peer a closed port: verify and stop at once.
    drop(seeder);
    drop(tracker);
    let trackerless = fx.torrent_with("trackerless.torrent", None, &[]);
    let closed = closed_addr().to_string();
    let tl_arg = trackerless.path.display().to_string();
    let third = Ttui::run(
        [
            tl_arg.as_str(),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--peer",
            &closed,
        ],
        Duration::from_secs(60),
    );
    third.assert_success("run over complete data");
    assert!(
        third.elapsed < Duration::from_secs(20),
        "took {:?} over complete data",
        third.elapsed
    );
    assert!(
        third.stdout.contains("complete"),
        "no completion line:\n{}",
        third.stdout
    );
    assert!(
        third.stdout.contains("downloaded 0 B"),
        "expected `downloaded 0 B`:\n{}",
        last_lines(&third.stdout, 5)
    );
    assert_same_tree(&fx.payload, &out.join(&t.name));
}
