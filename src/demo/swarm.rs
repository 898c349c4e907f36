//! The swarm around the download: the tracker, the third-party seeders, the in-process fake
//! peers and the in-process ttui seeder, each started by one function, and the shares of the
//! download rate they are throttled to.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::DemoArgs;
use crate::engine::host::Storage;
use crate::engine::{self, Options};
use crate::fmt;
use crate::protocol::metainfo::Metainfo;

use super::fake::{self, Behaviour, Have, ServeSpec};
use super::procs::{self, Procs};
use super::seeders::{self, RealSeeder, SeedJob};
use super::DemoError;

/// Fraction of the demo's time the choker stays choked, and when the leaver leaves.
const CHOKE_UNTIL: f64 = 0.3;
const LEAVE_AT: f64 = 0.45;

/// How the download rate is split between seeders, as shares of `size / seconds`, scaled so the
/// seeders that actually help, weighted by the part of the time they help, add up to it.
pub(super) struct Shares {
    fast: f64,
    slow: f64,
    choker: f64,
    partial: f64,
    leaver: f64,
    liar: f64,
    libtorrent: f64,
    aria2: f64,
    transmission: f64,
    scale: f64,
    /// Bytes per second the whole download should average.
    per_second: f64,
}

impl Shares {
    pub(super) fn new(total: u64, seconds: u64, with_real: bool) -> Shares {
        let mut s = Shares {
            fast: 0.30,
            slow: 0.02,
            choker: 0.20,
            partial: 0.15,
            leaver: 0.15,
            liar: 0.03,
            libtorrent: 0.25,
            aria2: 0.20,
            transmission: 0.20,
            scale: 1.0,
            per_second: (total as f64 / seconds as f64).max(16.0 * 1024.0),
        };
        // Transmission sends nothing for its first ~10 s; the partial seeder runs out of useful
        // pieces before the end; the liar's data is all thrown away.
        let secs = seconds as f64;
        let mut effective = s.fast
            + s.slow
            + s.choker * (1.0 - CHOKE_UNTIL)
            + s.partial * 0.7
            + s.leaver * LEAVE_AT;
        if with_real {
            effective += s.libtorrent + s.aria2 + s.transmission * (1.0 - 12.0 / secs).max(0.1);
        }
        // 12% of the payload comes from the unthrottled ttui seeder; 10% headroom for ramp-up.
        s.scale = 0.88 * 1.1 / effective;
        s
    }

    fn rate(&self, share: f64) -> u64 {
        (self.per_second * share * self.scale).max(8.0 * 1024.0) as u64
    }
}

/// Starts opentracker on `port`; on failure the torrent loses its trackers and peers are given
/// directly. Returns the HTTP announce URL when it runs.
pub(super) fn start_tracker(
    procs: &mut Procs,
    dir: &Path,
    port: u16,
    meta: &mut Metainfo,
    tiers: &[Vec<String>],
) -> Option<String> {
    match procs.start_opentracker(dir, port, &meta.info_hash_hex()) {
        Ok(()) => {
            eprintln!("demo: opentracker on 127.0.0.1:{port} (http and udp)");
            tiers.first().and_then(|t| t.first()).cloned()
        }
        Err(e) => {
            eprintln!("demo: no tracker ({e}); peers are given directly");
            meta.trackers.clear();
            None
        }
    }
}

type StartSeeder = fn(&mut Procs, &SeedJob, Ipv4Addr, u64) -> Result<RealSeeder, DemoError>;

/// The third-party seeders that are installed, each throttled and on its own 127.0.0.x;
/// returns those that came up. Must run on the main thread (see [`Procs::spawn`]).
pub(super) fn start_real_seeders(
    procs: &mut Procs,
    args: &DemoArgs,
    job: &SeedJob,
    total: u64,
    info_hash_hex: &str,
) -> Result<Vec<RealSeeder>, DemoError> {
    if args.no_external {
        return Ok(Vec::new());
    }
    let shares = Shares::new(total, args.seconds, true);
    let transmission =
        procs::have_program("transmission-daemon") && procs::have_program("transmission-remote");
    let plan: [(&str, bool, StartSeeder, u8, f64); 4] = [
        (
            "libtorrent",
            procs::have_libtorrent(),
            seeders::start_libtorrent,
            2,
            shares.libtorrent / 2.0,
        ),
        // The libtorrent share split with a uTP-only one (reachable over uTP alone).
        (
            "libtorrent (uTP only)",
            procs::have_libtorrent(),
            seeders::start_libtorrent_utp,
            21,
            shares.libtorrent / 2.0,
        ),
        (
            "aria2c",
            procs::have_program("aria2c"),
            seeders::start_aria2,
            3,
            shares.aria2,
        ),
        (
            "transmission",
            transmission,
            seeders::start_transmission,
            4,
            shares.transmission,
        ),
    ];
    let mut started = Vec::new();
    for (name, installed, start, last_octet, share) in plan {
        if !installed {
            continue;
        }
        let ip = Ipv4Addr::new(127, 0, 0, last_octet);
        match start(procs, job, ip, shares.rate(share)) {
            Ok(s) => started.push(s),
            Err(e) => eprintln!("demo: skipping {name}: {e}"),
        }
    }
    let mut ready = Vec::new();
    for s in started {
        let up = match s.rpc {
            // No TCP probe for Transmission: it takes one pending handshake per IP, and a
            // probe's connection from 127.0.0.1 would make it refuse the real download.
            Some(rpc) => seeders::wait_transmission_seeding(
                procs,
                job.dir,
                rpc,
                s.addr,
                info_hash_hex,
                Duration::from_secs(30),
            ),
            None => procs.wait_listening(s.name, s.addr, Duration::from_secs(15)),
        };
        match up {
            Ok(()) => ready.push(s),
            Err(DemoError::Interrupted) => return Err(DemoError::Interrupted),
            Err(e) => eprintln!("demo: skipping {}: {e}", s.name),
        }
    }
    Ok(ready)
}

/// Where the download finds the in-process peers: addresses it is given directly, and the
/// ports of fakes that register with the tracker instead.
#[derive(Default)]
pub(super) struct FakePeers {
    pub manual: Vec<SocketAddr>,
    pub announce: Vec<u16>,
}

/// The fake peers, one behaviour each.
pub(super) async fn start_fakes(
    meta: &Metainfo,
    storage: Storage,
    shares: &Shares,
    seconds: u64,
    with_tracker: bool,
) -> Result<FakePeers, DemoError> {
    let payload = Arc::new(fake::Payload {
        info_hash: meta.info_hash,
        info: meta.info.clone(),
        storage,
    });
    let start = tokio::time::Instant::now();
    let secs = seconds as f64;
    let at = |fraction: f64| start + Duration::from_secs_f64(secs * fraction);
    let stripe = (meta.info.num_pieces() / 20).max(1);
    let plain = |client: String, share: f64| ServeSpec {
        client,
        rate: shares.rate(share),
        have: Have::All,
        choke_until: None,
        leave_at: None,
        corrupt: false,
    };
    let per_sec = |share: f64| fmt::bytes_precise(shares.rate(share));
    // Client names (BEP 10 `v`) say what each one does; they fit the client column.
    let serving = [
        (
            "fast",
            plain(
                format!("demo: fast {}/s", per_sec(shares.fast)),
                shares.fast,
            ),
        ),
        (
            "slow",
            plain(
                format!("demo: slow {}/s", per_sec(shares.slow)),
                shares.slow,
            ),
        ),
        (
            "choker",
            ServeSpec {
                choke_until: Some(at(CHOKE_UNTIL)),
                ..plain(
                    format!("demo: chokes till {:.0}s", secs * CHOKE_UNTIL),
                    shares.choker,
                )
            },
        ),
        (
            "partial",
            ServeSpec {
                have: Have::Stripes { run: stripe },
                ..plain("demo: has half".into(), shares.partial)
            },
        ),
        (
            "leaver",
            ServeSpec {
                leave_at: Some(at(LEAVE_AT)),
                ..plain(
                    format!("demo: leaves at {:.0}s", secs * LEAVE_AT),
                    shares.leaver,
                )
            },
        ),
        (
            "liar",
            ServeSpec {
                corrupt: true,
                ..plain("demo: corrupt data".into(), shares.liar)
            },
        ),
    ];
    let fakes = serving
        .into_iter()
        .map(|(label, spec)| (label, Behaviour::Serve(spec), true))
        .chain([
            ("wrong info hash", Behaviour::WrongInfoHash, false),
            ("garbage", Behaviour::Garbage, false),
            ("silent", Behaviour::Silent, false),
        ]);
    let mut peers = FakePeers::default();
    for (label, behaviour, announced) in fakes {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| DemoError::Net(format!("bind: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DemoError::Net(e.to_string()))?;
        eprintln!("demo: {label:>16} peer on {addr}");
        fake::spawn(listener, behaviour, payload.clone());
        if announced && with_tracker {
            peers.announce.push(addr.port());
        } else {
            peers.manual.push(addr);
        }
    }
    Ok(peers)
}

/// The in-process ttui seeder over `root` (a copy of the audio files), unthrottled: it holds
/// little.
pub(super) fn start_ttui_seeder(meta: &Metainfo, root: &Path) -> engine::Engine {
    let mut seeder_meta = meta.clone();
    seeder_meta.trackers.clear();
    engine::start(
        seeder_meta,
        Options {
            output: root.to_path_buf(),
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            peers: Vec::new(),
            seed: true,
            max_peers: 8,
            use_trackers: false,
            check_threads: 1,
            ..Options::default()
        },
    )
}

/// Registers the serving fakes with the tracker, so its column shows both sources. Returns the
/// addresses of those it did not take, to be given to the download directly.
pub(super) async fn announce_fakes(
    url: &str,
    info_hash: [u8; 20],
    ports: &[u16],
) -> Result<Vec<SocketAddr>, DemoError> {
    let http = crate::tracker::http_client_builder()
        .no_proxy()
        .build()
        .map_err(|e| DemoError::Net(e.to_string()))?;
    let mut missed = Vec::new();
    for &port in ports {
        let req = crate::tracker::AnnounceRequest {
            info_hash,
            peer_id: *b"-DM0001-announcedemo",
            port,
            progress: crate::tracker::Progress {
                uploaded: 0,
                downloaded: 0,
                left: 0,
            },
            event: crate::tracker::AnnounceEvent::Started,
            numwant: 0,
        };
        let ok = tokio::time::timeout(
            Duration::from_secs(5),
            crate::tracker::announce(url, &req, &http),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if !ok {
            missed.push(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        }
    }
    Ok(missed)
}
