//! A magnet link's torrent before its metadata is known: the metadata fetch
//! (`metadata::fetch`) run inside the session, so it uses the session's one DHT node, listen
//! port, encryption and transports, while the snapshot shows its progress and a quit stops it.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::engine::dial::Transports;
use crate::engine::metadata::{fetch, FETCH_TIMEOUT};
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::Metainfo;

/// The engine's side of a magnet link: `fetch` with the session's DHT and listen port, while
/// the torrent's snapshot shows the lines `fetch` reports (also on stderr with `echo`) and a
/// quit stops it. Returns the metadata, or how the torrent ended.
pub(crate) async fn fetch_in_session(
    session: &crate::engine::session::SessionCtx,
    magnet: &Magnet,
    extra_peers: &[SocketAddr],
    echo: bool,
    mut snap: crate::engine::api::Snapshot,
    snapshots: &tokio::sync::watch::Sender<std::sync::Arc<crate::engine::api::Snapshot>>,
    commands: &mut mpsc::UnboundedReceiver<crate::engine::api::Command>,
) -> Result<Metainfo, crate::engine::Outcome> {
    use crate::engine::api::{Command, LogLevel, LogLine, TorrentState};
    use crate::engine::Outcome;
    let started = Instant::now();
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    let report = move |line: String| {
        tracing::info!("{line}");
        if echo {
            eprintln!("magnet: {line}");
        }
        let _ = line_tx.send(line);
    };
    snap.listen_port = session.listen_port;
    let transports = Transports {
        policy: session.transport,
        utp: session.utp.clone(),
    };
    let fetch = fetch(
        magnet,
        extra_peers,
        session.our_id,
        session.listen_port,
        session.dht.as_ref(),
        &report,
        session.encryption,
        &transports,
    );
    let fetch = tokio::time::timeout(FETCH_TIMEOUT, fetch);
    tokio::pin!(fetch);
    let mut tick = tokio::time::interval(crate::engine::coordinator::TICK);
    let result = loop {
        tokio::select! {
            r = &mut fetch => break r.unwrap_or_else(|_| {
                Err("timed out fetching the torrent's metadata from peers".into())
            }),
            c = commands.recv() => if let None | Some(Command::Quit) = c {
                return Err(Outcome::Quit);
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
                let _ = snapshots.send(std::sync::Arc::new(snap.clone()));
            }
        }
    };
    result.map_err(|msg| {
        snap.state = TorrentState::Error(msg.clone());
        let _ = snapshots.send(std::sync::Arc::new(snap));
        Outcome::Failed(msg)
    })
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
