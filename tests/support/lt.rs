//! A loopback DHT of python3-libtorrent sessions (lt_dht.py next to this file), shared by
//! tests/net/dht_swarm.rs and tests/interop/private.rs. Killed by pid and its files removed on drop.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct LtDht {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    pub ips: Vec<Ipv4Addr>,
    pub port: u16,
    _dir: TempDir,
}

impl LtDht {
    /// `n` sessions, meshed; returns once they are.
    pub fn start(n: usize) -> LtDht {
        LtDht::start_with(n, None)
    }

    /// As `start`, every session's DHT, connection and peer alerts written to `alert_log`
    /// (when a command drains them: `seed`, `leech`, `drain`).
    pub fn start_with(n: usize, alert_log: Option<&Path>) -> LtDht {
        let dir = tempfile::tempdir().expect("tempdir");
        let ips: Vec<Ipv4Addr> = (0..n).map(|_| super::common::loopback_ip()).collect();
        let port = super::common::free_port();
        let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht.py");
        let mut cmd = Command::new("/usr/bin/python3");
        if let Some(log) = alert_log {
            cmd.env("TTUI_LT_ALERT_LOG", log);
        }
        cmd.arg(script)
            .arg(list.join(","))
            .arg(port.to_string())
            .current_dir(dir.path());
        let (child, stdin, lines) =
            super::common::spawn_line_child(&mut cmd, "python3-libtorrent (/usr/bin/python3)");
        let mut s = LtDht {
            child,
            stdin,
            lines,
            ips,
            port,
            _dir: dir,
        };
        s.expect("ready", Duration::from_secs(30));
        s
    }

    /// The `--dht-bootstrap` arguments naming every session.
    pub fn bootstrap_args(&self) -> Vec<String> {
        self.ips
            .iter()
            .flat_map(|ip| ["--dht-bootstrap".to_string(), format!("{ip}:{}", self.port)])
            .collect()
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from((self.ips[i], self.port))
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the libtorrent helper");
        self.stdin.flush().expect("flush");
    }

    /// The next line starting with `prefix` (others are skipped); panics after `timeout`.
    pub fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("libtorrent helper: no `{prefix}` line within {timeout:?}"),
            }
        }
    }

    /// Every session's alerts written to the alert log now.
    pub fn drain(&mut self) {
        self.send("drain");
        self.expect("ok", Duration::from_secs(30));
    }

    /// Session `i` seeds `torrent` from `dir`, announcing to the DHT only.
    pub fn seed(&mut self, i: usize, torrent: &Path, dir: &Path) {
        self.send(&format!("seed {i} {} {}", torrent.display(), dir.display()));
        self.expect("seeding", Duration::from_secs(90));
    }

    /// Session `i` downloads `magnet` into `dir`: (seconds to the first peer, to done).
    /// Panics with the helper's line as soon as it reports anything else (`timeout ...`, or
    /// `done` without a first peer), rather than waiting for a line that will never come.
    pub fn leech(&mut self, i: usize, magnet: &str, dir: &Path) -> (f64, f64) {
        self.send(&format!("leech {i} {magnet} {}", dir.display()));
        let first = self.expect("", Duration::from_secs(160));
        assert!(
            first.starts_with("first_peer"),
            "libtorrent leecher: `{first}` before any first_peer"
        );
        let done = self.expect("", Duration::from_secs(160));
        let secs = |l: &str| l.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        match (secs(&first), done.starts_with("done"), secs(&done)) {
            (Some(f), true, Some(d)) => (f, d),
            _ => panic!("libtorrent leecher: {first} / {done}"),
        }
    }
}

impl Drop for LtDht {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
