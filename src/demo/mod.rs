//! `ttui demo`: a local swarm on 127.0.0.x that needs no internet.
//!
//! It writes a multi-file payload into a temporary directory, makes a torrent of it, and starts
//! a swarm chosen so every pane of the screen has something to show: opentracker (when
//! installed), real clients (python3-libtorrent, aria2c, transmission-daemon, when installed),
//! an in-process ttui seeder holding a few files, and small fake peers with one behaviour each
//! (fast, slow, choking, partial, leaving, lying, and three that fail the handshake), plus a
//! closed port. Then ttui downloads from it into a second directory, in the TUI or with progress
//! lines (`--headless`). Seeders are throttled so the download takes about `--seconds`.
//!
//! Whatever way the demo ends, every process it started is killed by pid and the temporary
//! directory is removed (see [`procs`] for the layers that make that hold).

mod dht;
mod fake;
mod payload;
mod procs;
mod seeders;
pub(crate) mod spec;
mod steps;
mod swarm;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::DemoArgs;
use procs::Procs;

pub use seeders::{write_transmission_settings, TransmissionSettings};

/// Prefix of the temporary directory; stale ones of dead demos are removed at start.
/// The directory is `ttui-demo-<pid>-<random>`: the owner's pid is in the name, so a stale one
/// is recognised whatever state its contents are in.
const DIR_PREFIX: &str = "ttui-demo-";

#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {0}: {1}")]
    Spawn(String, String),
    #[error("{0} did not come up: {1}")]
    NotReady(String, String),
    #[error("network: {0}")]
    Net(String),
    #[error("{0}")]
    Setup(String),
    #[error("interrupted")]
    Interrupted,
}

impl DemoError {
    fn io(path: &Path, e: std::io::Error) -> DemoError {
        DemoError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// `ttui demo`. Returns the exit code: 0 when the download verified (headless) or the user
/// quit (TUI), 130 when a signal stopped it.
pub(crate) fn run(args: DemoArgs) -> Result<i32, String> {
    crate::engine::host::ignore_sigxfsz();
    crate::alloc::tune();
    remove_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    eprintln!("demo dir: {}", dir.path().display());
    let mut procs = Procs::default();
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let result = rt.block_on(steps::demo_main(&args, dir.path(), &mut procs));
    // Order matters: in-process peers and engines first (they hold files open), then the child
    // processes, then the directory they all worked in.
    rt.shutdown_timeout(Duration::from_secs(10));
    drop(procs);
    remove_dir(dir);
    match result {
        Ok(code) => Ok(code),
        Err(DemoError::Interrupted) => Ok(130),
        Err(e) => Err(e.to_string()),
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught from the very start so that none of them can end the
/// process before the cleanup has run.
struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> Result<Signals, DemoError> {
        let make =
            |kind| signal(kind).map_err(|e| DemoError::Setup(format!("signal handler: {e}")));
        Ok(Signals {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
            hup: make(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// What every step of the demo needs to stop early: the signal listeners, and the flag that
/// blocking work checks.
struct Ctx {
    signals: Signals,
    cancel: Arc<AtomicBool>,
}

impl Ctx {
    fn new(procs: &Procs) -> Result<Ctx, DemoError> {
        let signals = Signals::new()?;
        let cancel = procs.cancel_flag();
        // A second set of listeners (every listener sees every signal) raises the flag that the
        // blocking waits for third-party programs check.
        let mut watcher = Signals::new()?;
        let flag = cancel.clone();
        tokio::spawn(async move {
            watcher.recv().await;
            flag.store(true, Ordering::SeqCst);
        });
        Ok(Ctx { signals, cancel })
    }

    fn check_cancel(&self) -> Result<(), DemoError> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(DemoError::Interrupted);
        }
        Ok(())
    }

    /// Runs blocking setup work off the reactor; a signal meanwhile sets the cancel flag (which
    /// the work is given, to check between files) and ends the demo.
    async fn blocking<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(Arc<AtomicBool>) -> Result<T, DemoError> + Send + 'static,
    ) -> Result<T, DemoError> {
        let cancel = self.cancel.clone();
        let task = tokio::task::spawn_blocking(move || work(cancel));
        tokio::select! {
            r = task => r.map_err(|e| DemoError::Setup(format!("setup task: {e}")))?,
            _ = self.signals.recv() => {
                self.cancel.store(true, Ordering::SeqCst);
                Err(DemoError::Interrupted)
            }
        }
    }
}

/// Removes the demo directory. A blocking task the runtime had to detach may still create a
/// file in it for a moment, which makes one pass fail with "directory not empty"; a few
/// bounded retries cover that.
fn remove_dir(dir: tempfile::TempDir) {
    let path = dir.keep();
    let mut last = None;
    for _ in 0..10 {
        match std::fs::remove_dir_all(&path) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if let Some(e) = last {
        eprintln!("demo: could not remove {}: {e}", path.display());
    }
}

/// Removes `ttui-demo-<pid>-*` directories left by demos that died without cleaning up
/// (SIGKILL, or the panic hook's `process::exit`): only those whose process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = stale_owner(&name.to_string_lossy()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The owner pid in a demo directory's name, if it is one.
fn stale_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(DIR_PREFIX)?;
    let (pid, random) = rest.split_once('-')?;
    (!random.is_empty()).then_some(())?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_dir_names() {
        assert_eq!(stale_owner("ttui-demo-1234-abcXYZ"), Some(1234));
        assert_eq!(stale_owner("ttui-demo-1234-"), None);
        assert_eq!(stale_owner("ttui-demo-x12-abc"), None);
        assert_eq!(stale_owner("ttui-fixture-1234-abc"), None);
    }
}
