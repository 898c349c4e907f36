//! A magnet link's torrent before its metadata is known: the metadata fetch
//! (`metadata::fetch`) run inside the session, so it uses the session's one DHT node, listen
//! port, encryption and transports, while the snapshot shows its progress and a quit stops it.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use crate::engine::api::{Command, LogLevel, LogLine, Snapshot, TorrentLine, TorrentState};
use crate::engine::dial::Transports;
use crate::engine::metadata::{Fetcher, FETCH_TIMEOUT};
use crate::engine::metadata_wait;
use crate::engine::torrent::start::Start;
use crate::engine::TorrentEnd;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::Metainfo;

/// The engine's side of a magnet link: the metadata fetch with the session's DHT and listen
/// port, while the torrent's snapshot shows the lines it reports (also on stderr with `echo`)
/// and a quit stops it. Paused (`start.paused`, or a pause command meanwhile) it fetches
/// nothing: a paused torrent talks to no peer, and the pause is kept for when the metadata
/// arrives. A one-shot run (no session to report to) gives up once every source is spent or
/// after `FETCH_TIMEOUT`; a session's magnet waits for peers instead (`metadata_wait`), its
/// line saying so. Returns the metadata, or how the torrent ended (its line says `error`).
pub(crate) async fn fetch_in_session(
    start: &mut Start,
    magnet: &Magnet,
    extra_peers: &[SocketAddr],
    echo: bool,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Result<Metainfo, TorrentEnd> {
    let started = Instant::now();
    let mut snap = start.snapshots.borrow().as_ref().clone();
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    let report = move |line: String| {
        tracing::info!("{line}");
        if echo {
            eprintln!("magnet: {line}");
        }
        let _ = line_tx.send(line);
    };
    let session = &start.ctx;
    snap.listen_port = session.listen_port;
    let transports = Transports {
        policy: session.transport,
        utp: session.utp.clone(),
    };
    let fetcher = Fetcher {
        magnet,
        extra_peers,
        our_id: session.our_id,
        port: session.listen_port,
        dht: session.dht.as_ref(),
        report: &report,
        encryption: session.encryption,
        transports: &transports,
    };
    // Only the session hears from its torrents: it is the one that keeps a magnet for weeks.
    let patient = start.reports.is_some();
    let (why_tx, mut whys) = mpsc::unbounded_channel::<String>();
    // Started anew on a resume: its timeout counts from there, and the peers it dials then.
    let begin = || Box::pin(fetch_until_done(&fetcher, patient, why_tx.clone()));
    let mut running = (!start.paused).then(begin);
    show_paused(start.paused, &mut snap, &start.line);
    let mut tick = tokio::time::interval(crate::engine::coordinator::TICK);
    let result = loop {
        tokio::select! {
            r = async {
                match running.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if running.is_some() => break r,
            c = commands.recv() => match c {
                None | Some(Command::Quit) => return Err(TorrentEnd::Quit),
                Some(c) => {
                    if let Some(paused) = crate::engine::api::pause_wanted(&c, start.paused) {
                        start.paused = paused;
                        match (paused, running.is_some()) {
                            (true, true) => {
                                running = None;
                                // Words of the fetch just dropped, not of the one a resume starts.
                                while whys.try_recv().is_ok() {}
                            }
                            (false, false) => running = Some(begin()),
                            _ => {}
                        }
                        show_paused(paused, &mut snap, &start.line);
                        let _ = start.snapshots.send(std::sync::Arc::new(snap.clone()));
                    }
                }
            },
            Some(why) = whys.recv(), if running.is_some() => {
                start.line.send_modify(|l| l.why = Some(why));
            },
            Some(text) = lines.recv() => snap.log.push(LogLine {
                at: started.elapsed(),
                level: LogLevel::Info,
                text,
            }),
            _ = tick.tick() => {
                snap.elapsed = started.elapsed();
                if let Some(d) = &session.dht {
                    let nodes = d.stats().await.map_or(0, |s| s.nodes);
                    snap.dht.get_or_insert_with(Default::default).nodes = nodes;
                }
                let _ = start.snapshots.send(std::sync::Arc::new(snap.clone()));
            }
        }
    };
    result.map_err(|msg| {
        snap.state = TorrentState::Error(msg.clone());
        snap.log.push(LogLine {
            at: started.elapsed(),
            level: LogLevel::Error,
            text: msg.clone(),
        });
        let _ = start.snapshots.send(std::sync::Arc::new(snap));
        start.line.send_modify(|l| {
            l.state = TorrentState::Error(msg.clone());
            l.why = Some(msg.clone());
        });
        TorrentEnd::Failed(msg)
    })
}

/// The metadata, or why the torrent ends. One-shot (`!patient`): one fetch of at most
/// `FETCH_TIMEOUT`. Patient: fetches of at most `ROUND` until one delivers, waiting longer
/// after each that found nothing; `why` gets the torrent's words for each wait.
async fn fetch_until_done(
    fetcher: &Fetcher<'_>,
    patient: bool,
    why: mpsc::UnboundedSender<String>,
) -> Result<Metainfo, String> {
    if !patient {
        return fetcher
            .fetch(Instant::now() + FETCH_TIMEOUT)
            .await
            .map_err(|s| s.msg);
    }
    let mut wait = None;
    for tries in 1u64.. {
        if tries > 1 {
            let _ = why.send(format!(
                "fetching metadata: asking its sources again (try {tries})"
            ));
        }
        match fetcher.fetch(Instant::now() + metadata_wait::ROUND).await {
            Ok(meta) => return Ok(meta),
            Err(spent) if spent.fatal => return Err(spent.msg),
            Err(spent) => {
                let next = metadata_wait::next_wait(wait);
                wait = Some(next);
                let words = spent.sources.words(next);
                (fetcher.report)(words.clone());
                let _ = why.send(words);
                tokio::time::sleep(next).await;
            }
        }
    }
    Err("gave up fetching the metadata".into())
}

/// The state a magnet without its metadata shows: paused, or fetching.
fn show_paused(paused: bool, snap: &mut Snapshot, line: &watch::Sender<TorrentLine>) {
    let (state, why) = if paused {
        (TorrentState::Paused, "paused before its metadata arrived")
    } else {
        (TorrentState::Downloading, "fetching metadata")
    };
    snap.state = state.clone();
    line.send_modify(|l| {
        l.state = state;
        l.why = Some(why.into());
    });
}

/// The snapshot of a magnet link's torrent before its metadata is known.
pub(crate) fn magnet_snapshot(
    id: crate::engine::api::TorrentId,
    magnet: &Magnet,
    output: &std::path::Path,
) -> crate::engine::api::Snapshot {
    let name = magnet
        .display_name
        .clone()
        .unwrap_or_else(|| crate::protocol::metainfo::to_hex(&magnet.info_hash));
    crate::engine::api::Snapshot {
        id,
        info_hash: magnet.info_hash,
        output: output.to_path_buf(),
        ..crate::engine::api::Snapshot::empty(name, 0, 0)
    }
}
