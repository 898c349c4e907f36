//! Issue 19, persistence: a clean restart of 100 complete 100 MiB torrents reads none of their
//! data (counted from /proc/PID/io) and they seed again, a libtorrent leecher completing one;
//! and the damaged resume files tests/session/session.rs does not cover (huge, empty) each cost a full
//! check of their own torrent only, with a warning in its log.
//!
//! The 100 torrents are sparse all-zero files (no disk used; every piece has one hash), and
//! their first state directory is written through the store's API with every piece verified,
//! as a finished session would leave it: hashing 10 GiB first would take minutes on a shared
//! machine and is not what is tested. The daemon then stops cleanly (saving all 100 itself),
//! and the restart after that is the one measured.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use sha1::{Digest, Sha1};
use ttui::internals::engine::session::store::{stamp_files, Resume, Store};
use ttui::internals::protocol::bitfield::Bitfield;
use ttui::internals::protocol::metainfo::Metainfo;

const TORRENTS: usize = 100;
const TORRENT_LEN: u64 = 100 << 20;
const PIECE_LEN: u64 = 1 << 20;
const DONE_WAIT: Duration = Duration::from_secs(60);

/// `/proc/PID/io`: (rchar, read_bytes): every byte read by syscalls, and those that came
/// from the block device.
fn proc_io(pid: u32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    let field = |k: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {text}"))
    };
    (field("rchar:"), field("read_bytes:"))
}

/// A single-file torrent of `len` zero bytes named `name`, without trackers, written to
/// `path`; its info hash. Built by hand: every piece of zeros has the same hash, so one hash
/// of one piece makes the whole `pieces` string.
fn zero_torrent(name: &str, len: u64, path: &Path) -> [u8; 20] {
    let piece_hash: [u8; 20] = Sha1::digest(vec![0u8; PIECE_LEN as usize]).into();
    let n = len.div_ceil(PIECE_LEN);
    assert_eq!(len % PIECE_LEN, 0, "whole pieces only");
    let mut info = format!(
        "d6:lengthi{len}e4:name{}:{name}12:piece lengthi{PIECE_LEN}e6:pieces{}:",
        name.len(),
        n * 20
    )
    .into_bytes();
    for _ in 0..n {
        info.extend_from_slice(&piece_hash);
    }
    info.push(b'e');
    let mut torrent = b"d4:info".to_vec();
    torrent.extend_from_slice(&info);
    torrent.push(b'e');
    fs::write(path, &torrent).unwrap();
    Sha1::digest(&info).into()
}

#[test]
fn clean_restart_of_100_complete_torrents_rehashes_nothing_and_they_seed() {
    require_loopback_only();
    let have_lt = prereq::have_python_libtorrent();
    let env = Env::new("ttui-restart-many-");
    let torrents_dir = env.root.path().join("torrents");
    fs::create_dir_all(&torrents_dir).unwrap();

    // The payloads (sparse) and a state directory holding all of them, every piece verified.
    let store = Store::open(&env.state).unwrap();
    let mut hashes = Vec::new();
    for i in 0..TORRENTS {
        let name = format!("zero-{i:03}.bin");
        File::create(env.out.join(&name))
            .unwrap()
            .set_len(TORRENT_LEN)
            .unwrap();
        let path = torrents_dir.join(format!("{name}.torrent"));
        let hash = zero_torrent(&name, TORRENT_LEN, &path);
        let bytes = fs::read(&path).unwrap();
        let meta = Metainfo::from_bytes(&bytes).unwrap();
        store.save_torrent(&hash, &bytes).unwrap();
        let mut r = Resume::new(hash, name, env.out.clone(), meta.info.num_pieces());
        r.set_have(&Bitfield::full(meta.info.num_pieces()));
        r.files = stamp_files(&env.out, &meta.info);
        r.added = 1_700_000_000 + i as u64;
        r.completed = Some(1_700_000_100);
        r.queue_position = i as u32;
        r.clean = true;
        store.save_resume(&r).unwrap();
        hashes.push(hash);
    }
    drop(store);
    let all_seeding_100 = |r: &[serde_json::Value]| all_seeding(r, TORRENTS);

    // Run 1 starts from that state; its SIGTERM saves all 100 itself.
    let port = free_port();
    let port_args: Vec<String> = ["--port", &port.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut daemon = Daemon::start(&env, "1", &port_args);
    env.wait_list("100 seeding", DONE_WAIT, &mut daemon, all_seeding_100);
    let (rchar1, _) = proc_io(daemon.pid());
    assert!(daemon.term().success());

    // Run 2: the clean restart measured.
    let t0 = Instant::now();
    let mut daemon = Daemon::start(&env, "2", &port_args);
    let rows = env.wait_list("100 seeding again", DONE_WAIT, &mut daemon, all_seeding_100);
    let took = t0.elapsed();
    let (rchar, read_bytes) = proc_io(daemon.pid());
    eprintln!(
        "restart of {TORRENTS} complete torrents of {} MiB: all seeding {:.2} s after \
         `ttui daemon` started (first `list` answer included); rchar {rchar} B \
         (run 1: {rchar1} B), read_bytes {read_bytes} B",
        TORRENT_LEN >> 20,
        took.as_secs_f64()
    );
    for h in &hashes {
        let row = row_of(&rows, &hex(h));
        assert_eq!(row["state"], "seeding", "{row}");
    }
    // No re-hash: the daemon read far less than one torrent's data (sparse zeros read through
    // read(2) still count in rchar; read_bytes only counts the block device).
    assert!(
        rchar < TORRENT_LEN / 10,
        "the restarted daemon read {rchar} bytes: something was hashed\n{}",
        daemon.report()
    );
    // The log lags the list by a line or two: wait (bounded) for every torrent's line.
    let how = "from the saved resume data (files unchanged)";
    let start = Instant::now();
    let mut log = daemon.log_text();
    while verified_counts(&log, how).len() < TORRENTS && start.elapsed() < DONE_WAIT / 6 {
        std::thread::sleep(Duration::from_millis(100));
        log = daemon.log_text();
    }
    let trusted = verified_counts(&log, how);
    let n = TORRENT_LEN / PIECE_LEN;
    // At least one line per torrent (a torrent the session starts twice logs twice).
    assert!(trusted.len() >= TORRENTS, "{}", daemon.report());
    assert!(trusted.iter().all(|&c| c == (n, n)), "{trusted:?}");
    if trusted.len() != TORRENTS {
        eprintln!(
            "note: {} \"from the saved resume data\" lines for {TORRENTS} torrents",
            trusted.len()
        );
    }
    assert!(
        verified_counts(&log, "checked existing data").is_empty(),
        "{}",
        daemon.report()
    );

    // They seed again: a libtorrent leecher completes one from the restarted daemon.
    if have_lt {
        let name = "zero-042.bin";
        let torrent = Torrent::load(&torrents_dir.join(format!("{name}.torrent")));
        let save = env.root.path().join("leech");
        fs::create_dir_all(&save).unwrap();
        let opts = LtOptions {
            peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
            ..LtOptions::default()
        };
        let mut leecher = LibtorrentPeer::start_leecher(&torrent, &save, opts);
        leecher.wait_done(DONE_WAIT);
        let got = fs::metadata(save.join(name)).unwrap().len();
        assert_eq!(got, TORRENT_LEN, "{}", leecher.report());
        env.wait_list("the upload counted", DONE_WAIT, &mut daemon, |r| {
            row_of(r, &torrent.hash_hex())["uploaded"]
                .as_u64()
                .unwrap_or(0)
                >= TORRENT_LEN
        });
    }
    assert!(daemon.term().success());
}

/// Issue 19, 4: tests/session/session.rs covers truncated, garbage, another version and another
/// torrent's info hash; these are the rest: a huge resume file (over the 32 MiB limit, a
/// sparse 1 GiB here) and an empty one (what a crash can leave on a file system without
/// rename ordering). Each costs its own torrent a full check with a warning, the untouched
/// one trusts its resume data, and the huge file is refused without reading it.
#[test]
fn huge_and_empty_resume_files_cost_a_full_check_of_their_torrent_only() {
    require_loopback_only();
    let env = Env::new("ttui-restart-damaged-");
    let payloads = three_payloads(&env.out, &env.root.path().join("torrents"));
    let mut daemon = Daemon::start(&env, "1", &[]);
    let paths: Vec<String> = payloads.iter().map(Payload::path).collect();
    let mut add: Vec<&str> = vec!["add"];
    add.extend(paths.iter().map(String::as_str));
    assert_eq!(env.verb(&add).code, 0);
    env.wait_list("three checked", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    assert!(daemon.term().success());

    // 0: huge (its good bytes, then a hole up to 1 GiB), 1: empty, 2: untouched.
    let resume = |i: usize| env.resume_path(&payloads[i].hash());
    File::options()
        .write(true)
        .open(resume(0))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    File::create(resume(1)).unwrap();

    let mut daemon = Daemon::start(&env, "2", &[]);
    let rows = env.wait_list("three back", DONE_WAIT, &mut daemon, |r| all_seeding(r, 3));
    for p in &payloads {
        let row = row_of(&rows, &p.hash());
        assert_eq!(row["verified_bytes"], row["total_bytes"], "{row}");
    }
    let (rchar, _) = proc_io(daemon.pid());
    let log = daemon.log_text();
    let warned = lines_with(&log, "every piece is checked");
    for p in &payloads[..2] {
        assert!(
            warned.iter().any(|l| l.contains(&p.hash())),
            "no warning for {}\n{log}",
            p.torrent.name
        );
    }
    assert_eq!(warned.len(), 2, "{log}");
    assert!(
        warned.iter().any(|l| l.contains("larger than")),
        "the huge file is not named as such\n{log}"
    );
    let mut checked = verified_counts(&log, "checked existing data");
    checked.sort();
    let mut want: Vec<(u64, u64)> = payloads[..2].iter().map(|p| (p.pieces, p.pieces)).collect();
    want.sort();
    assert_eq!(checked, want, "{log}");
    assert_eq!(
        verified_counts(&log, "from the saved resume data (files unchanged)"),
        vec![(payloads[2].pieces, payloads[2].pieces)],
        "{log}"
    );
    // Refused by its size, not read: the whole session read less than the 32 MiB limit.
    assert!(
        rchar < 16 << 20,
        "the daemon read {rchar} bytes: the huge resume file was read"
    );
    assert!(daemon.term().success());

    // Both are good again: the next start hashes nothing.
    assert!(fs::metadata(resume(0)).unwrap().len() < 1 << 20);
    let mut daemon = Daemon::start(&env, "3", &[]);
    env.wait_list("three back again", DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    let log = daemon.log_text();
    assert_eq!(
        verified_counts(&log, "from the saved resume data (files unchanged)").len(),
        3,
        "{log}"
    );
    assert!(daemon.term().success());
}
