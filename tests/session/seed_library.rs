//! A library keeps seeding: the real `ttui daemon` with its default settings seeds every
//! complete torrent it holds, announced to a real opentracker and open to a libtorrent
//! leecher; a restart brings every one back seeding without reading their data; and a seed
//! limit set by hand counts only the seeds that upload, holds the others with a reason, and
//! cuts no upload in progress.
//!
//! Run through tests/run.sh (`bash tests/run.sh --test seed_library`): the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

/// `n` single-file payloads in `env.out` (so ttui finds them complete), `len(i)` bytes each,
/// their torrents announcing to one opentracker.
fn library(env: &Env, n: usize, len: impl Fn(usize) -> u64) -> (Vec<Torrent>, Opentracker) {
    let made = env.root.path().join("made");
    let payloads: Vec<Payload> = (0..n)
        .map(|i| {
            let name = format!("lib{i:03}.bin");
            Payload::make(&env.out, &made, &name, &[("", len(i))], 1000 + i as u64)
        })
        .collect();
    let hashes: Vec<[u8; 20]> = payloads.iter().map(|p| p.torrent.info_hash).collect();
    let tracker = Opentracker::start(&hashes);
    let tracked = env.root.path().join("tracked");
    fs::create_dir_all(&tracked).unwrap();
    let torrents = payloads
        .iter()
        .map(|p| {
            let out = tracked.join(format!("{}.torrent", p.torrent.name));
            p.torrent
                .with_trackers(&out, Some(&tracker.http_url()), &[])
        })
        .collect();
    (torrents, tracker)
}

fn add_all(env: &Env, torrents: &[Torrent]) {
    let paths: Vec<String> = torrents
        .iter()
        .map(|t| t.path.display().to_string())
        .collect();
    for chunk in paths.chunks(100) {
        let mut args = vec!["add"];
        args.extend(chunk.iter().map(String::as_str));
        let out = env.verb(&args);
        assert_eq!(out.code, 0, "{out:?}");
    }
}

/// Polls the tracker until it lists a seeder for every torrent; returns those it does not.
fn wait_announced(tracker: &Opentracker, torrents: &[Torrent], daemon: &mut Daemon) {
    let start = Instant::now();
    let mut missing: Vec<&Torrent> = torrents.iter().collect();
    while !missing.is_empty() {
        daemon.assert_alive("the announces");
        missing.retain(|t| tracker.scrape(&t.info_hash).is_none_or(|s| s.complete == 0));
        if start.elapsed() > WAIT {
            panic!(
                "{} of {} torrents never listed with a seeder on the tracker (first: {})\n{}",
                missing.len(),
                torrents.len(),
                missing[0].name,
                daemon.report()
            );
        }
        sleep(Duration::from_millis(500));
    }
}

fn why(row: &Value) -> &str {
    row["why"].as_str().unwrap_or("")
}

/// `/proc/PID/io`'s rchar: every byte the process read by syscalls.
fn rchar(pid: u32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("rchar:")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rchar in {text}"))
}

fn leech(torrent: &Torrent, into: &Path, limit: u64) -> LibtorrentPeer {
    fs::create_dir_all(into).unwrap();
    LibtorrentPeer::start_leecher(
        torrent,
        into,
        LtOptions {
            download_limit: limit,
            ..LtOptions::default()
        },
    )
}

/// 200 complete torrents, default settings: every one seeds and is announced, a leecher that
/// finds the last one through the tracker downloads it from ttui; after a clean restart all
/// 200 seed again (announced again) and none of their data is read.
#[test]
fn a_library_of_200_seeds_by_default_and_after_a_restart() {
    require_loopback_only();
    let _swarm = swarm_lock();
    const N: usize = 200;
    let env = Env::new("ttui-library-");
    let len = |i: usize| 96 * 1024 + i as u64 * 512;
    let (torrents, tracker) = library(&env, N, len);
    let total: u64 = (0..N).map(len).sum();

    let mut daemon = Daemon::start(&env, "1", &[]);
    add_all(&env, &torrents);
    let rows = env.wait_list("200 seeding", WAIT, &mut daemon, |r| all_seeding(r, N));
    for r in &rows {
        assert!(why(r).is_empty(), "a seed held back by default: {r}");
    }
    wait_announced(&tracker, &torrents, &mut daemon);
    // `next_announce` names a time to come for every torrent once its announce is done.
    let rows = env.wait_list("every next announce known", WAIT, &mut daemon, |r| {
        r.iter().all(|r| r["next_announce"].as_u64().is_some())
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for r in &rows {
        let at = r["next_announce"].as_u64().unwrap();
        assert!(at + 5 >= now && at <= now + 3 * 3600, "{r}");
    }

    // A leecher that knows only the tracker finds ttui there and completes the last one.
    let last = &torrents[N - 1];
    let got = env.root.path().join("leeched");
    let mut leecher = leech(last, &got, 0);
    leecher.wait_done(WAIT);
    assert_same_tree(&env.out.join(&last.name), &got.join(&last.name));
    drop(leecher);

    // Clean restart: all seeding again, their data not read, announced again.
    assert!(daemon.term().success());
    let mut daemon = Daemon::start(&env, "2", &[]);
    let rows = env.wait_list("200 seeding again", WAIT, &mut daemon, |r| {
        all_seeding(r, N)
    });
    for r in &rows {
        assert!(why(r).is_empty(), "a seed held back after the restart: {r}");
    }
    let read = rchar(daemon.pid());
    assert!(
        read < total / 4,
        "the restarted daemon read {read} bytes of a {total}-byte library: something was hashed\n{}",
        daemon.report()
    );
    // The clean stop told the tracker `stopped` for the torrents awake then: a restart that
    // waited for their next interval would leave them unlisted for half an hour.
    let tracker_before = tracker.scrape(&last.info_hash);
    wait_announced(&tracker, &torrents, &mut daemon);
    eprintln!(
        "restart: {read} bytes read for a {total}-byte library; last torrent before the \
         re-announce {tracker_before:?}"
    );
    assert!(daemon.term().success());
}

/// `max_active_seeds = 3`, 20 seeds, 5 with a leecher each: 3 upload, the other 2 wait and
/// say why, the 15 idle seeds stay announced, no upload is cut, and the waiting ones upload
/// once the first are done.
#[test]
fn a_seed_limit_counts_only_seeds_that_upload() {
    require_loopback_only();
    let _swarm = swarm_lock();
    const N: usize = 20;
    const LEN: u64 = 2 << 20;
    let env = Env::new("ttui-seed-limit-");
    let (torrents, tracker) = library(&env, N, |_| LEN);
    let port = free_port();
    let extra: Vec<String> = ["--max-active-seeds", "3", "--port", &port.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut daemon = Daemon::start(&env, "1", &extra);
    add_all(&env, &torrents);
    env.wait_list("20 seeding", WAIT, &mut daemon, |r| all_seeding(r, N));
    // Idle seeds take no slot: every one of the 20 is announced, none says it waits.
    wait_announced(&tracker, &torrents, &mut daemon);
    for r in env.list() {
        assert!(why(&r).is_empty(), "an idle seed held back: {r}");
    }

    // Five leechers at 384 KiB/s each (about 5 s for 2 MiB), dialing ttui directly, started
    // at once.
    let wanted = [2usize, 5, 9, 14, 19];
    let ttui_addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut leechers: Vec<LibtorrentPeer> = wanted
        .iter()
        .map(|&i| {
            let dir = env.root.path().join(format!("leech{i}"));
            fs::create_dir_all(&dir).unwrap();
            LibtorrentPeer::start_leecher(
                &torrents[i],
                &dir,
                LtOptions {
                    download_limit: 384 * 1024,
                    peers: vec![ttui_addr],
                    ..LtOptions::default()
                },
            )
        })
        .collect();
    let hashes: Vec<String> = torrents.iter().map(Torrent::hash_hex).collect();

    // Sample until every leecher is done: never more than 3 torrents upload between two
    // samples; 2 are seen waiting with the reason; a torrent that got a slot keeps it (never
    // says it waits again) until its leecher is done.
    let mut uploaded: HashMap<String, u64> = HashMap::new();
    let mut slotted: Vec<String> = Vec::new();
    let (mut most, mut saw_two_waiting) = (0usize, false);
    let start = Instant::now();
    loop {
        daemon.assert_alive("the leechers");
        let rows = env.list();
        let mut uploading = 0;
        let mut waiting = Vec::new();
        for r in &rows {
            let h = r["info_hash"].as_str().unwrap().to_string();
            let up = r["uploaded"].as_u64().unwrap();
            if up > uploaded.get(&h).copied().unwrap_or(0) {
                uploading += 1;
                if !slotted.contains(&h) {
                    slotted.push(h.clone());
                }
            }
            uploaded.insert(h.clone(), up);
            if r["state"] == "queued" {
                assert!(
                    why(r).ends_with("for 3 seed slots") && !why(r).starts_with("queued"),
                    "a held seed says why, after its state: {r}"
                );
                assert!(r["peers"].as_u64().unwrap() >= 1, "its leecher stays: {r}");
                waiting.push(h);
            }
        }
        most = most.max(uploading);
        assert!(
            uploading <= 3,
            "{uploading} seeds uploaded at once under a limit of 3\n{}",
            serde_json::to_string_pretty(&rows).unwrap()
        );
        saw_two_waiting |= waiting.len() == 2;
        // A seed that uploaded is never made to wait while its leecher still downloads.
        for (k, &i) in wanted.iter().enumerate() {
            let done = leechers[k].stdout_text().lines().any(|l| l == "done");
            if !done && slotted.contains(&hashes[i]) {
                assert!(
                    !waiting.contains(&hashes[i]),
                    "torrent {i} lost its slot in the middle of an upload\n{}",
                    daemon.report()
                );
            }
        }
        let all_done = leechers
            .iter()
            .all(|l| l.stdout_text().lines().any(|l| l == "done"));
        if all_done {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the leechers did not all finish\n{}",
            daemon.report()
        );
        sleep(Duration::from_millis(300));
    }
    assert!(saw_two_waiting, "never saw the 4th and 5th seeds wait");
    assert!(most >= 2, "the slots were used ({most} at most)");
    // Only the five wanted torrents uploaded, each its whole payload (once).
    for (i, h) in hashes.iter().enumerate() {
        let up = uploaded[h];
        if wanted.contains(&i) {
            assert!(up >= LEN, "torrent {i} uploaded {up}");
        } else {
            assert_eq!(up, 0, "idle torrent {i} uploaded");
        }
    }
    for (k, &i) in wanted.iter().enumerate() {
        let dir = env.root.path().join(format!("leech{i}"));
        assert_same_tree(
            &env.out.join(&torrents[i].name),
            &dir.join(&torrents[i].name),
        );
        leechers[k].wait_done(Duration::from_secs(1));
    }
    // The 15 idle seeds are still listed by the tracker.
    for (i, t) in torrents.iter().enumerate() {
        if !wanted.contains(&i) {
            let s = tracker.scrape(&t.info_hash);
            assert!(s.is_some_and(|s| s.complete >= 1), "{i}: {s:?}");
        }
    }
    drop(leechers);
    assert!(daemon.term().success());
}
