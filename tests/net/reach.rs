//! IPv6 peers from every source, dialed: real python3-libtorrent 2.0.8 peers in a small test
//! internet of network namespaces (tests/netlab), with ttui in a host of its own.
//!
//! The HTTP tracker is tests/net/reach/tracker.py: Debian's opentracker is built IPv4-only
//! (`opentracker -i ::1` says "V4 Tracker is V4 only!"), and no IPv6 build is packaged.
//!
//! The DHT tests and the reach table use tests/net/reach/lt_peer.py, a libtorrent peer that is a
//! member of the lab's swarm (DHT bootstrapped only from a lab node, PEX, uTP, hole punching),
//! where assets/seeders/lt_seed.py keeps every discovery mechanism off. The reach table
//! (`reach_table`) is also the benchmark tests/bench/reach.sh, with a longer window
//! (`TTUI_REACH_SECONDS`). BEP 42 (DHT node ids tied to addresses) is tests/reach/bep42.rs.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod bep42;
use crate::common;
use crate::netlab;
use crate::prereq;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use netlab::{Host, Kind, Lab};

/// The port every lab peer listens on (each host has its own addresses).
const PEER_PORT: u16 = 6881;
const TRACKER_PORT: u16 = 8000;
/// One small download in the lab.
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn prerequisites() -> bool {
    netlab::have_tools() && prereq::have_python_libtorrent()
}

fn bracketed(addr: SocketAddr) -> String {
    addr.to_string()
}

/// The lab tracker's announce URL at `ip` (an IPv6 literal bracketed).
fn announce_url(ip: std::net::IpAddr) -> String {
    format!(
        "http://{}/announce",
        bracketed(SocketAddr::new(ip, TRACKER_PORT))
    )
}

/// tests/net/reach/tracker.py on `host`, answered once it listens.
fn start_tracker(host: &Host, log_dir: &Path) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/reach/tracker.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .args(["--port", &TRACKER_PORT.to_string()])
        .args(["--max-seconds", "300"]);
    let mut p = host.spawn("tracker", &cmd, log_dir);
    p.wait_for_stdout("the tracker to listen", "listening", WAIT);
    p
}

/// libtorrent seeding `torrent` from `data_dir` on every address of `host` (port 6881),
/// returned once it seeds and its first announce (if any) was answered.
fn start_lt_seed(
    host: &Host,
    torrent: &Torrent,
    data_dir: &Path,
    log_dir: &Path,
    extra: &[&str],
) -> Proc {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&torrent.path)
        .arg("--save")
        .arg(data_dir)
        .args(["--listen-any", "--port", &PEER_PORT.to_string()])
        .args(["--seed-mode", "--max-seconds", "300"])
        .args(extra);
    if torrent.only_dead_tracker() {
        cmd.args(["--announce-wait", "0"]);
    }
    let mut p = host.spawn(&format!("lt-{}", host.name), &cmd, log_dir);
    if !extra.contains(&"--leech") {
        p.wait_for_stdout("libtorrent to seed", "ready", WAIT);
    }
    p
}

/// The seed's alerts (stderr) name `ip`: a connection from or to it.
fn seed_saw(seed: &Proc, ip: &str) -> bool {
    String::from_utf8_lossy(&std::fs::read(&seed.stderr).unwrap_or_default()).contains(ip)
}

/// `ttui ARGS` one-shot in `host`'s namespace, with DHT off (it has tests of its own).
fn ttui_in(host: &Host, args: &[&str]) -> Ttui {
    let mut all = args.to_vec();
    all.extend(["--headless", "--no-dht", "--port", "6881"]);
    Ttui::spawn_wrapped(&["ip", "netns", "exec", &host.ns], all)
}

fn out_arg(p: &Path) -> String {
    p.display().to_string()
}

/// The tracker's `announce ADDR PORT EVENT` lines so far.
fn announces(tracker: &Proc) -> Vec<String> {
    tracker
        .stdout_text()
        .lines()
        .filter(|l| l.starts_with("announce "))
        .map(str::to_string)
        .collect()
}

/// The lab is what it claims: an IPv6-only host reaches a dual-stack one over IPv6 only; a
/// host behind the NAT reaches the public internet, but nothing reaches it over IPv4; its
/// global IPv6 address is reachable; and nothing leads out of the lab.
#[test]
fn lab_connectivity() {
    if !netlab::have_tools() {
        return;
    }
    let mut lab = Lab::new();
    let nat = lab.nat("cgnat");
    lab.add("pub", Kind::Dual);
    lab.add("six", Kind::Only6);
    lab.add("natted", Kind::Nat4Global6(nat));
    lab.add("natted4", Kind::Nat4(nat));
    let (public, six, natted, natted4) = (
        lab.host("pub"),
        lab.host("six"),
        lab.host("natted"),
        lab.host("natted4"),
    );
    let at = |ip: std::net::IpAddr| SocketAddr::new(ip, 9);
    assert!(
        six.reaches(at(public.ip6().into())),
        "{}",
        lab.core_routes()
    );
    assert!(
        !six.reaches(at(public.ip4().into())),
        "IPv6-only host has IPv4"
    );
    assert!(natted.reaches(at(public.ip4().into())), "NAT: no way out");
    assert!(natted.reaches(at(public.ip6().into())));
    assert!(
        public.reaches(at(natted.ip6().into())),
        "global IPv6 behind NAT"
    );
    assert!(
        !public.reaches(at(natted.ip4().into())),
        "a host behind the NAT is reachable at its private address"
    );
    assert!(!public.reaches(at(natted4.ip4().into())));
    assert!(natted4.reaches(at(public.ip4().into())));
    // No way out: the core knows only the lab's prefixes.
    // (Documentation addresses the lab does not use: no packet to anywhere else.)
    for outside in ["198.51.100.254:9", "[2001:db8:ffff::1]:9"] {
        let to: SocketAddr = outside.parse().unwrap();
        assert!(!public.reaches(to), "{outside} reached from the lab");
    }
    let routes = lab.core_routes();
    assert!(
        !routes.contains("default"),
        "core has a default route:\n{routes}"
    );
}

/// The lab's tracker on host "tracker" at `url`, a libtorrent seed of `fx` on host "seed",
/// and a ttui one-shot on host "ttui" that downloads it byte-identical (`what` names the
/// download); the tracker's announce lines.
fn tracked_download(lab: &Lab, fx: &Fixture, url: &str, what: &str) -> Vec<String> {
    let torrent = fx.torrent_with("tracked.torrent", Some(url), &[]);
    let logs = fx.out_dir("logs");
    let tracker = start_tracker(lab.host("tracker"), &logs);
    let _seed = start_lt_seed(lab.host("seed"), &torrent, &fx.data_dir, &logs, &[]);
    let out = fx.out_dir("out");
    let run = ttui_in(
        lab.host("ttui"),
        &[&out_arg(&torrent.path), "-o", &out_arg(&out)],
    )
    .wait(RUN_LIMIT);
    run.assert_success(&format!("download {what}"));
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    announces(&tracker)
}

/// An IPv6-only libtorrent seed, found through the tracker's `peers6` (BEP 7) by ttui on a
/// dual-stack host, which announces to the tracker at its IPv6 literal: byte-identical.
#[test]
fn ipv6_only_seed_through_tracker_peers6() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("tracker", Kind::Dual);
    lab.add("seed", Kind::Only6);
    lab.add("ttui", Kind::Dual);
    let fx = Fixture::single_file("six.bin", 3 << 20, 541, 16);
    let tracker_url = format!(
        "http://{}/announce",
        bracketed(SocketAddr::new(
            lab.host("tracker").ip6().into(),
            TRACKER_PORT
        ))
    );
    let seen = tracked_download(&lab, &fx, &tracker_url, "from an IPv6-only seed");
    let ttui6 = lab.host("ttui").ip6().to_string();
    assert!(
        seen.iter().any(|l| l.contains(&ttui6)),
        "ttui did not announce over IPv6: {seen:?}"
    );
}

/// `NAME` resolving to the given addresses inside lab namespaces: `ip netns exec` mounts
/// /etc/netns/NS/hosts over /etc/hosts for what it runs there. Removed on drop.
struct LabHosts(Vec<std::path::PathBuf>);

impl LabHosts {
    fn write(hosts: &[&Host], name: &str, addrs: &[std::net::IpAddr]) -> LabHosts {
        let mut text = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for a in addrs {
            text.push_str(&format!("{a} {name}\n"));
        }
        let dirs: Vec<_> = hosts
            .iter()
            .map(|h| Path::new("/etc/netns").join(&h.ns))
            .collect();
        let made = LabHosts(dirs.clone());
        for dir in &dirs {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("hosts"), &text).unwrap();
        }
        made
    }
}

impl Drop for LabHosts {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A tracker named by a host with an IPv4 and an IPv6 address: ttui, dual-stack, announces
/// over each (as libtorrent does), so the tracker lists it to IPv4-only and IPv6-only peers
/// alike; and it downloads from a dual-stack libtorrent seed found there.
#[test]
fn a_tracker_name_with_both_families_hears_from_us_over_each() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("tracker", Kind::Dual);
    lab.add("seed", Kind::Dual);
    lab.add("ttui", Kind::Dual);
    let tracker_host = lab.host("tracker");
    let both = [
        std::net::IpAddr::from(tracker_host.ip4()),
        tracker_host.ip6().into(),
    ];
    let _names = LabHosts::write(&[lab.host("seed"), lab.host("ttui")], "tracker.test", &both);
    let fx = Fixture::single_file("both.bin", 2 << 20, 547, 16);
    let url = format!("http://tracker.test:{TRACKER_PORT}/announce");
    let seen = tracked_download(&lab, &fx, &url, "through a tracker named by both families");
    for ip in [
        lab.host("ttui").ip4().to_string(),
        lab.host("ttui").ip6().to_string(),
    ] {
        assert!(
            seen.iter()
                .any(|l| l.starts_with(&format!("announce {ip} 6881 "))),
            "no announce from {ip}: {seen:?}"
        );
    }
}

/// A magnet naming an IPv6-only libtorrent seed as `x.pe=[2001:db8:…]:6881`: ttui, on an
/// IPv6-only host, fetches the metadata from it and downloads byte-identical.
#[test]
fn ipv6_only_seed_through_magnet_x_pe() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("seed", Kind::Only6);
    lab.add("ttui", Kind::Only6);
    let fx = Fixture::single_file("xpe.bin", 3 << 20, 542, 16).untracked();
    let logs = fx.out_dir("logs");
    let _seed = start_lt_seed(lab.host("seed"), &fx.torrent, &fx.data_dir, &logs, &[]);
    let peer = SocketAddr::new(lab.host("seed").ip6().into(), PEER_PORT);
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=xpe.bin&x.pe={}",
        fx.torrent.hash_hex(),
        bracketed(peer)
    );
    let out = fx.out_dir("out");
    let run = ttui_in(lab.host("ttui"), &[&magnet, "-o", &out_arg(&out)]).wait(RUN_LIMIT);
    run.assert_success("magnet with an IPv6 x.pe");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
}

/// The same seed reached over uTP only (`--transport utp` on both sides): uTP dials IPv6.
#[test]
fn ipv6_only_seed_over_utp() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("seed", Kind::Only6);
    lab.add("ttui", Kind::Dual);
    let fx = Fixture::single_file("utp6.bin", 3 << 20, 543, 16).untracked();
    let logs = fx.out_dir("logs");
    let seed = start_lt_seed(
        lab.host("seed"),
        &fx.torrent,
        &fx.data_dir,
        &logs,
        &["--transport", "utp"],
    );
    let peer = bracketed(SocketAddr::new(lab.host("seed").ip6().into(), PEER_PORT));
    let out = fx.out_dir("out");
    let run = ttui_in(
        lab.host("ttui"),
        &[
            &out_arg(&fx.torrent.path),
            "-o",
            &out_arg(&out),
            "--no-trackers",
            "--transport",
            "utp",
            "--peer",
            &peer,
        ],
    )
    .wait(RUN_LIMIT);
    run.assert_success("uTP over IPv6");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let alerts =
        String::from_utf8_lossy(&std::fs::read(&seed.stderr).unwrap_or_default()).into_owned();
    assert!(
        alerts.contains(&lab.host("ttui").ip6().to_string()),
        "the seed never saw ttui's IPv6 address:\n{alerts}"
    );
}

/// A dual-stack libtorrent seed behind a CGNAT (IPv4 masqueraded, no port mapping; a global
/// IPv6 address): the tracker lists it at the NAT's IPv4 address (unreachable: nothing is
/// mapped) and at its IPv6 one. ttui, on a public dual-stack host, completes over IPv6, and
/// dials the NAT's address a bounded number of times (counted at the NAT router).
#[test]
fn natted_dual_stack_seed_over_ipv6() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    let nat = lab.nat("cgnat");
    lab.add("tracker", Kind::Dual);
    lab.add("seed", Kind::Nat4Global6(nat));
    lab.add("ttui", Kind::Dual);
    let (tracker_host, seed_host, ttui_host) =
        (lab.host("tracker"), lab.host("seed"), lab.host("ttui"));
    let ttui_v4 = ttui_host.ip4().to_string();
    let nat_ns = lab.nat_ns(nat).to_string();
    // Count the SYNs from ttui that reach the NAT router's own port 6881 (it answers with a
    // reset). Only ttui's: the seed dials its own NATed address too (the tracker lists it).
    for rule in [
        vec!["add", "table", "inet", "probe"],
        vec![
            "add",
            "chain",
            "inet",
            "probe",
            "in",
            "{ type filter hook input priority 0 ; }",
        ],
        vec![
            "add",
            "rule",
            "inet",
            "probe",
            "in",
            "ip",
            "saddr",
            ttui_v4.as_str(),
            "tcp",
            "dport",
            "6881",
            "tcp",
            "flags",
            "syn",
            "counter",
        ],
    ] {
        let out = run_bounded(
            Command::new("ip")
                .args(["netns", "exec", &nat_ns, "nft"])
                .args(&rule),
            Duration::from_secs(10),
        );
        check_success("nft probe", &out);
    }
    let url = announce_url;
    let (url4, url6) = (
        url(tracker_host.ip4().into()),
        url(tracker_host.ip6().into()),
    );
    let fx = Fixture::single_file("nat.bin", 4 << 20, 544, 16);
    let torrent = fx.torrent_with("nat.torrent", None, &[vec![url4], vec![url6]]);
    let logs = fx.out_dir("logs");
    let tracker = start_tracker(tracker_host, &logs);
    // Slow enough that the unreachable address would be dialed again and again if nothing
    // held it back: 4 MiB at 256 KB/s is about 16 s.
    let seed = start_lt_seed(
        seed_host,
        &torrent,
        &fx.data_dir,
        &logs,
        &["--upload-limit", "256000"],
    );
    let nat_v4 = seed_host.nat_v4.unwrap().to_string();
    let seed6 = seed_host.ip6().to_string();
    let deadline = Instant::now() + WAIT;
    while !announces(&tracker).iter().any(|l| l.contains(&nat_v4)) {
        assert!(
            Instant::now() < deadline,
            "the seed never announced through the NAT: {:?}",
            announces(&tracker)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        announces(&tracker).iter().any(|l| l.contains(&seed6)),
        "the seed never announced over IPv6: {:?}",
        announces(&tracker)
    );
    let out = fx.out_dir("out");
    let started = Instant::now();
    let run = ttui_in(ttui_host, &[&out_arg(&torrent.path), "-o", &out_arg(&out)]).wait(RUN_LIMIT);
    run.assert_success("download from a seed behind a CGNAT");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let took = started.elapsed();
    // ttui dialed the seed at its IPv6 address (the seed cannot have dialed ttui: it
    // announced first, and learns of others only at its next announce).
    let alerts =
        String::from_utf8_lossy(&std::fs::read(&seed.stderr).unwrap_or_default()).into_owned();
    assert!(
        alerts.contains(&ttui_host.ip6().to_string()),
        "the seed never saw ttui's IPv6 address:\n{alerts}"
    );
    let listing = run_bounded(
        Command::new("ip").args([
            "netns", "exec", &nat_ns, "nft", "list", "table", "inet", "probe",
        ]),
        Duration::from_secs(10),
    );
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let syns: u64 = listing
        .split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in:\n{listing}"));
    eprintln!("download took {took:?}; SYNs to the NAT's address: {syns}");
    assert!(
        syns >= 1,
        "ttui never tried the NAT's IPv4 address (the tracker listed it)"
    );
    assert!(
        syns <= 4,
        "ttui dialed the unreachable NATed address {syns} times in {took:?}"
    );
}

/// PEX `added6`: ttui knows only a libtorrent peer (PEX on), over IPv4; that peer is
/// connected to an IPv6-only seed, which knows nothing of ttui (no tracker, no PEX of its
/// own). ttui learns the seed from the peer's `added6`, dials it over IPv6 and completes.
#[test]
fn ipv6_seed_learned_through_pex_added6() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("seed", Kind::Only6);
    lab.add("middle", Kind::Dual);
    lab.add("ttui", Kind::Dual);
    let fx = Fixture::single_file("pex6.bin", 3 << 20, 545, 16).untracked();
    let logs = fx.out_dir("logs");
    let seed = start_lt_seed(lab.host("seed"), &fx.torrent, &fx.data_dir, &logs, &[]);
    let seed_addr = bracketed(SocketAddr::new(lab.host("seed").ip6().into(), PEER_PORT));
    let middle_dir = fx.out_dir("middle");
    // Slow both ways: it stays a partial peer connected to the seed (a finished one would
    // drop it, seed to seed), and ttui has a reason to look further than it.
    let mut middle = start_lt_seed(
        lab.host("middle"),
        &fx.torrent,
        &middle_dir,
        &logs,
        &[
            "--leech",
            "--pex",
            "--peer",
            &seed_addr,
            "--upload-limit",
            "20000",
            "--download-limit",
            "50000",
        ],
    );
    middle.wait_until("the middle peer to connect to the seed", WAIT, |p| {
        p.stdout_text().contains("connected=1")
    });
    let via = SocketAddr::new(lab.host("middle").ip4().into(), PEER_PORT).to_string();
    let out = fx.out_dir("out");
    let run = ttui_in(
        lab.host("ttui"),
        &[
            &out_arg(&fx.torrent.path),
            "-o",
            &out_arg(&out),
            "--no-trackers",
            "--peer",
            &via,
        ],
    )
    .wait(RUN_LIMIT);
    run.assert_success("download after PEX added6");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let ttui6 = lab.host("ttui").ip6().to_string();
    assert!(
        seed_saw(&seed, &ttui6),
        "ttui never reached the IPv6 seed it could only learn through PEX:\n{}",
        tail(&seed.stderr, 30)
    );
}

/// Without IPv6 (an IPv4-only host), an IPv6 peer a tracker lists costs nothing visible: ttui
/// completes from the seed's IPv4 address, and says nothing about the IPv6 one on its
/// terminal. (No IPv6 packet can leave the host: it has no IPv6 route.)
#[test]
fn without_ipv6_an_ipv6_peer_is_quiet() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("tracker", Kind::Dual);
    lab.add("seed", Kind::Dual);
    lab.add("ttui", Kind::Public4);
    let tracker_host = lab.host("tracker");
    let url = announce_url;
    let (url4, url6) = (
        url(tracker_host.ip4().into()),
        url(tracker_host.ip6().into()),
    );
    let fx = Fixture::single_file("quiet.bin", 2 << 20, 546, 16);
    // The seed announces over both families; ttui knows the IPv4 tracker only, which lists
    // the seed at both addresses.
    let seed_torrent = fx.torrent_with("seed.torrent", None, &[vec![url4.clone()], vec![url6]]);
    let ttui_torrent = fx.torrent_with("ttui.torrent", Some(&url4), &[]);
    let logs = fx.out_dir("logs");
    let tracker = start_tracker(tracker_host, &logs);
    let _seed = start_lt_seed(lab.host("seed"), &seed_torrent, &fx.data_dir, &logs, &[]);
    let seed6 = lab.host("seed").ip6().to_string();
    let deadline = Instant::now() + WAIT;
    while !announces(&tracker).iter().any(|l| l.contains(&seed6)) {
        assert!(Instant::now() < deadline, "{:?}", announces(&tracker));
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = fx.out_dir("out");
    let run = ttui_in(
        lab.host("ttui"),
        &[&out_arg(&ttui_torrent.path), "-o", &out_arg(&out)],
    )
    .wait(RUN_LIMIT);
    run.assert_success("IPv4-only download with an IPv6 peer listed");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(&seed6),
            "ttui spoke of the IPv6 peer it cannot reach:\n{text}"
        );
    }
}

/// tests/net/reach/lt_peer.py in `host` (a libtorrent peer of the lab's swarm, DHT and PEX as
/// its `args` say), labelled `label`.
fn start_lt_peer(host: &Host, label: &str, args: &[String], log_dir: &Path) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/reach/lt_peer.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script).args(["--max-seconds", "300"]).args(args);
    host.spawn(label, &cmd, log_dir)
}

/// `ttui ARGS` one-shot in `host`'s namespace with its DHT on (the lab's bootstrap nodes come
/// in `args`; `TTUI_NO_PUBLIC_ROUTERS` and `--dht-bootstrap` keep public routers out).
fn ttui_dht_in(host: &Host, args: &[&str]) -> Ttui {
    let mut all = args.to_vec();
    all.extend(["--headless", "--no-lsd", "--port", "6881"]);
    Ttui::spawn_wrapped(&["ip", "netns", "exec", &host.ns], all)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// An IPv6-only libtorrent seed with its DHT on, listening on its 2001:db8:: address only,
/// announcing to the lab's DHT (a libtorrent node on a dual-stack host is its one bootstrap
/// node) and to no tracker: ttui on a dual-stack host, given a magnet with no tracker and no
/// `x.pe` and only that bootstrap node's IPv6 address, finds the seed through the IPv6 DHT
/// (BEP 32: `nodes6`, `values` with IPv6 peers) and completes byte-identical.
#[test]
fn ipv6_only_seed_found_only_through_the_dht() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("boot", Kind::Dual);
    lab.add("seed", Kind::Only6);
    lab.add("ttui", Kind::Dual);
    let fx = Fixture::single_file("dht6lab.bin", 3 << 20, 547, 16).untracked();
    let logs = fx.out_dir("logs");
    let boot6 = bracketed(SocketAddr::new(lab.host("boot").ip6().into(), PEER_PORT));
    let mut boot = start_lt_peer(
        lab.host("boot"),
        "lt-boot",
        &strings(&["--mode", "node", "--dht"]),
        &logs,
    );
    boot.wait_for_stdout("the bootstrap node to listen", "ready", WAIT);
    let seed_ip = lab.host("seed").ip6().to_string();
    let mut seed = start_lt_peer(
        lab.host("seed"),
        "lt-seed",
        &[
            strings(&[
                "--mode",
                "seed",
                "--dht",
                "--no-trackers",
                "--listen",
                &seed_ip,
            ]),
            strings(&["--dht-node", &boot6, "--torrent"]),
            vec![fx.torrent.path.display().to_string()],
            vec!["--save".into(), fx.data_dir.display().to_string()],
        ]
        .concat(),
        &logs,
    );
    seed.wait_for_stdout("the seed to announce to the lab's DHT", "ready", WAIT);
    // A magnet with the info hash only: the DHT is the one way to the seed.
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn={}",
        fx.torrent.hash_hex(),
        fx.torrent.name
    );
    let out = fx.out_dir("out");
    let run = ttui_dht_in(
        lab.host("ttui"),
        &[
            &magnet,
            "-o",
            &out_arg(&out),
            "--no-trackers",
            "--dht-bootstrap",
            &boot6,
        ],
    )
    .wait(RUN_LIMIT);
    run.assert_success("magnet from an IPv6-only seed found through the lab's DHT");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let ttui6 = lab.host("ttui").ip6().to_string();
    assert!(
        seed_saw(&seed, &ttui6),
        "the seed never saw ttui's IPv6 address:\n{}",
        tail(&seed.stderr, 30)
    );
}

/// Where a peer of the reach table sits in the lab.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Public4,
    Dual,
    Only6,
    /// Behind a CGNAT of its own, IPv4 only.
    Nat4,
    /// Behind a CGNAT of its own for IPv4, with a global IPv6 address.
    NatDual,
}

/// The reach table's swarm: (host name, place, listed by the tracker). The rest are found
/// only through the DHT (or PEX). `d0` is also the lab's DHT bootstrap node.
const SWARM: &[(&str, Place, bool)] = &[
    ("d0", Place::Dual, true),
    ("d1", Place::Dual, true),
    ("d2", Place::Dual, false),
    ("p0", Place::Public4, true),
    ("p1", Place::Public4, true),
    ("p2", Place::Public4, false),
    ("s0", Place::Only6, true),
    ("s1", Place::Only6, true),
    ("s2", Place::Only6, false),
    ("s3", Place::Only6, false),
    ("n0", Place::Nat4, true),
    ("n1", Place::Nat4, true),
    ("n2", Place::Nat4, true),
    ("n3", Place::Nat4, false),
    ("g0", Place::NatDual, true),
    ("g1", Place::NatDual, true),
    ("g2", Place::NatDual, false),
    ("g3", Place::NatDual, false),
];

/// The rows: where the two leechers (ttui's and libtorrent's) sit, side by side.
const ROWS: &[(&str, Place)] = &[
    ("public dual-stack", Place::Dual),
    ("behind a CGNAT (IPv4 only)", Place::Nat4),
    ("dual-stack behind a CGNAT", Place::NatDual),
    ("public, IPv6 only", Place::Only6),
    ("public, IPv4 only", Place::Public4),
];

/// How long each leecher has to connect: 60 s, or `TTUI_REACH_SECONDS` (tests/bench/reach.sh
/// runs longer windows).
fn table_window() -> Duration {
    let secs = std::env::var("TTUI_REACH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    Duration::from_secs(secs.clamp(5, 900))
}

/// A host at `place`, behind a NAT of its own when the place is behind one.
fn add_at(lab: &mut Lab, name: &str, place: Place) -> Host {
    let kind = match place {
        Place::Public4 => Kind::Public4,
        Place::Dual => Kind::Dual,
        Place::Only6 => Kind::Only6,
        Place::Nat4 => Kind::Nat4(lab.nat(&format!("nat-{name}"))),
        Place::NatDual => Kind::Nat4Global6(lab.nat(&format!("nat-{name}"))),
    };
    lab.add(name, kind).clone()
}

/// The swarm member an address belongs to: a host's own addresses, or its NAT's.
fn member_of(members: &[Host], ip: std::net::IpAddr) -> Option<&str> {
    let ip = ip.to_canonical();
    members
        .iter()
        .find(|h| {
            let public_v4 = h.nat_v4.or(h.v4).map(std::net::IpAddr::from);
            public_v4 == Some(ip) || h.v6.map(std::net::IpAddr::from) == Some(ip)
        })
        .map(|h| h.name.as_str())
}

/// A ttui daemon leeching in a lab host; its verbs run outside the namespace (the control
/// socket is a file in its state dir).
struct TtuiLeecher {
    state: std::path::PathBuf,
    xdg: std::path::PathBuf,
    proc: Proc,
}

impl TtuiLeecher {
    /// `ttui ARGS --state-dir STATE` (the state dir after the verb's own arguments).
    fn command(args: &[&str], state: &Path, xdg: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ttui"));
        c.args(args)
            .arg("--state-dir")
            .arg(state)
            .env_remove("XDG_RUNTIME_DIR")
            .env("XDG_STATE_HOME", xdg)
            .env("XDG_CONFIG_HOME", xdg)
            .env("XDG_DATA_HOME", xdg)
            .env("NO_COLOR", "1")
            .env("TTUI_NO_PUBLIC_ROUTERS", "1");
        c
    }

    fn start(host: &Host, dir: &Path, boot: &[String], logs: &Path) -> TtuiLeecher {
        let (state, xdg, out) = (dir.join("state"), dir.join("xdg"), dir.join("out"));
        for d in [&state, &xdg, &out] {
            std::fs::create_dir_all(d).unwrap();
        }
        let out_s = out.display().to_string();
        let mut cmd = Self::command(&["daemon", "-o", &out_s], &state, &xdg);
        cmd.args(["--port", "6881", "--no-lsd", "--down-limit", "100K"])
            .arg("--log-file")
            .arg(dir.join("ttui.log"));
        for b in boot {
            cmd.args(["--dht-bootstrap", b]);
        }
        let proc = host.spawn(&format!("ttui-{}", host.name), &cmd, logs);
        TtuiLeecher { state, xdg, proc }
    }

    fn verb(&self, args: &[&str]) -> Option<String> {
        let mut c = Self::command(args, &self.state, &self.xdg);
        let out = run_bounded(&mut c, Duration::from_secs(10));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The BEP 55 introductions it made as the relay and the wire bytes of the messages that
    /// took (`show --json`'s `introductions` and `relay_bytes`).
    fn relayed(&self, hash: &str) -> (u64, u64) {
        let v = self
            .verb(&["show", hash, "--json"])
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .unwrap_or_default();
        (
            v["introductions"].as_u64().unwrap_or(0),
            v["relay_bytes"].as_u64().unwrap_or(0),
        )
    }

    /// CPU seconds (user + system) the daemon has used, from /proc/PID/stat.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.proc.pid())).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        ticks as f64 / clock_ticks()
    }

    /// The addresses of the peers `show --json` lists as connected now.
    fn connected(&self, hash: &str) -> Vec<std::net::IpAddr> {
        let Some(text) = self.verb(&["show", hash, "--json"]) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v["peers"]
            .as_array()
            .map(|peers| {
                peers
                    .iter()
                    .filter(|p| p["state"] == "connected")
                    .filter_map(|p| p["address"].as_str()?.parse::<SocketAddr>().ok())
                    .map(|a| a.ip())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The kernel's clock ticks a second (`getconf CLK_TCK`), 100 when it cannot say.
fn clock_ticks() -> f64 {
    let out = run_bounded(
        Command::new("getconf").arg("CLK_TCK"),
        Duration::from_secs(5),
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}

/// The addresses a lt_peer.py leecher has ever been connected to (its last `peers` line).
fn lt_connected(p: &Proc) -> Vec<std::net::IpAddr> {
    p.stdout_text()
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peers "))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|ips| ips.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default()
}

/// The reach table: a swarm of 18 libtorrent peers (DHT, PEX, uTP and hole punching on) on
/// the lab's internet, public IPv4, dual-stack, IPv6-only, behind CGNATs and dual-stack behind
/// CGNATs, a third of them on no tracker (found only through the DHT or PEX). For each place
/// a leecher can sit, ttui and a libtorrent leecher sit there side by side (each on its own
/// host, and behind its own NAT in a NAT row) for 60 s; each one's distinct swarm members
/// ever connected are counted (ttui: `show --json` polled each second; libtorrent: its
/// `get_peer_info()` polled). ttui reaches at least as many in every row.
#[test]
fn reach_table() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    let tracker_host = add_at(&mut lab, "tracker", Place::Dual);
    let members: Vec<Host> = SWARM
        .iter()
        .map(|&(name, place, _)| add_at(&mut lab, name, place))
        .collect();
    let leechers: Vec<(Host, Host)> = ROWS
        .iter()
        .enumerate()
        .map(|(i, &(_, place))| {
            (
                add_at(&mut lab, &format!("tt{i}"), place),
                add_at(&mut lab, &format!("lt{i}"), place),
            )
        })
        .collect();
    // 16 MiB at 100 kB/s: no leecher completes (and turns seed) within the window.
    let fx = Fixture::single_file("table.bin", 16 << 20, 548, 18);
    let url = announce_url;
    let torrent = fx.torrent_with(
        "table.torrent",
        None,
        &[
            vec![url(tracker_host.ip4().into())],
            vec![url(tracker_host.ip6().into())],
        ],
    );
    let logs = fx.out_dir("logs");
    let _tracker = start_tracker(&tracker_host, &logs);
    let d0 = &members[0];
    let boot = vec![
        SocketAddr::new(d0.ip4().into(), PEER_PORT).to_string(),
        bracketed(SocketAddr::new(d0.ip6().into(), PEER_PORT)),
    ];
    let boot_args: Vec<String> = boot
        .iter()
        .flat_map(|b| ["--dht-node".to_string(), b.clone()])
        .collect();
    let mut swarm: Vec<Proc> = Vec::new();
    for (i, (host, &(name, _, tracked))) in members.iter().zip(SWARM).enumerate() {
        let save = fx.out_dir(&format!("save-{name}"));
        // Every other one seeds; the rest are partial peers, downloading slowly.
        let role: &[&str] = if i % 2 == 0 {
            &["--mode", "seed", "--upload-limit", "50000"]
        } else {
            &["--mode", "leech", "--download-limit", "20000"]
        };
        let data = if i % 2 == 0 {
            fx.data_dir.display().to_string()
        } else {
            save.display().to_string()
        };
        let mut args = strings(role);
        args.extend(strings(&["--dht", "--pex", "--save", &data, "--torrent"]));
        args.push(torrent.path.display().to_string());
        if !tracked {
            args.push("--no-trackers".into());
        }
        if i > 0 {
            args.extend(boot_args.iter().cloned());
        }
        let mut p = start_lt_peer(host, &format!("lt-{name}"), &args, &logs);
        if i == 0 {
            p.wait_for_stdout("the bootstrap node to run", "dht ", WAIT);
        }
        swarm.push(p);
    }
    for p in swarm.iter_mut() {
        p.wait_for_stdout("a swarm peer to join the lab's DHT", "ready", WAIT);
    }
    let hash = torrent.hash_hex();
    let mut rows: Vec<(TtuiLeecher, Proc)> = Vec::new();
    for (i, (tt, lt)) in leechers.iter().enumerate() {
        let dir = fx.out_dir(&format!("tt{i}"));
        let ttui = TtuiLeecher::start(tt, &dir, &boot, &logs);
        let save = fx.out_dir(&format!("lt{i}"));
        let mut args = strings(&["--mode", "leech", "--dht", "--pex"]);
        args.extend(strings(&["--download-limit", "100000", "--save"]));
        args.push(save.display().to_string());
        args.push("--torrent".into());
        args.push(torrent.path.display().to_string());
        args.extend(boot_args.iter().cloned());
        let ltp = start_lt_peer(lt, &format!("lt-leech{i}"), &args, &logs);
        rows.push((ttui, ltp));
    }
    let torrent_arg = torrent.path.display().to_string();
    for (ttui, _) in &rows {
        let end = Instant::now() + WAIT;
        while ttui.verb(&["add", &torrent_arg]).is_none() {
            assert!(
                Instant::now() < end,
                "the daemon never took the torrent\n{}",
                tail(&ttui.proc.stderr, 20)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let mut seen: Vec<(
        std::collections::BTreeSet<String>,
        std::collections::BTreeSet<String>,
    )> = vec![Default::default(); rows.len()];
    let window = table_window();
    let end = Instant::now() + window;
    while Instant::now() < end {
        for ((ttui, ltp), (tt_seen, lt_seen)) in rows.iter().zip(seen.iter_mut()) {
            for ip in ttui.connected(&hash) {
                if let Some(m) = member_of(&members, ip) {
                    tt_seen.insert(m.to_string());
                }
            }
            for ip in lt_connected(ltp) {
                if let Some(m) = member_of(&members, ip) {
                    lt_seen.insert(m.to_string());
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut table = format!(
        "reach table: distinct swarm peers connected within {}s (of {})\n{:<30} {:>5} {:>11}\n",
        window.as_secs(),
        SWARM.len(),
        "leecher sits",
        "ttui",
        "libtorrent"
    );
    for ((name, _), (tt, lt)) in ROWS.iter().zip(&seen) {
        table.push_str(&format!("{name:<30} {:>5} {:>11}\n", tt.len(), lt.len()));
    }
    eprintln!("{table}");
    // The ttui leechers are relays too (BEP 55): what that cost them over the window (their
    // CPU includes their own download, at 100 kB/s).
    for ((name, _), (ttui, _)) in ROWS.iter().zip(&rows) {
        let (introductions, bytes) = ttui.relayed(&hash);
        eprintln!(
            "relay: {name}: introductions {introductions} bytes {bytes} cpu {:.2} s",
            ttui.cpu_seconds()
        );
    }
    for ((name, _), (tt, lt)) in ROWS.iter().zip(&seen) {
        eprintln!("{name}: ttui {tt:?}\n{name}: libtorrent {lt:?}");
    }
    for ((name, _), (tt, lt)) in ROWS.iter().zip(&seen) {
        assert!(
            tt.len() >= lt.len(),
            "{name}: ttui reached {} peers, libtorrent {}: ttui lacks {:?}\n{table}",
            tt.len(),
            lt.len(),
            lt.difference(tt).collect::<Vec<_>>()
        );
    }
}
