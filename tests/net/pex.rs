//! Peer exchange (BEP 11) with real clients: ttui, told only of a libtorrent peer A that holds
//! half the pieces, completes from a peer B that only A knows (A passes B on by `ut_pex`);
//! with `--no-pex` it learns nothing from A; and our extended handshake carries `ut_pex`
//! exactly when PEX is on for the torrent (never for a private one, BEP 27).
//!
//! Run through tests/run.sh: tests that start third-party clients refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use ttui::internals::protocol::extension::{ExtHandshake, UT_PEX};
use ttui::internals::protocol::handshake::Handshake;

const PIECE_LOG2: u32 = 18;
const LEN: u64 = 8 << 20;
/// A and B fetch from each other this slowly, so neither can pass the other's half on to ttui
/// in the time the test takes: what ttui got of B's half came from B.
const SLOW: u64 = 16_000;

/// python3-libtorrent (assets/seeders/lt_seed.py) with its `ut_pex` plugin, on its own
/// 127.0.0.x, trading with the other libtorrent peer (`slow`) at `SLOW` bytes a second each
/// way and with ttui at full speed.
struct LtPex {
    proc: Proc,
    _dir: tempfile::TempDir,
    ip: Ipv4Addr,
    port: u16,
    started: Instant,
}

impl LtPex {
    fn start(
        pex: bool,
        torrent: &Torrent,
        save: &Path,
        ip: Ipv4Addr,
        slow: Ipv4Addr,
        peers: &[SocketAddr],
    ) -> LtPex {
        let dir = tempdir("ttui-ltpex-");
        let port = free_port();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(seeders_dir().join("lt_seed.py"))
            .arg("--torrent")
            .arg(&torrent.path)
            .arg("--save")
            .arg(save)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args([
                "--slow-ip",
                &slow.to_string(),
                "--slow-rate",
                &SLOW.to_string(),
                "--pex",
            ])
            .args(["--max-seconds", "300"]);
        if pex {
            cmd.arg("--pex");
        }
        for p in peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        let started = Instant::now();
        let proc = Proc::spawn("lt_pex", &mut cmd, dir.path());
        LtPex {
            proc,
            _dir: dir,
            ip,
            port,
            started,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    /// (percent, down, up, handshaken peers) of its latest progress line.
    fn progress(&self) -> Option<(f64, u64, u64, u64)> {
        let text = self.proc.stdout_text();
        let line = text.lines().rev().find(|l| l.starts_with("progress "))?;
        let pct = line.split_whitespace().nth(1)?.parse().ok()?;
        let field = |k: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.parse().ok())
        };
        Some((pct, field("down=")?, field("up=")?, field("connected=")?))
    }

    fn wait(&mut self, what: &str, ok: impl Fn((f64, u64, u64, u64)) -> bool) {
        let start = Instant::now();
        while !self.progress().is_some_and(&ok) {
            assert!(
                start.elapsed() < WAIT,
                "timed out waiting for {what}\n{}",
                self.proc.report()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Its counters from a progress line printed after this call.
    fn fresh_progress(&mut self) -> (f64, u64, u64, u64) {
        let lines = |p: &Proc| {
            p.stdout_text()
                .lines()
                .filter(|l| l.starts_with("progress "))
                .count()
        };
        let before = lines(&self.proc);
        self.proc
            .wait_until("a fresh progress line", WAIT, |p| lines(p) > before);
        self.progress().expect("a progress line")
    }
}

/// A copy of the single-file payload in a new directory with the pieces `wipe` names zeroed.
fn partial_copy(fx: &Fixture, name: &str, wipe: impl Fn(u64) -> bool) -> PathBuf {
    let dir = fx.out_dir(name);
    let file_name = fx.payload.file_name().expect("payload name");
    let dst = dir.join(file_name);
    fs::copy(&fx.payload, &dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    let f = OpenOptions::new()
        .write(true)
        .open(&dst)
        .unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    let plen = 1u64 << PIECE_LOG2;
    for i in (0..LEN.div_ceil(plen)).filter(|&i| wipe(i)) {
        let n = plen.min(LEN - i * plen);
        f.write_all_at(&vec![0u8; n as usize], i * plen)
            .unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    }
    dir
}

/// B (second half, known to nobody but A; no PEX, so it cannot learn of ttui from A and
/// dial it) and A (first half, `ut_pex`, dials B).
fn two_halves(fx: &Fixture) -> (LtPex, LtPex) {
    let half = LEN.div_ceil(1 << PIECE_LOG2) / 2;
    let dir_a = partial_copy(fx, "a", |i| i >= half);
    let dir_b = partial_copy(fx, "b", |i| i < half);
    let (ip_a, ip_b) = (loopback_ip(), loopback_ip());
    let mut b = LtPex::start(false, &fx.torrent, &dir_b, ip_b, ip_a, &[]);
    b.wait("B to check its half", |(pct, ..)| pct >= 49.0);
    let mut a = LtPex::start(true, &fx.torrent, &dir_a, ip_a, ip_b, &[b.addr()]);
    a.wait(
        "A to check its half and connect to B",
        |(pct, .., peers)| pct >= 49.0 && peers >= 1,
    );
    (a, b)
}

fn ttui_args(fx: &Fixture, out: &Path, log: &Path, a: SocketAddr, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        fx.torrent.path.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--port".into(),
        free_port().to_string(),
        "--peer".into(),
        a.to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn ttui_completes_from_a_peer_only_pex_told_it_of() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("pex payload.bin", LEN, 31, PIECE_LOG2);
    let (mut a, mut b) = two_halves(&fx);
    let out = fx.out_dir("ttui-out");
    let log = fx.dir.path().join("ttui.log");
    let run = Ttui::run(
        ttui_args(&fx, &out, &log, a.addr(), &[]),
        Duration::from_secs(120),
    );
    run.assert_success("ttui download given only A");
    let name = fx.payload.file_name().expect("payload name");
    let got = fs::read(out.join(name)).expect("downloaded file");
    assert!(
        got == fs::read(&fx.payload).expect("payload"),
        "downloaded file differs"
    );
    let text = fs::read_to_string(&log).unwrap_or_default();
    for l in text
        .lines()
        .filter(|l| l.contains("connected") || l.contains("exchange"))
    {
        eprintln!("ttui: {l}");
    }
    let learned = format!("{}: ", a.addr());
    assert!(
        text.lines()
            .any(|l| l.contains(&learned) && l.contains("by peer exchange")),
        "ttui logged no peer learned from A by PEX\n{}\nA: {}\nB: {}",
        last_lines(&text, 40),
        a.proc.report(),
        b.proc.report()
    );
    assert!(
        text.contains(&format!("{}: connected", b.addr())),
        "ttui never connected to B ({})\n{}",
        b.addr(),
        last_lines(&text, 40)
    );
    // B sends A at most SLOW bytes a second over its life; beyond that it uploaded to ttui.
    let (_, _, b_up, _) = b.fresh_progress();
    let to_a_at_most = SLOW * (b.started.elapsed().as_secs() + 1);
    assert!(
        run.elapsed < Duration::from_secs(60),
        "ttui took {:?}: A and B trade at {SLOW} B/s, ttui should not be held to that",
        run.elapsed
    );
    assert!(
        b_up.saturating_sub(to_a_at_most) >= 1 << 20,
        "B uploaded {b_up} bytes, at most {to_a_at_most} of them to A: ttui got little from B"
    );
    eprintln!(
        "ttui completed via PEX in {:.1}s; B uploaded {b_up} (at most {to_a_at_most} to A)",
        run.elapsed.as_secs_f64()
    );
}

#[test]
fn with_no_pex_ttui_learns_nothing_from_a() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("no pex payload.bin", LEN, 32, PIECE_LOG2);
    let (a, b) = two_halves(&fx);
    let out = fx.out_dir("ttui-out");
    let log = fx.dir.path().join("ttui.log");
    let mut ttui = Ttui::spawn(ttui_args(&fx, &out, &log, a.addr(), &["--no-pex"]));
    // libtorrent's first PEX message comes within a second or two of the handshake; wait
    // well past it (or until ttui is done: B, which learns of ttui from A, may dial it).
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && !ttui.has_exited() {
        sleep(Duration::from_millis(200));
    }
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains(&format!("{}: connected", a.addr())),
        "ttui never connected to A\n{}",
        last_lines(&text, 40)
    );
    // B's listen address reaches ttui only by A's PEX; an incoming connection from B shows
    // B's outgoing port instead.
    assert!(
        !text.contains("by peer exchange") && !text.contains(&b.addr().to_string()),
        "ttui learned of B with --no-pex\n{}",
        last_lines(&text, 40)
    );
    ttui.kill();
}

/// Dials `port`, sends a handshake with the extension bit, and returns ttui's extended
/// handshake (bounded: 10 s, 64 messages).
fn ext_handshake_of(port: u16, info_hash: [u8; 20]) -> ExtHandshake {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to ttui");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(&Handshake::new(info_hash, *b"-XX0000-pexprobe0000").encode())
        .expect("send handshake");
    let mut hs = [0u8; 68];
    s.read_exact(&mut hs).expect("ttui's handshake");
    for _ in 0..64 {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).expect("message length");
        let len = u32::from_be_bytes(len) as usize;
        assert!(len <= 1 << 20, "message of {len} bytes");
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("message");
        if body.len() >= 2 && body[0] == 20 && body[1] == 0 {
            return ExtHandshake::decode(&body[2..]).expect("a valid extended handshake");
        }
    }
    panic!("no extended handshake in ttui's first 64 messages");
}

/// A copy of the fixture's torrent marked private (mktorrent -p).
fn private_torrent(fx: &Fixture) -> Torrent {
    let path = fx.dir.path().join("private.torrent");
    let st = Command::new("mktorrent")
        .args(["-p", "-l", &PIECE_LOG2.to_string()])
        .args(["-a", "http://127.0.0.1:1/announce", "-o"])
        .arg(&path)
        .arg(&fx.payload)
        .output();
    assert!(
        st.as_ref().is_ok_and(|o| o.status.success()),
        "mktorrent -p: {st:?}"
    );
    Torrent::load(&path)
}

#[test]
fn ut_pex_is_offered_only_when_pex_is_on_and_the_torrent_is_public() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let fx = Fixture::single_file("handshake.bin", 1 << 20, 33, 16);
    let private = private_torrent(&fx);
    assert_ne!(private.info_hash, fx.torrent.info_hash);
    let cases: [(&Torrent, &[&str], bool); 3] = [
        (&fx.torrent, &["--no-dht"], true),
        (&fx.torrent, &["--no-dht", "--no-pex"], false),
        (&private, &["--no-dht"], false),
    ];
    for (torrent, extra, want) in cases {
        let port = free_port();
        let mut seed = spawn_ttui_seeder(&torrent.path, &fx.data_dir, port, extra);
        let h = ext_handshake_of(port, torrent.info_hash);
        assert_eq!(
            h.id_of(UT_PEX).is_some(),
            want,
            "ut_pex in {:?} with {extra:?} (private: {})",
            h.m,
            torrent.info_hash == private.info_hash
        );
        assert!(h.v.is_some_and(|v| v.starts_with("ttui")));
        seed.kill();
    }
}
