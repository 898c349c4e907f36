//! Checks share the session's hashing threads (issue 19, "hashing threads per torrent ... each
//! needs a session-wide budget"): three torrents whose data is already on disk, added at once
//! to a daemon, take the hashing threads in turn instead of side by side, and one that waited
//! says so in its log line. Every check still finds all of its pieces.
//!
//! Run through tests/run.sh (`bash tests/run.sh --test check_queue`): the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;

use std::time::Duration;

use common::*;
use kit::*;
use payload::*;

#[test]
fn three_checks_at_once_take_the_hashing_threads_in_turn() {
    require_loopback_only();
    let env = Env::new("ttui-checkq-");
    let torrents = env.root.path().join("torrents");
    // 64 MiB each: long enough to hash (tens of ms) that the later adds ask for the threads
    // while the first check still holds them.
    let payloads: Vec<Payload> = (0..3)
        .map(|i| {
            Payload::make(
                &env.out,
                &torrents,
                &format!("c{i}.bin"),
                &[("", 64 << 20)],
                30 + i,
            )
        })
        .collect();
    let mut daemon = Daemon::start(&env, "1", &[]);
    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    let mut add: Vec<&str> = vec!["add"];
    add.extend(paths.iter().map(String::as_str));
    let added = env.verb(&add);
    assert_eq!(added.code, 0, "{added:?}");
    let rows = env.wait_list(
        "all three checked and seeding",
        Duration::from_secs(60),
        &mut daemon,
        |r| all_seeding(r, 3),
    );
    assert!(all_seeding(&rows, 3), "{rows:#?}");

    let log = daemon.log_text();
    let checked = verified_counts(&log, "checked existing data");
    assert_eq!(
        checked.len(),
        3,
        "one check per torrent:\n{}",
        daemon.report()
    );
    for (n, of) in &checked {
        assert_eq!(n, of, "every piece found: {checked:?}");
    }
    // The first to ask hashes at once; one that asks while it runs waits for it, and its line
    // says so. (How many wait depends on how far apart the adds land: each is saved with an
    // fsync first. Without the budget none ever does.)
    let waited = lines_with(&log, "for another torrent's check").len();
    assert!(
        (1..=2).contains(&waited),
        "{waited} of 3 checks waited for another's\n{}",
        daemon.report()
    );
    daemon.term();
}
