//! "Nobody has dialed us": a download from a libtorrent seed that ttui dialed itself, and no
//! peer dialing ttui. The window is 30 minutes in production; these daemons run with
//! `TTUI_TEST_REACHABILITY_SECS` (test only) at `WINDOW`. Once the window has passed, the
//! `reachability` check warns: naming the address and port the router gave when a NAT-PMP/PCP
//! server (tests/support/pmp_server.py) mapped the port, else saying the port may be
//! closed (`--no-port-mapping`). Then a libtorrent leecher dials ttui, and the check says so
//! (`ok`): no false word once someone does reach us. The seeds send slowly, so each download
//! runs through its case and only the reachability check can speak.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};

use super::*;

/// The shortened window, and its words in the evidence.
const WINDOW_SECS: u64 = 20;
const WINDOW_WORDS: &str = "20 seconds";
/// How long the check may take to speak once the window has passed.
const FIRE_WAIT: Duration = Duration::from_secs(30);
/// 16 MiB at 64 KiB/s: a download that outlasts the case.
const SIZE: u64 = 16 << 20;
const SEED_RATE: u64 = 64 << 10;

/// A slow libtorrent seed of `p`, which never dials anyone.
fn slow_seed(p: &Payload, data: &std::path::Path) -> LibtorrentPeer {
    LibtorrentPeer::start(
        &p.torrent,
        data,
        LtOptions {
            seed_mode: true,
            upload_limit: SEED_RATE,
            ..LtOptions::default()
        },
    )
}

/// A daemon on `port` with the short window, dialing `seed` itself, and `extra` arguments.
fn short_window_daemon(env: &Env, port: u16, seed: SocketAddr, extra: &[&str]) -> Daemon {
    let mut args: Vec<String> = [
        "--no-trackers",
        "--port",
        &port.to_string(),
        "--peer",
        &seed.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let secs = WINDOW_SECS.to_string();
    Daemon::start_with(
        env,
        "1",
        &args,
        &[("TTUI_TEST_REACHABILITY_SECS", secs.as_str())],
    )
}

/// Waits for the reachability warning: first among the findings, the only one not `ok`, no
/// later than `FIRE_WAIT` after the window passed (the torrent was added after `added`).
fn wait_warning(env: &Env, d: &mut Daemon, p: &Payload, added: Instant, want: &str) -> Value {
    let id = &row_of(&env.list(), &p.hash())["id"].to_string();
    let window = Duration::from_secs(WINDOW_SECS);
    let limit = (window + FIRE_WAIT).saturating_sub(added.elapsed());
    let top = wait_verdict_within(env, d, id, "reachability", "warning", limit, |f| {
        text(f, "evidence").contains(want)
    });
    assert!(
        added.elapsed() >= window,
        "warned before the window passed: {top}"
    );
    let others: Vec<Value> = explain(env, id)
        .into_iter()
        .filter(|f| f["check"] != "reachability" && f["verdict"] != "ok")
        .collect();
    assert!(others.is_empty(), "other findings: {others:?}");
    // The peer it dialed is there, and downloading is what it does.
    let row = row_of(&env.list(), &p.hash()).clone();
    assert_eq!(row["state"], "downloading", "{row}");
    top
}

/// The router mapped the port; nobody dials in: the warning names what the router gave.
fn mapped_but_nobody_dials_in() {
    let env = Env::new("ttui-explain-reach-mapped-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "reach-mapped",
        &[("", SIZE)],
        70,
    );
    let seed = slow_seed(&p, &data);
    let router: Ipv4Addr = loopback_ip();
    let _srv = pmp::Server::start(&env, &router.to_string(), &[]);
    let port = free_port();
    let gateway = format!("{router}:5351");
    let mut d = short_window_daemon(
        &env,
        port,
        seed.addr(),
        &["--port-mapping-gateway", &gateway],
    );
    // Before the add: the torrent's clock, which the window is measured on, starts after it.
    let added = Instant::now();
    let id = add(&env, &p);
    let status = pmp::wait_status(&env, &id, "the TCP mapping", |s| {
        s["tcp"]["external"].is_u64() && s["error"].is_null()
    });
    let external = format!("{}:{}", pmp::EXTERNAL, status["tcp"]["external"]);
    let want = format!(
        "no incoming connection in the last {WINDOW_WORDS} although the router ({}) maps \
         {external} to your port {port}",
        text(&status, "protocol")
    );
    let top = wait_warning(&env, &mut d, &p, added, &want);
    assert_eq!(text(&top, "evidence"), want, "{top}");
    assert!(text(&top, "advice").contains("another NAT"), "{top}");
    assert!(d.term().success());
}

/// No port mapping, nobody dials in: the port may be closed. Then a leecher dials in, and
/// the check says so.
fn unmapped_until_a_peer_dials_in() {
    let env = Env::new("ttui-explain-reach-closed-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "reach-closed",
        &[("", SIZE)],
        71,
    );
    let seed = slow_seed(&p, &data);
    let port = free_port();
    let mut d = short_window_daemon(&env, port, seed.addr(), &["--no-port-mapping"]);
    // Before the add: the torrent's clock, which the window is measured on, starts after it.
    let added = Instant::now();
    let id = add(&env, &p);
    let want = format!(
        "no incoming connection in the last {WINDOW_WORDS}: your port {port} may be closed or \
         behind NAT"
    );
    let top = wait_warning(&env, &mut d, &p, added, &want);
    assert_eq!(text(&top, "evidence"), want, "{top}");
    assert!(text(&top, "advice").contains("forward the port"), "{top}");

    // A leecher dials ttui's port: it is reachable, and the check says so.
    let dir = env.root.path().join("leech");
    fs::create_dir_all(&dir).unwrap();
    let ttui: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _leecher = LibtorrentPeer::start_leecher(
        &p.torrent,
        &dir,
        LtOptions {
            peers: vec![ttui],
            ..LtOptions::default()
        },
    );
    let dialed = Instant::now();
    let ok = format!("1 incoming connection in the last {WINDOW_WORDS}");
    let found = loop {
        d.assert_alive("the reachability check to see the leecher");
        let findings = explain(&env, &id);
        let row = findings
            .iter()
            .find(|f| f["check"] == "reachability")
            .cloned();
        if let Some(f) = row.filter(|f| f["verdict"] == "ok") {
            let bad: Vec<&Value> = findings.iter().filter(|f| f["verdict"] != "ok").collect();
            assert!(bad.is_empty(), "with a peer dialed in: {bad:?}");
            break f;
        }
        assert!(
            dialed.elapsed() < FIRE_WAIT,
            "no `reachability` ok within {FIRE_WAIT:?} of the leecher dialing in; last \
             findings:\n{}\n{}",
            serde_json::to_string_pretty(&findings).unwrap_or_default(),
            d.report()
        );
        sleep(Duration::from_millis(500));
    };
    eprintln!(
        "reachability ok: {found} after {:.1}s",
        dialed.elapsed().as_secs_f64()
    );
    assert_eq!(text(&found, "evidence"), ok, "{found}");
    assert!(found["advice"].is_null(), "{found}");
    assert!(d.term().success());
}

#[test]
fn nobody_dialing_in_is_named_after_the_window() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let cases: Vec<(&str, fn())> = vec![
        ("mapped, nobody dials in", mapped_but_nobody_dials_in),
        (
            "unmapped, then a peer dials in",
            unmapped_until_a_peer_dials_in,
        ),
    ];
    run_cases(cases);
}
