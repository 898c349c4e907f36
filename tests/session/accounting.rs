//! Accounting per tracker: `ttui stats --by tracker --json` matches, per tracker and to the
//! byte, what two recording HTTP trackers on two hosts (127.0.0.2 and 127.0.0.3) credit from
//! the announces they heard, after uploads to and downloads from python3-libtorrent peers; a
//! torrent with both trackers counts toward each; a torrent that went to sleep still told its
//! tracker what it uploaded; a restart keeps the counts. A power cut on the FUSE file system
//! (`cutfs.py`) loses at most the last save's interval and counts nothing twice.
//! Run through tests/run.sh: loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
use crate::recording_tracker::RecordingTracker;

use std::collections::HashMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);

/// `ttui stats --by BY --json`'s rows, by key: (all-time uploaded, downloaded, torrents).
fn stats(env: &Env, by: &str) -> HashMap<String, (u64, u64, u64)> {
    let out = env.verb(&["stats", "--by", by, "--json"]);
    assert_eq!(out.code, 0, "stats failed: {out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n = |k: &str| r["all"][k].as_u64().unwrap();
            (
                r["key"].as_str().unwrap().to_string(),
                (
                    n("uploaded"),
                    n("downloaded"),
                    r["torrents"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// A tracker's host, what the torrent told it in all, and the last announce's counts.
type Reported = (String, (u64, u64), Option<(u64, u64)>);

/// `show ID --json`'s trackers: the host of each URL and what the torrent has told it in
/// all (`reported`), with the counts of the last announce answered this run.
fn reported(env: &Env, t: &Torrent) -> Vec<Reported> {
    let id = row_of(&env.list(), &t.hash_hex())["id"].to_string();
    let out = env.verb(&["show", &id, "--json"]);
    assert_eq!(out.code, 0, "show failed: {out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let pair = |m: &Value| {
        (!m.is_null()).then(|| {
            (
                m["uploaded"].as_u64().unwrap(),
                m["downloaded"].as_u64().unwrap(),
            )
        })
    };
    v["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let url = r["url"].as_str().unwrap();
            let host = url
                .split("://")
                .nth(1)
                .unwrap()
                .split([':', '/'])
                .next()
                .unwrap();
            (
                host.to_string(),
                pair(&r["reported"]).unwrap_or((0, 0)),
                pair(&r["last_announce"]),
            )
        })
        .collect()
}

/// What `host` credits in all, as `stats` rows read it.
fn row(s: &HashMap<String, (u64, u64, u64)>, host: &str) -> (u64, u64) {
    s.get(host).map_or((0, 0), |r| (r.0, r.1))
}

#[test]
fn stats_by_tracker_match_what_two_trackers_credit_to_the_byte_and_survive_a_restart() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-accounting-");
    let one = RecordingTracker::start(Ipv4Addr::new(127, 0, 0, 2));
    let two = RecordingTracker::start(Ipv4Addr::new(127, 0, 0, 3));
    let tdir = env.root.path().join("torrents");
    // Seeded by ttui: `solo` on tracker one; `both` on both (a tier each).
    let solo = Payload::make(&env.out, &tdir, "solo", &[("", (3 << 20) + 1234)], 1);
    let both = Payload::make(
        &env.out,
        &tdir,
        "both",
        &[("a.bin", 1 << 20), ("b.bin", 700_001)],
        2,
    );
    // Downloaded by ttui from a libtorrent seeder: `fetched` on tracker two.
    let elsewhere = env.root.path().join("lt-seed");
    let fetched = Payload::make(&elsewhere, &tdir, "fetched", &[("", (2 << 20) + 99)], 3);
    let t_solo = solo
        .torrent
        .with_trackers(&tdir.join("solo-1.torrent"), Some(&one.url()), &[]);
    let tiers = vec![vec![one.url()], vec![two.url()]];
    let t_both = both
        .torrent
        .with_trackers(&tdir.join("both-12.torrent"), None, &tiers);
    let t_fetched =
        fetched
            .torrent
            .with_trackers(&tdir.join("fetched-2.torrent"), Some(&two.url()), &[]);

    let port = free_port();
    let args = ["--port".to_string(), port.to_string()];
    let vars = [("TTUI_DORMANT_AFTER_SECS", "2")];
    let mut daemon = Daemon::start_with(&env, "1", &args, &vars);
    let path = |t: &Torrent| t.path.display().to_string();
    for t in [&t_solo, &t_both] {
        assert_eq!(env.verb(&["add", &path(t)]).code, 0);
    }
    assert_eq!(
        env.verb(&["add", "--label", "films", &path(&t_fetched)])
            .code,
        0
    );
    let ttui = SocketAddr::from(([127, 0, 0, 1], port));
    let opts = || LtOptions {
        peers: vec![ttui],
        ..LtOptions::default()
    };
    let seeder = LibtorrentPeer::start(&fetched.torrent, &elsewhere, opts());
    let mut leechers = Vec::new();
    for (p, name) in [(&solo, "solo"), (&both, "both")] {
        let save = env.root.path().join(format!("leech-{name}"));
        fs::create_dir_all(&save).unwrap();
        leechers.push(LibtorrentPeer::start_leecher(&p.torrent, &save, opts()));
    }
    for l in &mut leechers {
        l.wait_done(DONE_WAIT);
    }
    env.wait_list("all three seeding", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    drop(leechers);
    drop(seeder);

    // Every torrent goes to sleep without a `stopped`: what it moved since its last announce
    // is told before it sleeps. Until then the trackers may have heard less.
    let sizes = |p: &Payload| p.files.iter().map(|f| f.1).sum::<u64>();
    let start = Instant::now();
    let (mut s, mut c1, mut c2);
    loop {
        s = stats(&env, "tracker");
        (c1, c2) = (one.credited_total(), two.credited_total());
        if row(&s, "127.0.0.2") == c1 && row(&s, "127.0.0.3") == c2 && c1.0 > 0 {
            break;
        }
        daemon.assert_alive("the trackers to hear every byte");
        assert!(
            start.elapsed() < DONE_WAIT,
            "the trackers never heard what ttui counted: stats {s:?}, one credits {c1:?}, two \
             credits {c2:?}\none heard {:?}\ntwo heard {:?}\n{}",
            one.heard(),
            two.heard(),
            daemon.report()
        );
        sleep(Duration::from_millis(200));
    }
    // And they are the transfers: each leecher got its torrent whole from ttui.
    assert!(c1.0 >= sizes(&solo) + sizes(&both), "one: {c1:?}");
    assert!(
        c2.0 >= sizes(&both) && c2.1 >= sizes(&fetched),
        "two: {c2:?}"
    );
    assert_eq!(s["127.0.0.2"].2, 2, "one counts solo and both: {s:?}");
    assert_eq!(s["127.0.0.3"].2, 2, "two counts both and fetched: {s:?}");
    // `show` says what each torrent told each tracker: `both` told its two the same, and a
    // tracker's torrents add up to what it credits.
    let (r_solo, r_both, r_fetched) = (
        reported(&env, &t_solo),
        reported(&env, &t_both),
        reported(&env, &t_fetched),
    );
    assert_eq!(r_both.len(), 2, "{r_both:?}");
    // One run so far: each tracker's last announce, the one before its torrent slept, carried
    // every byte it was told (the sleeping torrent's tracker rows keep it).
    for r in r_solo.iter().chain(&r_both).chain(&r_fetched) {
        assert_eq!(r.2, Some(r.1), "the last announce is not the total: {r:?}");
    }
    // And the torrents' logs say it was sent.
    assert!(
        !lines_with(
            &daemon.log_text(),
            "sent the counts before sleeping to 1 of 1"
        )
        .is_empty(),
        "{}",
        daemon.report()
    );
    assert_eq!(r_both[0].1, r_both[1].1, "{r_both:?}");
    assert_eq!(
        (
            r_solo[0].1 .0 + r_both[0].1 .0,
            r_solo[0].1 .1 + r_both[0].1 .1
        ),
        c1,
        "one: {r_solo:?} {r_both:?}"
    );
    assert_eq!(
        (
            r_fetched[0].1 .0 + r_both[1].1 .0,
            r_fetched[0].1 .1 + r_both[1].1 .1
        ),
        c2,
        "two: {r_fetched:?} {r_both:?}"
    );
    let shown_table = env.verb(&[
        "show",
        &row_of(&env.list(), &t_both.hash_hex())["id"].to_string(),
    ]);
    assert!(
        shown_table.stdout.contains("REPORTED UP / DOWN"),
        "{shown_table:?}"
    );
    // `solo` announced `started` (0 bytes) and then only before it slept.
    let solo_heard: Vec<_> = one
        .heard()
        .into_iter()
        .filter(|h| h.info_hash == t_solo.info_hash)
        .map(|h| (h.event, h.uploaded))
        .collect();
    assert!(
        solo_heard
            .iter()
            .any(|(e, up)| e.is_empty() && *up >= sizes(&solo)),
        "solo never told its tracker what it uploaded: {solo_heard:?}"
    );
    // No passkey is kept or shown.
    let ledger = fs::read_to_string(env.state.join("ledger.json")).unwrap_or_default();
    let shown = env.verb(&["stats"]).stdout;
    assert!(
        shown.contains("127.0.0.2") && shown.contains("RATIO"),
        "{shown}"
    );
    assert!(
        !ledger.contains("passkey") && !shown.contains("passkey"),
        "{ledger}\n{shown}"
    );

    let by_label = stats(&env, "label");
    // `fetched` alone downloaded, and it alone is labelled.
    assert_eq!(row(&by_label, "films").1, c2.1, "{by_label:?}");
    assert_eq!(row(&by_label, "(no label)").0, c1.0, "{by_label:?}");
    let by_torrent = stats(&env, "torrent");
    assert!(by_torrent["solo"].0 >= sizes(&solo), "{by_torrent:?}");

    // A restart keeps the counts, and the trackers' credits stay what the stats say.
    assert!(daemon.term().success());
    let daemon = Daemon::start_with(&env, "2", &args, &vars);
    let after = stats(&env, "tracker");
    assert_eq!(row(&after, "127.0.0.2"), c1, "after the restart: {after:?}");
    assert_eq!(row(&after, "127.0.0.3"), c2, "after the restart: {after:?}");
    let again: Vec<_> = reported(&env, &t_both).into_iter().map(|r| r.1).collect();
    assert_eq!(again, [r_both[0].1, r_both[1].1], "after the restart");
    assert!(daemon.term().success());
    assert_eq!(one.credited_total(), c1, "{:?}", one.heard());
    assert_eq!(two.credited_total(), c2, "{:?}", two.heard());
}

/// Waits (bounded) until `stats --by tracker` says of `host` what `tracker` credits, with at
/// least `up` uploaded, and returns it: every torrent has told its tracker all it moved.
fn settled(
    env: &Env,
    daemon: &mut Daemon,
    (tracker, host): (&RecordingTracker, &str),
    up: u64,
) -> (u64, u64) {
    let start = Instant::now();
    loop {
        let (s, c) = (stats(env, "tracker"), tracker.credited_total());
        if row(&s, host) == c && c.0 >= up {
            return c;
        }
        daemon.assert_alive("the tracker to hear every byte");
        assert!(
            start.elapsed() < DONE_WAIT,
            "the tracker never heard what ttui counted: stats {s:?}, credits {c:?}\n{}",
            daemon.report()
        );
        sleep(Duration::from_millis(200));
    }
}

/// A libtorrent leecher of `p` from ttui at `port`, waited for until it has all of it.
fn leech_once(env: &Env, p: &Payload, port: u16, n: u32) {
    let save = env.root.path().join(format!("leech-{n}"));
    fs::create_dir_all(&save).unwrap();
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        ..LtOptions::default()
    };
    let mut l = LibtorrentPeer::start_leecher(&p.torrent, &save, opts);
    l.wait_done(DONE_WAIT);
}

#[test]
fn a_power_cut_loses_no_saved_accounting_and_counts_nothing_twice() {
    require_loopback_only();
    if !crate::crash_session::have_cut_prereqs() {
        return;
    }
    let mut env = Env::new("ttui-accounting-cut-");
    let disk = crate::crash_session::CutFs::start(env.root.path(), &env.logs);
    // The state directory on the file system that forgets unsynced writes at a cut; the data
    // on the plain disk.
    env.state = disk.mount.join("state");
    let tracker = RecordingTracker::start(Ipv4Addr::new(127, 0, 0, 2));
    let tdir = env.root.path().join("torrents");
    let p = Payload::make(&env.out, &tdir, "cut", &[("", (2 << 20) + 17)], 4);
    let t = p
        .torrent
        .with_trackers(&tdir.join("cut-1.torrent"), Some(&tracker.url()), &[]);
    let port = free_port();
    let args = ["--port".to_string(), port.to_string()];
    // Saved every second here (a minute by default): a second and the save's own time is
    // all a cut may take.
    let vars = [
        ("TTUI_DORMANT_AFTER_SECS", "2"),
        ("TTUI_LEDGER_SAVE_MS", "1000"),
    ];
    let host = "127.0.0.2";
    let mut daemon = Daemon::start_with(&env, "1", &args, &vars);
    assert_eq!(env.verb(&["add", &t.path.display().to_string()]).code, 0);
    env.wait_list("the data checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    leech_once(&env, &p, port, 1);
    let first = settled(&env, &mut daemon, (&tracker, host), p.files[0].1);
    // Two saves' time, then the power goes: SIGKILL, the unsynced writes dropped, a reboot.
    sleep(Duration::from_millis(2_500));
    daemon.kill9();
    // 0: every unsynced write is lost.
    let (disk, said) = disk.cut(0);
    eprintln!("power cut: cutfs {said}");
    let mut daemon = Daemon::start_with(&env, "2", &args, &vars);
    let after = stats(&env, "tracker");
    assert_eq!(
        row(&after, host),
        first,
        "the cut lost saved accounting: {after:?}"
    );

    // Counting goes on from there, and matches the tracker again: nothing counted twice.
    leech_once(&env, &p, port, 2);
    settled(&env, &mut daemon, (&tracker, host), first.0 + p.files[0].1);
    assert!(daemon.term().success());
    drop(disk);
}

/// `[trackers."HOST"]` tables: one tracker's upload limit holds its torrents together and
/// their lines name it; another's seeding goal pauses its torrent and no other; `ttui config`
/// lists both tables.
#[test]
fn a_trackers_table_limits_its_torrents_and_sets_their_seeding_goal() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-tracker-rules-");
    let one = RecordingTracker::start(Ipv4Addr::new(127, 0, 0, 2));
    let two = RecordingTracker::start(Ipv4Addr::new(127, 0, 0, 3));
    let tdir = env.root.path().join("torrents");
    let limited = Payload::make(&env.out, &tdir, "limited", &[("", 4 << 20)], 11);
    let goal = Payload::make(&env.out, &tdir, "goal", &[("", 300_000)], 12);
    let t_limited =
        limited
            .torrent
            .with_trackers(&tdir.join("limited-1.torrent"), Some(&one.url()), &[]);
    let t_goal = goal
        .torrent
        .with_trackers(&tdir.join("goal-2.torrent"), Some(&two.url()), &[]);
    let cfg = env.root.path().join("config.toml");
    fs::write(
        &cfg,
        "[trackers.\"127.0.0.2\"]\nup_limit = \"64K\"\n\n[trackers.\"127.0.0.3\"]\nseed_ratio = 0\n",
    )
    .unwrap();
    let port = free_port();
    let args = [
        "--port".to_string(),
        port.to_string(),
        "--config".to_string(),
        cfg.display().to_string(),
    ];
    let shown = env
        .verb(&["config", "--config", &cfg.display().to_string()])
        .stdout;
    assert!(
        shown.contains("TRACKERS (config file)")
            && shown.contains("127.0.0.2              up_limit=64 KiB/s")
            && shown.contains("127.0.0.3              seed_ratio=0"),
        "{shown}"
    );
    let mut daemon = Daemon::start(&env, "1", &args);
    for t in [&t_limited, &t_goal] {
        assert_eq!(env.verb(&["add", &t.path.display().to_string()]).code, 0);
    }
    // Tracker two's goal of ratio 0 is met at once: its torrent pauses, saying so, while
    // tracker one's (no goal there, none in the session) seeds on.
    env.wait_list(
        "goal paused by its tracker's goal",
        DONE_WAIT,
        &mut daemon,
        |r| {
            r.len() == 2
                && row_of(r, &goal.hash())["why"]
                    .as_str()
                    .is_some_and(|w| w.contains("goal 0"))
                && row_of(r, &limited.hash())["state"] == "seeding"
        },
    );
    let save = env.root.path().join("leech");
    fs::create_dir_all(&save).unwrap();
    let ttui = SocketAddr::from(([127, 0, 0, 1], port));
    let leecher = LibtorrentPeer::start_leecher(
        &limited.torrent,
        &save,
        LtOptions {
            peers: vec![ttui],
            ..LtOptions::default()
        },
    );
    let rows = env.wait_list(
        "limited held by its tracker's limit",
        DONE_WAIT,
        &mut daemon,
        |r| {
            row_of(r, &limited.hash())["why"]
                .as_str()
                .is_some_and(|w| w.contains("(tracker limit (127.0.0.2))"))
        },
    );
    assert_eq!(
        row_of(&rows, &goal.hash())["state"],
        "paused",
        "tracker two's goal is not tracker one's"
    );
    // Running, it shows what its tracker heard last this run (its `started`).
    let r = reported(&env, &t_limited);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].2.is_some(), "no last announce shown: {r:?}");
    drop(leecher);
    assert!(daemon.term().success());
}
