//! The `on_complete` command: a program the session runs when a torrent completes, told about
//! the torrent in its environment, under our names (`TTUI_TORRENT_*`) and under the ones
//! Transmission's `script-torrent-done-filename` gives (`TR_*`), so scripts written for
//! Transmission work unchanged.
//!
//! As Transmission does, it runs without a shell (argv is the path alone: a script needs its
//! `#!` line), from `/`, with the session's environment plus those variables. On top of that:
//! stdin is /dev/null, it runs in a process group of its own (so the time limit kills what it
//! started too, and a Ctrl-C meant for a terminal session does not reach it), its output goes
//! to the log line by line, cut (a chatty script cannot fill the disk), and at most
//! `MAX_AT_ONCE` run at a time (a batch of completions must not start a hundred scripts). It
//! never blocks the session: each run is a task of its own, whose outcome comes back on a
//! channel (`manager/completed.rs` shows a failure on the torrent's line).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, Semaphore};
use tracing::Instrument;

use crate::engine::api::{OnComplete, TorrentId};

/// Runs at once; more wait for a place (their time limit starts when they start).
pub(crate) const MAX_AT_ONCE: usize = 4;
/// Lines of output logged per run (stdout and stderr together); the rest is counted.
const MAX_LOG_LINES: usize = 40;
/// Bytes of one output line logged; a longer line is cut.
const MAX_LINE_BYTES: usize = 300;
/// After the command has exited, how long its output may still be read: something it left
/// running in the background may hold the pipe open for hours.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How long a killed command may take to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// What the command is told about the torrent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Facts {
    pub id: TorrentId,
    pub name: String,
    pub info_hash: [u8; 20],
    /// Where its data is now (its final directory).
    pub dir: PathBuf,
    pub labels: Vec<String>,
    /// Bytes downloaded over its whole life.
    pub downloaded: u64,
    /// Announce URLs, every tier in order.
    pub trackers: Vec<String>,
}

/// Why a run failed, in the words its line shows after "on_complete failed: ".
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScriptError {
    #[error("cannot start {}: {source}", path.display())]
    Start {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exit {0}")]
    Exit(i32),
    #[error("killed by signal {0}")]
    Signal(i32),
    #[error("killed after {} (on_complete_timeout)", crate::engine::session::goals::flag_text(*.0))]
    TimedOut(Duration),
    #[error("waiting for it: {0}")]
    Wait(#[source] std::io::Error),
}

/// The variables set for a run: ours, then Transmission's. `localtime` is
/// `TR_TIME_LOCALTIME`'s text.
pub(crate) fn environment(f: &Facts, localtime: &str) -> Vec<(&'static str, OsString)> {
    // A NUL cannot be in an environment variable; the name and labels are checked text but
    // a path or a URL from a .torrent is not worth a failed start.
    let text = |s: &str| OsString::from(s.replace('\0', ""));
    let id = text(&f.id.0.to_string());
    let hash = text(&crate::protocol::hex::encode(&f.info_hash));
    let name = text(&f.name);
    let dir = OsString::from(f.dir.as_os_str());
    let labels = text(&f.labels.join(","));
    vec![
        ("TTUI_TORRENT_ID", id.clone()),
        ("TTUI_TORRENT_NAME", name.clone()),
        ("TTUI_TORRENT_HASH", hash.clone()),
        ("TTUI_TORRENT_DIR", dir.clone()),
        ("TTUI_TORRENT_LABELS", labels.clone()),
        ("TR_APP_VERSION", text(env!("CARGO_PKG_VERSION"))),
        ("TR_TIME_LOCALTIME", text(localtime)),
        (
            "TR_TORRENT_BYTES_DOWNLOADED",
            text(&f.downloaded.to_string()),
        ),
        ("TR_TORRENT_DIR", dir),
        ("TR_TORRENT_HASH", hash),
        ("TR_TORRENT_ID", id),
        ("TR_TORRENT_LABELS", labels),
        ("TR_TORRENT_NAME", name),
        ("TR_TORRENT_TRACKERS", text(&f.trackers.join(","))),
    ]
}

/// The local time as Transmission writes `TR_TIME_LOCALTIME` (C's `ctime`: `Thu Aug 15
/// 21:09:36 2024` and a newline); UTC when the C library cannot tell the zone.
pub(crate) fn local_time_text() -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: `time(NULL)` only reads the clock. `localtime_r` (or `gmtime_r`) writes into the
    // `tm` we own and reads the `time_t` we pass; each returns NULL on failure, checked.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() && libc::gmtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        tm
    };
    let pick = |names: &[&'static str], i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| names.get(i).copied())
            .unwrap_or("?")
    };
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {}\n",
        pick(&DAYS, tm.tm_wday),
        pick(&MONTHS, tm.tm_mon),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// The session's runner: the setting, the places, and where outcomes go.
pub(crate) struct Runner {
    settings: OnComplete,
    places: Arc<Semaphore>,
    done: mpsc::UnboundedSender<(TorrentId, Result<(), ScriptError>)>,
}

impl Runner {
    pub(crate) fn new(
        settings: OnComplete,
        done: mpsc::UnboundedSender<(TorrentId, Result<(), ScriptError>)>,
    ) -> Runner {
        Runner {
            settings,
            places: Arc::new(Semaphore::new(MAX_AT_ONCE)),
            done,
        }
    }

    pub(crate) fn program(&self) -> Option<&std::path::Path> {
        self.settings.program.as_deref()
    }

    /// Starts a run for this torrent (nothing when no command is set); its outcome comes
    /// back on the runner's channel. `span` names the torrent in every line it logs.
    pub(crate) fn start(&self, facts: Facts, span: tracing::Span) {
        let Some(program) = self.settings.program.clone() else {
            return;
        };
        let (places, done, limit) = (
            Arc::clone(&self.places),
            self.done.clone(),
            self.settings.timeout,
        );
        let id = facts.id;
        let env = environment(&facts, &local_time_text());
        let run = async move {
            // Closed only when the runner is gone: then nobody wants the outcome either.
            let Ok(_place) = places.acquire_owned().await else {
                return;
            };
            let outcome = run_once(&program, env, limit).await;
            match &outcome {
                Ok(()) => tracing::info!("on_complete {}: done", program.display()),
                Err(e) => tracing::warn!("on_complete {} failed: {e}", program.display()),
            }
            let _ = done.send((id, outcome));
        };
        tokio::spawn(run.instrument(span));
    }
}

/// One run: started, its output logged, waited for up to `limit` (then its process group
/// killed).
async fn run_once(
    program: &std::path::Path,
    env: Vec<(&'static str, OsString)>,
    limit: Duration,
) -> Result<(), ScriptError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.envs(env)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| ScriptError::Start {
        path: program.to_path_buf(),
        source,
    })?;
    tracing::info!("on_complete {}: started", program.display());
    let budget = Arc::new(AtomicUsize::new(MAX_LOG_LINES));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let r = log_output(out, "stdout", Arc::clone(&budget));
        readers.push(tokio::spawn(r.in_current_span()));
    }
    if let Some(err) = child.stderr.take() {
        let r = log_output(err, "stderr", Arc::clone(&budget));
        readers.push(tokio::spawn(r.in_current_span()));
    }
    let pid = child.id();
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.map_err(ScriptError::Wait),
        Err(_) => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            let _ = tokio::time::timeout(REAP_WAIT, child.wait()).await;
            Err(ScriptError::TimedOut(limit))
        }
    };
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(DRAIN_GRACE, r).await.is_err() {
            abort.abort();
        }
    }
    let status = status?;
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Err(ScriptError::Exit(code)),
        (None, Some(sig)) => Err(ScriptError::Signal(sig)),
        (None, None) => Err(ScriptError::Exit(-1)),
    }
}

/// SIGKILL to the command's process group (it leads one: `process_group(0)`), and to the
/// command itself in case it left the group.
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. `pid` is our child,
    // not yet reaped (its wait has not returned), so the id is not anyone else's.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Logs what the command writes on one stream, a line at a time, cut (`LineCutter`), while
/// the shared budget of lines lasts; then reads on without logging, so the command never
/// blocks on a full pipe, and says how much was left out.
async fn log_output(
    mut from: impl AsyncRead + Unpin,
    stream: &'static str,
    budget: Arc<AtomicUsize>,
) {
    let mut cut = LineCutter::default();
    let mut buf = vec![0u8; 8192];
    let mut left_out = 0usize;
    let mut emit = |line: &[u8], was_cut: bool| {
        let take = budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if take {
            let text = String::from_utf8_lossy(line);
            let text = crate::fmt::outside(&text, MAX_LINE_BYTES);
            let more = if was_cut { " [cut]" } else { "" };
            tracing::info!("on_complete {stream}: {text}{more}");
        } else {
            left_out += 1;
        }
    };
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => cut.push(&buf[..n], &mut emit),
        }
    }
    cut.finish(&mut emit);
    if left_out > 0 {
        tracing::info!("on_complete {stream}: {left_out} more lines not logged");
    }
}

/// Splits output into lines of at most `MAX_LINE_BYTES`: a longer line is cut there and the
/// rest of it skipped, so memory stays bounded whatever the command writes.
#[derive(Default)]
pub(crate) struct LineCutter {
    line: Vec<u8>,
    /// The current line was cut: skip to its end.
    skipping: bool,
}

impl LineCutter {
    /// Feeds bytes; `emit(line, was_cut)` gets each line ended (or cut) in them.
    pub(crate) fn push(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let (part, rest) = match end {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            if !self.skipping {
                let room = MAX_LINE_BYTES - self.line.len();
                self.line.extend_from_slice(&part[..part.len().min(room)]);
                if part.len() > room {
                    emit(&self.line, true);
                    self.line.clear();
                    self.skipping = true;
                }
            }
            if end.is_some() {
                if !self.skipping {
                    emit(&self.line, false);
                }
                self.line.clear();
                self.skipping = false;
            }
            bytes = rest;
        }
    }

    /// The last line, when the output did not end with a newline.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        if !self.line.is_empty() && !self.skipping {
            emit(&self.line, false);
        }
        self.line.clear();
        self.skipping = false;
    }
}

#[cfg(test)]
mod tests;
