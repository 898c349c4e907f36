//! qBittorrent's real tools drive a real `ttui daemon --qbt`, unchanged: `@ctrl/qbittorrent`
//! (npm) adds, lists, pauses, labels and removes; Flood's qBittorrent backend lists and
//! adds; aioqbt (PyPI) logs in twenty times in a row; qbit_manage (PyPI) reads the library in a dry run and changes nothing; a web page
//! of our own in headless Chromium logs in and lists from `sync/maindata`, served by
//! `[qbt] web_home`; 500 half-sent requests from 127.0.0.2 neither stop
//! `qbittorrent-api` from answering nor stay open past the header timeout; and
//! `qbittorrent-api`, aioqbt and `@ctrl/qbittorrent` run one call list against ttui and
//! against qbittorrent-nox 4.5 (Debian's), whose answers differ only where `ttui man qbt` says.
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

/// qbittorrent-nox 4.5 (Debian's), the reference server: a profile of its own, its WebUI
/// and its listening port on 127.0.0.1 only, DHT, PeX, LSD, port forwarding and the
/// peer-country lookup (a GeoIP download) off, the legal notice accepted; admin/adminadmin,
/// 4.5's default login. SIGKILLed by pid and waited for when dropped.
struct Nox {
    proc: Proc,
    url: String,
}

impl Nox {
    const USER: &'static str = "admin";
    const PASSWORD: &'static str = "adminadmin";

    fn start(env: &Env, lib: &Path) -> Nox {
        let root = env.root.path();
        let profile = root.join("nox");
        let config = profile.join("qBittorrent/config");
        fs::create_dir_all(&config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let (web, listen) = (free_port(), free_port());
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n\n\
             [BitTorrent]\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\n\
             Session\\PeXEnabled=false\nSession\\Interface=lo\nSession\\InterfaceName=lo\n\
             Session\\InterfaceAddress=127.0.0.1\nSession\\Port={listen}\n\
             Session\\DefaultSavePath={lib}\n\n\
             [Network]\nPortForwardingEnabled=false\n\n\
             [Preferences]\nConnection\\ResolvePeerCountries=false\nWebUI\\Address=127.0.0.1\n\
             WebUI\\Port={web}\nWebUI\\UseUPnP=false\nWebUI\\LocalHostAuth=true\n",
            lib = lib.display(),
        );
        fs::write(config.join("qBittorrent.conf"), conf)
            .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let mut cmd = env.command("qbittorrent-nox");
        cmd.arg(format!("--profile={}", profile.display()))
            .arg(format!("--webui-port={web}"))
            .env("HOME", root);
        let mut proc = Proc::spawn("qbittorrent-nox", &mut cmd, &env.logs);
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], web).into();
        // Its WebUI listens once the session is ready (a connection is enough: it keeps even
        // an HTTP/1.0 one open, so `http_get` would wait for its end).
        proc.wait_until("qbittorrent-nox's WebUI", Duration::from_secs(20), |_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        });
        Nox {
            proc,
            url: format!("http://{addr}"),
        }
    }
}

/// The same calls from three real clients to ttui and to qbittorrent-nox 4.5, compared.
/// `qbittorrent-api` adds alpha.bin (its data where it is saved: checked, complete) and beta
/// (paused) to each server, then it, `aioqbt` and `@ctrl/qbittorrent` each run one call list
/// (tests/faces/qbt_tools/nox_calls.py and .mjs: versions, preferences, the torrent list,
/// properties, files, trackers, categories, tags, sync/maindata full and incremental,
/// pause/resume, setCategory, rename, an add and a delete); aioqbt also logs in twenty times
/// in a row. nox_compare.py names every difference (call, key, both values) and fails on any
/// not in its allowlist, each entry of which quotes assets/man/qbt.md.
#[test]
fn three_clients_run_one_call_list_against_ttui_and_qbittorrent_nox() {
    require_loopback_only();
    if !prereq::have_tools(&["qbittorrent-nox"]) {
        return;
    }
    let Some(python) = venv_python("TTUI_PY_VENV") else {
        return;
    };
    let Some(modules) = node_modules() else {
        return;
    };
    // PeX and LSD off in ttui too (the DHT is off in every test daemon), as in nox's.
    let mut s = Setup::start_with("ttui-qbt-nox-", "pex = false\nlsd = false", "");
    let root = s.env.root.path().to_path_buf();
    // Each server's library: a copy of alpha.bin's data, so each checks and seeds its own.
    let alpha = &s.payloads[0];
    let mut libs = Vec::new();
    for server in ["ttui", "nox"] {
        let lib = root.join(format!("{server}-lib"));
        let name = &alpha.files[0].0;
        fs::create_dir_all(&lib)
            .and_then(|()| fs::copy(root.join("fixtures/data").join(name), lib.join(name)))
            .unwrap_or_else(|e| panic!("{}: {e}", lib.display()));
        libs.push(lib);
    }
    let mut nox = Nox::start(&s.env, &libs[1]);
    let servers = [
        ("ttui", s.url(), USER, PASSWORD, &libs[0]),
        ("nox", nox.url.clone(), Nox::USER, Nox::PASSWORD, &libs[1]),
    ];
    let torrents: serde_json::Map<String, Value> = ["alpha", "beta", "gamma"]
        .iter()
        .zip(&s.payloads)
        .map(|(n, p)| {
            (
                n.to_string(),
                serde_json::json!({"path": p.path(), "hash": p.hash()}),
            )
        })
        .collect();
    let calls = s.env.root.path().join("calls");
    let py_script = root.join("nox_calls.py");
    fs::create_dir_all(&calls)
        .and_then(|()| fs::copy(own("nox_calls.py"), &py_script))
        .unwrap_or_else(|e| panic!("{}: {e}", calls.display()));
    let node_calls = node_script(&s.env, &modules, "nox_calls.mjs");

    // Each client runs against both servers at once; qbittorrent-api first (it adds).
    for client in ["qbapi", "aioqbt", "ctrl"] {
        let runs: Vec<(String, std::process::Command)> = servers
            .iter()
            .map(|(server, url, user, password, lib)| {
                let job = calls.join(format!("job-{client}-{server}.json"));
                let out = calls.join(format!("out-{client}-{server}.json"));
                let spec = serde_json::json!({
                    "url": url, "user": user, "password": password,
                    "lib": lib.display().to_string(), "setup": client == "qbapi",
                    "torrents": torrents,
                });
                fs::write(&job, spec.to_string())
                    .unwrap_or_else(|e| panic!("{}: {e}", job.display()));
                let mut cmd = if client == "ctrl" {
                    let mut c = s.env.command("node");
                    c.arg(&node_calls);
                    c
                } else {
                    let mut c = s.env.command(&python.display().to_string());
                    c.arg(&py_script).arg(client);
                    c
                };
                cmd.arg(&job).arg(&out);
                (format!("{client} against {server}"), cmd)
            })
            .collect();
        let outs: Vec<(String, Out)> = std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .into_iter()
                .map(|(what, cmd)| {
                    scope.spawn(move || {
                        let out = run_within(cmd, &what, Duration::from_secs(45));
                        (what, out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| panic!("a {client} run panicked"))
                })
                .collect()
        });
        for (what, out) in outs {
            assert!(
                out.code == 0 && out.stdout.contains("PHASE OK"),
                "{what}:\n{}\n{}\n{}\n{}",
                out.stdout,
                out.stderr,
                nox.proc.report(),
                s.daemon.report()
            );
        }
    }

    let mut cmd = s.env.command(&python.display().to_string());
    cmd.arg(own("nox_compare.py"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/man/qbt.md"))
        .arg(&calls);
    let compared = run_within(cmd, "nox_compare.py", Duration::from_secs(30));
    eprintln!("{}", compared.stdout);
    assert!(
        compared.code == 0 && compared.stdout.contains("PHASE OK"),
        "ttui and qbittorrent-nox differ where the manual does not say so:\n{}\n{}",
        compared.stdout,
        compared.stderr
    );
    s.daemon.assert_alive("the end");
    assert!(
        !nox.proc.exited(),
        "qbittorrent-nox exited:\n{}",
        nox.proc.report()
    );
    nox.proc.kill();
}
