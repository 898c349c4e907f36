//! What the kill and power-cut tests share (tests/session/crash_session.rs, tests/power_cut.rs): a
//! python3-libtorrent seeder of many torrents that logs the blocks it sends, polls of `list
//! --json`, and the checks made after each cut: the resume files hold what was verified
//! `SAVED_WITHIN` before it, nothing saved is fetched again, and the restart trusts exactly
//! the saved pieces without hashing them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::kit::*;
use crate::payload::*;

/// A seeded RNG, its seed printed: `var` in the environment replays one.
pub fn seeded_rng(var: &str) -> rand::rngs::StdRng {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("seed {seed} (replay with {var}={seed})");
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// The resume data must hold what was verified this long before a kill: the 10 s,
/// plus a poll's and a save's margin.
pub const SAVED_WITHIN: Duration = Duration::from_millis(11_500);

/// One torrent's figures in one `list --json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub verified: u64,
    pub downloaded: u64,
}

pub type Poll = (Instant, BTreeMap<String, Seen>);

pub fn seen_of(rows: &[Value]) -> BTreeMap<String, Seen> {
    rows.iter()
        .map(|r| {
            (
                r["info_hash"].as_str().unwrap().to_string(),
                Seen {
                    verified: r["verified_bytes"].as_u64().unwrap(),
                    downloaded: r["downloaded"].as_u64().unwrap(),
                },
            )
        })
        .collect()
}

/// python3-libtorrent seeding every torrent from one session (assets/seeders/lt_multi_seed.py).
pub struct MultiSeeder {
    proc: Proc,
    _dir: tempfile::TempDir,
    pub addr: String,
}

impl MultiSeeder {
    pub fn start(torrents: &[Torrent], data: &Path, upload_limit: u64) -> MultiSeeder {
        let dir = tempdir("ttui-ltmulti-");
        let (ip, port) = (loopback_ip(), free_port());
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(seeders_dir().join("lt_multi_seed.py"))
            .arg("--save")
            .arg(data)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args(["--upload-limit", &upload_limit.to_string()])
            .args(["--seed-mode", "--log-uploads", "--max-seconds", "400"]);
        for t in torrents {
            cmd.arg("--torrent").arg(&t.path);
        }
        let mut proc = Proc::spawn("lt_multi_seed", &mut cmd, dir.path());
        proc.wait_for_stdout("libtorrent to seed the torrents", "ready", WAIT);
        MultiSeeder {
            proc,
            _dir: dir,
            addr: format!("{ip}:{port}"),
        }
    }

    /// (torrent index, piece) of every block sent so far, in order.
    pub fn sent(&self) -> Vec<(usize, u64)> {
        self.proc
            .stdout_text()
            .lines()
            .filter_map(|l| {
                let mut w = l.strip_prefix("uploaded ")?.split(' ');
                Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
            })
            .collect()
    }

    /// Payload bytes uploaded over all torrents, from its latest progress line.
    pub fn uploaded(&self) -> u64 {
        self.proc
            .stdout_text()
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("progress up=")?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }
}

/// After a kill: checks the resume files against what `polls` (this run's) saw, and against
/// the previous kill's; returns those that exist by info hash (an acknowledged torrent must
/// have one).
pub fn check_saved(
    env: &Env,
    kill: usize,
    killed_at: Instant,
    polls: &[Poll],
    before: &BTreeMap<String, SavedResume>,
    (hashes, acknowledged): (&[String], &BTreeSet<String>),
) -> BTreeMap<String, SavedResume> {
    let old = polls
        .iter()
        .rev()
        .find(|(at, _)| killed_at - *at >= SAVED_WITHIN);
    let mut saved = BTreeMap::new();
    for hash in hashes {
        let path = env.resume_path(hash);
        if !path.exists() {
            assert!(
                !acknowledged.contains(hash),
                "kill {kill}: no resume file for {hash}"
            );
            continue;
        }
        let s = read_resume(&path);
        if let Some(prev) = before.get(hash) {
            assert!(
                s.have >= prev.have && s.downloaded >= prev.downloaded,
                "kill {kill}: {hash} went back from {prev:?} to {s:?}"
            );
        }
        if let Some(seen) = old.and_then(|(_, m)| m.get(hash)) {
            assert!(
                s.have * PLEN >= seen.verified.min(s.pieces * PLEN),
                "kill {kill}: {hash}: {} bytes verified {SAVED_WITHIN:?} before the kill, \
                 {} pieces saved",
                seen.verified,
                s.have
            );
            assert!(
                s.downloaded >= seen.downloaded,
                "kill {kill}: {hash}: lifetime download {} {SAVED_WITHIN:?} before the kill, \
                 {} saved",
                seen.downloaded,
                s.downloaded
            );
        }
        saved.insert(hash.clone(), s);
    }
    eprintln!(
        "kill {kill}: {} of {} pieces saved ({} checked against a poll {SAVED_WITHIN:?} old)",
        saved.values().map(|s| s.have).sum::<u64>(),
        saved.values().map(|s| s.pieces).sum::<u64>(),
        if old.is_some() { "each" } else { "none" },
    );
    saved
}

/// The verified pieces of a resume file, from its `have` bitfield (first piece in the high
/// bit, as on the wire).
pub fn saved_pieces(path: &Path) -> BTreeSet<u64> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let have = bdict(&bytes)
        .into_iter()
        .find_map(|(k, v)| match v {
            BVal::Bytes(b) if k == b"have" => Some(b),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{}: no `have`", path.display()));
    (0..have.len() as u64 * 8)
        .filter(|i| have[(i / 8) as usize] & (0x80 >> (i % 8)) != 0)
        .collect()
}

/// Each listed torrent's piece count, by info hash (what `check_restart_log` reads).
pub fn listed_pieces(rows: &[Value]) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|r| {
            let hash = r["info_hash"].as_str().unwrap().to_string();
            (hash, r["total_bytes"].as_u64().unwrap().div_ceil(PLEN))
        })
        .collect()
}

/// Nothing the restart found saved was uploaded to it again: `sent` are the seeder's
/// (torrent, piece) lines since the restart, `saved` each torrent's saved pieces then.
pub fn check_not_refetched(run: usize, sent: &[(usize, u64)], saved: &[BTreeSet<u64>]) {
    let again: BTreeSet<&(usize, u64)> = sent
        .iter()
        .filter(|(t, p)| saved.get(*t).is_some_and(|s| s.contains(p)))
        .collect();
    assert!(
        again.is_empty(),
        "run {run}: saved pieces fetched again (torrent, piece): {again:?}"
    );
}

/// The restart's log: every listed torrent opens once, trusting exactly its saved pieces.
/// Only a torrent with none saved may be checked: the kill can come after its first save
/// (its file not yet created) and before the next, and a file that appeared since an
/// unclean save is hashed (it may have been copied in); it had nothing verified to lose.
/// Waits (bounded) for every torrent's opening line. Piece counts tell torrents apart.
pub fn check_restart_log(
    daemon: &Daemon,
    run: usize,
    saved: &BTreeMap<String, SavedResume>,
    listed: &BTreeMap<String, u64>,
) {
    let trusted_how = "from the saved resume data (files unchanged)";
    let checked_how = "checked existing data";
    let start = Instant::now();
    let log = loop {
        let log = daemon.log_text();
        let opened =
            verified_counts(&log, trusted_how).len() + verified_counts(&log, checked_how).len();
        if opened >= listed.len() || start.elapsed() > Duration::from_secs(20) {
            break log;
        }
        sleep(Duration::from_millis(100));
    };
    let trusted = verified_counts(&log, trusted_how);
    let checked = verified_counts(&log, checked_how);
    assert_eq!(
        trusted.len() + checked.len(),
        listed.len(),
        "run {run}: {trusted:?} trusted, {checked:?} checked\n{log}"
    );
    for (hash, &pieces) in listed {
        let have = saved.get(hash).map(|s| s.have);
        let t: Vec<_> = trusted.iter().filter(|c| c.1 == pieces).collect();
        let c: Vec<_> = checked.iter().filter(|c| c.1 == pieces).collect();
        match (have, t.as_slice(), c.as_slice()) {
            (Some(h), [&(n, _)], []) => assert_eq!(n, h, "run {run}: {hash} trusted\n{log}"),
            (None | Some(0), [], [_]) => {}
            other => panic!("run {run}: {hash}: saved, trusted, checked: {other:?}\n{log}"),
        }
    }
    if !checked.is_empty() {
        eprintln!("run {run}: checked (nothing verified was saved for them): {checked:?}");
    }
}

/// The torrents a campaign downloads: one file each, of `first + i` pieces (so a log line's
/// "N of M" names its torrent), seeded by one throttled python3-libtorrent session so the
/// whole download takes about `download_secs`.
pub struct Library {
    pub payloads: Vec<Payload>,
    pub torrents: Vec<Torrent>,
    pub hashes: Vec<String>,
    pub total: u64,
    pub seeder: MultiSeeder,
    /// The daemon's flags: the seeder as its peer, no queue.
    pub extra: Vec<String>,
}

impl Library {
    pub fn make(root: &Path, count: usize, first: u64, download_secs: u64, seed: u64) -> Library {
        let fixtures = root.join("fixtures");
        let data = fixtures.join("data");
        let payloads: Vec<Payload> = (0..count as u64)
            .map(|i| {
                let len = (first + i) * PLEN - 1_000 * (i + 1);
                let name = format!("t{i:02}.bin");
                Payload::make(&data, &fixtures, &name, &[("", len)], seed + i)
            })
            .collect();
        let torrents: Vec<Torrent> = payloads
            .iter()
            .map(|p| {
                let direct = fixtures.join(format!("{}.direct", p.torrent.name));
                p.torrent.with_trackers(&direct, None, &[])
            })
            .collect();
        let total: u64 = payloads.iter().map(|p| p.files[0].1).sum();
        let seeder = MultiSeeder::start(&torrents, &data, total / download_secs);
        let extra = ["--peer", &seeder.addr, "--max-active-downloads", "0"]
            .into_iter()
            .chain(["--max-active-seeds", "0"])
            .map(str::to_string)
            .collect();
        Library {
            hashes: payloads.iter().map(Payload::hash).collect(),
            payloads,
            torrents,
            total,
            seeder,
            extra,
        }
    }
}

/// One campaign of cuts: a daemon downloading `torrents` from `seeder`, cut at `moments`
/// (from the start of each run) and restarted after each. What a cut is (a kill, or a kill
/// and a power cut) is the caller's.
pub struct Campaign<'a> {
    pub env: &'a Env,
    pub library: &'a Library,
    pub moments: [Duration; 3],
    pub poll: Duration,
    pub done_wait: Duration,
}

impl<'a> Campaign<'a> {
    /// Polls every 300 ms.
    pub fn new(
        env: &'a Env,
        library: &'a Library,
        moments: [Duration; 3],
        done_wait: Duration,
    ) -> Campaign<'a> {
        Campaign {
            env,
            library,
            moments,
            poll: Duration::from_millis(300),
            done_wait,
        }
    }

    /// Run 0, then three restarts: the first cut comes while the torrents are still being
    /// added one `ttui add` at a time; after each cut `cut` runs (the daemon is dead by then)
    /// and `after(cut index, acknowledged)` checks what the cut left, before the checks made
    /// here. The third restart runs to the end; every file is compared at the end.
    pub fn run(&self, cut: &mut dyn FnMut(usize), after: &mut dyn FnMut(usize, &BTreeSet<String>)) {
        let (env, lib) = (self.env, self.library);
        let hashes = &lib.hashes[..];
        let started = Instant::now();
        let daemon = Daemon::start(env, "0", &lib.extra);
        let acked = std::sync::Mutex::new(BTreeSet::new());
        let cut_at = std::thread::scope(|s| {
            s.spawn(|| {
                for (t, hash) in lib.torrents.iter().zip(hashes) {
                    let out = env.verb(&["add", &t.path.display().to_string()]);
                    if out.code != 0 {
                        break;
                    }
                    acked.lock().unwrap().insert(hash.clone());
                }
            });
            sleep(self.moments[0]);
            let at = Instant::now();
            daemon.kill9();
            at
        });
        cut(0);
        let mut acknowledged = acked.into_inner().unwrap();
        eprintln!(
            "cut 0 after {:?}: {} adds acknowledged",
            self.moments[0],
            acknowledged.len()
        );
        after(0, &acknowledged);
        let mut saved = check_saved(
            env,
            0,
            cut_at,
            &[],
            &BTreeMap::new(),
            (hashes, &acknowledged),
        );

        for run in 1..=3 {
            // What the restart finds saved, and where the seeder's log stands (the blocks sent
            // to the dead daemon are logged within its 200 ms alert wait).
            sleep(Duration::from_millis(400));
            let mark = lib.seeder.sent().len();
            let saved_bits: Vec<BTreeSet<u64>> = hashes
                .iter()
                .map(|h| {
                    let path = env.resume_path(h);
                    if path.exists() {
                        saved_pieces(&path)
                    } else {
                        BTreeSet::new()
                    }
                })
                .collect();
            let mut daemon = Daemon::start(env, &run.to_string(), &lib.extra);
            let run_start = Instant::now();
            let rows = env.list();
            let listed = listed_pieces(&rows);
            let lost: Vec<&String> = acknowledged
                .iter()
                .filter(|h| !listed.contains_key(*h))
                .collect();
            assert!(
                lost.is_empty(),
                "run {run}: acknowledged but gone: {lost:?}"
            );
            check_restart_log(&daemon, run, &saved, &listed);
            if acknowledged.len() < hashes.len() {
                // The adds the cut stopped are made again (one that got in says so).
                let mut add = vec!["add".to_string()];
                add.extend(lib.torrents.iter().map(|t| t.path.display().to_string()));
                let args: Vec<&str> = add.iter().map(String::as_str).collect();
                let out = env.verb(&args);
                assert_eq!(out.code, 0, "{out:?}");
                acknowledged = hashes.iter().cloned().collect();
            }
            let mut polls: Vec<Poll> = vec![(Instant::now(), seen_of(&env.list()))];
            if run == 3 {
                env.wait_list("every torrent complete", self.done_wait, &mut daemon, |r| {
                    all_seeding(r, hashes.len())
                });
                check_not_refetched(run, &lib.seeder.sent()[mark..], &saved_bits);
                eprintln!(
                    "complete after 3 cuts, {:.1} s in all; the seeder uploaded {} bytes for {}",
                    started.elapsed().as_secs_f64(),
                    lib.seeder.uploaded(),
                    lib.total
                );
                assert!(daemon.term().success());
                break;
            }
            let moment = self.moments[run];
            while run_start.elapsed() < moment {
                daemon.assert_alive("the cut moment");
                let rows = env.list();
                polls.push((Instant::now(), seen_of(&rows)));
                sleep(self.poll.min(moment.saturating_sub(run_start.elapsed())));
            }
            let cut_at = Instant::now();
            daemon.kill9();
            cut(run);
            let last = &polls.last().unwrap().1;
            let verified: u64 = last.values().map(|s| s.verified).sum();
            eprintln!(
                "cut {run} after {moment:?}: ~{verified} of {} bytes verified at the last poll",
                lib.total
            );
            assert!(verified < lib.total, "run {run}: finished before its cut");
            sleep(Duration::from_millis(400));
            check_not_refetched(run, &lib.seeder.sent()[mark..], &saved_bits);
            after(run, &acknowledged);
            saved = check_saved(env, run, cut_at, &polls, &saved, (hashes, &acknowledged));
        }
        for p in &lib.payloads {
            assert_same_tree(&p.root, &env.out.join(&p.torrent.name));
        }
    }
}
