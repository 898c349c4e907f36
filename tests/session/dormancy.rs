//! Dormant torrents (issue 19: "an idle torrent costs no per-tick work"): a complete torrent
//! with no peer and nobody watching is put to sleep by the daemon (no task, no open file), its
//! line still says seeding; an incoming libtorrent leecher wakes it and completes
//! byte-identical; a dormant torrent still announces to its tracker.
//!
//! The daemon gets `TTUI_DORMANT_AFTER_SECS` (and `TTUI_DORMANT_ANNOUNCE_SECS`) so it sleeps
//! in seconds, not after its default minute. Run through tests/run.sh: loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
use crate::recording_tracker::RecordingTracker;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;

const DONE_WAIT: Duration = Duration::from_secs(60);

/// Waits (bounded) until the daemon's log holds `needle` at least `n` times.
fn wait_log(daemon: &mut Daemon, needle: &str, n: usize, what: &str) {
    let start = Instant::now();
    while lines_with(&daemon.log_text(), needle).len() < n {
        daemon.assert_alive(what);
        if start.elapsed() > DONE_WAIT {
            panic!("timed out waiting for {what}\n{}", daemon.report());
        }
        sleep(Duration::from_millis(100));
    }
}

/// Descriptors the process holds on files under `dir`.
fn open_files_under(pid: u32, dir: &Path) -> Vec<String> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.starts_with(dir))
        .map(|t| t.display().to_string())
        .collect()
}

#[test]
fn a_dormant_seed_is_woken_by_an_incoming_libtorrent_leecher() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-dormant-wake-");
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "sleeper",
        &[("a.bin", (2 << 20) + 77), ("b.bin", 300_000)],
        11,
    );
    let port = free_port();
    let args = ["--port".to_string(), port.to_string()];
    let mut daemon = Daemon::start_with(&env, "1", &args, &[("TTUI_DORMANT_AFTER_SECS", "2")]);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    env.wait_list("the data checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    // Found complete at its check it sleeps at once, owing its tracker a `started`; woken for
    // it, it announces (to a dead tracker here: it fails at once) and sleeps again.
    wait_log(
        &mut daemon,
        "quiet, dormant",
        2,
        "the torrent to sleep after its announce",
    );

    // Asleep, its line is still the truth, and it holds none of its files open.
    let rows = env.list();
    let row = row_of(&rows, &p.hash());
    assert_eq!(row["state"], "seeding", "{row}");
    assert_eq!(row["up_rate"].as_f64(), Some(0.0), "{row}");
    assert_eq!(row["down_rate"].as_f64(), Some(0.0), "{row}");
    let open = open_files_under(daemon.pid(), &env.out);
    assert!(open.is_empty(), "a dormant torrent holds {open:?}");

    let save = env.root.path().join("leech");
    fs::create_dir_all(&save).unwrap();
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&p.torrent, &save, opts);
    leecher.wait_done(DONE_WAIT);
    for (rel, _) in &p.files {
        assert!(
            fs::read(save.join(rel)).unwrap() == fs::read(env.out.join(rel)).unwrap(),
            "{}: the leecher's copy differs\n{}",
            rel.display(),
            leecher.report()
        );
    }
    let log = daemon.log_text();
    assert!(
        !lines_with(&log, "waking: a peer connected").is_empty(),
        "the leecher did not wake it\n{}",
        daemon.report()
    );
    drop(leecher);
    // Its peer gone, it sleeps again.
    wait_log(
        &mut daemon,
        "quiet, dormant",
        3,
        "the torrent to sleep again",
    );
    assert!(daemon.term().success());
}

#[test]
fn a_dormant_seed_still_announces_on_schedule() {
    require_loopback_only();
    let env = Env::new("ttui-dormant-announce-");
    let tracker = RecordingTracker::start(std::net::Ipv4Addr::LOCALHOST);
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "announcer",
        &[("", 700_000)],
        12,
    );
    let url = tracker.url();
    let torrent =
        p.torrent
            .with_trackers(&env.root.path().join("tracked.torrent"), Some(&url), &[]);
    let vars = [
        ("TTUI_DORMANT_AFTER_SECS", "2"),
        ("TTUI_DORMANT_ANNOUNCE_SECS", "6"),
    ];
    let mut daemon = Daemon::start_with(&env, "1", &[], &vars);
    let path = torrent.path.to_str().unwrap().to_string();
    assert_eq!(env.verb(&["add", &path]).code, 0);
    env.wait_list("the data checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    // Found complete at its check, it sleeps at once (its `started` sent, or owed to the wake
    // that follows).
    wait_log(&mut daemon, "quiet, dormant", 1, "the torrent to sleep");
    let asleep = tracker.count();
    // Woken for its announce (within the 6 s interval), it announces, and sleeps again.
    wait_log(
        &mut daemon,
        "waking: its announce is due",
        1,
        "the announce wake",
    );
    let start = Instant::now();
    while tracker.count() <= asleep {
        assert!(
            start.elapsed() < DONE_WAIT,
            "no announce after the wake\n{}",
            daemon.report()
        );
        sleep(Duration::from_millis(100));
    }
    wait_log(
        &mut daemon,
        "quiet, dormant",
        2,
        "the torrent to sleep again",
    );
    assert!(daemon.term().success());
}

/// The seeding seconds the `seeding` file holds for `hash`: its packed list is 36 bytes a
/// torrent (info hash, then `added` and the seconds as big-endian u64s).
fn kept_seeding_secs(file: &Path, hash: &[u8; 20]) -> Option<u64> {
    let bytes = fs::read(file).unwrap();
    let key = b"8:torrents";
    let at = bytes.windows(key.len()).position(|w| w == key)? + key.len();
    let colon = at + bytes[at..].iter().position(|b| *b == b':')?;
    let len: usize = std::str::from_utf8(&bytes[at..colon]).ok()?.parse().ok()?;
    let packed = &bytes[colon + 1..colon + 1 + len];
    packed.chunks_exact(36).find(|r| &r[..20] == hash).map(|r| {
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&r[28..36]);
        u64::from_be_bytes(secs)
    })
}

/// A sleeping torrent keeps seeding, and a clean stop keeps that time without saving its
/// resume data again: the stop writes one file for every sleeper (`seeding`) and leaves the
/// torrent's own file as it was when it fell asleep. After a restart the torrent's seeding
/// time counts the time it slept before (the next stop's file has it, and more).
#[test]
fn a_stop_keeps_the_seeding_time_of_sleeping_torrents_in_one_file() {
    require_loopback_only();
    let env = Env::new("ttui-dormant-seeding-time-");
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "sleeper",
        &[("", 300_000)],
        12,
    );
    let vars = [("TTUI_DORMANT_AFTER_SECS", "1")];
    let mut daemon = Daemon::start_with(&env, "1", &[], &vars);
    assert_eq!(env.verb(&["add", &p.path()]).code, 0);
    env.wait_list("the data checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    wait_log(&mut daemon, "quiet, dormant", 1, "the torrent to sleep");
    // Its task's last resume point (a clean stop of the task) is saved as it falls asleep;
    // what the session's stop does to the file is compared with that. A clean point may be
    // saved before it (the check's), so the copy is taken once the file has held still for
    // a second.
    let resume = env.resume_path(&p.hash());
    let start = Instant::now();
    let mut seen: Option<Vec<u8>> = None;
    let before = loop {
        let bytes = fs::read(&resume).unwrap();
        let clean = bytes.windows(10).any(|w| w == b"5:cleani1e");
        if clean && seen.as_ref() == Some(&bytes) {
            break bytes;
        }
        seen = clean.then_some(bytes);
        assert!(start.elapsed() < DONE_WAIT, "no save as it fell asleep");
        sleep(Duration::from_secs(1));
    };
    sleep(Duration::from_secs(8));
    assert!(daemon.term().success());
    let kept = env.state.join("torrents").join("seeding");
    let hash = p.torrent.info_hash;
    let first = kept_seeding_secs(&kept, &hash).expect("the sleeper in the seeding file");
    assert!(first >= 7, "{first} s kept after 8 s asleep");
    assert_eq!(
        fs::read(&resume).unwrap(),
        before,
        "the sleeping torrent's resume data was saved again at the stop"
    );

    // Back asleep at once after the restart, and stopped again: what the second stop keeps
    // starts from the first one's time, not from the resume data's.
    let mut daemon = Daemon::start_with(&env, "2", &[], &vars);
    env.wait_list("back after the restart", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 1)
    });
    assert!(daemon.term().success());
    // Kept in the file if it slept through the stop, else in its resume data (its task's).
    let second = kept_seeding_secs(&kept, &hash).unwrap_or_else(|| {
        let bytes = fs::read(&resume).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let at = text
            .find("12:seeding_secsi")
            .expect("seeding_secs in the resume data")
            + 16;
        text[at..text[at..].find('e').unwrap() + at]
            .parse()
            .unwrap()
    });
    assert!(
        second >= first,
        "the restart forgot the seeding time kept at the stop: {first} s, then {second} s"
    );
}
