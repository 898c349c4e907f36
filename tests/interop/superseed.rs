//! BEP 16 super-seeding against real libtorrent: `ttui daemon` seeds an 8 MiB torrent (64
//! pieces of 128 KiB) to three python3-libtorrent 2.0.8 leechers that find each other through
//! a real opentracker. With super-seeding on, ttui hides its pieces and offers each leecher a
//! few at a time, so the leechers trade the rest and ttui uploads about one copy; with it off
//! (measured first, in the same test) the leechers fetch most pieces from ttui. The flag
//! survives a restart, and the verb on an unknown id fails in one line.
//!
//! Run through tests/run.sh (`bash tests/run.sh --test superseed`): the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use kit::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);
const LEN: u64 = 8 << 20;
/// 128 KiB pieces: 64 of them.
const PIECE_LOG2: u32 = 17;

fn row(env: &Env) -> Value {
    let rows = env.list();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

/// Three leechers of `torrent`, each in its own directory under `dir`, run to completion;
/// each one's file must equal `payload`. Returns ttui's upload meanwhile.
fn swarm(env: &Env, daemon: &mut Daemon, torrent: &Torrent, payload: &Path, dir: &Path) -> u64 {
    let before = row(env)["uploaded"].as_u64().unwrap();
    let mut leechers: Vec<(LibtorrentPeer, std::path::PathBuf)> = (0..3)
        .map(|i| {
            let into = dir.join(format!("leecher{i}"));
            fs::create_dir_all(&into).unwrap();
            let p = LibtorrentPeer::start_leecher(torrent, &into, LtOptions::default());
            (p, into)
        })
        .collect();
    for (p, into) in &mut leechers {
        daemon.assert_alive("the leechers");
        p.wait_done(WAIT);
        let got = into.join(payload.file_name().unwrap());
        assert!(
            fs::read(&got).unwrap() == fs::read(payload).unwrap(),
            "{} differs from the payload",
            got.display()
        );
    }
    // ttui's line catches up with its peers' last blocks within a tick or two.
    std::thread::sleep(Duration::from_secs(3));
    let after = row(env)["uploaded"].as_u64().unwrap();
    // Dropped: killed by pid, so none of them serves the next swarm.
    drop(leechers);
    after - before
}

#[test]
fn super_seeding_uploads_about_one_copy_to_three_libtorrent_leechers() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let env = Env::new("ttui-superseed-");
    let made = env.root.path().join("made");
    fs::create_dir_all(&made).unwrap();
    let payload = make_single_file_payload(&env.out, "ss.bin", LEN, 1616);
    let plain = mktorrent(&payload, PIECE_LOG2, &made.join("ss.torrent"));
    let tracker = Opentracker::start(&[plain.info_hash]);
    let torrent = plain.with_trackers(
        &made.join("ss-tracked.torrent"),
        Some(&tracker.http_url()),
        &[],
    );

    let mut daemon = Daemon::start(&env, "1", &[]);
    let added = env.verb(&["add", &torrent.path.display().to_string()]);
    assert_eq!(added.code, 0, "{added:?}");
    env.wait_list("the seed", WAIT, &mut daemon, |r| all_seeding(r, 1));
    let id = row(&env)["id"].as_u64().unwrap().to_string();

    // Off: the contrast.
    let leech = |daemon: &mut Daemon, dir: &str| {
        swarm(&env, daemon, &torrent, &payload, &env.root.path().join(dir))
    };
    let off = leech(&mut daemon, "off");

    let on = env.verb(&["super-seed", &id, "on", "--json"]);
    assert_eq!(on.code, 0, "{on:?}");
    let answer: Value = serde_json::from_str(&on.stdout).unwrap();
    assert!(answer[0]["error"].is_null(), "{answer}");
    // The line shows it from the session's next tick.
    env.wait_list("its line to say so", WAIT, &mut daemon, |r| {
        r[0]["super_seeding"] == true && r[0]["why"] == "super-seeding"
    });

    let super_seeded = leech(&mut daemon, "on");
    eprintln!("ttui uploaded {off} bytes without super-seeding, {super_seeded} with it ({LEN} bytes a copy)");
    assert!(
        super_seeded * 2 < LEN * 3,
        "super-seeding uploaded {super_seeded} bytes, not under 1.5 copies of {LEN}\n{}",
        daemon.report()
    );
    assert!(
        super_seeded < off,
        "super-seeding uploaded {super_seeded} bytes, no less than {off} without it"
    );

    // Kept across a restart.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &[]);
    env.wait_list("the seed back", WAIT, &mut daemon, |r| {
        all_seeding(r, 1) && r[0]["super_seeding"] == true && r[0]["why"] == "super-seeding"
    });

    // An id that names nothing: one line, a failure.
    let unknown = env.verb(&["super-seed", "99", "on"]);
    assert_ne!(unknown.code, 0, "{unknown:?}");
    assert_one_line(&unknown.stderr, "super-seed on an unknown id");

    let off_again = env.verb(&["super-seed", &id, "off"]);
    assert_eq!(off_again.code, 0, "{off_again:?}");
    env.wait_list("super-seeding off", WAIT, &mut daemon, |r| {
        r[0]["super_seeding"] == false && r[0]["why"].is_null()
    });
    assert!(daemon.term().success());
}
