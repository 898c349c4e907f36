//! The Debian dante (`danted`) harness the proxy tests share: one SOCKS5 server in the
//! foreground listening on 127.0.0.41 and relaying from 127.0.0.42, TCP only or with UDP
//! ASSOCIATE, with or without a login, killed by pid; and opentracker's list of peers, to see
//! where it saw ttui.
//!
//! Dante checks a login (`socksmethod: username`) against the system's password database,
//! which a test must not change: with a login, danted runs in a mount namespace of its own
//! where /etc/passwd and /etc/shadow are copies with one more user, `ttui`, whose password
//! is `SECRET` (bind mounts, gone with the process).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::common::*;

/// Where dante listens, where it relays from, and where ttui leaves from.
pub const DANTE_IN: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 41);
pub const DANTE_OUT: &str = "127.0.0.42";
pub const TTUI_AT: &str = "127.0.0.31";
/// In the URL only: never to be seen in what ttui prints or logs.
pub const SECRET: &str = "pw-n0t-in-l0gs";

/// One `danted -f CONF` in the foreground, killed by pid (its children too) on drop.
pub struct Dante {
    proc: Option<Proc>,
    dir: TempDir,
    pub port: u16,
    /// It asks for a login (RFC 1929) and checks it.
    login: bool,
}

impl Dante {
    /// Dante relaying TCP (CONNECT) only, as most SOCKS5 setups.
    pub fn start() -> Dante {
        Dante::start_with(false)
    }

    /// With `udp`, dante also grants UDP ASSOCIATE and relays the datagrams both ways.
    pub fn start_with(udp: bool) -> Dante {
        Dante::start_as(udp, false)
    }

    /// Dante relaying TCP that lets in only user `ttui` with password `SECRET`.
    pub fn start_with_login() -> Dante {
        Dante::start_as(false, true)
    }

    fn start_as(udp: bool, login: bool) -> Dante {
        let dir = tempdir("ttui-dante-");
        let method = if login { "username" } else { "none" };
        let commands = if udp {
            "connect udpassociate udpreply"
        } else {
            "connect"
        };
        let port = free_port();
        let conf = dir.path().join("danted.conf");
        // `internal` is not an interface's address (lo has 127.0.0.1): dante warns and
        // binds it anyway, as Linux routes all of 127/8 to lo.
        let text = format!(
            "logoutput: stderr\n\
             internal: {DANTE_IN} port = {port}\n\
             external: {DANTE_OUT}\n\
             clientmethod: none\n\
             socksmethod: {method}\n\
             user.privileged: root\n\
             user.unprivileged: nobody\n\
             client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: connect error\n}}\n\
             socks pass {{\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: {commands}\n  \
             log: connect error\n}}\n"
        );
        fs::write(&conf, text).unwrap();
        if login {
            write_accounts(dir.path());
        }
        let mut d = Dante {
            proc: None,
            dir,
            port,
            login,
        };
        d.run();
        d
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("danted.conf")
    }

    /// Starts it (again, on the same port) and waits until it accepts.
    pub fn run(&mut self) {
        let mut cmd = if self.login {
            // unshare execs the shell, which execs danted: one pid to kill, as without.
            let d = self.dir.path().display();
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "mount --bind {d}/passwd /etc/passwd && \
                     mount --bind {d}/shadow /etc/shadow && exec danted \"$@\""
                ))
                .arg("sh");
            c
        } else {
            Command::new("danted")
        };
        cmd.arg("-f")
            .arg(self.conf())
            .arg("-p")
            .arg(self.dir.path().join("danted.pid"));
        let mut proc = Proc::spawn("danted", &mut cmd, self.dir.path());
        let at = SocketAddr::from((DANTE_IN, self.port));
        proc.wait_until("danted to listen", WAIT, |_| {
            TcpStream::connect_timeout(&at, Duration::from_millis(200)).is_ok()
        });
        self.proc = Some(proc);
    }

    /// SIGKILLs dante and the children it forked (by pid, read from /proc), and waits
    /// until nothing listens any more.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let kids = children(p.pid());
            p.kill();
            for k in kids {
                let _ = Command::new("kill")
                    .args(["-KILL", &k.to_string()])
                    .status();
            }
        }
        let at = SocketAddr::from((DANTE_IN, self.port));
        let start = Instant::now();
        while TcpStream::connect_timeout(&at, Duration::from_millis(200)).is_ok() {
            assert!(
                start.elapsed() < WAIT,
                "danted still listens after its kill"
            );
            sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://ttui:{SECRET}@{DANTE_IN}:{}", self.port)
    }
}

impl Drop for Dante {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let kids = children(p.pid());
            p.kill();
            for k in kids {
                let _ = Command::new("kill")
                    .args(["-KILL", &k.to_string()])
                    .status();
            }
        }
    }
}

/// Copies of the system's passwd and shadow with user `ttui` (password `SECRET`) added, for
/// danted's own mount namespace.
fn write_accounts(dir: &std::path::Path) {
    let hash = run_bounded(
        Command::new("openssl").args(["passwd", "-6", "-salt", "ttuitest", SECRET]),
        Duration::from_secs(10),
    );
    check_success("openssl passwd", &hash);
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default()
        + "ttui:x:64999:64999:ttui proxy test:/nonexistent:/usr/sbin/nologin\n";
    let shadow = fs::read_to_string("/etc/shadow").unwrap_or_default()
        + &format!("ttui:{hash}:19000:0:99999:7:::\n");
    fs::write(dir.join("passwd"), passwd).unwrap();
    fs::write(dir.join("shadow"), shadow).unwrap();
    fs::set_permissions(dir.join("passwd"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(dir.join("shadow"), fs::Permissions::from_mode(0o640)).unwrap();
}

/// The pids whose parent is `pid` (from /proc/*/stat).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                // "pid (comm) state ppid …": comm may hold spaces, so after the last ')'.
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// The peers opentracker lists for `info_hash` (compact form), asked as a leecher at port 1
/// that leaves again at once; its own entry is left out.
pub fn tracker_peers(tracker: &Opentracker, info_hash: &[u8; 20]) -> Vec<SocketAddr> {
    let ask = |event: &str| {
        let path = format!(
            "/announce?info_hash={}&peer_id=-XX0000-probeprobepr&port=1&uploaded=0\
             &downloaded=0&left=1&compact=1&numwant=50{event}",
            url_encode(info_hash)
        );
        http_get(tracker.addr(), &path).unwrap_or_else(|e| panic!("announce to opentracker: {e}"))
    };
    let body = ask("");
    let _ = ask("&event=stopped");
    let Some(at) = find(&body, b"5:peers").map(|a| a + 7) else {
        return Vec::new();
    };
    let Some(colon) = find(&body[at..], b":").map(|c| c + at) else {
        return Vec::new();
    };
    let len: usize = std::str::from_utf8(&body[at..colon])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    body[colon + 1..(colon + 1 + len).min(body.len())]
        .chunks_exact(6)
        .map(|c| {
            let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
            SocketAddr::from((ip, u16::from_be_bytes([c[4], c[5]])))
        })
        .filter(|a| a.port() != 1)
        .collect()
}
