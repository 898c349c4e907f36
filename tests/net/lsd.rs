//! BEP 14 Local Service Discovery on a LAN of the test internet (tests/netlab, `Lab::lan`):
//! ttui finds a python3-libtorrent 2.0.8 seed that only multicasts its torrent (no tracker,
//! no DHT, no peer given) and downloads it byte-identical, the peer "from LSD"; a private
//! torrent is never announced and `--no-lsd` sends nothing (a raw listener on the group).
//! Multicast stays on the lab's LAN (TTL 1, and the core routes none).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::netlab;
use crate::prereq;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use netlab::{Host, Kind, Lab};

const RUN_LIMIT: Duration = Duration::from_secs(45);

fn prerequisites() -> bool {
    netlab::have_tools() && prereq::have_python_libtorrent()
}

/// `ttui ARGS --headless --no-dht --no-trackers --port PORT` in `host`'s namespace.
fn ttui_in(host: &Host, port: u16, args: &[&str]) -> Ttui {
    let port = port.to_string();
    let mut all = args.to_vec();
    all.extend(["--headless", "--no-dht", "--no-trackers", "--port", &port]);
    Ttui::spawn_wrapped(&["ip", "netns", "exec", &host.ns], all)
}

/// mktorrent, private (`-p`) or not, announcing to a dead tracker nobody asks.
fn make_torrent(payload: &Path, out: &Path, private: bool) -> Torrent {
    let mut cmd = Command::new("mktorrent");
    cmd.args(["-a", "http://192.0.2.1:1/announce", "-l", "15", "-o"])
        .arg(out);
    if private {
        cmd.arg("-p");
    }
    let res = cmd.arg(payload).output().unwrap();
    assert!(res.status.success(), "mktorrent: {res:?}");
    Torrent::load(out)
}

/// A LAN of two hosts, `seed` and `ttui`.
fn seed_and_ttui_on_a_lan() -> Lab {
    let mut lab = Lab::new();
    let lan = lab.lan();
    lab.add("seed", Kind::Lan(lan));
    lab.add("ttui", Kind::Lan(lan));
    lab
}

/// python3-libtorrent seeding `torrent` from `payload`'s directory on the host `seed`, LSD on
/// (it announces at its start, 2 s and 6 s later).
fn lt_lan_seed(lab: &Lab, torrent: &Torrent, payload: &Path, logs: &Path) -> Proc {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&torrent.path)
        .arg("--save")
        .arg(payload.parent().unwrap())
        .args(["--listen-any", "--port", "6881", "--seed-mode", "--lsd"])
        .args(["--announce-wait", "0", "--max-seconds", "120"]);
    lab.host("seed").spawn("lt-seed", &cmd, logs)
}

/// A raw listener on 239.192.152.143:6771 in `host`, joined on its LAN address, printing
/// each datagram on one line for `secs` seconds.
fn group_listener(host: &Host, secs: u32, log_dir: &Path) -> Proc {
    let script = format!(
        "import socket,struct,time\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('',6771))\n\
         m=struct.pack('4s4s',socket.inet_aton('239.192.152.143'),socket.inet_aton('{ip}'))\n\
         s.setsockopt(socket.IPPROTO_IP,socket.IP_ADD_MEMBERSHIP,m)\n\
         s.settimeout(0.5)\n\
         print('listening',flush=True)\n\
         end=time.time()+{secs}\n\
         while time.time()<end:\n \
          try:\n  d,a=s.recvfrom(4096)\n \
          except socket.timeout:\n  continue\n \
          print('from',a[0],d.replace(b'\\r\\n',b'|').decode('latin1'),flush=True)\n",
        ip = host.ip4(),
    );
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", &script]);
    let mut p = host.spawn("listener", &cmd, log_dir);
    p.wait_for_stdout("the group listener", "listening", WAIT);
    p
}

/// ttui (LSD on by default, no tracker, no DHT) on one LAN host finds a libtorrent seed on
/// another only by its LSD announces, and downloads the torrent byte-identical.
#[test]
fn ttui_finds_a_libtorrent_seed_by_lsd() {
    if !prerequisites() {
        return;
    }
    let tmp = tempdir("lsd-find");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let payload = make_single_file_payload(tmp.path(), "lan.bin", 3 << 20, 14);
    let torrent = make_torrent(&payload, &tmp.path().join("lan.torrent"), false);
    let lab = seed_and_ttui_on_a_lan();
    let out = tmp.path().join("out");
    // ttui first: libtorrent announces when its torrent starts (and again 2 s and 6 s later).
    let run = ttui_in(
        lab.host("ttui"),
        6881,
        &[torrent.path.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut seed = lt_lan_seed(&lab, &torrent, &payload, &logs);
    let started = Instant::now();
    let fin = run.wait(RUN_LIMIT);
    fin.assert_success(&format!("download by LSD\n{}", seed.report()));
    assert_same_tree(&payload, &out.join("lan.bin"));
    let all = format!("{}\n{}\n{}", fin.stdout, fin.stderr, fin.log_tail);
    let seed_ip = lab.host("seed").ip4().to_string();
    assert!(
        all.lines()
            .any(|l| l.contains("LSD: peer") && l.contains(&seed_ip)),
        "no LSD peer line naming {seed_ip} after {:?}:\n{}",
        started.elapsed(),
        last_lines(&all, 40)
    );
}

/// A bare magnet (no tracker, no DHT, no peer named) gets its metadata and then the torrent
/// from a libtorrent seed on the LAN: ttui announces the magnet by LSD while it waits, the
/// seed hears it and dials us.
#[test]
fn a_bare_magnet_is_fetched_from_a_lan_seed_found_by_lsd() {
    if !prerequisites() {
        return;
    }
    let tmp = tempdir("lsd-magnet");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let payload = make_single_file_payload(tmp.path(), "lanm.bin", 2 << 20, 15);
    let torrent = make_torrent(&payload, &tmp.path().join("lanm.torrent"), false);
    let lab = seed_and_ttui_on_a_lan();
    let out = tmp.path().join("out");
    let mut seed = lt_lan_seed(&lab, &torrent, &payload, &logs);
    // The seed's own announces are over (at its start, 2 s and 6 s later) before ttui runs:
    // only ttui's announce of the magnet can bring the two together.
    std::thread::sleep(Duration::from_secs(7));
    let magnet = format!("magnet:?xt=urn:btih:{}", torrent.hash_hex());
    let run = ttui_in(
        lab.host("ttui"),
        6881,
        &[&magnet, "-o", out.to_str().unwrap()],
    );
    let fin = run.wait(RUN_LIMIT);
    fin.assert_success(&format!("a magnet by LSD\n{}", seed.report()));
    assert_same_tree(&payload, &out.join("lanm.bin"));
}

/// A private torrent is never announced, and `--no-lsd` announces nothing; a public torrent
/// of a third ttui is heard (the listener works).
#[test]
fn private_torrents_and_no_lsd_are_never_announced() {
    if !netlab::have_tools() || !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let tmp = tempdir("lsd-quiet");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut lab = Lab::new();
    let lan = lab.lan();
    lab.add("ear", Kind::Lan(lan));
    lab.add("ttui", Kind::Lan(lan));
    let make = |name: &str, private: bool| {
        let p = make_single_file_payload(tmp.path(), name, 64 << 10, name.len() as u64);
        make_torrent(&p, &tmp.path().join(format!("{name}.torrent")), private)
    };
    let private = make("private.bin", true);
    let quiet = make("quiet.bin", false);
    let public = make("public-one.bin", false);
    let mut ear = group_listener(lab.host("ear"), 30, &logs);
    let host = lab.host("ttui");
    let out = |n: &str| tmp.path().join(n).display().to_string();
    let runs = [
        ttui_in(
            host,
            6881,
            &[private.path.to_str().unwrap(), "-o", &out("o1")],
        ),
        ttui_in(
            host,
            6882,
            &[quiet.path.to_str().unwrap(), "-o", &out("o2"), "--no-lsd"],
        ),
        ttui_in(
            host,
            6883,
            &[public.path.to_str().unwrap(), "-o", &out("o3")],
        ),
    ];
    let heard = |ear: &Proc, t: &Torrent| ear.stdout_text().contains(&t.hash_hex());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !heard(&ear, &public) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        heard(&ear, &public),
        "the public torrent was never announced:\n{}",
        ear.report()
    );
    // All three started together and announce at once: give the others as long again.
    std::thread::sleep(Duration::from_secs(3));
    let text = ear.stdout_text();
    assert!(
        !heard(&ear, &private),
        "a private torrent was announced:\n{text}"
    );
    assert!(!heard(&ear, &quiet), "--no-lsd announced:\n{text}");
    assert!(
        text.contains("Port: 6883|") && text.contains(&format!("from {}", host.ip4())),
        "{text}"
    );
    drop(runs);
}
