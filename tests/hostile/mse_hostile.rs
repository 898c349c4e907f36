//! Hostile MSE peers against the ttui binary: fake peers in this test process, each broken
//! at one step of the encrypted handshake, dialed by ttui with `--peer` (and one that dials
//! ttui), next to a good seeder. Every fake must be dropped with its own reason in the log,
//! and the download must complete byte-identical.
//!
//! Run through tests/run.sh: the test refuses to start unless the process sits in a network
//! namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use rand::RngCore;
use ttui::internals::protocol::mse_codec::{self, KeyPair, CRYPTO_RC4, KEY_LEN, VC};

/// How long a fake keeps a connection open (and waits on a read): past ttui's 10 s MSE
/// deadline, so the silent fake is dropped by ttui and not by itself.
const HOLD: Duration = Duration::from_secs(15);

/// One way to break the handshake as the answering side (B).
#[derive(Debug, Clone, Copy)]
enum Script {
    /// 96 bytes of text where B's public key belongs.
    GarbageKey,
    /// A good key and VC, then len(PadD) = 600.
    LongPad,
    /// A good key, then 600 random bytes: the encrypted VC never appears.
    NeverSyncs,
    /// A good key and VC, then a crypto_select of 0x04, which no policy offers.
    SelectsUnoffered,
    /// A good key, then silence.
    StopsHalfWay,
    /// A good key, then it hangs up.
    HangsUpHalfWay,
}

/// A fake peer on 127.0.0.1 running `script` on every connection, until dropped.
struct Fake {
    addr: SocketAddr,
    connections: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    fn start(script: Script, info_hash: [u8; 20]) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake peer");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("fake peer address");
        let (connections, stop) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (n, halt) = (Arc::clone(&connections), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        n.fetch_add(1, Ordering::Relaxed);
                        // Each connection ends within HOLD (timeouts on every read and write).
                        std::thread::spawn(move || {
                            let _ = answer(s, script, &info_hash);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Fake {
            addr,
            connections,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn with_timeouts(s: &TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(HOLD))?;
    s.set_write_timeout(Some(HOLD))
}

/// Reads until the other end closes or HOLD passes.
fn hold(mut s: TcpStream) {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < HOLD {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// B's message 4 under keyB: VC, crypto_select, len(PadD).
fn message_4(secret: &[u8; KEY_LEN], info_hash: &[u8; 20], select: u32, pad: u16) -> Vec<u8> {
    let mut tx = mse_codec::rc4_key(b"keyB", secret, info_hash);
    let mut m = VC.to_vec();
    m.extend_from_slice(&select.to_be_bytes());
    m.extend_from_slice(&pad.to_be_bytes());
    tx.apply_keystream(&mut m);
    m
}

fn answer(mut s: TcpStream, script: Script, info_hash: &[u8; 20]) -> std::io::Result<()> {
    with_timeouts(&s)?;
    let mut ya = [0u8; KEY_LEN];
    s.read_exact(&mut ya)?;
    let mut rng = rand::thread_rng();
    let keys = KeyPair::generate(&mut rng);
    let secret = keys.shared_secret(&ya).map_err(std::io::Error::other)?;
    let mut out = keys.public.to_vec();
    match script {
        Script::GarbageKey => {
            out = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
                .iter()
                .copied()
                .cycle()
                .take(KEY_LEN)
                .collect();
        }
        Script::LongPad => out.extend(message_4(&secret, info_hash, CRYPTO_RC4, 600)),
        Script::NeverSyncs => {
            let mut junk = [0u8; 600];
            rng.fill_bytes(&mut junk);
            out.extend_from_slice(&junk);
        }
        Script::SelectsUnoffered => out.extend(message_4(&secret, info_hash, 0x04, 0)),
        Script::StopsHalfWay => {}
        Script::HangsUpHalfWay => {
            s.write_all(&out)?;
            return s.shutdown(std::net::Shutdown::Both);
        }
    }
    s.write_all(&out)?;
    hold(s);
    Ok(())
}

/// Dials ttui as the initiator (A) with a VC that is not zeros; returns the address it
/// dialed from (ttui logs the failure under it).
fn dial_with_wrong_vc(ttui: SocketAddr, info_hash: &[u8; 20]) -> std::io::Result<SocketAddr> {
    let mut s = TcpStream::connect_timeout(&ttui, HOLD)?;
    with_timeouts(&s)?;
    let from = s.local_addr()?;
    let keys = KeyPair::generate(&mut rand::thread_rng());
    s.write_all(&keys.public)?;
    let mut yb = [0u8; KEY_LEN];
    s.read_exact(&mut yb)?;
    let secret = keys.shared_secret(&yb).map_err(std::io::Error::other)?;
    let mut m = mse_codec::sha1_of(&[b"req1", &secret]).to_vec();
    let req3 = mse_codec::sha1_of(&[b"req3", &secret]);
    m.extend(
        mse_codec::req2(info_hash)
            .iter()
            .zip(req3)
            .map(|(a, b)| a ^ b),
    );
    let mut tail = [1u8; 8].to_vec();
    tail.extend_from_slice(&CRYPTO_RC4.to_be_bytes());
    tail.extend_from_slice(&0u16.to_be_bytes()); // len(PadC)
    tail.extend_from_slice(&0u16.to_be_bytes()); // len(IA)
    mse_codec::rc4_key(b"keyA", &secret, info_hash).apply_keystream(&mut tail);
    m.extend(tail);
    s.write_all(&m)?;
    hold(s);
    Ok(from)
}

/// With `--encryption require`, each fake's own MSE fault is the reason.
#[test]
fn hostile_mse_peers_are_dropped_with_a_reason_while_a_good_seeder_delivers() {
    run_against_hostiles(
        "require",
        [
            (
                Script::GarbageKey,
                "failed: not encrypted: peer sent garbage instead of a public key",
            ),
            (
                Script::LongPad,
                "failed: encryption: pad longer than 512 (600 bytes)",
            ),
            (Script::NeverSyncs, "failed: encryption: never synchronised"),
            (
                Script::SelectsUnoffered,
                "failed: encryption: peer selected a method we did not offer (0x4)",
            ),
            (Script::StopsHalfWay, "failed: timed out in handshake"),
            (Script::HangsUpHalfWay, "failed: closed during handshake"),
        ],
    );
}

/// With the default `prefer`, a fake that hung up, stalled or sent no key also gets a plain
/// dial (as a plain-only peer would want); it stalls that one too, and is dropped for it.
#[test]
fn hostile_mse_peers_are_dropped_with_default_options_too() {
    run_against_hostiles(
        "prefer",
        [
            (Script::GarbageKey, "failed: timed out in handshake"),
            (
                Script::LongPad,
                "failed: encryption: pad longer than 512 (600 bytes)",
            ),
            (Script::NeverSyncs, "failed: encryption: never synchronised"),
            (
                Script::SelectsUnoffered,
                "failed: encryption: peer selected a method we did not offer (0x4)",
            ),
            (Script::StopsHalfWay, "failed: timed out in handshake"),
            (Script::HangsUpHalfWay, "failed: timed out in handshake"),
        ],
    );
}

/// The fakes and a good `ttui seed`, all given to one ttui with `--peer` (and one fake that
/// dials it): each fake's line must show up in ttui's log, and the download must complete.
fn run_against_hostiles(policy: &str, expected: [(Script, &str); 6]) {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("mse-hostile.bin", 4_000_037, 31, 16);
    let ih = fx.torrent.info_hash;
    let fakes: Vec<Fake> = expected.iter().map(|(s, _)| Fake::start(*s, ih)).collect();

    let seed_port = free_port();
    let mut seeder = spawn_ttui_seeder(&fx.torrent.path, &fx.data_dir, seed_port, &["--no-dht"]);

    let out = fx.out_dir("out");
    let log = out.with_extension("log");
    let port = free_port();
    let mut args: Vec<String> = [
        fx.torrent.path.display().to_string().as_str(),
        "--headless",
        "--seed",
        "--no-trackers",
        "--no-dht",
        "--encryption",
        policy,
        "--transport",
        "tcp",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "-o",
        &out.display().to_string(),
        "--log-file",
        &log.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in &fakes {
        args.extend(["--peer".to_string(), f.addr.to_string()]);
    }
    args.extend([
        "--peer".to_string(),
        SocketAddr::from(([127, 0, 0, 1], seed_port)).to_string(),
    ]);
    let mut ttui = Ttui::spawn(&args);

    // The last hostile peer dials in once ttui listens.
    let ttui_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    let wrong_vc_from = loop {
        match dial_with_wrong_vc(ttui_addr, &ih) {
            Ok(from) => break from,
            Err(e) if start.elapsed() > WAIT => panic!("cannot reach ttui at {ttui_addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };

    let mut wanted: Vec<String> = fakes
        .iter()
        .zip(&expected)
        .map(|(f, (_, why))| format!("{}: {why}", f.addr))
        .collect();
    wanted.push(format!(
        "{wrong_vc_from}: incoming: encryption: wrong VC (the peer's keys do not match ours)"
    ));
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let done = ttui.stdout_now().contains("100.0%");
        if done && wanted.iter().all(|w| text.contains(w.as_str())) {
            break text;
        }
        if start.elapsed() > DOWNLOAD_TIMEOUT || ttui.has_exited() {
            ttui.kill();
            let missing: Vec<&String> = wanted
                .iter()
                .filter(|w| !text.contains(w.as_str()))
                .collect();
            panic!(
                "download done: {done}; missing from the log: {missing:#?}\n{}\n{}",
                last_lines(&text, 40),
                ttui.report()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    ttui.kill();
    seeder.kill();
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    for f in &fakes {
        assert!(
            f.connections.load(Ordering::Relaxed) >= 1,
            "{} never dialed",
            f.addr
        );
    }
    assert!(
        !text.contains("internal error") && !text.contains("panicked"),
        "{}",
        last_lines(&text, 40)
    );
    drop(fakes);
}
