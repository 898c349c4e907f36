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

use crate::common;
use crate::kit;
use crate::payload;
use crate::prio;

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

/// One HTTP/1.0 exchange with the qBittorrent API at `addr` (a form POST when `form` is
/// given, else a GET), carrying the `SID` cookie: (status line and headers, body).
fn qbt(addr: SocketAddr, sid: &str, path: &str, form: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = match form {
        Some(body) => format!(
            "POST {path} HTTP/1.0\r\nHost: {addr}\r\nCookie: SID={sid}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        None => format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nCookie: SID={sid}\r\n\r\n"),
    };
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// Signs in (no credentials are set: any login passes on loopback) and returns the SID.
fn qbt_login(addr: SocketAddr) -> String {
    let (head, body) = qbt(
        addr,
        "",
        "/api/v2/auth/login",
        Some("username=u&password=p"),
    );
    assert_eq!(body, "Ok.", "{head}");
    head.lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: SID=")
                .or(l.strip_prefix("Set-Cookie: SID="))
        })
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no SID cookie: {head}"))
        .to_string()
}

/// `torrents/info`'s `f_l_piece_prio` for `hash`.
fn f_l_piece_prio(addr: SocketAddr, sid: &str, hash: &str) -> Option<bool> {
    let (_, body) = qbt(
        addr,
        sid,
        &format!("/api/v2/torrents/info?hashes={hash}"),
        None,
    );
    let rows: Value = serde_json::from_str(&body).ok()?;
    rows.get(0)?["f_l_piece_prio"].as_bool()
}

/// qBittorrent's first/last piece priority (`firstLastPiecePrio` at `torrents/add`, over
/// the qBittorrent API of a real daemon): a magnet of three files, each several pieces
/// long, from a python3-libtorrent seeder throttled so the order shows. The first and last
/// piece of each file are the first pieces the seeder is asked for (its own log of the
/// requests it received), though the order is rarest first. The flag is on the torrent's line
/// (`list --json`, `show --json`, `f_l_piece_prio`), survives a restart, and
/// `toggleFirstLastPiecePrio` turns it off.
#[test]
fn first_and_last_pieces_come_first_and_the_flag_survives_a_restart() {
    let Some((_lock, env)) = setup("ttui-firstlast-") else {
        return;
    };
    let files = [
        ("a.bin", 6 * PLEN + 1000),
        ("b.bin", 5 * PLEN + 2000),
        ("c.bin", 7 * PLEN + 3000),
    ];
    let fixtures = env.root.path().join("fixtures");
    let data = fixtures.join("data");
    let p = Payload::make(&data, &fixtures, "fl", &files, 11);
    let bare = p
        .torrent
        .with_trackers(&fixtures.join("fl-bare.torrent"), None, &[]);
    let opts = LtOptions {
        seed_mode: true,
        log_uploads: true,
        // About 3 s for the whole: slow enough that requests go out in the picker's order.
        upload_limit: 400_000,
        ..LtOptions::default()
    };
    let seed = LibtorrentSeeder::start(&bare, &data, opts);
    let qaddr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let extra = vec![
        "--peer".to_string(),
        seed.addr().to_string(),
        "--qbt".to_string(),
        qaddr.to_string(),
    ];
    let mut daemon = Daemon::start(&env, "1", &extra);
    let sid = qbt_login(qaddr);
    let hash = p.hash();
    let magnet = format!("magnet%3A%3Fxt%3Durn%3Abtih%3A{hash}%26dn%3Dfl");
    let (head, body) = qbt(
        qaddr,
        &sid,
        "/api/v2/torrents/add",
        Some(&format!("urls={magnet}&firstLastPiecePrio=true")),
    );
    assert_eq!(body, "Ok.", "{head}");
    env.wait_list("the download", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &hash)
    });

    // The first and last piece of each file, then the others.
    let mut boosted: Vec<u64> = Vec::new();
    let mut offset = 0;
    for (_, len) in files {
        boosted.extend([offset / PLEN, (offset + len - 1) / PLEN]);
        offset += len;
    }
    boosted.sort_unstable();
    boosted.dedup();
    // The order ttui asked in (libtorrent's disk reads may finish out of order, so the
    // order of sending can swap a boosted piece with the next one).
    let order = seed.requested_pieces();
    assert_eq!(order.len() as u64, p.pieces, "{order:?}");
    let first: Vec<u64> = order.iter().copied().take(boosted.len()).collect();
    for b in &boosted {
        assert!(
            first.contains(b),
            "piece {b} (first or last of a file) was not among the first {} asked for: \
             {order:?}, boosted {boosted:?}, sent {:?}",
            boosted.len(),
            seed.uploaded_pieces()
        );
    }

    // On the line, in `show --json` and over the API.
    let rows = env.list();
    assert_eq!(row_of(&rows, &hash)["first_last"], true);
    let id = id_of(&rows, &hash);
    let shown = env.verb(&["show", &id, "--json"]);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["first_last"], true, "{shown}");
    assert_eq!(f_l_piece_prio(qaddr, &sid, &hash), Some(true));

    // A restart keeps it; the toggle turns it off.
    let st = daemon.term();
    assert!(st.success(), "daemon exit: {st}");
    let mut daemon = Daemon::start(&env, "2", &extra);
    env.wait_list("the restarted torrent", DONE_WAIT, &mut daemon, |r| {
        done_row(r, &hash)
    });
    assert_eq!(row_of(&env.list(), &hash)["first_last"], true);
    let sid = qbt_login(qaddr);
    assert_eq!(f_l_piece_prio(qaddr, &sid, &hash), Some(true));
    let (head, _) = qbt(
        qaddr,
        &sid,
        "/api/v2/torrents/toggleFirstLastPiecePrio",
        Some(&format!("hashes={hash}")),
    );
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    let end = Instant::now() + Duration::from_secs(10);
    while f_l_piece_prio(qaddr, &sid, &hash) != Some(false) {
        assert!(Instant::now() < end, "the toggle never reached the line");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(row_of(&env.list(), &hash)["first_last"], false);
    drop(daemon);
    drop(seed);
}
