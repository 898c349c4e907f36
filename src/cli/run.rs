//! `ttui <TORRENT>` and `ttui seed <TORRENT>`: load the torrent (or fetch a magnet's metadata),
//! start the engine, and hand its snapshots to the TUI or to the headless progress lines.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::logging::{default_log_path, init_logging};
use crate::cli::DownloadArgs;
use crate::engine::api::Command;
use crate::engine::{self, Options, TorrentEnd};
use crate::protocol::metainfo::Metainfo;

use super::headless::watch_headless;

pub(crate) fn options(args: &DownloadArgs, seed: bool) -> Options {
    Options {
        output: args.output.clone(),
        port: args.port,
        bind: args.bind,
        peers: args.peers.clone(),
        seed,
        max_peers: args.max_peers.max(1),
        use_trackers: !args.no_trackers,
        encryption: args.encryption,
        transport: args.transport,
        dht: dht_bootstrap(args),
        pex: !args.no_pex,
        lsd: !args.no_lsd,
        cross_seed: !args.no_cross_seed,
        webtorrent: !args.no_webtorrent,
        stun_server: stun_server(args),
        state_dir: Some(state_dir(args)),
        dht_rate_limit: args.dht_rate_limit,
        queue: args.queue.settings(),
        goals: args.queue.goals(),
        goal_action: args.queue.seed_goal_action,
        rates: args.rates.options(),
        // Checked in `run_download` and `session::run`; a bad list there is an error.
        files: add_files(args).unwrap_or_default(),
        labels: args.labels.clone(),
        trackers: args.trackers.clone(),
        incomplete_dir: args.incomplete_dir.as_deref().map(absolute),
        sequential: false,
        on_complete: crate::engine::api::OnComplete {
            program: args.on_complete.as_deref().map(absolute),
            timeout: args.on_complete_timeout,
        },
        blocklist: args.blocklist.as_deref().map(blocklist_source),
        blocklist_every: std::time::Duration::from_secs(
            u64::from(args.blocklist_update_hours) * 3600,
        ),
        proxy: args.proxy.clone(),
        proxy_only: args.proxy_only,
        interface: args.interface.clone(),
        port_mapping: port_mapping(args),
        reachability_window: test_reachability_window(),
        ..Options::default()
    }
}

/// Test only (`TTUI_TEST_REACHABILITY_SECS`): the explainer's reachability window in seconds,
/// so a test sees "nobody has dialed us" without waiting 30 minutes. Anything but a whole
/// number of seconds above 0 leaves the 30 minutes.
fn test_reachability_window() -> Option<Duration> {
    let secs: u64 = std::env::var(crate::engine::api::TEST_REACHABILITY_ENV)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// What port mapping asks, or None when it is off. Under `TTUI_NO_PUBLIC_ROUTERS` no router
/// is looked for: only a `--port-mapping-gateway` or `--port-mapping-igd` on loopback is asked.
fn port_mapping(args: &DownloadArgs) -> Option<crate::engine::api::PortMapSettings> {
    // Under --proxy-only nothing listens and nothing leaves but through the proxy, the
    // router included.
    if args.no_port_mapping || args.proxy_only {
        return None;
    }
    let tests = std::env::var_os(NO_PUBLIC_ROUTERS_ENV).is_some();
    // Under tests only what is named on loopback is asked, and nothing else is looked for
    // (no default route's gateway, no SSDP multicast).
    let loopback = |is_loopback: bool| !tests || is_loopback;
    let gateway = args
        .port_mapping_gateway
        .filter(|g| loopback(g.ip().is_loopback()));
    let igd = args
        .port_mapping_igd
        .clone()
        .filter(|u| loopback(crate::engine::api::igd_is_loopback(u)));
    // A test that writes the route table the mapper reads follows its gateway on loopback.
    let route_test = std::env::var_os(crate::engine::api::TEST_ROUTE_TABLE_ENV).is_some();
    if tests && gateway.is_none() && igd.is_none() && !route_test {
        return None;
    }
    Some(crate::engine::api::PortMapSettings {
        gateway,
        igd,
        discover: !tests,
        lease: args.port_mapping_lease,
    })
}

/// A URL as given; a path made absolute (the daemon may run elsewhere).
fn blocklist_source(s: &str) -> String {
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        absolute(std::path::Path::new(s)).display().to_string()
    }
}

/// `--only-files` and `--sequential` where no torrent is named (`ttui daemon`, `ttui` alone):
/// one line saying where they go, rather than ignoring them.
pub(crate) fn refuse_files_without_torrent(args: &DownloadArgs) -> Result<(), String> {
    if args.only_files.is_some() || args.sequential {
        return Err("--only-files and --sequential go with a torrent: \
                    `ttui add --only-files LIST FILE|MAGNET` or `ttui FILE --only-files LIST`"
            .into());
    }
    Ok(())
}

/// `--only-files` and `--sequential` as an add asks for them (the indices are checked
/// against the file count once it is known).
pub(crate) fn add_files(args: &DownloadArgs) -> Result<crate::engine::api::AddFiles, String> {
    let only = match args.only_files.as_deref() {
        Some(list) => {
            Some(crate::engine::api::parse_file_list(list, None).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    Ok(crate::engine::api::AddFiles {
        complete: false,
        only,
        sequential: args.sequential,
        first_last: false,
        subfolder: false,
    })
}

/// Set by the test command, the benchmarks and the demo's child processes: a run that forgot
/// `--dht-bootstrap` then runs a DHT node that knows nobody instead of contacting the
/// public routers (which a test must never do).
pub(crate) const NO_PUBLIC_ROUTERS_ENV: &str = "TTUI_NO_PUBLIC_ROUTERS";

/// The DHT's bootstrap nodes: `--dht-bootstrap`, else the well-known public routers;
/// None with `--no-dht`.
/// The STUN server WebRTC asks when none is named.
pub(crate) const DEFAULT_STUN: &str = "stun.l.google.com:19302";

/// The STUN server to ask: the one named, none for `off`, else the default (none under
/// `TTUI_NO_PUBLIC_ROUTERS`: tests and the demo ask only a server they name).
pub(crate) fn stun_server(args: &DownloadArgs) -> Option<String> {
    match args.stun_server.as_deref().map(str::trim) {
        Some("off" | "") => None,
        Some(s) => Some(s.to_string()),
        None if std::env::var_os(NO_PUBLIC_ROUTERS_ENV).is_some() => None,
        None => Some(DEFAULT_STUN.to_string()),
    }
}

pub(crate) fn dht_bootstrap(args: &DownloadArgs) -> Option<Vec<String>> {
    bootstrap_nodes(args.no_dht, &args.dht_bootstrap)
}

/// `dht_bootstrap` from the two flags (also used by `ttui peers`).
pub(crate) fn bootstrap_nodes(no_dht: bool, given: &[String]) -> Option<Vec<String>> {
    if no_dht {
        return None;
    }
    if !given.is_empty() {
        return Some(given.to_vec());
    }
    if std::env::var_os(NO_PUBLIC_ROUTERS_ENV).is_some() {
        tracing::warn!("{NO_PUBLIC_ROUTERS_ENV} is set: the DHT starts without bootstrap nodes");
        return Some(Vec::new());
    }
    Some(
        crate::dht::PUBLIC_ROUTERS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

/// `--state-dir`, else `$XDG_DATA_HOME/ttui`, else `~/.local/share/ttui`.
pub(crate) fn state_dir(args: &DownloadArgs) -> PathBuf {
    state_dir_of(args.state_dir.as_deref())
}

/// `state_dir` from the flag alone (the verbs have no download options).
pub(crate) fn state_dir_of(given: Option<&Path>) -> PathBuf {
    if let Some(d) = given {
        return d.to_path_buf();
    }
    // Neither variable absolute (the XDG spec says to ignore a relative one): the working
    // directory's, as before there was a rule.
    crate::engine::host::default_state_dir().unwrap_or_else(|| PathBuf::from(".local/share/ttui"))
}

/// `ttui <TORRENT>` and `ttui seed <TORRENT>`: the TUI on a terminal, progress lines otherwise.
/// Returns the process exit code.
pub(crate) fn run_download(args: DownloadArgs, seed_cmd: bool) -> Result<i32, String> {
    let Some(path) = args.torrent.clone() else {
        return Err("no torrent given (try `ttui --help` or `ttui demo`)".into());
    };
    crate::engine::host::ignore_sigxfsz();
    crate::alloc::tune();
    let log_path = args.log_file.clone().unwrap_or_else(default_log_path);
    init_logging(&log_path)?;
    let headless = args.headless || !std::io::stdout().is_terminal();
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let files = add_files(&args)?;
        let torrent = load_torrent_or_magnet(&path, &args)?;
        let known = match &torrent {
            Torrent::File(meta) => Some(&meta.info),
            Torrent::NeedsLayers(needs) => Some(&needs.summary().info),
            Torrent::Magnet(_) => None,
        };
        if let (Some(info), Some(only)) = (known, &files.only) {
            // Refused before anything starts; a magnet's list is checked once it is known.
            crate::engine::host::FilePlan::only(info, only, files.sequential)
                .map_err(|e| e.to_string())?;
        }
        if headless {
            let opts = options(&args, seed_cmd || args.seed);
            let give_up_after = give_up_after(&opts);
            watch_headless(start_engine(torrent, opts, true), give_up_after).await
        } else {
            run_tui_engine(start_engine(torrent, options(&args, true), false), log_path).await
        }
    })
}

/// What the command line names: a .torrent file, or a magnet link whose metadata the engine
/// fetches from peers (its session, and so its one DHT node, exists first).
pub(crate) enum Torrent {
    File(Box<Metainfo>),
    Magnet(crate::protocol::magnet::Magnet),
    /// A v2-only .torrent whose missing piece layers its peers send first.
    NeedsLayers(Box<crate::protocol::metainfo::layers::NeedsLayers>),
}

/// A .torrent file, or a parsed magnet link (its trackers dropped with `--no-trackers`).
pub(crate) fn load_torrent_or_magnet(path: &Path, args: &DownloadArgs) -> Result<Torrent, String> {
    let text = path.to_string_lossy();
    if !text.to_ascii_lowercase().starts_with("magnet:") {
        return Ok(
            match crate::engine::host::load::load_torrent_or_layers(path)? {
                Ok(meta) => Torrent::File(Box::new(meta)),
                Err(needs) => Torrent::NeedsLayers(needs),
            },
        );
    }
    let magnet = crate::protocol::magnet::Magnet::parse(&text).map_err(|e| e.to_string())?;
    let trackers = if args.no_trackers {
        Vec::new()
    } else {
        magnet.trackers.clone()
    };
    Ok(Torrent::Magnet(crate::protocol::magnet::Magnet {
        trackers,
        ..magnet
    }))
}

/// Starts the engine on a torrent file or a magnet link; `echo` prints a magnet's metadata
/// lines on stderr.
pub(crate) fn start_engine(torrent: Torrent, opts: Options, echo: bool) -> engine::Engine {
    match torrent {
        Torrent::File(meta) => engine::start(*meta, opts),
        Torrent::Magnet(m) => {
            let extra = opts.peers.clone();
            engine::start_magnet((m, None), extra, opts, echo)
        }
        Torrent::NeedsLayers(needs) => {
            let extra = opts.peers.clone();
            let mut magnet = needs.magnet();
            if !opts.use_trackers {
                magnet.trackers.clear();
            }
            engine::start_magnet(
                (magnet, Some(std::sync::Arc::from(needs))),
                extra,
                opts,
                echo,
            )
        }
    }
}

pub(crate) async fn run_tui(
    meta: Metainfo,
    opts: Options,
    log_path: PathBuf,
) -> Result<i32, String> {
    run_tui_engine(engine::start(meta, opts), log_path).await
}

pub(crate) async fn run_headless(meta: Metainfo, opts: Options) -> Result<i32, String> {
    let give_up_after = give_up_after(&opts);
    watch_headless(engine::start(meta, opts), give_up_after).await
}

/// How long a headless run waits with no peer left before it fails: longer when the DHT may
/// still find some.
fn give_up_after(opts: &Options) -> Duration {
    match opts.dht {
        Some(_) => super::headless::GIVE_UP_AFTER_WITH_DHT,
        None => super::headless::GIVE_UP_AFTER,
    }
}

pub(crate) async fn run_tui_engine(eng: engine::Engine, log_path: PathBuf) -> Result<i32, String> {
    let ui = crate::ui::run(eng.snapshots.clone(), eng.commands.clone(), log_path).await;
    let _ = eng.commands.send(Command::Quit);
    let outcome = tokio::time::timeout(Duration::from_secs(8), eng.done).await;
    ui.map_err(|e| format!("terminal: {e}"))?;
    match outcome {
        Ok(Ok(TorrentEnd::Failed(msg))) => Err(msg),
        _ => Ok(0),
    }
}

/// `p` made absolute against the current directory (as given when that fails).
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
