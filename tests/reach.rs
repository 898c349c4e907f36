//! IPv6 peers from every source, dialed: real python3-libtorrent 2.0.8 peers in a small test
//! internet of network namespaces (tests/netlab), with ttui in a host of its own.
//!
//! The HTTP tracker is tests/reach/tracker.py: Debian's opentracker is built IPv4-only
//! (`opentracker -i ::1` says "V4 Tracker is V4 only!"), and no IPv6 build is packaged.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;
mod netlab;
mod prereq;

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

/// tests/reach/tracker.py on `host`, answered once it listens.
fn start_tracker(host: &Host, log_dir: &Path) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reach/tracker.py");
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
    let torrent = fx.torrent_with("six.torrent", Some(&tracker_url), &[]);
    let logs = fx.out_dir("logs");
    let tracker = start_tracker(lab.host("tracker"), &logs);
    let _seed = start_lt_seed(lab.host("seed"), &torrent, &fx.data_dir, &logs, &[]);
    let out = fx.out_dir("out");
    let run = ttui_in(
        lab.host("ttui"),
        &[&out_arg(&torrent.path), "-o", &out_arg(&out)],
    )
    .wait(RUN_LIMIT);
    run.assert_success("download from an IPv6-only seed");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let seen = announces(&tracker);
    let ttui6 = lab.host("ttui").ip6().to_string();
    assert!(
        seen.iter().any(|l| l.contains(&ttui6)),
        "ttui did not announce over IPv6: {seen:?}"
    );
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
    let url = |ip: std::net::IpAddr| {
        format!(
            "http://{}/announce",
            bracketed(SocketAddr::new(ip, TRACKER_PORT))
        )
    };
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
    let url = |ip: std::net::IpAddr| {
        format!(
            "http://{}/announce",
            bracketed(SocketAddr::new(ip, TRACKER_PORT))
        )
    };
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
