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
//! write at a cut (tests/session/crash_session/cutfs.py, FUSE) downloads a few
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
//!
//! Power cuts amid moves, renames and adds
//! (`power_cuts_amid_moves_renames_and_adds_leave_each_torrent_in_one_place`): on the same
//! file system, one torrent seeding and three downloading; at moments drawn from the seeded
//! RNG, `ttui move` to another directory of the mount (a rename(2)), `ttui rename` of the
//! torrent's file and `ttui add`; the cut often right after one of them. After every cut, with
//! no manual step: every acknowledged add is back; each torrent is in one place under one
//! name, one a cut could leave (the op's outcome if it was answered, either if it was under
//! way), and the daemon uses that place; the pieces the resume data claimed hash right there;
//! the restart trusts exactly them. At the end every file is byte-identical where the daemon
//! says, and nothing is left elsewhere.
//!
//! Leftovers at start (`the_daemon_starts_over_an_empty_torrent_a_torn_resume_and_a_half_moved_torrent`,
//! no FUSE): an empty .torrent (listed again as its magnet link), a torn resume file, a
//! half-moved torrent with its journal.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
#[allow(dead_code)]
mod cuts;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use cuts::*;
use kit::*;
use payload::{three_payloads, Payload, PLEN};
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
pub(crate) struct CutFs {
    proc: Option<Proc>,
    pub(crate) backing: PathBuf,
    pub(crate) mount: PathBuf,
    control: PathBuf,
    logs: PathBuf,
    mounts: usize,
}

impl CutFs {
    pub(crate) fn start(root: &Path, logs: &Path) -> CutFs {
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
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/session/crash_session/cutfs.py");
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
    pub(crate) fn cut(self, seed: u64) -> (CutFs, String) {
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

/// libtorrent for the seeder, FUSE and fusepy for the file system, umount for the reboot.
pub(crate) fn have_cut_prereqs() -> bool {
    prereq::have_python_libtorrent() && crate::fuse_mount::FuseMount::available()
}

#[test]
fn power_cuts_lose_nothing_saved_and_claim_nothing_unsynced() {
    require_loopback_only();
    if !have_cut_prereqs() {
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

// --- power cuts with moves, renames and adds under way (issue 58) ---

/// The moves-and-renames campaign: one torrent complete from the start (seeding), three
/// downloading from the throttled seeder.
const MR_TORRENTS: usize = 4;
const MR_DOWNLOAD_SECS: u64 = 45;
/// How long an op (`add`, `move`, `rename`) may wait for the cut flag between its steps.
const OP_STEP: Duration = Duration::from_millis(20);

/// What one op did to one torrent's place: where its data may be after the cut (the old
/// place, and the new one once the op was asked for).
#[derive(Debug, Clone)]
enum Op {
    Add(usize),
    /// The torrent moved to the other directory.
    Move(usize),
    /// The torrent's one file (its top) renamed to this.
    Rename(usize, String),
}

/// An op as it was asked: a move names the directory it went to.
#[derive(Debug, Clone)]
enum Asked {
    Add(usize),
    Move(usize, PathBuf),
    Rename(usize, String),
}

/// Where a torrent's data may be: every directory and name it was given; after a cut, those
/// of an op that was answered are the only ones left, those of one under way are added.
#[derive(Debug, Clone)]
struct Place {
    dirs: BTreeSet<PathBuf>,
    names: BTreeSet<String>,
    /// Every name and directory it ever had: a file under any other than the one the
    /// daemon uses is one left behind.
    all_dirs: BTreeSet<PathBuf>,
    all_names: BTreeSet<String>,
}

impl Place {
    fn new(dir: &Path, name: &str) -> Place {
        let dirs = BTreeSet::from([dir.to_path_buf()]);
        let names = BTreeSet::from([name.to_string()]);
        Place {
            all_dirs: dirs.clone(),
            all_names: names.clone(),
            dirs,
            names,
        }
    }
}

/// One top-level byte string of a bencoded dict, as text.
fn resume_text(bytes: &[u8], key: &str) -> Option<String> {
    bdict(bytes).into_iter().find_map(|(k, v)| match v {
        BVal::Bytes(b) if k == key.as_bytes() => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    })
}

#[test]
fn power_cuts_amid_moves_renames_and_adds_leave_each_torrent_in_one_place() {
    require_loopback_only();
    if !have_cut_prereqs() {
        return;
    }
    let mut rng = seeded_rng("TTUI_CUT_SEED");
    let mut env = Env::new("ttui-cut-moves-");
    let disk = CutFs::start(env.root.path(), &env.logs);
    env.state = disk.mount.join("state");
    env.out = disk.mount.join("out");
    let other = disk.mount.join("moved");
    for d in [&env.out, &other] {
        fs::create_dir_all(d).unwrap();
    }
    let (mount, backing) = (disk.mount.clone(), disk.backing.clone());
    // The same path as the last cut left it.
    let durable = |p: &Path| backing.join(p.strip_prefix(&mount).unwrap());

    // Piece counts 48..51; torrent 0's file is there before the daemon starts (on the disk
    // already, synced): it is checked, then seeds.
    let library = Library::make(env.root.path(), MR_TORRENTS, 48, MR_DOWNLOAD_SECS, 160);
    let first = &library.payloads[0];
    fs::copy(&first.root, durable(&env.out.join(&first.files[0].0))).unwrap();
    let mut places: Vec<Place> = library
        .payloads
        .iter()
        .map(|p| Place::new(&env.out, &p.torrent.name))
        .collect();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut disk = Some(disk);
    let started = Instant::now();

    for run in 0..=3 {
        // The resume files the restart reads, kept as they are before it saves anew.
        let before_restart = env.root.path().join(format!("resume-before-{run}"));
        fs::create_dir_all(&before_restart).unwrap();
        for h in &library.hashes {
            let _ = fs::copy(
                durable(&env.resume_path(h)),
                before_restart.join(format!("{h}.resume")),
            );
        }
        let mut daemon = Daemon::start(&env, &run.to_string(), &library.extra);
        let rows = env.list();
        if run > 0 {
            check_after_cut(
                (&env, &backing, &before_restart),
                &library,
                &mut places,
                &acknowledged,
                &rows,
                run,
            );
            let listed = listed_pieces(&rows);
            let saved: BTreeMap<String, SavedResume> = library
                .hashes
                .iter()
                .map(|h| (h, before_restart.join(format!("{h}.resume"))))
                .filter(|(_, r)| r.exists())
                .map(|(h, r)| (h.clone(), read_resume(&r)))
                .collect();
            check_restart_log(&daemon, run, &saved, &listed);
        }
        if run == 3 {
            finish(&env, &library, &mut daemon, &acknowledged, &places);
            eprintln!(
                "complete after 3 cuts amid moves and renames, {:.1} s in all",
                started.elapsed().as_secs_f64()
            );
            assert!(daemon.term().success());
            break;
        }
        // This run's ops, at random moments, and the cut: right after one of them (inside
        // its journal, its rename(2) or its answer) or at a moment of its own.
        let mut ops: Vec<(Duration, Op)> = Vec::new();
        let unacked: Vec<usize> = (0..MR_TORRENTS)
            .filter(|&k| !acknowledged.contains(&library.hashes[k]))
            .collect();
        for &k in &unacked {
            // Run 0: the first two are in before anything else happens.
            let at = if run == 0 && k < 2 {
                Duration::ZERO
            } else {
                Duration::from_millis(rng.gen_range(200..4_000))
            };
            ops.push((at, Op::Add(k)));
        }
        for n in 0..2 {
            let k = rng.gen_range(0..MR_TORRENTS);
            let at = Duration::from_millis(rng.gen_range(1_000..9_000));
            ops.push((at, Op::Move(k)));
            let k = rng.gen_range(0..MR_TORRENTS);
            let at = Duration::from_millis(rng.gen_range(1_000..9_000));
            ops.push((at, Op::Rename(k, format!("t{k:02}-r{run}{n}.bin"))));
        }
        ops.sort_by_key(|(at, _)| *at);
        let cut_at = if rng.gen_bool(0.6) {
            let (at, _) = &ops[rng.gen_range(0..ops.len())];
            *at + Duration::from_millis(rng.gen_range(0..400))
        } else {
            Duration::from_millis(rng.gen_range(2_000..12_000))
        }
        .max(Duration::from_millis(1_500));
        eprintln!("run {run}: ops {ops:?}, cut at {cut_at:?}");

        let cut = std::sync::atomic::AtomicBool::new(false);
        let answered = std::sync::Mutex::new(Vec::<(Asked, bool)>::new());
        let run_start = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                let cut_now = || cut.load(std::sync::atomic::Ordering::SeqCst);
                for (at, op) in &ops {
                    while run_start.elapsed() < *at && !cut_now() {
                        sleep(OP_STEP);
                    }
                    if cut_now() {
                        break;
                    }
                    let Some((asked, args)) = ask_of(&env, &library, op, &other) else {
                        continue;
                    };
                    // Marked as under way before it is asked: a cut from here on may find it
                    // done or not.
                    answered.lock().unwrap().push((asked, false));
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    if env.verb(&args).code == 0 {
                        answered.lock().unwrap().last_mut().unwrap().1 = true;
                    }
                }
            });
            while run_start.elapsed() < cut_at {
                daemon.assert_alive("the cut moment");
                sleep(Duration::from_millis(20));
            }
            daemon.kill9();
            cut.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let (fs, said) = disk.take().unwrap().cut(rng.gen());
        disk = Some(fs);
        let answered = answered.into_inner().unwrap();
        eprintln!(
            "cut {run} after {cut_at:?}: cutfs {said}; ops asked (op, answered): {answered:?}"
        );
        for (op, ok) in &answered {
            apply_op(op, *ok, &library, &mut places, &mut acknowledged);
        }
        // What survived: every acknowledged add is kept, and no resume file claims a piece
        // whose bytes are not where it says.
        for (p, hash) in library.payloads.iter().zip(&library.hashes) {
            let resume = durable(&env.resume_path(hash));
            if !resume.exists() {
                assert!(
                    !acknowledged.contains(hash),
                    "cut {run}: {hash} was acknowledged and has no resume file"
                );
                continue;
            }
            assert!(
                fs::metadata(durable(&env.torrent_path(hash))).is_ok_and(|m| m.len() > 0),
                "cut {run}: {hash} has resume data and no .torrent"
            );
            let bytes = fs::read(&resume).unwrap();
            eprintln!(
                "cut {run}: {}: resume says {:?}/{:?} (moving {:?} to {:?}, renaming {:?})",
                p.torrent.name,
                resume_text(&bytes, "save_path"),
                resume_text(&bytes, "renamed_name"),
                bdict(&bytes)
                    .iter()
                    .find(|(k, _)| k == b"moving")
                    .map(|(_, v)| v.clone()),
                resume_text(&bytes, "target"),
                resume_text(&bytes, "before_name"),
            );
        }
    }
    drop(disk);
}

/// What `op` asks of the daemon (the verb's arguments), as it is asked; None when its
/// torrent is not in the session (its add was cut short).
fn ask_of(env: &Env, lib: &Library, op: &Op, other: &Path) -> Option<(Asked, Vec<String>)> {
    let row_of_k = |k: usize| -> Option<serde_json::Value> {
        let out = env.verb(&["list", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).ok()?;
        rows.into_iter()
            .find(|r| r["info_hash"] == lib.hashes[k].as_str())
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Some(match op {
        Op::Add(k) => {
            let path = lib.torrents[*k].path.display().to_string();
            (Asked::Add(*k), words(&["add", &path]))
        }
        Op::Move(k) => {
            let row = row_of_k(*k)?;
            let id = row["id"].to_string();
            let here = Path::new(row["save_path"].as_str()?);
            let to = if here == other {
                here.parent()?.join("out")
            } else {
                other.to_path_buf()
            };
            let args = words(&["move", &id, to.to_str()?]);
            (Asked::Move(*k, to), args)
        }
        Op::Rename(k, name) => {
            let row = row_of_k(*k)?;
            let id = row["id"].to_string();
            let now = row["name"].as_str()?;
            let args = words(&["rename", &id, now, name]);
            (Asked::Rename(*k, name.clone()), args)
        }
    })
}

/// What an op asked before the cut leaves possible: an answered one, only its outcome; one
/// under way, either. A move is to the directory the torrent was not in.
fn apply_op(
    op: &Asked,
    answered: bool,
    lib: &Library,
    places: &mut [Place],
    acknowledged: &mut BTreeSet<String>,
) {
    match op {
        Asked::Add(k) => {
            if answered {
                acknowledged.insert(lib.hashes[*k].clone());
            }
        }
        Asked::Move(k, to) => {
            let p = &mut places[*k];
            p.all_dirs.insert(to.clone());
            if answered {
                p.dirs = BTreeSet::from([to.clone()]);
            } else {
                p.dirs.insert(to.clone());
            }
        }
        Asked::Rename(k, name) => {
            let p = &mut places[*k];
            p.all_names.insert(name.clone());
            if answered {
                p.names = BTreeSet::from([name.clone()]);
            } else {
                p.names.insert(name.clone());
            }
        }
    }
}

/// After a restart: every acknowledged add is listed; each torrent is in one place, under
/// one name, one that a cut could leave, and the daemon uses that place; the pieces its
/// resume data claimed hash right there. The places are then narrowed to what the daemon
/// says.
fn check_after_cut(
    (env, backing, resumes): (&Env, &Path, &Path),
    lib: &Library,
    places: &mut [Place],
    acknowledged: &BTreeSet<String>,
    rows: &[serde_json::Value],
    run: usize,
) {
    let mount = env.out.parent().unwrap();
    let durable = |p: &Path| backing.join(p.strip_prefix(mount).unwrap());
    for hash in acknowledged {
        assert!(
            rows.iter().any(|r| r["info_hash"] == hash.as_str()),
            "run {run}: {hash} was acknowledged and is gone"
        );
    }
    for (k, (p, hash)) in lib.payloads.iter().zip(&lib.hashes).enumerate() {
        let Some(row) = rows.iter().find(|r| r["info_hash"] == hash.as_str()) else {
            continue;
        };
        let place = &mut places[k];
        let dir = PathBuf::from(row["save_path"].as_str().unwrap());
        let name = row["name"].as_str().unwrap().to_string();
        assert!(
            place.dirs.contains(&dir) && place.names.contains(&name),
            "run {run}: {} is at {}/{name}, which no cut could leave: {place:?}",
            p.torrent.name,
            dir.display()
        );
        let found: Vec<PathBuf> = place
            .all_dirs
            .iter()
            .flat_map(|d| place.all_names.iter().map(move |n| d.join(n)))
            .filter(|f| durable(f).exists())
            .collect();
        let used = dir.join(&name);
        assert!(
            found.is_empty() || found == [used.clone()],
            "run {run}: {} uses {} and its data is at {found:?}",
            p.torrent.name,
            used.display()
        );
        // The resume data read by this restart (its claims, before the daemon saves anew,
        // are what `check_restart_log` compares with the trusted pieces): it claims nothing
        // whose bytes are not at the place the daemon uses.
        let resume = resumes.join(format!("{hash}.resume"));
        if !resume.exists() {
            continue;
        }
        let claimed = saved_pieces(&resume);
        let bad = claimed_but_not_on_disk(&resume, p, &durable(&used));
        assert!(
            bad.is_empty(),
            "run {run}: {} claims {} pieces, {bad:?} of them not right at {}",
            p.torrent.name,
            claimed.len(),
            used.display()
        );
        place.dirs = BTreeSet::from([dir]);
        place.names = BTreeSet::from([name]);
    }
}

/// The last run: whatever the cuts stopped is added again, every torrent completes, and
/// every file is byte-identical at the place the daemon says, with nothing left elsewhere.
fn finish(
    env: &Env,
    lib: &Library,
    daemon: &mut Daemon,
    acknowledged: &BTreeSet<String>,
    places: &[Place],
) {
    if acknowledged.len() < lib.hashes.len() {
        let mut add = vec!["add".to_string()];
        add.extend(lib.torrents.iter().map(|t| t.path.display().to_string()));
        let args: Vec<&str> = add.iter().map(String::as_str).collect();
        let out = env.verb(&args);
        assert_eq!(out.code, 0, "{out:?}");
    }
    let rows = env.wait_list("every torrent complete", CUT_DONE_WAIT, daemon, |r| {
        all_seeding(r, lib.hashes.len())
    });
    for (k, (p, hash)) in lib.payloads.iter().zip(&lib.hashes).enumerate() {
        let row = row_of(&rows, hash);
        let used =
            Path::new(row["save_path"].as_str().unwrap()).join(row["name"].as_str().unwrap());
        assert_same_tree(&p.root, &used);
        let place = &places[k];
        for d in &place.all_dirs {
            for n in &place.all_names {
                let f = d.join(n);
                assert!(f == used || !f.exists(), "{} left behind", f.display());
            }
        }
    }
}

// --- what a cut may leave in the state directory, met at start (issue 58) ---

/// The end of the bencoded value at `i`.
fn bskip(b: &[u8], i: usize) -> usize {
    match b[i] {
        b'i' => i + b[i..].iter().position(|&c| c == b'e').unwrap() + 1,
        b'l' | b'd' => {
            let mut j = i + 1;
            while b[j] != b'e' {
                j = bskip(b, j);
            }
            j + 1
        }
        _ => {
            let colon = i + b[i..].iter().position(|&c| c == b':').unwrap();
            let len: usize = std::str::from_utf8(&b[i..colon]).unwrap().parse().unwrap();
            colon + 1 + len
        }
    }
}

/// A bencoded dict with these top-level keys set (raw bencoded values), keys kept sorted.
fn with_keys(b: &[u8], set: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut items: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut i = 1;
    while b[i] != b'e' {
        let k_end = bskip(b, i);
        let colon = i + b[i..].iter().position(|&c| c == b':').unwrap();
        let v_end = bskip(b, k_end);
        items.insert(b[colon + 1..k_end].to_vec(), b[k_end..v_end].to_vec());
        i = v_end;
    }
    for (k, v) in set {
        items.insert(k.as_bytes().to_vec(), v.clone());
    }
    let mut out = b"d".to_vec();
    for (k, v) in items {
        out.extend(format!("{}:", k.len()).bytes());
        out.extend(k);
        out.extend(v);
    }
    out.push(b'e');
    out
}

/// The daemon starts with no manual step over what a power cut may leave: an empty
/// .torrent (its torrent listed again as its magnet link, fetching the metadata; the file
/// logged and left in place for a later look, the others untouched), a torn resume
/// file (its torrent checked in full, nothing lost), and a half-moved torrent (its files
/// in the move's target, its resume data the journal of the move: the move is finished,
/// said in the log, and its pieces trusted there without a hash).
#[test]
fn the_daemon_starts_over_an_empty_torrent_a_torn_resume_and_a_half_moved_torrent() {
    require_loopback_only();
    let env = Env::new("ttui-cut-leftovers-");
    let torrents = env.root.path().join("torrents");
    let payloads = three_payloads(&env.out, &torrents);
    let hashes: Vec<String> = payloads.iter().map(Payload::hash).collect();
    let mut daemon = Daemon::start(&env, "1", &[]);
    let mut add = vec!["add".to_string()];
    add.extend(payloads.iter().map(Payload::path));
    let args: Vec<&str> = add.iter().map(String::as_str).collect();
    assert_eq!(env.verb(&args).code, 0);
    env.wait_list("three checked", CUT_DONE_WAIT, &mut daemon, |r| {
        all_seeding(r, 3)
    });
    assert!(daemon.term().success());

    // 0: its .torrent empty; 1: its resume data torn in half; 2: moved to `moved` by a move
    // whose journal is its resume data.
    fs::write(env.torrent_path(&hashes[0]), b"").unwrap();
    let torn = fs::read(env.resume_path(&hashes[1])).unwrap();
    fs::write(env.resume_path(&hashes[1]), &torn[..torn.len() / 2]).unwrap();
    let moved = env.root.path().join("moved");
    let third = &payloads[2];
    let want: Vec<Vec<u8>> = third
        .files
        .iter()
        .map(|(rel, _)| fs::read(env.out.join(rel)).unwrap())
        .collect();
    for (rel, _) in &third.files {
        let to = moved.join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::rename(env.out.join(rel), to).unwrap();
    }
    let target = moved.to_str().unwrap();
    let journal = with_keys(
        &fs::read(env.resume_path(&hashes[2])).unwrap(),
        &[
            ("moving", b"i1e".to_vec()),
            ("user_move", b"i1e".to_vec()),
            ("target", format!("{}:{target}", target.len()).into_bytes()),
        ],
    );
    fs::write(env.resume_path(&hashes[2]), journal).unwrap();

    let mut daemon = Daemon::start(&env, "2", &[]);
    // The torrent whose .torrent is empty is listed too, fetching its metadata as a magnet
    // link (no peer has it here, so it stays at that).
    let rows = env.wait_list("three back", CUT_DONE_WAIT, &mut daemon, |r| {
        r.len() == 3
            && r.iter()
                .filter(|r| r["info_hash"] != hashes[0].as_str())
                .all(|r| r["state"] == "seeding" && r["verified_bytes"] == r["total_bytes"])
    });
    let empty = row_of(&rows, &hashes[0]);
    assert_eq!(empty["state"], "metadata", "{empty}");
    assert_eq!(empty["name"], payloads[0].torrent.name.as_str(), "{empty}");
    let log = daemon.log_text();
    assert!(
        lines_with(&log, "cannot be read")
            .iter()
            .any(|l| l.contains(&hashes[0]) && l.contains("as a magnet link")),
        "the empty .torrent is not named\n{log}"
    );
    assert!(
        env.torrent_path(&hashes[0]).exists(),
        "the empty .torrent was deleted"
    );
    assert!(
        lines_with(&log, "every piece is checked")
            .iter()
            .any(|l| l.contains(&hashes[1])),
        "the torn resume file is not named\n{log}"
    );
    let row = row_of(&rows, &hashes[2]);
    assert_eq!(row["save_path"].as_str(), Some(target), "{row}");
    assert!(
        !lines_with(&log, "move a stop interrupted was finished").is_empty(),
        "{log}"
    );
    assert!(
        verified_counts(&log, "from the saved resume data (files unchanged)")
            .contains(&(third.pieces, third.pieces)),
        "the moved torrent's pieces were not trusted\n{log}"
    );
    for ((rel, _), bytes) in third.files.iter().zip(&want) {
        assert!(!env.out.join(rel).exists(), "{} left behind", rel.display());
        assert!(
            fs::read(moved.join(rel)).unwrap() == *bytes,
            "{}",
            rel.display()
        );
    }
    assert!(daemon.term().success());
}
