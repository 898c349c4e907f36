//! Our DHT node against real libtorrent 2.0 nodes on loopback (see /work/shared/INTEROP.md,
//! "A loopback DHT of libtorrent nodes"), and against hostile datagrams.
//!
//! The python helper runs several libtorrent sessions, each on its own 127.0.0.x, and takes
//! one command a line on stdin; our node runs on a tokio UdpSocket whose receive loop is the
//! few lines of glue a session would have.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use ttui::internals::dht::{is_krpc, Dht, DhtConfig};
use ttui::internals::protocol::krpc::{Body, Krpc, NodeId, Query};

const SWARM_PY: &str = r#"
import os, sys, time, libtorrent as lt
ips = sys.argv[1].split(','); port = int(sys.argv[2]); ours = sys.argv[3]; work = sys.argv[4]
mask = (lt.alert.category_t.dht_operation_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification)
def mk(ip):
    return lt.session({
        'listen_interfaces': '%s:%d' % (ip, port), 'outgoing_interfaces': ip,
        'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'dht_bootstrap_nodes': '', 'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False, 'dht_ignore_dark_internet': False,
        'dht_block_ratelimit': 1000, 'allow_multiple_connections_per_ip': True,
        'alert_mask': mask})
sessions = [mk(ip) for ip in ips]
def mesh():
    h, p = ours.rsplit(':', 1)
    for i, s in enumerate(sessions):
        for j, ip in enumerate(ips):
            if i != j: s.add_dht_node((ip, port))
        s.add_dht_node((h, int(p)))
def out(line):
    sys.stdout.write(line + '\n'); sys.stdout.flush()
time.sleep(1); mesh(); time.sleep(1); mesh()
out('ready')
handles = {}
for line in sys.stdin:
    w = line.split()
    if not w: continue
    if w[0] == 'quit': break
    if w[0] == 'mesh':
        mesh(); out('ok')
    elif w[0] == 'seed':
        i = int(w[1]); d = os.path.join(work, 'seed%d' % i); os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'data.bin'), 'wb') as f: f.write(os.urandom(65536))
        fs = lt.file_storage(); lt.add_files(fs, os.path.join(d, 'data.bin'))
        t = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
        lt.set_piece_hashes(t, d)
        ti = lt.torrent_info(t.generate())
        h = sessions[i].add_torrent({'ti': ti, 'save_path': d}); handles[i] = h
        end = time.time() + 30
        while not h.status().is_seeding and time.time() < end:
            sessions[i].pop_alerts(); time.sleep(0.1)
        h.force_dht_announce()
        out('seeding %s %d' % (ti.info_hashes().v1.to_bytes().hex(), sessions[i].listen_port()))
    elif w[0] == 'announce':
        handles[int(w[1])].force_dht_announce(); out('ok')
    elif w[0] == 'lookup':
        s = sessions[int(w[1])]; s.pop_alerts()
        s.dht_get_peers(lt.sha1_hash(bytes.fromhex(w[2])))
        end = time.time() + 20; peers = None
        while peers is None and time.time() < end:
            s.wait_for_alert(500)
            for a in s.pop_alerts():
                if isinstance(a, lt.dht_get_peers_reply_alert):
                    peers = ['%s:%d' % p for p in a.peers()]
        out('peers ' + ' '.join(peers or []))
"#;

/// The python libtorrent sessions; killed by pid and their files removed on drop.
struct Swarm {
    child: Child,
    stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
    ips: Vec<Ipv4Addr>,
    port: u16,
    _dir: TempDir,
}

impl Swarm {
    fn start(n: usize, ours: SocketAddr) -> Swarm {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("swarm.py");
        std::fs::write(&script, SWARM_PY).expect("write script");
        let ips: Vec<Ipv4Addr> = (0..n).map(|_| common::loopback_ip()).collect();
        let port = common::free_port();
        let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .arg(list.join(","))
            .arg(port.to_string())
            .arg(ours.to_string())
            .arg(dir.path());
        let (child, stdin, lines) =
            common::spawn_line_child(&mut cmd, "python3-libtorrent (/usr/bin/python3)");
        let mut s = Swarm {
            child,
            stdin,
            lines,
            ips,
            port,
            _dir: dir,
        };
        s.expect("ready", Duration::from_secs(30));
        s
    }

    fn addrs(&self) -> Vec<SocketAddrV4> {
        self.ips
            .iter()
            .map(|ip| SocketAddrV4::new(*ip, self.port))
            .collect()
    }

    /// Sends a command and returns the next line starting with `reply`.
    fn ask(&mut self, cmd: &str, reply: &str, timeout: Duration) -> String {
        writeln!(self.stdin, "{cmd}").expect("write to the swarm");
        self.stdin.flush().expect("flush");
        self.expect(reply, timeout)
    }

    fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        tokio::task::block_in_place(|| loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(e) => panic!("no `{prefix}` from the libtorrent swarm within {timeout:?}: {e}"),
            }
        })
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our node on its own socket, with the receive loop a session would run.
struct OurNode {
    dht: Dht,
    addr: SocketAddr,
    /// Datagrams the glue handed to the node (not dropped by its full queue).
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
    glue: JoinHandle<()>,
}

impl OurNode {
    async fn bind(ip: &str) -> Arc<UdpSocket> {
        Arc::new(UdpSocket::bind((ip, 0)).await.expect("bind"))
    }

    async fn start(ip: &str, bootstrap: Vec<String>, state_dir: Option<PathBuf>) -> OurNode {
        Self::start_on(Self::bind(ip).await, bootstrap, state_dir)
    }

    fn start_on(
        sock: Arc<UdpSocket>,
        bootstrap: Vec<String>,
        state_dir: Option<PathBuf>,
    ) -> OurNode {
        let addr = sock.local_addr().expect("local addr");
        let cfg = DhtConfig {
            bootstrap,
            state_dir,
            ..DhtConfig::default()
        };
        let (dht, task) = Dht::spawn(cfg, sock.clone());
        let feed = dht.clone();
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        let glue = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                if let Ok((n, from)) = sock.recv_from(&mut buf).await {
                    if is_krpc(&buf[..n]) && feed.incoming(&buf[..n], from) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        OurNode {
            dht,
            addr,
            accepted,
            task,
            glue,
        }
    }

    async fn stop(self) {
        self.dht.shutdown().await;
        self.glue.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    async fn knows(&self, addrs: &[SocketAddrV4]) -> usize {
        let nodes = self.dht.nodes().await;
        addrs
            .iter()
            .filter(|a| nodes.iter().any(|n| n.addr == SocketAddr::V4(**a)))
            .count()
    }

    async fn wait_knows(&self, addrs: &[SocketAddrV4], n: usize, swarm: &mut Swarm) {
        let end = Instant::now() + Duration::from_secs(40);
        while self.knows(addrs).await < n {
            assert!(
                Instant::now() < end,
                "our routing table holds {} of the {} libtorrent nodes after 40 s: {:?}",
                self.knows(addrs).await,
                addrs.len(),
                self.dht.stats().await
            );
            swarm.ask("mesh", "ok", Duration::from_secs(5));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Runs one lookup to its end and returns every peer it reported.
    async fn lookup(&self, hash: [u8; 20], announce: Option<u16>) -> Vec<SocketAddr> {
        let mut rx = self.dht.get_peers(hash, announce).await;
        let mut out = Vec::new();
        let end = tokio::time::Instant::now() + Duration::from_secs(70);
        while let Ok(Some(p)) = tokio::time::timeout_at(end, rx.recv()).await {
            out.push(p);
        }
        out
    }
}

fn unhex(s: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).expect("hex");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_a_libtorrent_dht_and_finds_a_seeder_through_it() {
    common::require_loopback_only();
    let _lock = common::swarm_lock();
    let sock = OurNode::bind("127.0.0.1").await;
    let mut swarm = Swarm::start(5, sock.local_addr().expect("local addr"));
    let lt_nodes = swarm.addrs();
    // Bootstrapping from one node: the others are found through it.
    let started = Instant::now();
    let ours = OurNode::start_on(sock, vec![lt_nodes[0].to_string()], None);
    ours.wait_knows(&lt_nodes, lt_nodes.len(), &mut swarm).await;
    eprintln!(
        "dht: all {} libtorrent nodes in our routing table after {:?}",
        lt_nodes.len(),
        started.elapsed()
    );

    let line = swarm.ask("seed 2", "seeding", Duration::from_secs(60));
    let w: Vec<&str> = line.split_whitespace().collect();
    let (hash, port): ([u8; 20], u16) = (unhex(w[1]), w[2].parse().expect("port"));
    let seeder = SocketAddr::V4(SocketAddrV4::new(swarm.ips[2], port));
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let t = Instant::now();
        let found = ours.lookup(hash, None).await;
        if found.contains(&seeder) {
            eprintln!(
                "dht: get_peers lookup found the libtorrent seeder in {:?}",
                t.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < end,
            "our get_peers lookup never returned the libtorrent seeder {seeder} (last: {found:?})"
        );
        swarm.ask("announce 2", "ok", Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    ours.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_finds_our_announce_and_the_table_survives_a_restart() {
    common::require_loopback_only();
    let _lock = common::swarm_lock();
    let state = tempfile::tempdir().expect("state dir");
    let sock = OurNode::bind("127.0.0.1").await;
    let mut swarm = Swarm::start(5, sock.local_addr().expect("local addr"));
    let lt_nodes = swarm.addrs();
    let bootstrap = lt_nodes.iter().map(ToString::to_string).collect();
    let first = OurNode::start_on(sock, bootstrap, Some(state.path().into()));
    first.wait_knows(&lt_nodes, 3, &mut swarm).await;

    let hash: [u8; 20] = NodeId::random().0;
    let our_port = 45_678;
    let wanted = format!("127.0.0.1:{our_port}");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let t = Instant::now();
        first.lookup(hash, Some(our_port)).await;
        eprintln!("dht: our lookup and announce took {:?}", t.elapsed());
        // The announces leave as the lookup ends; give them a moment to land.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let peers = swarm.ask(
            &format!("lookup 3 {}", common::hex(&hash)),
            "peers",
            Duration::from_secs(30),
        );
        eprintln!("dht: libtorrent lookup after {:?}: {peers}", t.elapsed());
        if peers.split_whitespace().any(|p| p == wanted) {
            break;
        }
        assert!(
            Instant::now() < end,
            "libtorrent's lookup never returned our announce {wanted} (last: {peers})"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    eprintln!("dht: libtorrent found our announce");
    // Save, stop, and start again with no bootstrap list: the saved nodes bring it back.
    first.dht.save().await.expect("save the routing table");
    let saved_id = first.dht.id();
    first.stop().await;
    assert!(state.path().join("dht.dat").is_file());
    let second = OurNode::start("127.0.0.1", Vec::new(), Some(state.path().into())).await;
    assert_eq!(
        second.dht.id(),
        saved_id,
        "the node id is kept across restarts"
    );
    let end = Instant::now() + Duration::from_secs(20);
    while second.knows(&lt_nodes).await < 3 {
        assert!(
            Instant::now() < end,
            "the restarted node did not rejoin from its saved table: {:?}, saved {:?}",
            second.dht.stats().await,
            ttui::internals::dht::persist::load(state.path()).map(|s| s.1.len())
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!("dht: the restarted node rejoined");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_krpc_and_a_flood_never_crash_the_node_or_grow_it() {
    common::require_loopback_only();
    let node = OurNode::start("127.0.0.1", Vec::new(), None).await;
    let attacker = UdpSocket::bind("127.0.0.3:0").await.expect("bind attacker");
    let mut junk: Vec<Vec<u8>> = vec![
        b"d".to_vec(),
        b"de".to_vec(),
        b"d1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:t99999999999:x1:y1:qe".to_vec(),
        b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re".to_vec(),
    ];
    let mut deep = b"d1:a".to_vec();
    deep.extend(std::iter::repeat_n(b'l', 5000));
    junk.push(deep);
    let mut huge = b"d1:t60000:".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 60_000));
    huge.extend_from_slice(b"1:y1:qe");
    junk.push(huge);
    let start = Instant::now();
    // Ten thousand queries in about a second, from one address, with junk mixed in.
    for i in 0..10_000u32 {
        let q = Krpc {
            tid: i.to_be_bytes().to_vec(),
            version: None,
            ip: None,
            body: Body::Query {
                id: NodeId::random(),
                query: Query::GetPeers {
                    info_hash: NodeId::random(),
                    want: Default::default(),
                },
                read_only: false,
            },
        };
        let _ = attacker.send_to(&q.encode(), node.addr).await;
        if i % 10 == 0 {
            let _ = attacker
                .send_to(&junk[(i as usize / 10) % junk.len()], node.addr)
                .await;
        }
        if i % 1000 == 999 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A well-behaved neighbour is still answered.
    let friend = UdpSocket::bind("127.0.0.4:0").await.expect("bind friend");
    let ping = Krpc {
        tid: b"pg".to_vec(),
        version: None,
        ip: None,
        body: Body::Query {
            id: NodeId::random(),
            query: Query::Ping,
            read_only: true,
        },
    };
    friend
        .send_to(&ping.encode(), node.addr)
        .await
        .expect("send ping");
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), friend.recv_from(&mut buf))
        .await
        .expect("the node stopped answering after the flood")
        .expect("recv");
    let reply = Krpc::decode(&buf[..n]).expect("a valid reply");
    assert_eq!(reply.tid, b"pg");
    assert!(matches!(reply.body, Body::Response { .. }));

    let s = node.dht.stats().await.expect("the node task is alive");
    // Budget: a burst of 50, then 20 a second.
    let budget = 50 + (20.0 * (elapsed + 1.0)) as u64;
    assert!(
        s.answered <= budget + 1,
        "answered {} of the flood (budget {budget})",
        s.answered
    );
    // Every datagram that reached the node was answered, refused by the budget, or refused
    // as malformed; and the flood was far larger than the budget. (Others were dropped
    // before: by the node's full queue or the kernel's socket buffer.)
    let accepted = node.accepted.load(Ordering::Relaxed);
    assert_eq!(
        s.answered + s.rate_limited + s.malformed + s.budget_dropped,
        accepted,
        "{s:?}"
    );
    assert!(
        accepted > budget + 100,
        "only {accepted} datagrams reached the node"
    );
    assert!(s.pending <= 2 && s.lookups == 0, "{s:?}");
    assert!(
        s.limiter_entries <= 4096 && s.stored_hashes == 0 && s.routing_entries == 0,
        "{s:?}"
    );
    node.stop().await;
}
