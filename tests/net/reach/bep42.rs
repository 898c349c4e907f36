//! BEP 42 on the lab's internet, where every address is public (documentation ranges, which
//! BEP 42 does not exempt as it does private and loopback ones):
//!
//! - against libtorrent: python3-libtorrent DHT nodes with `dht_enforce_node_id` answer a
//!   query from an id that does not fit the querier's address with "invalid node ID" (and the
//!   `ip` key), and keep such a node out of their routing tables. ttui, bootstrapped from three
//!   of them only, learns its address from those answers (three voters), takes an id that
//!   fits it, and is then in each node's table (read from `dht_live_nodes`) and found through
//!   its announce by a libtorrent leecher; a ttui with two voters only keeps its random id and
//!   stays out of every table.
//! - against a test peer (tests/net/reach/krpc_node.py): ttui keeps a node whose id fits its
//!   address in its routing table (as saved in dht.dat) and one whose id does not fit out,
//!   though both answered it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ttui::internals::protocol::krpc::security::{id_fits, id_for};
use ttui::internals::protocol::krpc::NodeId;

use super::*;

/// Bound on each wait of these tests (the whole test stays under a minute when all goes well).
const STEP: Duration = Duration::from_secs(30);

/// `ttui seed TORRENT` in `host` with its DHT bootstrapped from `boot` only (never a public
/// router: `TTUI_NO_PUBLIC_ROUTERS` too), its state and log in `dir`.
fn ttui_dht_seed(host: &Host, fx: &Fixture, dir: &Path, boot: &[SocketAddr]) -> Ttui {
    let (state, log) = (dir.join("state"), dir.join("ttui.log"));
    let mut args = strings(&[
        "seed",
        &fx.torrent.path.display().to_string(),
        "-o",
        &fx.data_dir.display().to_string(),
        "--headless",
        "--no-trackers",
        "--no-lsd",
        "--port",
        &PEER_PORT.to_string(),
        "--state-dir",
        &state.display().to_string(),
        "--log-file",
        &log.display().to_string(),
    ]);
    for b in boot {
        args.extend(strings(&["--dht-bootstrap", &b.to_string()]));
    }
    let mut t = Ttui::spawn_wrapped(&["ip", "netns", "exec", &host.ns], args);
    t.wait_for_stdout("ttui to seed", STEP, |s| s.contains("seeding"));
    t
}

fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("ttui.log")).unwrap_or_default()
}

/// Polls `ok` every 200 ms until it holds; panics with `what` and `report()` after `limit`.
fn wait_for(
    what: &str,
    limit: Duration,
    mut ok: impl FnMut() -> bool,
    report: impl Fn() -> String,
) {
    let end = Instant::now() + limit;
    while !ok() {
        assert!(
            Instant::now() < end,
            "no {what} within {limit:?}\n{}",
            report()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A libtorrent node's routing table as its last `table` line says: (its own id, the
/// (id, address) of each live node).
fn lt_table(p: &Proc) -> Option<(NodeId, Vec<(NodeId, SocketAddr)>)> {
    let text = p.stdout_text();
    let line = text.lines().rev().find_map(|l| l.strip_prefix("table "))?;
    let mut words = line.split_whitespace();
    let own = hex_id(words.next()?)?;
    let nodes = words
        .filter_map(|w| {
            let (id, addr) = w.split_once('@')?;
            Some((hex_id(id)?, addr.parse().ok()?))
        })
        .collect();
    Some((own, nodes))
}

fn hex_id(s: &str) -> Option<NodeId> {
    let b = (0..20)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    NodeId::from_slice(&b)
}

/// The id under which `ip` sits in `node`'s routing table, if it does.
fn listed(node: &Proc, ip: IpAddr) -> Option<NodeId> {
    let (_, nodes) = lt_table(node)?;
    nodes
        .into_iter()
        .find(|(_, a)| a.ip() == ip)
        .map(|(id, _)| id)
}

/// `ttui.log`'s BEP 42 line: the external address the node's id now fits.
fn fitted_address(dir: &Path) -> Option<IpAddr> {
    let text = log_text(dir);
    let line = text.lines().find(|l| l.contains("node id now fits it"))?;
    let rest = line.split("our address is ").nth(1)?;
    rest.split(';').next()?.trim().parse().ok()
}

/// Three enforcing libtorrent nodes; ttui among them takes a fitting id from their votes and
/// is kept in every table and found through the DHT; a ttui with two voters is kept out.
#[test]
fn bep42_enforcing_libtorrent_keeps_ttui_once_its_id_fits_its_address() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    let names = ["n0", "n1", "n2"];
    for n in names {
        lab.add(n, Kind::Public4);
    }
    lab.add("ttui", Kind::Public4);
    lab.add("ttui2", Kind::Public4);
    lab.add("leech", Kind::Public4);
    let fx = Fixture::single_file("bep42.bin", 1 << 20, 542, 15).untracked();
    let logs = fx.out_dir("logs");
    let at = |name: &str| SocketAddr::new(lab.host(name).ip4().into(), PEER_PORT);
    let node_addrs: Vec<SocketAddr> = names.iter().map(|n| at(n)).collect();
    // Each node listens on its one address (so it runs one DHT node) and knows the others.
    let mut nodes: Vec<Proc> = names
        .iter()
        .map(|&name| {
            let ip = lab.host(name).ip4().to_string();
            let mut args = strings(&[
                "--mode",
                "node",
                "--dht",
                "--enforce-node-id",
                "--table",
                "--listen",
                &ip,
            ]);
            for other in node_addrs.iter().filter(|a| a.ip().to_string() != ip) {
                args.extend(strings(&["--dht-node", &other.to_string()]));
            }
            start_lt_peer(lab.host(name), &format!("lt-{name}"), &args, &logs)
        })
        .collect();
    // The nodes enforce BEP 42 on each other too: each holds the other two only once they
    // learned their own addresses from each other's answers and took fitting ids.
    for (i, node) in nodes.iter_mut().enumerate() {
        let me = node_addrs[i];
        node.wait_until("a libtorrent node to hold the other two", STEP, |p| {
            lt_table(p).is_some_and(|(own, t)| {
                id_fits(&own, me.ip())
                    && node_addrs
                        .iter()
                        .filter(|a| **a != me)
                        .all(|a| t.iter().any(|(id, n)| n == a && id_fits(id, a.ip())))
            })
        });
    }
    let (dir, dir2) = (fx.out_dir("ttui"), fx.out_dir("ttui2"));
    let t0 = Instant::now();
    let mut ttui = ttui_dht_seed(lab.host("ttui"), &fx, &dir, &node_addrs);
    // The control: two voters are one short of what moves ttui's id (libtorrent's errors
    // carry no nodes, so it never meets a third).
    let mut ttui2 = ttui_dht_seed(lab.host("ttui2"), &fx, &dir2, &node_addrs[..2]);
    let (ttui_ip, ttui2_ip) = (at("ttui").ip(), at("ttui2").ip());
    let tables = |nodes: &[Proc]| {
        nodes
            .iter()
            .map(|n| {
                n.stdout_text()
                    .lines()
                    .rev()
                    .find(|l| l.starts_with("table "))
                    .unwrap_or("")
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // ttui learned its address from the nodes' refusals and took an id that fits it.
    wait_for(
        "BEP 42 id in ttui's log",
        STEP,
        || fitted_address(&dir).is_some(),
        || tail(&dir.join("ttui.log"), 30),
    );
    assert_eq!(fitted_address(&dir), Some(ttui_ip));
    eprintln!("ttui's id fits {ttui_ip} after {:?}", t0.elapsed());
    // Every enforcing node holds ttui, under an id that fits its address.
    wait_for(
        "ttui in every libtorrent node's table",
        STEP,
        || nodes.iter().all(|n| listed(n, ttui_ip).is_some()),
        || tables(&nodes),
    );
    for n in &nodes {
        let id = listed(n, ttui_ip).unwrap();
        assert!(id_fits(&id, ttui_ip), "{id:?} does not fit {ttui_ip}");
    }
    eprintln!("ttui in all three tables after {:?}", t0.elapsed());
    // ttui's announce reached them (their announce_peer would refuse an unfitting id too):
    // a libtorrent leecher (enforcing too; it learns its own address from the three nodes'
    // answers as ttui did) finds ttui through the DHT and completes.
    wait_for(
        "a DHT announce in ttui's log",
        STEP,
        || log_text(&dir).contains("announced"),
        || tail(&dir.join("ttui.log"), 30),
    );
    let out = fx.out_dir("lt-out");
    let mut leech = start_lt_peer(
        lab.host("leech"),
        "lt-leech",
        &[
            strings(&[
                "--mode",
                "leech",
                "--dht",
                "--enforce-node-id",
                "--no-trackers",
            ]),
            strings(&["--listen", &at("leech").ip().to_string()]),
            node_addrs
                .iter()
                .flat_map(|a| ["--dht-node".to_string(), a.to_string()])
                .collect(),
            strings(&["--torrent", &fx.torrent.path.display().to_string()]),
            strings(&["--save", &out.display().to_string()]),
        ]
        .concat(),
        &logs,
    );
    leech.wait_for_stdout("the libtorrent leecher to complete from ttui", "done", STEP);
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    eprintln!("the libtorrent leecher completed after {:?}", t0.elapsed());
    // Its connection alerts (stderr) name its peers: 1 MiB may come before its next
    // once-a-second `peers` line.
    assert!(
        seed_saw(&leech, &format!("{ttui_ip}:")),
        "the leecher completed without ttui:\n{}",
        tail(&leech.stderr, 30)
    );

    // The control ran as long, beside it: no vote decided, and no node let it in.
    assert_eq!(
        fitted_address(&dir2),
        None,
        "two voters moved ttui2's id:\n{}",
        tail(&dir2.join("ttui.log"), 30)
    );
    for n in &nodes {
        assert_eq!(
            listed(n, ttui2_ip),
            None,
            "an enforcing node holds ttui2, whose id does not fit:\n{}",
            tables(&nodes)
        );
    }
    assert!(
        !seed_saw(&leech, &format!("{ttui2_ip}:")),
        "the leecher found ttui2, whose announce an enforcing node should refuse"
    );
    ttui.kill();
    ttui2.kill();
}

/// A test node whose id does not fit its address answers ttui and stays out of ttui's
/// routing table; one whose id fits it is kept.
#[test]
fn bep42_ttui_keeps_a_node_whose_id_does_not_fit_its_address_out() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new();
    lab.add("good", Kind::Public4);
    lab.add("bad", Kind::Public4);
    lab.add("ttui", Kind::Public4);
    let fx = Fixture::single_file("bep42-table.bin", 64 << 10, 543, 15).untracked();
    let logs = fx.out_dir("logs");
    let good = SocketAddr::new(lab.host("good").ip4().into(), PEER_PORT);
    let bad = SocketAddr::new(lab.host("bad").ip4().into(), PEER_PORT);
    let good_id = id_for(good.ip(), [0x5a; 20]);
    // The hostile node claims an id made for the good node's address: near whatever that
    // node is near, as a Sybil placing itself would.
    let bad_id = id_for(good.ip(), [0xa5; 20]);
    assert!(id_fits(&good_id, good.ip()) && !id_fits(&bad_id, bad.ip()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/reach/krpc_node.py");
    let krpc = |name: &str, at: SocketAddr, id: NodeId| {
        let hex: String = id.0.iter().map(|b| format!("{b:02x}")).collect();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .args([
                "--listen",
                &at.ip().to_string(),
                "--port",
                &at.port().to_string(),
            ])
            .args(["--id", &hex, "--max-seconds", "120"]);
        let mut p = lab.host(name).spawn(&format!("krpc-{name}"), &cmd, &logs);
        p.wait_for_stdout("the KRPC test node to listen", "listening", STEP);
        p
    };
    let good_node = krpc("good", good, good_id);
    let bad_node = krpc("bad", bad, bad_id);
    let dir = fx.out_dir("ttui");
    let mut ttui = ttui_dht_seed(lab.host("ttui"), &fx, &dir, &[good, bad]);
    // Both were asked and answered (and ttui holds a node it heard from at once).
    let ttui_ip = lab.host("ttui").ip4().to_string();
    let answered = |p: &Proc| p.stdout_text().contains(&format!(" {ttui_ip}:"));
    wait_for(
        "answers from both test nodes",
        STEP,
        || answered(&good_node) && answered(&bad_node),
        || format!("{}\n{}", good_node.stdout_text(), bad_node.stdout_text()),
    );
    // The answer ttui got is handled as soon as it arrives; a second for it to be, before
    // a graceful exit saves the routing table: what ttui kept.
    std::thread::sleep(Duration::from_secs(1));
    ttui.terminate();
    let (_, saved) =
        ttui::internals::dht::persist::load(&dir.join("state")).expect("dht.dat in --state-dir");
    let kept: Vec<SocketAddr> = saved.iter().map(|n| n.addr).collect();
    assert!(
        kept.contains(&good),
        "the fitting node is not kept: {kept:?}"
    );
    assert!(!kept.contains(&bad), "the unfitting node is kept: {kept:?}");
}
