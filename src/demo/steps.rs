//! The demo's steps, in order: the payload, its torrents, the tracker, the third-party
//! seeders (and their DHT swarm), the in-process peers, then the download. Each step stops
//! early on a signal (`Ctx`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::payload::{self, payload_spec, piece_length_for, Torrents, NAME};
use super::procs::{self, Procs};
use super::seeders::{RealSeeder, SeedJob};
use super::spec::PayloadSpec;
use super::swarm::{self, Shares};
use super::{dht, Ctx, DemoError, Signals};
use crate::cli::logging::{default_log_path, init_logging};
use crate::cli::DemoArgs;
use crate::engine::host::Storage;
use crate::engine::{self, Options};
use crate::fmt;
use crate::protocol::metainfo::Metainfo;

pub(super) async fn demo_main(
    args: &DemoArgs,
    dir: &Path,
    procs: &mut Procs,
) -> Result<i32, DemoError> {
    let mut ctx = Ctx::new(procs)?;
    let spec = payload_spec(args.size_mib);
    let total = spec.total_size();
    let seed_root = dir.join("seed");
    let payload_dir = seed_root.join(NAME);
    write_payload(&mut ctx, &spec, &payload_dir).await?;

    let tracker_port = if !args.no_external && procs::have_program("opentracker") {
        Some(procs::free_port(Ipv4Addr::LOCALHOST)?)
    } else {
        None
    };
    let tiers = tracker_tiers(tracker_port);
    let torrents = make_torrents(&mut ctx, dir, &payload_dir, total, &tiers).await?;
    let mut meta = torrents.meta;
    let tracker_url =
        tracker_port.and_then(|port| swarm::start_tracker(procs, dir, port, &mut meta, &tiers));

    let job = SeedJob {
        dir,
        torrent: &torrents.seeders_torrent,
        data_dir: &seed_root,
    };
    let (real, dht_nodes) = start_third_party(procs, args, &job, total, &meta)?;
    ctx.check_cancel()?;
    let shares = Shares::new(total, args.seconds, !real.is_empty());

    let with_tracker = tracker_url.is_some();
    let fakes = start_fakes(
        &mut ctx,
        &seed_root,
        &meta,
        &shares,
        (args.seconds, with_tracker),
    );
    let fakes = fakes.await?;
    let mut manual: Vec<SocketAddr> = real.iter().map(|s| s.addr).collect();
    manual.extend(fakes.manual);
    for s in &real {
        let rate = fmt::bytes_precise(s.rate);
        eprintln!("demo: {:>16} on {} at {rate}/s", s.name, s.addr);
    }
    // A port nobody listens on: "connection refused".
    let closed = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port(Ipv4Addr::LOCALHOST)?));
    eprintln!("demo: {:>16} on {closed}", "closed port");
    manual.push(closed);
    let (ttui_seeder, seeder_port) =
        start_ttui_seeder(&mut ctx, dir, (&spec, &payload_dir), &meta).await?;
    manual.push(SocketAddr::from((Ipv4Addr::LOCALHOST, seeder_port)));
    if let Some(url) = &tracker_url {
        manual.extend(swarm::announce_fakes(url, meta.info_hash, &fakes.announce).await?);
    }

    let result = download(
        args,
        dir,
        meta,
        (manual, dht_nodes),
        with_tracker,
        &mut ctx.signals,
    )
    .await;
    let _ = ttui_seeder.commands.send(crate::engine::api::Command::Quit);
    let _ = tokio::time::timeout(Duration::from_secs(3), ttui_seeder.done).await;
    result
}

/// The payload, one file at a time so a signal stops it between files.
async fn write_payload(
    ctx: &mut Ctx,
    spec: &PayloadSpec,
    payload_dir: &Path,
) -> Result<(), DemoError> {
    eprintln!(
        "demo: writing {} of payload in {} files",
        fmt::bytes_precise(spec.total_size()),
        spec.files.len()
    );
    let (spec2, payload2) = (spec.clone(), payload_dir.to_path_buf());
    ctx.blocking(move |cancel| payload::write_payload(&spec2, &payload2, &cancel))
        .await
}

/// The torrents of the payload (see [`Torrents`]), with `tiers` for ttui's.
async fn make_torrents(
    ctx: &mut Ctx,
    dir: &Path,
    payload_dir: &Path,
    total: u64,
    tiers: &[Vec<String>],
) -> Result<Torrents, DemoError> {
    let piece_length = piece_length_for(total);
    eprintln!("demo: hashing ({} KiB pieces)", piece_length / 1024);
    let (dir2, payload2, tiers2) = (dir.to_path_buf(), payload_dir.to_path_buf(), tiers.to_vec());
    ctx.blocking(move |_| payload::make_torrents(&dir2, &payload2, piece_length, &tiers2))
        .await
}

/// Third-party seeders, each throttled, and libtorrent's DHT swarm when it is installed;
/// started from this (the main) thread.
fn start_third_party(
    procs: &mut Procs,
    args: &DemoArgs,
    job: &SeedJob,
    total: u64,
    meta: &Metainfo,
) -> Result<(Vec<RealSeeder>, Option<Vec<String>>), DemoError> {
    let real = swarm::start_real_seeders(procs, args, job, total, &meta.info_hash_hex())?;
    let dht_nodes = if args.no_external || !procs::have_libtorrent() {
        None
    } else {
        match dht::start(procs, job, total / args.seconds.max(1) / 8) {
            Ok(nodes) => Some(nodes),
            Err(DemoError::Interrupted) => return Err(DemoError::Interrupted),
            Err(e) => {
                eprintln!("demo: no DHT swarm: {e}");
                None
            }
        }
    };
    Ok((real, dht_nodes))
}

/// The in-process fake peers, serving from the seed directory.
async fn start_fakes(
    ctx: &mut Ctx,
    seed_root: &Path,
    meta: &Metainfo,
    shares: &Shares,
    (seconds, with_tracker): (u64, bool),
) -> Result<swarm::FakePeers, DemoError> {
    let (root2, info2) = (seed_root.to_path_buf(), meta.info.clone());
    let storage = ctx
        .blocking(move |_| {
            Storage::open(&root2, &info2).map_err(|e| DemoError::Setup(format!("payload: {e}")))
        })
        .await?;
    swarm::start_fakes(meta, storage, shares, seconds, with_tracker).await
}

/// A ttui seeder holding part of the payload (`audio/`), and the port it listens on.
async fn start_ttui_seeder(
    ctx: &mut Ctx,
    dir: &Path,
    (spec, payload_dir): (&PayloadSpec, &Path),
    meta: &Metainfo,
) -> Result<(engine::Engine, u16), DemoError> {
    let partial_root = dir.join("partial");
    let (spec2, from, to) = (
        spec.clone(),
        payload_dir.to_path_buf(),
        partial_root.join(NAME),
    );
    ctx.blocking(move |_| payload::copy_partial(&spec2, &from, &to))
        .await?;
    let ttui_seeder = swarm::start_ttui_seeder(meta, &partial_root);
    let seeder_port = wait_port(&ttui_seeder, &mut ctx.signals).await?;
    eprintln!(
        "demo: {:>16} on 127.0.0.1:{seeder_port} (holds audio/)",
        "ttui seeder"
    );
    Ok((ttui_seeder, seeder_port))
}

/// The tracker's tiers when opentracker will run on `port`: HTTP first, then UDP.
fn tracker_tiers(port: Option<u16>) -> Vec<Vec<String>> {
    port.map(|p| {
        vec![
            vec![format!("http://127.0.0.1:{p}/announce")],
            vec![format!("udp://127.0.0.1:{p}")],
        ]
    })
    .unwrap_or_default()
}

/// ttui downloading from the swarm into `dir/download`, in the TUI or with progress lines.
async fn download(
    args: &DemoArgs,
    dir: &Path,
    meta: Metainfo,
    (peers, dht): (Vec<SocketAddr>, Option<Vec<String>>),
    use_trackers: bool,
    signals: &mut Signals,
) -> Result<i32, DemoError> {
    // The usual log file, not the temp dir: the log should outlive the demo it explains.
    let log_path = default_log_path();
    init_logging(&log_path).map_err(DemoError::Setup)?;
    let total = meta.info.total_length;
    let opts = Options {
        output: dir.join("download"),
        port: 0,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        peers,
        // The TUI keeps the finished swarm on screen until the user quits.
        seed: !args.headless,
        max_peers: 50,
        use_trackers,
        // Only the demo's own loopback nodes, never a public router.
        dht,
        // Never ask a router for a port: the demo talks to loopback only.
        port_mapping: None,
        // Loopback peers: no Local Service Discovery (off in `Options::default()` too).
        lsd: false,
        ..Options::default()
    };
    eprintln!(
        "demo: downloading {NAME} ({}) into {}",
        fmt::bytes_precise(total),
        opts.output.display()
    );
    if args.headless {
        // watch_headless handles SIGINT/SIGTERM itself (graceful quit, exit code 130).
        tokio::select! {
            r = crate::cli::run::run_headless(meta, opts) => r.map_err(DemoError::Setup),
            _ = signals.hup.recv() => Ok(130),
        }
    } else {
        let r = tokio::select! {
            r = crate::cli::run::run_tui(meta, opts, log_path) => r.map_err(DemoError::Setup),
            _ = signals.recv() => Ok(130),
        };
        // Dropping the UI future mid-frame leaves the terminal raw; restore is idempotent.
        let _ = crate::ui::tui::restore();
        r
    }
}

/// Waits (bounded) until an in-process engine has bound its listening port.
async fn wait_port(eng: &engine::Engine, signals: &mut Signals) -> Result<u16, DemoError> {
    let mut rx = eng.snapshots.clone();
    let wait = async {
        loop {
            let port = rx.borrow_and_update().listen_port;
            if port != 0 {
                return Ok(port);
            }
            if rx.changed().await.is_err() {
                return Err(DemoError::NotReady(
                    "ttui seeder".into(),
                    "engine ended".into(),
                ));
            }
        }
    };
    tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(20), wait) => {
            r.map_err(|_| DemoError::NotReady("ttui seeder".into(), "no listening port after 20 s".into()))?
        }
        _ = signals.recv() => Err(DemoError::Interrupted),
    }
}
