//! Disk faults on a file system the test controls (`disk_faults/faultfs.py`, a FUSE mount
//! that fails chosen reads or writes of chosen files on command): a write error while
//! downloading stops that torrent with the reason on its line, the torrents on other storage
//! go on, and once the fault is cleared a resume completes it byte-identical, which a restart
//! keeps.
//!
//! Needs FUSE (/dev/fuse, Debian's python3-fusepy) and root; tests/run.sh provides both, in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common::*;
use crate::disk_errors::Tmpfs;
use crate::fuse_mount::FuseMount;
use crate::kit::*;
use crate::payload::*;
use crate::prereq;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// A few MiB from libtorrent on loopback, and the session's reaction: seconds.
const WAIT: Duration = Duration::from_secs(60);

/// `faultfs.py` mounted for one test (`support/fuse_mount.rs`): unmounted, and its process
/// killed by pid, on drop.
struct FaultFs {
    fuse: FuseMount,
    control: PathBuf,
    root: PathBuf,
    logs: PathBuf,
}

impl FaultFs {
    /// FUSE, fusepy and python3-libtorrent (the seeds); skips (or fails, see
    /// `prereq::skip`) when one is missing.
    fn available() -> bool {
        FuseMount::available() && prereq::have_python_libtorrent()
    }

    fn start(root: &Path, logs: &Path) -> FaultFs {
        let control = root.join("control");
        let fuse = Self::mount_at(root, logs, "faultfs");
        FaultFs {
            fuse,
            control,
            root: root.to_path_buf(),
            logs: logs.to_path_buf(),
        }
    }

    fn mount_at(root: &Path, logs: &Path, label: &str) -> FuseMount {
        FuseMount::start(
            label,
            "tests/session/disk_faults/faultfs.py",
            (
                &root.join("backing"),
                &root.join("mnt"),
                &root.join("control"),
            ),
            logs,
        )
    }

    /// Gone as a pulled disk is (`FuseMount::vanish`): everything on it fails, then its
    /// mount point is an empty folder.
    fn vanish(&mut self) {
        self.fuse.vanish();
    }

    /// Mounted again on the same backing folder: what was written before is there.
    fn come_back(&mut self) {
        self.fuse = Self::mount_at(&self.root, &self.logs, "faultfs-again");
    }

    fn mount(&self) -> &Path {
        &self.fuse.mount
    }

    /// Every `op` ("read", "write") on `rel` (relative to the mount) fails with `errno`
    /// ("EIO") from now on; an empty list clears every fault.
    fn set(&self, faults: &[(&str, &str, &str)]) {
        let text: String = faults
            .iter()
            .map(|(op, errno, rel)| format!("{op}\t{errno}\t{rel}\n"))
            .collect();
        self.write(&text);
    }

    /// `set`, each fault limited to a byte range of its file (`START-END`, END excluded).
    fn set_span(&self, faults: &[(&str, &str, &str, &str)]) {
        let text: String = faults
            .iter()
            .map(|(op, errno, rel, span)| format!("{op}\t{errno}\t{rel}\t{span}\n"))
            .collect();
        self.write(&text);
    }

    fn write(&self, text: &str) {
        // Renamed into place: the script never reads half a file.
        let tmp = self.control.join("faults.tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, self.control.join("faults")).unwrap();
    }

    /// The faults met so far, one `OP PATH ERRNO` line each.
    fn failed(&self) -> String {
        fs::read_to_string(self.control.join("failed")).unwrap_or_default()
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        // Cleared first, so nothing fails while the mount goes (`FuseMount`'s drop).
        let _ = fs::remove_file(self.control.join("faults"));
    }
}

fn row<'a>(rows: &'a [Value], hash: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["info_hash"] == hash)
}

/// Stops the daemon (SIGTERM) and starts it again with `args`: nothing acknowledged is lost,
/// both torrents are complete.
fn both_complete_after_a_restart(env: &Env, daemon: Daemon, args: &[String], [ha, hb]: [&str; 2]) {
    let _ = daemon.term();
    let mut daemon = Daemon::start(env, "2", args);
    env.wait_list("both complete after a restart", WAIT, &mut daemon, |rows| {
        seeding(row(rows, ha)) && seeding(row(rows, hb))
    });
}

fn seeding(r: Option<&Value>) -> bool {
    r.is_some_and(|r| r["state"] == "seeding" && r["verified_bytes"] == r["total_bytes"])
}

/// A write error (EIO) while downloading: that torrent stops with the reason on its line and
/// nothing more is written for it; a torrent saved elsewhere completes meanwhile. Once the
/// fault is cleared, `ttui resume` completes it byte-identical, and after a restart both are
/// still complete.
#[test]
fn a_write_error_stops_its_torrent_alone_and_a_resume_completes_it() {
    require_loopback_only();
    if !FaultFs::available() {
        return;
    }
    let env = Env::new("ttui-diskfault-");
    let disk = FaultFs::start(&env.root.path().join("faultfs"), &env.logs);
    let made = env.root.path().join("t");
    let seeds = env.root.path().join("seeds");
    let a = Payload::make(&seeds, &made, "on-faulty.bin", &[("", 3_000_000)], 91);
    let b = Payload::make(&seeds, &made, "elsewhere.bin", &[("", 3_000_000)], 92);
    let lt_a = LibtorrentSeeder::start(&a.torrent, &seeds, LtOptions::default());
    let lt_b = LibtorrentSeeder::start(&b.torrent, &seeds, LtOptions::default());
    // The faulty torrent's file fails every write from the start.
    disk.set(&[("write", "EIO", "on-faulty.bin")]);
    let peers = [
        "--peer".to_string(),
        lt_a.addr().to_string(),
        "--peer".to_string(),
        lt_b.addr().to_string(),
    ];
    let mut daemon = Daemon::start(&env, "1", &peers);
    let mount = disk.mount().display().to_string();
    assert_eq!(env.verb(&["add", &a.path(), "-o", &mount]).code, 0);
    assert_eq!(env.verb(&["add", &b.path()]).code, 0);
    let (ha, hb) = (a.hash(), b.hash());

    let rows = env.wait_list(
        "the faulty torrent stopped, the other complete",
        WAIT,
        &mut daemon,
        |rows| row(rows, &ha).is_some_and(|r| r["state"] == "error") && seeding(row(rows, &hb)),
    );
    let faulty = row(&rows, &ha).unwrap();
    let why = faulty["why"].as_str().unwrap_or_default();
    assert!(
        why.contains("disk error")
            && why.contains("Input/output error")
            && why.contains("on-faulty.bin"),
        "the line's reason: {faulty}"
    );
    assert!(
        disk.failed().contains("write on-faulty.bin EIO"),
        "{}",
        disk.failed()
    );
    assert_eq!(faulty["verified_bytes"], 0, "{faulty}");
    // The show face says the same.
    let shown = env.verb(&["show", &ha]);
    assert!(
        shown.stdout.contains("Input/output error"),
        "{}",
        shown.stdout
    );
    daemon.assert_alive("after the write error");

    disk.set(&[]);
    let resumed = env.verb(&["resume", &ha]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    env.wait_list(
        "the faulty torrent complete after the resume",
        WAIT,
        &mut daemon,
        |rows| seeding(row(rows, &ha)) && seeding(row(rows, &hb)),
    );
    assert_same_tree(&a.root, &disk.mount().join("on-faulty.bin"));
    assert_same_tree(&b.root, &env.out.join("elsewhere.bin"));

    // Nothing acknowledged is lost across a restart.
    both_complete_after_a_restart(&env, daemon, &[], [&ha, &hb]);
    drop(lt_a);
    drop(lt_b);
}

/// A read error (EIO, a bad sector) under one piece while seeding: that piece alone is taken
/// back (BEP 54 `lt_donthave` to libtorrent, which reads it), the torrent's line names the
/// piece, the file and the byte, its other pieces keep seeding and a torrent on other storage
/// is not touched. Once the sector reads again, a re-check brings the piece back: a new
/// leecher gets the whole file byte-identical, and a restart keeps both complete.
#[test]
fn a_read_error_while_seeding_costs_one_piece_and_a_recheck_brings_it_back() {
    require_loopback_only();
    if !FaultFs::available() {
        return;
    }
    let env = Env::new("ttui-readfault-");
    let disk = FaultFs::start(&env.root.path().join("faultfs"), &env.logs);
    let made = env.root.path().join("t");
    let seeds = env.root.path().join("seeds");
    let pieces = 16u64;
    let bad = 5u64;
    let a = Payload::make(&seeds, &made, "bad-sector.bin", &[("", pieces * PLEN)], 93);
    let b = Payload::make(&seeds, &made, "sound.bin", &[("", pieces * PLEN)], 94);
    // The data where ttui seeds it from: one on the faulty mount, one in the output folder.
    fs::copy(&a.root, disk.mount().join("bad-sector.bin")).unwrap();
    fs::create_dir_all(&env.out).unwrap();
    fs::copy(&b.root, env.out.join("sound.bin")).unwrap();
    let (ip, port) = ("127.0.0.41", free_port());
    let ours = std::net::SocketAddr::from(([127, 0, 0, 41], port));
    let args = ["--bind", ip, "--port", &port.to_string()].map(String::from);
    let mut daemon = Daemon::start(&env, "1", &args);
    let mount = disk.mount().display().to_string();
    assert_eq!(env.verb(&["add", &a.path(), "-o", &mount]).code, 0);
    assert_eq!(env.verb(&["add", &b.path()]).code, 0);
    let (ha, hb) = (a.hash(), b.hash());
    env.wait_list("both checked and seeding", WAIT, &mut daemon, |rows| {
        seeding(row(rows, &ha)) && seeding(row(rows, &hb))
    });

    // One piece's bytes stop reading, as a bad sector does; then leechers come.
    let span = format!("{}-{}", bad * PLEN, (bad + 1) * PLEN);
    disk.set_span(&[("read", "EIO", "bad-sector.bin", &span)]);
    let leech_opts = LtOptions {
        peers: vec![ours],
        peer_lines: true,
        ..LtOptions::default()
    };
    let lt_a = LibtorrentPeer::start_leecher(
        &a.torrent,
        &env.root.path().join("leech-a"),
        leech_opts.clone(),
    );
    let mut lt_b =
        LibtorrentPeer::start_leecher(&b.torrent, &env.root.path().join("leech-b"), leech_opts);
    let is_ours = |v: &LtPeerView| v.addr.ip() == ours.ip();
    let rows = env.wait_list(
        "the unreadable piece taken back, the rest seeded",
        WAIT,
        &mut daemon,
        |rows| {
            row(rows, &ha).is_some_and(|r| {
                r["why"].as_str().is_some_and(|w| w.contains("lost"))
                    && r["uploaded"].as_u64() >= Some((pieces - 1) * PLEN)
            }) && lt_a
                .peer_views()
                .iter()
                .any(|v| is_ours(v) && v.lacks == [bad])
        },
    );
    let faulty = row(&rows, &ha).unwrap();
    let why = faulty["why"].as_str().unwrap_or_default();
    for words in [
        format!("piece {bad} lost"),
        "bad-sector.bin".into(),
        format!("at byte {}", bad * PLEN),
        "Input/output error".into(),
    ] {
        assert!(why.contains(&words), "{words:?} on the line: {faulty}");
    }
    assert_ne!(faulty["state"], "error", "the torrent goes on: {faulty}");
    assert_eq!(faulty["verified_bytes"], (pieces - 1) * PLEN, "{faulty}");
    assert!(
        disk.failed().contains("read bad-sector.bin EIO"),
        "{}",
        disk.failed()
    );
    // The show face says the same; the torrent on other storage completed its leecher.
    let shown = env.verb(&["show", &ha]);
    assert!(
        shown.stdout.contains(&format!("piece {bad} lost")),
        "{}",
        shown.stdout
    );
    lt_b.wait_done(WAIT);
    assert_same_tree(&b.root, &env.root.path().join("leech-b/sound.bin"));
    daemon.assert_alive("after the read error");
    drop(lt_a);

    // The sector reads again: a re-check finds the piece, and a new leecher gets it all.
    disk.set(&[]);
    assert_eq!(env.verb(&["verify", &ha]).code, 0);
    let rows = env.wait_list("the re-checked torrent whole", WAIT, &mut daemon, |rows| {
        seeding(row(rows, &ha))
    });
    let whole = row(&rows, &ha).unwrap();
    assert!(
        !whole["why"].as_str().unwrap_or_default().contains("lost"),
        "{whole}"
    );
    let mut again = LibtorrentPeer::start_leecher(
        &a.torrent,
        &env.root.path().join("leech-a2"),
        LtOptions {
            peers: vec![ours],
            ..LtOptions::default()
        },
    );
    again.wait_done(WAIT);
    assert_same_tree(&a.root, &env.root.path().join("leech-a2/bad-sector.bin"));
    assert_same_tree(&a.root, &disk.mount().join("bad-sector.bin"));

    both_complete_after_a_restart(&env, daemon, &args, [&ha, &hb]);
}

/// A full disk: the FUSE mount over a tmpfs of 8 MiB the test mounts, filled but for part of
/// the download, so its writes fail with the real ENOSPC and its free space is the tmpfs's.
/// That torrent is held, with `disk full` and the free space on its line, while a torrent
/// saved elsewhere completes. Once the test deletes its filler the torrent goes on by itself
/// (no resume, no check) and completes byte-identical, which a restart keeps.
#[test]
fn a_full_disk_holds_its_torrent_until_space_returns() {
    require_loopback_only();
    if !FaultFs::available() {
        return;
    }
    let env = Env::new("ttui-diskfull-");
    let fs_root = env.root.path().join("faultfs");
    let Some(backing) = Tmpfs::mount(&fs_root.join("backing"), "size=8m") else {
        panic!("cannot mount a tmpfs here (tests/run.sh runs the suite as root)");
    };
    let disk = FaultFs::start(&fs_root, &env.logs);
    let small = disk.mount().to_path_buf();
    let filler = small.join("filler");
    fs::write(&filler, vec![7u8; 4 << 20]).unwrap();
    let made = env.root.path().join("t");
    let seeds = env.root.path().join("seeds");
    let a = Payload::make(&seeds, &made, "too-big.bin", &[("", 6_000_000)], 95);
    let b = Payload::make(&seeds, &made, "elsewhere.bin", &[("", 3_000_000)], 96);
    let lt_a = LibtorrentSeeder::start(&a.torrent, &seeds, LtOptions::default());
    let lt_b = LibtorrentSeeder::start(&b.torrent, &seeds, LtOptions::default());
    let peers = [
        "--peer".to_string(),
        lt_a.addr().to_string(),
        "--peer".to_string(),
        lt_b.addr().to_string(),
    ];
    let mut daemon = Daemon::start(&env, "1", &peers);
    let dir = small.display().to_string();
    assert_eq!(env.verb(&["add", &a.path(), "-o", &dir]).code, 0);
    assert_eq!(env.verb(&["add", &b.path()]).code, 0);
    let (ha, hb) = (a.hash(), b.hash());

    let rows = env.wait_list(
        "the torrent on the full disk held, the other complete",
        WAIT,
        &mut daemon,
        |rows| {
            row(rows, &ha).is_some_and(|r| {
                r["state"] == "error" && r["why"].as_str().is_some_and(|w| w.contains(" free, "))
            }) && seeding(row(rows, &hb))
        },
    );
    let full = row(&rows, &ha).unwrap();
    let why = full["why"].as_str().unwrap_or_default();
    for words in [
        "disk full: ",
        " free, resumes by itself once",
        "(writing ",
        "too-big.bin",
        "No space left on device",
        "resumes by itself once",
    ] {
        assert!(why.contains(words), "{words:?} on the line: {full}");
    }
    assert!(
        full["verified_bytes"].as_u64() < full["total_bytes"].as_u64(),
        "{full}"
    );
    let shown = env.verb(&["show", &ha]);
    assert!(shown.stdout.contains("disk full"), "{}", shown.stdout);
    daemon.assert_alive("on a full disk");

    // Space returns: nobody says resume.
    fs::remove_file(&filler).unwrap();
    env.wait_list(
        "the held torrent complete by itself",
        WAIT,
        &mut daemon,
        |rows| seeding(row(rows, &ha)) && seeding(row(rows, &hb)),
    );
    assert_same_tree(&a.root, &small.join("too-big.bin"));
    assert_same_tree(&b.root, &env.out.join("elsewhere.bin"));
    let log = daemon.log_text();
    assert!(log.contains("disk space is back"), "{log}");
    assert!(!log.contains("checking"), "nothing checked again: {log}");

    both_complete_after_a_restart(&env, daemon, &[], [&ha, &hb]);
    drop(disk);
    drop(backing);
}

/// What the storage tests share: a torrent downloading slowly (a libtorrent seed held to
/// 1 MB/s) onto the FUSE mount, and one saved elsewhere.
///
/// Fields drop in this order: the daemon and the seeds first, then the mount, and the
/// temporary folder that holds the mount point last (removed before the unmount, it stayed).
struct Held {
    daemon: Daemon,
    _seeds: [LibtorrentPeer; 2],
    disk: FaultFs,
    on_mount: Payload,
    elsewhere: Payload,
    env: Env,
}

impl Held {
    fn start(prefix: &str) -> Held {
        let env = Env::new(prefix);
        let disk = FaultFs::start(&env.root.path().join("faultfs"), &env.logs);
        let made = env.root.path().join("t");
        let seeds = env.root.path().join("seeds");
        let on_mount = Payload::make(&seeds, &made, "on-mount.bin", &[("", 8_000_000)], 97);
        let elsewhere = Payload::make(&seeds, &made, "elsewhere.bin", &[("", 3_000_000)], 98);
        let slow = LtOptions {
            upload_limit: 1_000_000,
            ..LtOptions::default()
        };
        let lt_a = LibtorrentSeeder::start(&on_mount.torrent, &seeds, slow);
        let lt_b = LibtorrentSeeder::start(&elsewhere.torrent, &seeds, LtOptions::default());
        let peers = [
            "--peer".to_string(),
            lt_a.addr().to_string(),
            "--peer".to_string(),
            lt_b.addr().to_string(),
        ];
        let daemon = Daemon::start(&env, "1", &peers);
        let mount = disk.mount().display().to_string();
        assert_eq!(env.verb(&["add", &on_mount.path(), "-o", &mount]).code, 0);
        assert_eq!(env.verb(&["add", &elsewhere.path()]).code, 0);
        Held {
            env,
            disk,
            on_mount,
            elsewhere,
            daemon,
            _seeds: [lt_a, lt_b],
        }
    }

    /// Waits until the torrent on the mount has some of its pieces; returns its verified bytes.
    fn partway(&mut self) -> u64 {
        let h = self.on_mount.hash();
        let rows = self
            .env
            .wait_list("a part downloaded", WAIT, &mut self.daemon, |rows| {
                row(rows, &h).is_some_and(|r| r["verified_bytes"].as_u64() >= Some(2_000_000))
            });
        row(&rows, &h).unwrap()["verified_bytes"].as_u64().unwrap()
    }

    /// Waits until the torrent on the mount is held with `words` on its line and the other
    /// one is complete; checks that no verified piece was taken for lost and `show` says
    /// the same. Returns the line's reason.
    fn held_with(&mut self, words: &str, verified_before: u64) -> String {
        let (ha, hb) = (self.on_mount.hash(), self.elsewhere.hash());
        let rows = self.env.wait_list(
            "the torrent on the mount held, the other complete",
            WAIT,
            &mut self.daemon,
            |rows| {
                row(rows, &ha).is_some_and(|r| {
                    r["state"] == "error" && r["why"].as_str().is_some_and(|w| w.contains(words))
                }) && seeding(row(rows, &hb))
            },
        );
        let held = row(&rows, &ha).unwrap();
        assert!(
            held["verified_bytes"].as_u64() >= Some(verified_before),
            "nothing taken for lost: {held}"
        );
        let shown = self.env.verb(&["show", &ha]);
        assert!(shown.stdout.contains(words), "{}", shown.stdout);
        self.daemon.assert_alive("while its storage is in trouble");
        held["why"].as_str().unwrap_or_default().to_string()
    }

    /// Waits until both are complete with nobody saying resume, checks the bytes, that
    /// nothing was checked again or lost, and that a restart keeps both complete.
    fn goes_on_by_itself(mut self, log_says: &str) {
        let (ha, hb) = (self.on_mount.hash(), self.elsewhere.hash());
        self.env.wait_list(
            "the held torrent complete by itself",
            WAIT,
            &mut self.daemon,
            |rows| seeding(row(rows, &ha)) && seeding(row(rows, &hb)),
        );
        assert_same_tree(&self.on_mount.root, &self.disk.mount().join("on-mount.bin"));
        assert_same_tree(&self.elsewhere.root, &self.env.out.join("elsewhere.bin"));
        let log = self.daemon.log_text();
        assert!(log.contains(log_says), "{log}");
        assert!(!log.contains(" lost ("), "no piece taken for lost: {log}");
        assert!(!log.contains("checking"), "nothing checked again: {log}");
        both_complete_after_a_restart(&self.env, self.daemon, &[], [&ha, &hb]);
    }
}

/// The file system vanishes mid-download as a pulled disk's does (its FUSE server killed,
/// then the dead mount detached): that torrent is held with `storage missing` on its line,
/// no verified piece is taken for lost, the torrent on other storage completes. Mounted again,
/// it goes on by itself, with no check, and completes byte-identical; a restart keeps it.
#[test]
fn a_vanished_file_system_holds_its_torrent_until_it_is_back() {
    require_loopback_only();
    if !FaultFs::available() {
        return;
    }
    let mut t = Held::start("ttui-vanish-");
    let before = t.partway();
    t.disk.vanish();
    let why = t.held_with("storage missing", before);
    assert!(
        why.contains(&t.disk.mount().display().to_string()) && why.contains("once it is back"),
        "{why}"
    );
    t.disk.come_back();
    t.goes_on_by_itself("the storage is back");
}

/// The file system turns read-only mid-download (every write fails with EROFS): that torrent
/// is held with `read-only` on its line while the other completes; once writes go through
/// again it goes on by itself and completes byte-identical, which a restart keeps.
#[test]
fn a_read_only_file_system_holds_its_torrent_until_it_takes_writes() {
    require_loopback_only();
    if !FaultFs::available() {
        return;
    }
    let mut t = Held::start("ttui-readonly-");
    let before = t.partway();
    t.disk.set(&[("write", "EROFS", "*")]);
    let why = t.held_with("read-only", before);
    assert!(why.contains("once it takes writes again"), "{why}");
    assert!(
        t.disk.failed().contains("write on-mount.bin EROFS"),
        "{}",
        t.disk.failed()
    );
    t.disk.set(&[]);
    t.goes_on_by_itself("the storage takes writes again");
}
