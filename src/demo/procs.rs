//! Third-party programs the demo runs (opentracker, python3-libtorrent, aria2c,
//! transmission-daemon): each on its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off,
//! and each killed by pid when the demo ends, however it ends.
//!
//! Three layers make sure nothing outlives the demo:
//! 1. [`Procs`] kills and reaps every child in `Drop` (normal end, `q`, a signal, an error,
//!    a panic that unwinds).
//! 2. Every child is started with `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills it when ttui
//!    dies without running destructors (SIGKILL, `process::exit` from the panic hook).
//! 3. opentracker drops its privileges to `nobody` when started as root, and a credential change
//!    clears the parent-death signal; it therefore runs under a small `sh` watchdog that kills it
//!    as soon as its stdin (a pipe only ttui holds) reaches end-of-file.
//!
//! Children are put in their own process group so a Ctrl-C typed in the terminal reaches only
//! ttui, which then stops them in order.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::DemoError;

/// One started program.
struct Proc {
    name: String,
    child: Child,
    /// The watchdog's end-of-life pipe (opentracker only).
    stdin: Option<ChildStdin>,
}

/// Every child process of the demo; `Drop` kills (by pid) and reaps them all.
#[derive(Default)]
pub struct Procs {
    list: Vec<Proc>,
    /// Set when a signal asks the demo to stop; the waits below give up then.
    cancel: Arc<AtomicBool>,
}

impl Procs {
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    fn check_cancel(&self) -> Result<(), DemoError> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(DemoError::Interrupted);
        }
        Ok(())
    }

    /// Starts `cmd` with stdout and stderr going to `log`. Must be called from the thread that
    /// lives for the whole demo (the main thread): the parent-death signal fires when the
    /// *thread* that forked the child exits, not only the process.
    pub fn spawn(&mut self, name: &str, cmd: &mut Command, log: &Path) -> Result<u32, DemoError> {
        let out = File::create(log).map_err(|e| DemoError::io(log, e))?;
        let err = out.try_clone().map_err(|e| DemoError::io(log, e))?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        die_with_parent(cmd);
        let child = cmd
            .spawn()
            .map_err(|e| DemoError::Spawn(name.to_string(), e.to_string()))?;
        let pid = child.id();
        self.list.push(Proc {
            name: name.to_string(),
            child,
            stdin: None,
        });
        Ok(pid)
    }

    /// Which children have exited already, with their status (for error messages).
    pub fn exited(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &mut self.list {
            if let Ok(Some(status)) = p.child.try_wait() {
                out.push(format!("{} exited ({status})", p.name));
            }
        }
        out
    }

    /// opentracker behind its watchdog; returns once it accepts TCP on `port`.
    pub fn start_opentracker(
        &mut self,
        dir: &Path,
        port: u16,
        info_hash_hex: &str,
    ) -> Result<(), DemoError> {
        let state = dir.join("opentracker");
        std::fs::create_dir_all(&state).map_err(|e| DemoError::io(&state, e))?;
        let whitelist = state.join("whitelist.txt");
        std::fs::write(&whitelist, format!("{info_hash_hex}\n"))
            .map_err(|e| DemoError::io(&whitelist, e))?;
        let log = dir.join("opentracker.log");
        let out = File::create(&log).map_err(|e| DemoError::io(&log, e))?;
        let err = out.try_clone().map_err(|e| DemoError::io(&log, e))?;
        let port_s = port.to_string();
        let mut cmd = Command::new("sh");
        // `read` returns at end-of-file: when ttui closes the pipe or dies in any way.
        cmd.arg("-c")
            .arg(r#"opentracker "$@" </dev/null & t=$!; read _ ; kill "$t" 2>/dev/null; wait "$t""#)
            .arg("opentracker-watchdog")
            // Debian's build only tracks whitelisted hashes; it chroots to -d, so -w is relative.
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port_s,
                "-P",
                &port_s,
                "-u",
                "nobody",
                "-w",
                "whitelist.txt",
            ])
            .arg("-d")
            .arg(&state)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| DemoError::Spawn("opentracker".into(), e.to_string()))?;
        let stdin = child.stdin.take();
        self.list.push(Proc {
            name: "opentracker".into(),
            child,
            stdin,
        });
        self.wait_listening(
            "opentracker",
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(5),
        )
    }

    /// Polls until `addr` accepts a TCP connection, failing early when a child has exited.
    pub fn wait_listening(
        &mut self,
        name: &str,
        addr: SocketAddr,
        limit: Duration,
    ) -> Result<(), DemoError> {
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            self.check_cancel()?;
            if let Some(dead) = self.exited().into_iter().next() {
                return Err(DemoError::NotReady(name.to_string(), dead));
            }
            if start.elapsed() > limit {
                return Err(DemoError::NotReady(
                    name.to_string(),
                    format!("nothing listens on {addr}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in self.list.iter_mut().rev() {
            if let Some(pipe) = p.stdin.take() {
                // The watchdog kills its tracker on end-of-file; give it a moment to do so
                // before killing the watchdog itself.
                drop(pipe);
                let deadline = Instant::now() + Duration::from_secs(3);
                while Instant::now() < deadline && matches!(p.child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            // Child::kill is SIGKILL to this child's pid; an already reaped child is a no-op.
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Asks the kernel to SIGKILL the child when its parent thread dies.
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: `pre_exec` closures run in the forked child before exec, where only
    // async-signal-safe operations are allowed. This one only makes two system calls
    // (prctl(2), getppid(2)) that neither allocate nor lock, reads a captured `u32`, and builds
    // `io::Error`s from raw OS error codes, which does not allocate either. No memory is shared
    // with the parent's other threads.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal would ever come.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// A free TCP port on `ip` (bound and released; the program told to use it binds it moments
/// later, which is good enough on loopback).
pub fn free_port(ip: Ipv4Addr) -> Result<u16, DemoError> {
    let l = TcpListener::bind((ip, 0)).map_err(|e| DemoError::Net(format!("bind {ip}:0: {e}")))?;
    let port = l
        .local_addr()
        .map_err(|e| DemoError::Net(e.to_string()))?
        .port();
    Ok(port)
}

/// Whether `program` is on PATH.
pub fn have_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether python3 can import libtorrent (Debian's python3-libtorrent lives in
/// /usr/lib/python3/dist-packages, seen by /usr/bin/python3 only).
pub fn have_libtorrent() -> bool {
    Path::new("/usr/bin/python3").is_file()
        && Command::new("/usr/bin/python3")
            .args(["-c", "import libtorrent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The libtorrent seeder script, shipped inside the binary.
const LT_SEED_PY: &str = include_str!("../../assets/seeders/lt_seed.py");

/// A third-party seeder the demo started.
pub struct RealSeeder {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub rate: u64,
    /// Transmission's RPC address, to ask whether it seeds yet.
    pub rpc: Option<SocketAddr>,
}

/// python3-libtorrent seeding `data_dir` from `torrent`, throttled to `rate` bytes/s.
pub fn start_libtorrent(
    procs: &mut Procs,
    dir: &Path,
    torrent: &Path,
    data_dir: &Path,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let script = dir.join("lt_seed.py");
    std::fs::write(&script, LT_SEED_PY).map_err(|e| DemoError::io(&script, e))?;
    let port = free_port(ip)?;
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(&script)
        .arg("--torrent")
        .arg(torrent)
        .arg("--save")
        .arg(data_dir)
        .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
        .args(["--upload-limit", &rate.to_string(), "--seed-mode"])
        .args(["--max-seconds", "86400"]);
    procs.spawn("libtorrent", &mut cmd, &dir.join("libtorrent.log"))?;
    Ok(RealSeeder {
        name: "libtorrent",
        addr: SocketAddr::from((ip, port)),
        rate,
        rpc: None,
    })
}

/// aria2c seeding `data_dir` (trusting the data: it was just written) at `rate` bytes/s.
pub fn start_aria2(
    procs: &mut Procs,
    dir: &Path,
    torrent: &Path,
    data_dir: &Path,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let port = free_port(ip)?;
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf=true",
        "--seed-ratio=0.0",
        "--bt-seed-unverified=true",
        "--check-integrity=false",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--disable-ipv6=true",
        "--enable-rpc=false",
        "--file-allocation=none",
        "--allow-overwrite=false",
        "--auto-file-renaming=false",
        "--summary-interval=0",
        "--enable-color=false",
        "--console-log-level=warn",
    ])
    .arg(format!("--interface={ip}"))
    .arg(format!("--bt-external-ip={ip}"))
    .arg(format!("--listen-port={port}"))
    .arg(format!("--max-upload-limit={rate}"))
    .arg("-d")
    .arg(data_dir)
    .arg(torrent);
    procs.spawn("aria2c", &mut cmd, &dir.join("aria2c.log"))?;
    Ok(RealSeeder {
        name: "aria2",
        addr: SocketAddr::from((ip, port)),
        rate,
        rpc: None,
    })
}

/// transmission-daemon seeding `data_dir`: started with RPC on 127.0.0.1, the torrent added
/// with transmission-remote. It only accepts connections (it never dials loopback).
pub fn start_transmission(
    procs: &mut Procs,
    dir: &Path,
    torrent: &Path,
    data_dir: &Path,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let port = free_port(ip)?;
    let rpc_port = free_port(Ipv4Addr::LOCALHOST)?;
    let config = dir.join("transmission");
    std::fs::create_dir_all(&config).map_err(|e| DemoError::io(&config, e))?;
    // Transmission's speed unit is kB = 1000 bytes.
    let kb = (rate / 1000).max(1);
    let settings = format!(
        r#"{{
  "dht-enabled": false,
  "lpd-enabled": false,
  "pex-enabled": false,
  "port-forwarding-enabled": false,
  "utp-enabled": false,
  "bind-address-ipv4": "{ip}",
  "bind-address-ipv6": "::1",
  "peer-port": {port},
  "peer-port-random-on-start": false,
  "rpc-enabled": true,
  "rpc-bind-address": "127.0.0.1",
  "rpc-port": {rpc_port},
  "rpc-authentication-required": false,
  "rpc-whitelist-enabled": false,
  "rpc-host-whitelist-enabled": false,
  "download-dir": {dl},
  "incomplete-dir-enabled": false,
  "watch-dir-enabled": false,
  "start-added-torrents": true,
  "ratio-limit-enabled": false,
  "idle-seeding-limit-enabled": false,
  "speed-limit-up": {kb},
  "speed-limit-up-enabled": true,
  "alt-speed-enabled": false,
  "encryption": 0,
  "message-level": 1
}}"#,
        dl = json_string(data_dir)
    );
    let settings_path = config.join("settings.json");
    std::fs::write(&settings_path, settings).map_err(|e| DemoError::io(&settings_path, e))?;
    let mut cmd = Command::new("transmission-daemon");
    cmd.arg("-f").arg("-g").arg(&config);
    procs.spawn(
        "transmission-daemon",
        &mut cmd,
        &dir.join("transmission.log"),
    )?;
    let rpc = SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port));
    procs.wait_listening("transmission-daemon", rpc, Duration::from_secs(10))?;
    let mut add = Command::new("transmission-remote");
    add.arg(rpc.to_string()).arg("-a").arg(torrent);
    run_bounded(
        procs,
        "transmission-remote",
        &mut add,
        &dir.join("transmission-remote.log"),
        Duration::from_secs(10),
    )?;
    Ok(RealSeeder {
        name: "Transmission",
        addr: SocketAddr::from((ip, port)),
        rate,
        rpc: Some(rpc),
    })
}

/// Runs a short helper to completion, at most `limit` (killed and an error beyond that), and
/// forgets it once it has been reaped.
fn run_bounded(
    procs: &mut Procs,
    name: &str,
    cmd: &mut Command,
    log: &Path,
    limit: Duration,
) -> Result<(), DemoError> {
    let pid = procs.spawn(name, cmd, log)?;
    let start = Instant::now();
    let result = loop {
        let Some(p) = procs.list.iter_mut().find(|p| p.child.id() == pid) else {
            break Ok(());
        };
        match p.child.try_wait() {
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => {
                break Err(DemoError::NotReady(
                    name.to_string(),
                    format!("{status}: {}", last_line(log)),
                ))
            }
            Ok(None) if start.elapsed() > limit => {
                let _ = p.child.kill();
                let _ = p.child.wait();
                break Err(DemoError::NotReady(name.to_string(), "timed out".into()));
            }
            Ok(None) if procs.cancel.load(Ordering::SeqCst) => {
                let _ = p.child.kill();
                let _ = p.child.wait();
                break Err(DemoError::Interrupted);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(DemoError::NotReady(name.to_string(), e.to_string())),
        }
    };
    procs
        .list
        .retain_mut(|p| p.child.id() != pid || matches!(p.child.try_wait(), Ok(None)));
    result
}

/// Waits (bounded) until Transmission has checked the data, seeds, and listens on its peer
/// port: dialed earlier, it accepts the TCP connection but closes it during the handshake.
/// Nothing here connects to the peer port: Transmission 3.00 keeps one pending incoming
/// handshake per IP, and while one from 127.0.0.1 is open (up to its 30 s handshake timeout)
/// it closes every other connection from 127.0.0.1 at once, which is the download's address.
pub fn wait_transmission_seeding(
    procs: &mut Procs,
    dir: &Path,
    rpc: SocketAddr,
    peer: SocketAddr,
    info_hash_hex: &str,
    limit: Duration,
) -> Result<(), DemoError> {
    let start = Instant::now();
    let log = dir.join("transmission-remote.log");
    loop {
        let mut info = Command::new("transmission-remote");
        info.arg(rpc.to_string()).args(["-t", info_hash_hex, "-i"]);
        run_bounded(
            procs,
            "transmission-remote",
            &mut info,
            &log,
            Duration::from_secs(5),
        )?;
        let out = std::fs::read_to_string(&log).unwrap_or_default();
        let seeding = out.contains("Percent Done: 100%")
            && (out.contains("State: Seeding") || out.contains("State: Idle"));
        // RPC answers even when the peer port could not be bound (another process took the
        // port between free_port and the daemon's bind); unknown counts as listening.
        let listening = tcp_listening(peer).unwrap_or(true);
        if seeding && listening {
            return Ok(());
        }
        procs.check_cancel()?;
        if start.elapsed() > limit {
            let why = if seeding {
                format!("not listening on {peer}")
            } else {
                "not seeding yet".into()
            };
            return Err(DemoError::NotReady("transmission-daemon".into(), why));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Whether a TCP socket listens on `addr`, read from /proc/net/tcp (no connection made);
/// None when that table cannot be read or `addr` is not IPv4.
fn tcp_listening(addr: SocketAddr) -> Option<bool> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    // The kernel prints the address as the native-endian u32 of its network-order bytes.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    const LISTEN: &str = "0A";
    Some(table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(l), Some(_), Some(st)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        l == local && st == LISTEN
    }))
}

fn last_line(path: &Path) -> String {
    File::open(path)
        .map(|f| {
            BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.trim().is_empty())
                .last()
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A path as a JSON string literal.
fn json_string(path: &Path) -> String {
    let mut out = String::from("\"");
    for c in path.to_string_lossy().chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
