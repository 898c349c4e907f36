//! `ttui`, `ttui FILE|MAGNET|URL...` on a terminal, and `ttui daemon`: the session of many
//! torrents, kept in the state directory. One session per state directory (a lock); a second
//! `ttui FILE` hands its torrents to the running one over the control socket and exits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::logging::{default_log_path, init_logging};
use crate::cli::run::{absolute, options, state_dir};
use crate::cli::target::Target;
use crate::cli::DownloadArgs;
use crate::control::proto::{AddItem, Request, Response};
use crate::engine::api::{AddOptions, Added, Client, TorrentId};
use crate::engine::host::load::{fetch_url, read_source, Source, URL_TIMEOUT};
use crate::engine::host::{self, try_lock, LockError, Persist, SessionHandle, SessionLock, Store};

/// How long quitting waits for the session to stop its torrents and save them.
const STOP_WAIT: Duration = Duration::from_secs(12);

/// What the command line asks the session to add, read on this side (a file or a URL may
/// not be readable by a session on another machine).
pub(crate) async fn read_items(args: &[PathBuf]) -> Result<Vec<AddItem>, String> {
    let mut items = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if text.to_ascii_lowercase().starts_with("magnet:") {
            items.push(AddItem::Magnet(text.into_owned()));
            continue;
        }
        let src = Source::of(arg);
        let bytes = match src {
            Source::Url(u) => fetch_url(u, URL_TIMEOUT).await?,
            other => {
                let what = other.describe();
                let owned = arg.clone();
                tokio::task::spawn_blocking(move || read_source(Source::of(&owned)))
                    .await
                    .map_err(|e| format!("{what}: {e}"))??
            }
        };
        items.push(AddItem::Torrent {
            name: src.describe(),
            bytes,
        });
    }
    Ok(items)
}

/// The session's lock, or the running session to hand over to.
pub(crate) enum Claim {
    Ours(SessionLock),
    Running,
}

pub(crate) fn claim(state_dir: &Path) -> Result<Claim, String> {
    match try_lock(state_dir) {
        Ok(lock) => Ok(Claim::Ours(lock)),
        Err(LockError::Held { .. }) => Ok(Claim::Running),
        Err(e) => Err(format!("state directory {}: {e}", state_dir.display())),
    }
}

/// Starts the session of `state_dir` in this process: its saved torrents, its control socket.
pub(crate) async fn start_session(
    args: &DownloadArgs,
    state_dir: &Path,
) -> Result<(SessionHandle, tokio::task::JoinHandle<()>), String> {
    // First: a refused RPC stops the start before anything else is said or done.
    let rpc_settings = crate::rpc::RpcSettings {
        listen: args.rpc,
        ..args.rpc_settings.clone()
    };
    let rpc = crate::rpc::bind(&rpc_settings)
        .await
        .map_err(|e| e.to_string())?;
    let qbt_settings = crate::qbt::QbtSettings {
        listen: args.qbt,
        ..args.qbt_settings.clone()
    };
    let qbt = crate::qbt::bind(&qbt_settings)
        .await
        .map_err(|e| e.to_string())?;
    let stream = crate::stream::bind(&args.stream_settings)
        .await
        .map_err(|e| e.to_string())?;
    let fds = crate::engine::host::raise_nofile_limit();
    tracing::info!(
        "descriptor limit {fds}; payload files open at once, all torrents together: at most {}",
        crate::engine::host::open_files_budget(fds)
    );
    let store = Store::open(state_dir).map_err(|e| e.to_string())?;
    let mut opts = options(args, true);
    if opts.output == Path::new(".") {
        opts.output = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    }
    let handle = host::spawn(opts, Some(Persist::new(store)));
    let client = handle.client();
    if let Some(dir) = &args.watch_dir {
        crate::cli::watch::spawn(absolute(dir), client.clone());
    }
    let socket = crate::control::paths::socket_path(state_dir, args.state_dir.is_none());
    let stream_at = stream.as_ref().map(crate::stream::Bound::local);
    let server = crate::control::verbs::start(&socket, client.clone(), stream_at)
        .await
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    // The stream server lives as long as the control socket's task: `stop` ends both.
    let server = match stream {
        Some(stream) => {
            let stream = stream.serve(client.clone());
            tokio::spawn(async move {
                let _stream = AbortOnDrop(stream);
                let _ = server.await;
            })
        }
        None => server,
    };
    let server = match qbt {
        Some(qbt) => {
            let facts = crate::qbt::Facts {
                max_peers: args.max_peers,
                dht: !args.no_dht,
                pex: !args.no_pex,
                lsd: !args.no_lsd,
            };
            let qbt = qbt.serve(facts, client.clone());
            tokio::spawn(async move {
                let _qbt = AbortOnDrop(qbt);
                let _ = server.await;
            })
        }
        None => server,
    };
    let server = match rpc {
        Some(rpc) => {
            let facts = crate::rpc::Facts {
                state_dir: state_dir.to_path_buf(),
                max_peers: args.max_peers,
                dht: !args.no_dht,
                pex: !args.no_pex,
                lsd: !args.no_lsd,
                utp: args.transport.utp(),
                encryption: match args.encryption {
                    crate::net::EncryptionPolicy::Require => "required",
                    crate::net::EncryptionPolicy::Prefer => "preferred",
                    crate::net::EncryptionPolicy::Off => "tolerated",
                },
                on_complete: args.on_complete.as_deref().map(absolute),
            };
            let rpc = rpc.serve(facts, client);
            // One handle for both faces: aborting it (`stop`) ends the RPC task too.
            tokio::spawn(async move {
                let _rpc = AbortOnDrop(rpc);
                let _ = server.await;
            })
        }
        None => server,
    };
    Ok((handle, server))
}

/// Adds the items to an in-process session; returns the first torrent added (or already
/// there) and the lines to print about the others.
pub(crate) async fn add_all(
    client: &Client,
    items: Vec<AddItem>,
    save_path: Option<PathBuf>,
    (paused, files): (bool, crate::engine::api::AddFiles),
) -> (Option<TorrentId>, Vec<String>) {
    let mut first = None;
    let mut lines = Vec::new();
    for item in items {
        let source = match item.resolve().await {
            Ok(source) => source,
            Err(e) => {
                lines.push(format!("error: {e}"));
                continue;
            }
        };
        let opts = AddOptions {
            save_path: save_path.clone(),
            paused,
            files: files.clone(),
            labels: Vec::new(),
        };
        match client.add(source, opts).await {
            Ok(Added::New { id, name, .. }) | Ok(Added::Already { id, name, .. }) => {
                first.get_or_insert(id);
                lines.push(format!("{id} {}", crate::fmt::outside(&name, 200)));
            }
            Err(e) => lines.push(format!("error: {e}")),
        }
    }
    (first, lines)
}

/// `ttui [FILE|MAGNET|URL...]` on a terminal: add to the session (this process's, or hand
/// over to the running one) and show the first torrent live.
pub(crate) fn run(args: DownloadArgs, files: Vec<PathBuf>) -> Result<i32, String> {
    if files.is_empty() {
        crate::cli::run::refuse_files_without_torrent(&args)?;
    }
    crate::engine::host::ignore_sigxfsz();
    crate::alloc::tune();
    let log_path = args.log_file.clone().unwrap_or_else(default_log_path);
    init_logging(&log_path)?;
    let dir = state_dir(&args);
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let add = crate::cli::run::add_files(&args)?;
        let items = read_items(&files).await?;
        let save_path = (args.output != Path::new(".")).then(|| absolute(&args.output));
        let lock = match claim(&dir)? {
            Claim::Running => return hand_over(&dir, &args, items, (save_path, add)).await,
            Claim::Ours(lock) => lock,
        };
        let (handle, server) = start_session(&args, &dir).await?;
        let (first, lines) = add_all(&handle.client(), items, save_path, (false, add)).await;
        for l in lines.iter().filter(|l| l.starts_with("error")) {
            eprintln!("{l}");
        }
        let socket = crate::control::paths::socket_path(&dir, args.state_dir.is_none());
        let player = crate::cli::play::for_screen(Target::Local(socket), None);
        let result =
            crate::ui::run_session(Arc::new(handle.client()), log_path, first, Some(player))
                .await
                .map(|()| 0)
                .map_err(|e| format!("terminal: {e}"));
        stop(handle, server).await;
        drop(lock);
        result
    })
}

/// `ttui FILE` without a terminal: when a session runs on the state directory, hands the
/// torrents to it (Some(exit code)); None when none runs, and the caller downloads alone.
pub(crate) fn hand_over_if_running(
    args: &DownloadArgs,
    files: &[PathBuf],
) -> Result<Option<i32>, String> {
    let dir = state_dir(args);
    if files.is_empty() || !matches!(claim(&dir)?, Claim::Running) {
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let add = crate::cli::run::add_files(args)?;
        let items = read_items(files).await?;
        let save_path = (args.output != Path::new(".")).then(|| absolute(&args.output));
        hand_over(&dir, args, items, (save_path, add)).await
    })
    .map(Some)
}

/// Stops the session (every torrent saved) and its control socket.
pub(crate) async fn stop(handle: SessionHandle, server: tokio::task::JoinHandle<()>) {
    let _ = handle.client().shutdown();
    let _ = tokio::time::timeout(STOP_WAIT, handle.done).await;
    server.abort();
}

/// Hands the items to the session that runs on `dir` and prints what it did.
async fn hand_over(
    dir: &Path,
    args: &DownloadArgs,
    items: Vec<AddItem>,
    (save_path, files): (Option<PathBuf>, crate::engine::api::AddFiles),
) -> Result<i32, String> {
    let socket = crate::control::paths::socket_path(dir, args.state_dir.is_none());
    let mut client = crate::control::client::Client::connect(&socket)
        .await
        .map_err(|e| e.message)?;
    if items.is_empty() {
        return Err(format!(
            "a ttui session already runs on {} (see it with `ttui attach` or `ttui list`)",
            dir.display()
        ));
    }
    let req = Request::Add {
        items,
        save_path,
        paused: false,
        files,
        labels: Vec::new(),
    };
    match client.request(&req).await.map_err(|e| e.message)? {
        Response::Added(results) => {
            print!("{}", crate::cli::verbs_fmt::add_lines(&results));
            Ok(if results.iter().any(|r| r.error.is_some()) {
                1
            } else {
                0
            })
        }
        Response::Error(e) => Err(e.message),
        other => Err(format!("unexpected answer from the session: {other:?}")),
    }
}

/// Ends a task when dropped (when the task holding it is aborted).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
