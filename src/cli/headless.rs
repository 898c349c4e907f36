//! Headless runs: a progress line at most once a second, and the closing lines.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::api::{Command, Snapshot, TorrentState};
use crate::engine::{self, Outcome};
use crate::fmt;

/// One progress line: percent, bytes, rates, peers, state.
pub fn progress_line(s: &Snapshot) -> String {
    if s.num_pieces == 0 && s.total_length == 0 && matches!(s.state, TorrentState::Downloading) {
        // A magnet link whose metadata is still being fetched.
        return format!("fetching metadata  peers {}", s.peers.len());
    }
    let state = match &s.state {
        TorrentState::Checking { checked, total } => format!("checking {checked}/{total}"),
        other => other.label().to_string(),
    };
    format!(
        "{:5.1}%  {} / {}  down {}/s  up {}/s  peers {}/{}  {}",
        s.progress() * 100.0,
        fmt::bytes_precise(s.verified_bytes),
        fmt::bytes_precise(s.total_length),
        fmt::bytes_precise(s.down_rate as u64),
        fmt::bytes_precise(s.up_rate as u64),
        s.connected_peers(),
        s.peers.len(),
        state
    )
}

pub fn final_line(s: &Snapshot, took: Duration) -> String {
    let secs = took.as_secs_f64().max(0.001);
    format!(
        "complete: {} — {} verified, downloaded {}, uploaded {} in {:.1}s ({}/s average)",
        fmt::outside(&s.name, 200),
        fmt::bytes_precise(s.total_length),
        fmt::bytes_precise(s.downloaded),
        fmt::bytes_precise(s.uploaded),
        secs,
        fmt::bytes_precise((s.downloaded as f64 / secs) as u64)
    )
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
                fmt::bytes_precise(snap.verified_bytes),
                fmt::bytes_precise(snap.total_length)
            );
            Ok(if interrupted { 130 } else { 0 })
        }
        Outcome::Failed(msg) => Err(msg),
    }
}
