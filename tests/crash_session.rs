//! Issue 19 ("kill -9 during a 20-torrent download at several random moments"): one
//! `ttui daemon` downloads 20 torrents at once from a throttled python3-libtorrent seeder and
//! is SIGKILLed three times, at moments drawn from a seeded RNG (the first while the torrents
//! are still being added), restarted each time from the same state directory. After each
//! kill: every torrent whose `add` was acknowledged is back; the resume files hold every piece
//! and every lifetime byte seen more than 10 s (plus a poll's margin) before the kill, and the
//! restart trusts exactly those pieces without hashing any; the seeder (which logs every block
//! it sends) sends no block of a saved piece to the restarted daemon, so no verified piece is
//! fetched twice beyond the 10 s window. At the end every file is byte-identical.
//!
//! The seed is printed; `TTUI_CRASH_SEED=N` replays one.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
//!
//! Power cuts (`power_cuts_lose_nothing_saved_and_claim_nothing_unsynced`): a `ttui daemon`
//! whose state directory and downloads live on a file system that forgets every unsynced
//! write at a cut (tests/session/cutfs.py, FUSE) downloads a few
//! torrents from a throttled python3-libtorrent seeder and loses power three times: SIGKILL to
//! the daemon, then the file system's volatile layer dropped (keeping a random prefix of the
//! unsynced writes, as a disk may), then a remount (the reboot), then a restart with no manual
//! step. The first cut comes while the torrents are still being added.
//!
//! After every cut:
//! - every torrent whose `add` was acknowledged is back;
//! - every piece the resume data on disk claims has its bytes on disk (compared with the
//!   payload): the claim never runs ahead of the sync;
//! - the resume data holds what was verified `SAVED_WITHIN` before the cut, and the restart
//!   trusts exactly those pieces without hashing them (nothing is re-hashed that the resume
//!   data could vouch for);
//! - no saved piece is fetched again.
//!
//! At the end every file is byte-identical. The seed is printed; `TTUI_CUT_SEED=N` replays one.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "session/cuts.rs"]
mod cuts;
#[allow(dead_code)]
#[path = "session/kit.rs"]
mod kit;
#[allow(dead_code)]
#[path = "session/payload.rs"]
mod payload;
mod prereq;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use cuts::*;
use kit::*;
use payload::{Payload, PLEN};
use rand::rngs::StdRng;
use rand::Rng;

const TORRENTS: usize = 20;
/// The whole download takes about this long at the seeder's limit, so three kills (the last
/// at most ~30 s in) land before its end.
const DOWNLOAD_SECS: u64 = 40;
const DONE_WAIT: Duration = Duration::from_secs(120);

/// The kill moments, from the start of each run: the first while the adds are still coming
/// in, the second late enough that the 10 s rule has something to check, the third anywhere.
fn kill_moments(rng: &mut StdRng) -> [Duration; 3] {
    [
        Duration::from_millis(rng.gen_range(300..2_500)),
        Duration::from_millis(rng.gen_range(12_000..15_000)),
        Duration::from_millis(rng.gen_range(3_000..12_000)),
    ]
}

#[test]
fn kill9_at_random_moments_of_a_20_torrent_download() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let mut rng = seeded_rng("TTUI_CRASH_SEED");
    let moments = kill_moments(&mut rng);
    eprintln!("kill moments: {moments:?}");

    let env = Env::new("ttui-crash-session-");
    // Piece counts 16..35.
    let library = Library::make(env.root.path(), TORRENTS, 16, DOWNLOAD_SECS, 40);
    Campaign::new(&env, &library, moments, DONE_WAIT).run(&mut |_| {}, &mut |_, _| {});
}

/// The power-cut campaign: fewer, larger torrents (the file system is Python).
const CUT_TORRENTS: usize = 4;
const CUT_DOWNLOAD_SECS: u64 = 60;
const CUT_DONE_WAIT: Duration = Duration::from_secs(150);
/// Mounting, cutting and unmounting are quick; this bounds each.
const FS_WAIT: Duration = Duration::from_secs(15);

/// cutfs mounted at `mount` over `backing`; `control` is where a cut is asked for.
struct CutFs {
    proc: Option<Proc>,
    backing: PathBuf,
    mount: PathBuf,
    control: PathBuf,
    logs: PathBuf,
    mounts: usize,
}

impl CutFs {
    fn start(root: &Path, logs: &Path) -> CutFs {
        let fs = CutFs {
            proc: None,
            backing: root.join("backing"),
            mount: root.join("mnt"),
            control: root.join("cutfs-control"),
            logs: logs.to_path_buf(),
            mounts: 0,
        };
        for d in [&fs.backing, &fs.mount, &fs.control] {
            fs::create_dir_all(d).unwrap();
        }
        fs.mounted()
    }

    fn mounted(mut self) -> CutFs {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/session/cutfs.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script)
            .arg(&self.backing)
            .arg(&self.mount)
            .arg(&self.control);
        self.mounts += 1;
        let log_dir = self.logs.join(format!("cutfs-{}", self.mounts));
        fs::create_dir_all(&log_dir).unwrap();
        self.proc = Some(Proc::spawn("cutfs", &mut cmd, &log_dir));
        let start = Instant::now();
        while !self.is_mounted() {
            assert!(start.elapsed() < FS_WAIT, "cutfs never mounted");
            sleep(Duration::from_millis(50));
        }
        self
    }

    fn is_mounted(&self) -> bool {
        let want = self.mount.display().to_string();
        fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(want.as_str()))
    }

    /// The power cut (the daemon is already dead): the volatile layer dropped but for a
    /// random prefix chosen by `seed`, then the reboot (unmounted, mounted again).
    fn cut(self, seed: u64) -> (CutFs, String) {
        let done = self.control.join("cut.done");
        let _ = fs::remove_file(&done);
        fs::write(self.control.join("cut.tmp"), seed.to_string()).unwrap();
        fs::rename(self.control.join("cut.tmp"), self.control.join("cut")).unwrap();
        let start = Instant::now();
        let said = loop {
            if let Ok(s) = fs::read_to_string(&done) {
                break s.trim().to_string();
            }
            assert!(start.elapsed() < FS_WAIT, "cutfs never answered the cut");
            sleep(Duration::from_millis(20));
        };
        (self.unmounted().mounted(), said)
    }

    fn unmounted(mut self) -> CutFs {
        let status = Command::new("umount").arg(&self.mount).status().unwrap();
        assert!(status.success(), "umount {}", self.mount.display());
        if let Some(mut p) = self.proc.take() {
            let start = Instant::now();
            while !p.exited() && start.elapsed() < FS_WAIT {
                sleep(Duration::from_millis(20));
            }
            p.kill();
        }
        self
    }
}

impl Drop for CutFs {
    fn drop(&mut self) {
        if self.is_mounted() {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

/// The cut moments, from the start of each run: the first while the adds are still coming
/// in, the others late enough that a resume save (every 10 s) has come and gone.
fn cut_moments(rng: &mut StdRng) -> [Duration; 3] {
    [
        Duration::from_millis(rng.gen_range(500..3_000)),
        Duration::from_millis(rng.gen_range(12_500..16_000)),
        Duration::from_millis(rng.gen_range(11_000..14_000)),
    ]
}

/// The pieces a resume file claims whose bytes on disk differ from the payload's.
fn claimed_but_not_on_disk(resume: &Path, payload: &Payload, on_disk: &Path) -> Vec<u64> {
    let claimed = saved_pieces(resume);
    let mut want = fs::File::open(&payload.root).unwrap();
    let mut got = fs::File::open(on_disk).ok();
    let len = payload.files[0].1;
    let mut bad = Vec::new();
    for &piece in &claimed {
        let at = piece * PLEN;
        let n = PLEN.min(len.saturating_sub(at)) as usize;
        let mut a = vec![0u8; n];
        let mut b = vec![0u8; n];
        want.seek(SeekFrom::Start(at)).unwrap();
        want.read_exact(&mut a).unwrap();
        let read = got
            .as_mut()
            .is_some_and(|f| f.seek(SeekFrom::Start(at)).is_ok() && f.read_exact(&mut b).is_ok());
        if !read || a != b {
            bad.push(piece);
        }
    }
    bad
}

#[test]
fn power_cuts_lose_nothing_saved_and_claim_nothing_unsynced() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["umount"]) {
        return;
    }
    let fusepy = Command::new("/usr/bin/python3")
        .args(["-c", "import fusepy"])
        .status()
        .is_ok_and(|s| s.success());
    if !fusepy || !Path::new("/dev/fuse").exists() {
        prereq::skip("python3-fusepy or /dev/fuse is missing");
        return;
    }
    let mut rng = seeded_rng("TTUI_CUT_SEED");
    let moments = cut_moments(&mut rng);
    eprintln!("cut moments: {moments:?}");

    let mut env = Env::new("ttui-power-cut-");
    let disk = CutFs::start(env.root.path(), &env.logs);
    // The daemon's state and downloads on the forgetful file system; the same paths through
    // the backing directory are what survived the last cut.
    env.state = disk.mount.join("state");
    env.out = disk.mount.join("out");
    fs::create_dir_all(&env.out).unwrap();
    let durable_state = disk.backing.join("state");
    let durable_out = disk.backing.join("out");

    // Piece counts 48..51.
    let library = Library::make(env.root.path(), CUT_TORRENTS, 48, CUT_DOWNLOAD_SECS, 70);
    let durable_resume = |hash: &str| -> PathBuf {
        durable_state
            .join("torrents")
            .join(format!("{hash}.resume"))
    };
    // After a cut: what survived claims only what is on disk, and every acknowledged add is
    // there.
    let check_durable = |cut: usize, acknowledged: &BTreeSet<String>| {
        for (p, hash) in library.payloads.iter().zip(&library.hashes) {
            let resume = durable_resume(hash);
            if !resume.exists() {
                assert!(
                    !acknowledged.contains(hash),
                    "cut {cut}: {hash} was acknowledged and has no resume file"
                );
                continue;
            }
            let on_disk = durable_out.join(&p.files[0].0);
            let bad = claimed_but_not_on_disk(&resume, p, &on_disk);
            assert!(
                bad.is_empty(),
                "cut {cut}: {hash} claims pieces whose bytes did not survive: {bad:?}"
            );
        }
    };
    let mut disk = Some(disk);
    Campaign::new(&env, &library, moments, CUT_DONE_WAIT).run(
        &mut |n| {
            let (fs, said) = disk.take().unwrap().cut(rng.gen());
            eprintln!("power cut {n}: cutfs {said}");
            disk = Some(fs);
        },
        &mut |n, acknowledged| check_durable(n, acknowledged),
    );
    drop(disk);
}
