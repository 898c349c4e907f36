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

use serde_json::Value;

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

/// Torrents in the library of the few-descriptors test, and those a flood of peers reaches.
const LIBRARY: usize = 2_000;
const FLOODED: usize = 6;
/// Peers a flooded torrent is sent: under its own limit of 50, and over the process's budget
/// of 128 peer connections (of 256 descriptors) all together.
const FLOOD_EACH: usize = 45;
const LOW_NOFILE: u64 = 256;

/// Opens a TCP connection to `addr` and sends a plain BitTorrent handshake for `info_hash`
/// under a peer id of its own; returns whether the other side answered with its handshake
/// within a few seconds. The connection is kept.
fn handshake(
    addr: std::net::SocketAddr,
    info_hash: &[u8; 20],
    n: usize,
) -> (bool, Option<std::net::TcpStream>) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return (false, None);
    };
    let mut hs = Vec::with_capacity(68);
    hs.push(19u8);
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0u8; 8]);
    hs.extend_from_slice(info_hash);
    hs.extend_from_slice(format!("-FL0001-{n:012}").as_bytes());
    if s.write_all(&hs).is_err() {
        return (false, None);
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut back = [0u8; 68];
    let answered = s.read_exact(&mut back).is_ok() && back[28..48] == info_hash[..];
    (answered, Some(s))
}

/// `ulimit -n 256` and a library of 2,000 torrents: the session starts, checks and seeds them
/// all, and a flood of peers to six of them (270 connections, each torrent under its own limit
/// of 50) finds the process's budget of 128 peer connections: no descriptor runs out (the log
/// never says "Too many open files"), the session keeps answering, and the torrents refused a
/// connection name the limit on the explainer's `descriptors` line. Once the flood is gone a
/// new peer is taken again.
#[test]
fn two_thousand_torrents_run_under_256_descriptors_and_the_explainer_names_the_limit() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "prlimit"]) {
        return;
    }
    let env = Env::new("ttui-few-fds-");
    let made = env.root.path().join("made");
    let library: Vec<Payload> = (0..LIBRARY)
        .map(|i| {
            let name = format!("lib{i:04}.bin");
            Payload::make(&env.out, &made, &name, &[("", 20_000)], 5_000 + i as u64)
        })
        .collect();
    let port = free_port();
    let mut cmd = env.command("prlimit");
    cmd.arg(format!("--nofile={LOW_NOFILE}:{LOW_NOFILE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_ttui"));
    let args = ["--port", &port.to_string()].map(String::from);
    let mut daemon = Daemon::start_cmd(&env, "1", &args, cmd);
    let paths: Vec<String> = library.iter().map(Payload::path).collect();
    for chunk in paths.chunks(200) {
        let mut add = vec!["add"];
        add.extend(chunk.iter().map(String::as_str));
        let out = env.verb(&add);
        assert_eq!(out.code, 0, "{out:?}");
    }
    env.wait_list(
        "2,000 torrents seeding",
        Duration::from_secs(240),
        &mut daemon,
        |rows| rows.len() == LIBRARY && all_seeding(rows, LIBRARY),
    );

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let flooded = &library[..FLOODED];
    let (mut answered, mut held) = (0, Vec::new());
    for (t, p) in flooded.iter().enumerate() {
        for i in 0..FLOOD_EACH {
            let (ok, stream) = handshake(addr, &p.torrent.info_hash, t * 1000 + i);
            answered += usize::from(ok);
            held.extend(stream);
        }
    }
    daemon.assert_alive("under the flood");
    let log = daemon.log_text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(
        (100..=128 + 8).contains(&answered),
        "{answered} of {} handshakes answered: the budget is 128",
        FLOODED * FLOOD_EACH
    );
    // The session answers, and the refused torrents name the limit.
    assert_eq!(env.list().len(), LIBRARY);
    let named: Vec<String> = flooded
        .iter()
        .filter_map(|p| {
            let shown = env.verb(&["show", &p.hash(), "--json"]);
            let v: Value = serde_json::from_str(&shown.stdout).ok()?;
            let found = v["explain"]
                .as_array()?
                .iter()
                .find(|f| f["check"] == "descriptors")?
                .clone();
            Some(found["evidence"].as_str()?.to_string())
        })
        .collect();
    assert!(!named.is_empty(), "no torrent names the descriptor limit");
    assert!(
        named
            .iter()
            .all(|e| e.contains("(256, ulimit -n)") && e.contains("128 peer")),
        "{named:?}"
    );

    // The flood goes; a new peer finds a place again.
    drop(held);
    let last = &library[LIBRARY - 1];
    let start = Instant::now();
    loop {
        let (ok, _s) = handshake(addr, &last.torrent.info_hash, 999_999);
        if ok {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no place for a new peer after the flood"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(daemon);
}
