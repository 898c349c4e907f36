//! Issue 19 ("two sessions racing for one state directory"): four `ttui daemon` processes
//! started at the same instant on one state directory. Exactly one keeps running and serves
//! `ttui list`; each of the others exits with code 1 (the man page's "anything else",
//! assets/man/scripting.md) and one line saying a session already runs; the lock, the lock's
//! pid and the control socket are the winner's, no half-written save is left, and the torrent
//! saved there comes back every round.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Barrier};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;

const RACERS: usize = 4;
const ROUNDS: usize = 3;

/// One racing `ttui daemon`, SIGKILLed by pid on drop.
struct Racer {
    child: Child,
    stderr: PathBuf,
    log: PathBuf,
    exit: Option<i32>,
}

impl Racer {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stderr).unwrap_or_default()).into_owned()
    }

    fn report(&self) -> String {
        format!("{}\n{}", tail(&self.stderr, 10), tail(&self.log, 20))
    }

    fn poll(&mut self) {
        if self.exit.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                // A signal is not a clean refusal: -1 fails every check below.
                self.exit = Some(st.code().unwrap_or(-1));
            }
        }
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `RACERS` daemons from as many threads released by one barrier, so their starts
/// overlap as closely as process creation allows.
fn race(env: &Env, round: usize) -> Vec<Racer> {
    let barrier = Arc::new(Barrier::new(RACERS));
    let threads: Vec<_> = (0..RACERS)
        .map(|i| {
            let log = env.logs.join(format!("r{round}-{i}.log"));
            let stderr = env.logs.join(format!("r{round}-{i}.stderr"));
            let mut cmd = env.ttui();
            cmd.arg("daemon")
                .arg("--state-dir")
                .arg(&env.state)
                .arg("-o")
                .arg(&env.out)
                .args(["--bind", "127.0.0.1", "--port", "0", "--no-dht"])
                .args(["--transport", "tcp"])
                .arg("--log-file")
                .arg(&log)
                .stdout(Stdio::null())
                .stderr(File::create(&stderr).unwrap());
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let child = cmd.spawn().unwrap();
                Racer {
                    child,
                    stderr,
                    log,
                    exit: None,
                }
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn report(racers: &[Racer]) -> String {
    racers
        .iter()
        .enumerate()
        .map(|(i, r)| format!("racer {i}: exit {:?}\n{}", r.exit, r.report()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The targets of the descriptors process `pid` holds open.
fn open_files(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .collect()
}

/// The inodes of the listening unix sockets bound under `dir`, from /proc/net/unix. The
/// session binds its socket in a private folder beside `control.sock` and renames it into
/// place, and the table keeps the name it was bound with, so the match is on the folder.
fn listening_sockets_under(dir: &Path) -> Vec<String> {
    let table = fs::read_to_string("/proc/net/unix").unwrap();
    let want = format!("{}/", dir.display());
    // Num RefCount Protocol Flags Type St Inode Path; flags 00010000 is __SO_ACCEPTCON.
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[7].starts_with(&want) && f[3] == "00010000")
                .then(|| f[6].to_string())
        })
        .collect()
}

/// Names in `dir` and its subfolders that an unfinished save would leave.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(temporaries(&p));
        } else if p.to_string_lossy().ends_with(".tmp") {
            out.push(p);
        }
    }
    out
}

#[test]
fn four_daemons_racing_for_one_state_dir_leave_one_running() {
    require_loopback_only();
    let env = Env::new("ttui-session-race-");
    let p = Payload::make(
        &env.out,
        &env.root.path().join("torrents"),
        "race.bin",
        &[("", 600_000)],
        11,
    );
    let mut saved_torrent: Option<Vec<u8>> = None;
    for round in 0..ROUNDS {
        let mut racers = race(&env, round);
        // Bounded: the losers give up at once; the winner keeps running.
        let start = Instant::now();
        loop {
            racers.iter_mut().for_each(Racer::poll);
            let exited = racers.iter().filter(|r| r.exit.is_some()).count();
            if exited >= RACERS - 1 || start.elapsed() > DAEMON_WAIT {
                break;
            }
            sleep(Duration::from_millis(50));
        }
        // Give a second loser (there must be none) time to show itself.
        sleep(Duration::from_millis(500));
        racers.iter_mut().for_each(Racer::poll);
        let running: Vec<usize> = (0..RACERS).filter(|&i| racers[i].exit.is_none()).collect();
        assert_eq!(
            running.len(),
            1,
            "round {round}: {running:?}\n{}",
            report(&racers)
        );
        let winner = running[0];
        let winner_pid = racers[winner].child.id();
        for (i, r) in racers.iter().enumerate().filter(|(i, _)| *i != winner) {
            assert_eq!(
                r.exit,
                Some(1),
                "round {round}, racer {i}\n{}",
                report(&racers)
            );
            let err = r.stderr();
            assert_one_line(&err, "a losing daemon");
            assert!(
                err.contains("already runs") && err.contains(env.state.to_str().unwrap()),
                "round {round}, racer {i}: {err}"
            );
        }

        // The winner serves the verbs (bounded: it may still be binding its socket).
        let start = Instant::now();
        while env.verb(&["list", "--json"]).code != 0 {
            racers[winner].poll();
            assert!(
                racers[winner].exit.is_none() && start.elapsed() < DAEMON_WAIT,
                "round {round}: the winner never answered\n{}",
                report(&racers)
            );
            sleep(Duration::from_millis(200));
        }
        if round == 0 {
            let added = env.verb(&["add", &p.path()]);
            assert_eq!(added.code, 0, "{added:?}");
        }
        let rows = env.list();
        assert_eq!(rows.len(), 1, "round {round}: {rows:?}");
        assert_eq!(rows[0]["info_hash"], p.hash().as_str());

        // The lock and its pid, and the socket, are the winner's.
        let lock = env.state.join("lock");
        let pid_text = fs::read_to_string(&lock).unwrap();
        assert_eq!(
            pid_text.trim(),
            winner_pid.to_string(),
            "round {round}: the lock names another process"
        );
        let held = open_files(winner_pid);
        let sock = env.state.join("control.sock");
        for f in [&lock, &env.state.join("control.sock.lock")] {
            assert!(
                held.contains(f),
                "round {round}: the winner does not hold {}: {held:?}",
                f.display()
            );
        }
        assert!(sock.exists(), "round {round}: no {}", sock.display());
        let listening = listening_sockets_under(&env.state);
        assert_eq!(listening.len(), 1, "round {round}: {listening:?}");
        assert!(
            held.contains(&PathBuf::from(format!("socket:[{}]", listening[0]))),
            "round {round}: the socket is not the winner's: {held:?}"
        );

        // The state directory is whole: no temporaries, the saved torrent unchanged since its
        // first round, its resume file readable.
        let tmp = temporaries(&env.state);
        assert!(tmp.is_empty(), "round {round}: left behind: {tmp:?}");
        let bytes = fs::read(env.torrent_path(&p.hash())).unwrap();
        assert_eq!(*saved_torrent.get_or_insert(bytes.clone()), bytes);
        let start = Instant::now();
        while !all_seeding(&env.list(), 1) {
            racers[winner].poll();
            assert!(
                racers[winner].exit.is_none() && start.elapsed() < DAEMON_WAIT,
                "round {round}: the torrent is not seeding: {:?}\n{}",
                env.list(),
                racers[winner].report()
            );
            sleep(Duration::from_millis(200));
        }

        // A clean stop ends the round; its save is whole.
        let sent = env
            .command("kill")
            .args(["-TERM", &winner_pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let start = Instant::now();
        while racers[winner].exit.is_none() {
            assert!(start.elapsed() < DAEMON_WAIT, "round {round}: no exit");
            sleep(Duration::from_millis(50));
            racers[winner].poll();
        }
        assert_eq!(racers[winner].exit, Some(0), "{}", racers[winner].report());
        let saved = read_resume(&env.resume_path(&p.hash()));
        assert_eq!((saved.have, saved.pieces), (p.pieces, p.pieces));
        eprintln!("round {round}: racer {winner} won");
    }
}
