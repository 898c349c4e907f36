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
mod swarm;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::logging::{default_log_path, init_logging};
use crate::cli::DemoArgs;
use crate::engine::disk::Storage;
use crate::engine::{self, Options};
use crate::fmt;
use crate::protocol::metainfo::Metainfo;
use payload::{payload_spec, piece_length_for, NAME};
use procs::Procs;
use seeders::SeedJob;
use swarm::Shares;

pub use seeders::{write_transmission_settings, TransmissionSettings};

/// Prefix of the temporary directory; stale ones of dead demos are removed at start.
/// The directory is `ttui-demo-<pid>-<random>`: the owner's pid is in the name, so a stale one
/// is recognised whatever state its contents are in.
const DIR_PREFIX: &str = "ttui-demo-";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
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
pub fn run(args: DemoArgs) -> Result<i32, String> {
    crate::engine::disk::ignore_sigxfsz();
    remove_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    eprintln!("demo dir: {}", dir.path().display());
    let mut procs = Procs::default();
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let result = rt.block_on(demo_main(&args, dir.path(), &mut procs));
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

/// The tracker's tiers when opentracker will run on `port`: HTTP first, then UDP.
fn tracker_tiers(port: Option<u16>) -> Vec<Vec<String>> {
    port.map(|p| {
        vec![
            vec![format!("http://127.0.0.1:{p}/announce")],
            vec![format!("udp://127.0.0.1:{p}")],
        ]
    })
    .unwrap_or_default()
}

async fn demo_main(args: &DemoArgs, dir: &Path, procs: &mut Procs) -> Result<i32, DemoError> {
    let mut ctx = Ctx::new(procs)?;
    let spec = payload_spec(args.size_mib);
    let total = spec.total_size();
    let seed_root = dir.join("seed");
    let payload_dir = seed_root.join(NAME);

    // 1. The payload, one file at a time so a signal stops it between files.
    eprintln!(
        "demo: writing {} of payload in {} files",
        fmt::bytes_precise(total),
        spec.files.len()
    );
    let (spec2, payload2) = (spec.clone(), payload_dir.clone());
    ctx.blocking(move |cancel| payload::write_payload(&spec2, &payload2, &cancel))
        .await?;

    // 2. The torrents.
    let tracker_port = if !args.no_external && procs::have_program("opentracker") {
        Some(procs::free_port(Ipv4Addr::LOCALHOST)?)
    } else {
        None
    };
    let tiers = tracker_tiers(tracker_port);
    let piece_length = piece_length_for(total);
    eprintln!("demo: hashing ({} KiB pieces)", piece_length / 1024);
    let (dir2, payload2, tiers2) = (dir.to_path_buf(), payload_dir.clone(), tiers.clone());
    let torrents = ctx
        .blocking(move |_| payload::make_torrents(&dir2, &payload2, piece_length, &tiers2))
        .await?;
    let mut meta = torrents.meta;

    // 3. The tracker.
    let tracker_url =
        tracker_port.and_then(|port| swarm::start_tracker(procs, dir, port, &mut meta, &tiers));

    // 4. Third-party seeders, each throttled; started from this (the main) thread.
    let job = SeedJob {
        dir,
        torrent: &torrents.seeders_torrent,
        data_dir: &seed_root,
    };
    let real = swarm::start_real_seeders(procs, args, &job, total, &meta.info_hash_hex())?;
    let dht_nodes = if args.no_external || !procs::have_libtorrent() {
        None
    } else {
        match dht::start(procs, &job, total / args.seconds.max(1) / 8) {
            Ok(nodes) => Some(nodes),
            Err(DemoError::Interrupted) => return Err(DemoError::Interrupted),
            Err(e) => {
                eprintln!("demo: no DHT swarm: {e}");
                None
            }
        }
    };
    ctx.check_cancel()?;
    let shares = Shares::new(total, args.seconds, !real.is_empty());

    // 5. In-process peers.
    let (root2, info2) = (seed_root.clone(), meta.info.clone());
    let storage = ctx
        .blocking(move |_| {
            Storage::open(&root2, &info2).map_err(|e| DemoError::Setup(format!("payload: {e}")))
        })
        .await?;
    let with_tracker = tracker_url.is_some();
    let fakes = swarm::start_fakes(&meta, storage, &shares, args.seconds, with_tracker).await?;
    let mut manual: Vec<SocketAddr> = real.iter().map(|s| s.addr).collect();
    manual.extend(fakes.manual);
    for s in &real {
        let rate = fmt::bytes_precise(s.rate);
        eprintln!("demo: {:>16} on {} at {rate}/s", s.name, s.addr);
    }
    // A port nobody listens on: "connection refused".
    let closed = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port(Ipv4Addr::LOCALHOST)?));
    eprintln!("demo: {:>16} on {closed}", "closed port");
    manual.push(closed);

    let partial_root = dir.join("partial");
    let (spec2, from, to) = (spec.clone(), payload_dir.clone(), partial_root.join(NAME));
    ctx.blocking(move |_| payload::copy_partial(&spec2, &from, &to))
        .await?;
    let ttui_seeder = swarm::start_ttui_seeder(&meta, &partial_root);
    let seeder_port = wait_port(&ttui_seeder, &mut ctx.signals).await?;
    eprintln!(
        "demo: {:>16} on 127.0.0.1:{seeder_port} (holds audio/)",
        "ttui seeder"
    );
    manual.push(SocketAddr::from((Ipv4Addr::LOCALHOST, seeder_port)));
    if let Some(url) = &tracker_url {
        manual.extend(swarm::announce_fakes(url, meta.info_hash, &fakes.announce).await?);
    }

    // 6. The download.
    let result = download(
        args,
        dir,
        meta,
        (manual, dht_nodes),
        with_tracker,
        &mut ctx.signals,
    )
    .await;
    let _ = ttui_seeder.commands.send(crate::engine::api::Command::Quit);
    let _ = tokio::time::timeout(Duration::from_secs(3), ttui_seeder.done).await;
    result
}

/// ttui downloading from the swarm into `dir/download`, in the TUI or with progress lines.
async fn download(
    args: &DemoArgs,
    dir: &Path,
    meta: Metainfo,
    (peers, dht): (Vec<SocketAddr>, Option<Vec<String>>),
    use_trackers: bool,
    signals: &mut Signals,
) -> Result<i32, DemoError> {
    // The usual log file, not the temp dir: the log should outlive the demo it explains.
    let log_path = default_log_path();
    init_logging(&log_path).map_err(DemoError::Setup)?;
    let total = meta.info.total_length;
    let opts = Options {
        output: dir.join("download"),
        port: 0,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        peers,
        // The TUI keeps the finished swarm on screen until the user quits.
        seed: !args.headless,
        max_peers: 50,
        use_trackers,
        // Only the demo's own loopback nodes, never a public router.
        dht,
        ..Options::default()
    };
    eprintln!(
        "demo: downloading {NAME} ({}) into {}",
        fmt::bytes_precise(total),
        opts.output.display()
    );
    if args.headless {
        // watch_headless handles SIGINT/SIGTERM itself (graceful quit, exit code 130).
        tokio::select! {
            r = crate::cli::run::run_headless(meta, opts) => r.map_err(DemoError::Setup),
            _ = signals.hup.recv() => Ok(130),
        }
    } else {
        let r = tokio::select! {
            r = crate::cli::run::run_tui(meta, opts, log_path) => r.map_err(DemoError::Setup),
            _ = signals.recv() => Ok(130),
        };
        // Dropping the UI future mid-frame leaves the terminal raw; restore is idempotent.
        let _ = crate::ui::tui::restore();
        r
    }
}

/// Waits (bounded) until an in-process engine has bound its listening port.
async fn wait_port(eng: &engine::Engine, signals: &mut Signals) -> Result<u16, DemoError> {
    let mut rx = eng.snapshots.clone();
    let wait = async {
        loop {
            let port = rx.borrow_and_update().listen_port;
            if port != 0 {
                return Ok(port);
            }
            if rx.changed().await.is_err() {
                return Err(DemoError::NotReady(
                    "ttui seeder".into(),
                    "engine ended".into(),
                ));
            }
        }
    };
    tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(20), wait) => {
            r.map_err(|_| DemoError::NotReady("ttui seeder".into(), "no listening port after 20 s".into()))?
        }
        _ = signals.recv() => Err(DemoError::Interrupted),
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
