//! qBittorrent's real tools drive a real `ttui daemon --qbt`, unchanged: `@ctrl/qbittorrent`
//! (npm) adds, lists, pauses, labels and removes; Flood's qBittorrent backend lists and
//! adds; aioqbt (PyPI) logs in twenty times in a row; qbit_manage (PyPI) reads the library in a dry run and changes nothing; a web page
//! of our own in headless Chromium logs in and lists from `sync/maindata`, served by
//! `[qbt] web_home`; and 500 half-sent requests from 127.0.0.2 neither stop
//! `qbittorrent-api` from answering nor stay open past the header timeout.
//!
//! The scripts and the page are in tests/faces/qbt_tools/ and are read when the test runs (edit
//! them without a rebuild); the packages are installed by tests/run.sh (npm ci of
//! tests/faces/qbt_tools/node/, the venvs). Run through tests/run.sh: the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prereq;
use crate::tools;

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use common::*;
use kit::*;
use tools::*;

/// A script's whole run, its own waits included.
const SCRIPT_LIMIT: Duration = Duration::from_secs(150);

/// The script's last line says it passed; else its output and the daemon's log.
fn passed(out: &Out, what: &str, s: &mut Setup) {
    assert!(
        out.code == 0 && out.stdout.contains("PHASE OK"),
        "{what}:\n{}\n{}\n{}",
        out.stdout,
        out.stderr,
        s.daemon.report()
    );
}

#[test]
fn ctrl_qbittorrent_adds_lists_pauses_labels_and_removes_with_data() {
    require_loopback_only();
    let Some(modules) = node_modules() else {
        return;
    };
    let mut s = Setup::start("ttui-qbt-ctrl-", "");
    let script = node_script(&s.env, &modules, "ctrl.mjs");
    let save = s.env.root.path().join("library/tv");
    let (a_path, a_hash, a_len) = (
        s.payloads[0].path(),
        s.payloads[0].hash(),
        s.payloads[0].files[0].1,
    );
    let c_hash = s.payloads[2].hash();
    let drive = |s: &mut Setup, phase: &str| {
        let mut cmd = s.env.command("node");
        cmd.arg(&script)
            .args([&s.url(), USER, PASSWORD, &a_path, &a_hash, &c_hash])
            .arg(&save)
            .arg(phase);
        let out = run_within(cmd, "@ctrl/qbittorrent", SCRIPT_LIMIT);
        passed(&out, phase, s);
        out
    };
    let out = drive(&mut s, "main");
    assert!(out.stdout.contains(r#""step":"edited""#), "{}", out.stdout);

    // What the package did, seen by the session: A complete in the save path it asked for,
    // its category and tags as labels, seeding again after the pause; C removed.
    let rows = s.env.list();
    let row = listed(&rows, &a_hash).unwrap_or_else(|| panic!("A listed: {rows:?}"));
    assert_eq!(labels(row), ["archive", "hd", "kept"], "{row}");
    assert_eq!(row["labels"][0], "archive", "the category first: {row}");
    assert_eq!(row["save_path"], save.display().to_string(), "{row}");
    assert_eq!(row["progress"], 1.0, "{row}");
    assert_eq!(row["state"], "seeding", "{row}");
    assert!(listed(&rows, &c_hash).is_none(), "C removed: {rows:?}");
    let file = save.join("alpha.bin");
    assert_eq!(
        fs::metadata(&file).map(|m| m.len()).ok(),
        Some(a_len),
        "{}",
        file.display()
    );

    drive(&mut s, "remove");
    let rows = s.env.list();
    assert!(listed(&rows, &a_hash).is_none(), "A removed: {rows:?}");
    assert!(
        !file.exists(),
        "A's data removed with it: {}",
        file.display()
    );
    s.daemon.assert_alive("the end");
}

#[test]
fn flood_with_its_qbittorrent_backend_lists_and_adds() {
    require_loopback_only();
    let Some(modules) = node_modules() else {
        return;
    };
    let flood_js = modules.join("node_modules/flood/dist/index.js");
    let mut s = Setup::start("ttui-qbt-flood-", "");
    s.add(0, &[]);
    s.wait_a_complete();
    let rundir = s.env.root.path().join("flood");
    let dest = s.env.root.path().join("library/from-flood");
    fs::create_dir_all(&dest).unwrap();
    let flood_port = free_port().to_string();
    let mut cmd = s.env.command("node");
    cmd.arg(&flood_js)
        .args(["--auth", "none", "--qburl", &s.url(), "--qbuser", USER])
        .args([
            "--qbpass",
            PASSWORD,
            "--host",
            "127.0.0.1",
            "--port",
            &flood_port,
        ])
        .arg("--rundir")
        .arg(&rundir)
        .arg("--allowedpath")
        .arg(s.env.root.path())
        .env("HOME", s.env.root.path());
    let mut flood = Proc::spawn("flood", &mut cmd, &s.env.logs);

    let script = node_script(&s.env, &modules, "flood.mjs");
    let b = &s.payloads[1];
    let mut cmd = s.env.command("node");
    cmd.arg(&script)
        .arg(format!("http://127.0.0.1:{flood_port}"))
        .args([&s.payloads[0].hash(), &b.path()])
        .arg(&dest);
    let out = run_within(cmd, "Flood's API", SCRIPT_LIMIT);
    assert!(
        out.code == 0 && out.stdout.contains("PHASE OK"),
        "{}\n{}\n{}\n{}",
        out.stdout,
        out.stderr,
        flood.report(),
        s.daemon.report()
    );
    // What Flood added is in the session: its directory, its tag, not started.
    let rows = s.env.list();
    let row = listed(&rows, &b.hash()).unwrap_or_else(|| panic!("B listed: {rows:?}"));
    assert_eq!(row["save_path"], dest.display().to_string(), "{row}");
    assert_eq!(labels(row), ["flood"], "{row}");
    assert_eq!(row["state"], "paused", "{row}");
    flood.kill();
    s.daemon.assert_alive("the end");
}

/// aioqbt (aiohttp) quotes a SID that holds a `/`; twenty logins in a row all list.
#[test]
fn aioqbt_logs_in_twenty_times_in_a_row_and_lists_every_time() {
    require_loopback_only();
    let Some(python) = venv_python("TTUI_PY_VENV") else {
        return;
    };
    let mut s = Setup::start("ttui-qbt-aioqbt-", "");
    s.add(0, &["--paused"]);
    let script = s.env.root.path().join("aioqbt_logins.py");
    fs::copy(own("aioqbt_logins.py"), &script).unwrap();
    let mut cmd = s.env.command(python.to_str().unwrap());
    cmd.arg(&script)
        .args([&s.url(), USER, PASSWORD, &s.payloads[0].hash()]);
    let out = run_within(cmd, "aioqbt", SCRIPT_LIMIT);
    passed(&out, "twenty aioqbt logins", &mut s);
    s.daemon.assert_alive("the end");
}

#[test]
fn qbit_manage_dry_run_reads_the_library_and_changes_nothing() {
    require_loopback_only();
    let Some(python) = venv_python("TTUI_QBM_VENV") else {
        return;
    };
    let mut s = Setup::start("ttui-qbt-manage-", "");
    let tv = s.env.root.path().join("library/tv");
    s.add(0, &["-o", &tv.display().to_string()]);
    s.add(1, &["--paused", "--label", "loopback"]);
    s.add(2, &["--paused"]);
    s.wait_a_complete();
    let before = s.env.list();

    // Categories by save path, a tag by tracker (the payloads announce to 127.0.0.1:1).
    let root = s.env.root.path();
    let config = format!(
        "commands:\n  dry_run: true\n  cat_update: true\n  tag_update: true\n  \
         rem_unregistered: false\n  tag_tracker_error: false\n  rem_orphaned: false\n  \
         tag_nohardlinks: false\n  share_limits: false\n  recheck: false\n  cross_seed: false\n  \
         skip_cleanup: true\n  skip_qb_version_check: true\n\
         qbt:\n  host: \"{url}\"\n  user: \"{USER}\"\n  pass: \"{PASSWORD}\"\n\
         settings:\n  force_auto_tmm: false\n  tracker_error_tag: issue\n\
         directory:\n  root_dir: \"{root}/library\"\n  remote_dir: \"{root}/library\"\n\
         cat:\n  tv: \"{tv}\"\n\
         tracker:\n  127.0.0.1:\n    tag: loopback\n  other:\n    tag: other\n",
        url = s.url(),
        root = root.display(),
        tv = tv.display(),
    );
    let dir = root.join("qbm");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.yml"), config).unwrap();
    let mut cmd = s.env.command(python.to_str().unwrap());
    cmd.args([
        "-m",
        "qbit_manage",
        "--run",
        "--dry-run",
        "--web-server=False",
    ])
    .arg("--config-dir")
    .arg(&dir)
    .args(["--log-file", "qbm.log", "--width", "200"])
    .env("HOME", root);
    let out = run_within(cmd, "qbit_manage", SCRIPT_LIMIT);
    let log = fs::read_to_string(dir.join("logs/qbm.log")).unwrap_or_default();
    assert_eq!(
        out.code,
        0,
        "{}\n{}\n{log}\n{}",
        out.stdout,
        out.stderr,
        s.daemon.report()
    );
    let said = format!("{}\n{log}", out.stdout);
    // What it would do: tag by their tracker the two without the tracker's tag (beta has
    // it, as a ttui label), file alpha.bin under tv by its save path; and that it did not.
    for line in [
        "Torrent Name: gamma.bin",
        "New Tag: loopback",
        "Did not update 2 new tags.",
        "New Category: tv",
        "Did not update 1 new categories.",
    ] {
        assert!(said.contains(line), "`{line}` missing:\n{said}");
    }
    assert!(
        !said.lines().any(|l| l.contains("Torrent Name: beta")),
        "beta has the tag already:\n{said}"
    );
    assert!(!said.contains("Traceback"), "{said}");
    // A dry run: the session is as it was.
    let after = s.env.list();
    for b in &before {
        let hash = b["info_hash"].as_str().unwrap_or_default();
        let a = listed(&after, hash).unwrap_or_else(|| panic!("{hash} still listed"));
        assert_eq!(a["labels"], b["labels"], "labels of {hash}");
        assert_eq!(a["save_path"], b["save_path"], "save path of {hash}");
        assert_eq!(a["state"], b["state"], "state of {hash}");
    }
    s.daemon.assert_alive("the end");
}

#[test]
fn a_web_page_in_chromium_logs_in_and_lists_from_sync_maindata() {
    require_loopback_only();
    if !prereq::have_tools(&["chromium"]) {
        return;
    }
    let web = own("web");
    // films is a category (a label with a directory, from the config), tv and hd tags.
    let mut s = Setup::start(
        "ttui-qbt-web-",
        &format!(
            "web_home = {:?}\n[labels.films]\nsave_path = \"/srv/films\"\n",
            web.display().to_string()
        ),
    );
    s.add(0, &["--label", "tv,hd"]);
    let films = s.env.root.path().join("films").display().to_string();
    s.add(1, &["--paused", "--label", "films", "-o", &films]);
    s.add(2, &["--paused"]);
    s.wait_a_complete();
    let page = format!("{}/#user={USER}&pass={PASSWORD}", s.url());
    let profile = s.env.root.path().join("chromium-profile");
    let chromium = |extra: &[&str], what: &str| {
        let mut cmd = s.env.command("chromium");
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu"])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args(["--disable-sync", "--no-first-run", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--virtual-time-budget=10000")
            .args(extra)
            .arg(&page);
        run_within(cmd, what, Duration::from_secs(60))
    };
    let dom = chromium(&["--dump-dom"], "chromium --dump-dom");
    assert!(
        dom.stdout.contains(r#"data-loaded="yes""#),
        "the page did not list:\n{}\n{}",
        dom.stdout,
        dom.stderr
    );
    for (p, name) in s.payloads.iter().zip(["alpha.bin", "beta", "gamma.bin"]) {
        let row = format!(r#"data-hash="{}"><td class="name">{name}</td>"#, p.hash());
        assert!(dom.stdout.contains(&row), "{name} listed:\n{}", dom.stdout);
    }
    assert!(dom.stdout.contains("3 torrents"), "{}", dom.stdout);
    assert!(
        dom.stdout.contains(r#"<td class="category">films</td>"#)
            && dom.stdout.contains(r#"<td class="tags">tv, hd</td>"#),
        "{}",
        dom.stdout
    );
    // A wrong password gets the page's refusal, not a list.
    let wrong = format!("{}/#user={USER}&pass=wrong", s.url());
    let mut cmd = s.env.command("chromium");
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--disable-background-networking", "--no-first-run"])
        .arg(format!(
            "--user-data-dir={}",
            s.env.root.path().join("p2").display()
        ))
        .args(["--virtual-time-budget=5000", "--dump-dom", &wrong]);
    let refused = run_within(cmd, "chromium, a wrong password", Duration::from_secs(60));
    assert!(
        refused.stdout.contains(r#"data-loaded="refused""#),
        "{}",
        refused.stdout
    );

    // The screenshot: into the test's dir, and into TTUI_SCREENSHOT_DIR when set (how
    // screenshots/qbt-web.png is made).
    let png = s.env.root.path().join("qbt-web.png");
    let shot = chromium(
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=820,230",
        ],
        "chromium --screenshot",
    );
    let bytes = fs::read(&png).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() < 80 << 10,
        "{} bytes\n{shot:?}",
        bytes.len()
    );
    if let Some(dir) = std::env::var_os("TTUI_SCREENSHOT_DIR") {
        fs::copy(&png, Path::new(&dir).join("qbt-web.png")).unwrap();
    }
    s.daemon.assert_alive("the end");
}

#[test]
fn five_hundred_half_sent_requests_from_another_address_leave_a_real_client_its_answers() {
    require_loopback_only();
    let Some(python) = venv_python("TTUI_PY_VENV") else {
        return;
    };
    let mut s = Setup::start("ttui-qbt-half-", "");
    s.add(0, &[]);
    let fds_before = open_fds(s.daemon.pid());
    let script = s.env.root.path().join("halfsent.py");
    fs::copy(own("halfsent.py"), &script).unwrap();
    let mut cmd = s.env.command(python.to_str().unwrap());
    // The door's header timeout (src/http/door.rs, Limits::default): 10 s.
    cmd.arg(&script)
        .args([s.port(), USER, PASSWORD, "500", "10"]);
    let out = run_within(cmd, "the half-sent requests", Duration::from_secs(90));
    assert_eq!(out.code, 0, "{out:?}\n{}", s.daemon.report());
    let seen: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    eprintln!("half-sent: {seen}");
    assert_eq!(
        seen["connected"].as_u64().unwrap_or(0) + seen["refused"].as_u64().unwrap_or(0),
        500,
        "{seen}"
    );
    // The door keeps at most 128 connections: the flood's older ones made room (counted
    // once the listen backlog has drained).
    assert!(
        seen["held_settled"].as_u64().is_some_and(|n| n <= 128),
        "{seen}"
    );
    assert!(
        seen["client_secs"].as_f64().is_some_and(|t| t < 10.0),
        "{seen}"
    );
    assert_eq!(seen["names"], serde_json::json!(["alpha.bin"]), "{seen}");
    assert_eq!(seen["held_after_timeout"], 0, "{seen}");
    // And the daemon's descriptors are back where they were (a few of the client's own
    // keep-alive connections may remain).
    let fds_after = open_fds(s.daemon.pid());
    assert!(
        fds_after <= fds_before + 4,
        "{fds_before} descriptors before, {fds_after} after"
    );
    s.daemon.assert_alive("the end");
}
