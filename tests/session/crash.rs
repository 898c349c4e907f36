//! Crash safety: a download SIGKILLed at several points and restarted with the same output
//! directory ends byte-identical, and no piece is verified (so fetched) twice over all runs.
//!
//! Run through tests/run.sh: the test refuses to run unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;
use ttui::internals::protocol::metainfo::Metainfo;

/// ttui with `TTUI_LOG=debug` (which `common::Ttui` cannot set), killed by pid on drop.
struct DebugRun {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    log: PathBuf,
}

impl DebugRun {
    fn spawn(args: &[String], dir: &Path, run: usize) -> DebugRun {
        let stdout = dir.join(format!("run{run}.stdout"));
        let stderr = dir.join(format!("run{run}.stderr"));
        let log = dir.join(format!("run{run}.log"));
        let out = File::create(&stdout).unwrap_or_else(|e| panic!("{}: {e}", stdout.display()));
        let err = File::create(&stderr).unwrap_or_else(|e| panic!("{}: {e}", stderr.display()));
        let child = Command::new(env!("CARGO_BIN_EXE_ttui"))
            .args(args)
            .arg("--log-file")
            .arg(&log)
            .env("TTUI_LOG", "debug")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ttui: {e}"));
        DebugRun {
            child,
            stdout,
            stderr,
            log,
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stdout).unwrap_or_default()).into_owned()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn report(&self) -> String {
        format!(
            "{}\n{}\n{}",
            tail(&self.stdout, 10),
            tail(&self.stderr, 10),
            tail(&self.log, 15)
        )
    }

    /// Polls the progress lines until one shows at least `percent`; panics if the run ends
    /// or the deadline passes first.
    fn wait_percent(&mut self, percent: f64, timeout: Duration) -> f64 {
        let start = Instant::now();
        loop {
            if let Some(p) = last_percent(&self.stdout()).filter(|&p| p >= percent) {
                return p;
            }
            if let Some(st) = self.exited() {
                panic!(
                    "ttui exited ({st}) before reaching {percent}%\n{}",
                    self.report()
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "ttui did not reach {percent}% within {timeout:?}\n{}",
                    self.report()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL by pid, then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.exited() {
                return st;
            }
            if start.elapsed() > timeout {
                self.kill();
                panic!("ttui did not finish within {timeout:?}\n{}", self.report());
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Indices from the `piece N verified` debug lines of this run's log.
    fn verified_pieces(&self) -> Vec<u32> {
        let text =
            fs::read_to_string(&self.log).unwrap_or_else(|e| panic!("{}: {e}", self.log.display()));
        text.lines()
            .filter_map(|l| {
                let at = l.find("piece ")? + "piece ".len();
                let mut words = l[at..].split_whitespace();
                let index = words.next()?.parse().ok()?;
                (words.next() == Some("verified")).then_some(index)
            })
            .collect()
    }
}

impl Drop for DebugRun {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn sigkilled_download_resumes_without_refetching_verified_pieces() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("crash payload", 21, 18);
    let total = multi_file_len();
    assert!(total >= 32 << 20);
    let bytes = fs::read(&fx.torrent.path).unwrap_or_else(|e| panic!("{e}"));
    let num_pieces = Metainfo::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{e}"))
        .info
        .num_pieces();
    // No trackers: the seeder is dialled directly and says "ready" without waiting for an
    // announce.
    let t = fx.torrent_with("direct.torrent", None, &[]);
    // About 17 s for the whole payload, so kills land at distinct, observable moments.
    let limit = total / 17;
    let mut seeder = LibtorrentSeeder::start(
        &t,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            upload_limit: limit,
            ..LtOptions::default()
        },
    );
    let out = fx.out_dir("out");
    let logs = fx.out_dir("logs");
    let args: Vec<String> = vec![
        t.path.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--port".into(),
        "0".into(),
        "--peer".into(),
        seeder.addr().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];

    let mut rng = rand::thread_rng();
    let mut runs = Vec::new();
    let started = Instant::now();
    for (i, target) in [20.0, 45.0, 70.0].into_iter().enumerate() {
        let mut run = DebugRun::spawn(&args, &logs, i);
        let seen = run.wait_percent(target, DOWNLOAD_TIMEOUT);
        // A random moment shortly after the threshold: mid-piece, mid-write or mid-hash.
        sleep(Duration::from_millis(rng.gen_range(0..700)));
        let at = last_percent(&run.stdout()).unwrap_or(seen);
        run.kill();
        eprintln!(
            "run {i}: killed at ~{at:.1}% ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        runs.push(run);
    }
    let mut last = DebugRun::spawn(&args, &logs, runs.len());
    let status = last.wait(DOWNLOAD_TIMEOUT);
    assert!(
        status.success(),
        "final run failed ({status})\n{}\n{}",
        last.report(),
        seeder.report()
    );
    let stdout = last.stdout();
    assert!(
        stdout.contains("complete:"),
        "no completion line\n{}",
        last_lines(&stdout, 5)
    );
    eprintln!(
        "completed after 3 kills in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    runs.push(last);
    assert_same_tree(&fx.payload, &out.join(&t.name));

    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let pieces = run.verified_pieces();
        eprintln!("run {i}: {} pieces verified", pieces.len());
        for p in pieces {
            if let Some(first) = seen.insert(p, i) {
                panic!("piece {p} verified in run {first} and again in run {i}: fetched twice");
            }
        }
    }
    let missing: Vec<u32> = (0..num_pieces).filter(|p| !seen.contains_key(p)).collect();
    assert!(
        missing.is_empty(),
        "pieces never logged as verified: {missing:?}"
    );
    assert!(
        seen.keys().all(|&p| p < num_pieces),
        "piece index out of range in {seen:?}"
    );
}
