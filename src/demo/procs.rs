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
//!
//! A child may also leave files outside the demo directory: transmission-daemon 3.00 keeps its
//! RPC session lock in `/tmp/tr_session_id_<id>` (a fixed path, TMPDIR is not read) and removes
//! it only when it shuts down cleanly. Such children are asked to stop with SIGTERM first, and
//! whatever session file they held open is removed after they are gone.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
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
    /// Stopped with SIGTERM before SIGKILL, so it can clean up after itself.
    graceful: bool,
}

/// Every child process of the demo; `Drop` kills (by pid) and reaps them all.
#[derive(Default)]
pub(super) struct Procs {
    list: Vec<Proc>,
    /// Set when a signal asks the demo to stop; the waits below give up then.
    cancel: Arc<AtomicBool>,
}

impl Procs {
    pub(super) fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub(super) fn check_cancel(&self) -> Result<(), DemoError> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(DemoError::Interrupted);
        }
        Ok(())
    }

    /// Starts `cmd` with stdout and stderr going to `log`. Must be called from the thread that
    /// lives for the whole demo (the main thread): the parent-death signal fires when the
    /// *thread* that forked the child exits, not only the process.
    pub(super) fn spawn(
        &mut self,
        name: &str,
        cmd: &mut Command,
        log: &Path,
    ) -> Result<u32, DemoError> {
        self.spawn_with(name, cmd, log, false)
    }

    /// Like [`Procs::spawn`], for a program that is stopped with SIGTERM first (see the module
    /// docs).
    pub(super) fn spawn_graceful(
        &mut self,
        name: &str,
        cmd: &mut Command,
        log: &Path,
    ) -> Result<u32, DemoError> {
        self.spawn_with(name, cmd, log, true)
    }

    fn spawn_with(
        &mut self,
        name: &str,
        cmd: &mut Command,
        log: &Path,
        graceful: bool,
    ) -> Result<u32, DemoError> {
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
            graceful,
        });
        Ok(pid)
    }

    /// Which children have exited already, with their status (for error messages).
    pub(super) fn exited(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &mut self.list {
            if let Ok(Some(status)) = p.child.try_wait() {
                out.push(format!("{} exited ({status})", p.name));
            }
        }
        out
    }

    /// opentracker behind its watchdog; returns once it accepts TCP on `port`.
    pub(super) fn start_opentracker(
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
            graceful: false,
        });
        self.wait_listening(
            "opentracker",
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(5),
        )
    }

    /// Polls until `addr` accepts a TCP connection, failing early when a child has exited.
    pub(super) fn wait_listening(
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
            let leftovers = if p.graceful {
                let held = session_files(p.child.id());
                terminate(&mut p.child, Duration::from_secs(5));
                held
            } else {
                Vec::new()
            };
            // Child::kill is SIGKILL to this child's pid; an already reaped child is a no-op.
            let _ = p.child.kill();
            let _ = p.child.wait();
            for file in leftovers {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// Sends SIGTERM and waits up to `limit` for the child to exit.
fn terminate(child: &mut Child, limit: Duration) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. The pid is a child we
    // have not reaped (try_wait above saw it running), so it cannot name another process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Transmission session lock files (`tr_session_id_*`) that process `pid` holds open, read
/// from /proc/<pid>/fd.
fn session_files(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| is_session_file(target))
        .collect()
}

fn is_session_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("tr_session_id_"))
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
pub(super) fn free_port(ip: Ipv4Addr) -> Result<u16, DemoError> {
    let l = TcpListener::bind((ip, 0)).map_err(|e| DemoError::Net(format!("bind {ip}:0: {e}")))?;
    let port = l
        .local_addr()
        .map_err(|e| DemoError::Net(e.to_string()))?
        .port();
    Ok(port)
}

/// Whether `program` is on PATH.
pub(super) fn have_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether python3 can import libtorrent (Debian's python3-libtorrent lives in
/// /usr/lib/python3/dist-packages, seen by /usr/bin/python3 only).
pub(super) fn have_libtorrent() -> bool {
    Path::new("/usr/bin/python3").is_file()
        && Command::new("/usr/bin/python3")
            .args(["-c", "import libtorrent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Runs a short helper to completion, at most `limit` (killed and an error beyond that), and
/// forgets it once it has been reaped.
pub(super) fn run_bounded(
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
