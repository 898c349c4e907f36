//! One status in every face: one session holds a torrent in each phase and hold a session
//! reaches without a swarm (seeding, paused by hand, downloading, queued for a download slot,
//! fetching its metadata, paused by a seeding goal, stopped on an error), and for each of
//! them `ttui list --json`, `ttui show --json`, the TUI's row (`ttui attach` in tmux), the
//! Transmission RPC (`status`, `percentDone`, `isFinished`, `files`) and qBittorrent's API
//! (`torrents/info`, `files`, `sync/maindata` at rid 0 and incrementally) say the same phase
//! and the same progress. Each face maps the torrent's one status (`api::Status`) to its own
//! words; before, a magnet fetching its metadata was `downloading` in `ttui list`, a check's
//! progress was written four ways, and a complete torrent was `seeding` in one face and
//! `complete` in another.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::kit;
use crate::payload;
use crate::prereq;
use crate::tmux;
use crate::tools;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use kit::*;
use payload::*;
use tmux::Tmux;
use tools::*;

/// Checks, a goal's pause and the first list take a few seconds; this bounds each wait.
const WAIT: Duration = Duration::from_secs(60);

/// One torrent of the session and what every face must say of it.
struct Case {
    name: &'static str,
    hash: String,
    /// `ttui list --json`'s word (the status's one word).
    word: &'static str,
    /// Transmission's status number.
    rpc: u64,
    /// qBittorrent's state strings that are right for it (one of them, as rates move).
    qbt: &'static [&'static str],
    /// How its line starts in the TUI (the status's words for people).
    tui: &'static str,
    /// Its progress, as every face gives it.
    progress: f64,
}

fn near(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-3)
}

#[test]
fn every_phase_reads_the_same_in_every_face() {
    require_loopback_only();
    if !prereq::have_tools(&["tmux"]) {
        return;
    }
    let env = Env::new("ttui-phases-");
    let made = env.root.path().join("t");
    // Data the session has (under its download directory), and data it lacks.
    let absent = env.root.path().join("elsewhere");
    let files: &[(&str, u64)] = &[("a.bin", (1 << 20) + 77), ("b.bin", 300_000)];
    let seed = Payload::make(&env.out, &made, "phase-seeding", files, 11);
    let goal = Payload::make(&env.out, &made, "phase-goal", files, 12);
    let mut paused = Payload::make(&absent, &made, "phase-paused", files, 13);
    // A tracker it never contacts (paused): every face still lists it, not contacted.
    let dead = format!("http://{}/announce", closed_addr());
    paused.torrent =
        paused
            .torrent
            .with_trackers(&made.join("phase-paused-tracked.torrent"), Some(&dead), &[]);
    let down = Payload::make(&absent, &made, "phase-downloading", files, 14);
    let queued = Payload::make(&absent, &made, "phase-queued", files, 15);
    let broken = Payload::make(&absent, &made, "phase-error", files, 16);
    let magnet_hash = "0123456789abcdef0123456789abcdef01234567";
    let magnet = format!("magnet:?xt=urn:btih:{magnet_hash}&dn=phase-metadata");

    let (cfg, qbt, rpc) = both_apis_config(&env);
    let args: Vec<String> = [
        "--config",
        cfg.to_str().unwrap(),
        "--max-active-downloads",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut daemon = Daemon::start_with(&env, "1", &args, &[]);
    let add = |what: &str, extra: &[&str]| {
        let mut a = vec!["add", what];
        a.extend_from_slice(extra);
        let out = env.verb(&a);
        assert_eq!(out.code, 0, "add {what}: {out:?}");
    };
    add(&seed.path(), &[]);
    add(&goal.path(), &[]);
    add(&paused.path(), &["--paused"]);
    // Its download directory cannot be made: a file stands where a directory must be. It
    // takes the one download slot first, and fails (which gives the slot back).
    let blocker = env.root.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    add(
        &broken.path(),
        &["-o", blocker.join("sub").to_str().unwrap()],
    );
    add(&down.path(), &[]);
    add(&queued.path(), &[]);
    add(&magnet, &[]);

    // The goal's torrent seeds a second, then a goal pauses it.
    let rows = env.wait_list("the seeds to be checked", WAIT, &mut daemon, |rows| {
        rows.iter().filter(|r| r["state"] == "seeding").count() >= 2
    });
    let id_of = |rows: &[Value], hash: &str| {
        rows.iter()
            .find(|r| r["info_hash"] == hash)
            .map(|r| r["id"].to_string())
            .unwrap_or_else(|| panic!("no {hash} in {rows:?}"))
    };
    let goal_id = id_of(&rows, &goal.hash());
    let out = env.verb(&["limit", &goal_id, "--seed-time", "1s"]);
    assert_eq!(out.code, 0, "{out:?}");

    let cases = [
        Case {
            name: "phase-seeding",
            hash: seed.hash(),
            word: "seeding",
            rpc: 6,
            qbt: &["stalledUP", "uploading"],
            tui: "seeding",
            progress: 1.0,
        },
        Case {
            name: "phase-goal",
            hash: goal.hash(),
            word: "paused",
            rpc: 0,
            qbt: &["stoppedUP"],
            tui: "paused: seeded ",
            progress: 1.0,
        },
        Case {
            name: "phase-paused",
            hash: paused.hash(),
            word: "paused",
            rpc: 0,
            qbt: &["stoppedDL"],
            tui: "paused",
            progress: 0.0,
        },
        Case {
            name: "phase-downloading",
            hash: down.hash(),
            word: "downloading",
            rpc: 4,
            qbt: &["stalledDL", "downloading"],
            tui: "downloading",
            progress: 0.0,
        },
        Case {
            name: "phase-queued",
            hash: queued.hash(),
            word: "queued",
            rpc: 3,
            qbt: &["queuedDL"],
            tui: "queued: ",
            progress: 0.0,
        },
        Case {
            name: "phase-metadata",
            hash: magnet_hash.to_string(),
            word: "metadata",
            rpc: 4,
            qbt: &["metaDL"],
            tui: "fetching metadata",
            progress: 0.0,
        },
        Case {
            name: "phase-error",
            hash: broken.hash(),
            word: "error",
            rpc: 0,
            qbt: &["error"],
            tui: "error: ",
            progress: 0.0,
        },
    ];
    let rows = env.wait_list("every phase", WAIT, &mut daemon, |rows| {
        cases.iter().all(|c| {
            rows.iter()
                .any(|r| r["info_hash"] == c.hash.as_str() && r["state"] == c.word)
        })
    });

    // qBittorrent's API, logged in once; its sync starts from rid 0.
    let sid = qbt_login(qbt);
    let info = qbt_get(qbt, &sid, "/api/v2/torrents/info");
    let sync = qbt_get(qbt, &sid, "/api/v2/sync/maindata?rid=0");
    let call = r#"{"method":"torrent-get","arguments":{"fields":["hashString","status","percentDone","isFinished","files","error","errorString","trackerStats"]}}"#;
    let got = rpc_call(rpc, call);
    let tr = got["arguments"]["torrents"].as_array().unwrap().clone();

    for c in &cases {
        let what = c.name;
        let row = rows
            .iter()
            .find(|r| r["info_hash"] == c.hash.as_str())
            .unwrap();
        assert!(near(&row["progress"], c.progress), "{what}: list {row}");
        if c.name == "phase-goal" {
            assert!(
                row["why"]
                    .as_str()
                    .is_some_and(|w| w.starts_with("seeded ")),
                "{what}: list {row}"
            );
        }

        let show = env.verb(&["show", &c.hash, "--json"]);
        assert_eq!(show.code, 0, "{what}: {show:?}");
        let shown: Value = serde_json::from_str(&show.stdout).unwrap();
        assert_eq!(shown["state"], c.word, "{what}: show {shown}");
        assert!(near(&shown["progress"], c.progress), "{what}: show {shown}");

        let t = info
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["hash"] == c.hash.as_str())
            .unwrap_or_else(|| panic!("{what}: not in torrents/info {info}"));
        let state = t["state"].as_str().unwrap_or("");
        assert!(c.qbt.contains(&state), "{what}: qBittorrent {t}");
        assert!(near(&t["progress"], c.progress), "{what}: qBittorrent {t}");
        let synced = &sync["torrents"][c.hash.as_str()];
        assert!(
            c.qbt.contains(&synced["state"].as_str().unwrap_or("")),
            "{what}: sync/maindata {synced}"
        );
        assert!(
            near(&synced["progress"], c.progress),
            "{what}: sync {synced}"
        );

        let r = tr
            .iter()
            .find(|r| r["hashString"] == c.hash.as_str())
            .unwrap_or_else(|| panic!("{what}: not in torrent-get {got}"));
        assert_eq!(r["status"], c.rpc, "{what}: RPC {r}");
        assert!(near(&r["percentDone"], c.progress), "{what}: RPC {r}");
        assert_eq!(
            r["isFinished"],
            c.name == "phase-goal",
            "{what}: RPC isFinished {r}"
        );
        if c.word == "error" {
            assert_ne!(r["error"], 0, "{what}: RPC {r}");
        }
        if c.name == "phase-paused" {
            // Its one tracker, never contacted, in every face.
            assert_eq!(t["trackers_count"], 1, "{what}: qBittorrent {t}");
            let rows = qbt_get(
                qbt,
                &sid,
                &format!("/api/v2/torrents/trackers?hash={}", c.hash),
            );
            let row = rows
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["url"] == dead.as_str());
            // 1: not contacted yet.
            assert_eq!(row.map(|r| r["status"].clone()), Some(1.into()), "{rows}");
            assert_eq!(
                r["trackerStats"][0]["announce"],
                dead.as_str(),
                "{what}: RPC {r}"
            );
            assert_eq!(shown["trackers"][0]["status"], "not-contacted", "{shown}");
        }

        // Each file's progress: show's verified bytes, the RPC's bytesCompleted and
        // qBittorrent's file progress are the same bytes.
        if c.word != "metadata" {
            let qfiles = qbt_get(
                qbt,
                &sid,
                &format!("/api/v2/torrents/files?hash={}", c.hash),
            );
            let sfiles = shown["files"].as_array().unwrap();
            let rfiles = r["files"].as_array().unwrap();
            assert_eq!(sfiles.len(), 2, "{what}: show files {shown}");
            assert_eq!(rfiles.len(), 2, "{what}: RPC files {r}");
            for (i, s) in sfiles.iter().enumerate() {
                let done = s["verified_bytes"].as_f64().unwrap() / s["size"].as_f64().unwrap();
                assert!(
                    near(&qfiles[i]["progress"], done),
                    "{what}: file {i} {qfiles} vs {s}"
                );
                assert_eq!(
                    rfiles[i]["bytesCompleted"], s["verified_bytes"],
                    "{what}: file {i}"
                );
            }
        }
    }

    // Incremental sync: a pause shows in the next update, as torrents/info says it.
    let rid = sync["rid"].as_u64().unwrap();
    let seed_id = id_of(&rows, &seed.hash());
    assert_eq!(env.verb(&["pause", &seed_id]).code, 0);
    let start = Instant::now();
    loop {
        let next = qbt_get(qbt, &sid, &format!("/api/v2/sync/maindata?rid={rid}"));
        let now = qbt_get(
            qbt,
            &sid,
            &format!("/api/v2/torrents/info?hashes={}", seed.hash()),
        );
        let state = &next["torrents"][seed.hash().as_str()]["state"];
        if state == "stoppedUP" && now[0]["state"] == "stoppedUP" {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the pause never reached the incremental sync: {next}\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(env.verb(&["resume", &seed_id]).code, 0);
    env.wait_list("the seed to resume", WAIT, &mut daemon, |rows| {
        rows.iter()
            .any(|r| r["info_hash"] == seed.hash().as_str() && r["state"] == "seeding")
    });

    // The TUI: `ttui attach` lists each torrent with the status's words.
    let shell = format!(
        "env -u XDG_RUNTIME_DIR TTUI_PLAYER=true {} attach --state-dir {}; sleep 60",
        quote(Path::new(env!("CARGO_BIN_EXE_ttui"))),
        quote(&env.state)
    );
    let pane = Tmux::start(200, 40, &shell);
    let screen = pane.wait_for(
        "every torrent in the TUI",
        WAIT,
        || daemon_log(&env),
        |s| {
            cases
                .iter()
                .all(|c| s.lines().any(|l| l.contains(c.name) && l.contains(c.tui)))
        },
    );
    drop(pane);
    assert!(!screen.is_empty());
    daemon.assert_alive("the end");
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn daemon_log(env: &Env) -> String {
    tail(&env.logs.join("daemon-1.log"), 40)
}
