//! Issue 19, 3 and 5: a daemon killed with SIGKILL mid-download, and the stale lock and
//! socket it leaves behind.

use std::thread::sleep;
use std::time::{Duration, Instant};

use super::DONE_WAIT;
use crate::common::*;
use crate::kit::*;
use crate::payload::*;

/// Issue 19, 3 and 5: kill -9 in the middle of a download; the lock and socket it leaves do
/// not stop a new daemon, which resumes from the saved resume data: the pieces saved before
/// the kill (every ~10 s) are not fetched again, and the download ends byte-identical.
#[test]
fn a_killed_daemon_resumes_its_download() {
    require_loopback_only();
    let env = Env::new("ttui-session-crash-");
    let fixtures = env.root.path().join("fixtures");
    let total: u64 = 4 << 20;
    let p = Payload::make(
        &fixtures.join("data"),
        &fixtures,
        "slow.bin",
        &[("", total)],
        9,
    );
    let t = p
        .torrent
        .with_trackers(&fixtures.join("direct.torrent"), None, &[]);
    // About 30 s for the whole payload, so the kill lands well after the first saves.
    let seeder = LibtorrentSeeder::start(
        &t,
        &fixtures.join("data"),
        LtOptions {
            seed_mode: true,
            upload_limit: total / 30,
            ..LtOptions::default()
        },
    );
    let peer = vec!["--peer".to_string(), seeder.addr().to_string()];
    let mut daemon = Daemon::start(&env, "1", &peer);
    let added = env.verb(&["add", &t.path.display().to_string()]);
    assert_eq!(added.code, 0, "{added:?}");

    // `add` answers once `list` shows the torrent.
    assert_eq!(env.list().len(), 1);
    // (when, verified bytes) until ~22 s into the download, then kill -9.
    let mut seen: Vec<(Instant, u64)> = Vec::new();
    let mut first_byte = None;
    let killed_at = loop {
        let rows = env.list();
        let v = rows[0]["verified_bytes"].as_u64().unwrap();
        let now = Instant::now();
        assert!(
            v < total,
            "finished before the kill; the seeder is not throttled"
        );
        if v > 0 && first_byte.is_none() {
            first_byte = Some(now);
        }
        seen.push((now, v));
        if first_byte.is_some_and(|t| now - t > Duration::from_secs(22)) {
            daemon.kill9();
            break now;
        }
        daemon.assert_alive("the download to get going");
        assert!(seen.len() < 400, "no progress\n{}", daemon.report());
        sleep(Duration::from_millis(400));
    };
    // Verified 11.5 s or more before the kill: saved (a save every 10 s while pieces come).
    let old = seen
        .iter()
        .rev()
        .find(|(at, _)| killed_at - *at >= Duration::from_millis(11_500))
        .map(|s| s.1)
        .unwrap();
    let saved = read_resume(&env.resume_path(&p.hash()));
    assert_eq!(saved.pieces, p.pieces);
    assert!(old > 0, "nothing verified 11.5 s before the kill: {seen:?}");
    assert!(
        saved.have * PLEN >= old,
        "the resume file has {} pieces, but {old} bytes were verified 11.5 s before the kill",
        saved.have
    );
    assert!(saved.have < p.pieces);

    // What the killed session left: its lock file and its socket; no session answers.
    assert!(env.state.join("lock").exists());
    assert!(
        env.state.join("control.sock").exists(),
        "no stale socket to take over"
    );
    assert_eq!(env.verb(&["list"]).code, 3);

    let mut daemon = Daemon::start(&env, "2", &peer);
    let rows = env.wait_list("the download to finish", DONE_WAIT * 2, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    assert_same_tree(&p.root, &env.out.join(&p.torrent.name));
    let log = daemon.log_text();
    let resumed = verified_counts(&log, "from the saved resume data (files unchanged)");
    assert_eq!(resumed, vec![(saved.have, p.pieces)], "{log}");
    // Only the missing pieces were fetched (and at most a piece or two in flight).
    let this_run = rows[0]["downloaded"].as_u64().unwrap() - saved.downloaded;
    let missing = total - saved.have * PLEN;
    assert!(
        this_run <= missing + 2 * PLEN,
        "fetched {this_run} bytes after the restart; {missing} were missing"
    );
    assert!(daemon.term().success());
}
