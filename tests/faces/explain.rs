//! The explainer against swarms built to trigger each check (issue 21, "The explainer"): a
//! seeder that never unchokes, a torrent whose last pieces no peer has, a seeder that requires
//! encryption while ttui runs with `--encryption off`, a download limit below the swarm's
//! speed, and a dead tracker. Each case runs `ttui daemon` on loopback and reads the checks
//! from `ttui show ID --json` (`explain`: check, verdict, evidence, advice, the checks holding
//! the torrent back first), and once from a headless run's progress line (`why: …`). The
//! fakes are in-process (tests/fakepeer); the seeders are python3-libtorrent. The cases run at
//! once, in threads, so the binary stays near 35 s: the choke check waits 30 s before it
//! judges a peer. tests/faces/explain/ holds the cases that need a swarm of their own: the disk, a
//! torrent's own limit, a seed that uploads nothing, a blocklist that holds most of a
//! tracker's swarm, and nobody dialing in (under a reachability window shortened for tests).
//!
//! Run through tests/run.sh: every process here is on loopback, and the test refuses to run
//! unless the process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod blocklist;
use crate::common;
mod disk;
use crate::fakepeer;
use crate::kit;
mod own_limit;
use crate::payload;
use crate::pmp;
use crate::prereq;
mod reachability;
mod seeding;
mod uplink;

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fakepeer::{answer_handshake, Ctx, FakePeer, Wire};
use kit::*;
use payload::*;
use serde_json::Value;
use ttui::internals::protocol::bitfield::Bitfield;
use ttui::internals::protocol::message::Message;
use ttui::internals::protocol::metainfo::Metainfo;

/// How long a case waits for its check to show: the choke check needs a peer connected for
/// 30 s, the rest show within seconds.
const SHOW_WAIT: Duration = Duration::from_secs(50);
/// How long a fake keeps a connection: longer than any case.
const FAKE_HOLD: Duration = Duration::from_secs(120);

/// `show ID --json`'s `explain`.
fn explain(env: &Env, id: &str) -> Vec<Value> {
    let out = env.verb(&["show", id, "--json"]);
    assert_eq!(out.code, 0, "show failed: {out:?}");
    let detail: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("show --json is not JSON ({e}): {}", out.stdout));
    match &detail["explain"] {
        Value::Array(rows) => rows.clone(),
        other => panic!("no explain list in show --json: {other}"),
    }
}

/// Adds `p` and returns its id.
fn add(env: &Env, p: &Payload) -> String {
    let path = p.path();
    let r = env.verb(&["add", path.as_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    row_of(&env.list(), &p.hash())["id"].to_string()
}

/// Polls `show` until the first finding is `check` holding the torrent back and `ok` accepts
/// it; returns it. Panics with the last findings and the daemon's log.
fn wait_top(
    env: &Env,
    d: &mut Daemon,
    id: &str,
    check: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    wait_verdict(env, d, id, check, "holding_back", ok)
}

/// `wait_top` for a first finding of `verdict`.
fn wait_verdict(
    env: &Env,
    d: &mut Daemon,
    id: &str,
    check: &str,
    verdict: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    wait_verdict_within(env, d, id, check, verdict, SHOW_WAIT, ok)
}

/// `wait_verdict` waiting at most `limit`.
fn wait_verdict_within(
    env: &Env,
    d: &mut Daemon,
    id: &str,
    check: &str,
    verdict: &str,
    limit: Duration,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        d.assert_alive(check);
        let findings = explain(env, id);
        if let Some(top) = findings.first() {
            if top["check"] == check && top["verdict"] == verdict && ok(top) {
                eprintln!("{check}: {top} after {:.1}s", start.elapsed().as_secs_f64());
                return top.clone();
            }
        }
        if start.elapsed() > limit {
            panic!(
                "no `{check}` ({verdict}) first within {limit:?}; last findings:\n{}\n{}",
                serde_json::to_string_pretty(&findings).unwrap_or_default(),
                d.report()
            );
        }
        sleep(Duration::from_millis(500));
    }
}

/// Runs `program`; its trimmed output, or why it failed (with its stderr).
fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// A daemon for one case, with `--no-trackers` unless the case is about trackers.
fn daemon(env: &Env, args: &[&str]) -> Daemon {
    let extra: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    Daemon::start(env, "1", &extra)
}

/// What a fake needs of `p`: its info dict and bytes.
fn ctx_of(p: &Payload) -> Arc<Ctx> {
    let bytes = std::fs::read(&p.torrent.path).unwrap();
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    Arc::new(Ctx {
        info: Arc::new(meta.info.clone()),
        info_hash: meta.info_hash,
        payload: std::fs::read(&p.root).unwrap(),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A fake that has `have` and never unchokes: it answers `interested` with nothing and keeps
/// the connection until ttui hangs up (or `FAKE_HOLD`).
async fn choking_script(mut w: Wire, ctx: Arc<Ctx>) -> Result<(), String> {
    answer_handshake(&mut w, &ctx).await?;
    w.send(&[Message::Bitfield(ctx.full_bitfield())]).await?;
    w.hold_until_closed(FAKE_HOLD).await
}

/// A fake that lacks the last `MISSING` pieces and serves the rest: unchokes when asked and
/// answers every request; quiet stretches (ttui not interested any more) are waited out.
const MISSING: u32 = 3;
async fn partial_script(mut w: Wire, ctx: Arc<Ctx>) -> Result<(), String> {
    answer_handshake(&mut w, &ctx).await?;
    let n = ctx.num_pieces();
    let have: Vec<bool> = (0..n).map(|i| i < n - MISSING).collect();
    let bits = Bytes::copy_from_slice(Bitfield::from_bools(&have).as_bytes());
    w.send(&[Message::Bitfield(bits)]).await?;
    let deadline = Instant::now() + FAKE_HOLD;
    while Instant::now() < deadline {
        match w.recv().await {
            Ok(None) => return Ok(()),
            Ok(Some(Message::Interested)) => w.send(&[Message::Unchoke]).await?,
            Ok(Some(Message::Request {
                index,
                begin,
                length,
            })) => {
                let data = ctx
                    .block(index, begin, length)
                    .filter(|_| index < n - MISSING)
                    .ok_or(format!("ttui asked for block {index}/{begin}, not ours"))?;
                let piece = Message::Piece {
                    index,
                    begin,
                    data: Bytes::from(data),
                };
                w.send(&[piece]).await?;
            }
            Ok(Some(_)) => {}
            // No message for a while: ttui has what we have and waits for a seed.
            Err(e) if e == "no message in time" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A peer with every piece that never unchokes: the `choked` check holds it back.
fn seeder_never_unchokes() {
    let env = Env::new("ttui-explain-choke-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "choke",
        &[("", 1 << 20)],
        1,
    );
    let rt = runtime();
    let fake = rt.block_on(FakePeer::listen(ctx_of(&p), choking_script));
    let peer = fake.addr.to_string();
    let mut d = daemon(
        &env,
        &["--no-trackers", "--encryption", "off", "--peer", &peer],
    );
    let id = add(&env, &p);
    let top = wait_top(&env, &mut d, &id, "choked", |_| true);
    let evidence = text(&top, "evidence");
    assert!(
        evidence.contains("choking us (1 of 1)"),
        "evidence: {evidence:?}"
    );
    assert!(text(&top, "advice").contains("unchoke"), "{top}");
    assert!(d.term().success());
    drop(fake);
}

/// A peer without the last pieces, and no one else: once the rest is here, the
/// `availability` check names the pieces no one has.
fn last_pieces_nobody_has() {
    let env = Env::new("ttui-explain-avail-");
    let data = env.root.path().join("data");
    // 16 pieces of 64 KiB and a short one: 17, the last 3 missing (14–16).
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "avail",
        &[("", (16 << 16) + 1000)],
        2,
    );
    let ctx = ctx_of(&p);
    let n = ctx.num_pieces();
    assert_eq!(n, 17);
    let rt = runtime();
    let fake = rt.block_on(FakePeer::listen(ctx, partial_script));
    let peer = fake.addr.to_string();
    let mut d = daemon(
        &env,
        &["--no-trackers", "--encryption", "off", "--peer", &peer],
    );
    let id = add(&env, &p);
    let want = format!("{MISSING} pieces: no connected peer has them (pieces 14–16)");
    let top = wait_top(&env, &mut d, &id, "availability", |f| {
        text(f, "evidence").contains(&want)
    });
    assert!(text(&top, "advice").contains("seed"), "{top}");
    // The list's row is refreshed on the session's own tick, after the snapshot `show` read.
    let want_bytes = u64::from(n - MISSING) * PLEN;
    env.wait_list(
        "everything but the missing pieces verified",
        Duration::from_secs(10),
        &mut d,
        |rows| row_of(rows, &p.hash())["verified_bytes"].as_u64() == Some(want_bytes),
    );
    assert!(d.term().success());
    drop(fake);
}

/// The same swarm for a headless run: once no byte arrived for 10 s, its progress line says
/// why, with the explainer's top finding.
fn last_pieces_in_the_progress_line() {
    let dir = tempdir("ttui-explain-headless-");
    let data = dir.path().join("data");
    let p = Payload::make(
        &data,
        &dir.path().join("t"),
        "avail-headless",
        &[("", (16 << 16) + 1000)],
        6,
    );
    let rt = runtime();
    let fake = rt.block_on(FakePeer::listen(ctx_of(&p), partial_script));
    let (torrent, peer) = (p.path(), fake.addr.to_string());
    let out = dir.path().join("out").display().to_string();
    let mut ttui = Ttui::spawn([
        torrent.as_str(),
        "--headless",
        "--no-trackers",
        "--no-dht",
        "--encryption",
        "off",
        "--transport",
        "tcp",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--peer",
        peer.as_str(),
        "-o",
        out.as_str(),
    ]);
    let want = "why: 3 pieces: no connected peer has them (pieces 14–16) — wait for a peer";
    ttui.wait_for_stdout("the progress line to say why", SHOW_WAIT, |s| {
        s.contains(want)
    });
    ttui.kill();
    drop(fake);
}

/// A libtorrent seeder that requires encryption, ttui with `--encryption off`: the
/// `peer_failures` check says the plain handshake was closed and how to fix it.
fn encryption_required_but_off() {
    let env = Env::new("ttui-explain-enc-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "enc",
        &[("", 1 << 20)],
        3,
    );
    let lt = LibtorrentPeer::start(
        &p.torrent,
        &data,
        LtOptions {
            seed_mode: true,
            encryption: Some("forced"),
            ..LtOptions::default()
        },
    );
    let peer = lt.addr().to_string();
    let mut d = daemon(
        &env,
        &["--no-trackers", "--encryption", "off", "--peer", &peer],
    );
    let id = add(&env, &p);
    let top = wait_top(&env, &mut d, &id, "peer_failures", |_| true);
    let evidence = text(&top, "evidence");
    assert!(
        evidence.contains("closed the plain handshake: they may require encryption"),
        "evidence: {evidence:?}"
    );
    assert!(
        text(&top, "advice").contains("--encryption prefer"),
        "{top}"
    );
    assert!(d.term().success());
}

/// A 100 KiB/s session limit against a libtorrent seeder that could send far more: the
/// `limits` check says the session limit holds it back.
fn limit_below_the_swarm() {
    let env = Env::new("ttui-explain-limit-");
    let data = env.root.path().join("data");
    // 16 MiB at 100 KiB/s: nowhere near done when the check is read.
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "limit",
        &[("", 16 << 20)],
        4,
    );
    let lt = LibtorrentPeer::start(
        &p.torrent,
        &data,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    let peer = lt.addr().to_string();
    let mut d = daemon(
        &env,
        &["--no-trackers", "--peer", &peer, "--down-limit", "100K"],
    );
    let id = add(&env, &p);
    let top = wait_top(&env, &mut d, &id, "limits", |_| true);
    let evidence = text(&top, "evidence");
    assert!(
        evidence.contains("the session limit of 100 KiB/s is reached"),
        "evidence: {evidence:?}"
    );
    assert!(text(&top, "advice").contains("limit"), "{top}");
    assert!(d.term().success());
}

/// A torrent whose only source is a tracker on a closed loopback port: the `trackers` check
/// holds it back and names the tracker and its error.
fn dead_tracker() {
    let env = Env::new("ttui-explain-tracker-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "dead",
        &[("", 1 << 20)],
        5,
    );
    // A port nothing listens on: bound, read and closed again.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/announce");
    let torrent = p.torrent.with_trackers(
        &env.root.path().join("dead-tracker.torrent"),
        Some(&url),
        &[],
    );
    let mut d = daemon(&env, &[]);
    let path = torrent.path.display().to_string();
    let r = env.verb(&["add", path.as_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = row_of(&env.list(), &p.hash())["id"].to_string();
    let host = format!("127.0.0.1:{port}");
    let top = wait_top(&env, &mut d, &id, "trackers", |f| {
        text(f, "evidence").contains(&host)
    });
    let evidence = text(&top, "evidence");
    assert!(
        evidence.starts_with("1 of 1 tracker failing"),
        "evidence: {evidence:?}"
    );
    assert!(
        evidence.to_lowercase().contains("refused"),
        "the tracker's error is not named: {evidence:?}"
    );
    assert!(text(&top, "advice").contains("tracker URL"), "{top}");
    assert!(d.term().success());
}

#[test]
fn each_check_fires_against_its_swarm() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let cases: Vec<(&str, fn())> = vec![
        ("seeder never unchokes", seeder_never_unchokes),
        ("last pieces nobody has", last_pieces_nobody_has),
        ("last pieces, headless", last_pieces_in_the_progress_line),
        ("encryption required, off", encryption_required_but_off),
        ("limit below the swarm", limit_below_the_swarm),
        ("dead tracker", dead_tracker),
        (
            "disk slower than the swarm",
            disk::disk_slower_than_the_swarm,
        ),
    ];
    run_cases(cases);
}

/// In a namespace of its own with a shaped link: apart from the cases above, whose loopback
/// it would otherwise share.
#[test]
fn a_full_uplink_is_named_and_its_advice_frees_the_download() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    uplink::a_full_uplink_is_named_and_its_advice_frees_the_download();
}

/// Runs the cases at once, each in its thread, and fails naming those that failed.
fn run_cases(cases: Vec<(&'static str, fn())>) {
    let started = Instant::now();
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let failed: Vec<&str> = handles
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    eprintln!("all cases in {:.1}s", started.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "failed: {failed:?}");
}
