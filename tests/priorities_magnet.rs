//! `--only-files` where the file list comes late or the session is not involved (issue 20):
//! a `ttui daemon` adds a magnet link with two files skipped, the list applied once the
//! metadata arrives (and kept across a restart), an index past the last file named on the
//! torrent's line; and one-shot runs (`ttui --headless FILE|MAGNET --only-files`) that never
//! create the skipped files and end once the wanted ones are complete. The seeder is
//! python3-libtorrent.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "session/kit.rs"]
mod kit;
#[allow(dead_code)]
#[path = "session/payload.rs"]
mod payload;
mod prereq;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(30);
const NAMES: [&str; 5] = ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin"];
const SIZES: [u64; 5] = [300_000, 200_000, 500_000, 150_000, 250_000];

/// A libtorrent seeder of `torrent` (its trackers stripped, so it is ready at once); it
/// serves the metadata (BEP 9) as well.
fn seeder(torrent: &Torrent, data: &Path, dir: &Path) -> (Proc, String) {
    let bare = torrent.with_trackers(&dir.join("multi-bare.torrent"), None, &[]);
    let (ip, port) = (loopback_ip(), free_port());
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&bare.path)
        .arg("--save")
        .arg(data)
        .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
        .args(["--seed-mode", "--max-seconds", "120"]);
    let mut p = Proc::spawn("lt-multi", &mut cmd, dir);
    p.wait_for_stdout("libtorrent to seed", "ready", Duration::from_secs(30));
    (p, format!("{ip}:{port}"))
}

/// The five-file payload and its seeder.
fn swarm(env: &Env) -> (Payload, Proc, String) {
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let files: Vec<(&str, u64)> = NAMES.iter().copied().zip(SIZES).collect();
    let p = Payload::make(&data, &fixtures, "multi", &files, 11);
    let (seed, addr) = seeder(&p.torrent, &data, &fixtures);
    (p, seed, addr)
}

/// The wanted files byte-identical under `out/multi`, the others absent.
fn assert_only(out: &Path, p: &Payload, wanted: &[usize]) {
    for (i, n) in NAMES.iter().enumerate() {
        let path = out.join("multi").join(n);
        if wanted.contains(&i) {
            let got = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(got == fs::read(p.root.join(n)).unwrap(), "{n} differs");
        } else {
            assert!(
                !path.exists(),
                "skipped file {} was created",
                path.display()
            );
        }
    }
}

fn magnet(p: &Payload) -> String {
    format!("magnet:?xt=urn:btih:{}&dn=multi", p.hash())
}

fn priorities(env: &Env, id: &str) -> Vec<String> {
    let out = env.verb(&["files", id, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    rows.iter()
        .map(|r| r["priority"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_magnets_only_files_apply_once_the_metadata_arrives() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let env = Env::new("ttui-prio-magnet-");
    let (p, seed, addr) = swarm(&env);
    let mut daemon = Daemon::start(&env, "1", &["--peer".into(), addr.clone()]);

    // A list that does not parse is still refused at once.
    let bad = env.verb(&["add", "--only-files", "0,x", &magnet(&p)]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "add --only-files 0,x MAGNET");
    assert!(env.list().is_empty());

    // 9 is past the last file (4): the valid ones apply, the line says what was ignored.
    let added = env.verb(&["add", "--json", "--only-files", "0,2-2,4,9", &magnet(&p)]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    let id = results[0]["id"].to_string();
    let rows = env.wait_list("the wanted files", DONE_WAIT, &mut daemon, |r| {
        r.iter()
            .any(|r| r["info_hash"] == p.hash() && r["state"] == "seeding" && r["progress"] == 1.0)
    });
    let row = row_of(&rows, &p.hash());
    assert_eq!(
        row["why"],
        "done (3 of 5 files wanted); --only-files: 9 is past the last file (4), ignored",
        "{row}"
    );
    assert_eq!(row["wanted_bytes"], SIZES[0] + SIZES[2] + SIZES[4], "{row}");
    let show = env.verb(&["show", &id]);
    assert!(
        show.code == 0 && show.stdout.contains("9 is past the last file (4), ignored"),
        "{show:?}"
    );
    assert_only(&env.out, &p, &[0, 2, 4]);
    assert_eq!(
        priorities(&env, &id),
        ["normal", "skip", "normal", "skip", "normal"]
    );

    // A restart keeps the choice (from the resume data the metadata's arrival saved).
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");
    let mut daemon = Daemon::start(&env, "2", &["--peer".into(), addr]);
    let rows = env.wait_list("the restarted torrent", DONE_WAIT, &mut daemon, |r| {
        r.iter()
            .any(|r| r["info_hash"] == p.hash() && r["state"] == "seeding")
    });
    let id = row_of(&rows, &p.hash())["id"].to_string();
    assert_eq!(
        priorities(&env, &id),
        ["normal", "skip", "normal", "skip", "normal"]
    );
    assert_only(&env.out, &p, &[0, 2, 4]);
    drop(daemon);
    drop(seed);
}

#[test]
fn a_restart_before_the_metadata_keeps_the_magnet_and_its_only_files() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let env = Env::new("ttui-prio-pending-");
    let (p, seed, addr) = swarm(&env);
    // No peer to ask: the metadata cannot arrive before the restart.
    let mut daemon = Daemon::start(&env, "1", &[]);
    let added = env.verb(&["add", "--only-files", "1,3", "--sequential", &magnet(&p)]);
    assert_eq!(added.code, 0, "{added:?}");
    let resume = env.resume_path(&p.hash());
    assert!(resume.exists(), "no resume data for the pending magnet");
    assert!(!env.torrent_path(&p.hash()).exists());
    env.wait_list("the pending magnet", DONE_WAIT, &mut daemon, |r| {
        r.iter().any(|r| r["info_hash"] == p.hash())
    });
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");

    let mut daemon = Daemon::start(&env, "2", &["--peer".into(), addr]);
    let rows = env.wait_list(
        "the magnet after the restart",
        DONE_WAIT,
        &mut daemon,
        |r| {
            r.iter().any(|r| {
                r["info_hash"] == p.hash() && r["state"] == "seeding" && r["progress"] == 1.0
            })
        },
    );
    let row = row_of(&rows, &p.hash());
    assert_eq!(row["why"], "done (2 of 5 files wanted)", "{row}");
    let id = row["id"].to_string();
    assert_eq!(
        priorities(&env, &id),
        ["skip", "normal", "skip", "normal", "skip"]
    );
    assert_only(&env.out, &p, &[1, 3]);
    assert!(env.torrent_path(&p.hash()).exists());
    drop(daemon);
    drop(seed);
}

/// `ttui --headless SOURCE --only-files LIST`, one-shot on loopback, waited for (bounded).
fn headless(env: &Env, source: &str, list: &str, out: &Path, addr: &str) -> Out {
    let mut cmd = env.ttui();
    cmd.args(["--headless", source, "--only-files", list, "-o"])
        .arg(out)
        .args([
            "--peer",
            addr,
            "--no-dht",
            "--no-trackers",
            "--bind",
            "127.0.0.1",
        ])
        .args(["--port", "0", "--transport", "tcp", "--state-dir"])
        .arg(&env.state);
    run(
        cmd,
        &format!("ttui --headless {source} --only-files {list}"),
    )
}

#[test]
fn headless_only_files_skip_files_and_end_when_the_wanted_ones_are_done() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let env = Env::new("ttui-prio-headless-");
    let (p, seed, addr) = swarm(&env);

    // A .torrent's file count is known: an index past it is refused before anything starts.
    let bad = headless(&env, &p.path(), "1,9", &env.out, &addr);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "--headless --only-files 1,9");
    assert!(bad.stderr.contains("file 9 does not exist"), "{bad:?}");
    assert!(!env.out.join("multi").exists());

    let done = headless(&env, &p.path(), "1,3", &env.out, &addr);
    assert_eq!(done.code, 0, "{done:?}");
    let last = done.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("complete: multi") && last.contains(" (2 of 5 files) verified"),
        "{}",
        done.stdout
    );
    assert_only(&env.out, &p, &[1, 3]);

    // A magnet: the list applies once the metadata arrives.
    let out = env.root.path().join("out-magnet");
    let done = headless(&env, &magnet(&p), "0,4", &out, &addr);
    assert_eq!(done.code, 0, "{done:?}");
    assert_only(&out, &p, &[0, 4]);
    // One-shot runs never touch the saved session.
    assert!(!env.state.join("torrents").exists());

    // Without a torrent the flags have nothing to apply to: one line, not silence.
    let mut cmd = env.ttui();
    cmd.args([
        "daemon",
        "--only-files",
        "0",
        "--no-dht",
        "--port",
        "0",
        "--state-dir",
    ])
    .arg(&env.state);
    let refused = run(cmd, "ttui daemon --only-files 0");
    assert_ne!(refused.code, 0, "{refused:?}");
    assert_one_line(&refused.stderr, "daemon --only-files 0");
    assert!(refused.stderr.contains("go with a torrent"), "{refused:?}");
    drop(seed);
}
