//! The blocklist end to end: a real `ttui daemon` with `--blocklist FILE` refuses a
//! connection from a blocked loopback address right after accept (no byte read or written),
//! takes one from an address the list does not hold, reads the list again on
//! `ttui blocklist update`, and keeps the list in force when an update is garbage. With two
//! real `ttui seed` peers on 127.0.0.11 and 127.0.0.12, the blocked one is never dialed while
//! the other serves the download, and a new list that blocks the serving one drops it.
//!
//! Run through tests/run.sh: only loopback addresses are used.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;
use serde_json::Value;

/// Connects to `to` from `from` and sends a handshake's first bytes; true when the daemon
/// closed the connection without a byte (within a bounded wait).
fn closed_at_once(from: &str, to: SocketAddr) -> bool {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&local.into()).unwrap();
    sock.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(b"\x13BitTorrent protocol");
    let mut buf = [0u8; 64];
    // Closed: EOF or a reset. Still open: the read times out (the daemon waits for the rest
    // of the handshake).
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn update(env: &Env) -> (i32, Value, String) {
    let out = env.verb(&["blocklist", "update", "--json"]);
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out.code, v, out.stderr)
}

#[test]
fn blocked_addresses_are_refused_and_a_bad_update_keeps_the_list() {
    require_loopback_only();
    let env = Env::new("ttui-blocklist");
    let list = env.root.path().join("list.p2p");
    std::fs::write(
        &list,
        "# test\nblocked peer:127.0.0.12-127.0.0.12\nnot a line\n",
    )
    .unwrap();
    let port = free_port();
    let extra = [
        "--port".to_string(),
        port.to_string(),
        "--blocklist".to_string(),
        list.display().to_string(),
    ];
    let mut d = Daemon::start(&env, "blocklist", &extra);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // The list loads at start (bounded wait for its first read).
    let start = Instant::now();
    let status = loop {
        let (code, v, err) = update(&env);
        assert_eq!(code, 0, "blocklist update failed: {err}");
        if v["ranges"] == 1 {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never loaded: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["bad_lines"], 1, "{status}");

    assert!(closed_at_once("127.0.0.12", to), "a blocked peer got in");
    assert!(
        !closed_at_once("127.0.0.11", to),
        "an unblocked peer was refused"
    );
    let (_, v, _) = update(&env);
    assert_eq!(v["refused_incoming"], 1, "{v}");

    // Garbage: the update fails, says the old list stays, and it does.
    std::fs::write(&list, "garbage\n\x00\x01 more garbage\n").unwrap();
    let (code, _, err) = update(&env);
    assert_ne!(code, 0);
    assert!(err.contains("stays"), "{err}");
    assert!(
        closed_at_once("127.0.0.12", to),
        "the old list is not in force"
    );
    // An unreadable list too.
    std::fs::remove_file(&list).unwrap();
    let (code, _, err) = update(&env);
    assert_ne!(code, 0);
    assert!(err.contains("stays"), "{err}");

    // A new list in DAT format, gzip-less: .12 is let through, .13 is not.
    std::fs::write(&list, "127.000.000.013 - 127.000.000.013 , 000 , other\n").unwrap();
    let (code, v, err) = update(&env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["ranges"], 1, "{v}");
    assert!(v["error"].is_null(), "{v}");
    assert!(!closed_at_once("127.0.0.12", to));
    assert!(closed_at_once("127.0.0.13", to));
    assert!(
        d.log_text().contains("blocklist update from"),
        "{}",
        d.report()
    );
    d.assert_alive("the blocklist test");
    d.term();
}

/// `ttui seed` of `p` on `ip:port`, knowing no peer (it waits to be dialed).
fn seeder(env: &Env, p: &Payload, data: &std::path::Path, ip: &str, port: u16) -> Proc {
    let log = env.logs.join(format!("seed-{ip}.log"));
    let mut cmd = env.ttui();
    cmd.args(["seed", &p.path(), "--headless", "--no-trackers", "--no-dht"])
        .args([
            "--transport",
            "tcp",
            "--bind",
            ip,
            "--port",
            &port.to_string(),
        ])
        .arg("-o")
        .arg(data)
        .arg("--log-file")
        .arg(&log);
    let mut proc = Proc::spawn(&format!("seed-{ip}"), &mut cmd, &env.logs);
    proc.logs.push(log);
    proc
}

fn log_of(env: &Env, ip: &str) -> String {
    std::fs::read_to_string(env.logs.join(format!("seed-{ip}.log"))).unwrap_or_default()
}

/// `show ID --json`'s row of the peer at `addr`, if listed.
fn peer_row(env: &Env, id: &str, addr: &str) -> (Value, Value) {
    let out = env.verb(&["show", id, "--json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    let row = v["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["address"] == addr)
        .cloned()
        .unwrap_or(Value::Null);
    (row, v)
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_blocked_seed_is_never_dialed_and_a_new_list_drops_a_connected_one() {
    require_loopback_only();
    let env = Env::new("ttui-blocklist-dial");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "pay",
        &[("", 6 << 20)],
        3,
    );
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = seeder(&env, &p, &data, "127.0.0.11", port_a);
    let mut b = seeder(&env, &p, &data, "127.0.0.12", port_b);
    for (ip, port) in [("127.0.0.11", port_a), ("127.0.0.12", port_b)] {
        let needle = format!("listening for peers on port {port}");
        wait_until(
            &format!("seed {ip} to listen"),
            Duration::from_secs(30),
            || log_of(&env, ip).contains(&needle),
        );
    }

    let list = env.root.path().join("list.dat");
    std::fs::write(&list, "127.000.000.012 - 127.000.000.012 , 000 , seed b\n").unwrap();
    let (peer_a, peer_b) = (
        format!("127.0.0.11:{port_a}"),
        format!("127.0.0.12:{port_b}"),
    );
    // Slow enough (6 MiB at 256 KiB/s) that the download runs while the list changes.
    let extra: Vec<String> = [
        "--blocklist",
        &list.display().to_string(),
        "--peer",
        &peer_a,
        "--peer",
        &peer_b,
        "--down-limit",
        "256K",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut d = Daemon::start(&env, "dial", &extra);
    wait_until("the list to load", Duration::from_secs(20), || {
        serde_json::from_str::<Value>(&env.verb(&["blocklist", "update", "--json"]).stdout)
            .is_ok_and(|v| v["ranges"] == 1)
    });
    let added = env.verb(&["add", &p.path()]);
    assert_eq!(added.code, 0, "{added:?}");
    let id = p.hash();

    // A serves; B is listed as blocked and never sees a connection.
    wait_until("a to serve", Duration::from_secs(30), || {
        let rows = env.list();
        row_of(&rows, &id)["verified_bytes"].as_u64().unwrap_or(0) > 0
    });
    let (row_b, show) = peer_row(&env, &id, &peer_b);
    assert_eq!(row_b["reason"], "blocked by blocklist", "{show}");
    assert!(show["blocked"].as_u64().unwrap_or(0) >= 1, "{show}");
    assert!(
        show["blocklist"]["refused_dials"].as_u64().unwrap_or(0) >= 1,
        "{show}"
    );
    assert!(
        !log_of(&env, "127.0.0.12").contains("incoming"),
        "b was dialed"
    );
    assert!(
        log_of(&env, "127.0.0.11").contains("incoming"),
        "a was never dialed"
    );

    // A new list that holds A: A is dropped, with the reason in the peer table.
    std::fs::write(&list, "a:127.0.0.11-127.0.0.12\n").unwrap();
    let out = env.verb(&["blocklist", "update", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    wait_until("a to be dropped", Duration::from_secs(20), || {
        peer_row(&env, &id, &peer_a).0["reason"] == "blocked by blocklist"
    });
    let (row_a, show) = peer_row(&env, &id, &peer_a);
    assert_ne!(row_a["state"], "connected", "{show}");
    assert!(
        d.log_text().contains("blocked by the new blocklist"),
        "{}",
        d.report()
    );
    d.assert_alive("the dial test");
    d.term();
    a.kill();
    b.kill();
}

/// The one-shot (`ttui --headless`) honours `--blocklist` as the session does, for peers
/// named by hand too: with two seeds given by `--peer` and one of them on a gzipped list, the
/// download completes from the other and the blocked one never sees a connection; with only
/// the blocked one it gives up naming the blocklist; a list that cannot be read is refused
/// in one line before anything is dialed.
#[test]
fn the_one_shot_honours_the_blocklist_for_peers_given_by_hand() {
    require_loopback_only();
    let env = Env::new("ttui-blocklist-oneshot");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "once",
        &[("", 2 << 20)],
        5,
    );
    let (ip_a, ip_b) = ("127.0.0.15", "127.0.0.16");
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = seeder(&env, &p, &data, ip_a, port_a);
    let mut b = seeder(&env, &p, &data, ip_b, port_b);
    for (ip, port) in [(ip_a, port_a), (ip_b, port_b)] {
        let needle = format!("listening for peers on port {port}");
        wait_until(
            &format!("seed {ip} to listen"),
            Duration::from_secs(30),
            || log_of(&env, ip).contains(&needle),
        );
    }
    let list = env.root.path().join("list.p2p.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("seed b:{ip_b}-{ip_b}\n").as_bytes())
        .unwrap();
    std::fs::write(&list, gz.finish().unwrap()).unwrap();
    let (peer_a, peer_b) = (format!("{ip_a}:{port_a}"), format!("{ip_b}:{port_b}"));
    let one_shot = |out: &str, list: &std::path::Path, peers: &[&str]| {
        let mut cmd = env.ttui();
        cmd.args([
            "--headless",
            "--no-trackers",
            "--no-dht",
            "--transport",
            "tcp",
        ])
        .arg("--blocklist")
        .arg(list)
        .arg("-o")
        .arg(env.root.path().join(out))
        .arg("--log-file")
        .arg(env.logs.join(format!("{out}.log")));
        for peer in peers {
            cmd.args(["--peer", peer]);
        }
        cmd.arg(p.path());
        run_bounded(&mut cmd, Duration::from_secs(90))
    };

    // B first on the command line: it would be dialed first.
    let both = one_shot("both", &list, &[&peer_b, &peer_a]);
    check_success("the one-shot with a blocked and a free seed", &both);
    assert!(
        log_of(&env, ip_a).contains("incoming"),
        "a was never dialed"
    );
    assert!(!log_of(&env, ip_b).contains("incoming"), "b was dialed");

    let only_b = one_shot("only-b", &list, &[&peer_b]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&only_b.stdout),
        String::from_utf8_lossy(&only_b.stderr)
    );
    assert!(!only_b.status.success(), "{said}");
    assert!(said.contains("blocked by blocklist"), "{said}");
    assert!(!log_of(&env, ip_b).contains("incoming"), "b was dialed");

    let missing = env.root.path().join("no-such-list.p2p");
    let refused = one_shot("refused", &missing, &[&peer_a]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    let line = err.lines().find(|l| l.contains("blocklist")).unwrap_or("");
    assert!(line.contains("no-such-list.p2p"), "{err}");
    assert_eq!(
        std::fs::read_dir(env.root.path().join("refused"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "something was downloaded without the list"
    );
    a.kill();
    b.kill();
}
