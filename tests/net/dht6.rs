//! The DHT over IPv6 (BEP 32), end to end: a small DHT of python3-libtorrent 2.0.8 nodes
//! listening on `[::1]` only (each on its own port, tests/net/dht6/lt_dht6.py), one of them
//! seeding a torrent it announces to that IPv6 DHT only; ttui, given only `[::1]:PORT`
//! bootstrap nodes and no tracker, finds the seeder through its IPv6 routing table and
//! downloads the magnet byte-identical; `ttui peers` finds it the same way; and the IPv6
//! routing table is saved in --state-dir and is all the next run starts from; and a
//! libtorrent leecher finds `ttui seed` through ttui's IPv6 announce. libtorrent takes several nodes on one address once
//! `dht_restrict_routing_ips` is off (INTEROP.md).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// The libtorrent nodes on `[::1]`; the helper is killed by pid (after a `quit`) on drop.
struct LtDht6 {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    ports: Vec<u16>,
}

impl LtDht6 {
    fn start(n: usize) -> LtDht6 {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/dht6/lt_dht6.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(list.join(","));
        let (child, stdin, lines) =
            common::spawn_line_child(&mut cmd, "python3-libtorrent (/usr/bin/python3)");
        let mut d = LtDht6 {
            child,
            stdin,
            lines,
            ports,
        };
        let ready = d.expect("ready", Duration::from_secs(30));
        eprintln!("libtorrent IPv6 DHT: {ready} (nodes each)");
        d
    }

    fn bootstrap_args(&self) -> Vec<String> {
        self.ports
            .iter()
            .flat_map(|p| ["--dht-bootstrap".to_string(), format!("[::1]:{p}")])
            .collect()
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the libtorrent helper");
        self.stdin.flush().expect("flush");
    }

    /// The next line starting with `prefix` (others are skipped); panics after `timeout`.
    fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("libtorrent helper: no `{prefix}` line within {timeout:?}"),
            }
        }
    }

    fn seed(&mut self, i: usize, torrent: &Path, dir: &Path) {
        self.send(&format!("seed {i} {} {}", torrent.display(), dir.display()));
        self.expect("seeding", Duration::from_secs(90));
    }
}

impl LtDht6 {
    /// Session `i` downloads `magnet` into `dir`; the helper's `done S` line.
    fn leech(&mut self, i: usize, magnet: &str, dir: &Path) -> String {
        self.send(&format!("leech {i} {magnet} {}", dir.display()));
        let line = self.expect("", Duration::from_secs(160));
        assert!(line.starts_with("done"), "libtorrent leecher: {line}");
        line
    }
}

impl Drop for LtDht6 {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready() -> bool {
    require_loopback_only();
    prereq::have_tools(&["mktorrent"])
        && prereq::have_python_libtorrent()
        && prereq::have_ipv6_loopback()
}

#[test]
fn a_magnet_downloads_from_a_seeder_found_only_through_the_ipv6_dht() {
    if !ready() {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("dht6.bin", 3 << 20, 71, 16);
    // No tracker at all in the torrent: the DHT is the only way to the seeder.
    let t = fx.torrent_with("dht6-trackerless.torrent", None, &[]);
    let mut dht = LtDht6::start(4);
    dht.seed(0, &t.path, &fx.data_dir);
    let out = fx.out_dir("out");
    let log = fx.dir.path().join("ttui.log");
    let mut args: Vec<String> = vec![
        format!("magnet:?xt=urn:btih:{}&dn={}", t.hash_hex(), t.name),
        "--headless".into(),
        "--no-trackers".into(),
        "-o".into(),
        out.display().to_string(),
        "--port".into(),
        free_port().to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    args.extend(dht.bootstrap_args());
    let run = Ttui::run(&args, DOWNLOAD_TIMEOUT);
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    run.assert_success("magnet over the IPv6 DHT");
    assert!(
        run.stderr.contains("metadata ("),
        "no metadata line:\n{}\n{}",
        run.stderr,
        last_lines(&log_text, 30)
    );
    assert!(
        run.stdout.contains("complete:"),
        "{}",
        last_lines(&run.stdout, 5)
    );
    assert_same_tree(&fx.payload, &out.join(&t.name));
    eprintln!("ttui:\n{}", last_lines(&run.stderr, 12));
    // The seeder was reached at its IPv6 address, the only one it has.
    let seeder = format!("[::1]:{}", dht.ports[0]);
    assert!(
        log_text.contains(&seeder) || run.stderr.contains(&seeder),
        "{seeder} named nowhere:\n{}",
        last_lines(&log_text, 30)
    );

    // `ttui peers` asks the DHT with a node of its own: over IPv6 too, the seeder among them.
    let mut args: Vec<String> = vec!["peers".into(), t.path.display().to_string()];
    args.extend(dht.bootstrap_args());
    let run = Ttui::run(&args, Duration::from_secs(60));
    run.assert_success("ttui peers");
    assert!(
        run.stdout.lines().any(|l| l == seeder),
        "{seeder} not in:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    drop(dht);
}

#[test]
fn the_ipv6_routing_table_is_saved_and_is_enough_to_start_from_next_time() {
    if !ready() {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("dht6-state.bin", 1 << 20, 72, 16);
    let t = fx.torrent_with("dht6-state.torrent", None, &[]);
    let dht = LtDht6::start(4);
    let dir = tempdir("ttui-dht6-state-");
    let state = dir.path().join("state");
    let state_arg = state.display().to_string();
    // First run: bootstrapped from the IPv6 nodes only; SIGTERM quits it gracefully.
    let log1 = dir.path().join("one.log");
    let mut extra: Vec<String> = vec![
        "--state-dir".into(),
        state_arg.clone(),
        "--log-file".into(),
        log1.display().to_string(),
    ];
    extra.extend(dht.bootstrap_args());
    let extra1: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut one = spawn_ttui_seeder(&t.path, &fx.data_dir, free_port(), &extra1);
    wait_for_log(&log1, "announced", Duration::from_secs(60), &mut one);
    one.terminate();
    let (_, saved) = ttui::internals::dht::persist::load(&state).expect("dht.dat");
    let v6 = saved.iter().filter(|n| n.addr.is_ipv6()).count();
    assert!(v6 >= 2, "dht.dat holds {v6} IPv6 nodes: {saved:?}");
    assert_eq!(
        v6,
        saved.len(),
        "IPv4 nodes from an IPv6-only DHT: {saved:?}"
    );
    // Second run: the only bootstrap node is a closed IPv4 port, so the nodes it announces
    // to come from the saved IPv6 table (and its IPv6 socket from their route).
    let log2 = dir.path().join("two.log");
    let closed = closed_addr().to_string();
    let extra2 = [
        "--state-dir",
        &state_arg,
        "--log-file",
        &log2.display().to_string(),
        "--dht-bootstrap",
        &closed,
    ]
    .map(String::from);
    let extra2: Vec<&str> = extra2.iter().map(String::as_str).collect();
    let mut two = spawn_ttui_seeder(&t.path, &fx.data_dir, free_port(), &extra2);
    wait_for_log(&log2, "announced", Duration::from_secs(60), &mut two);
    let text = std::fs::read_to_string(&log2).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("DHT: ") && l.contains("announced"))
        .unwrap_or_default();
    assert!(
        !line.contains("from 0 nodes"),
        "the second run knew no node: {line}"
    );
    two.terminate();
    drop(dht);
}

fn wait_for_log(log: &Path, needle: &str, timeout: Duration, ttui: &mut Ttui) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if std::fs::read_to_string(log).is_ok_and(|s| s.contains(needle)) {
            return;
        }
        assert!(!ttui.has_exited(), "ttui exited:\n{}", ttui.report());
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no `{needle}` in ttui's log within {timeout:?}:\n{}",
        tail(log, 40)
    );
}

#[test]
fn a_libtorrent_leecher_finds_ttui_seed_through_its_ipv6_announce() {
    if !ready() {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("dht6-seed.bin", 2 << 20, 73, 16);
    let t = fx.torrent_with("dht6-seed.torrent", None, &[]);
    let mut dht = LtDht6::start(4);
    let dir = tempdir("ttui-dht6-seed-");
    let log = dir.path().join("seed.log");
    let mut extra: Vec<String> = vec!["--log-file".into(), log.display().to_string()];
    extra.extend(dht.bootstrap_args());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut seeder = spawn_ttui_seeder(&t.path, &fx.data_dir, free_port(), &extra);
    // ttui announces once its (IPv6) table has a node; the leecher looks up after that.
    wait_for_log(&log, "announced", Duration::from_secs(60), &mut seeder);
    let out = dir.path().join("lt-out");
    std::fs::create_dir_all(&out).expect("out dir");
    let magnet = format!("magnet:?xt=urn:btih:{}&dn={}", t.hash_hex(), t.name);
    let done = dht.leech(1, &magnet, &out);
    eprintln!("libtorrent: {done}");
    assert_same_tree(&fx.payload, &out.join(&t.name));
    seeder.kill();
    drop(dht);
}
