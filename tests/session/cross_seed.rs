//! Cross-seeding: a torrent added with no data of its own finds its files in the data of the
//! torrents the session seeds (same path below the torrent's folder, same length), links them
//! into its own place, and proves them with its check before they count; only the rest is
//! fetched, and nothing it writes can change the other torrent's data. The same payload as
//! torrents of other piece sizes (and another name) seeds to a python3-libtorrent leecher
//! without a byte downloaded; one with an extra small file fetches only that file and the
//! pieces straddling it; one whose file has the right size and other bytes gets a file of its
//! own for it and fetches only its pieces, the first torrent's file untouched; removing one
//! with its data keeps the other's. The seeders are found through opentracker, and what ttui
//! fetched is read from its own counters and from the seeders' (what they uploaded). Run
//! through tests/run.sh: loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use serde_json::Value;

const DONE_WAIT: Duration = Duration::from_secs(60);
/// Pieces of 32 KiB for the first torrent; the others take 64 and 128.
const PIECE_LOG2: u32 = 15;

/// The payload's files: (path below the folder, length, seed of its bytes).
const FILES: &[(&str, u64, u64)] = &[
    ("a.bin", (1 << 20) + 77, 1),
    ("b.bin", 600_003, 2),
    ("sub/c.bin", (2 << 20) + 5, 3),
];

/// Writes the payload as `dir/name` (the files of `FILES`, and `extra`), returns its folder.
fn payload(dir: &Path, name: &str, extra: &[(&str, u64, u64)]) -> PathBuf {
    let root = dir.join(name);
    for (rel, len, seed) in FILES.iter().chain(extra) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        make_single_file_payload(
            p.parent().unwrap(),
            p.file_name().unwrap().to_str().unwrap(),
            *len,
            *seed,
        );
    }
    root
}

fn row<'a>(rows: &'a [Value], t: &Torrent) -> &'a Value {
    row_of(rows, &t.hash_hex())
}

fn seeding(rows: &[Value], t: &Torrent) -> bool {
    rows.iter()
        .any(|r| r["info_hash"] == t.hash_hex() && r["state"] == "seeding")
}

fn add(env: &Env, t: &Torrent) {
    let out = env.verb(&["add", &t.path.display().to_string()]);
    assert_eq!(out.code, 0, "{out:?}");
}

fn same_inode(a: &Path, b: &Path) -> bool {
    let (a, b) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[test]
fn the_same_data_as_other_torrents_is_found_proven_and_shared_and_only_the_rest_is_fetched() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let env = Env::new("ttui-cross-seed-");
    let tdir = env.root.path().join("torrents");
    fs::create_dir_all(&tdir).unwrap();
    // The first torrent, complete in ttui's download folder.
    let show = payload(&env.out, "show", &[]);
    let t1 = mktorrent(&show, PIECE_LOG2, &tdir.join("show.torrent"));
    // The same files as other torrents: 64 KiB and 128 KiB pieces under other names; one with
    // an extra small file (between b.bin and sub/c.bin: pieces straddle it); one whose b.bin
    // has the right length and other bytes. Made elsewhere, where the seeders keep them.
    let elsewhere = env.root.path().join("elsewhere");
    // t2, t3 and two that do not match go in a folder of their own for `ttui cross-seed`.
    let found = env.root.path().join("found");
    fs::create_dir_all(&found).unwrap();
    let t2 = mktorrent(
        &payload(&elsewhere, "show.64k", &[]),
        16,
        &found.join("t2.torrent"),
    );
    let t3 = mktorrent(
        &payload(&elsewhere, "show.128k", &[]),
        17,
        &found.join("t3.torrent"),
    );
    let other = elsewhere.join("other");
    fs::create_dir_all(&other).unwrap();
    make_single_file_payload(&other, "x.bin", 300_000, 50);
    mktorrent(&other, PIECE_LOG2, &found.join("other.torrent"));
    fs::write(found.join("junk.torrent"), b"not bencode").unwrap();
    let extra = [("extra.nfo", 1_000, 9)];
    let t4_root = payload(&elsewhere, "show.extra", &extra);
    let t4 = mktorrent(&t4_root, PIECE_LOG2, &tdir.join("t4.torrent"));
    let t5_root = payload(&elsewhere, "show.bad", &[]);
    make_single_file_payload(&t5_root, "b.bin", 600_003, 77);
    let t5 = mktorrent(&t5_root, PIECE_LOG2, &tdir.join("t5.torrent"));
    // Every torrent ttui takes from a seeder announces to opentracker (mktorrent's announce is
    // a dead one): the seeders are found there, as a tracker's swarm would be.
    let tracker = Opentracker::start(&[t2.info_hash, t4.info_hash, t5.info_hash]);
    let on_tracker = |t: &Torrent, name: &str| {
        t.with_trackers(&t.path.with_file_name(name), Some(&tracker.http_url()), &[])
    };
    let t2 = on_tracker(&t2, "t2.torrent");
    let t4 = on_tracker(&t4, "t4.torrent");
    let t5 = on_tracker(&t5, "t5.torrent");

    let port = free_port();
    let mut daemon = Daemon::start(&env, "1", &["--port".to_string(), port.to_string()]);
    add(&env, &t1);
    env.wait_list("the first torrent seeding", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t1)
    });

    // `ttui cross-seed DIR`: what matches, then the matches added.
    let dir = found.display().to_string();
    let out = env.verb(&["cross-seed", &dir, "--json"]);
    let report: Vec<Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let matched: Vec<(&str, &str)> = report
        .iter()
        .map(|r| (r["file"].as_str().unwrap(), r["match"].as_str().unwrap()))
        .collect();
    assert_eq!(
        matched,
        [
            ("junk.torrent", "bad"),
            ("other.torrent", "none"),
            ("t2.torrent", "full"),
            ("t3.torrent", "full")
        ],
        "{report:?}"
    );
    assert_eq!(
        out.code, 1,
        "a torrent that cannot be read is an error: {out:?}"
    );
    assert_eq!(report[2]["from"], serde_json::json!([1]), "{report:?}");
    // A libtorrent seeder of t2 is in its swarm before it is added: ttui takes nothing from it.
    let ttui = SocketAddr::from(([127, 0, 0, 1], port));
    let counted = LtOptions {
        counters: true,
        ..LtOptions::default()
    };
    let mut s2 = LibtorrentPeer::start(&t2, &elsewhere, counted.clone());
    let out = env.verb(&["cross-seed", &dir, "--add"]);
    assert!(out.stdout.contains("2 of 4 match fully"), "{out:?}");
    // Other piece sizes: complete from the disk alone, each file a link to the first's.
    let rows = env.wait_list("both seeding", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t2) && seeding(r, &t3)
    });
    assert_eq!(
        s2.uploaded_fresh(),
        0,
        "t2's seeder uploaded to ttui\n{}",
        daemon.report()
    );
    drop(s2);
    assert_eq!(row(&rows, &t2)["labels"], serde_json::json!(["cross-seed"]));
    assert!(
        rows.iter().all(|r| r["name"] != "other"),
        "a torrent with nothing found is not added"
    );
    for (t, name) in [(&t2, "show.64k"), (&t3, "show.128k")] {
        assert_eq!(row(&rows, t)["downloaded"], 0, "{}", row(&rows, t));
        for (rel, _, _) in FILES {
            assert!(
                same_inode(&show.join(rel), &env.out.join(name).join(rel)),
                "{name}/{rel} is not the first torrent's data"
            );
        }
    }
    let leech_dir = env.root.path().join("leech");
    fs::create_dir_all(&leech_dir).unwrap();
    let opts = LtOptions {
        peers: vec![ttui],
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&t2, &leech_dir, opts);
    leecher.wait_done(DONE_WAIT);
    for (rel, _, _) in FILES {
        assert!(
            fs::read(leech_dir.join("show.64k").join(rel)).unwrap()
                == fs::read(show.join(rel)).unwrap(),
            "the leecher's {rel} differs"
        );
    }
    drop(leecher);

    // An extra small file: it and the pieces straddling it are all that is fetched, by
    // ttui's count and by its seeder's.
    let mut s4 = LibtorrentPeer::start(&t4, &elsewhere, counted.clone());
    add(&env, &t4);
    let rows = env.wait_list("the extra file fetched", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t4)
    });
    let got = row(&rows, &t4)["downloaded"].as_u64().unwrap();
    let piece = 1u64 << PIECE_LOG2;
    assert!(
        got > 0 && got <= 1_000 + 2 * piece,
        "fetched {got} bytes for a 1000-byte file"
    );
    let sent = s4.uploaded_fresh();
    assert!(
        (1_000..=1_000 + 2 * piece).contains(&sent),
        "t4's seeder uploaded {sent} bytes for a 1000-byte file"
    );
    assert!(
        fs::read(env.out.join("show.extra/extra.nfo")).unwrap()
            == fs::read(t4_root.join("extra.nfo")).unwrap()
    );

    // The right size, other bytes: b.bin gets a file of its own; the first's is untouched.
    let before = fs::read(show.join("b.bin")).unwrap();
    let mut s5 = LibtorrentPeer::start(
        &t5,
        &elsewhere,
        LtOptions {
            upload_limit: 150_000,
            ..counted
        },
    );
    add(&env, &t5);
    let start = Instant::now();
    let mut said = None;
    let rows = loop {
        let rows = env.list();
        let r = row(&rows, &t5);
        if let Some(w) = r["why"].as_str().filter(|w| w.starts_with("cross-seed: ")) {
            said.get_or_insert(w.to_string());
        }
        if r["state"] == "seeding" {
            break rows;
        }
        daemon.assert_alive("the bad file fetched");
        assert!(
            start.elapsed() < DONE_WAIT,
            "never complete: {r}\n{}",
            daemon.report()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let said =
        said.unwrap_or_else(|| panic!("the line never said what was found\n{}", daemon.report()));
    assert!(
        said.contains("% found on disk (from #1") && said.contains("fetching"),
        "{said}"
    );
    let got = row(&rows, &t5)["downloaded"].as_u64().unwrap();
    assert!(
        got >= 600_003 && got <= 600_003 + 2 * piece,
        "fetched {got} bytes for b.bin"
    );
    let sent = s5.uploaded_fresh();
    assert!(
        (600_003..=600_003 + 2 * piece).contains(&sent),
        "t5's seeder uploaded {sent} bytes for b.bin"
    );
    assert!(
        fs::read(show.join("b.bin")).unwrap() == before,
        "the first torrent's b.bin changed"
    );
    assert!(
        fs::read(env.out.join("show.bad/b.bin")).unwrap()
            == fs::read(t5_root.join("b.bin")).unwrap()
    );
    assert!(!same_inode(
        &show.join("b.bin"),
        &env.out.join("show.bad/b.bin")
    ));
    assert!(same_inode(
        &show.join("a.bin"),
        &env.out.join("show.bad/a.bin")
    ));
    assert!(
        !lines_with(&daemon.log_text(), "had the right size but other bytes").is_empty(),
        "{}",
        daemon.report()
    );

    // Removing one with its data keeps the first torrent's files.
    let id = row(&env.list(), &t2)["id"].to_string();
    assert_eq!(env.verb(&["remove", "--delete-data", &id]).code, 0);
    assert!(!env.out.join("show.64k").exists());
    for (rel, len, _) in FILES {
        assert_eq!(fs::metadata(show.join(rel)).unwrap().len(), *len, "{rel}");
    }
    assert_eq!(
        env.verb(&["verify", &row(&env.list(), &t1)["id"].to_string()])
            .code,
        0
    );
    env.wait_list("the first still whole", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t1)
    });
    assert!(daemon.term().success());
}

#[test]
fn two_torrents_in_one_place_keep_each_others_files_when_one_is_removed_with_its_data() {
    require_loopback_only();
    let env = Env::new("ttui-cross-seed-rm-");
    let tdir = env.root.path().join("torrents");
    fs::create_dir_all(&tdir).unwrap();
    let show = payload(&env.out, "show", &[]);
    let t1 = mktorrent(&show, PIECE_LOG2, &tdir.join("a.torrent"));
    let t2 = mktorrent(&show, 16, &tdir.join("b.torrent"));
    let mut daemon = Daemon::start(&env, "1", &[]);
    add(&env, &t1);
    add(&env, &t2);
    env.wait_list("both seeding", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t1) && seeding(r, &t2)
    });
    let id = row(&env.list(), &t2)["id"].to_string();
    assert_eq!(env.verb(&["remove", "--delete-data", &id]).code, 0);
    for (rel, len, _) in FILES {
        assert_eq!(
            fs::metadata(show.join(rel)).unwrap().len(),
            *len,
            "{rel} went"
        );
    }
    assert!(
        !lines_with(&daemon.log_text(), "file(s) kept, which other torrents").is_empty(),
        "{}",
        daemon.report()
    );
    assert!(daemon.term().success());
}

/// `ttui create --v2 -o OUT DIR`, loaded.
fn create_v2(env: &Env, dir: &Path, out: &Path) -> Torrent {
    let o = env
        .ttui()
        .args(["create", "--v2", "-o"])
        .arg(out)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ttui create: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Torrent::load(out)
}

#[test]
fn a_v2_torrent_of_renamed_files_matches_by_pieces_root() {
    require_loopback_only();
    let env = Env::new("ttui-cross-seed-v2-");
    let tdir = env.root.path().join("torrents");
    fs::create_dir_all(&tdir).unwrap();
    let show = payload(&env.out, "show", &[]);
    let t1 = create_v2(&env, &show, &tdir.join("show.torrent"));
    // The same bytes under other names and another layout: only the trees can tell.
    let renamed = env.root.path().join("elsewhere/Show S01");
    for ((rel, _, _), to) in FILES.iter().zip(["ep1.bin", "ep2.bin", "extras/ep3.bin"]) {
        let p = renamed.join(to);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::copy(show.join(rel), &p).unwrap();
    }
    let t2 = create_v2(&env, &renamed, &tdir.join("renamed.torrent"));
    let mut daemon = Daemon::start(&env, "1", &[]);
    add(&env, &t1);
    // A v2-only torrent is listed under its v2 hash cut to 20 bytes: found by name here.
    let named = |rows: &[Value], name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    env.wait_list("the first seeding", DONE_WAIT, &mut daemon, |r| {
        named(r, "show")["state"] == "seeding"
    });
    add(&env, &t2);
    let rows = env.wait_list("the renamed one seeding", DONE_WAIT, &mut daemon, |r| {
        named(r, "Show S01")["state"] == "seeding"
    });
    assert_eq!(named(&rows, "Show S01")["downloaded"], 0);
    for ((rel, _, _), to) in FILES.iter().zip(["ep1.bin", "ep2.bin", "extras/ep3.bin"]) {
        assert!(
            same_inode(&show.join(rel), &env.out.join("Show S01").join(to)),
            "{to} is not linked to {rel}"
        );
    }
    assert!(daemon.term().success());
}
