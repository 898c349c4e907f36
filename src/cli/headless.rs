//! Progress lines for headless runs, and the download/seed entry shared by TUI and headless.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cli::{init_logging, load_torrent, DownloadArgs};
use crate::engine::api::{Command, Snapshot, TorrentState};
use crate::engine::torrent::human;
use crate::engine::{self, Options, Outcome};
use crate::protocol::metainfo::Metainfo;

/// One progress line: percent, bytes, rates, peers, state.
pub fn progress_line(s: &Snapshot) -> String {
    let state = match &s.state {
        TorrentState::Checking { checked, total } => format!("checking {checked}/{total}"),
        other => other.label().to_string(),
    };
    format!(
        "{:5.1}%  {} / {}  down {}/s  up {}/s  peers {}/{}  {}",
        s.progress() * 100.0,
        human(s.verified_bytes),
        human(s.total_length),
        human(s.down_rate as u64),
        human(s.up_rate as u64),
        s.connected_peers(),
        s.peers.len(),
        state
    )
}

pub fn final_line(s: &Snapshot, took: Duration) -> String {
    let secs = took.as_secs_f64().max(0.001);
    format!(
        "complete: {} — {} verified, downloaded {}, uploaded {} in {:.1}s ({}/s average)",
        s.name,
        human(s.total_length),
        human(s.downloaded),
        human(s.uploaded),
        secs,
        human((s.downloaded as f64 / secs) as u64)
    )
}

pub fn options(args: &DownloadArgs, seed: bool) -> Options {
    Options {
        output: args.output.clone(),
        port: args.port,
        bind: args.bind,
        peers: args.peers.clone(),
        seed,
        max_peers: args.max_peers.max(1),
        use_trackers: !args.no_trackers,
        encryption: args.encryption,
        ..Options::default()
    }
}

/// `ttui <TORRENT>` and `ttui seed <TORRENT>`: the TUI on a terminal, progress lines otherwise.
/// Returns the process exit code.
pub fn run_download(args: DownloadArgs, seed_cmd: bool) -> Result<i32, String> {
    let Some(path) = args.torrent.clone() else {
        return Err("no torrent given (try `ttui --help` or `ttui demo`)".into());
    };
    crate::engine::disk::ignore_sigxfsz();
    let log_path = args
        .log_file
        .clone()
        .unwrap_or_else(crate::cli::default_log_path);
    init_logging(&log_path)?;
    let headless = args.headless || !std::io::stdout().is_terminal();
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let (meta, magnet_peers) = load_torrent_or_magnet(&path, &args).await?;
        let mut args = args;
        args.peers.extend(magnet_peers);
        if headless {
            let seed = seed_cmd || args.seed;
            run_headless(meta, options(&args, seed)).await
        } else {
            run_tui(meta, options(&args, true), log_path).await
        }
    })
}

/// A .torrent file, or a magnet link whose metadata is fetched from peers first.
/// Also returns the magnet's `x.pe` peers, to dial for the download too.
pub async fn load_torrent_or_magnet(
    path: &std::path::Path,
    args: &DownloadArgs,
) -> Result<(Metainfo, Vec<std::net::SocketAddr>), String> {
    let text = path.to_string_lossy();
    if !text.to_ascii_lowercase().starts_with("magnet:") {
        return Ok((load_torrent(path)?, Vec::new()));
    }
    let magnet = crate::protocol::magnet::Magnet::parse(&text).map_err(|e| e.to_string())?;
    let trackers = if args.no_trackers {
        Vec::new()
    } else {
        magnet.trackers.clone()
    };
    let magnet = crate::protocol::magnet::Magnet { trackers, ..magnet };
    let report = |line: String| {
        tracing::info!("{line}");
        eprintln!("magnet: {line}");
    };
    let fetch = crate::engine::metadata::fetch(
        &magnet,
        &args.peers,
        crate::protocol::peer_id::our_peer_id(),
        args.port,
        &report,
    );
    let meta = tokio::time::timeout(Duration::from_secs(120), fetch)
        .await
        .map_err(|_| "timed out fetching the torrent's metadata from peers".to_string())??;
    Ok((meta, magnet.peers))
}

pub async fn run_tui(
    meta: Metainfo,
    opts: Options,
    log_path: std::path::PathBuf,
) -> Result<i32, String> {
    let eng = engine::start(meta, opts);
    let ui = crate::ui::run(eng.snapshots.clone(), eng.commands.clone(), log_path).await;
    let _ = eng.commands.send(Command::Quit);
    let outcome = tokio::time::timeout(Duration::from_secs(8), eng.done).await;
    ui.map_err(|e| format!("terminal: {e}"))?;
    match outcome {
        Ok(Ok(Outcome::Failed(msg))) => Err(msg),
        _ => Ok(0),
    }
}

pub async fn run_headless(meta: Metainfo, opts: Options) -> Result<i32, String> {
    let eng = engine::start(meta, opts);
    watch_headless(eng).await
}

/// Prints progress at most once a second until the engine ends; Ctrl-C / SIGTERM quit
/// gracefully (tracker `stopped`, files flushed).
pub async fn watch_headless(eng: engine::Engine) -> Result<i32, String> {
    let started = Instant::now();
    let mut rx: watch::Receiver<Arc<Snapshot>> = eng.snapshots.clone();
    let commands = eng.commands.clone();
    let mut done = eng.done;
    let mut last_print: Option<Instant> = None;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal handler: {e}"))?;
    let mut interrupted = false;
    let outcome = loop {
        tokio::select! {
            r = &mut done => break r.unwrap_or_else(|e| Outcome::Failed(format!("engine task: {e}"))),
            changed = rx.changed() => {
                if changed.is_err() {
                    continue;
                }
                if last_print.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    let line = progress_line(&rx.borrow_and_update());
                    println!("{line}");
                    let _ = std::io::stdout().flush();
                    last_print = Some(Instant::now());
                }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                let _ = commands.send(Command::Quit);
            }
            _ = term.recv(), if !interrupted => {
                interrupted = true;
                let _ = commands.send(Command::Quit);
            }
        }
    };
    let snap = rx.borrow().clone();
    match outcome {
        Outcome::Complete => {
            println!("{}", progress_line(&snap));
            println!("{}", final_line(&snap, started.elapsed()));
            Ok(0)
        }
        Outcome::Quit => {
            println!("{}", progress_line(&snap));
            println!(
                "stopped: {} of {} verified",
                human(snap.verified_bytes),
                human(snap.total_length)
            );
            Ok(if interrupted { 130 } else { 0 })
        }
        Outcome::Failed(msg) => Err(msg),
    }
}
