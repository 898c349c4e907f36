//! The blocklist end to end: a real `ttui daemon` with `--blocklist FILE` refuses a
//! connection from a blocked loopback address right after accept (no byte read or written),
//! takes one from an address the list does not hold, reads the list again on
//! `ttui blocklist update`, and keeps the list in force when an update is garbage.
//!
//! Run through tests/run.sh: only loopback addresses are used.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;
#[allow(dead_code)]
#[path = "session/kit.rs"]
mod kit;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use kit::*;
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
