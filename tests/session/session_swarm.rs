//! Issue 19: one `ttui daemon` downloading 20 torrents at once from real clients
//! (python3-libtorrent, Transmission 3.00, aria2 1.36), their peers found four ways: an
//! opentracker, a loopback DHT of libtorrent nodes, peer exchange, and `--peer`; 19 added at
//! start, the 20th while the others run; every file byte-identical to the seeders'.
//!
//! What the real clients can serve here (see /work/shared/INTEROP.md): DHT sources are
//! libtorrent only (Transmission 3.00 drops 127/8 DHT nodes as martian; aria2's DHT was not
//! made to work on loopback); the PEX source is libtorrent's `ut_pex` plugin, naming an aria2
//! or libtorrent seeder (Transmission's PEX is not used: it never dials 127/8 peers, so it
//! cannot stay connected to a partial libtorrent peer that dials it as PEX needs).
//!
//! Run through tests/run.sh: every process is on loopback, inside a namespace with only `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::lt;
use crate::payload;
use crate::prereq;
mod swarm;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use lt::LtDht;
use payload::*;
use serde_json::Value;
use swarm::*;

/// 20 torrents of at most ~1.1 MiB; Transmission alone waits ~10 s before its first byte.
const DONE_WAIT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Src {
    Tracker,
    Dht,
    Pex,
    Peer,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Lt,
    Aria2,
    Transmission,
}

/// Torrent i: how ttui finds its seeder, and which client seeds it. The last one is added
/// while the others run.
const PLAN: [(Src, Client); 20] = {
    use Client::*;
    use Src::*;
    [
        (Tracker, Lt),
        (Tracker, Lt),
        (Tracker, Aria2),
        (Tracker, Aria2),
        (Tracker, Transmission),
        (Dht, Lt),
        (Dht, Lt),
        (Dht, Lt),
        (Dht, Lt),
        (Dht, Lt),
        (Pex, Aria2),
        (Pex, Lt),
        (Pex, Lt),
        (Peer, Lt),
        (Peer, Lt),
        (Peer, Aria2),
        (Peer, Aria2),
        (Peer, Transmission),
        (Peer, Lt),
        // Not a DHT torrent: one added to a running session was found by ttui's lookups only
        // after libtorrent dialed ttui (~80 s; its re-announce did not help), see the report.
        (Tracker, Lt),
    ]
};

/// A seeder started by the test; the DHT torrents' is the shared LtDht's first node.
enum Seed {
    Lt(LibtorrentPeer),
    Aria2(Aria2Seeder),
    Tr(TransmissionSeeder),
    Dht,
}

impl Seed {
    fn start(client: Client, t: &Torrent, data: &std::path::Path) -> Seed {
        match client {
            Client::Lt => Seed::Lt(LibtorrentPeer::start(t, data, LtOptions::default())),
            Client::Aria2 => Seed::Aria2(Aria2Seeder::start(t, data)),
            Client::Transmission => Seed::Tr(TransmissionSeeder::start(t, data)),
        }
    }

    fn uploaded(&mut self, t: &Torrent) -> Option<u64> {
        match self {
            Seed::Lt(p) => Some(p.uploaded_fresh()),
            Seed::Aria2(a) => Some(a.uploaded()),
            Seed::Tr(tr) => Some(tr.uploaded(t)),
            Seed::Dht => None,
        }
    }

    fn report(&mut self) -> String {
        match self {
            Seed::Lt(p) => p.report(),
            Seed::Aria2(a) => a.report(),
            Seed::Tr(tr) => tr.report(),
            Seed::Dht => String::new(),
        }
    }
}

/// One torrent of the plan: its payload, the torrent file ttui gets, its seeder(s).
struct Row {
    src: Src,
    client: Client,
    p: Payload,
    t: Torrent,
    seed: Seed,
    /// The PEX torrents' partial libtorrent peer, the only one ttui is told of.
    a: Option<LtHalf>,
}

fn ready() -> bool {
    require_loopback_only();
    prereq::have_python_libtorrent()
        && prereq::have_tools(&[
            "mktorrent",
            "opentracker",
            "aria2c",
            "transmission-daemon",
            "transmission-remote",
        ])
}

#[test]
fn twenty_torrents_at_once_from_real_clients_by_tracker_dht_pex_and_peer() {
    if !ready() {
        return;
    }
    let _swarm = swarm_lock();
    let t0 = Instant::now();
    let env = Env::new("ttui-swarm20-");
    let fx = env.root.path().join("fixtures");
    let data = fx.join("data");
    let payloads: Vec<Payload> = (0..PLAN.len())
        .map(|i| {
            let len = (256 << 10) + i as u64 * 45_000 + 1_234;
            Payload::make(
                &data,
                &fx,
                &format!("swarm{i:02}.bin"),
                &[("", len)],
                70 + i as u64,
            )
        })
        .collect();
    let tracked: Vec<[u8; 20]> = payloads
        .iter()
        .zip(PLAN)
        .filter(|(_, (s, _))| *s == Src::Tracker)
        .map(|(p, _)| p.torrent.info_hash)
        .collect();
    let mut tracker = Opentracker::start(&tracked);
    // Only the tracker torrents name a tracker; the others name none at all.
    let torrents: Vec<Torrent> = payloads
        .iter()
        .zip(PLAN)
        .map(|(p, (src, _))| {
            let out = fx.join(format!("{}.src.torrent", p.torrent.name));
            let url = tracker.http_url();
            let announce = (src == Src::Tracker).then_some(url.as_str());
            p.torrent.with_trackers(&out, announce, &[])
        })
        .collect();

    // Every seeder at once (the slow part is python's start and each client's check).
    let dht_rows: Vec<usize> = (0..PLAN.len()).filter(|&i| PLAN[i].0 == Src::Dht).collect();
    let (dht, mut seeds) = thread::scope(|s| {
        let dht = s.spawn(|| {
            let mut dht = LtDht::start(3);
            for &i in &dht_rows {
                dht.seed(0, &torrents[i].path, &data);
            }
            dht
        });
        let seeds: Vec<_> = (0..PLAN.len())
            .map(|i| {
                let (t, p, data) = (&torrents[i], &payloads[i], &data);
                s.spawn(move || {
                    let (src, client) = PLAN[i];
                    if src == Src::Dht {
                        return (Seed::Dht, None);
                    }
                    let seed = Seed::start(client, t, data);
                    let a = (src == Src::Pex).then(|| {
                        let b = match &seed {
                            Seed::Lt(l) => l.addr(),
                            Seed::Aria2(a) => a.addr(),
                            _ => unreachable!("PEX torrents are seeded by libtorrent or aria2"),
                        };
                        LtHalf::start(t, &p.root, PLEN, b)
                    });
                    (seed, a)
                })
            })
            .collect();
        let seeds: Vec<_> = seeds.into_iter().map(|h| h.join().unwrap()).collect();
        (dht.join().unwrap(), seeds)
    });
    for t in torrents.iter().filter(|t| tracked.contains(&t.info_hash)) {
        tracker.wait_seeders(&t.info_hash, 1);
    }
    let mut rows: Vec<Row> = payloads
        .into_iter()
        .zip(torrents)
        .zip(seeds.drain(..))
        .zip(PLAN)
        .map(|(((p, t), (seed, a)), (src, client))| Row {
            src,
            client,
            p,
            t,
            seed,
            a,
        })
        .collect();
    let dht_seeder = dht.addr(0);
    let seeder_addr = |r: &Row| -> SocketAddr {
        match &r.seed {
            Seed::Lt(l) => l.addr(),
            Seed::Aria2(a) => a.addr(),
            Seed::Tr(tr) => tr.addr(),
            Seed::Dht => dht_seeder,
        }
    };
    eprintln!("swarm of 20 up after {:.1}s", t0.elapsed().as_secs_f64());

    // ttui is told of the --peer seeders and of A for the PEX torrents, nothing else.
    let told: Vec<SocketAddr> = rows
        .iter()
        .filter_map(|r| match r.src {
            Src::Peer => Some(seeder_addr(r)),
            Src::Pex => r.a.as_ref().map(LtHalf::addr),
            _ => None,
        })
        .collect();
    let mut extra: Vec<String> = ["--max-active-downloads", "0", "--max-active-seeds", "0"]
        .map(String::from)
        .to_vec();
    extra.extend(dht.bootstrap_args());
    for a in &told {
        extra.extend(["--peer".to_string(), a.to_string()]);
    }
    let mut daemon = Daemon::start(&env, "swarm", &extra);
    let first: Vec<String> = rows[..19]
        .iter()
        .map(|r| r.t.path.display().to_string())
        .collect();
    let mut args = vec!["add"];
    args.extend(first.iter().map(String::as_str));
    let added = env.verb(&args);
    assert_eq!(added.code, 0, "{added:?}");

    // The 20th once the first have started delivering.
    let before = env.wait_list(
        "a first torrent to complete",
        DONE_WAIT,
        &mut daemon,
        |rows| rows.len() == 19 && rows.iter().any(|r| r["state"] == "seeding"),
    );
    let running = before.iter().filter(|r| r["state"] != "seeding").count();
    let late = rows[19].t.path.display().to_string();
    let added = env.verb(&["add", &late]);
    assert_eq!(added.code, 0, "{added:?}");
    eprintln!("20th added with {running} of 19 still downloading");

    let done = env.wait_list("20 torrents to seed", DONE_WAIT, &mut daemon, |l| {
        all_seeding(l, 20)
    });
    eprintln!("all 20 complete after {:.1}s", t0.elapsed().as_secs_f64());
    for r in &rows {
        let row = row_of(&done, &r.t.hash_hex());
        let took = row["completed"].as_i64().unwrap_or(0) - row["added"].as_i64().unwrap_or(0);
        eprintln!("{}: {:?} via {:?} took {took}s", r.t.name, r.client, r.src);
        assert_eq!(row["progress"].as_f64(), Some(1.0), "{row}");
        assert_same_tree(&r.p.root, &env.out.join(&r.t.name));
    }

    // Each source delivered: the seeder ttui connected to could only have come from it.
    let log = daemon.log_text();
    let connected = |addr: SocketAddr| {
        let ip = format!("{}:", addr.ip());
        log.lines()
            .any(|l| l.contains(&ip) && l.contains(": connected"))
    };
    for r in rows.iter_mut() {
        let addr = seeder_addr(r);
        let what = format!(
            "torrent {} ({:?} via {:?}, seeder {addr})",
            r.t.name, r.client, r.src
        );
        assert!(
            connected(addr),
            "ttui never connected to {what}\n{}",
            last_lines(&log, 60)
        );
        assert_eq!(
            told.contains(&addr),
            r.src == Src::Peer,
            "{what}: --peer {told:?}"
        );
        let id = row_of(&done, &r.t.hash_hex())["id"].to_string();
        let show = env.verb(&["show", &id, "--json"]);
        assert_eq!(show.code, 0, "{show:?}");
        let show: Value = serde_json::from_str(&show.stdout).unwrap();
        let trackers = show["trackers"].as_array().cloned().unwrap_or_default();
        if r.src == Src::Tracker {
            let status = trackers.first().map(|t| t["status"].to_string());
            assert!(
                status.as_deref().is_some_and(|s| s.contains("working")),
                "{what}: trackers {trackers:?}"
            );
        } else {
            assert!(trackers.is_empty(), "{what}: trackers {trackers:?}");
        }
        if r.src == Src::Pex {
            let a = r.a.as_mut().unwrap();
            let learned = format!("{}: ", a.addr());
            assert!(
                log.lines()
                    .any(|l| l.contains(&learned) && l.contains("by peer exchange")),
                "{what}: nothing learned from A by PEX\n{}\nA: {}",
                last_lines(&log, 60),
                a.report()
            );
        }
        // A lone seeder sent at least most of the payload; B of a PEX torrent the half A
        // lacks, less what A can have fetched from it at SLOW bytes a second.
        let len = r.p.files[0].1;
        let want = match r.src {
            Src::Pex => (len / 2).saturating_sub(SLOW * t0.elapsed().as_secs()) / 2,
            _ => len * 9 / 10,
        };
        if let Some(up) = r.seed.uploaded(&r.t) {
            assert!(
                up >= want,
                "{what} uploaded {up} of {len} bytes\n{}",
                r.seed.report()
            );
        }
    }
    eprintln!(
        "checked every source; {:.1}s in all",
        t0.elapsed().as_secs_f64()
    );
    drop(daemon);
}
