//! A magnet link's torrent before its metadata is known: the metadata fetch
//! (`metadata::fetch`) run inside the session, so it uses the session's one DHT node, listen
//! port, encryption and transports, while the snapshot shows its progress and a quit stops it.
//! A v2-only .torrent that lacks piece layers waits here too, as a magnet of its hash whose
//! info is known (`known`): only its layers are fetched, and its line says so.

use std::net::SocketAddr;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, watch};

use crate::engine::api::{Command, LogLevel, LogLine, Snapshot, TorrentLine, TorrentState};
use crate::engine::peer::dial::Transports;
use crate::engine::torrent::metadata::{self, Fetcher, FETCH_TIMEOUT};
use crate::engine::torrent::metadata_wait::{self, NoMetadata};
use crate::engine::torrent::shared::Event;
use crate::engine::torrent::start::SessionCtx;
use crate::engine::torrent::start::Start;
use crate::engine::TorrentEnd;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::layers::NeedsLayers;
use crate::protocol::metainfo::Metainfo;

/// The engine's side of a magnet link: the metadata fetch with the session's DHT and listen
/// port, while the torrent's snapshot shows the lines it reports (also on stderr with `echo`)
/// and a quit stops it. Paused (`start.paused`, or a pause command meanwhile) it fetches
/// nothing: a paused torrent talks to no peer, and the pause is kept for when the metadata
/// arrives. A one-shot run (no session to report to) gives up once every source is spent or
/// after `FETCH_TIMEOUT`; a session's magnet waits for peers instead (`metadata_wait`), its
/// line saying so.
///
/// The router hands the fetch the peers that dial us for the magnet (`Incoming`): they are
/// asked for the metadata like the peers it dials, and the one that delivers is kept (its
/// listen port) for the download. A one-shot run with no source to dial waits for them
/// until `FETCH_TIMEOUT`. Returns the metadata, the peers to dial for the download and those
/// that sent bad data (banned from it), or how the torrent ended (its line says `error`).
pub(crate) async fn fetch_in_session(
    start: &mut Start,
    (magnet, known): (&Magnet, Option<&NeedsLayers>),
    extra_peers: &[SocketAddr],
    echo: bool,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Result<Fetched, TorrentEnd> {
    let started = Instant::now();
    // A magnet's cell is filled from its start (`Snapshots::with`): its first snapshot is
    // built from the magnet link, which only the starter has.
    let mut snap = match start.snapshots.get() {
        Some(tx) => tx.borrow().as_ref().clone(),
        None => magnet_snapshot(start.id, magnet, std::path::Path::new("")),
    };
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    // A .torrent waiting for its layers is no magnet to the user who gave it.
    let tag = if known.is_some() {
        "piece layers"
    } else {
        "magnet"
    };
    let report = move |line: String| {
        tracing::info!("{line}");
        if echo {
            eprintln!("{tag}: {line}");
        }
        let _ = line_tx.send(line);
    };
    let session = &start.ctx;
    snap.listen_port = session.listen_port;
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel::<Event>();
    let _routed = Routed::new(session.clone(), magnet.info_hash, incoming_tx.clone());
    // BEP 14: a magnet is announced on the LAN while its metadata is fetched, so a peer there
    // that has the torrent dials us and brings it (libtorrent does the same; whether the
    // torrent is private is not known yet). Its peers' own announces are not dialed from
    // here. Unregistered with the route (`SessionCtx::unroute`); the torrent registers
    // itself once open, unless its metadata says it is private. A .torrent waiting for its
    // piece layers is not announced here: it may be private.
    if let Some(lsd) = session.lsd.as_ref().filter(|_| known.is_none()) {
        lsd.register(magnet.info_hash, incoming_tx);
    }
    let transports = Transports {
        policy: session.transport,
        utp: session.utp.clone(),
        filter: std::sync::Arc::clone(&session.ip_filter),
        proxy: session.proxy.clone(),
    };
    let fetcher = Fetcher {
        magnet,
        known,
        extra_peers,
        our_id: session.our_id,
        port: session.listen_port,
        dht: session.dht.as_ref(),
        report: &report,
        encryption: session.encryption,
        transports: &transports,
        egress: session.egress(),
        bad: Default::default(),
    };
    // Only the session hears from its torrents: it is the one that keeps a magnet for weeks.
    let patient = start.reports.is_some();
    // Nothing to dial: only a peer that dials us can bring the metadata.
    let wait_for_incoming = !patient
        && session.listen_port != 0
        && magnet.peers.is_empty()
        && extra_peers.is_empty()
        && magnet.trackers.is_empty()
        && session.dht.is_none();
    let (why_tx, mut whys) = mpsc::unbounded_channel::<String>();
    // Started anew on a resume: its timeout counts from there, and the peers it dials then.
    let begin = || Box::pin(fetch_until_done(&fetcher, patient, why_tx.clone()));
    let phase = metadata::phase(known);
    let mut running = (!start.paused).then(begin);
    // The peers that dialed us, being asked for the metadata.
    let mut asking = FuturesUnordered::new();
    // One-shot: why the dialing gave up, while peers that dialed us may still deliver.
    let mut gave_up: Option<NoMetadata> = None;
    let waiting = tokio::time::sleep_until((started + FETCH_TIMEOUT).into());
    tokio::pin!(waiting);
    show_paused(start.paused, phase, &mut snap, &start.line);
    let mut tick = tokio::time::interval(crate::engine::torrent::coordinator::TICK);
    let result = loop {
        tokio::select! {
            r = async {
                match running.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if running.is_some() => {
                running = None;
                match r {
                    Ok(meta) => break Ok((meta, Vec::new())),
                    Err(msg) if wait_for_incoming || !asking.is_empty() => {
                        if wait_for_incoming {
                            report(format!(
                                "no source to dial: waiting for a peer to connect (port {})",
                                session.listen_port
                            ));
                        }
                        gave_up = Some(msg);
                    }
                    Err(msg) => break Err(msg),
                }
            }
            Some(event) = incoming.recv() => {
                let Event::Incoming { stream, addr, handshake, answered, .. } = event else { continue };
                if start.paused || asking.len() >= MAX_ASKING {
                    tracing::info!("{addr}: incoming for a magnet that is not asking now, closed");
                    continue;
                }
                report(format!("{addr}: connected to us"));
                let (our_id, dht) = (session.our_id, session.dht.is_some());
                asking.push(Box::pin(async move {
                    let r = metadata::from_incoming(*stream, (&handshake, answered), (magnet, known), our_id, dht)
                        .await;
                    (addr, r)
                }));
            }
            Some((addr, r)) = asking.next(), if !asking.is_empty() => match r {
                Ok((got, port)) => {
                    report(metadata::got_words(&got, known, addr));
                    // Dialed back for the download: where it listens, else where it came from.
                    let back = SocketAddr::new(addr.ip(), port.unwrap_or(addr.port()));
                    break metadata::metainfo_from_info(&got, magnet, known)
                        .map(|m| (m, vec![back]))
                        .map_err(|e| NoMetadata::NotATorrent(e.to_string()));
                }
                Err(e) => {
                    report(format!("{addr}: {e}"));
                    if e.is_bad_data() {
                        if let Ok(mut bad) = fetcher.bad.lock() {
                            bad.insert(addr);
                        }
                    }
                    if asking.is_empty() && !wait_for_incoming {
                        if let Some(msg) = gave_up.take() {
                            break Err(msg);
                        }
                    }
                }
            },
            () = &mut waiting, if gave_up.is_some() && asking.is_empty() && !start.paused => {
                let why = gave_up.take().unwrap_or(NoMetadata::GaveUp);
                break Err(NoMetadata::NobodyCame(Box::new(why)));
            }
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
                            (false, false) => {
                                gave_up = None;
                                running = Some(begin());
                            }
                            _ => {}
                        }
                        if paused {
                            // A paused torrent talks to no peer.
                            asking.clear();
                        }
                        show_paused(paused, phase, &mut snap, &start.line);
                        start.snapshots.send_if_made(|| snap.clone());
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
                    let nodes = d.stats().await.map_or(0, |s| s.all_nodes());
                    snap.dht.get_or_insert_with(Default::default).nodes = nodes;
                }
                start.snapshots.send_if_made(|| snap.clone());
            }
        }
    };
    let bad: Vec<SocketAddr> = fetcher
        .bad
        .lock()
        .map(|b| b.iter().copied().collect())
        .unwrap_or_default();
    let result = result.map(|(meta, dialed_us)| Fetched {
        meta,
        dialed_us,
        bad,
    });
    result.map_err(|why| {
        let msg = why.to_string();
        snap.state = TorrentState::Error(msg.clone());
        snap.log.push(LogLine {
            at: started.elapsed(),
            level: LogLevel::Error,
            text: msg.clone(),
        });
        start.snapshots.send_kept(snap);
        start.line.send_modify(|l| {
            l.state = TorrentState::Error(msg.clone());
            l.why = Some(msg.clone());
        });
        TorrentEnd::Failed(msg)
    })
}

/// A magnet's metadata and what its fetch learned of peers: those that dialed us (dialed
/// back for the download) and those that sent bad data (banned from it).
pub(crate) struct Fetched {
    pub meta: Metainfo,
    pub dialed_us: Vec<SocketAddr>,
    pub bad: Vec<SocketAddr>,
}

/// Peers that dialed us asked for the metadata at once; more are closed (they dial again).
const MAX_ASKING: usize = 8;

/// The magnet's place in the session's router while its metadata is fetched: connections
/// naming it come to the fetch, until this is dropped (the torrent then routes itself).
struct Routed {
    ctx: SessionCtx,
    info_hash: [u8; 20],
}

impl Routed {
    fn new(ctx: SessionCtx, info_hash: [u8; 20], to: mpsc::UnboundedSender<Event>) -> Routed {
        ctx.route(info_hash, to);
        Routed { ctx, info_hash }
    }
}

impl Drop for Routed {
    fn drop(&mut self) {
        self.ctx.unroute(&self.info_hash);
    }
}

/// The metadata, or why the torrent ends. One-shot (`!patient`): one fetch of at most
/// `FETCH_TIMEOUT`. Patient: fetches of at most `ROUND` until one delivers, waiting longer
/// after each that found nothing; `why` gets the torrent's words for each wait.
async fn fetch_until_done(
    fetcher: &Fetcher<'_>,
    patient: bool,
    why: mpsc::UnboundedSender<String>,
) -> Result<Metainfo, NoMetadata> {
    if !patient {
        return fetcher
            .fetch(Instant::now() + FETCH_TIMEOUT)
            .await
            .map_err(NoMetadata::from);
    }
    let mut wait = None;
    for tries in 1u64.. {
        if tries > 1 {
            let again = format!("asking its sources again (try {tries})");
            let _ = why.send(match metadata::phase(fetcher.known) {
                Some(phase) => format!("{phase}: {again}"),
                None => again,
            });
        }
        match fetcher.fetch(Instant::now() + metadata_wait::ROUND).await {
            Ok(meta) => return Ok(meta),
            Err(spent) if spent.fatal => return Err(spent.into()),
            Err(spent) => {
                let next = metadata_wait::next_wait(wait);
                wait = Some(next);
                let words = spent.sources.words(metadata::phase(fetcher.known), next);
                (fetcher.report)(words.clone());
                let _ = why.send(words);
                tokio::time::sleep(next).await;
            }
        }
    }
    Err(NoMetadata::GaveUp)
}

/// The state a magnet without its metadata shows, and why: paused, or fetching (`phase`).
/// Also its first line, published before its task runs: a magnet added paused is listed
/// paused from the start, never as fetching for a tick.
pub(crate) fn waiting_state(paused: bool, phase: Option<&str>) -> (TorrentState, Option<&str>) {
    if paused {
        (TorrentState::Paused, Some("before its metadata arrived"))
    } else {
        (TorrentState::Downloading, phase)
    }
}

/// Shows [`waiting_state`] on the torrent's snapshot and line.
fn show_paused(
    paused: bool,
    phase: Option<&str>,
    snap: &mut Snapshot,
    line: &watch::Sender<TorrentLine>,
) {
    let (state, why) = waiting_state(paused, phase);
    snap.state = state.clone();
    line.send_modify(|l| {
        l.state = state;
        l.why = why.map(Into::into);
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
        .unwrap_or_else(|| crate::protocol::hex::encode(&magnet.info_hash));
    crate::engine::api::Snapshot {
        id,
        info_hash: magnet.info_hash,
        output: output.to_path_buf(),
        ..crate::engine::api::Snapshot::empty(name, 0, 0)
    }
}
