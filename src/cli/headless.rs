//! Headless runs: a progress line at most once a second, and the closing lines.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::api::explain::{self, ExplainContext};
use crate::engine::api::{
    Command, PeerSource, SessionSnapshot, Snapshot, TorrentState, TrackerStatus,
};
use crate::engine::{self, TorrentEnd};
use crate::fmt;

/// One progress line: percent, bytes, rates, peers, state.
pub(crate) fn progress_line(s: &Snapshot) -> String {
    let status = s.status();
    if status.phase == crate::engine::api::Phase::Metadata {
        // A magnet link whose metadata is still being fetched: no sizes to show yet.
        return format!("{}  peers {}", status.label(), s.peers.len());
    }
    let state = status.text();
    let (done, of, pct) = match wanted_of(s) {
        Some((done, of, _)) => (done, of, done as f64 / of.max(1) as f64),
        None => (s.verified_bytes, s.total_length, s.progress()),
    };
    format!(
        "{:5.1}%  {} / {}  down {}/s  up {}/s  peers {}/{}  {}",
        pct * 100.0,
        fmt::bytes_precise(done),
        fmt::bytes_precise(of),
        fmt::bytes_precise(s.down_rate as u64),
        fmt::bytes_precise(s.up_rate as u64),
        s.connected_peers(),
        s.peers.len(),
        state
    )
}

/// With files skipped (`--only-files`): the verified bytes of the wanted files, their size,
/// and `2 of 5 files`. None when every file is wanted.
pub(crate) fn wanted_of(s: &Snapshot) -> Option<(u64, u64, String)> {
    let wanted: Vec<_> = s.files.iter().filter(|f| f.priority.wanted()).collect();
    if wanted.len() == s.files.len() {
        return None;
    }
    let done = wanted.iter().map(|f| f.done).sum();
    let size = wanted.iter().map(|f| f.size).sum();
    Some((
        done,
        size,
        format!("{} of {} files", wanted.len(), s.files.len()),
    ))
}

/// The closing line. "wasted" is the payload received more than once (endgame duplicates,
/// blocks of pieces already had), blocks never asked for, and the bytes of pieces that failed
/// their hash check, in exact bytes and as a share of the payload, so a benchmark can read it
/// back.
pub(crate) fn final_line(s: &Snapshot, took: Duration) -> String {
    let secs = took.as_secs_f64().max(0.001);
    let (verified, payload) = match wanted_of(s) {
        Some((_, size, files)) => (format!("{} ({files})", fmt::bytes_precise(size)), size),
        None => (fmt::bytes_precise(s.total_length), s.total_length),
    };
    format!(
        "complete: {} — {} verified, downloaded {}, uploaded {} in {:.1}s ({}/s average), \
         wasted {} bytes ({:.3} % of the payload)",
        fmt::outside(&s.name, 200),
        verified,
        fmt::bytes_precise(s.downloaded),
        fmt::bytes_precise(s.uploaded),
        secs,
        fmt::bytes_precise((s.downloaded as f64 / secs) as u64),
        s.wasted,
        s.wasted as f64 * 100.0 / payload.max(1) as f64
    )
}

/// How long a download with nothing left to try waits for a peer to turn up (an incoming
/// one, or a tracker's next answer) before it gives up; with a DHT node, which keeps
/// looking, much longer.
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(10);
pub(crate) const GIVE_UP_AFTER_WITH_DHT: Duration = Duration::from_secs(180);

/// How long without a payload byte before the progress line says why.
pub(crate) const EXPLAIN_AFTER: Duration = Duration::from_secs(10);

/// The progress line, and when no payload byte arrived for `stalled_for` ≥ `EXPLAIN_AFTER`
/// while downloading, the explainer's top finding after it; while seeding, its finding when
/// there is one (the seed's check waits out its own idle time).
/// `ctx` is what the run's session says of itself (proxy, interface, limits, port mapping),
/// so the words are those a session's explainer finds.
pub(crate) fn progress_line_explained(
    s: &Snapshot,
    ctx: &ExplainContext,
    stalled_for: Duration,
) -> String {
    let line = progress_line(s);
    let stalled = stalled_for >= EXPLAIN_AFTER && s.state == TorrentState::Downloading;
    if !stalled && s.state != TorrentState::Seeding {
        return line;
    }
    match why(s, ctx) {
        Some(why) => format!("{line}  — why: {why}"),
        None => line,
    }
}

/// The explainer's top finding, in words for one line.
fn why(s: &Snapshot, ctx: &ExplainContext) -> Option<String> {
    let findings = explain::explain(s, ctx);
    explain::top(&findings).map(|f| fmt::outside(&f.line(), 240).into_owned())
}

/// The explainer's context from the run's session.
fn context_of(eng_session: &watch::Receiver<Arc<SessionSnapshot>>, s: &Snapshot) -> ExplainContext {
    ExplainContext::from_session(&eng_session.borrow(), s.id)
}

/// Why a download cannot go on, when it cannot: it is downloading, it dialed at least one
/// peer, every peer it knows has failed and will not be dialed again, and no tracker is in
/// the middle of an announce (a fair chance to list more). `None` while anything may still bring
/// data. A leecher that only ever waited for incoming peers never gives up.
pub(crate) fn no_source_left(s: &Snapshot) -> Option<String> {
    if s.state != TorrentState::Downloading {
        return None;
    }
    let dialed = s.peers.iter().any(|p| p.source != PeerSource::Incoming);
    // --no-trackers lists no tracker at all; a used one is contacted at the start,
    // long before every peer has failed four times.
    let trackers_pending = s
        .trackers
        .iter()
        .any(|t| t.status == TrackerStatus::Announcing);
    if !dialed || trackers_pending || s.peers.iter().any(|p| p.in_play || !p.stage.is_gone()) {
        return None;
    }
    let reasons = explain::failure_reasons(&s.peers);
    let words: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(r, _, n)| format!("{n} × {r}"))
        .collect();
    let more = if reasons.len() > 3 { "; …" } else { "" };
    Some(format!(
        "no peer left to try: every peer failed ({}{more})",
        words.join("; ")
    ))
}

/// Prints progress at most once a second until the engine ends; Ctrl-C / SIGTERM quit
/// gracefully (tracker `stopped`, files flushed). When `no_source_left` has held for
/// `give_up_after`, quits the same way and fails with its reason.
pub(crate) async fn watch_headless(
    eng: engine::Engine,
    give_up_after: Duration,
) -> Result<i32, String> {
    let started = Instant::now();
    let mut rx: watch::Receiver<Arc<Snapshot>> = eng.snapshots.clone();
    let head = eng.session.clone();
    let commands = eng.commands.clone();
    let mut done = eng.done;
    let mut last_print: Option<Instant> = None;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal handler: {e}"))?;
    let mut interrupted = false;
    // Since when nothing is left to try, and the reason once we gave up.
    let mut stuck_since: Option<(Instant, String)> = None;
    let mut gave_up: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // The payload count and when it last grew: the explainer speaks after 10 s without.
    let mut last_payload = (rx.borrow().downloaded, Instant::now());
    // Every change is marked seen when it comes, printed or not: one left unseen keeps
    // `changed()` ready, and this loop spun on it until the second was up (a core's worth of
    // CPU beside the download, more the busier the machine). One that came too early waits
    // here and is printed (the newest by then) when the second is up.
    let mut unprinted = false;
    let mut closed = false;
    let outcome = loop {
        let print_at = last_print.map_or_else(tokio::time::Instant::now, |t| {
            tokio::time::Instant::from_std(t + Duration::from_secs(1))
        });
        tokio::select! {
            r = &mut done => break r.unwrap_or_else(|e| TorrentEnd::Failed(format!("engine task: {e}"))),
            changed = rx.changed(), if !closed => {
                // A closed channel is ready at once, forever: stop asking it.
                closed = changed.is_err();
                rx.mark_unchanged();
                unprinted = !closed;
            }
            _ = tokio::time::sleep_until(print_at), if unprinted => {
                unprinted = false;
                let snap = rx.borrow_and_update().clone();
                if snap.downloaded != last_payload.0 {
                    last_payload = (snap.downloaded, Instant::now());
                }
                let ctx = context_of(&head, &snap);
                let line = progress_line_explained(&snap, &ctx, last_payload.1.elapsed());
                println!("{line}");
                let _ = std::io::stdout().flush();
                last_print = Some(Instant::now());
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                let _ = commands.send(Command::Quit);
            }
            _ = term.recv(), if !interrupted => {
                interrupted = true;
                let _ = commands.send(Command::Quit);
            }
            _ = tick.tick(), if gave_up.is_none() && !interrupted => {
                let why = no_source_left(&rx.borrow());
                stuck_since = match (why, stuck_since.take()) {
                    (None, _) => None,
                    (Some(_), Some((since, why))) if since.elapsed() >= give_up_after => {
                        let _ = commands.send(Command::Quit);
                        gave_up = Some(why);
                        None
                    }
                    (Some(why), None) => Some((Instant::now(), why)),
                    // The latest words: a peer may have failed differently since.
                    (Some(why), Some((since, _))) => Some((since, why)),
                };
            }
        }
    };
    let snap = rx.borrow().clone();
    match outcome {
        TorrentEnd::Complete => {
            println!("{}", progress_line(&snap));
            println!("{}", final_line(&snap, started.elapsed()));
            Ok(0)
        }
        TorrentEnd::Quit => {
            println!("{}", progress_line(&snap));
            // What held it back, when a download stopped short: the last progress line may
            // have come before the explainer spoke.
            let held = (snap.state == TorrentState::Downloading)
                .then(|| why(&snap, &context_of(&head, &snap)))
                .flatten()
                .map_or_else(String::new, |w| format!(" — why: {w}"));
            println!(
                "stopped: {} of {} verified{held}",
                fmt::bytes_precise(snap.verified_bytes),
                fmt::bytes_precise(snap.total_length)
            );
            match gave_up {
                Some(why) => Err(why),
                None => Ok(if interrupted { 130 } else { 0 }),
            }
        }
        TorrentEnd::Failed(msg) => Err(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{PeerEnd, PeerRow, PeerStage, TrackerRow};

    fn failed(last: u8, end: PeerEnd, in_play: bool) -> PeerRow {
        PeerRow {
            end: Some(end),
            in_play,
            ..PeerRow::new(
                std::net::SocketAddr::from(([127, 0, 0, last], 6881)),
                PeerSource::Manual,
                PeerStage::Failed,
            )
        }
    }

    #[test]
    fn gives_up_only_when_every_dialed_peer_is_done_and_trackers_answered() {
        let may_need = PeerEnd::ClosedMayNeedEncryption;
        let mut s = Snapshot::empty("x", 1 << 20, 1 << 14);
        assert_eq!(no_source_left(&s), None, "nothing dialed yet");
        s.peers = vec![
            failed(2, may_need.clone(), false),
            failed(3, may_need.clone(), false),
        ];
        let why = no_source_left(&s).expect("both failed for good");
        assert!(
            why.contains("2 × closed during handshake (it may require encryption)"),
            "{why}"
        );
        // A peer still backing off may come back.
        s.peers.push(failed(4, PeerEnd::Refused, true));
        assert_eq!(no_source_left(&s), None);
        s.peers.pop();
        // A tracker that has not answered yet may list more.
        s.trackers.push(TrackerRow {
            url: "http://127.0.0.1:1/announce".into(),
            tier: 0,
            status: TrackerStatus::Announcing,
            last_announce: None,
            next_announce: None,
            seeders: None,
            leechers: None,
            warning: None,
            last_counts: None,
        });
        assert_eq!(no_source_left(&s), None);
        s.trackers[0].status = TrackerStatus::Failed("refused".into());
        assert!(no_source_left(&s).is_some());
        // Not contacted at all (--no-trackers): nothing to wait for.
        s.trackers[0].status = TrackerStatus::NotContacted;
        assert!(no_source_left(&s).is_some());
        // Seeding, or only incoming peers so far: never.
        s.state = TorrentState::Seeding;
        assert_eq!(no_source_left(&s), None);
        s.state = TorrentState::Downloading;
        for p in &mut s.peers {
            p.source = PeerSource::Incoming;
        }
        assert_eq!(no_source_left(&s), None);
    }

    #[test]
    fn with_files_skipped_the_lines_count_the_wanted_ones() {
        use crate::engine::api::{FilePriority, FileRow};
        let mut s = Snapshot::empty("x", 1000, 100);
        let row = |size, done, priority| FileRow {
            path: "x/f".into(),
            size,
            offset: 0,
            done,
            priority,
        };
        s.files = vec![
            row(600, 300, FilePriority::Normal),
            row(400, 0, FilePriority::Skip),
        ];
        s.verified_bytes = 300;
        assert_eq!(wanted_of(&s), Some((300, 600, "1 of 2 files".into())));
        let line = progress_line(&s);
        assert!(line.starts_with(" 50.0%  300 B / 600 B"), "{line}");
        let done = final_line(&s, Duration::from_secs(1));
        assert!(done.contains("— 600 B (1 of 2 files) verified"), "{done}");
        assert!(
            done.ends_with("wasted 0 bytes (0.000 % of the payload)"),
            "{done}"
        );
        // A share of what was wanted, not of the whole torrent.
        s.wasted = 3;
        let done = final_line(&s, Duration::from_secs(1));
        assert!(
            done.ends_with("wasted 3 bytes (0.500 % of the payload)"),
            "{done}"
        );
        s.files[1].priority = FilePriority::Low;
        assert_eq!(wanted_of(&s), None);
        assert!(progress_line(&s).starts_with(" 30.0%"));
    }

    #[test]
    fn a_stalled_progress_line_names_the_top_finding() {
        let mut s = Snapshot::empty("x", 1 << 20, 1 << 14);
        s.peers = vec![
            failed(2, PeerEnd::ClosedMayNeedEncryption, true),
            failed(3, PeerEnd::ClosedMayNeedEncryption, false),
        ];
        let quiet = progress_line_explained(&s, &ExplainContext::default(), Duration::from_secs(3));
        assert_eq!(quiet, progress_line(&s));
        let line = progress_line_explained(&s, &ExplainContext::default(), EXPLAIN_AFTER);
        assert!(
            line.contains("why: 2 peers closed the plain handshake: they may require encryption")
                && line.contains("run with `--encryption prefer`"),
            "{line}"
        );
        s.state = TorrentState::Paused;
        assert_eq!(
            progress_line_explained(&s, &ExplainContext::default(), EXPLAIN_AFTER),
            progress_line(&s)
        );
    }

    #[test]
    fn a_run_with_no_peer_hears_its_session_say_the_proxy_is_down() {
        let s = Snapshot::empty("x", 1 << 20, 1 << 14);
        let alone = progress_line_explained(&s, &ExplainContext::default(), EXPLAIN_AFTER);
        assert!(!alone.contains("proxy"), "{alone}");
        let head = SessionSnapshot {
            proxy: Some(crate::engine::api::ProxyStatus {
                url: "socks5://127.0.0.9:1080".into(),
                only: true,
                down: Some("cannot reach the proxy: connection refused".into()),
                connections: 0,
                udp_off: None,
            }),
            ..SessionSnapshot::default()
        };
        let ctx = ExplainContext::from_session(&head, s.id);
        let line = progress_line_explained(&s, &ctx, EXPLAIN_AFTER);
        assert!(
            line.contains("why: the proxy socks5://127.0.0.9:1080 is down: cannot reach"),
            "{line}"
        );
    }

    #[test]
    fn an_idle_seed_says_why_in_its_progress_line() {
        let mut s = Snapshot::empty("x", 1 << 20, 1 << 14);
        s.state = TorrentState::Seeding;
        s.listen_port = 6881;
        s.peers = vec![failed(2, PeerEnd::Refused, false)];
        s.since_upload = Duration::from_secs(5);
        assert_eq!(
            progress_line_explained(&s, &ExplainContext::default(), Duration::ZERO),
            progress_line(&s)
        );
        s.since_upload = Duration::from_secs(40);
        let line = progress_line_explained(&s, &ExplainContext::default(), Duration::ZERO);
        assert!(
            line.contains(
                "why: nothing uploaded for 40s: no peer has ever connected to us: port 6881"
            ),
            "{line}"
        );
    }
}
