//! What happens when a torrent completes, end to end: the real `ttui daemon` downloading from
//! real seeders (ttui itself, seeding headless) on loopback. `on_complete` runs once per
//! completion with the torrent in its environment (ours and Transmission's names), never
//! again at a restart; a failing or overlong run shows on the torrent's line until resumed or
//! verified, and the time limit kills it. With an incomplete directory the data is there
//! while it downloads (a restart carries on there) and moves to the save path once complete;
//! to another file system (a tmpfs mounted for the test) the move survives a kill -9 at its
//! journal, mid-copy and with files in place, losing and fetching nothing.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

use crate::common;
#[path = "complete/kit.rs"]
mod helpers;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::fs;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use kit::*;
use payload::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);

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

/// The moments of a move a kill -9 is aimed at.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// The journal is in the resume data; maybe nothing copied yet.
    Journal,
    /// A file is being copied beside its place.
    Copying,
    /// A file is in place (the originals not all gone).
    InPlace,
}

#[test]
fn a_move_to_another_file_system_survives_kill_9_at_any_moment() {
    require_loopback_only();
    let env = Env::new("ttui-complete-xfs-");
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let (inc, fin) = (
        env.root.path().join("incomplete"),
        env.root.path().join("final"),
    );
    let _tmpfs = match Tmpfs::mount(&fin) {
        Ok(t) => t,
        Err(e) => {
            prereq::skip(&format!("cannot mount a tmpfs: {e}"));
            return;
        }
    };
    // Four files of 16 MiB each: a copy long enough to be caught in the act.
    let big = 16 << 20;
    let moments = [Moment::Journal, Moment::Copying, Moment::InPlace];
    let payloads: Vec<Payload> = moments
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let files = [
                ("a.bin", big),
                ("b.bin", big),
                ("sub/c.bin", big),
                ("d.bin", big + 7),
            ];
            Payload::make(&data, &fixtures, &format!("pack{i}"), &files, 10 + i as u64)
        })
        .collect();
    let mut seeders = Vec::new();
    let mut extra = Vec::new();
    for p in &payloads {
        let (s, peer) = seeder(p, &data);
        seeders.push(s);
        extra.extend(peer);
    }
    extra.extend(["--incomplete-dir".into(), inc.display().to_string()]);
    let fin_text = fin.display().to_string();
    let mut daemon = Daemon::start(&env, "0", &extra);
    let mut kills = 0;
    for (k, (p, moment)) in payloads.iter().zip(moments).enumerate() {
        // Added from another thread: the download and the move can be over before the verb
        // has returned, so the watch starts first.
        let path = p.path();
        let adding = std::thread::spawn({
            let mut cmd = env.ttui();
            cmd.args(["add", "-o", &fin_text, &path, "--state-dir"])
                .arg(&env.state);
            move || run(cmd, "ttui add")
        });
        let root = fin.join(&p.torrent.name);
        let resume = env.resume_path(&p.hash());
        let start = Instant::now();
        let want = p.files.len();
        // Done without being seen: every file in place, none left behind (read from the file
        // systems alone: a `ttui list` takes longer than a whole copy).
        let finished = || {
            let in_place = files_under(&root).iter().filter(|f| !is_temp(f)).count();
            in_place == want && !inc.join(&p.torrent.name).exists()
        };
        let caught = loop {
            let hit = match moment {
                Moment::Journal => {
                    fs::read(&resume).is_ok_and(|b| b.windows(11).any(|w| w == b"6:movingi1e"))
                }
                Moment::Copying => files_under(&root).iter().any(|f| is_temp(f)),
                Moment::InPlace => files_under(&root).iter().any(|f| !is_temp(f)),
            };
            if hit {
                break true;
            }
            if finished() {
                break false;
            }
            daemon.assert_alive("the move");
            assert!(
                start.elapsed() < DONE_WAIT,
                "{moment:?} never came\n{}",
                daemon.report()
            );
            sleep(Duration::from_micros(300));
        };
        let added = adding.join().unwrap();
        assert_eq!(added.code, 0, "{added:?}");
        if caught {
            kills += 1;
            daemon.kill9();
            daemon = Daemon::start(&env, &format!("{}", k + 1), &extra);
        } else {
            eprintln!("{moment:?}: the move was done before it was seen; nothing killed");
        }
        let rows = env.wait_list("the move to finish", DONE_WAIT, &mut daemon, |r| {
            all_seeding(r, k + 1) && r.iter().all(|r| r["save_path"] == fin_text.as_str())
        });
        if caught {
            // Its verified pieces were trusted where the move put them: nothing hashed again.
            let whole = format!(
                "from the saved resume data (files unchanged): {n} of {n} pieces verified",
                n = p.pieces
            );
            let log = daemon.log_text();
            // Its task's span names it, or (asleep at once) the session's line does.
            let named = [
                format!("name=\"{}\"", p.torrent.name),
                format!("({})", p.torrent.name),
            ];
            assert!(
                lines_with(&log, &whole)
                    .iter()
                    .any(|l| named.iter().any(|n| l.contains(n.as_str()))),
                "{moment:?}: {} was not trusted whole after the restart\n{log}",
                p.torrent.name
            );
        }
        for done in &payloads[..=k] {
            let row = row_of(&rows, &done.hash());
            assert!(row["final_dir"].is_null(), "{row}");
            let total: u64 = done.files.iter().map(|f| f.1).sum();
            let downloaded = row["downloaded"].as_u64().unwrap();
            assert!(
                downloaded < total + total / 10,
                "{moment:?}: {downloaded} bytes downloaded for {total}: fetched again"
            );
            assert_same_tree(&done.root, &fin.join(&done.torrent.name));
            let temps: Vec<PathBuf> = files_under(&fin)
                .into_iter()
                .filter(|f| is_temp(f))
                .collect();
            assert!(temps.is_empty(), "{moment:?}: temporaries left: {temps:?}");
            assert!(
                !inc.join(&done.torrent.name).exists(),
                "{moment:?}: originals left in the incomplete dir"
            );
        }
    }
    assert!(kills > 0, "no kill -9 landed during a move");
    assert!(daemon.term().success());
    drop(seeders);
}
