//! One truth in every face: a seed with a working tracker reads the same in `ttui show`,
//! the Transmission RPC and qBittorrent's API (the calls VueTorrent makes: `torrents/info`,
//! `files`, `trackers`, `sync/maindata`), awake and then asleep. Before, qBittorrent's API
//! gave every torrent an empty `tracker` and 0 trackers ("Untracked" in VueTorrent), and a
//! sleeping seed's tracker "not contacted" with -1 counts.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
use crate::tmux;
use crate::tools;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;
use kit::*;
use payload::*;
use tools::*;

/// A seed's first announce, and its fall asleep, take a few seconds; this bounds them.
const WAIT: Duration = Duration::from_secs(60);

struct Faces {
    qbt: SocketAddr,
    sid: String,
    rpc: SocketAddr,
}

/// What every face says of the torrent's tracker and files, asserted to agree; `asleep`
/// adds the checks that the session holds no task for it.
fn agree(env: &Env, f: &Faces, hash: &str, url: &str) {
    let info = f.qbt_get(&format!("/api/v2/torrents/info?hashes={hash}"));
    let t = &info[0];
    assert_eq!(t["tracker"], url, "{t}");
    assert_eq!(t["trackers_count"], 1, "{t}");
    assert_eq!(t["progress"], 1.0, "{t}");
    // opentracker counts us: one seed, no leecher.
    assert_eq!(
        (t["num_complete"].as_i64(), t["num_incomplete"].as_i64()),
        (Some(1), Some(0)),
        "{t}"
    );
    let files = f.qbt_get(&format!("/api/v2/torrents/files?hash={hash}"));
    for file in files.as_array().unwrap() {
        assert_eq!(file["progress"], 1.0, "{file}");
        assert_eq!(file["is_seed"], true, "{file}");
    }
    let trackers = f.qbt_get(&format!("/api/v2/torrents/trackers?hash={hash}"));
    let row = trackers
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == url)
        .unwrap_or_else(|| panic!("{trackers}"));
    // 2: working.
    assert_eq!(row["status"], 2, "{row}");
    assert_eq!(row["num_seeds"], 1, "{row}");
    assert_eq!(row["num_leeches"], 0, "{row}");
    let sync = f.qbt_get("/api/v2/sync/maindata?rid=0");
    let synced = &sync["torrents"][hash];
    for key in [
        "tracker",
        "trackers_count",
        "progress",
        "num_complete",
        "state",
    ] {
        assert_eq!(synced[key], t[key], "sync/maindata's {key}: {synced}");
    }

    let call = r#"{"method":"torrent-get","arguments":{"fields":["hashString","percentDone","trackerStats","files","status"]}}"#;
    let got = rpc_call(f.rpc, call);
    let r = got["arguments"]["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["hashString"] == hash)
        .unwrap_or_else(|| panic!("{got}"))
        .clone();
    assert_eq!(r["percentDone"], 1.0, "{r}");
    // 6: seeding.
    assert_eq!(r["status"], 6, "{r}");
    let stats = &r["trackerStats"][0];
    assert_eq!(stats["announce"], url, "{r}");
    assert_eq!(stats["seederCount"], 1, "{r}");
    assert_eq!(stats["leecherCount"], 0, "{r}");
    for (i, file) in r["files"].as_array().unwrap().iter().enumerate() {
        assert_eq!(file["bytesCompleted"], file["length"], "file {i}: {r}");
    }

    let show = env.verb(&["show", hash, "--json"]);
    assert_eq!(show.code, 0, "{show:?}");
    let shown: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["progress"], 1.0, "{shown}");
    assert_eq!(shown["trackers"][0]["status"], "working", "{shown}");
    assert_eq!(shown["trackers"][0]["seeders"], 1, "{shown}");
    for file in shown["files"].as_array().unwrap() {
        assert_eq!(file["verified_bytes"], file["size"], "{file}");
    }
}

impl Faces {
    fn qbt_get(&self, path: &str) -> Value {
        qbt_get(self.qbt, &self.sid, path)
    }
}

#[test]
fn a_seeds_tracker_and_files_read_the_same_in_every_face_awake_and_asleep() {
    require_loopback_only();
    let env = Env::new("ttui-agree-");
    let made = env.root.path().join("t");
    let mut p = Payload::make(
        &env.out,
        &made,
        "agreed",
        &[("a.bin", (1 << 20) + 77), ("b.bin", 300_000)],
        5,
    );
    let tracker = Opentracker::start(&[p.torrent.info_hash]);
    let url = tracker.http_url();
    p.torrent = p
        .torrent
        .with_trackers(&made.join("agreed-tracked.torrent"), Some(&url), &[]);
    let (cfg, qbt, rpc) = both_apis_config(&env);
    let args = ["--config".to_string(), cfg.display().to_string()];
    let mut daemon = Daemon::start_with(&env, "1", &args, &[("TTUI_DORMANT_AFTER_SECS", "3")]);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    let hash = p.hash();
    let faces = Faces {
        qbt,
        sid: qbt_login(qbt),
        rpc,
    };
    // Its check finds it complete, and its tracker answers the announce.
    let start = Instant::now();
    loop {
        let info = faces.qbt_get(&format!("/api/v2/torrents/info?hashes={hash}"));
        if info[0]["tracker"] == url.as_str() && info[0]["num_complete"] == 1 {
            break;
        }
        daemon.assert_alive("the first announce");
        assert!(
            start.elapsed() < WAIT,
            "no working tracker: {info}\n{}",
            daemon.report()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    agree(&env, &faces, &hash, &url);

    // Asleep: no task, no snapshot; the line and what the session keeps answer.
    let start = Instant::now();
    while lines_with(&daemon.log_text(), "quiet, dormant").is_empty() {
        daemon.assert_alive("the seed to sleep");
        assert!(
            start.elapsed() < WAIT,
            "it never slept\n{}",
            daemon.report()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    agree(&env, &faces, &hash, &url);
    daemon.assert_alive("the end");
}

/// Last activity, a fact of the one table every face reads: after a download from a
/// Transmission seeder, `ttui list --json`'s `last_activity`, the RPC's `activityDate` and
/// qBittorrent's `last_activity` are the same second, and `ttui show` and the TUI's
/// selected line (`ttui attach`) give it as a date, where before `ttui show` had none.
#[test]
fn last_activity_reads_the_same_in_every_face() {
    require_loopback_only();
    if !prereq::have_tools(&["tmux"]) {
        return;
    }
    let env = Env::new("ttui-active-");
    let made = env.root.path().join("t");
    let seeded = env.root.path().join("seeded");
    let p = Payload::make(&seeded, &made, "active", &[("a.bin", 700_000)], 9);
    let seeder = TransmissionSeeder::start(&p.torrent, &seeded);
    let (cfg, qbt, rpc) = both_apis_config(&env);
    let args = [
        "--config".to_string(),
        cfg.display().to_string(),
        "--peer".to_string(),
        seeder.addr().to_string(),
    ];
    let mut daemon = Daemon::start_with(&env, "1", &args, &[]);
    let before = unix_now();
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    let hash = p.hash();
    env.wait_list("the download", WAIT, &mut daemon, |rows| {
        rows.iter().any(|r| {
            r["info_hash"] == hash.as_str()
                && r["progress"] == 1.0
                && r["last_activity"].as_u64().is_some_and(|a| a > 0)
        })
    });
    let sid = qbt_login(qbt);
    // The download's last second may be published after its progress: read until the
    // faces agree (bounded), which they must once nothing moves.
    let start = Instant::now();
    let (listed, shown) = loop {
        let list = env.verb(&["list", "--json"]);
        let rows: Value = serde_json::from_str(&list.stdout).unwrap();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["info_hash"] == hash.as_str())
            .unwrap_or_else(|| panic!("{rows}"))
            .clone();
        let info = qbt_get(qbt, &sid, &format!("/api/v2/torrents/info?hashes={hash}"));
        let call =
            r#"{"method":"torrent-get","arguments":{"fields":["hashString","activityDate"]}}"#;
        let got = rpc_call(rpc, call);
        let r = &got["arguments"]["torrents"][0];
        let show = env.verb(&["show", &hash, "--json"]);
        let shown: Value = serde_json::from_str(&show.stdout).unwrap();
        let at = &row["last_activity"];
        if info[0]["last_activity"] == *at
            && r["activityDate"] == *at
            && shown["last_activity"] == *at
        {
            break (at.as_u64().unwrap(), shown);
        }
        assert!(
            start.elapsed() < WAIT,
            "faces disagree: list {row}\nqBittorrent {}\nRPC {r}\nshow {shown}",
            info[0]
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        (before..=unix_now()).contains(&listed),
        "{listed} not in this run"
    );
    assert_eq!(shown["name"], "active");
    // The JSON-RPC form's snake_case name reads the same fact.
    let call =
        r#"{"jsonrpc":"2.0","id":1,"method":"torrent_get","params":{"fields":["activity_date"]}}"#;
    let got = rpc_call(rpc, call);
    assert_eq!(
        got["result"]["torrents"][0]["activity_date"], listed,
        "{got}"
    );
    // People read it as a date: `ttui show` and the TUI's selected line.
    let text = env.verb(&["show", &hash]);
    let line = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("last active"))
        .unwrap_or_else(|| panic!("no last active in {}", text.stdout));
    assert!(line.contains(" 20") && !line.contains("never"), "{line}");
    let shell = format!(
        "env -u XDG_RUNTIME_DIR TTUI_PLAYER=true {} attach --state-dir {}; sleep 60",
        quote(std::path::Path::new(env!("CARGO_BIN_EXE_ttui"))),
        quote(&env.state)
    );
    let pane = tmux::Tmux::start(200, 40, &shell);
    // The same minute as `ttui show` ("2026-11-30 04:10" before " UTC").
    let date = line
        .trim_start()
        .trim_start_matches("last active")
        .trim()
        .trim_end_matches(" UTC")
        .to_string();
    pane.wait_for(
        "the selected line's last activity",
        WAIT,
        || tail(&env.logs.join("daemon-1.log"), 40),
        |s| {
            s.lines()
                .any(|l| l.contains("▸ active") && l.contains(&format!("last active {date}")))
        },
    );
    drop(pane);
    drop(seeder);
    daemon.assert_alive("before the restart");

    // A restart keeps it (the resume file's `last_activity`): a seed restarted later was not
    // last active at the restart.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start_with(&env, "2", &args, &[]);
    env.wait_list("the torrent back", WAIT, &mut daemon, |rows| {
        rows.iter()
            .any(|r| r["info_hash"] == hash.as_str() && r["last_activity"] == listed)
    });
    let info = qbt_get(
        qbt,
        &qbt_login(qbt),
        &format!("/api/v2/torrents/info?hashes={hash}"),
    );
    assert_eq!(info[0]["last_activity"], listed, "{info}");
    daemon.assert_alive("the end");
}

fn quote(p: &std::path::Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A tracker's seeding goal (`[trackers."HOST"]`) is what every face gives as the torrent's
/// goal: the Transmission RPC's `seedRatioMode` 1 with its limit, qBittorrent's
/// `ratio_limit`; a torrent's own goal still comes first, and a torrent of another tracker
/// follows the session's.
#[test]
fn a_trackers_goal_reads_the_same_in_both_apis() {
    require_loopback_only();
    let env = Env::new("ttui-tracker-goal-");
    let made = env.root.path().join("t");
    let (cfg, qbt, rpc) = both_apis_config(&env);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[trackers.\"tracker.example\"]\nseed_ratio = 2.5\nseed_idle = \"off\"\n");
    std::fs::write(&cfg, text).unwrap();
    let ruled = Payload::make(&env.out, &made, "ruled", &[("", 40_000)], 1);
    let other = Payload::make(&env.out, &made, "other", &[("", 40_000)], 2);
    // Never announced to (the torrents stay paused): only the host of the URL counts.
    let t = ruled.torrent.with_trackers(
        &made.join("ruled-t.torrent"),
        Some("https://TRACKER.example:443/0123passkey/announce"),
        &[],
    );
    let args = ["--config".to_string(), cfg.display().to_string()];
    let mut daemon = Daemon::start_with(&env, "1", &args, &[]);
    for path in [t.path.display().to_string(), other.path()] {
        assert_eq!(env.verb(&["add", "--paused", &path]).code, 0);
    }
    env.wait_list("both added", WAIT, &mut daemon, |r| r.len() == 2);
    let sid = qbt_login(qbt);
    // The RPC asks the session; qBittorrent's API reads the published lines, a tick later
    // after a change: read until they agree (bounded).
    let read = |hash: &str| {
        let call = format!(
            r#"{{"method":"torrent-get","arguments":{{"ids":["{hash}"],"fields":["seedRatioMode","seedRatioLimit","seedIdleMode"]}}}}"#
        );
        let got = rpc_call(rpc, &call);
        let r = got["arguments"]["torrents"][0].clone();
        let info = qbt_get(qbt, &sid, &format!("/api/v2/torrents/info?hashes={hash}"));
        (
            r["seedRatioMode"].as_i64().unwrap(),
            r["seedRatioLimit"].as_f64().unwrap(),
            r["seedIdleMode"].as_i64().unwrap(),
            info[0]["ratio_limit"].as_f64().unwrap(),
            info[0]["inactive_seeding_time_limit"].as_f64().unwrap(),
        )
    };
    let goals = |hash: &str| {
        let start = Instant::now();
        loop {
            let g = read(hash);
            // Transmission's modes 0 (the session's) and 2 (none) are qBittorrent's -2, -1.
            let qbt = match g.0 {
                1 => g.1,
                0 => -2.0,
                _ => -1.0,
            };
            if g.3 == qbt || start.elapsed() > Duration::from_secs(5) {
                return g;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The tracker's: ratio 2.5 (mode 1, its own limit), idle off (mode 2; -1 in qBittorrent).
    assert_eq!(goals(&ruled.hash()), (1, 2.5, 2, 2.5, -1.0));
    // Another tracker's torrent follows the session (mode 0; -2 in qBittorrent).
    let (ratio_mode, _, idle_mode, ratio_limit, idle_limit) = goals(&other.hash());
    assert_eq!(
        (ratio_mode, idle_mode, ratio_limit, idle_limit),
        (0, 0, -2.0, -2.0)
    );
    // Its own goal comes first, and back to the default is the tracker's again.
    let id = ruled.hash();
    assert_eq!(env.verb(&["limit", &id, "--seed-ratio", "4"]).code, 0);
    let g = goals(&id);
    assert_eq!((g.0, g.1, g.3), (1, 4.0, 4.0), "{g:?}");
    assert_eq!(env.verb(&["limit", &id, "--seed-ratio", "default"]).code, 0);
    assert_eq!(goals(&ruled.hash()), (1, 2.5, 2, 2.5, -1.0));
    assert!(daemon.term().success());
}
