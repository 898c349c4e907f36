//! A flood of DHT queries from hundreds of loopback addresses against the ttui binary: what
//! the flooders get back stays within the DHT's reply budget (`--dht-rate-limit`), the flood
//! costs ttui little CPU, and meanwhile a libtorrent node that knows only ttui still finds a
//! peer through it and ttui's own download completes.
//!
//! The per-address limit (20 queries a second) holds against one sender; here each of 400
//! addresses stays within it, so only the overall budget stands between the flood and an
//! amplifier.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::*;
use ttui::internals::protocol::krpc::{Body, Krpc, NodeId, Query};

const BUDGET: u64 = 8_000;
const SOURCES: u32 = 400;
/// Queries a second from each source: within the per-address limit.
const PER_SOURCE: u32 = 20;
const FLOOD_MIN: Duration = Duration::from_secs(6);
const FLOOD_MAX: Duration = Duration::from_secs(40);

/// A libtorrent seeder and a libtorrent querier, DHT nodes that know only ttui.
const PY: &str = r#"
import sys, time, libtorrent as lt
ips = sys.argv[1].split(','); port = int(sys.argv[2]); ours = sys.argv[3]; limit = int(sys.argv[4])
mask = (lt.alert.category_t.dht_operation_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification)
def mk(ip, up):
    return lt.session({
        'listen_interfaces': '%s:%d' % (ip, port), 'outgoing_interfaces': ip,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': up, 'alert_mask': mask})
seeder, querier = mk(ips[0], limit), mk(ips[1], 0)
# Loopback peers sit in the local peer class, which ignores rate limits.
ipf = lt.ip_filter()
ipf.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
seeder.set_peer_class_filter(ipf)
host, p = ours.rsplit(':', 1)
def introduce():
    for s in (seeder, querier): s.add_dht_node((host, int(p)))
def out(line):
    sys.stdout.write(line + '\n'); sys.stdout.flush()
out('ready')
h = None
for line in sys.stdin:
    w = line.split()
    if not w: continue
    if w[0] == 'quit': break
    if w[0] == 'seed':
        atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(w[1]); atp.save_path = w[2]
        atp.trackers = []; atp.flags |= lt.torrent_flags.seed_mode
        h = seeder.add_torrent(atp); h.replace_trackers([])
        end = time.time() + 30
        while not h.status().is_seeding and time.time() < end:
            seeder.pop_alerts(); time.sleep(0.1)
        out('seeding')
    elif w[0] == 'lookup':
        want = w[2]; t0 = time.time(); end = t0 + float(w[3]); peers = []
        while time.time() < end and want not in peers:
            introduce(); h.force_dht_announce(); seeder.pop_alerts(); querier.pop_alerts()
            querier.dht_get_peers(lt.sha1_hash(bytes.fromhex(w[1])))
            stop = min(end, time.time() + 3)
            while time.time() < stop and want not in peers:
                querier.wait_for_alert(200)
                for a in querier.pop_alerts():
                    if isinstance(a, lt.dht_get_peers_reply_alert):
                        peers += ['%s:%d' % x for x in a.peers()]
        out('peers %.2f %s' % (time.time() - t0, ' '.join(sorted(set(peers)))))
"#;

struct Lt {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Lt {
    fn start(
        ips: &[Ipv4Addr],
        port: u16,
        ttui: SocketAddr,
        seed_rate: u64,
        dir: &std::path::Path,
    ) -> Lt {
        let script = dir.join("flood_peers.py");
        std::fs::write(&script, PY).unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .arg(list.join(","))
            .arg(port.to_string())
            .arg(ttui.to_string())
            .arg(seed_rate.to_string())
            .current_dir(dir);
        let (child, stdin, lines) =
            common::spawn_line_child(&mut cmd, "python3-libtorrent (/usr/bin/python3)");
        let mut lt = Lt {
            child,
            stdin,
            lines,
        };
        lt.expect("ready", Duration::from_secs(30));
        lt
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap_or_else(|e| panic!("to libtorrent: {e}"));
        self.stdin
            .flush()
            .unwrap_or_else(|e| panic!("to libtorrent: {e}"));
    }

    fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(e) => panic!("no `{prefix}` from libtorrent within {timeout:?}: {e}"),
            }
        }
    }

    fn try_line(&mut self) -> Option<String> {
        self.lines.try_recv().ok()
    }
}

impl Drop for Lt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the flooders got back.
#[derive(Debug, Default)]
struct Received {
    datagrams: u64,
    /// With 28 bytes of IPv4 and UDP headers each, as the budget counts them.
    wire_bytes: u64,
    pings: u64,
    sent: u64,
}

fn query(i: u64, announce: bool) -> Vec<u8> {
    let query = if announce {
        Query::AnnouncePeer {
            info_hash: NodeId::random(),
            port: 6881,
            implied_port: false,
            token: b"made-up".to_vec(),
        }
    } else {
        Query::GetPeers {
            info_hash: NodeId::random(),
            want: Default::default(),
        }
    };
    Krpc {
        tid: (i as u32).to_be_bytes().to_vec(),
        version: None,
        ip: None,
        body: Body::Query {
            id: NodeId::random(),
            query,
            read_only: false,
        },
    }
    .encode()
}

/// `SOURCES` sockets on 127.0.1.1 onwards, each sending `PER_SOURCE` queries a second to
/// `target` until `stop` (or `FLOOD_MAX`), reading what comes back; then one more second
/// of reading.
fn flood(target: SocketAddr, stop: Arc<AtomicBool>) -> Received {
    let socks: Vec<UdpSocket> = (0..SOURCES)
        .map(|i| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 1, 1)) + i);
            let s = UdpSocket::bind((ip, 0)).unwrap_or_else(|e| panic!("bind {ip}: {e}"));
            s.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
            s
        })
        .collect();
    let mut got = Received::default();
    let mut buf = [0u8; 2048];
    let mut drain = |got: &mut Received| {
        for s in &socks {
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        got.datagrams += 1;
                        got.wire_bytes += n as u64 + 28;
                        if matches!(
                            Krpc::decode(&buf[..n]),
                            Ok(Krpc {
                                body: Body::Query { .. },
                                ..
                            })
                        ) {
                            got.pings += 1;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
    };
    let start = Instant::now();
    let tick = Duration::from_millis(50);
    let per_tick = (SOURCES * PER_SOURCE / 20) as usize;
    let mut next = 0usize;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && start.elapsed() < FLOOD_MAX {
        let t = Instant::now();
        for _ in 0..per_tick {
            i += 1;
            let _ = socks[next].send_to(&query(i, i.is_multiple_of(4)), target);
            got.sent += 1;
            next = (next + 1) % socks.len();
        }
        drain(&mut got);
        std::thread::sleep(tick.saturating_sub(t.elapsed()));
    }
    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        drain(&mut got);
        std::thread::sleep(Duration::from_millis(50));
    }
    got
}

/// With `--seed`, a completed download shows as a progress line of 100% that is seeding.
fn seeding(stdout: &str) -> bool {
    stdout
        .lines()
        .any(|l| l.starts_with("100.0%") && l.ends_with("seeding"))
}

/// User and system CPU seconds of a process so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

#[test]
fn a_query_flood_from_400_addresses_is_answered_within_the_budget() {
    require_loopback_only();
    if !(prereq::have_tools(&["mktorrent"]) && prereq::have_python_libtorrent()) {
        return;
    }
    let _swarm = swarm_lock();
    // 4 MiB at 800 kB/s: the download runs through the flood.
    let fx = Fixture::single_file("flood.bin", 4 << 20, 23, 16);
    let t = fx.torrent_with("flood.torrent", None, &[]);
    let (ttui_ip, lt_ips) = (loopback_ip(), [loopback_ip(), loopback_ip()]);
    let (ttui_port, lt_port) = (free_port(), free_port());
    let ttui_addr = SocketAddr::from((ttui_ip, ttui_port));
    let work = tempdir("ttui-dht-flood-");
    let mut lt = Lt::start(&lt_ips, lt_port, ttui_addr, 800_000, work.path());
    lt.send(&format!(
        "seed {} {}",
        t.path.display(),
        fx.data_dir.display()
    ));
    lt.expect("seeding", Duration::from_secs(40));
    let seeder = SocketAddr::from((lt_ips[0], lt_port));

    let out = fx.out_dir("out");
    let args: Vec<String> = vec![
        t.path.display().to_string(),
        "--headless".into(),
        "--seed".into(),
        "--no-trackers".into(),
        "--transport".into(),
        "tcp".into(),
        "--bind".into(),
        ttui_ip.to_string(),
        "--port".into(),
        ttui_port.to_string(),
        "--peer".into(),
        seeder.to_string(),
        "--dht-bootstrap".into(),
        seeder.to_string(),
        "--dht-bootstrap".into(),
        SocketAddr::from((lt_ips[1], lt_port)).to_string(),
        "--dht-rate-limit".into(),
        BUDGET.to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    let mut ttui = Ttui::spawn(&args);
    let spawned = Instant::now();
    let pid = ttui.pid();
    std::thread::sleep(Duration::from_millis(500));

    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_secs(pid);
    let flood_start = Instant::now();
    let flooder = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || flood(ttui_addr, stop))
    };
    // Meanwhile the querier looks the torrent up through ttui.
    lt.send(&format!("lookup {} {seeder} 30", t.hash_hex()));
    let mut found: Option<String> = None;
    let deadline = Instant::now() + FLOOD_MAX;
    loop {
        if found.is_none() {
            found = std::iter::from_fn(|| lt.try_line()).find(|l| l.starts_with("peers"));
        }
        let complete = seeding(&ttui.stdout_now());
        if (found.is_some() && complete && flood_start.elapsed() >= FLOOD_MIN)
            || Instant::now() > deadline
            || ttui.has_exited()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let flood_secs = flood_start.elapsed().as_secs_f64();
    let cpu = cpu_secs(pid) - cpu0;
    stop.store(true, Ordering::Relaxed);
    let got = flooder
        .join()
        .unwrap_or_else(|_| panic!("the flood thread panicked"));
    let alive = spawned.elapsed().as_secs_f64();
    let complete = seeding(&ttui.stdout_now());
    let report = ttui.report();
    ttui.kill();

    eprintln!(
        "dht flood: {} queries from {SOURCES} addresses in {flood_secs:.1}s drew {} datagrams \
         ({} bytes with headers, {} pings) at a budget of {BUDGET} B/s over {alive:.1}s; \
         ttui used {cpu:.2} CPU-s; libtorrent's lookup through ttui: {found:?}",
        got.sent, got.datagrams, got.wire_bytes, got.pings
    );
    assert!(
        complete,
        "the download did not complete under the flood\n{report}"
    );
    let bound = (BUDGET as f64 * (alive + 1.0)) as u64;
    assert!(
        got.wire_bytes <= bound,
        "the flooders got {} bytes back, over the budget's {bound}",
        got.wire_bytes
    );
    assert!(
        got.datagrams > 0,
        "the flooders got no answer at all: {got:?}"
    );
    assert!(
        got.sent > 20 * got.datagrams,
        "the flood was not larger than the budget: {got:?}"
    );
    assert!(
        cpu < 0.5 * flood_secs,
        "ttui used {cpu:.2} CPU-s over a {flood_secs:.1}s flood"
    );
    let found = found.unwrap_or_default();
    assert!(
        found.split_whitespace().any(|p| p == seeder.to_string()),
        "libtorrent's lookup through ttui did not find the seeder {seeder}: {found}\n{report}"
    );
}
