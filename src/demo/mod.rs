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

mod fake;
mod procs;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::engine::create::{create_torrent, make_payload, PayloadFile, PayloadSpec};
use crate::engine::disk::Storage;
use crate::engine::torrent::human;
use crate::engine::{self, Options};
use crate::protocol::metainfo::{encode_torrent, Metainfo};
use fake::{Behaviour, Have, ServeSpec};
use procs::{Procs, RealSeeder};

const MIB: u64 = 1024 * 1024;
/// The payload's top directory (and the torrent's name).
const NAME: &str = "ttui-demo";
/// Makes the payload the same bytes on every run.
const PAYLOAD_SEED: u64 = 0xDE30_2026;
/// Prefix of the temporary directory; stale ones of dead demos are removed at start.
/// The directory is `ttui-demo-<pid>-<random>`: the owner's pid is in the name, so a stale one
/// is recognised whatever state its contents are in.
const DIR_PREFIX: &str = "ttui-demo-";

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Payload size in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub size_mib: u64,
    /// About how long the download should take, in seconds (the seeders are throttled to it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub seconds: u64,
    /// Progress lines instead of the TUI; exits 0 when the download verifies.
    #[arg(long)]
    pub headless: bool,
    /// Do not start third-party clients or a tracker even when they are installed.
    #[arg(long)]
    pub no_external: bool,
}

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

/// Runs blocking setup work off the reactor; a signal meanwhile sets `cancel` (which the work
/// checks between files) and ends the demo.
async fn blocking<T: Send + 'static>(
    signals: &mut Signals,
    cancel: &Arc<AtomicBool>,
    work: impl FnOnce() -> Result<T, DemoError> + Send + 'static,
) -> Result<T, DemoError> {
    let task = tokio::task::spawn_blocking(work);
    tokio::select! {
        r = task => r.map_err(|e| DemoError::Setup(format!("setup task: {e}")))?,
        _ = signals.recv() => {
            cancel.store(true, Ordering::SeqCst);
            Err(DemoError::Interrupted)
        }
    }
}

/// `PayloadSpec::demo()` (64 MiB) scaled to `size_mib`: the big files grow or shrink, the small
/// ones stay, so the tree keeps its nested folders, odd sizes and a 7-byte file.
pub fn payload_spec(size_mib: u64) -> PayloadSpec {
    let base = PayloadSpec::demo();
    let small: u64 = base
        .files
        .iter()
        .filter(|f| f.size < MIB)
        .map(|f| f.size)
        .sum();
    let big: u64 = base.total_size() - small;
    let want = (size_mib * MIB).saturating_sub(small).max(1);
    PayloadSpec {
        files: base
            .files
            .into_iter()
            .map(|f| {
                let size = if f.size < MIB {
                    f.size
                } else {
                    ((u128::from(f.size) * u128::from(want)) / u128::from(big.max(1))) as u64
                };
                PayloadFile {
                    path: f.path,
                    size: size.max(1),
                }
            })
            .collect(),
    }
}

/// A power of two of at least 32 KiB giving at most ~1200 pieces: enough cells for a lively
/// piece map, few enough that each piece is visible.
pub fn piece_length_for(total: u64) -> u32 {
    let mut pl: u64 = 32 * 1024;
    while total.div_ceil(pl) > 1200 && pl < 16 * MIB {
        pl *= 2;
    }
    pl as u32
}

/// The part of the payload the in-process ttui seeder holds: the files under `audio/`.
fn is_partial_file(path: &Path) -> bool {
    path.starts_with("audio")
}

async fn demo_main(args: &DemoArgs, dir: &Path, procs: &mut Procs) -> Result<i32, DemoError> {
    let mut signals = Signals::new()?;
    // A second set of listeners (every listener sees every signal) raises the flag that the
    // blocking waits for third-party programs check.
    let cancel = procs.cancel_flag();
    {
        let mut watcher = Signals::new()?;
        let cancel = cancel.clone();
        tokio::spawn(async move {
            watcher.recv().await;
            cancel.store(true, Ordering::SeqCst);
        });
    }
    let spec = payload_spec(args.size_mib);
    let total = spec.total_size();
    let seed_root = dir.join("seed");
    let payload_dir = seed_root.join(NAME);

    // 1. The payload, one file at a time so a signal stops it between files.
    eprintln!(
        "demo: writing {} of payload in {} files",
        human(total),
        spec.files.len()
    );
    {
        let (spec, payload_dir, cancel2) = (spec.clone(), payload_dir.clone(), cancel.clone());
        blocking(&mut signals, &cancel, move || {
            for file in &spec.files {
                if cancel2.load(Ordering::SeqCst) {
                    return Err(DemoError::Interrupted);
                }
                let one = PayloadSpec {
                    files: vec![file.clone()],
                };
                make_payload(&payload_dir, &one, PAYLOAD_SEED)
                    .map_err(|e| DemoError::io(&payload_dir, e))?;
            }
            Ok(())
        })
        .await?;
    }

    // 2. The torrent: with the tracker for ttui, without for the third-party seeders (they are
    //    dialed directly; announcing from 127.0.0.x they would register the wrong address).
    let tracker_port = if !args.no_external && procs::have_program("opentracker") {
        Some(procs::free_port(Ipv4Addr::LOCALHOST)?)
    } else {
        None
    };
    let tiers: Vec<Vec<String>> = tracker_port
        .map(|p| {
            vec![
                vec![format!("http://127.0.0.1:{p}/announce")],
                vec![format!("udp://127.0.0.1:{p}")],
            ]
        })
        .unwrap_or_default();
    let piece_length = piece_length_for(total);
    eprintln!("demo: hashing ({} KiB pieces)", piece_length / 1024);
    let torrent_bytes = {
        let (payload_dir, tiers) = (payload_dir.clone(), tiers.clone());
        blocking(&mut signals, &cancel, move || {
            create_torrent(&payload_dir, piece_length, &tiers, false)
                .map_err(|e| DemoError::io(&payload_dir, e))
        })
        .await?
    };
    let mut meta = Metainfo::from_bytes(&torrent_bytes)
        .map_err(|e| DemoError::Setup(format!("demo torrent: {e}")))?;
    let torrent_path = dir.join(format!("{NAME}.torrent"));
    std::fs::write(&torrent_path, &torrent_bytes).map_err(|e| DemoError::io(&torrent_path, e))?;
    let seeders_torrent = dir.join("seeders.torrent");
    let files: Vec<(Vec<String>, u64)> = meta
        .info
        .files
        .iter()
        .map(|f| (f.path.iter().skip(1).cloned().collect(), f.length))
        .collect();
    let bare = encode_torrent(
        NAME,
        &files,
        piece_length,
        &meta.info.pieces,
        &[],
        false,
        None,
    );
    let same_hash = Metainfo::from_bytes(&bare).is_ok_and(|m| m.info_hash == meta.info_hash);
    std::fs::write(
        &seeders_torrent,
        if same_hash { &bare } else { &torrent_bytes },
    )
    .map_err(|e| DemoError::io(&seeders_torrent, e))?;

    // 3. The tracker.
    let mut tracker_url = None;
    if let Some(port) = tracker_port {
        match procs.start_opentracker(dir, port, &meta.info_hash_hex()) {
            Ok(()) => {
                tracker_url = tiers.first().and_then(|t| t.first()).cloned();
                eprintln!("demo: opentracker on 127.0.0.1:{port} (http and udp)");
            }
            Err(e) => {
                eprintln!("demo: no tracker ({e}); peers are given directly");
                meta.trackers.clear();
            }
        }
    }

    // 4. Third-party seeders, each throttled; started from this (the main) thread.
    let per_second = (total as f64 / args.seconds as f64).max(16.0 * 1024.0);
    let mut real: Vec<RealSeeder> = Vec::new();
    if !args.no_external {
        let shares = Shares::new(args.seconds, true);
        if procs::have_libtorrent() {
            let rate = shares.rate(per_second, shares.libtorrent);
            match procs::start_libtorrent(
                procs,
                dir,
                &seeders_torrent,
                &seed_root,
                Ipv4Addr::new(127, 0, 0, 2),
                rate,
            ) {
                Ok(s) => real.push(s),
                Err(e) => eprintln!("demo: skipping libtorrent: {e}"),
            }
        }
        if procs::have_program("aria2c") {
            let rate = shares.rate(per_second, shares.aria2);
            match procs::start_aria2(
                procs,
                dir,
                &seeders_torrent,
                &seed_root,
                Ipv4Addr::new(127, 0, 0, 3),
                rate,
            ) {
                Ok(s) => real.push(s),
                Err(e) => eprintln!("demo: skipping aria2c: {e}"),
            }
        }
        if procs::have_program("transmission-daemon") && procs::have_program("transmission-remote")
        {
            let rate = shares.rate(per_second, shares.transmission);
            match procs::start_transmission(
                procs,
                dir,
                &seeders_torrent,
                &seed_root,
                Ipv4Addr::new(127, 0, 0, 4),
                rate,
            ) {
                Ok(s) => real.push(s),
                Err(e) => eprintln!("demo: skipping transmission: {e}"),
            }
        }
    }
    let mut ready = Vec::new();
    for s in real {
        let up = match s.rpc {
            // No TCP probe for Transmission: it takes one pending handshake per IP, and a
            // probe's connection from 127.0.0.1 would make it refuse the real download.
            Some(rpc) => procs::wait_transmission_seeding(
                procs,
                dir,
                rpc,
                s.addr,
                &meta.info_hash_hex(),
                Duration::from_secs(30),
            ),
            None => procs.wait_listening(s.name, s.addr, Duration::from_secs(15)),
        };
        match up {
            Ok(()) => ready.push(s),
            Err(e) => eprintln!("demo: skipping {}: {e}", s.name),
        }
    }
    if cancel.load(Ordering::SeqCst) {
        return Err(DemoError::Interrupted);
    }
    let real = ready;
    let shares = Shares::new(args.seconds, !real.is_empty());

    // 5. In-process peers.
    let storage = {
        let (seed_root, info) = (seed_root.clone(), meta.info.clone());
        blocking(&mut signals, &cancel, move || {
            Storage::open(&seed_root, &info).map_err(|e| DemoError::Setup(format!("payload: {e}")))
        })
        .await?
    };
    let payload = Arc::new(fake::Payload {
        info_hash: meta.info_hash,
        info: meta.info.clone(),
        storage,
    });
    let start = tokio::time::Instant::now();
    let secs = args.seconds as f64;
    let at = |fraction: f64| start + Duration::from_secs_f64(secs * fraction);
    let rate = |share: f64| shares.rate(per_second, share);
    let stripe = (meta.info.num_pieces() / 20).max(1);
    let plain = |client: String, share: f64| ServeSpec {
        client,
        rate: rate(share),
        have: Have::All,
        choke_until: None,
        leave_at: None,
        corrupt: false,
    };
    // Client names (BEP 10 `v`) say what each one does; they fit the client column.
    let fakes: Vec<(&str, Behaviour, bool)> = vec![
        (
            "fast",
            Behaviour::Serve(plain(
                format!("demo: fast {}/s", human(rate(shares.fast))),
                shares.fast,
            )),
            true,
        ),
        (
            "slow",
            Behaviour::Serve(plain(
                format!("demo: slow {}/s", human(rate(shares.slow))),
                shares.slow,
            )),
            true,
        ),
        (
            "choker",
            Behaviour::Serve(ServeSpec {
                choke_until: Some(at(CHOKE_UNTIL)),
                ..plain(
                    format!("demo: chokes till {:.0}s", secs * CHOKE_UNTIL),
                    shares.choker,
                )
            }),
            true,
        ),
        (
            "partial",
            Behaviour::Serve(ServeSpec {
                have: Have::Stripes { run: stripe },
                ..plain("demo: has half".into(), shares.partial)
            }),
            true,
        ),
        (
            "leaver",
            Behaviour::Serve(ServeSpec {
                leave_at: Some(at(LEAVE_AT)),
                ..plain(
                    format!("demo: leaves at {:.0}s", secs * LEAVE_AT),
                    shares.leaver,
                )
            }),
            true,
        ),
        (
            "liar",
            Behaviour::Serve(ServeSpec {
                corrupt: true,
                ..plain("demo: corrupt data".into(), shares.liar)
            }),
            true,
        ),
        ("wrong info hash", Behaviour::WrongInfoHash, false),
        ("garbage", Behaviour::Garbage, false),
        ("silent", Behaviour::Silent, false),
    ];
    let mut manual: Vec<SocketAddr> = real.iter().map(|s| s.addr).collect();
    let mut announce: Vec<u16> = Vec::new();
    for (label, behaviour, announced) in fakes {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| DemoError::Net(format!("bind: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DemoError::Net(e.to_string()))?;
        eprintln!("demo: {label:>16} peer on {addr}");
        fake::spawn(listener, behaviour, payload.clone());
        if announced && tracker_url.is_some() {
            announce.push(addr.port());
        } else {
            manual.push(addr);
        }
    }
    for s in &real {
        eprintln!("demo: {:>16} on {} at {}/s", s.name, s.addr, human(s.rate));
    }
    // A port nobody listens on: "connection refused".
    let closed = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port(Ipv4Addr::LOCALHOST)?));
    eprintln!("demo: {:>16} on {closed}", "closed port");
    manual.push(closed);

    // The in-process ttui seeder: a copy of the audio files, unthrottled (it holds little).
    let partial_root = dir.join("partial");
    {
        let (spec, from, to) = (spec.clone(), payload_dir.clone(), partial_root.join(NAME));
        blocking(&mut signals, &cancel, move || {
            for f in spec.files.iter().filter(|f| is_partial_file(&f.path)) {
                let (src, dst) = (from.join(&f.path), to.join(&f.path));
                if let Some(parent) = dst.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| DemoError::io(parent, e))?;
                }
                std::fs::copy(&src, &dst).map_err(|e| DemoError::io(&src, e))?;
            }
            Ok(())
        })
        .await?;
    }
    let mut seeder_meta = meta.clone();
    seeder_meta.trackers.clear();
    let ttui_seeder = engine::start(
        seeder_meta,
        Options {
            output: partial_root,
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            peers: Vec::new(),
            seed: true,
            max_peers: 8,
            use_trackers: false,
            check_threads: 1,
            encryption: Default::default(),
        },
    );
    let seeder_port = wait_port(&ttui_seeder, &mut signals).await?;
    eprintln!(
        "demo: {:>16} on 127.0.0.1:{seeder_port} (holds audio/)",
        "ttui seeder"
    );
    manual.push(SocketAddr::from((Ipv4Addr::LOCALHOST, seeder_port)));

    // Fakes that serve register with the tracker, so that column shows both sources.
    if let Some(url) = &tracker_url {
        let http = crate::tracker::http_client_builder()
            .no_proxy()
            .build()
            .map_err(|e| DemoError::Net(e.to_string()))?;
        for port in announce {
            let req = crate::tracker::AnnounceRequest {
                info_hash: meta.info_hash,
                peer_id: *b"-DM0001-announcedemo",
                port,
                progress: crate::tracker::Progress {
                    uploaded: 0,
                    downloaded: 0,
                    left: 0,
                },
                event: crate::tracker::Event::Started,
                numwant: 0,
            };
            let ok = tokio::time::timeout(
                Duration::from_secs(5),
                crate::tracker::announce(url, &req, &http),
            )
            .await
            .is_ok_and(|r| r.is_ok());
            if !ok {
                manual.push(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
            }
        }
    }

    // 6. The download.
    let download = dir.join("download");
    // The usual log file, not the temp dir: the log should outlive the demo it explains.
    let log_path = crate::cli::default_log_path();
    crate::cli::init_logging(&log_path).map_err(DemoError::Setup)?;
    let opts = Options {
        output: download,
        port: 0,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        peers: manual,
        // The TUI keeps the finished swarm on screen until the user quits.
        seed: !args.headless,
        max_peers: 50,
        use_trackers: tracker_url.is_some(),
        ..Options::default()
    };
    eprintln!(
        "demo: downloading {NAME} ({}) into {}",
        human(total),
        opts.output.display()
    );
    let result = if args.headless {
        // watch_headless handles SIGINT/SIGTERM itself (graceful quit, exit code 130).
        tokio::select! {
            r = crate::cli::headless::run_headless(meta, opts) => r.map_err(DemoError::Setup),
            _ = signals.hup.recv() => Ok(130),
        }
    } else {
        let r = tokio::select! {
            r = crate::cli::headless::run_tui(meta, opts, log_path) => r.map_err(DemoError::Setup),
            _ = signals.recv() => Ok(130),
        };
        // Dropping the UI future mid-frame leaves the terminal raw; restore is idempotent.
        let _ = crate::ui::tui::restore();
        r
    };
    let _ = ttui_seeder.commands.send(crate::engine::api::Command::Quit);
    let _ = tokio::time::timeout(Duration::from_secs(3), ttui_seeder.done).await;
    result
}

/// Fraction of the demo's time the choker stays choked, and when the leaver leaves.
const CHOKE_UNTIL: f64 = 0.3;
const LEAVE_AT: f64 = 0.45;

/// How the download rate is split between seeders, as shares of `size / seconds`, scaled so the
/// seeders that actually help, weighted by the part of the time they help, add up to it.
struct Shares {
    fast: f64,
    slow: f64,
    choker: f64,
    partial: f64,
    leaver: f64,
    liar: f64,
    libtorrent: f64,
    aria2: f64,
    transmission: f64,
    scale: f64,
}

impl Shares {
    fn new(seconds: u64, with_real: bool) -> Shares {
        let mut s = Shares {
            fast: 0.30,
            slow: 0.02,
            choker: 0.20,
            partial: 0.15,
            leaver: 0.15,
            liar: 0.03,
            libtorrent: 0.25,
            aria2: 0.20,
            transmission: 0.20,
            scale: 1.0,
        };
        // Transmission sends nothing for its first ~10 s; the partial seeder runs out of useful
        // pieces before the end; the liar's data is all thrown away.
        let secs = seconds as f64;
        let mut effective = s.fast
            + s.slow
            + s.choker * (1.0 - CHOKE_UNTIL)
            + s.partial * 0.7
            + s.leaver * LEAVE_AT;
        if with_real {
            effective += s.libtorrent + s.aria2 + s.transmission * (1.0 - 12.0 / secs).max(0.1);
        }
        // 12% of the payload comes from the unthrottled ttui seeder; 10% headroom for ramp-up.
        s.scale = 0.88 * 1.1 / effective;
        s
    }

    fn rate(&self, per_second: f64, share: f64) -> u64 {
        (per_second * share * self.scale).max(8.0 * 1024.0) as u64
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
    fn scaled_payload_has_the_requested_size_and_every_file() {
        for mib in [1, 32, 256, 1024] {
            let spec = payload_spec(mib);
            let total = spec.total_size();
            assert!(total.abs_diff(mib * MIB) < 64, "{mib} MiB gave {total}");
            assert_eq!(spec.files.len(), PayloadSpec::demo().files.len());
            assert!(spec.files.iter().all(|f| f.size > 0));
            assert!(spec.files.iter().any(|f| is_partial_file(&f.path)));
        }
    }

    #[test]
    fn piece_length_keeps_the_map_readable() {
        for mib in [1, 32, 256, 4096] {
            let total = mib * MIB;
            let pl = piece_length_for(total);
            assert!(pl.is_power_of_two() && pl >= 32 * 1024);
            assert!(total.div_ceil(u64::from(pl)) <= 1200, "{mib} MiB: {pl}");
        }
        assert_eq!(piece_length_for(256 * MIB), 256 * 1024);
    }

    #[test]
    fn stale_dir_names() {
        assert_eq!(stale_owner("ttui-demo-1234-abcXYZ"), Some(1234));
        assert_eq!(stale_owner("ttui-demo-1234-"), None);
        assert_eq!(stale_owner("ttui-demo-x12-abc"), None);
        assert_eq!(stale_owner("ttui-fixture-1234-abc"), None);
    }
}
