//! One torrent's life: a session to live in, the check of what is already on disk (pause and
//! quit work meanwhile), then the coordinator (`coordinator.rs`) until the download ends or
//! the user quits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, watch};

use crate::engine::api::*;
use crate::engine::coordinator::{Coordinator, TICK};
use crate::engine::disk::Storage;
use crate::engine::download::Download;
use crate::engine::magnet;
use crate::engine::picker::Picker;
use crate::engine::session::Session;
use crate::engine::shared::Shared;
use crate::engine::snapshot;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::Metainfo;
/// Memory for pieces being received or waiting for their hash check. Beyond it no new piece is
/// started, which also throttles receiving when hashing or the disk falls behind.
const PIECE_MEMORY: usize = 16 << 20;
/// Verified pieces a slow connection may fall behind on before it catches up from the picker.
const VERIFIED_BACKLOG: usize = 1024;

pub use crate::engine::options::{Options, Outcome};

/// The handle of one running torrent.
pub struct Engine {
    /// Names the torrent; its snapshots carry the same id.
    pub id: TorrentId,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: mpsc::UnboundedSender<Command>,
    pub done: tokio::task::JoinHandle<Outcome>,
}

fn next_id() -> TorrentId {
    static NEXT_ID: AtomicU32 = AtomicU32::new(0);
    TorrentId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Starts a session with a magnet link's torrent: its metadata is fetched (BEP 9) from the
/// magnet's `x.pe` and `extra_peers`, its trackers and the session's DHT, then the torrent
/// runs as with `start`. With `echo` the fetch's lines also go to stderr (headless runs).
pub fn start_magnet(
    magnet: Magnet,
    extra_peers: Vec<SocketAddr>,
    opts: Options,
    echo: bool,
) -> Engine {
    let id = next_id();
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let first = magnet::magnet_snapshot(id, &magnet, &opts.output);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(first.clone()));
    let done = tokio::spawn(async move {
        let (mut session, listen_log) = Session::start(&opts).await;
        let fetched = magnet::fetch_in_session(
            &session,
            &magnet,
            &extra_peers,
            echo,
            first,
            &snap_tx,
            &mut cmd_rx,
        )
        .await;
        match fetched {
            Ok(meta) => {
                let initial = snapshot::initial(id, &meta, &opts.output, 0);
                let mut opts = opts;
                opts.peers.extend(magnet.peers.iter().copied());
                run(session, listen_log, meta, opts, initial, cmd_rx, snap_tx).await
            }
            Err(outcome) => {
                session.close().await;
                outcome
            }
        }
    });
    Engine {
        id,
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

/// Starts a session with one torrent on the current tokio runtime.
pub fn start(meta: Metainfo, opts: Options) -> Engine {
    let id = next_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let initial = snapshot::initial(id, &meta, &opts.output, 0);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial.clone()));
    let done = tokio::spawn(async move {
        // Listen before the (possibly long) resume check, so peers that dial us meanwhile
        // wait for our handshake instead of being refused and backing off.
        let (session, listen_log) = Session::start(&opts).await;
        run(session, listen_log, meta, opts, initial, cmd_rx, snap_tx).await
    });
    Engine {
        id,
        snapshots: snap_rx,
        commands: cmd_tx,
        done,
    }
}

/// The paused state a command asks for, decided against the engine's own state (a UI's
/// snapshot may be a tick old); `None` for commands that do not touch it.
pub(crate) fn pause_wanted(c: &Command, paused: bool) -> Option<bool> {
    match c {
        Command::Pause => Some(true),
        Command::Resume => Some(false),
        Command::TogglePause => Some(!paused),
        _ => None,
    }
}

async fn run(
    mut session: Session,
    listen_log: Vec<(LogLevel, String)>,
    meta: Metainfo,
    opts: Options,
    mut snap: Snapshot,
    mut commands: mpsc::UnboundedReceiver<Command>,
    snapshots: watch::Sender<Arc<Snapshot>>,
) -> Outcome {
    let started = Instant::now();
    let fail = |snap: &mut Snapshot, snapshots: &watch::Sender<Arc<Snapshot>>, msg: String| {
        snap.state = TorrentState::Error(msg.clone());
        snap.log.push(LogLine {
            at: started.elapsed(),
            level: LogLevel::Error,
            text: msg.clone(),
        });
        let _ = snapshots.send(Arc::new(snap.clone()));
        Outcome::Failed(msg)
    };
    let info = Arc::new(meta.info.clone());
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    session.add(meta.info_hash, events_tx.clone());

    // Open files (creating them at their final length) and check what is already there.
    let (root, info2) = (opts.output.clone(), Arc::clone(&info));
    let storage = match tokio::task::spawn_blocking(move || Storage::open(&root, &info2)).await {
        Ok(Ok(s)) => Arc::new(s),
        Ok(Err(e)) => return fail(&mut snap, &snapshots, e.to_string()),
        Err(e) => return fail(&mut snap, &snapshots, format!("opening files: {e}")),
    };
    let checked = Arc::new(AtomicU32::new(0));
    let cancel = Arc::new(AtomicBool::new(false));
    let check = {
        let (storage, info, checked, cancel) = (
            Arc::clone(&storage),
            Arc::clone(&info),
            Arc::clone(&checked),
            Arc::clone(&cancel),
        );
        let threads = opts.check_threads.max(1);
        tokio::task::spawn_blocking(move || {
            storage.check_existing(
                &info,
                threads,
                &|n| checked.store(n, Ordering::Relaxed),
                &cancel,
            )
        })
    };
    tokio::pin!(check);
    let mut tick = tokio::time::interval(TICK);
    let mut paused_early = false;
    let have = loop {
        tokio::select! {
            r = &mut check => match r {
                Ok(Ok(v)) => break Bitfield::from_bools(&v),
                Ok(Err(e)) => return fail(&mut snap, &snapshots, e.to_string()),
                Err(e) => return fail(&mut snap, &snapshots, format!("checking files: {e}")),
            },
            c = commands.recv() => match c {
                None | Some(Command::Quit) => {
                    cancel.store(true, Ordering::Relaxed);
                    return Outcome::Quit;
                }
                // Kept for when the check ends; there are no peers to drop or ban yet.
                Some(c) => paused_early = pause_wanted(&c, paused_early).unwrap_or(paused_early),
            },
            _ = tick.tick() => {
                snap.state = TorrentState::Checking { checked: checked.load(Ordering::Relaxed), total: info.num_pieces() };
                snap.elapsed = started.elapsed();
                let _ = snapshots.send(Arc::new(snap.clone()));
            }
        }
    };

    let mut picker = Picker::with_geometry(info.geometry(), have);
    picker.set_max_partial((PIECE_MEMORY / info.piece_length.max(1) as usize).max(4));
    let shared = Arc::new(Shared {
        info: Arc::clone(&info),
        info_hash: meta.info_hash,
        info_bytes: meta.info_bytes.clone(),
        our_id: session.our_id,
        bind: session.bind,
        encryption: session.encryption,
        transport: session.transport,
        utp: session.utp.clone(),
        pex: session.pex && !info.private,
        listen_port: AtomicU16::new(session.listen_port),
        dht: session.dht.clone().filter(|_| !info.private),
        download: Mutex::new(Download::new(picker)),
        storage,
        pool: Arc::clone(&session.pool),
        verified: broadcast::channel(VERIFIED_BACKLOG).0,
        paused: AtomicBool::new(false),
        downloaded: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        wasted: AtomicU64::new(0),
        events: events_tx,
    });
    snap.listen_port = session.listen_port;
    let mut c = Coordinator::new(meta, opts, Arc::clone(&shared), snap, started, &session);
    for (level, text) in listen_log {
        c.log(level, text);
    }
    let verified = shared.download().picker.have().count();
    c.log(
        LogLevel::Info,
        format!(
            "checked existing data: {verified} of {} pieces verified",
            info.num_pieces()
        ),
    );
    if paused_early {
        c.on_command(Command::Pause);
    }
    let outcome = c.main_loop(commands, events_rx, snapshots).await;
    session.remove(&shared.info_hash);
    session.close().await;
    outcome
}

pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggle_pause_is_decided_against_the_engine_state() {
        assert_eq!(pause_wanted(&Command::TogglePause, false), Some(true));
        assert_eq!(pause_wanted(&Command::TogglePause, true), Some(false));
        // Two quick presses end where they started, whatever the UI last saw.
        let mut paused = false;
        for _ in 0..2 {
            paused = pause_wanted(&Command::TogglePause, paused).unwrap();
        }
        assert!(!paused);
        assert_eq!(pause_wanted(&Command::Pause, true), Some(true));
        assert_eq!(pause_wanted(&Command::Resume, true), Some(false));
        assert_eq!(pause_wanted(&Command::Quit, true), None);
    }
}
