//! A move to another file system keeps seeding, and survives a kill in the middle (issue:
//! "moves that don't stop seeding"). The data sits on a FUSE mount (`phases/holdfs.py`, a
//! device of its own); `ttui move` sends it to the test's folder on the real disk. The copy
//! is held part way, by the mount, while a libtorrent leecher downloads every piece the hold
//! lets through from the session: the torrent seeds through its move, its line saying how
//! far the copy is. Then the daemon is SIGKILLed mid-copy. The next daemon still finds the
//! torrent where it was (the old copy is the truth until the switch), copies again (keeping
//! what was copied whole), switches, and seeds from the new place, with nothing left behind
//! in the old one nor of the copy.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::phases::holdfs::HoldFs;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;
use kit::*;
use payload::*;

/// A check, a copy or a leecher's few MiB take seconds; this bounds each wait.
const WAIT: Duration = Duration::from_secs(60);

fn row<'a>(rows: &'a [Value], hash: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["info_hash"] == hash)
}

#[test]
fn a_move_to_another_disk_keeps_seeding_and_survives_a_kill_mid_copy() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !HoldFs::available() {
        return;
    }
    let env = Env::new("ttui-moves-");
    let made = env.root.path().join("t");
    let port = free_port();
    let args = vec!["--port".to_string(), port.to_string()];
    let mut daemon = Daemon::start(&env, "1", &args);
    // After the daemon: dropped before it, so a read still held is let go first.
    let mut disk = HoldFs::start(&env.root.path().join("holdfs"), &env.logs);
    // a.bin is 16 whole pieces, b.bin the last 4: a copy held at b.bin's start has copied
    // a.bin, and a.bin's pieces are still served.
    let files: &[(&str, u64)] = &[("a.bin", 16 * PLEN), ("b.bin", 4 * PLEN)];
    let p = Payload::make(&disk.backing, &made, "move-seed", files, 31);
    let hash = p.hash();
    let out = env.verb(&["add", p.path().as_str(), "-o", disk.mount.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows = env.wait_list("the seed", WAIT, &mut daemon, |rows| {
        row(rows, &hash).is_some_and(|r| r["state"] == "seeding")
    });
    let id = row(&rows, &hash).unwrap()["id"].to_string();

    // The move, held as it starts copying b.bin.
    disk.hold("move-seed/b.bin", 0);
    let moved = env.root.path().join("moved");
    fs::create_dir_all(&moved).unwrap();
    let mut mover = Proc::spawn(
        "ttui-move",
        env.ttui()
            .args(["move", &id])
            .arg(&moved)
            .arg("--state-dir")
            .arg(&env.state),
        &env.logs,
    );
    let to = format!("to {}:", moved.display());
    env.wait_list("the copy to be held at b.bin", WAIT, &mut daemon, |rows| {
        row(rows, &hash).is_some_and(|r| {
            r["state"] == "moving" && r["why"].as_str().is_some_and(|w| w.starts_with(&to))
        }) && disk.has_held("move-seed/b.bin")
    });
    let staging = moved.join(format!(".ttui-move-{hash}"));
    assert!(
        staging.join("move-seed/a.bin").is_file(),
        "a.bin was not copied before b.bin"
    );

    // It seeds while it moves: a leecher that has b.bin already (a request for it would wait
    // on the held disk, and hold up those asked after it on that connection) gets every
    // piece of a.bin from it.
    let leech_dir = env.root.path().join("leech");
    fs::create_dir_all(leech_dir.join("move-seed")).unwrap();
    fs::copy(
        disk.backing.join("move-seed/b.bin"),
        leech_dir.join("move-seed/b.bin"),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let leecher = LibtorrentPeer::start_leecher(
        &p.torrent,
        &leech_dir,
        LtOptions {
            peers: vec![addr],
            ..LtOptions::default()
        },
    );
    let rows = env.wait_list("a.bin to reach the leecher", WAIT, &mut daemon, |rows| {
        row(rows, &hash).is_some_and(|r| r["uploaded"].as_u64() >= Some(16 * PLEN))
    });
    let r = row(&rows, &hash).unwrap();
    assert_eq!(r["state"], "moving", "{r}");
    assert_eq!(r["save_path"], disk.mount.to_str().unwrap(), "{r}");
    let why = r["why"].as_str().unwrap();
    assert!(why.contains("% copied"), "{why}");
    drop(leecher);

    // Killed mid-copy: the kill lands once the held read is answered (a process in a held
    // read cannot die before), and the read is let go only after the hold is.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    disk.release();
    daemon.kill9();
    mover.kill();

    // The next daemon: where it was, moving again; then the switch.
    let mut daemon = Daemon::start(&env, "2", &args);
    let rows = env.list();
    let r = row(&rows, &hash).expect("the torrent after the kill");
    let save_path = r["save_path"].as_str().unwrap();
    assert!(
        save_path == disk.mount.to_str().unwrap() || save_path == moved.to_str().unwrap(),
        "{r}"
    );
    let rows = env.wait_list(
        "the move to finish after the kill",
        WAIT,
        &mut daemon,
        |rows| {
            row(rows, &hash).is_some_and(|r| {
                r["state"] == "seeding" && r["save_path"] == moved.to_str().unwrap()
            })
        },
    );
    let r = row(&rows, &hash).unwrap();
    assert_eq!(r["verified_bytes"], r["total_bytes"], "{r}");
    let id = r["id"].to_string();
    for (name, len) in files {
        let at = moved.join("move-seed").join(name);
        assert_eq!(
            fs::metadata(&at).map(|m| m.len()).ok(),
            Some(*len),
            "{}",
            at.display()
        );
        assert!(
            !disk.mount.join("move-seed").join(name).exists(),
            "{name} stayed behind on the old disk"
        );
    }
    assert!(!staging.exists(), "the copy's folder stayed behind");

    // Every piece there hashes right: a full check of the new place finds it whole.
    let out = env.verb(&["verify", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let start = Instant::now();
    env.wait_list("the check of the new place", WAIT, &mut daemon, |rows| {
        start.elapsed() > Duration::from_millis(500)
            && row(rows, &hash)
                .is_some_and(|r| r["state"] == "seeding" && r["verified_bytes"] == r["total_bytes"])
    });
    daemon.assert_alive("the end");
}

/// A tmpfs of `bytes` mounted at `dir` for the test, unmounted when dropped.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &std::path::Path, bytes: u64) -> Option<SmallDisk> {
        fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "ttui-test-full",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Fills the file system of `dir` with one file until it is full.
fn fill(dir: &std::path::Path) {
    use std::io::Write;
    let mut f = fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![1u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
}

/// A move onto a disk without the room: refused at once with the room there is; and a
/// disk that fills while the copy runs: the copy stops, the torrent stays and seeds where it
/// was, its line says why, nothing of the copy is left, and every piece is still good.
#[test]
fn a_move_onto_a_full_disk_says_why_and_loses_nothing() {
    require_loopback_only();
    if !HoldFs::available() {
        return;
    }
    let env = Env::new("ttui-moves-full-");
    let made = env.root.path().join("t");
    let port = free_port();
    let args = vec!["--port".to_string(), port.to_string()];
    let mut daemon = Daemon::start(&env, "1", &args);
    let mut disk = HoldFs::start(&env.root.path().join("holdfs"), &env.logs);
    let files: &[(&str, u64)] = &[("a.bin", 8 * PLEN), ("b.bin", 4 * PLEN)];
    let total = 12 * PLEN;
    let p = Payload::make(&disk.backing, &made, "full-seed", files, 47);
    let hash = p.hash();
    let out = env.verb(&["add", p.path().as_str(), "-o", disk.mount.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let rows = env.wait_list("the seed", WAIT, &mut daemon, |rows| {
        row(rows, &hash).is_some_and(|r| r["state"] == "seeding")
    });
    let id = row(&rows, &hash).unwrap()["id"].to_string();

    // Too small from the start: refused, and said why.
    let Some(tiny) = SmallDisk::mount(&env.root.path().join("tiny"), total / 2) else {
        return;
    };
    let out = env.verb(&["move", &id, tiny.dir.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{out:?}");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("not moved to") && said.contains("free, the torrent's files take"),
        "{said}"
    );

    // Room at the start, none by the time b.bin is copied.
    let small = SmallDisk::mount(&env.root.path().join("small"), total + PLEN).unwrap();
    disk.hold("full-seed/b.bin", 0);
    let out = env.verb(&["move", &id, small.dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "accepted: {out:?}");
    let start = Instant::now();
    while !disk.has_held("full-seed/b.bin") {
        assert!(start.elapsed() < WAIT, "the copy never reached b.bin");
        std::thread::sleep(Duration::from_millis(50));
    }
    fill(&small.dir);
    disk.release();
    let not_moved = format!("not moved to {}", small.dir.display());
    let rows = env.wait_list("the copy to fail", WAIT, &mut daemon, |rows| {
        row(rows, &hash).is_some_and(|r| {
            r["state"] == "seeding" && r["why"].as_str().is_some_and(|w| w.contains(&not_moved))
        })
    });
    let r = row(&rows, &hash).unwrap();
    assert_eq!(r["save_path"], disk.mount.to_str().unwrap(), "{r}");
    let why = r["why"].as_str().unwrap();
    assert!(why.contains("No space left on device"), "{why}");
    assert!(
        !small.dir.join(format!(".ttui-move-{hash}")).exists(),
        "the copy's folder stayed on the full disk"
    );
    for (name, len) in files {
        let at = disk.mount.join("full-seed").join(name);
        assert_eq!(fs::metadata(&at).map(|m| m.len()).ok(), Some(*len));
    }
    let out = env.verb(&["verify", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let start = Instant::now();
    env.wait_list("the check where it stayed", WAIT, &mut daemon, |rows| {
        start.elapsed() > Duration::from_millis(500)
            && row(rows, &hash)
                .is_some_and(|r| r["state"] == "seeding" && r["verified_bytes"] == r["total_bytes"])
    });
    daemon.assert_alive("the end");
    drop(daemon);
    drop(small);
    drop(tiny);
}
