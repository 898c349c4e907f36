//! Cross-seeding: a torrent added with no data of its own finds its files in the data of the
//! torrents the session seeds (same path below the torrent's folder, same length), links them
//! into its own place, and proves them with its check before they count; only the rest is
//! fetched, and nothing it writes can change the other torrent's data. The same payload as
//! torrents of other piece sizes (and another name) seeds to a python3-libtorrent leecher
//! without a byte downloaded; one with an extra small file fetches only that file and the
//! pieces straddling it; one whose file has the right size and other bytes gets a file of its
//! own for it and fetches only its pieces, the first torrent's file untouched; removing one
//! with its data keeps the other's. Run through tests/run.sh: loopback only.
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
    let t2 = mktorrent(
        &payload(&elsewhere, "show.64k", &[]),
        16,
        &tdir.join("t2.torrent"),
    );
    let t3 = mktorrent(
        &payload(&elsewhere, "show.128k", &[]),
        17,
        &tdir.join("t3.torrent"),
    );
    let extra = [("extra.nfo", 1_000, 9)];
    let t4_root = payload(&elsewhere, "show.extra", &extra);
    let t4 = mktorrent(&t4_root, PIECE_LOG2, &tdir.join("t4.torrent"));
    let t5_root = payload(&elsewhere, "show.bad", &[]);
    make_single_file_payload(&t5_root, "b.bin", 600_003, 77);
    let t5 = mktorrent(&t5_root, PIECE_LOG2, &tdir.join("t5.torrent"));

    let port = free_port();
    let mut daemon = Daemon::start(&env, "1", &["--port".to_string(), port.to_string()]);
    add(&env, &t1);
    env.wait_list("the first torrent seeding", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t1)
    });

    // Other piece sizes: complete from the disk alone, each file a link to the first's.
    add(&env, &t2);
    add(&env, &t3);
    let rows = env.wait_list("both seeding", DONE_WAIT, &mut daemon, |r| {
        seeding(r, &t2) && seeding(r, &t3)
    });
    for (t, name) in [(&t2, "show.64k"), (&t3, "show.128k")] {
        assert_eq!(row(&rows, t)["downloaded"], 0, "{}", row(&rows, t));
        for (rel, _, _) in FILES {
            assert!(
                same_inode(&show.join(rel), &env.out.join(name).join(rel)),
                "{name}/{rel} is not the first torrent's data"
            );
        }
    }
    let ttui = SocketAddr::from(([127, 0, 0, 1], port));
    let leech_dir = env.root.path().join("leech");
    fs::create_dir_all(&leech_dir).unwrap();
    let opts = |upload_limit| LtOptions {
        peers: vec![ttui],
        upload_limit,
        ..LtOptions::default()
    };
    let mut leecher = LibtorrentPeer::start_leecher(&t2, &leech_dir, opts(0));
    leecher.wait_done(DONE_WAIT);
    for (rel, _, _) in FILES {
        assert!(
            fs::read(leech_dir.join("show.64k").join(rel)).unwrap()
                == fs::read(show.join(rel)).unwrap(),
            "the leecher's {rel} differs"
        );
    }
    drop(leecher);

    // An extra small file: it and the pieces straddling it are all that is fetched.
    let _s4 = LibtorrentPeer::start(&t4, &elsewhere, opts(0));
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
    assert!(
        fs::read(env.out.join("show.extra/extra.nfo")).unwrap()
            == fs::read(t4_root.join("extra.nfo")).unwrap()
    );

    // The right size, other bytes: b.bin gets a file of its own; the first's is untouched.
    let before = fs::read(show.join("b.bin")).unwrap();
    let _s5 = LibtorrentPeer::start(&t5, &elsewhere, opts(150_000));
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
