//! The session engine end to end (issue 19): the real `ttui daemon` with several torrents in a
//! state directory, driven by the verbs over its control socket; restarts (SIGTERM and
//! kill -9) that resume without re-hashing; damaged resume files; the one-session lock.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
mod crash;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);

/// Issue 19, 1, 2 and 6: a daemon downloads three torrents from three seeders; the verbs see
/// them; a SIGTERM and a restart re-hash nothing, a touched file costs only its own pieces;
/// remove with and without --delete-data.
#[test]
fn daemon_downloads_restarts_without_rehashing_and_removes() {
    require_loopback_only();
    let env = Env::new("ttui-session-");
    let fixtures = env.root.path().join("fixtures");
    let payloads = three_payloads(&fixtures.join("data"), &fixtures);

    // No session yet: exit 3, one line saying how to start one.
    let none = env.verb(&["list"]);
    assert_eq!(none.code, 3, "{none:?}");
    assert_one_line(&none.stderr, "list without a session");
    assert!(none.stderr.contains("ttui daemon"), "{none:?}");

    let mut seeders = Vec::new();
    let mut peer_args = Vec::new();
    for p in &payloads {
        let port = free_port();
        let extra = ["--no-dht", "--bind", "127.0.0.1"];
        seeders.push(spawn_ttui_seeder(
            &p.torrent.path,
            &fixtures.join("data"),
            port,
            &extra,
        ));
        peer_args.extend(["--peer".to_string(), format!("127.0.0.1:{port}")]);
    }
    let mut daemon = Daemon::start(&env, "1", &peer_args);

    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    let mut add: Vec<&str> = vec!["add", "--json"];
    add.extend(paths.iter().map(String::as_str));
    let added = env.verb(&add);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    for (r, p) in results.iter().zip(&payloads) {
        assert_eq!(r["info_hash"], p.hash().as_str(), "{r}");
        assert_eq!(r["already"], false, "{r}");
    }

    let rows = env.wait_list("three downloads", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    for row in &rows {
        let obj = row.as_object().expect("a row is an object");
        for f in ROW_FIELDS {
            assert!(obj.contains_key(*f), "row lacks `{f}`: {row}");
        }
        assert_eq!(row["progress"], 1.0, "{row}");
        assert!(row["completed"].is_u64(), "{row}");
        assert_eq!(row["save_path"], env.out.display().to_string(), "{row}");
    }
    for p in &payloads {
        let row = row_of(&rows, &p.hash());
        assert_eq!(row["name"], p.torrent.name.as_str());
        assert_eq!(row["total_bytes"], p.files.iter().map(|f| f.1).sum::<u64>());
        assert_same_tree(&p.root, &env.out.join(&p.torrent.name));
    }
    let ids = ids_of(&rows, &payloads);

    // The same torrent again: "already", nothing changes.
    let again = env.verb(&["add", &paths[1]]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("already"), "{again:?}");
    let after = env.list();
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(ids_of(&after, &payloads), ids);

    // show: files, trackers, peers; by id and by a 6-digit info-hash prefix.
    let beta = &payloads[1];
    let show = env.verb(&["show", &beta.hash()[..6], "--json"]);
    assert_eq!(show.code, 0, "{show:?}");
    let detail: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(detail["id"].to_string(), ids[1], "{detail}");
    let files = detail["files"].as_array().expect("files");
    assert_eq!(files.len(), 3, "{detail}");
    for (f, (rel, len)) in files.iter().zip(&beta.files) {
        assert_eq!(f["path"], rel.display().to_string(), "{f}");
        assert_eq!(f["size"], *len, "{f}");
        assert_eq!(f["verified_bytes"], *len, "{f}");
    }
    let trackers = detail["trackers"].as_array().expect("trackers");
    assert!(
        trackers.iter().any(|t| t["url"] == DEAD_TRACKER),
        "{detail}"
    );
    let seeder_addr = &peer_args[3];
    let peers = detail["peers"].as_array().expect("peers");
    assert!(
        peers.iter().any(|p| p["address"] == seeder_addr.as_str()),
        "beta's seeder {seeder_addr} is not among its peers: {detail}"
    );
    let by_id = env.verb(&["show", &ids[1], "--json"]);
    assert_eq!(by_id.code, 0, "{by_id:?}");

    // Unknown ids exit 4.
    let unknown_prefix = (0..16u8)
        .map(|d| format!("{d:x}").repeat(6))
        .find(|s| payloads.iter().all(|p| !p.hash().starts_with(s)))
        .unwrap();
    for id in ["99", unknown_prefix.as_str()] {
        let out = env.verb(&["show", id]);
        assert_eq!(out.code, 4, "show {id}: {out:?}");
        assert_one_line(&out.stderr, "unknown id");
    }

    // A clean stop and a restart: every torrent back, seeding, nothing hashed.
    drop(seeders);
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &[]);
    let rows = env.wait_list("three torrents back", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    assert_eq!(ids_of(&rows, &payloads).len(), 3);
    let log = daemon.log_text();
    let resumed = verified_counts(&log, "from the saved resume data (files unchanged)");
    let mut want: Vec<(u64, u64)> = payloads.iter().map(|p| (p.pieces, p.pieces)).collect();
    let mut got = resumed.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every torrent resumed, nothing hashed\n{log}");
    assert!(
        lines_with(&log, "checked existing data").is_empty(),
        "{log}"
    );

    // Touch one file of beta: only beta's pieces of that file are checked.
    assert!(daemon.term().success());
    touch(&env.out.join(&beta.files[1].0));
    let mut daemon = Daemon::start(&env, "3", &[]);
    env.wait_list("three torrents back", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    let log = daemon.log_text();
    let n = pieces_of_file(beta, 1);
    let changed = lines_with(&log, "changed since the last run");
    assert_eq!(changed.len(), 1, "{log}");
    assert!(
        changed[0].contains(&format!(
            "1 file changed since the last run: {n} pieces checked"
        )),
        "{log}"
    );
    let mut got = verified_counts(&log, "from the saved resume data (files unchanged)");
    got.sort();
    let mut want = vec![(payloads[0].pieces, payloads[0].pieces)];
    want.push((payloads[2].pieces, payloads[2].pieces));
    want.sort();
    assert_eq!(got, want, "{log}");
    assert_eq!(
        verified_counts(&log, "checked existing data"),
        vec![(beta.pieces, beta.pieces)],
        "{log}"
    );

    // remove keeps the data; remove --delete-data deletes it; both leave the state dir.
    let rows = env.list();
    let ids = ids_of(&rows, &payloads);
    let kept = env.verb(&["remove", &ids[0]]);
    assert_eq!(kept.code, 0, "{kept:?}");
    let gone = env.verb(&["remove", "--delete-data", &ids[1]]);
    assert_eq!(gone.code, 0, "{gone:?}");
    let rows = env.list();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["info_hash"], payloads[2].hash().as_str());
    assert_same_tree(&payloads[0].root, &env.out.join(&payloads[0].torrent.name));
    assert!(!env.out.join("beta").exists(), "beta's data is still there");
    for p in &payloads[..2] {
        assert!(!env.resume_path(&p.hash()).exists());
        assert!(!env.torrent_path(&p.hash()).exists());
    }
    assert!(env.torrent_path(&payloads[2].hash()).exists());
    assert!(daemon.term().success());
    // A restart brings back only what is left.
    let mut daemon = Daemon::start(&env, "4", &[]);
    let rows = env.wait_list("one torrent back", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    assert_eq!(rows[0]["info_hash"], payloads[2].hash().as_str());
    assert!(daemon.term().success());
}

/// Issue 19, 5 and 7: pause, resume and verify of one id and of `all`; a second daemon on the
/// same state directory is refused with one line.
#[test]
fn pause_resume_verify_and_one_session_per_directory() {
    require_loopback_only();
    let env = Env::new("ttui-session-verbs-");
    let payloads = three_payloads(&env.out, &env.root.path().join("torrents"));
    let mut daemon = Daemon::start(&env, "1", &[]);
    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    let mut add: Vec<&str> = vec!["add"];
    add.extend(paths.iter().map(String::as_str));
    let added = env.verb(&add);
    assert_eq!(added.code, 0, "{added:?}");
    // The data is there already: each add checks it and seeds.
    let rows = env.wait_list("three checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    let ids = ids_of(&rows, &payloads);

    // A second daemon on the same directory: one line, no harm done.
    let mut second = env.ttui();
    second
        .arg("daemon")
        .arg("--state-dir")
        .arg(&env.state)
        .args(["--bind", "127.0.0.1", "--port", "0", "--no-dht"]);
    let out = run(second, "a second daemon");
    assert_ne!(out.code, 0, "{out:?}");
    assert_one_line(&out.stderr, "second daemon");
    assert!(out.stderr.contains("already runs"), "{out:?}");
    daemon.assert_alive("the first daemon to survive a second one");
    assert_eq!(env.list().len(), 3);

    let states = |rows: &[Value]| -> Vec<String> {
        payloads
            .iter()
            .map(|p| {
                row_of(rows, &p.hash())["state"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let wait_states = |daemon: &mut Daemon, want: [&str; 3]| {
        env.wait_list(&format!("states {want:?}"), DONE_WAIT, daemon, |r| {
            states(r) == want
        });
    };
    let ok = |args: &[&str]| {
        let out = env.verb(args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    };
    ok(&["pause", &ids[1]]);
    wait_states(&mut daemon, ["seeding", "paused", "seeding"]);
    ok(&["pause", "all"]);
    wait_states(&mut daemon, ["paused", "paused", "paused"]);
    ok(&["resume", &ids[2]]);
    wait_states(&mut daemon, ["paused", "paused", "seeding"]);
    ok(&["resume", "all"]);
    wait_states(&mut daemon, ["seeding", "seeding", "seeding"]);

    // verify hashes every piece again: one more full check per torrent named.
    let full_checks = |d: &Daemon| verified_counts(&d.log_text(), "checked existing data");
    let before = full_checks(&daemon);
    assert_eq!(before.len(), 3, "{before:?}");
    ok(&["verify", &ids[0]]);
    let start = Instant::now();
    while full_checks(&daemon).len() < 4 && start.elapsed() < DONE_WAIT {
        sleep(Duration::from_millis(200));
    }
    let after = full_checks(&daemon);
    let p0 = payloads[0].pieces;
    assert_eq!(after[3..], [(p0, p0)], "{}", daemon.report());
    ok(&["verify", "all"]);
    let start = Instant::now();
    while full_checks(&daemon).len() < 7 && start.elapsed() < DONE_WAIT {
        sleep(Duration::from_millis(200));
    }
    let mut last: Vec<(u64, u64)> = full_checks(&daemon)[4..].to_vec();
    last.sort();
    let mut want: Vec<(u64, u64)> = payloads.iter().map(|p| (p.pieces, p.pieces)).collect();
    want.sort();
    assert_eq!(last, want, "{}", daemon.report());
    env.wait_list("all seeding after verify", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    // A verify of a paused torrent leaves it paused.
    ok(&["pause", &ids[1]]);
    wait_states(&mut daemon, ["seeding", "paused", "seeding"]);
    ok(&["verify", &ids[1]]);
    let start = Instant::now();
    while full_checks(&daemon).len() < 8 && start.elapsed() < DONE_WAIT {
        sleep(Duration::from_millis(200));
    }
    assert_eq!(full_checks(&daemon).len(), 8, "{}", daemon.report());
    wait_states(&mut daemon, ["seeding", "paused", "seeding"]);

    // A torrent that cannot open its files is listed with the error and can be removed.
    let torrents = env.root.path().join("torrents");
    let bad = Payload::make(
        &env.root.path().join("elsewhere"),
        &torrents,
        "bad.bin",
        &[("", 300_000)],
        7,
    );
    fs::create_dir_all(env.out.join("bad.bin").join("x")).unwrap();
    assert_eq!(env.verb(&["add", &bad.path()]).code, 0);
    let rows = env.wait_list("bad.bin in error", DONE_WAIT, &mut daemon, |r| {
        r.iter()
            .any(|r| r["info_hash"] == bad.hash().as_str() && r["state"] == "error")
    });
    let bad_id = row_of(&rows, &bad.hash())["id"].to_string();
    let removed = env.verb(&["remove", &bad_id]);
    assert_eq!(removed.code, 0, "{removed:?}");
    assert_eq!(env.list().len(), 3);
    assert!(!env.torrent_path(&bad.hash()).exists());
    assert!(daemon.term().success());

    // A paused torrent stays paused across a restart, the others seed again, and none is
    // checked again (their resume data is trusted).
    let mut daemon = Daemon::start(&env, "2", &[]);
    wait_states(&mut daemon, ["seeding", "paused", "seeding"]);
    assert_eq!(
        full_checks(&daemon),
        Vec::<(u64, u64)>::new(),
        "{}",
        daemon.report()
    );
    assert!(daemon.term().success());
}

/// Issue 19, 4: damaged resume files cost their torrent a full check, never the others.
#[test]
fn damaged_resume_files_cost_a_full_check_of_their_torrent_only() {
    require_loopback_only();
    let env = Env::new("ttui-session-damaged-");
    let torrents = env.root.path().join("torrents");
    let mut payloads = three_payloads(&env.out, &torrents);
    payloads.push(Payload::make(
        &env.out,
        &torrents,
        "delta.bin",
        &[("", 700_000)],
        4,
    ));
    payloads.push(Payload::make(
        &env.out,
        &torrents,
        "eps.bin",
        &[("", 500_000)],
        5,
    ));
    let counts: Vec<u64> = payloads.iter().map(|p| p.pieces).collect();
    let mut unique = counts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        counts.len(),
        "piece counts must tell torrents apart"
    );

    let mut daemon = Daemon::start(&env, "1", &[]);
    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    let mut add: Vec<&str> = vec!["add"];
    add.extend(paths.iter().map(String::as_str));
    assert_eq!(env.verb(&add).code, 0);
    env.wait_list("five checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 5)
    });
    assert!(daemon.term().success());

    // 0: truncated, 1: garbage, 2: another version, 3: torrent 4's resume; 4 untouched.
    let resume = |i: usize| env.resume_path(&payloads[i].hash());
    let bytes = fs::read(resume(0)).unwrap();
    fs::write(resume(0), &bytes[..bytes.len() / 2]).unwrap();
    fs::write(resume(1), b"\x00\xffnot bencode at all\x07").unwrap();
    let text = fs::read(resume(2)).unwrap();
    let at = find(&text, b"7:versioni1e").expect("version 1 in the resume file");
    let mut v2 = text.clone();
    v2[at + 10] = b'2';
    fs::write(resume(2), v2).unwrap();
    fs::copy(resume(4), resume(3)).unwrap();

    let mut daemon = Daemon::start(&env, "2", &[]);
    let rows = env.wait_list("five back", DONE_WAIT, &mut daemon, |r| all_seeding(r, 5));
    for p in &payloads {
        assert_eq!(
            row_of(&rows, &p.hash())["verified_bytes"],
            row_of(&rows, &p.hash())["total_bytes"]
        );
    }
    let log = daemon.log_text();
    let warned = lines_with(&log, "every piece is checked");
    for p in &payloads[..4] {
        assert!(
            warned.iter().any(|l| l.contains(&p.hash())),
            "no warning for {}\n{log}",
            p.torrent.name
        );
    }
    assert_eq!(warned.len(), 4, "{log}");
    let mut checked = verified_counts(&log, "checked existing data");
    checked.sort();
    let mut want: Vec<(u64, u64)> = counts[..4].iter().map(|&n| (n, n)).collect();
    want.sort();
    assert_eq!(checked, want, "{log}");
    assert_eq!(
        verified_counts(&log, "from the saved resume data (files unchanged)"),
        vec![(counts[4], counts[4])],
        "{log}"
    );
    assert!(daemon.term().success());
    // Their resume data is good again: the next start hashes nothing.
    let mut daemon = Daemon::start(&env, "3", &[]);
    env.wait_list("five back again", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 5)
    });
    let log = daemon.log_text();
    assert_eq!(
        verified_counts(&log, "from the saved resume data (files unchanged)").len(),
        5,
        "{log}"
    );
    assert!(daemon.term().success());
}

/// `ttui FILE` while a session runs hands the torrent over and exits 0: on a terminal (run
/// under `script`, which gives it one), and without any (in a new session by `setsid`, with
/// stdin, stdout and stderr not terminals), as when a browser opens a link. With no session
/// running and no terminal, it downloads on its own (the headless one-shot).
#[test]
fn ttui_file_hands_over_to_the_running_session_with_or_without_a_terminal() {
    require_loopback_only();
    let env = Env::new("ttui-session-handover-");
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "h.bin",
        &[("", 400_000)],
        8,
    );
    let mut daemon = Daemon::start(&env, "1", &[]);
    let line = format!(
        "{} --state-dir {} {}",
        env!("CARGO_BIN_EXE_ttui"),
        env.state.display(),
        p.path()
    );
    for (round, want) in [(1, "added"), (2, "already")] {
        let mut script = env.command("script");
        script
            .args(["-qec", &line, "/dev/null"])
            .env("TERM", "xterm");
        let out = run(script, "ttui FILE under script");
        assert_eq!(out.code, 0, "round {round}: {out:?}");
        assert!(out.stdout.contains(want), "round {round}: {out:?}");
        let rows = env.wait_list("the handed-over torrent", DONE_WAIT, &mut daemon, |r| {
            all_seeding(r, 1)
        });
        assert_eq!(rows[0]["info_hash"], p.hash().as_str());
    }
    // No terminal at all: a second torrent by file, then a magnet of the first.
    let q = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "q.bin",
        &[("", 300_000)],
        9,
    );
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=h.bin", p.hash());
    for (arg, want) in [(q.path(), "added"), (magnet, "already")] {
        let mut setsid = env.command("setsid");
        setsid.args(["--wait", env!("CARGO_BIN_EXE_ttui"), "--state-dir"]);
        setsid.arg(&env.state).arg(&arg);
        let out = run(setsid, "ttui FILE without a terminal");
        assert_eq!(out.code, 0, "{arg}: {out:?}");
        assert!(out.stdout.contains(want), "{arg}: {out:?}");
    }
    let rows = env.wait_list(
        "both torrents in the session",
        DONE_WAIT,
        &mut daemon,
        |r| all_seeding(r, 2),
    );
    assert!(
        rows.iter().any(|r| r["info_hash"] == q.hash().as_str()),
        "{rows:?}"
    );
    assert!(daemon.term().success());

    // No session: the one-shot checks the data where it is and ends, verified.
    let mut alone = env.ttui();
    alone.args(["--state-dir"]).arg(&env.state).arg(q.path());
    alone.arg("-o").arg(&env.out);
    let out = run(alone, "ttui FILE without a terminal or a session");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        (out.stdout.clone() + &out.stderr).contains("complete: q.bin"),
        "{out:?}"
    );
}

/// The desktop entry that registers ttui for magnet links and .torrent files passes
/// desktop-file-validate, runs in a terminal and hands over the links it is given.
#[test]
fn the_desktop_entry_is_valid_and_takes_magnets_and_torrent_files() {
    if !prereq::have_tools(&["desktop-file-validate"]) {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/ttui.desktop");
    let out = std::process::Command::new("desktop-file-validate")
        .arg(path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    let text = fs::read_to_string(path).unwrap();
    let key = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_string()
    };
    let mimes = key("MimeType");
    assert!(
        mimes.split(';').any(|m| m == "x-scheme-handler/magnet"),
        "{mimes}"
    );
    assert!(
        mimes.split(';').any(|m| m == "application/x-bittorrent"),
        "{mimes}"
    );
    assert_eq!(key("Terminal"), "true");
    assert_eq!(key("Exec"), "ttui %U");
}

/// Issue 19 ("move while seeding"): a seeding torrent is moved with `ttui move`; its files
/// leave the old place whole, and a python3-libtorrent leecher that dials the daemon only
/// afterwards completes from the new one.
#[test]
fn move_while_seeding_then_a_libtorrent_leecher_completes_from_the_new_place() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-session-move-");
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "moving",
        &[("a.bin", 3 << 20), ("sub/b.bin", (1 << 20) + 333)],
        7,
    );
    let port = free_port();
    let mut daemon = Daemon::start(&env, "1", &["--port".into(), port.to_string()]);
    let added = env.verb(&["add", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    let rows = env.wait_list("the data checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    let id = row_of(&rows, &p.hash())["id"].to_string();
    let before: Vec<Vec<u8>> = p
        .files
        .iter()
        .map(|(rel, _)| fs::read(env.out.join(rel)).unwrap())
        .collect();

    let dest = env.root.path().join("elsewhere");
    fs::create_dir_all(&dest).unwrap();
    let dest_s = dest.to_str().unwrap().to_string();
    let moved = env.verb(&["move", &id, &dest_s]);
    assert_eq!(moved.code, 0, "{moved:?}");
    env.wait_list("the move to finish", DONE_WAIT, &mut daemon, |r| {
        let row = row_of(r, &p.hash());
        row["save_path"].as_str() == Some(dest_s.as_str()) && row["state"] == "seeding"
    });
    for ((rel, _), bytes) in p.files.iter().zip(&before) {
        assert!(!env.out.join(rel).exists(), "{} left behind", rel.display());
        assert!(
            fs::read(dest.join(rel)).unwrap() == *bytes,
            "{} changed in the move",
            rel.display()
        );
    }

    let save = env.root.path().join("leech");
    fs::create_dir_all(&save).unwrap();
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&p.torrent, &save, opts);
    leecher.wait_done(DONE_WAIT);
    for ((rel, _), bytes) in p.files.iter().zip(&before) {
        assert!(
            fs::read(save.join(rel)).unwrap() == *bytes,
            "{}: the leecher's copy differs\n{}",
            rel.display(),
            leecher.report()
        );
    }
    let total: u64 = p.files.iter().map(|f| f.1).sum();
    // ttui's lifetime counter shows it served the whole torrent (the row lags by a tick).
    env.wait_list("the upload counted", DONE_WAIT, &mut daemon, |r| {
        row_of(r, &p.hash())["uploaded"].as_u64().unwrap_or(0) >= total
    });
    assert!(daemon.term().success());
}

/// Labels: `add --label` with the label's config table (its save path and seeding goal),
/// `ttui label` adding and taking away, a bad label refused in one line with nothing
/// changed, the list's JSON, and a restart that keeps them.
#[test]
fn labels_come_from_add_the_label_verb_and_the_config_and_survive_a_restart() {
    require_loopback_only();
    let env = Env::new("ttui-session-labels-");
    let tv = env.root.path().join("tv");
    let payloads = three_payloads(&tv, &env.root.path().join("torrents"));
    let cfg = env.root.path().join("config.toml");
    let table = format!(
        "[labels.tv]\nsave_path = {:?}\nseed_ratio = 0\n",
        tv.display().to_string()
    );
    fs::write(&cfg, table).unwrap();
    let config = ["--config".to_string(), cfg.display().to_string()];
    let mut daemon = Daemon::start(&env, "1", &config);
    let (alpha, beta) = (payloads[0].path(), payloads[1].path());
    let added = env.verb(&["add", "--label", "tv,sonarr", &alpha]);
    assert_eq!(added.code, 0, "{added:?}");
    let plain = env.verb(&["add", "--paused", &beta]);
    assert_eq!(plain.code, 0, "{plain:?}");
    // Its data is in the label's directory: found there, checked, complete; and the label's
    // ratio goal of 0 is its own, so it is met at once and pauses it, saying so.
    let rows = env.wait_list(
        "alpha complete from tv/ and paused by its goal",
        DONE_WAIT,
        &mut daemon,
        |r| {
            r.len() == 2
                && row_of(r, &payloads[0].hash())["why"]
                    .as_str()
                    .is_some_and(|w| w.contains("goal 0"))
        },
    );
    let a = row_of(&rows, &payloads[0].hash());
    assert_eq!(a["progress"], 1.0, "{a}");
    assert_eq!(a["labels"], serde_json::json!(["tv", "sonarr"]), "{a}");
    assert_eq!(a["save_path"], tv.display().to_string(), "{a}");
    let b = row_of(&rows, &payloads[1].hash());
    assert_eq!(b["labels"], serde_json::json!([]), "{b}");
    assert_eq!(b["save_path"], env.out.display().to_string(), "{b}");
    let id_a = a["id"].to_string();
    let id_b = b["id"].to_string();

    let changed = env.verb(&["label", &id_a, "-sonarr", "+hd", "--json"]);
    assert_eq!(changed.code, 0, "{changed:?}");
    let rows: Vec<Value> = serde_json::from_str(&changed.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0]["labels"],
        serde_json::json!(["tv", "hd"]),
        "{rows:?}"
    );
    let people = env.verb(&["label", &id_b, "films"]);
    assert_eq!(people.code, 0, "{people:?}");
    // The table for people (its LABELS column goes first when the terminal is narrow).
    assert!(people.stdout.contains("beta"), "{people:?}");
    let rows = env.list();
    assert_eq!(
        row_of(&rows, &payloads[1].hash())["labels"],
        serde_json::json!(["films"])
    );

    for bad in ["a,b", "-", "+"] {
        let refused = env.verb(&["label", &id_b, bad]);
        assert_eq!(refused.code, 2, "{bad}: {refused:?}");
        assert_one_line(&refused.stderr, "a bad label");
    }
    let refused = env.verb(&["add", "--label", "x\u{7}", &beta]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_one_line(&refused.stderr, "a bad label on add");
    let unknown = env.verb(&["label", "99", "+x"]);
    assert_eq!(unknown.code, 4, "{unknown:?}");

    // A restart keeps them.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &config);
    let rows = env.wait_list("both back", DONE_WAIT, &mut daemon, |r| r.len() == 2);
    let a = row_of(&rows, &payloads[0].hash());
    assert_eq!(a["labels"], serde_json::json!(["tv", "hd"]), "{a}");
    let b = row_of(&rows, &payloads[1].hash());
    assert_eq!(b["labels"], serde_json::json!(["films"]), "{b}");
    let cleared = env.verb(&["label", &id_b, "--clear", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&cleared.stdout).unwrap();
    assert_eq!(rows[0]["labels"], serde_json::json!([]), "{cleared:?}");
    assert!(daemon.term().success());
}
