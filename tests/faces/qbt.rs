//! qBittorrent's Web API of a real `ttui daemon --qbt`, driven by the `qbittorrent-api`
//! Python package (installed by tests/run.sh into the venv named by TTUI_PY_VENV) and by
//! raw requests for the hostile cases (tests/faces/qbt/driver.py): categories and tags over the
//! API, seen the same in `ttui list --json` and kept over a restart; stop, start, recheck;
//! bad cookies, a foreign Referer, a wrong Host, a login ban that ends; the third round's
//! log, piece hashes, added peers (a second seeder named only through `addPeers`), rename,
//! tracker edits (kept over the restart) and sync's own fields; and the refusal to listen
//! beyond loopback without credentials.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prereq;
use crate::tools;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use kit::*;
use tools::{Setup, PASSWORD};

const DRIVER: &str = include_str!("qbt/driver.py");
const BAN_SECS: u64 = 3;

fn python() -> Option<PathBuf> {
    std::env::var_os("TTUI_PY_VENV")
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file())
}

/// The driver's phase ended with its last line; else its output and the daemon's log.
fn passed(out: Out, daemon: &mut Daemon) {
    assert!(
        out.code == 0 && out.stdout.contains("PHASE OK"),
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        daemon.report()
    );
}

#[test]
fn qbittorrent_api_drives_categories_tags_and_actions_and_they_survive_a_restart() {
    require_loopback_only();
    let Some(python) = python() else {
        prereq::skip("the qbittorrent-api venv (TTUI_PY_VENV, made by tests/run.sh)");
        return;
    };
    let Setup {
        env,
        daemon,
        payloads,
        qbt,
        extra,
        seeder: _seeder,
    } = Setup::start("ttui-qbt-", &format!("ban = \"{BAN_SECS}s\"\n"));
    let mut daemon = daemon;
    let a = &payloads[0];
    // b's seeder: the daemon hears of it only through `torrents/addPeers`.
    let fixtures = env.root.path().join("fixtures");
    let b_seed_port = free_port();
    let _b_seeder = spawn_ttui_seeder(
        &payloads[1].torrent.path,
        &fixtures.join("data"),
        b_seed_port,
        &["--no-dht", "--bind", "127.0.0.1"],
    );
    let added = env.verb(&["add", &a.path()]);
    assert_eq!(added.code, 0, "{added:?}");

    let tv = env.root.path().join("tv").display().to_string();
    let script = env.root.path().join("driver.py");
    fs::write(&script, DRIVER).unwrap();
    let drive = |phase: &str| {
        let mut cmd = env.command(python.to_str().unwrap());
        cmd.arg(&script)
            .arg(qbt.rsplit(':').next().unwrap())
            .args([tools::USER, PASSWORD, &a.hash(), &tv])
            .arg(BAN_SECS.to_string())
            .arg(phase)
            .args([payloads[1].path(), payloads[1].hash(), payloads[2].hash()])
            .arg(b_seed_port.to_string())
            .arg(payloads[2].path());
        run_within(cmd, "the qbittorrent-api driver", Duration::from_secs(240))
    };
    passed(drive("first"), &mut daemon);
    // The same torrent in `ttui list --json`: its labels, state and progress agree.
    let rows = env.list();
    let row = row_of(&rows, &a.hash());
    assert_eq!(row["labels"], serde_json::json!(["tv", "hd"]), "{row}");
    assert_eq!(row["progress"], 1.0, "{row}");
    // setLocation moved the data, renameFile renamed the file in its new place.
    let moved = env.root.path().join("tv/moved");
    assert_eq!(row["save_path"], moved.display().to_string(), "{row}");
    assert!(moved.join("renamed.bin").is_file(), "{row}");
    assert!(
        env.state.join("torrents/catalog.json").is_file(),
        "the catalog is kept in the state directory"
    );

    // A restart: the category made over the API, and the torrent's labels, come back.
    daemon.assert_alive("before the restart");
    daemon.term();
    let mut daemon = Daemon::start(&env, "2", &extra);
    passed(drive("again"), &mut daemon);
    daemon.assert_alive("the end");
}

#[test]
fn an_open_address_without_credentials_is_refused_in_one_line() {
    require_loopback_only();
    let env = Env::new("ttui-qbt-refuse-");
    let mut cmd = env.ttui();
    cmd.args(["daemon", "--no-config", "--state-dir"])
        .arg(&env.state)
        .args(["--no-dht", "--port", "0", "--qbt"])
        .arg(format!("0.0.0.0:{}", free_port()));
    let out = run(cmd, "ttui daemon --qbt 0.0.0.0");
    assert_eq!(out.code, 1, "{out:?}");
    assert_one_line(&out.stderr, "the refusal");
    assert!(out.stderr.contains("qbt.username"), "{out:?}");
    assert!(
        !env.state.join("torrents").exists(),
        "nothing started: {out:?}"
    );
}

/// qbittorrent-api adds a .torrent with `is_skip_checking=True` over its data, one piece of
/// which is corrupt: the data is proven anyway, so that piece is missing (not seeded) and the
/// rest verified; the client hears `Ok.` and sees the torrent as it is.
const SKIP_CHECKING: &str = r#"
import sys, time, qbittorrentapi
port, user, password, torrent, save, h, bad = sys.argv[1:8]
c = qbittorrentapi.Client(host="127.0.0.1", port=int(port), username=user, password=password)
c.auth_log_in()
r = c.torrents_add(torrent_files=torrent, save_path=save, is_skip_checking=True)
assert r == "Ok.", r
deadline = time.time() + 60
while True:
    rows = c.torrents_info(torrent_hashes=h)
    if rows and rows[0]["state"] not in ("checkingDL", "checkingUP", "checkingResumeData", "metaDL", "allocating", "queuedDL", "queuedUP"):
        states = list(c.torrents_piece_states(torrent_hash=h))
        if states.count(2) == len(states) - 1:
            break
    assert time.time() < deadline, f"never checked: {rows} {c.torrents_piece_states(torrent_hash=h)}"
    time.sleep(0.2)
t = rows[0]
print("state", t["state"], "progress", t["progress"], "states", states)
assert states[int(bad)] != 2, f"the corrupt piece counts as had: {states}"
assert t["progress"] < 1, t
assert t["state"] not in ("uploading", "stalledUP", "forcedUP", "queuedUP"), t
print("SKIP OK")
"#;

#[test]
fn skip_checking_over_a_corrupt_piece_does_not_seed_it() {
    require_loopback_only();
    let Some(python) = python() else {
        prereq::skip("the qbittorrent-api venv (TTUI_PY_VENV, made by tests/run.sh)");
        return;
    };
    let Setup {
        env,
        mut daemon,
        payloads,
        qbt,
        ..
    } = Setup::start("ttui-qbt-skip-", "");
    // gamma.bin (no seeder here), copied with its second piece corrupt.
    let p = &payloads[2];
    let save = env.root.path().join("library");
    fs::create_dir_all(&save).unwrap();
    let mut bytes = fs::read(&p.root).unwrap();
    let bad = 1usize;
    let at = bad * crate::payload::PLEN as usize + 100;
    for b in &mut bytes[at..at + 64] {
        *b ^= 0x5a;
    }
    fs::write(save.join("gamma.bin"), &bytes).unwrap();
    let script = env.root.path().join("skip.py");
    fs::write(&script, SKIP_CHECKING).unwrap();
    let mut cmd = env.command(python.to_str().unwrap());
    cmd.arg(&script)
        .arg(qbt.rsplit(':').next().unwrap())
        .args([tools::USER, PASSWORD])
        .arg(&p.torrent.path)
        .arg(&save)
        .args([p.hash(), bad.to_string()]);
    let out = run_within(cmd, "qbittorrent-api's add", Duration::from_secs(90));
    assert!(
        out.code == 0 && out.stdout.contains("SKIP OK"),
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        daemon.report()
    );
    // The session's own list agrees once its line is published (a tick).
    let want = bytes.len() as u64 - crate::payload::PLEN;
    let rows = env.wait_list(
        "the line to show the check",
        Duration::from_secs(10),
        &mut daemon,
        |r| {
            r.iter()
                .any(|t| t["info_hash"] == p.hash() && t["verified_bytes"].as_u64() == Some(want))
        },
    );
    assert_eq!(row_of(&rows, &p.hash())["state"], "downloading");
    daemon.assert_alive("the end");
}
