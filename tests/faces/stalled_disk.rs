//! A disk that stops answering does not stall the session (issue: "a slow disk does not stall
//! the session"). Twenty seeding torrents live on a FUSE mount (`phases/holdfs.py`); then
//! every read of it is held, as a dying disk or a hung network mount holds them. Leechers ask
//! five of the seeds for pieces (their reads wait on the disk) and five more are verified
//! (their checks wait on it too). Meanwhile the session answers `ttui show` of a seed whose
//! reads hang, of one whose check hangs, and `ttui list` at once, every time. Then the disk
//! answers again and every torrent ends seeding.
//!
//! The slowness itself (milliseconds a seek, a capped rate) and its numbers are the disk
//! benchmark's (`tests/bench/disk.sh`); this proves the worst case, a disk that never
//! answers, costs the rest of the session nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::phases::holdfs::HoldFs;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;
use kit::*;
use payload::*;

const WAIT: Duration = Duration::from_secs(90);

/// How long a verb may take while the disk hangs: a session that waited on the disk would
/// not answer at all (the verb's own limit is far longer); an answering one takes
/// milliseconds, and this leaves room for a loaded machine.
const ANSWER: Duration = Duration::from_secs(2);

fn row<'a>(rows: &'a [Value], hash: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["info_hash"] == hash)
}

#[test]
fn a_disk_that_hangs_leaves_the_session_answering() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !HoldFs::available() {
        return;
    }
    let env = Env::new("ttui-stalled-");
    let made = env.root.path().join("t");

    let port = free_port();
    let args: Vec<String> = vec!["--port".into(), port.to_string()];
    let mut daemon = Daemon::start(&env, "1", &args);
    // After the daemon: dropped before it, so every held read is let go first.
    let mut disk = HoldFs::start(&env.root.path().join("holdfs"), &env.logs);
    let mount = disk.mount.to_str().unwrap().to_string();
    let seeds: Vec<Payload> = (0..20)
        .map(|k| {
            let name = format!("stalled-{k:02}");
            Payload::make(&disk.backing, &made, &name, &[("a.bin", 8 * PLEN)], 40 + k)
        })
        .collect();
    for s in &seeds {
        let out = env.verb(&["add", s.path().as_str(), "-o", &mount]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    let rows = env.wait_list("the seeds", WAIT, &mut daemon, |rows| {
        seeds
            .iter()
            .all(|s| row(rows, &s.hash()).is_some_and(|r| r["state"] == "seeding"))
    });
    let id_of = |s: &Payload| row(&rows, &s.hash()).unwrap()["id"].to_string();

    // The disk hangs.
    for s in &seeds {
        let name = s.root.file_name().unwrap().to_str().unwrap().to_string();
        disk.hold(&format!("{name}/a.bin"), 0);
    }
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let leechers: Vec<LibtorrentPeer> = seeds[..5]
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let dir = env.root.path().join(format!("leech-{k}"));
            fs::create_dir_all(&dir).unwrap();
            let opts = LtOptions {
                peers: vec![addr],
                ..LtOptions::default()
            };
            LibtorrentPeer::start_leecher(&s.torrent, &dir, opts)
        })
        .collect();
    for s in &seeds[5..10] {
        assert_eq!(env.verb(&["verify", &id_of(s)]).code, 0);
    }
    let first = seeds[0]
        .root
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    while !disk.has_held(&format!("{first}/a.bin")) {
        assert!(
            start.elapsed() < WAIT,
            "no leecher's request reached the disk"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The session is asked again and again while the disk hangs.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        for args in [
            vec!["show".to_string(), id_of(&seeds[0])],
            vec!["show".to_string(), id_of(&seeds[5])],
            vec!["list".to_string(), "--json".to_string()],
        ] {
            let asked = Instant::now();
            let mut cmd = env.ttui();
            cmd.args(&args).arg("--state-dir").arg(&env.state);
            let out = run_within(cmd, "a verb while the disk hangs", Duration::from_secs(30));
            let took = asked.elapsed();
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
            assert!(
                took < ANSWER,
                "`ttui {}` took {took:?} while the disk hung",
                args.join(" ")
            );
            slowest = slowest.max(took);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("slowest answer while the disk hung: {slowest:?}");
    // The seed whose reads hang says so: the disk, its reads waiting and for how long.
    let mut cmd = env.ttui();
    cmd.args(["show", "--json", &id_of(&seeds[0])])
        .arg("--state-dir")
        .arg(&env.state);
    let out = run_within(cmd, "show --json", Duration::from_secs(30));
    let shown: Value = serde_json::from_str(&out.stdout).expect("show --json");
    let finding = shown["explain"]
        .as_array()
        .and_then(|e| e.iter().find(|f| f["check"] == "disk"))
        .unwrap_or_else(|| panic!("no disk finding on a seed whose reads hang: {shown}"));
    let evidence = finding["evidence"].as_str().unwrap_or_default();
    assert!(
        finding["verdict"] == "holding_back"
            && evidence.starts_with("the disk is not answering: ")
            && evidence.contains("for peers waiting, none done for "),
        "{finding}"
    );
    for s in &seeds[..5] {
        assert!(
            row(&env.list(), &s.hash()).is_some_and(|r| r["state"] == "seeding"),
            "a seed whose disk hangs is still seeding"
        );
    }

    // The disk answers again: the checks end, and every torrent seeds.
    disk.release();
    env.wait_list("every torrent to seed again", WAIT, &mut daemon, |rows| {
        seeds
            .iter()
            .all(|s| row(rows, &s.hash()).is_some_and(|r| r["state"] == "seeding"))
    });
    drop(leechers);
    daemon.assert_alive("the end");
}
