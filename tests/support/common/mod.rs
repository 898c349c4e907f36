//! Swarm kit for ttui's integration tests: opentracker, real third-party seeders
//! (Transmission, python3-libtorrent, aria2) and the ttui binary itself, all on loopback.
//!
//! Every process is killed by pid when its handle drops, every wait is bounded and panics
//! with the tail of the process's log, and `require_loopback_only` refuses to start a
//! swarm anywhere but inside a network namespace whose only interface is `lo`
//! (tests/run.sh provides one). Each client's flags carry a comment on why they are there.
//!
//! Its own unit tests live in tests/session/common_selftest.rs, so they run (and count) once rather
//! than once per test binary that includes this module.

// Each test binary uses a different subset of the kit.
#![allow(dead_code)]

pub mod relay;
pub mod v2;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use tempfile::TempDir;

/// Upper bound for "a third-party process becomes ready".
pub const WAIT: Duration = Duration::from_secs(60);
/// Upper bound for one 64 MiB download on loopback (Transmission alone needs ~10 s to
/// unchoke and serves ~20-40 MB/s on this kind of machine).
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(180);

const POLL: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------
// Environment guards
// ---------------------------------------------------------------------------------------

/// Panics unless this process sits in a network namespace whose only interface is `lo`
/// (and `lo` works), so a test can never reach anything beyond loopback.
/// `TTUI_ALLOW_HOST_NET=1` skips the check (for debugging on a workstation).
///
/// Reads /proc/self/net/dev, not /sys/class/net: sysfs keeps showing the interfaces of
/// the namespace it was mounted in, so after a bare `unshare -n` it still lists eth0.
pub fn require_loopback_only() {
    if std::env::var("TTUI_ALLOW_HOST_NET").as_deref() == Ok("1") {
        return;
    }
    let dev = fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_else(|e| panic!("cannot read /proc/self/net/dev: {e}"));
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert!(
        ifaces == ["lo"],
        "refusing to start third-party BitTorrent clients with network interfaces {ifaces:?}: \
         run the suite through tests/run.sh (it uses `unshare -n`), or set \
         TTUI_ALLOW_HOST_NET=1 if you really mean it"
    );
    // A fresh namespace has `lo` down; then every bind/connect below would fail obscurely.
    let probe = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr().map(|a| (l, a)))
        .and_then(|(l, a)| TcpStream::connect_timeout(&a, Duration::from_secs(2)).map(|s| (l, s)));
    if let Err(e) = probe {
        panic!("loopback does not work ({e}); is `lo` up? (`ip link set lo up`)");
    }
}

/// Held by every test that runs a swarm: one swarm at a time in a test process (the tests of
/// one module share its namespace, and some share fixed names in it: the veth pair of
/// tests/net/interface.rs), and at most `TTUI_SWARM_SLOTS` (2) swarms at a time on the machine,
/// whichever test units they are in (tests/run.sh runs units side by side; the other tests
/// still run beside them), so no more than that load the two cores at once. A slot is a lock
/// file in cargo's scratch directory for integration tests (`target/tmp`), not in /tmp: it must
/// outlive each test (removing a flock()ed file lets the next test lock a new one), so in /tmp
/// it was a file every run left behind.
pub struct SwarmGuard {
    // Held, never read: dropping the guard releases both.
    file: File,
    here: Option<std::sync::MutexGuard<'static, ()>>,
}

/// How long a test waits for a swarm slot: longer than any one swarm test runs, times the
/// tests that can be queued for one.
const SWARM_SLOT_WAIT: Duration = Duration::from_secs(1800);

pub fn swarm_lock() -> SwarmGuard {
    let slots: usize = std::env::var("TTUI_SWARM_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(2);
    // A test that panicked holding it poisoned nothing: the mutex guards no data.
    static HERE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let here = HERE.lock().unwrap_or_else(|e| e.into_inner());
    let mut guard = swarm_slot(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        slots,
        SWARM_SLOT_WAIT,
    )
    .unwrap_or_else(|| panic!("no swarm slot of {slots} free within {SWARM_SLOT_WAIT:?}"));
    guard.here = Some(here);
    guard
}

/// One of `slots` lock files `ttui-tests-swarm-N.lock` in `dir`, whichever frees first; `None`
/// when none did within `wait`. (`swarm_lock` adds the process's own one-at-a-time.)
pub fn swarm_slot(dir: &Path, slots: usize, wait: Duration) -> Option<SwarmGuard> {
    let mut files: Vec<(PathBuf, File)> = (0..slots)
        .map(|i| {
            let path = dir.join(format!("ttui-tests-swarm-{i}.lock"));
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            (path, file)
        })
        .collect();
    // flock() locks belong to the open file description, so threads of one test binary
    // exclude each other too.
    let start = Instant::now();
    loop {
        for i in 0..files.len() {
            match files[i].1.try_lock() {
                Ok(()) => {
                    return Some(SwarmGuard {
                        file: files.swap_remove(i).1,
                        here: None,
                    })
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    panic!("lock {}: {e}", files[i].0.display())
                }
            }
        }
        if start.elapsed() > wait {
            return None;
        }
        sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Addresses and ports
// ---------------------------------------------------------------------------------------

static NEXT_IP: AtomicU32 = AtomicU32::new(0);
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A fresh 127.0.0.x (x in 2..=254; ttui itself uses 127.0.0.1). Transmission accepts one
/// connection per IP, so every client gets its own address.
pub fn loopback_ip() -> Ipv4Addr {
    let n = NEXT_IP.fetch_add(1, Ordering::Relaxed) + std::process::id() % 97;
    Ipv4Addr::new(127, 0, 0, (2 + n % 253) as u8)
}

/// A port free for both TCP and UDP on every address. Taken from 20000..32000, below the
/// kernel's ephemeral range, so an outgoing connection cannot grab it between this check
/// and the moment the real owner binds it.
pub fn free_port() -> u16 {
    for _ in 0..2000 {
        let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let mix = (std::process::id().wrapping_mul(7919)).wrapping_add(n.wrapping_mul(104_729));
        let port = 20000 + (mix % 12000) as u16;
        let tcp = TcpListener::bind(("0.0.0.0", port));
        let udp = UdpSocket::bind(("0.0.0.0", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port found in 20000..32000");
}

/// An address on which nothing listens: bind, note the port, drop the listener.
pub fn closed_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
    drop(l);
    addr
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// Last `n` lines of a file, for panic messages.
/// The message of a panic a ttui process wrote to `path` (color-eyre's report: the lines from
/// "The application panicked" to its location), which the tail of a long backtrace leaves out.
pub fn panic_message(path: &Path) -> Option<String> {
    let text = String::from_utf8_lossy(&fs::read(path).ok()?).into_owned();
    let start = text.find("The application panicked")?;
    let lines: Vec<&str> = text[start..].lines().take(4).collect();
    Some(format!(
        "--- panic in {} ---\n{}",
        path.display(),
        lines.join("\n")
    ))
}

pub fn tail(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            format!(
                "--- last lines of {} ---\n{}",
                path.display(),
                lines[start..].join("\n")
            )
        }
        Err(e) => format!("--- {}: {e} ---", path.display()),
    }
}

/// A child process whose stdout and stderr go to files; killed (SIGKILL, by pid) on drop.
pub struct Proc {
    name: String,
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Extra log files worth showing when something goes wrong.
    pub logs: Vec<PathBuf>,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log_dir: &Path) -> Proc {
        let stdout = log_dir.join(format!("{name}.stdout"));
        let stderr = log_dir.join(format!("{name}.stderr"));
        let out = File::create(&stdout).unwrap_or_else(|e| panic!("{}: {e}", stdout.display()));
        let err = File::create(&stderr).unwrap_or_else(|e| panic!("{}: {e}", stderr.display()));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            logs: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stdout).unwrap_or_default()).into_owned()
    }

    /// Everything useful for a panic message: how the process ended (if it did) and the
    /// tails of its logs.
    pub fn report(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(Some(st)) => format!("{} exited: {st}", self.name),
            Ok(None) => format!("{} (pid {}) still running", self.name, self.child.id()),
            Err(e) => format!("{}: wait failed: {e}", self.name),
        };
        let mut s = state;
        for p in [&self.stdout, &self.stderr]
            .into_iter()
            .chain(self.logs.iter())
        {
            s.push('\n');
            s.push_str(&tail(p, 25));
        }
        s
    }

    /// Polls `ready` until it holds; panics on timeout or if the process exits first.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&mut Proc) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if ready(self) {
                return;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                // One more look: it may have become ready and exited in the same tick.
                if ready(self) {
                    return;
                }
                let name = self.name.clone();
                panic!("{name} exited while waiting for {what}\n{}", self.report());
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.report()
                );
            }
            sleep(POLL);
        }
    }

    pub fn wait_for_stdout(&mut self, what: &str, needle: &str, timeout: Duration) {
        self.wait_until(what, timeout, |p| p.stdout_text().contains(needle));
    }

    /// Whether it has exited (reaped here).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn kill(&mut self) {
        // transmission-daemon 3.00 keeps its RPC lock in /tmp/tr_session_id_<id> (a fixed
        // path: it does not read TMPDIR) and removes it only on a clean shutdown, so a SIGKILL
        // left one behind per test. The files it holds open are its own: remove them after.
        let held = held_session_files(self.child.id());
        // Child::kill sends SIGKILL to this pid only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        for f in held {
            let _ = fs::remove_file(f);
        }
    }
}

/// The `tr_session_id_*` files process `pid` holds open (read from /proc/<pid>/fd).
pub fn held_session_files(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .filter(|t| {
            t.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tr_session_id_"))
        })
        .collect()
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failing test's helpers say what they saw (a peer's alerts name why it closed a
        // connection); their logs go with their temp dirs.
        if std::thread::panicking() {
            let report = self.report();
            eprintln!("--- {} at the failure ---\n{report}", self.name);
        }
        self.kill();
    }
}

fn check_status(what: &str, out: std::io::Result<std::process::Output>) -> String {
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {what}: {e}"),
    }
}

/// A temp dir removed on drop, unless TTUI_KEEP_TEST_DIRS=1 (to read the logs afterwards).
pub fn tempdir(prefix: &str) -> TempDir {
    let keep = std::env::var("TTUI_KEEP_TEST_DIRS").as_deref() == Ok("1");
    tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(keep)
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"))
}

// ---------------------------------------------------------------------------------------
// opentracker
// ---------------------------------------------------------------------------------------

/// Seeder/leecher counts from a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scrape {
    pub complete: u64,
    pub incomplete: u64,
}

/// opentracker on 127.0.0.1, HTTP and UDP on the same port. The Debian build only tracks
/// whitelisted info hashes, so they are given up front.
pub struct Opentracker {
    proc: Proc,
    dir: TempDir,
    pub port: u16,
}

impl Opentracker {
    pub fn start(info_hashes: &[[u8; 20]]) -> Opentracker {
        let dir = tempdir("ttui-opentracker-");
        // It chroots into the directory and drops to `nobody`, who must still read the
        // whitelist (and re-read it on SIGHUP).
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod: {e}"));
        let list: String = info_hashes
            .iter()
            .map(|h| format!("{}\n", hex(h)))
            .collect();
        let wl = dir.path().join("whitelist.txt");
        fs::write(&wl, list).unwrap_or_else(|e| panic!("{}: {e}", wl.display()));
        fs::set_permissions(&wl, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("chmod: {e}"));
        let port = free_port();
        let mut cmd = Command::new("opentracker");
        cmd.args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-P",
            &port.to_string(),
        ])
        .arg("-d")
        .arg(dir.path())
        .args(["-w", "whitelist.txt", "-u", "nobody"]);
        // Its stdout/stderr files are written through fds opened before the chroot.
        let mut proc = Proc::spawn("opentracker", &mut cmd, dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        proc.wait_until("opentracker to listen on TCP and UDP", WAIT, |_| {
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
                && udp_connect_ok(addr)
        });
        Opentracker { proc, dir, port }
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub fn udp_url(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Scrape over HTTP; None if the tracker does not know the hash or the request failed.
    pub fn scrape(&self, info_hash: &[u8; 20]) -> Option<Scrape> {
        let path = format!("/scrape?info_hash={}", url_encode(info_hash));
        let body = http_get(self.addr(), &path).ok()?;
        Some(Scrape {
            complete: bencode_int_after(&body, b"8:completei")?,
            incomplete: bencode_int_after(&body, b"10:incompletei")?,
        })
    }

    /// Waits until the tracker lists at least `n` seeders for the torrent, i.e. they have
    /// announced and ttui will learn about them from its first announce.
    pub fn wait_seeders(&mut self, info_hash: &[u8; 20], n: u64) {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < WAIT {
            last = self.scrape(info_hash);
            if last.is_some_and(|s| s.complete >= n) {
                return;
            }
            sleep(Duration::from_millis(200));
        }
        panic!(
            "timed out waiting for {n} seeder(s) of {} on the tracker; last scrape {last:?}\n{}",
            hex(info_hash),
            self.proc.report()
        );
    }
}

/// A BEP 15 connect request answered means the UDP side is up.
fn udp_connect_ok(addr: SocketAddr) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    if sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .is_err()
    {
        return false;
    }
    let mut req = Vec::with_capacity(16);
    req.extend_from_slice(&0x41727101980u64.to_be_bytes());
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    if sock.send_to(&req, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => {
            n >= 16 && buf[..4] == [0, 0, 0, 0] && buf[4..8] == 0x1234_5678u32.to_be_bytes()
        }
        Err(_) => false,
    }
}

/// Minimal HTTP/1.0 GET; returns the body of a 200 response.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<Vec<u8>, String> {
    http_request(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    )
}

/// Minimal HTTP/1.0 POST of a JSON body; returns the body of a 200 response.
pub fn http_post(addr: SocketAddr, path: &str, body: &str) -> Result<Vec<u8>, String> {
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    http_request(addr, &(head + body))
}

fn http_request(addr: SocketAddr, request: &str) -> Result<Vec<u8>, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let split = find(&resp, b"\r\n\r\n").ok_or("no header end")?;
    let head = String::from_utf8_lossy(&resp[..split]);
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("unexpected response: {head}"));
    }
    Ok(resp[split + 4..].to_vec())
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bencode_int_after(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(body, key)? + key.len();
    let end = at + body.get(at..)?.iter().position(|&b| b == b'e')?;
    std::str::from_utf8(body.get(at..end)?).ok()?.parse().ok()
}

pub fn url_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02x}")).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

const MIB: u64 = 1 << 20;

/// The multi-file layout: > 64 MiB, nested folders, no size a multiple of a piece, one
/// 7-byte file in the middle of the piece stream (so pieces straddle file boundaries).
pub const MULTI_FILE_LAYOUT: &[(&str, u64)] = &[
    ("alpha/one.bin", 21 * MIB + 12_345),
    ("alpha/tiny.txt", 7),
    ("alpha/beta/two.bin", 17 * MIB + 3),
    ("alpha/beta/gamma/three.bin", MIB - 1),
    ("delta/four.bin", 19 * MIB + 777),
    ("readme.txt", 4_097),
    ("zeta/five.bin", 7 * MIB + 131_071),
];

pub fn multi_file_len() -> u64 {
    MULTI_FILE_LAYOUT.iter().map(|(_, l)| l).sum()
}

/// SplitMix64: tiny, fast, and the same bytes on every machine and Rust version.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn write_prng_file(path: &Path, len: u64, seed: u64) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    let mut f = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rng = Prng(seed);
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n])
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        left -= n as u64;
    }
}

/// Writes `parent/name/...` following MULTI_FILE_LAYOUT; returns the root folder.
pub fn make_multi_file_payload(parent: &Path, name: &str, seed: u64) -> PathBuf {
    let root = parent.join(name);
    for (i, (rel, len)) in MULTI_FILE_LAYOUT.iter().enumerate() {
        write_prng_file(&root.join(rel), *len, seed ^ ((i as u64 + 1) << 32));
    }
    root
}

/// Writes one file `parent/name` of `len` deterministic bytes.
pub fn make_single_file_payload(parent: &Path, name: &str, len: u64, seed: u64) -> PathBuf {
    let path = parent.join(name);
    write_prng_file(&path, len, seed);
    path
}

/// Panics unless `actual` holds exactly the same files (names, sizes, bytes) as
/// `expected`; either both are files or both are directory trees.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let want = list_tree(expected);
    let got = list_tree(actual);
    let want_names: Vec<_> = want.keys().collect();
    let got_names: Vec<_> = got.keys().collect();
    assert_eq!(
        want_names,
        got_names,
        "file lists differ between {} and {}",
        expected.display(),
        actual.display()
    );
    for (rel, want_len) in &want {
        let got_len = got[rel];
        let a = if rel.as_os_str().is_empty() {
            expected.to_path_buf()
        } else {
            expected.join(rel)
        };
        let b = if rel.as_os_str().is_empty() {
            actual.to_path_buf()
        } else {
            actual.join(rel)
        };
        assert_eq!(
            *want_len,
            got_len,
            "size of {} differs from {}",
            b.display(),
            a.display()
        );
        if let Some(off) = first_difference(&a, &b) {
            panic!("{} differs from {} at byte {off}", b.display(), a.display());
        }
    }
}

/// Relative path → length of every regular file under `root` (or of `root` itself).
fn list_tree(root: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let meta = fs::metadata(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    if meta.is_file() {
        out.insert(PathBuf::new(), meta.len());
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let path = entry.path();
            let ft = entry
                .file_type()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if ft.is_dir() {
                stack.push(path);
            } else {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                out.insert(rel, len);
            }
        }
    }
    out
}

fn first_difference(a: &Path, b: &Path) -> Option<u64> {
    let mut fa = BufReader::with_capacity(
        MIB as usize,
        File::open(a).unwrap_or_else(|e| panic!("{}: {e}", a.display())),
    );
    let mut fb = BufReader::with_capacity(
        MIB as usize,
        File::open(b).unwrap_or_else(|e| panic!("{}: {e}", b.display())),
    );
    let mut off = 0u64;
    loop {
        let ba = fa
            .fill_buf()
            .unwrap_or_else(|e| panic!("{}: {e}", a.display()));
        let bb = fb
            .fill_buf()
            .unwrap_or_else(|e| panic!("{}: {e}", b.display()));
        if ba.is_empty() && bb.is_empty() {
            return None;
        }
        let n = ba.len().min(bb.len());
        if n == 0 {
            return Some(off);
        }
        if let Some(i) = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y) {
            return Some(off + i as u64);
        }
        fa.consume(n);
        fb.consume(n);
        off += n as u64;
    }
}

// ---------------------------------------------------------------------------------------
// Torrents
// ---------------------------------------------------------------------------------------

/// A .torrent file on disk and what the tests need to know about it.
#[derive(Debug, Clone)]
pub struct Torrent {
    pub path: PathBuf,
    pub info_hash: [u8; 20],
    pub name: String,
}

/// Announce URL of torrents made before their tracker exists: nothing listens on port 1.
pub const DEAD_TRACKER: &str = "http://127.0.0.1:1/announce";

impl Torrent {
    pub fn load(path: &Path) -> Torrent {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let entries =
            top_level_entries(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let info = entries
            .iter()
            .find(|(k, _)| k == b"info")
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{}: no info dict", path.display()));
        let info_hash: [u8; 20] = Sha1::digest(info).into();
        let name = info_name(info).unwrap_or_else(|| panic!("{}: no name in info", path.display()));
        Torrent {
            path: path.to_path_buf(),
            info_hash,
            name,
        }
    }

    pub fn hash_hex(&self) -> String {
        hex(&self.info_hash)
    }

    /// Whether the only tracker it names is DEAD_TRACKER (as mktorrent made it): a client's
    /// announce to it can only fail, so nobody should wait for one.
    pub fn only_dead_tracker(&self) -> bool {
        let bytes = fs::read(&self.path).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
        let entries =
            top_level_entries(&bytes).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
        let value = |key: &[u8]| entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        value(b"announce") == Some(bstr(DEAD_TRACKER.as_bytes()).as_slice())
            && value(b"announce-list").is_none()
    }

    /// A copy at `out` with the same info dict (so the same info hash) and new trackers:
    /// `announce` (omitted when None) and `announce-list` tiers (omitted when empty).
    pub fn with_trackers(
        &self,
        out: &Path,
        announce: Option<&str>,
        tiers: &[Vec<String>],
    ) -> Torrent {
        let bytes = fs::read(&self.path).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
        let entries =
            top_level_entries(&bytes).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
        let mut map: BTreeMap<Vec<u8>, Vec<u8>> = entries
            .into_iter()
            .filter(|(k, _)| k != b"announce" && k != b"announce-list")
            .map(|(k, v)| (k, v.to_vec()))
            .collect();
        if let Some(url) = announce {
            map.insert(b"announce".to_vec(), bstr(url.as_bytes()));
        }
        if !tiers.is_empty() {
            let mut l = b"l".to_vec();
            for tier in tiers {
                l.push(b'l');
                for url in tier {
                    l.extend(bstr(url.as_bytes()));
                }
                l.push(b'e');
            }
            l.push(b'e');
            map.insert(b"announce-list".to_vec(), l);
        }
        let mut enc = b"d".to_vec();
        for (k, v) in map {
            enc.extend(bstr(&k));
            enc.extend(v);
        }
        enc.push(b'e');
        fs::write(out, &enc).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
        let t = Torrent::load(out);
        assert_eq!(
            t.info_hash, self.info_hash,
            "rewriting trackers changed the info hash"
        );
        t
    }
}

/// Runs mktorrent on `payload` (piece length 2^piece_log2) and writes `out`. The torrent
/// announces to DEAD_TRACKER (mktorrent insists on one); use `with_trackers` for real ones.
pub fn mktorrent(payload: &Path, piece_log2: u32, out: &Path) -> Torrent {
    let _ = fs::remove_file(out);
    let res = Command::new("mktorrent")
        .args([
            "-a",
            DEAD_TRACKER,
            "-l",
            &piece_log2.to_string(),
            "-t",
            "2",
            "-o",
        ])
        .arg(out)
        .arg(payload)
        .output();
    check_status("mktorrent", res);
    Torrent::load(out)
}

fn bstr(s: &[u8]) -> Vec<u8> {
    let mut v = format!("{}:", s.len()).into_bytes();
    v.extend_from_slice(s);
    v
}

/// End (exclusive) of the bencoded value starting at `i`.
fn bvalue_end(b: &[u8], i: usize) -> Result<usize, String> {
    match b.get(i) {
        Some(b'i') => {
            let e = b
                .get(i..)
                .and_then(|s| s.iter().position(|&c| c == b'e'))
                .ok_or("unterminated int")?;
            Ok(i + e + 1)
        }
        Some(b'l') | Some(b'd') => {
            let mut j = i + 1;
            while b.get(j) != Some(&b'e') {
                if j >= b.len() {
                    return Err("unterminated list/dict".into());
                }
                j = bvalue_end(b, j)?;
            }
            Ok(j + 1)
        }
        Some(c) if c.is_ascii_digit() => {
            let colon = b
                .get(i..)
                .and_then(|s| s.iter().position(|&c| c == b':'))
                .ok_or("bad string")?
                + i;
            let len: usize = std::str::from_utf8(&b[i..colon])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("bad string length")?;
            let end = colon + 1 + len;
            if end > b.len() {
                return Err("string past end".into());
            }
            Ok(end)
        }
        _ => Err(format!("bad bencode at byte {i}")),
    }
}

/// A dict entry: key and the raw bytes of its value.
type Entry<'a> = (Vec<u8>, &'a [u8]);

/// The entries of a bencoded dict spanning all of `b`.
fn top_level_entries(b: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    if b.first() != Some(&b'd') {
        return Err("not a dict".into());
    }
    let mut out = Vec::new();
    let mut i = 1;
    while b.get(i) != Some(&b'e') {
        let kend = bvalue_end(b, i)?;
        let colon = i + b[i..kend]
            .iter()
            .position(|&c| c == b':')
            .ok_or("bad key")?;
        let key = b[colon + 1..kend].to_vec();
        let vend = bvalue_end(b, kend)?;
        out.push((key, &b[kend..vend]));
        i = vend;
    }
    Ok(out)
}

fn info_name(info: &[u8]) -> Option<String> {
    let entries = top_level_entries(info).ok()?;
    let (_, v) = entries.into_iter().find(|(k, _)| k == b"name")?;
    let colon = v.iter().position(|&c| c == b':')?;
    String::from_utf8(v.get(colon + 1..)?.to_vec()).ok()
}

// ---------------------------------------------------------------------------------------
// Third-party seeders
// ---------------------------------------------------------------------------------------

/// transmission-daemon 3.00 seeding one torrent from `data_dir` on its own 127.0.0.x.
/// It never dials loopback peers, so ttui must dial it (it announces ip:port to the
/// tracker). It waits ~10 s (its rechoke timer) before sending the first byte.
pub struct TransmissionSeeder {
    proc: Proc,
    _dir: TempDir,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub rpc_port: u16,
}

/// A transmission-daemon with `settings` in `dir`, its log shown on failure; returns once its
/// RPC answers, with the RPC address for transmission-remote.
pub fn start_transmission(
    label: &str,
    dir: &Path,
    settings: &ttui::internals::demo::TransmissionSettings,
) -> (Proc, String) {
    let config = dir.join("config");
    ttui::internals::demo::write_transmission_settings(&config, settings)
        .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    let log = dir.join("transmission.log");
    let mut cmd = Command::new("transmission-daemon");
    cmd.arg("-f").arg("-g").arg(&config).arg("-e").arg(&log);
    let mut proc = Proc::spawn(label, &mut cmd, dir);
    proc.logs.push(log);
    let rpc = format!("127.0.0.1:{}", settings.rpc_port);
    proc.wait_until("transmission RPC", WAIT, |_| {
        Command::new("transmission-remote")
            .args([&rpc, "-l"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    (proc, rpc)
}

impl TransmissionSeeder {
    pub fn start(torrent: &Torrent, data_dir: &Path) -> TransmissionSeeder {
        Self::start_with(torrent, data_dir, 1)
    }

    /// `start` with Transmission's `encryption` setting: 0 prefers plain, 1 prefers encrypted
    /// (its default), 2 requires encryption.
    pub fn start_with(torrent: &Torrent, data_dir: &Path, encryption: u8) -> TransmissionSeeder {
        let dir = tempdir("ttui-transmission-");
        let ip = loopback_ip();
        let port = free_port();
        let rpc_port = free_port();
        let settings = ttui::internals::demo::TransmissionSettings {
            ip,
            peer_port: port,
            rpc_port,
            download_dir: data_dir,
            upload_limit: None,
            encryption,
            message_level: 2,
        };
        let (mut proc, rpc) = start_transmission("transmission-daemon", dir.path(), &settings);
        let added = Command::new("transmission-remote")
            .arg(&rpc)
            .arg("-a")
            .arg(&torrent.path)
            .output();
        check_status("transmission-remote -a", added);
        let hash = torrent.hash_hex();
        proc.wait_until("transmission to verify the data and seed", WAIT, |_| {
            let Ok(out) = Command::new("transmission-remote")
                .args([&rpc, "-t", &hash, "-i"])
                .output()
            else {
                return false;
            };
            let info = String::from_utf8_lossy(&out.stdout);
            info.contains("Percent Done: 100%")
                && (info.contains("State: Seeding") || info.contains("State: Idle"))
        });
        TransmissionSeeder {
            proc,
            _dir: dir,
            ip,
            port,
            rpc_port,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Bytes uploaded for `torrent`, as its RPC reports them (`Uploaded: 12.3 MB`,
    /// decimal units, rounded to what it prints).
    pub fn uploaded(&self, torrent: &Torrent) -> u64 {
        let rpc = format!("127.0.0.1:{}", self.rpc_port);
        let out = Command::new("transmission-remote")
            .args([&rpc, "-t", &torrent.hash_hex(), "-i"])
            .output();
        let info = check_status("transmission-remote -i", out);
        let line = info
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix("Uploaded:"))
            .unwrap_or_else(|| panic!("no Uploaded: line in\n{info}"))
            .trim();
        if line == "None" {
            0
        } else {
            parse_size(line).unwrap_or_else(|| panic!("cannot parse Uploaded: {line:?}"))
        }
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// Options for assets/seeders/lt_seed.py.
#[derive(Debug, Clone, Default)]
pub struct LtOptions {
    /// Trust the data without hashing it (libtorrent's seed_mode); else it rechecks.
    pub seed_mode: bool,
    /// Bytes per second, 0 = unlimited (applies to loopback peers too).
    pub upload_limit: u64,
    /// Download bytes per second, 0 = unlimited (a leecher that takes a while).
    pub download_limit: u64,
    /// Download instead of seeding.
    pub leech: bool,
    /// Peers to dial directly.
    pub peers: Vec<SocketAddr>,
    pub user_agent: Option<String>,
    /// `forced` (RC4 only, both ways) or `disabled` (plain only); None: libtorrent's default.
    pub encryption: Option<&'static str>,
    /// `utp` (TCP off both ways) or `both`; None: TCP only.
    pub transport: Option<&'static str>,
    /// Print `uploaded PIECE BLOCK` for every block sent (read back by `uploaded_pieces`).
    pub log_uploads: bool,
    /// Print what it knows of each peer once a second (read back by `peer_views`).
    pub peer_lines: bool,
    /// Keep libtorrent's `peer.*` and `ses.*` counters in a file (read back by `counter`).
    pub counters: bool,
}

/// What libtorrent knew of one peer at one of its once-a-second `peer` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtPeerView {
    pub addr: SocketAddr,
    /// BEP 21: libtorrent holds the peer as upload-only.
    pub upload_only: bool,
    pub pieces: u64,
    /// Pieces it does not hold the peer to have (the first 50).
    pub lacks: Vec<u64>,
}

/// python3-libtorrent 2.0 running assets/seeders/lt_seed.py on its own 127.0.0.x.
pub struct LibtorrentPeer {
    proc: Proc,
    _dir: TempDir,
    pub ip: Ipv4Addr,
    pub port: u16,
}

pub type LibtorrentSeeder = LibtorrentPeer;

pub fn seeders_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/seeders")
}

impl LibtorrentPeer {
    /// Seeds `torrent` from `data_dir`; returns once it seeds and (if the torrent has a
    /// tracker) its first announce was answered.
    pub fn start(torrent: &Torrent, data_dir: &Path, opts: LtOptions) -> LibtorrentPeer {
        let leech = opts.leech;
        let mut p = Self::spawn(torrent, data_dir, opts);
        if !leech {
            p.proc.wait_for_stdout("libtorrent to seed", "ready", WAIT);
        }
        p
    }

    /// Starts a leecher saving into `save_dir`; wait with `wait_done`.
    pub fn start_leecher(
        torrent: &Torrent,
        save_dir: &Path,
        mut opts: LtOptions,
    ) -> LibtorrentPeer {
        opts.leech = true;
        let tcp = opts.transport != Some("utp");
        let p = Self::spawn(torrent, save_dir, opts);
        if tcp {
            p.wait_accepting();
        }
        p
    }

    /// Until its TCP port accepts: a client told to dial a leecher that is still starting
    /// would be refused and wait out its retry back-off (a seeding ttui dials it only then).
    fn wait_accepting(&self) {
        let addr = SocketAddr::from((self.ip, self.port));
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "libtorrent leecher never listened on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn(torrent: &Torrent, data_dir: &Path, opts: LtOptions) -> LibtorrentPeer {
        let dir = tempdir("ttui-libtorrent-");
        let ip = loopback_ip();
        let port = free_port();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(seeders_dir().join("lt_seed.py"))
            .arg("--torrent")
            .arg(&torrent.path)
            .arg("--save")
            .arg(data_dir)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args(["--upload-limit", &opts.upload_limit.to_string()])
            .args(["--download-limit", &opts.download_limit.to_string()]);
        if opts.seed_mode {
            cmd.arg("--seed-mode");
        }
        if torrent.only_dead_tracker() {
            // Its "ready" would otherwise wait the whole --announce-wait (20 s) for an
            // announce that can only fail.
            cmd.args(["--announce-wait", "0"]);
        }
        if opts.leech {
            cmd.arg("--leech");
        }
        for p in &opts.peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        if let Some(ua) = &opts.user_agent {
            cmd.arg("--user-agent").arg(ua);
        }
        if let Some(enc) = opts.encryption {
            cmd.arg("--encryption").arg(enc);
        }
        if let Some(t) = opts.transport {
            cmd.arg("--transport").arg(t);
        }
        if opts.log_uploads {
            cmd.arg("--log-uploads");
        }
        if opts.peer_lines {
            cmd.arg("--peer-lines");
        }
        if opts.counters {
            cmd.arg("--counters").arg(dir.path().join("counters"));
        }
        let proc = Proc::spawn("lt_seed", &mut cmd, dir.path());
        LibtorrentPeer {
            proc,
            _dir: dir,
            ip,
            port,
        }
    }

    /// libtorrent's session counter `name` (`ses.num_incoming_cancel`) as last written, a
    /// quarter of a second old at most; `None` unless started with `counters`.
    pub fn counter(&self, name: &str) -> Option<u64> {
        let text = fs::read_to_string(self._dir.path().join("counters")).ok()?;
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// `up=` of each once-a-second progress line so far.
    fn upload_counters(&self) -> Vec<u64> {
        self.proc
            .stdout_text()
            .lines()
            .filter(|l| l.starts_with("progress "))
            .map(|l| {
                l.split_whitespace()
                    .find_map(|t| t.strip_prefix("up=")?.parse().ok())
                    .unwrap_or_else(|| panic!("no up= counter in libtorrent's line {l:?}"))
            })
            .collect()
    }

    /// `(down, up)` payload counters of each once-a-second progress line so far.
    pub fn progress(&self) -> Vec<(u64, u64)> {
        let num = |l: &str, key: &str| -> u64 {
            l.split_whitespace()
                .find_map(|t| t.strip_prefix(key)?.parse().ok())
                .unwrap_or_else(|| panic!("no {key} counter in libtorrent's line {l:?}"))
        };
        self.proc
            .stdout_text()
            .lines()
            .filter(|l| l.starts_with("progress "))
            .map(|l| (num(l, "down="), num(l, "up=")))
            .collect()
    }

    /// Payload bytes uploaded so far, from its latest progress line (up to a second old).
    /// Panics when there is none: a missing counter is not zero.
    pub fn uploaded(&self) -> u64 {
        self.upload_counters()
            .last()
            .copied()
            .unwrap_or_else(|| panic!("libtorrent has printed no progress line yet"))
    }

    /// Payload bytes uploaded so far, from a progress line printed after this call.
    pub fn uploaded_fresh(&mut self) -> u64 {
        let before = self.upload_counters().len();
        self.proc
            .wait_until("a new libtorrent progress line", WAIT, |p| {
                let text = p.stdout_text();
                text.lines().filter(|l| l.starts_with("progress ")).count() > before
            });
        self.uploaded()
    }

    /// Everything it printed on stdout so far (`ready`, `done`, progress lines, …).
    pub fn stdout_text(&self) -> String {
        self.proc.stdout_text()
    }

    /// Its alerts so far (`alert: …` on stderr: peers connecting and leaving, with their
    /// addresses).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.proc.stderr).unwrap_or_default()).into_owned()
    }

    /// Every `peer` line so far, oldest first (started with `peer_lines`).
    pub fn peer_views(&self) -> Vec<LtPeerView> {
        let text = self.proc.stdout_text();
        let mut out = Vec::new();
        for l in text.lines() {
            let Some(rest) = l.strip_prefix("peer ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let addr = words.next().and_then(|a| a.parse().ok());
            let mut view = LtPeerView {
                addr: addr.unwrap_or_else(|| panic!("no address in libtorrent's line {l:?}")),
                upload_only: false,
                pieces: 0,
                lacks: Vec::new(),
            };
            for w in words {
                if let Some(v) = w.strip_prefix("upload_only=") {
                    view.upload_only = v == "1";
                } else if let Some(v) = w.strip_prefix("pieces=") {
                    view.pieces = v.parse().unwrap_or(0);
                } else if let Some(v) = w.strip_prefix("lacks=") {
                    view.lacks = v.split(',').filter_map(|i| i.parse().ok()).collect();
                }
            }
            out.push(view);
        }
        out
    }

    /// Pieces in the order a block of each was first sent (started with `log_uploads`).
    pub fn uploaded_pieces(&self) -> Vec<u64> {
        self.pieces_in_lines("uploaded ")
    }

    /// Pieces in the order a block of each was first asked for (started with
    /// `log_uploads`): the order the peer's picker chose, which the order of sending can
    /// blur (libtorrent's disk reads finish out of order).
    pub fn requested_pieces(&self) -> Vec<u64> {
        self.pieces_in_lines("requested ")
    }

    fn pieces_in_lines(&self, prefix: &str) -> Vec<u64> {
        let mut seen = Vec::new();
        for l in self.proc.stdout_text().lines() {
            let Some(rest) = l.strip_prefix(prefix) else {
                continue;
            };
            let piece: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no piece in libtorrent's line {l:?}"));
            if !seen.contains(&piece) {
                seen.push(piece);
            }
        }
        seen
    }

    pub fn wait_done(&mut self, timeout: Duration) {
        self.proc
            .wait_for_stdout("libtorrent to finish downloading", "done", timeout);
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// aria2c 1.36 seeding from `data_dir` after verifying it (-V). HTTP trackers only: with
/// DHT off it cannot use UDP trackers.
pub struct Aria2Seeder {
    proc: Proc,
    _dir: TempDir,
    pub ip: Ipv4Addr,
    pub port: u16,
    rpc_port: u16,
}

impl Aria2Seeder {
    pub fn start(torrent: &Torrent, data_dir: &Path) -> Aria2Seeder {
        Self::start_limited(torrent, data_dir, 0)
    }

    /// Like `start`, with an upload cap in bytes per second (0 = none).
    pub fn start_limited(torrent: &Torrent, data_dir: &Path, upload_limit: u64) -> Aria2Seeder {
        let dir = tempdir("ttui-aria2-");
        let ip = loopback_ip();
        let port = free_port();
        let rpc_port = free_port();
        let log = dir.path().join("aria2.log");
        let mut cmd = Command::new("aria2c");
        cmd.args([
            // Ignore any ~/.aria2/aria2.conf.
            "--no-conf=true",
            "--seed-ratio=0.0",
            "--bt-seed-unverified=false",
            "-V",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--disable-ipv6=true",
            "--file-allocation=none",
            "--summary-interval=1",
            "--enable-color=false",
            "--console-log-level=notice",
            "--log-level=info",
            // A safety net: an orphan left behind by a killed test ends by itself.
            "--stop=900",
        ])
        .arg(format!("--interface={ip}"))
        .arg(format!("--bt-external-ip={ip}"))
        .arg(format!("--listen-port={port}"))
        .arg(format!("--max-upload-limit={upload_limit}"))
        // JSON-RPC on 127.0.0.1 only, to read its upload counter.
        .args(["--enable-rpc=true", "--rpc-listen-all=false"])
        .arg(format!("--rpc-listen-port={rpc_port}"))
        .arg(format!("--log={}", log.display()))
        .arg("-d")
        .arg(data_dir)
        .arg(&torrent.path);
        let mut proc = Proc::spawn("aria2c", &mut cmd, dir.path());
        proc.logs.push(log);
        // Its console readout switches to "SEED(" once verification passed.
        proc.wait_for_stdout("aria2 to verify the data and seed", "SEED(", WAIT);
        Aria2Seeder {
            proc,
            _dir: dir,
            ip,
            port,
            rpc_port,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    /// Bytes uploaded (aria2.tellActive's uploadLength of its one download).
    pub fn uploaded(&self) -> u64 {
        let body =
            r#"{"jsonrpc":"2.0","id":"t","method":"aria2.tellActive","params":[["uploadLength"]]}"#;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.rpc_port));
        let resp = http_post(addr, "/jsonrpc", body).unwrap_or_else(|e| panic!("aria2 RPC: {e}"));
        let text = String::from_utf8_lossy(&resp);
        let key = "\"uploadLength\":\"";
        let at = text
            .find(key)
            .unwrap_or_else(|| panic!("no uploadLength in {text}"))
            + key.len();
        text[at..]
            .split('"')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad uploadLength in {text}"))
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// aria2c downloading `torrent` into `out_dir` (used to validate seeders independently of
/// ttui). Returns once it exits; panics on failure or timeout.
pub fn aria2_download(torrent: &Torrent, out_dir: &Path, timeout: Duration) {
    aria2_download_with(torrent, out_dir, &[], timeout)
}

/// `aria2_download` with more aria2c flags (e.g. `--bt-require-crypto=true`).
pub fn aria2_download_with(torrent: &Torrent, out_dir: &Path, extra: &[&str], timeout: Duration) {
    let dir = tempdir("ttui-aria2-dl-");
    let ip = loopback_ip();
    let port = free_port();
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf=true",
        "--seed-time=0",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--disable-ipv6=true",
        "--file-allocation=none",
        "--summary-interval=0",
        "--console-log-level=warn",
    ])
    .arg(format!("--interface={ip}"))
    .arg(format!("--bt-external-ip={ip}"))
    .arg(format!("--listen-port={port}"))
    .args(extra)
    .arg("-d")
    .arg(out_dir)
    .arg(&torrent.path);
    let mut proc = Proc::spawn("aria2c-download", &mut cmd, dir.path());
    let start = Instant::now();
    loop {
        match proc.child.try_wait() {
            Ok(Some(st)) if st.success() => return,
            Ok(Some(_)) => panic!("aria2c download failed\n{}", proc.report()),
            _ if start.elapsed() > timeout => {
                panic!("aria2c download timed out\n{}", proc.report())
            }
            _ => sleep(POLL),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ttui
// ---------------------------------------------------------------------------------------

/// How a ttui run ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The last lines of ttui's log file (its temp dir is gone once it has finished).
    pub log_tail: String,
}

impl Finished {
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "{what}: ttui exited with {} after {:?}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}\n{}",
            self.status,
            self.elapsed,
            last_lines(&self.stdout, 30),
            last_lines(&self.stderr, 30),
            self.log_tail
        );
        self
    }
}

pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The ttui binary of this package, run with stdout/stderr captured to files.
pub struct Ttui {
    proc: Proc,
    _dir: TempDir,
    started: Instant,
}

impl Ttui {
    pub fn spawn<I, S>(args: I) -> Ttui
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ttui::spawn_wrapped(&[], args)
    }

    /// As `spawn`, with the binary run through `wrapper` (say `ip netns exec NS`, to run it
    /// in a test network's host: tests/netlab).
    pub fn spawn_wrapped<I, S>(wrapper: &[&str], args: I) -> Ttui
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let dir = tempdir("ttui-run-");
        let bin = env!("CARGO_BIN_EXE_ttui");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // XDG_STATE_HOME keeps ttui's log file inside the run's temp dir (shown on failure).
        cmd.args(args)
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("TTUI_NO_PUBLIC_ROUTERS", "1")
            .current_dir(dir.path());
        let mut proc = Proc::spawn("ttui", &mut cmd, dir.path());
        proc.logs.push(dir.path().join("ttui").join("ttui.log"));
        Ttui {
            proc,
            _dir: dir,
            started: Instant::now(),
        }
    }

    /// Spawns and waits; see `wait`.
    pub fn run<I, S>(args: I, timeout: Duration) -> Finished
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ttui::spawn(args).wait(timeout)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn stdout_now(&self) -> String {
        self.proc.stdout_text()
    }

    /// Waits for exit; on timeout kills it (by pid) and panics with the log tails.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        loop {
            match self.proc.child.try_wait() {
                Ok(Some(status)) => {
                    let read = |p: &Path| {
                        String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned()
                    };
                    return Finished {
                        status,
                        stdout: read(&self.proc.stdout),
                        stderr: read(&self.proc.stderr),
                        elapsed: self.started.elapsed(),
                        log_tail: self.proc.logs.iter().map(|p| tail(p, 40)).collect(),
                    };
                }
                Ok(None) if self.started.elapsed() > timeout => {
                    self.proc.kill();
                    panic!(
                        "ttui did not finish within {timeout:?}; killed it\n{}",
                        self.proc.report()
                    );
                }
                Ok(None) => sleep(POLL),
                Err(e) => panic!("waiting for ttui: {e}"),
            }
        }
    }

    /// Polls stdout until `pred` holds; panics on timeout or if ttui exits first.
    pub fn wait_for_stdout(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) {
        self.proc
            .wait_until(what, timeout, |p| pred(&p.stdout_text()));
    }

    pub fn has_exited(&mut self) -> bool {
        matches!(self.proc.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL, by pid.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// SIGTERM by pid, then waits (bounded) for the graceful exit, which saves its state
    /// (the DHT's routing table among it); panics when it does not come within 15 s.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(15);
        while !self.has_exited() {
            assert!(
                Instant::now() < end,
                "ttui ignored SIGTERM:\n{}",
                self.report()
            );
            sleep(Duration::from_millis(50));
        }
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// The last percentage (`12.5%` or `12%`) printed on stdout, if any.
pub fn last_percent(stdout: &str) -> Option<f64> {
    stdout.lines().rev().find_map(|line| {
        line.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | ':'))
            .filter_map(|tok| tok.strip_suffix('%'))
            .find_map(|num| num.parse::<f64>().ok())
    })
}

/// Parses a humansize-style size such as `0 B`, `31.50 MiB`, `1 KB`, `2.1 GiB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let num: f64 = s[..split].trim().parse().ok()?;
    let unit = s[split..].trim();
    let mult = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        "GB" => 1e9,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((num * mult).round() as u64)
}

/// The size after the last `downloaded ` in the output (the lead's final progress line).
pub fn downloaded_bytes(stdout: &str) -> Option<u64> {
    let at = stdout.rfind("downloaded ")? + "downloaded ".len();
    let rest = &stdout[at..];
    // "<number> <unit>" — take two whitespace-separated tokens.
    let mut toks = rest.split_whitespace();
    let num = toks.next()?;
    let unit = toks
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_alphabetic());
    parse_size(&format!("{num} {unit}"))
}

// ---------------------------------------------------------------------------------------
// A ready-made fixture: the 64 MiB multi-file payload and its torrent
// ---------------------------------------------------------------------------------------

/// The ≥64 MiB multi-file payload in `dir/data/<name>` and a tracker-less torrent of it.
pub struct Fixture {
    pub dir: TempDir,
    /// Parent of the payload root: the download dir to hand to seeders.
    pub data_dir: PathBuf,
    /// The payload root folder (what a client creates under its output dir).
    pub payload: PathBuf,
    /// Torrent announcing to DEAD_TRACKER.
    pub torrent: Torrent,
}

impl Fixture {
    /// `piece_log2` 18 = 256 KiB pieces (257 pieces for this payload).
    pub fn multi_file(name: &str, seed: u64, piece_log2: u32) -> Fixture {
        let dir = tempdir("ttui-fixture-");
        let data_dir = dir.path().join("data");
        let payload = make_multi_file_payload(&data_dir, name, seed);
        let torrent = mktorrent(
            &payload,
            piece_log2,
            &dir.path().join(format!("{name}.torrent")),
        );
        Fixture {
            dir,
            data_dir,
            payload,
            torrent,
        }
    }

    pub fn single_file(name: &str, len: u64, seed: u64, piece_log2: u32) -> Fixture {
        let dir = tempdir("ttui-fixture-");
        let data_dir = dir.path().join("data");
        let payload = make_single_file_payload(&data_dir, name, len, seed);
        let torrent = mktorrent(
            &payload,
            piece_log2,
            &dir.path().join(format!("{name}.torrent")),
        );
        Fixture {
            dir,
            data_dir,
            payload,
            torrent,
        }
    }

    /// A copy of the torrent in the fixture dir with the given trackers.
    pub fn torrent_with(
        &self,
        file_name: &str,
        announce: Option<&str>,
        tiers: &[Vec<String>],
    ) -> Torrent {
        self.torrent
            .with_trackers(&self.dir.path().join(file_name), announce, tiers)
    }

    /// The same fixture with a torrent that names no tracker (same info hash). For tests
    /// that hand every client its peers: libtorrent seeding the DEAD_TRACKER torrent holds
    /// its "ready" for lt_seed.py's whole --announce-wait (20 s), as that announce only fails.
    pub fn untracked(mut self) -> Fixture {
        let file = format!("{}-untracked.torrent", self.torrent.name);
        self.torrent = self.torrent_with(&file, None, &[]);
        self
    }

    /// A fresh, empty output directory inside the fixture.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }
}

/// `ttui seed <torrent> -o <data> --headless --no-trackers --port <port> <extra…>`, returned
/// once it says it is seeding.
pub fn spawn_ttui_seeder(torrent: &Path, data: &Path, port: u16, extra: &[&str]) -> Ttui {
    let (torrent, data, port) = (
        torrent.display().to_string(),
        data.display().to_string(),
        port.to_string(),
    );
    let mut args = vec![
        "seed",
        &torrent,
        "-o",
        &data,
        "--headless",
        "--no-trackers",
        "--port",
        &port,
    ];
    args.extend_from_slice(extra);
    let mut seeder = Ttui::spawn(args);
    seeder.wait_for_stdout("ttui to seed", Duration::from_secs(60), |s| {
        s.contains("seeding")
    });
    seeder
}

/// Starts `cmd` (a python3-libtorrent driver, say) with stdin and stdout piped and stderr
/// inherited: its stdout's lines arrive on the receiver (a thread reads them until the
/// process closes it), so a test waits for a line with a bound (`recv_timeout`) and writes
/// commands to its stdin. Panics with `what` when it cannot start.
pub fn spawn_line_child(
    cmd: &mut Command,
    what: &str,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdin = child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdin"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdout"));
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, lines)
}

/// Runs a command to completion, failing the test after `limit`.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} still running after {limit:?}");
            }
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    }
    // Outputs here are small, so the pipes cannot have filled while we polled.
    child.wait_with_output().expect("collect output")
}

pub fn check_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
