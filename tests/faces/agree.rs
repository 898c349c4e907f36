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
