//! Port mapping end to end: a real `ttui daemon` asks a NAT-PMP/PCP server it is named on
//! loopback (`--port-mapping-gateway 127.0.0.x:5351`) to forward its TCP and UDP port, shows
//! what it got in `show --json`, renews before the lease ends, falls back from PCP to NAT-PMP
//! on a NAT-PMP-only server, takes the other port a server gives when its own is taken,
//! survives the server going away (the status says so, the daemon keeps running), and
//! removes its mappings at a clean exit.
//!
//! UPnP IGD (`--port-mapping-igd URL`) is in `port_mapping/upnp.rs`.
//!
//! The server is `tests/support/pmp_server.py`, not Debian's miniupnpd: miniupnpd 2.3.1
//! will not forward with a reserved (127/8) address on its external interface, and the test
//! namespace holds only loopback-range addresses (the script's header says more).
//!
//! Run through tests/run.sh: every address is on 127.0.0.0/8.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::pmp;
use crate::prereq;
mod upnp;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use pmp::*;
// Ours, not common's.
use pmp::WAIT;
use serde_json::Value;

/// The `port` of the first announce of a torrent added now, whose tracker is a listener on
/// 127.0.0.1 that reads one request (bounded waits) and answers it with a failure.
fn announced_port(env: &Env) -> Option<u64> {
    use std::io::{Read, Write};
    let tracker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/announce",
        tracker.local_addr().unwrap().port()
    );
    let data = env.root.path().join("announced");
    std::fs::write(&data, vec![7u8; 50_000]).unwrap();
    let torrent = env.root.path().join("announced.torrent");
    let made = Command::new("mktorrent")
        .args(["-a", &url, "-l", "15", "-o"])
        .arg(&torrent)
        .arg(&data)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let added = env.verb(&["add", &torrent.display().to_string()]);
    assert_eq!(added.code, 0, "{added:?}");
    tracker.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut conn = loop {
        match tracker.accept() {
            Ok((c, _)) => break c,
            Err(_) if start.elapsed() < WAIT => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("no announce within {WAIT:?}: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).unwrap_or(0);
    let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nd14:failure reason4:teste");
    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
    let line = request.lines().next().unwrap_or("");
    line.split(['?', '&', ' '])
        .find_map(|kv| kv.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
}

#[test]
fn pcp_maps_tcp_and_udp_renews_and_removes_them_at_exit() {
    require_loopback_only();
    let env = Env::new("ttui-portmap-pcp");
    let srv = Server::start(&env, "127.0.0.2", &[]);
    let port = free_port();
    let (d, id) = daemon(&env, "127.0.0.2", port, &["--port-mapping-lease", "4s"]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "PCP", "{s}");
    assert_eq!(s["external_ip"], EXTERNAL, "{s}");
    assert_eq!(s["gateway"], "127.0.0.2:5351", "{s}");
    assert_eq!(s["tcp"]["internal"], port, "{s}");
    assert_eq!(
        s["tcp"]["external"], port,
        "the port asked for was free: {s}"
    );
    let m = srv.mappings();
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m
        .iter()
        .any(|r| r["proto"] == "TCP" && r["internal"] == port));
    assert!(m
        .iter()
        .any(|r| r["proto"] == "UDP" && r["internal"] == port));

    // A 4 s lease is renewed every 2 s: several renewals within 7 s, the mappings kept.
    let before = srv.requests("PCP map TCP");
    std::thread::sleep(Duration::from_secs(7));
    let renewed = srv.requests("PCP map TCP") - before;
    assert!((2..=6).contains(&renewed), "{renewed} renewals in 7 s");
    assert_eq!(srv.mappings().len(), 2, "kept by the renewals");

    // A clean exit removes both, well before their lease would end them.
    let st = d.term();
    assert!(st.success(), "{st}");
    assert!(
        srv.requests("lifetime 0") >= 2,
        "{}",
        srv.proc.stdout_text()
    );
    assert_eq!(srv.mappings(), Vec::<Value>::new());
}

#[test]
fn a_nat_pmp_server_is_spoken_to_in_nat_pmp_and_a_taken_port_gives_another() {
    require_loopback_only();
    let env = Env::new("ttui-portmap-natpmp");
    let port = free_port();
    // Another client holds our port on the router: it gives the next free one.
    let taken = port.to_string();
    let srv = Server::start(&env, "127.0.0.3", &["--natpmp-only", "--taken", &taken]);
    let (d, id) = daemon(&env, "127.0.0.3", port, &[]);
    let s = wait_status(&env, &id, "both mappings", mapped);
    assert_eq!(s["protocol"], "NAT-PMP", "{s}");
    assert_eq!(s["external_ip"], EXTERNAL, "{s}");
    assert_ne!(s["tcp"]["external"], port, "{s}");
    assert_eq!(s["tcp"]["lifetime"], 7200, "the default lease: {s}");
    assert!(srv.requests("NAT-PMP external") >= 1);
    let log = d.log_text();
    assert!(log.contains("speaks NAT-PMP, not PCP"), "{log}");
    // Trackers are told the port the router gave, not the one we listen on.
    let external = s["tcp"]["external"].as_u64().unwrap();
    assert_eq!(announced_port(&env), Some(external), "{s}");
    let st = d.term();
    assert!(st.success(), "{st}");
    assert_eq!(srv.mappings(), Vec::<Value>::new());
}

#[test]
fn a_refusal_and_a_gateway_gone_are_shown_and_the_daemon_runs_on() {
    require_loopback_only();
    let env = Env::new("ttui-portmap-refused");
    let mut srv = Server::start(&env, "127.0.0.4", &["--refuse", "2"]);
    let port = free_port();
    let (mut d, id) = daemon(&env, "127.0.0.4", port, &[]);
    let s = wait_status(&env, &id, "the refusal", |s| s["error"].is_string());
    assert_eq!(
        s["error"], "the router refused: PCP result 2 (NOT_AUTHORIZED)",
        "{s}"
    );
    assert!(s["tcp"].is_null(), "{s}");
    // The explainer says so, with the router's answer as the evidence.
    let show: Value = serde_json::from_str(&env.verb(&["show", &id, "--json"]).stdout).unwrap();
    let reach = show["explain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "reachability")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        reach["evidence"], "port mapping failed: the router refused: PCP result 2 (NOT_AUTHORIZED)",
        "{show}"
    );
    assert_eq!(reach["verdict"], "warning", "{reach}");

    // The server goes away: the next attempt finds nobody (ICMP: port unreachable), and
    // the daemon runs on.
    srv.proc.kill();
    let env2 = Env::new("ttui-portmap-gone");
    let port2 = free_port();
    let (mut d2, id2) = daemon(&env2, "127.0.0.5", port2, &[]);
    let s = wait_status(&env2, &id2, "the failure", |s| s["error"].is_string());
    let e = s["error"].as_str().unwrap();
    assert!(
        e.contains("127.0.0.5:5351") && (e.contains("unreachable") || e.contains("no answer")),
        "{e}"
    );
    d.assert_alive("after the refusal");
    d2.assert_alive("with no server");
    // A clean exit with nothing mapped is quick (the removals are bounded).
    let t = Instant::now();
    assert!(d2.term().success());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(d.term().success());
}
