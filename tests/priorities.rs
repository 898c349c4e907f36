//! File priorities end to end (issue 20): a `ttui daemon` downloads a multi-file torrent from
//! python3-libtorrent with two files skipped (`ttui add --only-files`), then wants one of
//! them again (`ttui files ID --priority normal N`); and a `--sequential` download whose
//! order is read from the seeder's own log of the blocks it sent; and `ttui seed
//! --only-files`, which serves the wanted files' pieces to a libtorrent leecher and no other.
//!
//! Run through tests/run.sh: every swarm here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "session/kit.rs"]
mod kit;
#[allow(dead_code)]
#[path = "session/payload.rs"]
mod payload;
mod prereq;
#[allow(dead_code)]
#[path = "common/priorities.rs"]
mod prio;

use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use prio::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);

/// Bytes of the pieces that hold any byte of a wanted file.
fn wanted_piece_bytes(sizes: &[u64], wanted: &[usize]) -> u64 {
    let total: u64 = sizes.iter().sum();
    let n = total.div_ceil(PLEN);
    let mut want = vec![false; n as usize];
    let mut offset = 0;
    for (i, size) in sizes.iter().enumerate() {
        if wanted.contains(&i) && *size > 0 {
            for p in offset / PLEN..=(offset + size - 1) / PLEN {
                want[p as usize] = true;
            }
        }
        offset += size;
    }
    (0..n)
        .filter(|p| want[*p as usize])
        .map(|p| PLEN.min(total - p * PLEN))
        .sum()
}

#[test]
fn skipped_files_are_never_created_and_unskipping_fetches_one() {
    let Some((_lock, env)) = setup("ttui-prio-") else {
        return;
    };
    let (sizes, names) = (SIZES, NAMES);
    let swarm = Swarm::multi(&env, 7, true);
    let p = &swarm.p;
    let mut daemon = Daemon::start(&env, "1", &swarm.peer_args());

    // An index past the last file: one line, and the torrent is not added.
    let bad = env.verb(&["add", "--only-files", "0,5", &p.path()]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("file 5 does not exist"), "{bad:?}");
    assert_eq!(bad.stderr.trim_end().lines().count(), 1, "{bad:?}");
    assert!(env.list().is_empty());
    let bad = env.verb(&["add", "--only-files", "0,x", &p.path()]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "add --only-files 0,x");

    let added = env.verb(&["add", "--json", "--only-files", "0,2,4", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    let results: Vec<Value> = serde_json::from_str(&added.stdout).unwrap();
    let id = results[0]["id"].to_string();
    env.wait_list("the wanted files", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash())
    });
    let rows = env.list();
    let row = row_of(&rows, &p.hash());
    assert_eq!(row["why"], "done (3 of 5 files wanted)", "{row}");
    assert_eq!(row["wanted_bytes"], sizes[0] + sizes[2] + sizes[4], "{row}");

    // The files as `ttui files` numbers them: the torrent's order, priorities as set.
    let listed = files_json(&env, &id);
    let paths: Vec<String> = listed
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let expect: Vec<String> = names.iter().map(|n| format!("multi/{n}")).collect();
    assert_eq!(paths, expect, "mktorrent's order is not the one assumed");
    let prios: Vec<&str> = listed
        .iter()
        .map(|f| f["priority"].as_str().unwrap())
        .collect();
    assert_eq!(prios, ["normal", "skip", "normal", "skip", "normal"]);
    let text = env.verb(&["files", &id]);
    assert_eq!(text.code, 0, "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", text.stdout);
    assert!(lines[0].contains("PRIORITY"), "{}", text.stdout);
    assert!(
        lines[2].contains("skip") && lines[2].ends_with("multi/b.bin"),
        "{}",
        text.stdout
    );
    assert!(
        lines[1].contains("100%") && lines[1].contains("normal"),
        "{}",
        text.stdout
    );

    assert_only(&env.out, p, &[0, 2, 4]);
    let parts = env.out.join(format!(".{}.parts", p.hash()));
    assert!(parts.exists(), "no parts file for the boundary pieces");
    // The seeder sent the wanted pieces (boundary pieces included) and nothing more.
    std::thread::sleep(Duration::from_millis(1200));
    let up = swarm.seed.uploaded();
    let limit = wanted_piece_bytes(&sizes, &[0, 2, 4]);
    assert!(
        up <= limit,
        "uploaded {up} B, the wanted pieces hold {limit} B"
    );
    assert!(up >= sizes[0] + sizes[2] + sizes[4], "uploaded only {up} B");

    // An index past the last file: one line, nothing changed.
    let bad = env.verb(&["files", &id, "--skip", "0,9"]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_one_line(&bad.stderr, "files --skip 0,9");
    assert!(bad.stderr.contains("file 9 does not exist"), "{bad:?}");

    // Wanted again: fetched, byte-identical; the other skipped file still absent.
    let set = env.verb(&["files", &id, "--priority", "normal", "1"]);
    assert_eq!(set.code, 0, "{set:?}");
    env.wait_list("the un-skipped file", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash()) && row_of(r, &p.hash())["why"] == "done (4 of 5 files wanted)"
    });
    assert_only(&env.out, p, &[0, 1, 2, 4]);
    let listed = files_json(&env, &id);
    assert_eq!(listed[1]["verified_bytes"], sizes[1]);
    assert_eq!(listed[1]["priority"], "normal");

    // A restart keeps it all: the priorities from the resume data, the skipped file still
    // absent, and every wanted piece verified again, boundary pieces from the parts file
    // included (only the piece wholly inside d.bin is missing).
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");
    let mut daemon = Daemon::start(&env, "2", &swarm.peer_args());
    env.wait_list("the restarted torrent", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash()) && row_of(r, &p.hash())["why"] == "done (4 of 5 files wanted)"
    });
    let log = daemon.log_text();
    let counts = verified_counts(&log, "checked existing data");
    assert_eq!(
        counts,
        vec![(p.pieces - 1, p.pieces)],
        "{}",
        last_lines(&log, 30)
    );
    assert_only(&env.out, p, &[0, 1, 2, 4]);
    assert_eq!(
        priorities(&env, &id),
        ["normal", "normal", "normal", "skip", "normal"]
    );
    drop(daemon);
    drop(swarm);
}

#[test]
fn sequential_mode_fetches_pieces_in_order() {
    let Some((_lock, env)) = setup("ttui-seq-") else {
        return;
    };
    let swarm = Swarm::new(&env, "seq.bin", &[("", 40 * PLEN + 1234)], 9, true);
    let p = &swarm.p;
    let mut daemon = Daemon::start(&env, "1", &swarm.peer_args());
    let added = env.verb(&["add", "--sequential", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    env.wait_list("the sequential download", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &p.hash())
    });
    assert_only(&env.out, p, &[0]);
    let order = swarm.seed.uploaded_pieces();
    let last = p.pieces - 1;
    assert_eq!(order.len() as u64, p.pieces, "{order:?}");
    // The first and last piece go first (previews), then the rest in index order; requests
    // in flight together may be answered a little out of order, never far.
    let at = order.iter().position(|x| *x == last).unwrap();
    assert!(at <= 2, "the last piece came {at}th: {order:?}");
    let rest: Vec<u64> = order.iter().copied().filter(|x| *x != last).collect();
    for (i, a) in rest.iter().enumerate() {
        for b in &rest[i + 1..] {
            assert!(a <= &(b + 2), "piece {a} went before piece {b}: {order:?}");
        }
    }
    drop(daemon);
    drop(swarm);
}

/// `ttui seed --only-files` with only the wanted files on disk (what one seeds after a
/// download with files skipped): ttui checks those, seeds without creating the others, and
/// serves a libtorrent leecher the wanted files byte-identical and not one byte of the
/// skipped ones: its bitfield does not claim them. (Files are piece-aligned, so no piece is
/// shared by a wanted file and a missing one.) With a skipped file's data present and valid
/// its pieces verify and are served too: the torrent seeds what it has, as `add` does.
#[test]
fn seeding_only_some_files_serves_just_their_pieces() {
    let Some((_lock, env)) = setup("ttui-prio-seed-") else {
        return;
    };
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let sizes = [3 * PLEN, 2 * PLEN, 4 * PLEN, 2 * PLEN, PLEN + 777];
    let files: Vec<(&str, u64)> = NAMES.iter().copied().zip(sizes).collect();
    let p = Payload::make(&data, &fixtures, "multi", &files, 13);
    let bare = p
        .torrent
        .with_trackers(&fixtures.join("multi-bare.torrent"), None, &[]);
    let (wanted, skipped) = ([0, 2, 4], [1, 3]);
    let originals: Vec<Vec<u8>> = p
        .files
        .iter()
        .map(|f| fs::read(data.join(&f.0)).unwrap())
        .collect();
    for i in skipped {
        fs::remove_file(data.join(&p.files[i].0)).unwrap();
    }
    let port = free_port();
    let extra = ["--only-files", "0,2,4", "--no-dht", "--transport", "tcp"];
    let mut seeder = spawn_ttui_seeder(&bare.path, &data, port, &extra);
    // Its line counts the wanted files only (525,065 of the 787,209 bytes).
    let seeding = seeder.stdout_now();
    assert!(
        seeding.contains("100.0%  512.76 KiB / 512.76 KiB "),
        "{seeding}"
    );
    for i in skipped {
        let path = data.join(&p.files[i].0);
        assert!(!path.exists(), "skipped {} was created", path.display());
    }

    let leech = fixtures.join("leech");
    let opts = LtOptions {
        peers: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        ..LtOptions::default()
    };
    let mut lt = LibtorrentPeer::start_leecher(&bare, &leech, opts);
    let same = |i: usize| fs::read(leech.join(&p.files[i].0)).ok().as_ref() == Some(&originals[i]);
    let deadline = Instant::now() + DONE_WAIT;
    while !wanted.iter().all(|&i| same(i)) {
        assert!(
            Instant::now() < deadline,
            "the wanted files never arrived\n{}\n{}",
            lt.report(),
            seeder.report()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Time for anything more it would be sent: two more progress lines of the leecher's.
    lt.uploaded_fresh();
    lt.uploaded_fresh();
    let (down, _) = *lt.progress().last().unwrap();
    let limit = wanted_piece_bytes(&sizes, &wanted);
    assert_eq!(limit, 8 * PLEN + 777);
    assert!(
        down <= limit,
        "the leecher got {down} B, the wanted files' pieces hold {limit} B"
    );
    let text = lt.stdout_text();
    let last = text.lines().rfind(|l| l.starts_with("progress "));
    assert!(
        !text.lines().any(|l| l == "done") && !last.unwrap().starts_with("progress 100"),
        "the leecher completed the whole torrent: {last:?}"
    );
    for i in skipped {
        assert!(!same(i), "the leecher got skipped file {i}");
    }
    assert!(!seeder.has_exited(), "{}", seeder.report());
}
