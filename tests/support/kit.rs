//! The session tests' kit: a state directory of its own, `ttui daemon` started and stopped by
//! pid, the verbs run with a bounded wait, `list --json` parsed back, the daemon's log and the
//! resume files read back.
//!
//! Every ttui run here gets the same environment: no `XDG_RUNTIME_DIR` (so the control socket
//! is `<state-dir>/control.sock`, inside the test's temp dir), XDG dirs in the temp dir, and
//! `TTUI_NO_PUBLIC_ROUTERS=1`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{last_lines, panic_message, tail, tempdir};

/// How long one verb may take (it talks to a local socket; `show` waits up to 1.5 s).
const VERB_WAIT: Duration = Duration::from_secs(20);
/// How long a daemon may take to answer its first `list`, and to exit after SIGTERM.
pub const DAEMON_WAIT: Duration = Duration::from_secs(25);
const POLL: Duration = Duration::from_millis(250);

/// One session's directories: state, download, logs.
pub struct Env {
    pub root: TempDir,
    pub state: PathBuf,
    pub out: PathBuf,
    pub logs: PathBuf,
}

impl Env {
    pub fn new(prefix: &str) -> Env {
        let root = tempdir(prefix);
        let (state, out, logs) = (
            root.path().join("state"),
            root.path().join("out"),
            root.path().join("logs"),
        );
        // The temp dir of every program run here (Chromium's profile parts, transmission-
        // remote's session-id file): inside the root, so they go with it.
        let tmp = root.path().join("tmp");
        for d in [&out, &logs, &tmp] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        Env {
            root,
            state,
            out,
            logs,
        }
    }

    pub fn ttui(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_ttui"))
    }

    /// `program` with the environment every ttui run here gets.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_remove("XDG_RUNTIME_DIR")
            .env("XDG_STATE_HOME", self.root.path())
            .env("XDG_DATA_HOME", self.root.path())
            .env("TTUI_NO_PUBLIC_ROUTERS", "1")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .env("TMPDIR", self.root.path().join("tmp"))
            .current_dir(self.root.path())
            .stdin(Stdio::null());
        cmd
    }

    pub fn resume_path(&self, hash_hex: &str) -> PathBuf {
        self.state
            .join("torrents")
            .join(format!("{hash_hex}.resume"))
    }

    pub fn torrent_path(&self, hash_hex: &str) -> PathBuf {
        self.state
            .join("torrents")
            .join(format!("{hash_hex}.torrent"))
    }

    /// `ttui VERB ARGS --state-dir STATE`, waited for (bounded).
    pub fn verb(&self, args: &[&str]) -> Out {
        let mut cmd = self.ttui();
        cmd.args(args).arg("--state-dir").arg(&self.state);
        run(cmd, &format!("ttui {}", args.join(" ")))
    }

    /// `list --json`, parsed; panics unless it exits 0 with a JSON array.
    pub fn list(&self) -> Vec<Value> {
        let out = self.verb(&["list", "--json"]);
        assert_eq!(out.code, 0, "list --json failed: {out:?}");
        match serde_json::from_str::<Value>(&out.stdout) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("list --json is not an array: {other:?}\n{}", out.stdout),
        }
    }

    /// Polls `list --json` until `done` holds; panics with the last list and the daemon's log.
    pub fn wait_list(
        &self,
        what: &str,
        timeout: Duration,
        daemon: &mut Daemon,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> Vec<Value> {
        let start = Instant::now();
        loop {
            daemon.assert_alive(what);
            let rows = self.list();
            if done(&rows) {
                return rows;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nlast list: {}\n{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default(),
                    daemon.report()
                );
            }
            sleep(POLL);
        }
    }
}

/// A finished command.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end (killing it by pid after `VERB_WAIT`).
pub fn run(cmd: Command, what: &str) -> Out {
    run_within(cmd, what, VERB_WAIT)
}

/// Runs `cmd` to its end, killing it by pid after `limit`.
pub fn run_within(mut cmd: Command, what: &str, limit: Duration) -> Out {
    let dir = tempdir("ttui-verb-");
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdout(File::create(&o).unwrap())
        .stderr(File::create(&e).unwrap())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}\n{}", tail(&e, 10));
        }
        sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
    Out {
        code: status.code().unwrap_or(-1),
        stdout: read(&o),
        stderr: read(&e),
    }
}

/// `ttui daemon` on the env's state directory; SIGKILLed by pid on drop.
pub struct Daemon {
    child: Child,
    pub log: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    /// Starts `ttui daemon --state-dir STATE -o OUT` on 127.0.0.1 (unless `extra` names a
    /// `--bind`; any port unless `extra` names one, no DHT unless `extra` names `--dht-bootstrap` nodes, TCP) with
    /// `extra` arguments, logging to `logs/daemon-<run>.log`; returns once it answers `list`.
    pub fn start(env: &Env, run: &str, extra: &[String]) -> Daemon {
        Self::start_with(env, run, extra, &[])
    }

    /// `start` with these environment variables set for the daemon only.
    pub fn start_with(env: &Env, run: &str, extra: &[String], vars: &[(&str, &str)]) -> Daemon {
        let mut cmd = env.ttui();
        cmd.envs(vars.iter().copied());
        Self::start_cmd(env, run, extra, cmd)
    }

    /// `start` with `cmd` as the program (ttui itself, or a wrapper such as `prlimit ... --
    /// ttui` that execs it, so the pid stays the daemon's).
    pub fn start_cmd(env: &Env, run: &str, extra: &[String], mut cmd: Command) -> Daemon {
        let log = env.logs.join(format!("daemon-{run}.log"));
        let stderr = env.logs.join(format!("daemon-{run}.stderr"));
        cmd.arg("daemon")
            .arg("--state-dir")
            .arg(&env.state)
            .arg("-o")
            .arg(&env.out)
            .args(if extra.iter().any(|a| a == "--bind") {
                &[][..]
            } else {
                &["--bind", "127.0.0.1"][..]
            })
            .args(if extra.iter().any(|a| a == "--transport") {
                &[][..]
            } else {
                &["--transport", "tcp"][..]
            })
            // A DHT only when the test names its loopback nodes: never the public routers.
            .args(if extra.iter().any(|a| a == "--dht-bootstrap") {
                &[][..]
            } else {
                &["--no-dht"][..]
            })
            .args(if extra.iter().any(|a| a == "--port") {
                &[][..]
            } else {
                &["--port", "0"][..]
            })
            .arg("--log-file")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ttui daemon: {e}"));
        let mut d = Daemon { child, log, stderr };
        let start = Instant::now();
        loop {
            d.assert_alive("the daemon to answer");
            if env.verb(&["list", "--json"]).code == 0 {
                return d;
            }
            if start.elapsed() > DAEMON_WAIT {
                panic!("the daemon never answered `list`\n{}", d.report());
            }
            sleep(POLL);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn assert_alive(&mut self, what: &str) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!(
                "the daemon exited ({st}) while waiting for {what}\n{}",
                self.report()
            );
        }
    }

    /// SIGTERM by pid, then waits (bounded) for it to save and exit.
    pub fn term(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > DAEMON_WAIT {
                panic!("the daemon did not exit after SIGTERM\n{}", self.report());
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL by pid, reaped.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    pub fn report(&mut self) -> String {
        let panic = panic_message(&self.stderr).unwrap_or_default();
        format!(
            "{panic}\n{}\n{}",
            tail(&self.stderr, 15),
            tail(&self.log, 40)
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of `text` containing `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// The N and M of every "...: N of M pieces verified" line after `how`.
pub fn verified_counts(log: &str, how: &str) -> Vec<(u64, u64)> {
    lines_with(log, how)
        .into_iter()
        .filter_map(|l| {
            let rest = &l[l.find(how)? + how.len()..];
            let mut w = rest.trim_start_matches(':').split_whitespace();
            let n = w.next()?.parse().ok()?;
            (w.next()? == "of").then_some(())?;
            let m = w.next()?.parse().ok()?;
            Some((n, m))
        })
        .collect()
}

/// The row of `rows` with this info hash.
pub fn row_of<'a>(rows: &'a [Value], hash_hex: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["info_hash"] == hash_hex)
        .unwrap_or_else(|| panic!("no row for {hash_hex} in {rows:?}"))
}

pub fn all_seeding(rows: &[Value], n: usize) -> bool {
    rows.len() == n
        && rows
            .iter()
            .all(|r| r["state"] == "seeding" && r["verified_bytes"] == r["total_bytes"])
}

/// `text` is one line (a trailing newline allowed).
pub fn assert_one_line(text: &str, what: &str) {
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "{what}: want one line, got:\n{}",
        last_lines(text, 10)
    );
}

// --- the resume file, read with a bencode walker of its own (its format: assets/man/state.md) ---

/// A top-level integer or byte string of a bencoded dict.
#[derive(Debug, Clone, PartialEq)]
pub enum BVal {
    Int(i64),
    Bytes(Vec<u8>),
    Other,
}

fn walk(b: &[u8], i: usize) -> Option<(BVal, usize)> {
    match *b.get(i)? {
        b'i' => {
            let end = i + b[i..].iter().position(|&c| c == b'e')?;
            let n = std::str::from_utf8(&b[i + 1..end]).ok()?.parse().ok()?;
            Some((BVal::Int(n), end + 1))
        }
        b'l' | b'd' => {
            let mut j = i + 1;
            while *b.get(j)? != b'e' {
                j = walk(b, j)?.1;
            }
            Some((BVal::Other, j + 1))
        }
        c if c.is_ascii_digit() => {
            let colon = i + b[i..].iter().position(|&c| c == b':')?;
            let len: usize = std::str::from_utf8(&b[i..colon]).ok()?.parse().ok()?;
            let end = colon + 1 + len;
            Some((BVal::Bytes(b.get(colon + 1..end)?.to_vec()), end))
        }
        _ => None,
    }
}

/// The top-level keys of a bencoded dict.
pub fn bdict(b: &[u8]) -> Vec<(Vec<u8>, BVal)> {
    assert_eq!(b.first(), Some(&b'd'), "not a bencoded dict");
    let mut out = Vec::new();
    let mut i = 1;
    while b.get(i).is_some_and(|&c| c != b'e') {
        let (BVal::Bytes(k), j) = walk(b, i).expect("bad key") else {
            panic!("non-string key")
        };
        let (v, next) = walk(b, j).expect("bad value");
        out.push((k, v));
        i = next;
    }
    out
}

/// A saved resume file's piece count, verified pieces and lifetime download.
#[derive(Debug)]
pub struct SavedResume {
    pub pieces: u64,
    pub have: u64,
    pub downloaded: u64,
}

pub fn read_resume(path: &Path) -> SavedResume {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let d = bdict(&bytes);
    let get = |k: &str| {
        d.iter()
            .find(|(key, _)| key == k.as_bytes())
            .map(|(_, v)| v)
    };
    let int = |k: &str| match get(k) {
        Some(BVal::Int(n)) => *n as u64,
        other => panic!("{}: `{k}` is {other:?}", path.display()),
    };
    let Some(BVal::Bytes(have)) = get("have") else {
        panic!("{}: no `have`", path.display())
    };
    SavedResume {
        pieces: int("pieces"),
        have: have.iter().map(|b| u64::from(b.count_ones())).sum(),
        downloaded: int("downloaded"),
    }
}
