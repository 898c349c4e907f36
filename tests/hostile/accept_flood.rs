//! Running out of descriptors to incoming connections: ttui under a 256-descriptor limit is
//! flooded with TCP connections that never handshake, several times the limit, while it
//! downloads a torrent of 300 files from a libtorrent seeder. The files outnumber the file
//! pool (a quarter of the limit), so the pool keeps opening files all through the flood:
//! every open competes with the flood's sockets. The download must complete with no piece
//! write failing, and ttui's descriptors must stay well below the limit.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::fs;
use std::io::{ErrorKind, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use socket2::{Domain, Protocol, Socket, Type};

const NOFILE: u64 = 256;
const FILES: usize = 300;
const FILE_LEN: usize = 24 * 1024;
/// Connections the flood keeps open: more than twice the limit.
const FLOOD: usize = 600;
/// libtorrent's upload limit: the 7 MiB download lasts about five seconds, all under flood.
const SEED_RATE: u64 = 1_500_000;

fn make_files(root: &Path) {
    // xorshift64: any bytes that do not repeat across files will do.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    fs::create_dir_all(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for i in 0..FILES {
        let bytes: Vec<u8> = (0..FILE_LEN).map(|_| next() as u8).collect();
        let path = root.join(format!("f{i:03}.bin"));
        let mut f = fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f.write_all(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A connection started without waiting: the kernel sends the SYN (and its retries) while
/// the flood goes on, as an attacker's would.
fn start_connect(target: SocketAddr) -> Option<Socket> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).ok()?;
    s.set_nonblocking(true).ok()?;
    match s.connect(&target.into()) {
        Ok(()) => Some(s),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Some(s),
        Err(_) => None,
    }
}

/// Keeps `FLOOD` idle connections open or opening to `target` (replacing those ttui closes)
/// until `stop`: counts the connections started and the most established at once. Those
/// beyond ttui's budget wait in its listen backlog, and once that is full their SYNs wait
/// in the kernel's retries.
fn flood(
    target: SocketAddr,
    stop: Arc<AtomicBool>,
    tried: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conns: Vec<Socket> = Vec::new();
    let mut buf = [MaybeUninit::<u8>::uninit(); 64];
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        // Drop the ones ttui has closed (its handshake timeout), then top the set up again.
        conns.retain(|c| match c.recv(&mut buf) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected),
        });
        let established = conns.iter().filter(|c| c.peer_addr().is_ok()).count();
        peak.fetch_max(established, Ordering::Relaxed);
        while conns.len() < FLOOD {
            let Some(c) = start_connect(target) else {
                break;
            };
            tried.fetch_add(1, Ordering::Relaxed);
            conns.push(c);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_connection_flood_beyond_the_descriptor_limit_never_fails_a_piece_write() {
    require_loopback_only();
    if !(prereq::have_tools(&["mktorrent", "prlimit"]) && prereq::have_python_libtorrent()) {
        return;
    }
    let _swarm = swarm_lock();
    let dir = tempdir("ttui-accept-flood-");
    let data = dir.path().join("data");
    make_files(&data.join("many"));
    let t = mktorrent(&data.join("many"), 16, &dir.path().join("many.torrent"));
    let mut seeder = LibtorrentSeeder::start(
        &t,
        &data,
        LtOptions {
            seed_mode: true,
            upload_limit: SEED_RATE,
            ..LtOptions::default()
        },
    );

    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let port = free_port();
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_ttui"))
        .arg(&t.path)
        .args(["--headless", "--no-trackers", "--no-dht", "--no-pex"])
        .args(["--transport", "tcp", "--bind", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .arg("--peer")
        .arg(seeder.addr().to_string())
        .arg("-o")
        .arg(&out)
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("TTUI_NO_PUBLIC_ROUTERS", "1")
        .current_dir(dir.path());
    let mut ttui = Proc::spawn("ttui", &mut cmd, dir.path());
    let log: PathBuf = dir.path().join("ttui").join("ttui.log");
    ttui.logs.push(log.clone());
    let pid = ttui.pid();

    // The flood starts as soon as ttui listens.
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "ttui never listened on {target}\n{}",
            ttui.report()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tried, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let flooder = {
        let (stop, tried, peak) = (Arc::clone(&stop), Arc::clone(&tried), Arc::clone(&peak));
        std::thread::spawn(move || flood(target, stop, tried, peak))
    };
    let mut max_fds = 0;
    ttui.wait_until("ttui to complete under the flood", DOWNLOAD_TIMEOUT, |p| {
        max_fds = max_fds.max(open_fds(pid));
        p.stdout_text().contains("complete:")
    });
    let (tried, flooded) = (tried.load(Ordering::Relaxed), peak.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    let took = started.elapsed();
    // Exits on its own once complete (no --seed).
    ttui.wait_until("ttui to exit", Duration::from_secs(15), |_| {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    let exited = started.elapsed() - took;

    let text = format!(
        "{}\n{}\n{}",
        ttui.stdout_text(),
        fs::read_to_string(&ttui.stderr).unwrap_or_default(),
        fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!(
        "accept flood: {tried} connections started, at most {flooded} established at once \
         (ttui's budget plus its backlog), against nofile={NOFILE}; download took {:.1}s; ttui held at most \
         {max_fds} descriptors; exited {:.1}s later",
        took.as_secs_f64(),
        exited.as_secs_f64()
    );
    assert!(
        tried >= FLOOD && flooded > 100,
        "the flood tried {tried} and made {flooded} connections: no pressure"
    );
    for bad in ["disk error", "error:"] {
        assert!(
            !text.contains(bad),
            "`{bad}` under the flood:\n{}",
            ttui.report()
        );
    }
    let shortages = text.matches("Too many open files").count();
    assert!(
        shortages <= 1,
        "{shortages} `Too many open files` lines:\n{}",
        ttui.report()
    );
    // The files' quarter of the limit stayed free whatever the flood did.
    assert!(
        (max_fds as u64) < NOFILE - NOFILE / 4,
        "ttui held {max_fds} of its {NOFILE} descriptors under the flood"
    );
    assert_same_tree(&data.join("many"), &out.join(&t.name));
    seeder.report();
}
