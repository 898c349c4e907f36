//! Issue 19, one budget of open files: a `ttui daemon` under a 96-descriptor limit downloads
//! four torrents of ten files each at once from four libtorrent seeders. Its budget of open
//! payload files is a quarter of the limit, 24, fewer than the 40 files: the count of payload
//! files open in the process (read from /proc/PID/fd all through the run) never goes over
//! it, and every file ends byte-identical. Before the budget, each torrent kept its ten files
//! open (fewer than its own quarter of the limit): 40 at once.
//!
//! Run through tests/run.sh: every process is on loopback, inside a namespace with only `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;

const NOFILE: u64 = 96;
/// A quarter of NOFILE (`disk::open_files_budget`); the daemon's log must say the same.
const BUDGET: usize = 24;
const TORRENTS: usize = 4;
const FILES: usize = 10;
/// Per seeder: the 4 × ~1.7 MiB last a few seconds, all four torrents at once.
const SEED_RATE: u64 = 600_000;
const DONE_WAIT: Duration = Duration::from_secs(120);

/// Payload files of the process `pid` open right now (descriptors whose target is one of
/// `files`).
fn payload_fds(pid: u32, files: &HashSet<PathBuf>) -> usize {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|target| files.contains(target))
        .count()
}

#[test]
fn many_torrents_downloading_at_once_stay_within_one_budget_of_open_files() {
    require_loopback_only();
    if !(prereq::have_tools(&["mktorrent", "prlimit"]) && prereq::have_python_libtorrent()) {
        return;
    }
    let _swarm = swarm_lock();
    let env = Env::new("ttui-fd-budget-");
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let payloads: Vec<Payload> = (0..TORRENTS)
        .map(|t| {
            // Lengths that are not multiples of the piece, so pieces straddle files.
            let names: Vec<String> = (0..FILES).map(|f| format!("f{f}.bin")).collect();
            let layout: Vec<(&str, u64)> = names
                .iter()
                .enumerate()
                .map(|(f, n)| (n.as_str(), 150_000 + 7_919 * (f + t) as u64))
                .collect();
            Payload::make(&data, &fixtures, &format!("t{t}"), &layout, 10 + t as u64)
        })
        .collect();
    let seeders: Vec<LibtorrentSeeder> = payloads
        .iter()
        .map(|p| {
            let opts = LtOptions {
                seed_mode: true,
                upload_limit: SEED_RATE,
                ..LtOptions::default()
            };
            LibtorrentSeeder::start(&p.torrent, &data, opts)
        })
        .collect();
    let peer_args: Vec<String> = seeders
        .iter()
        .flat_map(|s| ["--peer".to_string(), s.addr().to_string()])
        .collect();

    let mut cmd = env.command("prlimit");
    cmd.arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_ttui"));
    let mut daemon = Daemon::start_cmd(&env, "1", &peer_args, cmd);
    let pid = daemon.pid();
    let out = env.out.canonicalize().unwrap();
    let files: HashSet<PathBuf> = payloads
        .iter()
        .flat_map(|p| p.files.iter().map(|(rel, _)| out.join(rel)))
        .collect();
    assert_eq!(files.len(), TORRENTS * FILES);

    // Sampled from the side all through the downloads (bounded by DONE_WAIT and a deadline
    // of its own).
    let stop = Arc::new(AtomicBool::new(false));
    let (most, samples) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sampler = {
        let (stop, most, samples, files) = (
            Arc::clone(&stop),
            Arc::clone(&most),
            Arc::clone(&samples),
            files.clone(),
        );
        std::thread::spawn(move || {
            let deadline = Instant::now() + DONE_WAIT + Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                most.fetch_max(payload_fds(pid, &files), Ordering::Relaxed);
                samples.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let mut add: Vec<&str> = vec!["add"];
    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    add.extend(paths.iter().map(String::as_str));
    let added = env.verb(&add);
    assert_eq!(added.code, 0, "{added:?}");
    let started = Instant::now();
    env.wait_list("every download", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, TORRENTS)
    });
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let (most, samples) = (
        most.load(Ordering::Relaxed),
        samples.load(Ordering::Relaxed),
    );
    eprintln!(
        "fd budget: {TORRENTS} torrents of {FILES} files downloaded in {:.1} s under \
         nofile={NOFILE}; at most {most} payload files open at once (budget {BUDGET}) in \
         {samples} samples",
        took.as_secs_f64()
    );

    let log = daemon.log_text();
    let said = format!("at most {BUDGET}");
    assert!(
        lines_with(&log, "descriptor limit")
            .iter()
            .any(|l| l.contains(&format!("descriptor limit {NOFILE};")) && l.contains(&said)),
        "the daemon's log does not give the budget as {BUDGET}\n{}",
        daemon.report()
    );
    assert!(samples > 10, "only {samples} samples of /proc/{pid}/fd");
    assert!(most > 0, "no payload file was ever seen open");
    assert!(
        most <= BUDGET,
        "{most} payload files open at once, over the budget of {BUDGET}\n{}",
        daemon.report()
    );
    for p in &payloads {
        assert_same_tree(&p.root, &env.out.join(&p.torrent.name));
    }
    let status = daemon.term();
    assert!(status.success(), "the daemon exited with {status}");
    drop(seeders);
}
