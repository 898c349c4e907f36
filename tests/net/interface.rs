//! `--interface`: ttui binds every peer socket to a network interface and, while it is down,
//! sends nothing (a kill switch). A veth pair carries the swarm (tests/net/interface/veth.rs):
//! ttui's daemon runs with `--interface tt-a` here, a real python3-libtorrent seeder runs at
//! the far end in a namespace of its own. The test takes `tt-a` down mid-download and checks
//! that within seconds ttui has no peer, `show --json` says the interface is down, the
//! explainer's `interface` check holds the torrent back, nothing more is downloaded and the
//! seeder's side receives no packet; then it brings `tt-a` back (address and route too) and
//! checks that ttui reconnects by itself and completes byte-identical.
//!
//! A decoy listens in ttui's namespace on the seeder's port, any address: taking `tt-a` down
//! removes its route to 127.0.0.62, which then falls back to `lo` (all of 127/8 is local
//! there), so a socket that escaped the device binding would reach the decoy instead of
//! the seeder. It must never see a connection: nothing falls back to another route.
//!
//! Run through tests/run.sh (root in a namespace whose only interface is `lo`; the test adds
//! the veth pair and the seeder's namespace, and removes them however it ends).
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;
mod veth;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;
use veth::*;

/// Bound of every wait for a state to show.
const WAIT: Duration = Duration::from_secs(30);
const LEN: u64 = 8 << 20;
/// The seeder's upload limit: slow enough that the download is cut in the middle.
const SEED_RATE: u64 = 400_000;

/// Counts connections (TCP) and datagrams (uTP) to the seeder's port on `lo` (see the
/// header); stops on drop.
struct Decoy {
    hits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Decoy {
    fn start(port: u16) -> Decoy {
        let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
        l.set_nonblocking(true).unwrap();
        let u = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
        u.set_nonblocking(true).unwrap();
        let (hits, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (h, s) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if l.accept().is_ok() {
                    h.fetch_add(1, Ordering::Relaxed);
                }
                let mut buf = [0u8; 2048];
                while u.recv_from(&mut buf).is_ok() {
                    h.fetch_add(1, Ordering::Relaxed);
                }
                sleep(Duration::from_millis(20));
            }
        });
        Decoy { hits, stop }
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// python3-libtorrent seeding `p` on `tt-b` (127.0.0.62):`port` inside the peer's namespace.
fn seeder(env: &Env, p: &Payload, port: u16) -> Proc {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", NS, "/usr/bin/python3"])
        .arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&p.torrent.path)
        .arg("--save")
        .arg(p.root.parent().unwrap())
        // By device name: given 127.0.0.62, libtorrent would bind its listener to `lo` (where
        // it expects 127/8) and refuse what arrives on `tt-b`.
        .args(["--ip", THEIRS, "--port", &port.to_string()])
        .args(["--upload-limit", &SEED_RATE.to_string()])
        .args(["--download-limit", "0", "--announce-wait", "0"]);
    let mut proc = Proc::spawn("lt_seed", &mut cmd, &env.logs);
    proc.wait_for_stdout("libtorrent to seed", "ready", WAIT);
    proc
}

fn show(env: &Env, id: &str) -> Value {
    let out = env.verb(&["show", id, "--json"]);
    assert_eq!(out.code, 0, "show failed: {out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

/// Polls `show` until `ok` holds; panics with the last answer and the daemon's log.
fn wait_show(
    env: &Env,
    d: &mut Daemon,
    lt: &mut Proc,
    id: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let v = show(env, id);
        if ok(&v) {
            return v;
        }
        d.assert_alive(what);
        if start.elapsed() > WAIT {
            panic!(
                "{what}: not within {WAIT:?}\nlast: {v:#}\n{}\n{}",
                d.report(),
                lt.report()
            );
        }
        sleep(Duration::from_millis(200));
    }
}

fn explain_check<'a>(v: &'a Value, check: &str) -> Option<&'a Value> {
    v["explain"]
        .as_array()?
        .iter()
        .find(|f| f["check"] == check)
}

/// A download of one file of `LEN` from a libtorrent seeder behind `tt-b`, by ttui's daemon
/// bound to `tt-a` (`--interface`, `--bind`), with a decoy on the seeder's port on `lo`.
struct Downloading {
    env: Env,
    p: Payload,
    net: Veth,
    decoy: Decoy,
    lt: Proc,
    d: Daemon,
    id: String,
    /// The seeder's port.
    port: u16,
}

fn downloading_over_tt_a(prefix: &str, name: &str, seed: u64) -> Downloading {
    let env = Env::new(prefix);
    let p = Payload::make(
        &env.root.path().join("seed"),
        &env.root.path().join("t"),
        name,
        &[("", LEN)],
        seed,
    );
    let net = Veth::create();
    let port = free_port();
    let seed_addr: SocketAddr = format!("{THEIR_IP}:{port}").parse().unwrap();
    let decoy = Decoy::start(port);
    let lt = seeder(&env, &p, port);
    let extra: Vec<String> = [
        "--interface",
        OURS,
        "--bind",
        OUR_IP,
        "--peer",
        &seed_addr.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = Daemon::start(&env, prefix.trim_matches('-'), &extra);
    let r = env.verb(&["add", &p.path()]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = row_of(&env.list(), &p.hash())["id"].to_string();
    Downloading {
        env,
        p,
        net,
        decoy,
        lt,
        d,
        id,
        port,
    }
}

#[test]
fn the_interface_down_stops_everything_and_its_return_resumes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return prereq::skip("python3-libtorrent is not installed");
    }
    let _veth = swarm_lock();
    let Downloading {
        env,
        p,
        net,
        decoy,
        mut lt,
        mut d,
        id,
        ..
    } = downloading_over_tt_a("ttui-iface-", "vpn.bin", 61);

    // Downloading through tt-a.
    let v = wait_show(&env, &mut d, &mut lt, &id, "a peer over tt-a", |v| {
        v["peers_connected"].as_u64() == Some(1) && v["verified_bytes"].as_u64() > Some(0)
    });
    assert_eq!(v["interface"]["name"], OURS, "{v:#}");
    assert_eq!(v["interface"]["up"], true, "{v:#}");
    assert_eq!(v["interface"]["address"], OUR_IP, "{v:#}");

    // The kill switch.
    net.down();
    let v = wait_show(
        &env,
        &mut d,
        &mut lt,
        &id,
        "the interface to show down",
        |v| {
            v["interface"]["up"] == false
                && v["peers_connected"].as_u64() == Some(0)
                && explain_check(v, "interface").is_some_and(|f| f["verdict"] == "holding_back")
        },
    );
    let f = explain_check(&v, "interface").unwrap();
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("interface tt-a is down: nothing is sent"),
        "{f:#}"
    );
    let held = v["verified_bytes"].as_u64().unwrap();
    assert!(
        held < LEN,
        "the download ended before the interface went down: {v:#}"
    );
    // A few seconds down: no byte more, no packet at the seeder's end.
    let rx = net.their_rx_packets();
    sleep(Duration::from_secs(4));
    let v = show(&env, &id);
    assert_eq!(
        v["verified_bytes"].as_u64(),
        Some(held),
        "downloaded while down: {v:#}"
    );
    assert_eq!(
        net.their_rx_packets(),
        rx,
        "packets reached the seeder's side while down"
    );
    assert_eq!(decoy.hits(), 0, "a connection went around tt-a");

    // Back: reconnects by itself and completes.
    net.up();
    wait_show(
        &env,
        &mut d,
        &mut lt,
        &id,
        "the download to complete after the interface is back",
        |v| v["interface"]["up"] == true && v["verified_bytes"].as_u64() == Some(LEN),
    );
    let got = std::fs::read(env.out.join("vpn.bin")).unwrap();
    let want = std::fs::read(&p.root).unwrap();
    assert!(got == want, "the downloaded file differs from the seed's");
    assert_eq!(decoy.hits(), 0, "a connection went around tt-a");
    assert!(
        d.log_text().contains("interface tt-a is down"),
        "{}",
        d.report()
    );
    d.term();
    lt.kill();
}

/// The interface deleted in the middle of a download (a VPN client that stops) and made
/// again with the same name (new devices, new indexes): while it is missing nothing is sent
/// and the explainer says so; once it is back ttui binds to the new device by itself and the
/// download completes from the seeder behind it (started again: its own device went with
/// the pair), byte-identical, with no connection around `tt-a` at any moment.
#[test]
fn the_interface_deleted_and_made_again_is_bound_again() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return prereq::skip("python3-libtorrent is not installed");
    }
    let _veth = swarm_lock();
    let Downloading {
        env,
        p,
        net,
        decoy,
        mut lt,
        mut d,
        id,
        port,
    } = downloading_over_tt_a("ttui-iface-again-", "again.bin", 63);
    wait_show(&env, &mut d, &mut lt, &id, "a peer over tt-a", |v| {
        v["peers_connected"].as_u64() == Some(1) && v["verified_bytes"].as_u64() > Some(0)
    });

    net.delete();
    lt.kill();
    let v = wait_show(
        &env,
        &mut d,
        &mut lt,
        &id,
        "the interface to show missing",
        |v| {
            v["interface"]["down"] == "missing"
                && v["peers_connected"].as_u64() == Some(0)
                && explain_check(v, "interface").is_some_and(|f| f["verdict"] == "holding_back")
        },
    );
    let held = v["verified_bytes"].as_u64().unwrap();
    assert!(
        held < LEN,
        "the download ended before the interface went: {v:#}"
    );
    sleep(Duration::from_secs(3));
    assert_eq!(show(&env, &id)["verified_bytes"].as_u64(), Some(held));
    assert_eq!(decoy.hits(), 0, "a connection went around the missing tt-a");

    net.make_link();
    let mut lt = seeder(&env, &p, port);
    let v = wait_show(
        &env,
        &mut d,
        &mut lt,
        &id,
        "the download to complete on the new tt-a",
        |v| v["interface"]["up"] == true && v["verified_bytes"].as_u64() == Some(LEN),
    );
    assert_eq!(v["interface"]["address"], OUR_IP, "{v:#}");
    let got = std::fs::read(env.out.join("again.bin")).unwrap();
    let want = std::fs::read(&p.root).unwrap();
    assert!(got == want, "the downloaded file differs from the seed's");
    assert_eq!(decoy.hits(), 0, "a connection went around tt-a");
    assert!(
        d.log_text().contains("interface tt-a is missing"),
        "{}",
        d.report()
    );
    d.term();
    lt.kill();
}

/// Started while the interface does not exist: the session runs, says so and waits, and
/// nothing goes around it: a peer reachable on `lo` is never dialed.
#[test]
fn started_without_the_interface_it_waits_and_sends_nothing() {
    let env = Env::new("ttui-iface-missing-");
    let p = Payload::make(
        &env.root.path().join("seed"),
        &env.root.path().join("t"),
        "wait.bin",
        &[("", 1 << 20)],
        62,
    );
    let port = free_port();
    let decoy = Decoy::start(port);
    // Both transports: uTP's socket sits on `lo` while the interface is missing, and a dial
    // made before the torrent first looked at the interface once went out there.
    let extra: Vec<String> = [
        "--interface",
        "tt-none",
        "--transport",
        "both",
        "--peer",
        &format!("127.0.0.1:{port}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut d = Daemon::start(&env, "missing", &extra);
    let r = env.verb(&["add", &p.path()]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = row_of(&env.list(), &p.hash())["id"].to_string();
    let start = Instant::now();
    let v = loop {
        let v = show(&env, &id);
        let down = v["interface"]["up"] == false && v["interface"]["down"] == "missing";
        if down && explain_check(&v, "interface").is_some() {
            break v;
        }
        d.assert_alive("the interface to show missing");
        assert!(
            start.elapsed() < WAIT,
            "not shown missing: {v:#}\n{}",
            d.report()
        );
        sleep(Duration::from_millis(200));
    };
    let f = explain_check(&v, "interface").unwrap();
    assert_eq!(f["verdict"], "holding_back", "{f:#}");
    // Several of the coordinator's ticks and of the watcher's looks.
    sleep(Duration::from_secs(3));
    assert_eq!(
        decoy.hits(),
        0,
        "a peer was dialed around the missing interface (TCP or uTP)"
    );
    let log = d.log_text();
    assert!(
        log.contains("interface tt-none is missing: nothing is sent"),
        "{}",
        d.report()
    );
    // It listens (on `lo` until the interface exists): it waits, it has not given up.
    assert!(
        log.contains("listening for peers on port"),
        "{}",
        d.report()
    );
    d.term();
}

/// `--bind` must be one of the interface's addresses: one clear line, and no session.
#[test]
fn a_bind_address_not_on_the_interface_is_refused() {
    let env = Env::new("ttui-iface-bind-");
    let mut cmd = env.ttui();
    cmd.args(["daemon", "--state-dir"]).arg(&env.state).args([
        "--interface",
        "lo",
        "--bind",
        "127.0.0.5",
        "--port",
        "0",
        "--no-dht",
    ]);
    let out = run_within(cmd, "ttui daemon", Duration::from_secs(20));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("bind = 127.0.0.5 is not an address of interface lo"),
        "{out:?}"
    );
}
