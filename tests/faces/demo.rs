//! `ttui demo --headless` end to end: the real binary builds its swarm, downloads, and leaves
//! no process and no temporary directory behind — after a normal end, after SIGTERM in the
//! middle of the download, after SIGTERM while it is still writing the payload, and after
//! SIGTERM while the third-party clients start.
//!
//! The third-party clients (opentracker, python3-libtorrent, aria2, Transmission) are expected
//! to run wherever they are installed, and under `TTUI_REQUIRE_TOOLS=1` (tests/run.sh, which
//! installs them) they must be: the clean-up checks are only worth something when those
//! processes really ran and were alive when the signal went.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::prereq;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Lines of one stream, collected by a thread as they arrive.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(stream: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let sink = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.0.lock().unwrap().push(line);
            }
        });
        lines
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn find(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.all().into_iter().find(|l| pred(l))
    }
}

struct Demo {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    /// Every descendant seen while it ran: pid → its latest command line.
    seen: BTreeMap<u32, String>,
    /// Transmission's RPC lock files (`/tmp/tr_session_id_*`, a fixed path that ignores
    /// TMPDIR) seen held by a descendant → that holder. A SIGKILLed Transmission cannot
    /// remove its own; the drop removes each one whose holder is gone.
    session_files: BTreeMap<PathBuf, (u32, String)>,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ttui"))
            .arg("demo")
            .arg("--headless")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ttui demo");
        let stdout = Lines::collect(child.stdout.take().unwrap());
        let stderr = Lines::collect(child.stderr.take().unwrap());
        Demo {
            child,
            stdout,
            stderr,
            seen: BTreeMap::new(),
            session_files: BTreeMap::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Records the current descendants of the demo.
    fn record_descendants(&mut self) {
        let own = cmdline(self.pid());
        for pid in descendants(self.pid()) {
            if let Some(cmd) = cmdline(pid) {
                // Between fork and exec a child still shows the demo's own command line; the
                // program it becomes is recorded on a later look. A zombie's is empty: what it
                // ran stays as last seen (Transmission once read as "" after it had exited).
                if own.as_deref() != Some(cmd.as_str()) && !cmd.is_empty() {
                    for f in held_session_files(pid) {
                        self.session_files.insert(f, (pid, cmd.clone()));
                    }
                    self.seen.insert(pid, cmd);
                }
            }
        }
    }

    /// Polls (recording descendants) until `pred` holds on stdout/stderr or the demo exits.
    fn wait_for(&mut self, what: &str, limit: Duration, pred: impl Fn(&Demo) -> bool) {
        let start = Instant::now();
        while !pred(self) {
            self.record_descendants();
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("demo exited ({status}) before {what}\n{}", self.report());
            }
            assert!(
                start.elapsed() < limit,
                "no {what} within {limit:?}\n{}",
                self.report()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the exit, recording descendants meanwhile; kills the demo beyond `limit`.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            self.record_descendants();
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                thread::sleep(Duration::from_millis(200));
                return status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("demo still running after {limit:?}\n{}", self.report());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn demo_dir(&self) -> PathBuf {
        let line = self
            .stderr
            .find(|l| l.starts_with("demo dir: "))
            .unwrap_or_else(|| panic!("no `demo dir:` line\n{}", self.report()));
        PathBuf::from(line.trim_start_matches("demo dir: ").trim())
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Every expected third-party client ran: the demo reported it up (no "skipping" line)
    /// and its process was seen among the demo's descendants.
    fn assert_clients_ran(&self, expected: &[Client]) {
        if let Some(l) = self
            .stderr
            .find(|l| l.starts_with("demo: skipping") || l.starts_with("demo: no tracker"))
        {
            panic!("a third-party client did not start: {l}\n{}", self.report());
        }
        for c in expected {
            assert!(
                self.stderr.find(|l| l.contains(c.up_line)).is_some(),
                "the demo never reported {} up (`{}`)\n{}",
                c.program,
                c.up_line,
                self.report()
            );
            assert!(
                self.seen.values().any(|cmd| cmd.contains(c.program)),
                "{} never seen as a descendant of the demo\n{}",
                c.program,
                self.report()
            );
        }
    }

    /// Pids of the live descendants whose command line mentions `program`.
    fn alive(&mut self, program: &str) -> Vec<u32> {
        self.record_descendants();
        self.seen
            .iter()
            .filter(|(pid, cmd)| {
                cmd.contains(program) && cmdline(**pid).as_deref() == Some(cmd.as_str())
            })
            .map(|(pid, _)| *pid)
            .collect()
    }

    /// Sends `signal` after checking that every expected client is alive right now.
    fn signal_with_clients_alive(&mut self, signal: &str, expected: &[Client]) {
        for c in expected {
            let pids = self.alive(c.program);
            assert!(
                !pids.is_empty(),
                "{} is not running when {signal} is about to be sent\n{}",
                c.program,
                self.report()
            );
        }
        self.signal(signal);
    }

    fn report(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}\n--- descendants seen\n{:?}",
            self.stdout.all().join("\n"),
            self.stderr.all().join("\n"),
            self.seen
        )
    }

    /// Nothing the demo started is alive, nothing mentions its directory, the directory is gone.
    fn assert_clean(&self, dir: &Path) {
        self.assert_no_processes(dir);
        assert!(
            !dir.exists(),
            "{} still exists\n{}",
            dir.display(),
            self.report()
        );
    }

    /// No descendant seen earlier is still alive and no process mentions `dir`.
    fn assert_no_processes(&self, dir: &Path) {
        // Children are killed by pid and reaped before the directory is removed; give a
        // straggler (the tracker behind its watchdog) a moment, bounded.
        let start = Instant::now();
        loop {
            let alive: Vec<(u32, String)> = self
                .seen
                .iter()
                .filter(|(pid, cmd)| cmdline(**pid).as_deref() == Some(cmd.as_str()))
                .map(|(p, c)| (*p, c.clone()))
                .collect();
            let dir_s = dir.to_string_lossy().to_string();
            let mentioning: Vec<(u32, String)> = all_pids()
                .into_iter()
                .filter_map(|p| cmdline(p).map(|c| (p, c)))
                .filter(|(_, c)| c.contains(&dir_s))
                .collect();
            if alive.is_empty() && mentioning.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "left behind: {alive:?} {mentioning:?}\n{}",
                self.report()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A failed assertion must not leave the demo running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (file, (pid, cmd)) in &self.session_files {
            if cmdline(*pid).as_deref() != Some(cmd.as_str()) {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// The `tr_session_id_*` files process `pid` holds open (read from /proc/<pid>/fd).
fn held_session_files(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|t| {
            t.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tr_session_id_"))
        })
        .collect()
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Command line of a live (not zombie) process.
fn cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim()
            .to_string(),
    )
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Children, grandchildren, ... of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, ppid(p)?)))
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, pp) in &parents {
            if *pp == parent && !out.contains(pid) {
                out.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    out
}

/// A third-party program the demo starts when it is installed.
struct Client {
    /// What its command line contains.
    program: &'static str,
    /// What the demo prints once it is up.
    up_line: &'static str,
}

const OPENTRACKER: Client = Client {
    program: "opentracker",
    up_line: "opentracker on 127.0.0.1:",
};
const SEEDERS: [Client; 3] = [
    Client {
        program: "lt_seed.py",
        up_line: "      libtorrent on ",
    },
    Client {
        program: "aria2c",
        up_line: "           aria2 on ",
    },
    Client {
        program: "transmission-daemon",
        up_line: "    Transmission on ",
    },
];

/// The clients the demo must start: all of them. When one is missing the test is skipped
/// (reported as a skip), or fails under TTUI_REQUIRE_TOOLS (the test command installs them).
fn expected_clients() -> Option<Vec<Client>> {
    let mut missing = Vec::new();
    for (what, ok) in [
        ("opentracker", prereq::installed("opentracker")),
        ("python3-libtorrent", prereq::python_libtorrent_installed()),
        ("aria2c", prereq::installed("aria2c")),
        (
            "transmission-daemon",
            prereq::installed("transmission-daemon"),
        ),
        (
            "transmission-remote",
            prereq::installed("transmission-remote"),
        ),
    ] {
        if !ok {
            missing.push(what);
        }
    }
    if !missing.is_empty() {
        prereq::skip(&format!("not installed: {}", missing.join(", ")));
        return None;
    }
    Some([OPENTRACKER].into_iter().chain(SEEDERS).collect())
}

#[test]
fn demo_downloads_and_cleans_up() {
    let Some(clients) = expected_clients() else {
        return;
    };
    let mut demo = Demo::start(&["--size-mib", "32", "--seconds", "10"]);
    let status = demo.wait_exit(Duration::from_secs(240));
    assert_eq!(status.code(), Some(0), "{}", demo.report());
    let complete = demo
        .stdout
        .find(|l| l.starts_with("complete:"))
        .unwrap_or_else(|| panic!("no complete: line\n{}", demo.report()));
    assert!(complete.contains("32.00 MiB verified"), "{complete}");
    // Paced to about --seconds: faster than half means a seeder ignores its throttle. The
    // upper bound only catches a stalled swarm: demo tests run two at a time on a loaded
    // machine.
    let took: f64 = complete
        .rsplit_once(" in ")
        .and_then(|(_, t)| t.split_once('s'))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {complete}"));
    assert!(
        (5.0..=150.0).contains(&took),
        "took {took}s for --seconds 10: {complete}"
    );
    // Every pane had something to show: the peers that fail must have been tried.
    assert!(
        demo.stderr
            .find(|l| l.contains("closed port on 127.0.0.1:"))
            .is_some(),
        "{}",
        demo.report()
    );
    demo.assert_clients_ran(&clients);
    let dir = demo.demo_dir();
    demo.assert_clean(&dir);
}

#[test]
fn sigterm_mid_download_cleans_up() {
    let Some(clients) = expected_clients() else {
        return;
    };
    let mut demo = Demo::start(&["--size-mib", "32", "--seconds", "40"]);
    demo.wait_for("a progress line past 0%", Duration::from_secs(120), |d| {
        d.stdout
            .find(|l| l.contains('%') && !l.trim_start().starts_with("0.0%"))
            .is_some()
    });
    demo.assert_clients_ran(&clients);
    demo.signal_with_clients_alive("-TERM", &clients);
    let status = demo.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", demo.report());
    assert!(
        demo.stdout.find(|l| l.starts_with("stopped:")).is_some(),
        "{}",
        demo.report()
    );
    assert!(
        demo.stdout.find(|l| l.starts_with("complete:")).is_none(),
        "{}",
        demo.report()
    );
    let dir = demo.demo_dir();
    demo.assert_clean(&dir);
}

#[test]
fn sigterm_during_setup_cleans_up() {
    let mut demo = Demo::start(&["--size-mib", "512", "--seconds", "60"]);
    demo.wait_for("the payload being written", Duration::from_secs(60), |d| {
        d.stderr.find(|l| l.starts_with("demo: writing")).is_some()
    });
    let dir = demo.demo_dir();
    assert!(dir.exists());
    demo.signal("-TERM");
    let status = demo.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", demo.report());
    assert!(
        demo.stdout.find(|l| l.starts_with("complete:")).is_none(),
        "{}",
        demo.report()
    );
    demo.assert_clean(&dir);
}

/// SIGKILL runs no destructor: the children must still die (parent-death signal, tracker
/// watchdog), and the directory left behind is removed by the next demo.
#[test]
fn sigkill_leaves_no_process_and_next_demo_removes_the_dir() {
    let Some(clients) = expected_clients() else {
        return;
    };
    let mut demo = Demo::start(&["--size-mib", "32", "--seconds", "40"]);
    demo.wait_for("a progress line past 0%", Duration::from_secs(120), |d| {
        d.stdout
            .find(|l| l.contains('%') && !l.trim_start().starts_with("0.0%"))
            .is_some()
    });
    demo.assert_clients_ran(&clients);
    demo.signal_with_clients_alive("-KILL", &clients);
    let status = demo.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), None, "{}", demo.report());
    let dir = demo.demo_dir();
    demo.assert_no_processes(&dir);
    assert!(
        dir.exists(),
        "nothing should have removed {} yet",
        dir.display()
    );

    let mut next = Demo::start(&["--size-mib", "1", "--seconds", "1", "--no-external"]);
    let status = next.wait_exit(Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{}", next.report());
    assert!(
        !dir.exists(),
        "stale {} not removed\n{}",
        dir.display(),
        next.report()
    );
    let next_dir = next.demo_dir();
    next.assert_clean(&next_dir);
}

/// SIGTERM once the first third-party seeder process runs and before the demo has them all
/// up: the clients being started and waited for must die with it.
#[test]
fn sigterm_while_clients_start_cleans_up() {
    if expected_clients().is_none() {
        return;
    }
    let mut demo = Demo::start(&["--size-mib", "32", "--seconds", "30"]);
    let start = Instant::now();
    let (program, pid) = loop {
        // Polled often: the start phase lasts about a second.
        let found = SEEDERS
            .iter()
            .find_map(|c| demo.alive(c.program).first().map(|p| (c.program, *p)));
        if let Some(hit) = found {
            break hit;
        }
        if let Some(status) = demo.child.try_wait().unwrap() {
            panic!(
                "demo exited ({status}) before any seeder started\n{}",
                demo.report()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no third-party seeder started within 120 s\n{}",
            demo.report()
        );
        thread::sleep(Duration::from_millis(20));
    };
    // Still starting: the demo prints its peer list only once every seeder is up.
    assert!(
        demo.stderr.find(|l| l.contains("closed port on")).is_none(),
        "the demo finished starting its clients before the test saw one\n{}",
        demo.report()
    );
    assert!(
        cmdline(pid).is_some_and(|c| c.contains(program)),
        "{program} (pid {pid}) died before the signal\n{}",
        demo.report()
    );
    let dir = demo.demo_dir();
    demo.signal("-TERM");
    eprintln!(
        "SIGTERM {:.2}s after the start, {program} (pid {pid}) alive",
        start.elapsed().as_secs_f64()
    );
    let status = demo.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(130), "{}", demo.report());
    assert!(
        demo.stdout.find(|l| l.starts_with("complete:")).is_none(),
        "{}",
        demo.report()
    );
    demo.assert_clean(&dir);
    assert!(
        !cmdline(pid).is_some_and(|c| c.contains(program)),
        "{program} (pid {pid}) survived the demo"
    );
}
