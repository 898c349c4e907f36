//! A session of one torrent: the headless runs (`ttui --headless`, `ttui seed`, the demo's
//! peers) start the process's resources for a single torrent, which ends the session with it
//! and saves nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::engine::api::{LogLevel, SessionSnapshot, Snapshot, TorrentId, TorrentLine};
use crate::engine::session::blocklist::Loader;
use crate::engine::session::Session;
use crate::engine::torrent::priorities::FilePlan;
use crate::engine::torrent::{
    drop_unused_trackers, magnet, run, run_magnet, snapshot, Engine, Lifetime, Options, Snapshots,
    Start, TorrentEnd,
};
use crate::protocol::magnet::Magnet;
use crate::protocol::metainfo::layers::NeedsLayers;
use crate::protocol::metainfo::Metainfo;

fn next_id() -> TorrentId {
    static NEXT_ID: AtomicU32 = AtomicU32::new(0);
    TorrentId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Starts a session with a magnet link's torrent: its metadata is fetched (BEP 9) from the
/// magnet's `x.pe` and `extra_peers`, its trackers and the session's DHT, then the torrent
/// runs as with `start`. With `echo` the fetch's lines also go to stderr (headless runs).
/// With `known` (a v2-only .torrent lacking piece layers; `magnet` is then
/// `NeedsLayers::magnet`) only the layers are fetched.
pub(crate) fn start_magnet(
    (magnet, known): (Magnet, Option<Arc<NeedsLayers>>),
    extra_peers: Vec<SocketAddr>,
    opts: Options,
    echo: bool,
) -> Engine {
    let id = next_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let first = magnet::magnet_snapshot(id, &magnet, &opts.output);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(first));
    let (head_tx, head_rx) = watch::channel(Arc::default());
    let done = tokio::spawn(own_session(
        opts,
        head_tx,
        move |session, opts, listen_log| {
            let start = headless_start(id, session, snap_tx, opts.files.sequential);
            let only = opts.files.only.clone();
            run_magnet(
                start,
                (magnet, known),
                extra_peers,
                opts,
                echo,
                listen_log,
                cmd_rx,
                only,
            )
        },
    ));
    Engine {
        id,
        snapshots: snap_rx,
        session: head_rx,
        commands: cmd_tx,
        done,
    }
}

/// Starts a session with one torrent on the current tokio runtime; the session ends with it.
pub fn start(meta: Metainfo, opts: Options) -> Engine {
    let id = next_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let mut initial = snapshot::initial(id, &meta, &opts.output, 0);
    drop_unused_trackers(&mut initial, &opts);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial));
    let (head_tx, head_rx) = watch::channel(Arc::default());
    let done = tokio::spawn(own_session(
        opts,
        head_tx,
        move |session, opts, listen_log| {
            let mut start = headless_start(id, session, snap_tx, opts.files.sequential);
            if let Some(only) = &opts.files.only {
                // The CLI refused an index past the last file already.
                start.files = FilePlan::only_once_known(&meta.info, only, opts.files.sequential);
            }
            run(start, listen_log, meta, opts, cmd_rx)
        },
    ));
    Engine {
        id,
        snapshots: snap_rx,
        session: head_rx,
        commands: cmd_tx,
        done,
    }
}

/// Runs the torrent that `begin` starts in a session of its own, which it closes after.
/// Listens before the torrent's (possibly long) resume check, so peers that dial us meanwhile
/// wait for our handshake instead of being refused and backing off. The blocklist is in force
/// before the first dial, as in a session; what the session says of itself goes to `head`
/// once a second while the torrent runs.
async fn own_session<F, Fut>(
    opts: Options,
    head: watch::Sender<Arc<SessionSnapshot>>,
    begin: F,
) -> TorrentEnd
where
    F: FnOnce(&Session, Options, Vec<(LogLevel, String)>) -> Fut,
    Fut: std::future::Future<Output = TorrentEnd>,
{
    let (mut session, listen_log) = Session::start(&opts).await;
    let blocklist = match &opts.blocklist {
        Some(source) => {
            let filter = Arc::clone(&session.ctx.ip_filter);
            match Loader::start_loaded(source.clone(), opts.blocklist_every, filter).await {
                Ok(loader) => Some(loader),
                Err(why) => {
                    session.close().await;
                    return TorrentEnd::Failed(why.to_string());
                }
            }
        }
        None => None,
    };
    let (window, output) = (opts.reachability_window, opts.output.clone());
    let torrent = begin(&session, opts, listen_log);
    tokio::pin!(torrent);
    let mut tick = tokio::time::interval(HEAD_EVERY);
    let outcome = loop {
        tokio::select! {
            end = &mut torrent => break end,
            _ = tick.tick() => {
                let now = SessionSnapshot {
                    default_save_path: output.clone(),
                    blocklist: blocklist.as_ref().map(Loader::status),
                    ..session.head(window).await
                };
                head.send_if_modified(|h| {
                    let changed = **h != now;
                    if changed {
                        *h = Arc::new(now);
                    }
                    changed
                });
            }
        }
    };
    session.close().await;
    outcome
}

/// How often a one-torrent session publishes what it says of itself.
const HEAD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A torrent that has its session to itself and saves nothing.
fn headless_start(
    id: TorrentId,
    session: &Session,
    snapshots: watch::Sender<Arc<Snapshot>>,
    sequential: bool,
) -> Start {
    Start {
        id,
        ctx: session.ctx.clone(),
        trusted: None,
        trusted_from_run: false,
        to_check: Vec::new(),
        lifetime: Lifetime::default(),
        paused: false,
        files: FilePlan {
            sequential,
            ..FilePlan::default()
        },
        rates: session.ctx.rates.torrent(Default::default()),
        super_seeding: false,
        snapshots: Snapshots::with(snapshots),
        line: watch::channel(TorrentLine::placeholder(id)).0,
        reports: None,
        borrowed: Default::default(),
    }
}
