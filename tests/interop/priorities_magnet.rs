//! `--only-files` where the file list comes late or the session is not involved (issue 20):
//! a `ttui daemon` adds a magnet link with two files skipped, the list applied once the
//! metadata arrives (and kept across a restart), an index past the last file named on the
//! torrent's line; and one-shot runs (`ttui --headless FILE|MAGNET --only-files`) that never
//! create the skipped files and end once the wanted ones are complete. The seeder is
//! python3-libtorrent. A magnet paused before its metadata arrived stays paused across a
//! restart.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prio;

use std::path::Path;
use std::time::Duration;

use kit::*;
use prio::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_magnets_only_files_apply_once_the_metadata_arrives() {
    let Some((_lock, env)) = setup("ttui-prio-magnet-") else {
        return;
    };
    let swarm = Swarm::multi(&env, 11, false);
    let (p, magnet) = (&swarm.p, swarm.magnet());
    let mut daemon = Daemon::start(&env, "1", &swarm.peer_args());

    // A list that does not parse is still refused at once.
    let bad = env.verb(&["add", "--only-files", "0,x", &magnet]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "add --only-files 0,x MAGNET");
    assert!(env.list().is_empty());

    // 9 is past the last file (4): the valid ones apply, the line says what was ignored.
    let added = env.verb(&["add", "--json", "--only-files", "0,2-2,4,9", &magnet]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    let id = results[0]["id"].to_string();
    let rows = env.wait_list("the wanted files", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash())
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
    assert_only(&env.out, p, &[0, 2, 4]);
    assert_eq!(
        priorities(&env, &id),
        ["normal", "skip", "normal", "skip", "normal"]
    );

    // A restart keeps the choice (from the resume data the metadata's arrival saved).
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");
    let mut daemon = Daemon::start(&env, "2", &swarm.peer_args());
    let rows = env.wait_list("the restarted torrent", DONE_WAIT, &mut daemon, |r| {
        r.iter()
            .any(|r| r["info_hash"] == p.hash() && r["state"] == "seeding")
    });
    let id = row_of(&rows, &p.hash())["id"].to_string();
    assert_eq!(
        priorities(&env, &id),
        ["normal", "skip", "normal", "skip", "normal"]
    );
    assert_only(&env.out, p, &[0, 2, 4]);
    drop(daemon);
    drop(swarm);
}

#[test]
fn a_restart_before_the_metadata_keeps_the_magnet_and_its_only_files() {
    let Some((_lock, env)) = setup("ttui-prio-pending-") else {
        return;
    };
    let swarm = Swarm::multi(&env, 11, false);
    let (p, magnet) = (&swarm.p, swarm.magnet());
    // No peer to ask: the metadata cannot arrive before the restart.
    let mut daemon = Daemon::start(&env, "1", &[]);
    let added = env.verb(&["add", "--only-files", "1,3", "--sequential", &magnet]);
    assert_eq!(added.code, 0, "{added:?}");
    let resume = env.resume_path(&p.hash());
    assert!(resume.exists(), "no resume data for the pending magnet");
    assert!(!env.torrent_path(&p.hash()).exists());
    env.wait_list("the pending magnet", DONE_WAIT, &mut daemon, |r| {
        r.iter().any(|r| r["info_hash"] == p.hash())
    });
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");

    let mut daemon = Daemon::start(&env, "2", &swarm.peer_args());
    let rows = env.wait_list(
        "the magnet after the restart",
        DONE_WAIT,
        &mut daemon,
        |r| done_row(r, &p.hash()),
    );
    let row = row_of(&rows, &p.hash());
    assert_eq!(row["why"], "done (2 of 5 files wanted)", "{row}");
    let id = row["id"].to_string();
    assert_eq!(
        priorities(&env, &id),
        ["skip", "normal", "skip", "normal", "skip"]
    );
    assert_only(&env.out, p, &[1, 3]);
    assert!(env.torrent_path(&p.hash()).exists());
    drop(daemon);
    drop(swarm);
}

/// The `paused` key of the torrent's saved resume data.
fn saved_paused(env: &Env, hash: &str) -> i64 {
    let path = env.resume_path(hash);
    let d = bdict(&std::fs::read(&path).unwrap());
    match d.iter().find(|(k, _)| k == b"paused") {
        Some((_, BVal::Int(n))) => *n,
        other => panic!("{}: `paused` is {other:?}", path.display()),
    }
}

fn state_of(rows: &[Value], hash: &str) -> String {
    row_of(rows, hash)["state"].as_str().unwrap().to_string()
}

#[test]
fn a_magnet_paused_before_its_metadata_stays_paused_across_a_restart() {
    let Some((_lock, env)) = setup("ttui-prio-paused-") else {
        return;
    };
    let mut swarm = Swarm::multi(&env, 11, false);
    let (hash, magnet) = (swarm.p.hash(), swarm.magnet());
    // A peer that never answers (connected by the kernel, never read): the fetch waits on it
    // (a handshake times out after 10 s) and the metadata cannot arrive before the restart.
    let silent = std::net::TcpListener::bind((common::loopback_ip(), 0)).unwrap();
    let silent_peer = silent.local_addr().unwrap().to_string();
    let mut daemon = Daemon::start(&env, "1", &["--peer".into(), silent_peer]);
    let added = env.verb(&["add", "--json", "--only-files", "0,4", &magnet]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    let id = results[0]["id"].to_string();
    assert_eq!(saved_paused(&env, &hash), 0);
    let paused = env.verb(&["pause", &id]);
    assert_eq!(paused.code, 0, "{paused:?}");
    env.wait_list("the magnet paused", DONE_WAIT, &mut daemon, |r| {
        state_of(r, &hash) == "paused"
    });
    assert_eq!(saved_paused(&env, &hash), 1, "the pause was not saved");
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");
    drop(silent);

    // Back paused, with a peer that has the metadata: it asks no one.
    let mut daemon = Daemon::start(&env, "2", &swarm.peer_args());
    let rows = env.wait_list(
        "the magnet after the restart",
        DONE_WAIT,
        &mut daemon,
        |r| r.iter().any(|r| r["info_hash"] == hash),
    );
    assert_eq!(state_of(&rows, &hash), "paused", "{}", row_of(&rows, &hash));
    // Two progress lines of the seeder's (about 2 s: the other tests here fetch the metadata
    // in well under that): no peer connected to it, nothing was fetched or created.
    swarm.seed.uploaded_fresh();
    swarm.seed.uploaded_fresh();
    let seen = swarm.seed.stdout_text();
    let last = seen.lines().rfind(|l| l.starts_with("progress ")).unwrap();
    assert!(last.ends_with(" peers=0 connected=0"), "{last}");
    assert_eq!(state_of(&env.list(), &hash), "paused");
    assert!(!env.torrent_path(&hash).exists());
    assert!(!env.out.join("multi").exists());

    // Resumed: the metadata, then the wanted files; the pause is gone from the saved state.
    let resumed = env.verb(&["resume", &id]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    env.wait_list("the resumed magnet", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &hash)
    });
    assert_only(&env.out, &swarm.p, &[0, 4]);
    assert_eq!(saved_paused(&env, &hash), 0);
    drop(daemon);
    drop(swarm);
}

/// `ttui --headless SOURCE --only-files LIST`, one-shot on loopback, waited for (bounded).
fn headless(env: &Env, source: &str, list: &str, out: &Path, addr: &str) -> Out {
    headless_with(env, source, &["--only-files", list], out, addr)
}

/// `ttui --headless SOURCE FLAGS…`, one-shot on loopback, waited for (bounded).
fn headless_with(env: &Env, source: &str, flags: &[&str], out: &Path, addr: &str) -> Out {
    let mut cmd = env.ttui();
    cmd.args(["--headless", source])
        .args(flags)
        .arg("-o")
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
        &format!("ttui --headless {source} {}", flags.join(" ")),
    )
}

#[test]
fn headless_only_files_skip_files_and_end_when_the_wanted_ones_are_done() {
    let Some((_lock, env)) = setup("ttui-prio-headless-") else {
        return;
    };
    let swarm = Swarm::multi(&env, 11, false);
    let (p, magnet, addr) = (&swarm.p, swarm.magnet(), &swarm.addr);

    // A .torrent's file count is known: an index past it is refused before anything starts.
    let bad = headless(&env, &p.path(), "1,9", &env.out, addr);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "--headless --only-files 1,9");
    assert!(bad.stderr.contains("file 9 does not exist"), "{bad:?}");
    assert!(!env.out.join("multi").exists());

    let done = headless(&env, &p.path(), "1,3", &env.out, addr);
    assert_eq!(done.code, 0, "{done:?}");
    let last = done.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("complete: multi") && last.contains(" (2 of 5 files) verified"),
        "{}",
        done.stdout
    );
    assert_only(&env.out, p, &[1, 3]);

    // A magnet: the list applies once the metadata arrives.
    let out = env.root.path().join("out-magnet");
    let done = headless(&env, &magnet, "0,4", &out, addr);
    assert_eq!(done.code, 0, "{done:?}");
    assert_only(&out, p, &[0, 4]);
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
    drop(swarm);
}

#[test]
fn a_magnets_so_selects_its_files_and_only_files_wins_over_it() {
    let Some((_lock, env)) = setup("ttui-prio-so-") else {
        return;
    };
    let swarm = Swarm::multi(&env, 11, false);
    let (p, addr) = (&swarm.p, &swarm.addr);
    // BEP 53: `so` of the link names files 1 and 3-4 (the payload has no padding files, so
    // entry numbers and file numbers agree).
    let magnet = format!("{}&so=1,3-4", swarm.magnet());

    // One-shot: only those files, byte-identical; the others never created.
    let out = env.root.path().join("out-so");
    let done = headless_with(&env, &magnet, &[], &out, addr);
    assert_eq!(done.code, 0, "{done:?}");
    let last = done.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("complete: multi") && last.contains(" (3 of 5 files) verified"),
        "{}",
        done.stdout
    );
    assert_only(&out, p, &[1, 3, 4]);

    // The user's own `--only-files` wins over the link's `so`.
    let out = env.root.path().join("out-only");
    let done = headless(&env, &magnet, "0", &out, addr);
    assert_eq!(done.code, 0, "{done:?}");
    assert_only(&out, p, &[0]);

    // In a session: `add MAGNET` with `so` skips the rest the moment the metadata arrives.
    let mut daemon = Daemon::start(&env, "1", &swarm.peer_args());
    let so_0_2 = format!("{}&so=0,2", swarm.magnet());
    let added = env.verb(&["add", "--json", &so_0_2]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    let id = results[0]["id"].to_string();
    let rows = env.wait_list("the so= files", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash())
    });
    let row = row_of(&rows, &p.hash());
    assert_eq!(row["why"], "done (2 of 5 files wanted)", "{row}");
    assert_eq!(
        priorities(&env, &id),
        ["normal", "skip", "normal", "skip", "skip"]
    );
    assert_only(&env.out, p, &[0, 2]);
    drop(daemon);
    drop(swarm);
}
