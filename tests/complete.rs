//! What happens when a torrent completes, end to end: the real `ttui daemon` downloading from
//! real seeders (ttui itself, seeding headless) on loopback. `on_complete` runs once per
//! completion with the torrent in its environment (ours and Transmission's names), never
//! again at a restart; a failing or overlong run shows on the torrent's line until resumed or
//! verified, and the time limit kills it.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

mod common;
#[path = "session/kit.rs"]
mod kit;
#[path = "session/payload.rs"]
mod payload;
mod prereq;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);

/// Writes an executable `#!/bin/sh` script.
fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Waits (bounded) until `path` holds `lines` lines; returns its text.
fn wait_lines(path: &Path, lines: usize, timeout: Duration, daemon: &mut Daemon) -> String {
    let start = Instant::now();
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= lines {
            return text;
        }
        daemon.assert_alive("the on_complete script");
        assert!(
            start.elapsed() < timeout,
            "{} has {:?} after {timeout:?}, want {lines} lines\n{}",
            path.display(),
            text,
            daemon.report()
        );
        sleep(Duration::from_millis(100));
    }
}

/// The `env -0` dumps a script wrote into `dir` (`env.<pid>`), parsed.
fn env_dumps(dir: &Path) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("env.") {
            continue;
        }
        let bytes = fs::read(e.path()).unwrap();
        let vars = bytes
            .split(|&b| b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        out.push(vars);
    }
    out
}

/// One ttui seeder of `p` on 127.0.0.1; returns it and the daemon's `--peer` arguments.
fn seeder(p: &Payload, data: &Path) -> (Ttui, Vec<String>) {
    let port = free_port();
    let extra = ["--no-dht", "--bind", "127.0.0.1"];
    let s = spawn_ttui_seeder(&p.torrent.path, data, port, &extra);
    (s, vec!["--peer".into(), format!("127.0.0.1:{port}")])
}

/// The process `pid` is gone, or dead and waiting to be reaped (a zombie).
fn is_gone(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    matches!(state, None | Some("Z") | Some("X"))
}

/// Kills by pid, on drop, every process whose pid a script wrote into this file.
struct KillListed(PathBuf);

impl Drop for KillListed {
    fn drop(&mut self) {
        let text = fs::read_to_string(&self.0).unwrap_or_default();
        for pid in text.split_whitespace().filter(|p| p.parse::<u32>().is_ok()) {
            if !is_gone(pid.parse().unwrap()) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", pid])
                    .status();
            }
        }
    }
}

#[test]
fn on_complete_runs_once_with_the_torrent_in_its_environment() {
    require_loopback_only();
    let env = Env::new("ttui-complete-");
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let p = Payload::make(
        &data,
        &fixtures,
        "alpha.bin",
        &[("", (1 << 20) + 12_345)],
        1,
    );
    let hooks = env.root.path().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    let hook = script(
        &env.root.path().join("done.sh"),
        &format!(
            "env -0 > \"{h}/env.$$\"\necho \"$TR_TORRENT_NAME\" >> \"{h}/runs\"\n\
             echo \"said by the script\"\necho \"and on stderr\" >&2",
            h = hooks.display()
        ),
    );
    let (_seeder, mut extra) = seeder(&p, &data);
    extra.extend(["--on-complete".into(), hook.display().to_string()]);
    let mut daemon = Daemon::start(&env, "1", &extra);
    let added = env.verb(&["add", "--label", "tv,hd", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    let rows = env.wait_list("the download", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    let id = rows[0]["id"].to_string();
    let runs = wait_lines(&hooks.join("runs"), 1, DONE_WAIT, &mut daemon);
    assert_eq!(runs, "alpha.bin\n");

    let dumps = env_dumps(&hooks);
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let vars = &dumps[0];
    let get = |k: &str| {
        vars.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} is not set: {vars:?}"))
    };
    let out = env.out.display().to_string();
    for (ours, theirs, want) in [
        ("TTUI_TORRENT_ID", "TR_TORRENT_ID", id.as_str()),
        ("TTUI_TORRENT_NAME", "TR_TORRENT_NAME", "alpha.bin"),
        ("TTUI_TORRENT_HASH", "TR_TORRENT_HASH", p.hash().as_str()),
        ("TTUI_TORRENT_DIR", "TR_TORRENT_DIR", out.as_str()),
        ("TTUI_TORRENT_LABELS", "TR_TORRENT_LABELS", "tv,hd"),
    ] {
        assert_eq!(get(ours), want, "{ours}");
        assert_eq!(get(theirs), want, "{theirs}");
    }
    let total: u64 = p.files.iter().map(|f| f.1).sum();
    let downloaded: u64 = get("TR_TORRENT_BYTES_DOWNLOADED").parse().unwrap();
    assert!(downloaded >= total, "{downloaded} < {total}");
    assert_eq!(get("TR_TORRENT_TRACKERS"), DEAD_TRACKER);
    assert!(!get("TR_APP_VERSION").is_empty());
    assert!(get("TR_TIME_LOCALTIME").ends_with('\n'));
    // Its own environment too, as Transmission's scripts get it.
    assert!(vars.contains_key("PATH"), "{vars:?}");

    // Its output is in the log, each line naming the torrent.
    let start = Instant::now();
    loop {
        let log = daemon.log_text();
        let said = lines_with(&log, "said by the script");
        let stderr = lines_with(&log, "and on stderr");
        if !said.is_empty() && !stderr.is_empty() {
            assert!(
                said.iter().chain(&stderr).all(|l| l.contains("alpha.bin")),
                "{said:?}"
            );
            break;
        }
        assert!(
            start.elapsed() < DONE_WAIT,
            "no script output in the log\n{log}"
        );
        sleep(Duration::from_millis(100));
    }
    let rows = env.list();
    assert!(rows[0]["why"].is_null(), "{rows:?}");

    // A restart of the complete torrent does not run it again, nor does a verify.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &extra);
    env.wait_list("back seeding", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    let verify = env.verb(&["verify", &id]);
    assert_eq!(verify.code, 0, "{verify:?}");
    sleep(Duration::from_secs(1));
    env.wait_list("verified", DONE_WAIT, &mut daemon, |r| all_seeding(r, 1));
    sleep(Duration::from_secs(2));
    assert_eq!(
        fs::read_to_string(hooks.join("runs")).unwrap(),
        "alpha.bin\n"
    );
    assert!(daemon.term().success());
}

#[test]
fn a_failed_or_overlong_on_complete_shows_on_the_line_until_resumed() {
    require_loopback_only();
    let env = Env::new("ttui-complete-fail-");
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let alpha = Payload::make(
        &data,
        &fixtures,
        "alpha.bin",
        &[("", (1 << 20) + 12_345)],
        1,
    );
    let gamma = Payload::make(&data, &fixtures, "gamma.bin", &[("", (3 << 19) + 7)], 3);
    let hooks = env.root.path().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    let pids = hooks.join("sleeper.pids");
    let _kill = KillListed(pids.clone());
    let hook = script(
        &env.root.path().join("done.sh"),
        &format!(
            "case \"$TR_TORRENT_NAME\" in\n\
             alpha.bin) echo \"failing on purpose\" >&2; exit 3 ;;\n\
             *) echo $$ >> \"{p}\"; exec sleep 300 ;;\n\
             esac",
            p = pids.display()
        ),
    );
    let (_s1, mut extra) = seeder(&alpha, &data);
    let (_s2, more) = seeder(&gamma, &data);
    extra.extend(more);
    extra.extend([
        "--on-complete".into(),
        hook.display().to_string(),
        "--on-complete-timeout".into(),
        "3s".into(),
    ]);
    let mut daemon = Daemon::start(&env, "1", &extra);
    for p in [&alpha, &gamma] {
        let added = env.verb(&["add", &p.path()]);
        assert_eq!(added.code, 0, "{added:?}");
    }
    let failed = |r: &Value| r["why"].as_str().is_some_and(|w| w.contains("on_complete"));
    let rows = env.wait_list("both runs to fail", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 2) && r.iter().all(failed)
    });
    let a = row_of(&rows, &alpha.hash());
    let g = row_of(&rows, &gamma.hash());
    assert_eq!(a["why"], "on_complete failed: exit 3", "{a}");
    assert_eq!(
        g["why"], "on_complete failed: killed after 3s (on_complete_timeout)",
        "{g}"
    );
    let sleepers = fs::read_to_string(&pids).unwrap();
    assert_eq!(sleepers.lines().count(), 1, "{sleepers:?}");
    let pid: u32 = sleepers.trim().parse().unwrap();
    assert!(is_gone(pid), "the overlong script {pid} still runs");
    let log = daemon.log_text();
    let failing = lines_with(&log, "failing on purpose");
    assert!(
        !failing.is_empty() && failing.iter().all(|l| l.contains("alpha.bin")),
        "{failing:?}"
    );

    // Resume (alpha) and verify (gamma) clear it; neither runs the script again.
    let (ia, ig) = (a["id"].to_string(), g["id"].to_string());
    assert_eq!(env.verb(&["resume", &ia]).code, 0);
    assert_eq!(env.verb(&["verify", &ig]).code, 0);
    sleep(Duration::from_secs(1));
    let rows = env.wait_list("the failures to clear", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 2) && !r.iter().any(failed)
    });
    assert_eq!(rows.len(), 2);
    sleep(Duration::from_secs(2));
    assert_eq!(fs::read_to_string(&pids).unwrap(), sleepers);
    assert!(daemon.term().success());
}

/// The value of a top-level byte-string key of a resume file (None when absent).
fn resume_bytes(path: &Path, key: &str) -> Option<Vec<u8>> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bdict(&bytes)
        .into_iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| match v {
            BVal::Bytes(b) => b,
            other => panic!("{key} is {other:?}"),
        })
}

#[test]
fn downloads_in_the_incomplete_dir_then_moves_to_its_save_path() {
    require_loopback_only();
    let env = Env::new("ttui-incomplete-");
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let p = Payload::make(
        &data,
        &fixtures,
        "beta",
        &[
            ("one.bin", 700_001),
            ("sub/two.bin", 900_003),
            ("three.bin", 400_005),
        ],
        2,
    );
    let total: u64 = p.files.iter().map(|f| f.1).sum();
    let inc = env.root.path().join("incomplete");
    let fin = env.root.path().join("final");
    let hooks = env.root.path().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    let hook = script(
        &env.root.path().join("done.sh"),
        &format!(
            "echo \"$TR_TORRENT_DIR\" >> \"{h}/dir\"\n\
             test -f \"$TR_TORRENT_DIR/$TR_TORRENT_NAME/sub/two.bin\" && echo there >> \"{h}/dir\"",
            h = hooks.display()
        ),
    );
    let (_seeder, mut extra) = seeder(&p, &data);
    extra.extend([
        "--incomplete-dir".into(),
        inc.display().to_string(),
        "--on-complete".into(),
        hook.display().to_string(),
        // Slow enough to be seen (and stopped) halfway.
        "--down-limit".into(),
        "250K".into(),
    ]);
    let mut daemon = Daemon::start(&env, "1", &extra);
    let added = env.verb(&["add", "-o", &fin.display().to_string(), &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    let halfway = |r: &[Value]| {
        r.len() == 1
            && r[0]["verified_bytes"]
                .as_u64()
                .is_some_and(|v| v > 0 && v < total * 3 / 4)
    };
    let rows = env.wait_list("some pieces", DONE_WAIT, &mut daemon, halfway);
    let (inc_text, fin_text) = (inc.display().to_string(), fin.display().to_string());
    assert_eq!(rows[0]["save_path"], inc_text.as_str(), "{rows:?}");
    assert_eq!(rows[0]["final_dir"], fin_text.as_str(), "{rows:?}");
    assert!(inc.join("beta").exists());
    assert!(!fin.join("beta").exists());

    // Stopped halfway: the resume data keeps both places; it carries on in the incomplete
    // directory with what it had.
    assert!(daemon.term().success());
    let resume = env.resume_path(&p.hash());
    assert_eq!(
        resume_bytes(&resume, "save_path"),
        Some(inc_text.clone().into_bytes())
    );
    assert_eq!(
        resume_bytes(&resume, "target"),
        Some(fin_text.clone().into_bytes())
    );
    let had = read_resume(&resume).have;
    assert!(had > 0, "no piece saved");
    let mut daemon = Daemon::start(&env, "2", &extra);
    let rows = env.list();
    assert_eq!(rows[0]["save_path"], inc_text.as_str(), "{rows:?}");
    assert_eq!(rows[0]["final_dir"], fin_text.as_str(), "{rows:?}");
    let start = Instant::now();
    let from_resume = loop {
        let log = daemon.log_text();
        let counts = verified_counts(&log, "from the saved resume data (files unchanged)");
        if !counts.is_empty() {
            break counts;
        }
        assert!(
            start.elapsed() < DONE_WAIT,
            "no resume line in the log\n{log}"
        );
        sleep(Duration::from_millis(100));
    };
    assert!(
        from_resume.iter().any(|(n, _)| *n >= had),
        "the restart did not keep its {had} pieces: {from_resume:?}"
    );

    // Complete: in the save path, seeding there; on_complete ran once, after the move.
    let rows = env.wait_list("the download", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1) && r[0]["final_dir"].is_null()
    });
    assert_eq!(rows[0]["save_path"], fin_text.as_str(), "{rows:?}");
    assert_same_tree(&p.root, &fin.join("beta"));
    assert!(
        !inc.join("beta").exists(),
        "left behind in the incomplete dir"
    );
    let downloaded = rows[0]["downloaded"].as_u64().unwrap();
    assert!(
        downloaded < total + total / 5,
        "{downloaded} bytes downloaded for {total}: pieces fetched twice"
    );
    let said = wait_lines(&hooks.join("dir"), 2, DONE_WAIT, &mut daemon);
    assert_eq!(said, format!("{fin_text}\nthere\n"));
    assert!(daemon.term().success());
    assert_eq!(
        resume_bytes(&resume, "save_path"),
        Some(fin_text.into_bytes())
    );
    assert_eq!(resume_bytes(&resume, "target"), None);

    // Back after the move: it seeds from the save path, nothing runs again.
    let mut daemon = Daemon::start(&env, "3", &extra);
    env.wait_list("back seeding", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    sleep(Duration::from_secs(1));
    assert_eq!(
        fs::read_to_string(hooks.join("dir"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert!(daemon.term().success());
}
