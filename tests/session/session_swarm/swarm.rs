//! Seeders for tests/session/session_swarm.rs that the common kit lacks: a python3-libtorrent peer that
//! holds half a payload and passes its other peer on by `ut_pex` (the PEX source).

use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::common::{free_port, loopback_ip, seeders_dir, tempdir, Proc, Torrent, WAIT};

/// A and its full seeder B trade at this many bytes a second, so A cannot pass B's half on
/// to ttui in the time the test takes: what ttui has of that half came from B.
pub const SLOW: u64 = 2_000;
/// A uploads to ttui this slowly, so the connection lasts past A's first `ut_pex` message
/// (0-3 s after the extension handshake); a fast partial peer is done and dropped before it.
pub const A_UPLOAD: u64 = 64 * 1024;

/// libtorrent with `ut_pex`, holding the first half of the pieces and connected to B.
pub struct LtHalf {
    proc: Proc,
    _dir: TempDir,
    pub ip: Ipv4Addr,
    pub port: u16,
}

impl LtHalf {
    /// Starts A on a copy of `payload` with the pieces from the middle on zeroed, dialing `b`;
    /// returns once A has checked its half and is connected to B.
    pub fn start(torrent: &Torrent, payload: &Path, plen: u64, b: SocketAddr) -> LtHalf {
        let dir = tempdir("ttui-lthalf-");
        let save = half_copy(payload, plen, dir.path());
        let (ip, port) = (loopback_ip(), free_port());
        let b_ip = b.ip().to_string();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(seeders_dir().join("lt_seed.py"))
            .arg("--torrent")
            .arg(&torrent.path)
            .arg("--save")
            .arg(&save)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args(["--pex", "--peer", &b.to_string(), "--slow-ip", &b_ip])
            .args(["--slow-rate", &SLOW.to_string()])
            .args(["--upload-limit", &A_UPLOAD.to_string()])
            .args(["--max-seconds", "300"]);
        let mut proc = Proc::spawn("lt_half", &mut cmd, dir.path());
        proc.wait_until("A to check its half and connect to B", WAIT, |p| {
            last_progress(&p.stdout_text()).is_some_and(|(pct, _, conn)| pct >= 40.0 && conn >= 1)
        });
        LtHalf {
            proc,
            _dir: dir,
            ip,
            port,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    pub fn report(&mut self) -> String {
        self.proc.report()
    }
}

/// (percent, up, handshaken peers) of lt_seed.py's latest progress line.
fn last_progress(text: &str) -> Option<(f64, u64, u64)> {
    let line = text.lines().rev().find(|l| l.starts_with("progress "))?;
    let pct = line.split_whitespace().nth(1)?.parse().ok()?;
    let field = |k: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.parse().ok())
    };
    Some((pct, field("up=")?, field("connected=")?))
}

/// `payload` (one file) copied into `dir/save/`, the pieces from the middle on zeroed.
fn half_copy(payload: &Path, plen: u64, dir: &Path) -> PathBuf {
    let save = dir.join("save");
    fs::create_dir_all(&save).unwrap_or_else(|e| panic!("{}: {e}", save.display()));
    let dst = save.join(payload.file_name().unwrap_or_default());
    fs::copy(payload, &dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    let len = fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
    let pieces = len.div_ceil(plen);
    let f = OpenOptions::new()
        .write(true)
        .open(&dst)
        .unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    for i in pieces / 2..pieces {
        let n = plen.min(len - i * plen);
        f.write_all_at(&vec![0u8; n as usize], i * plen)
            .unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    }
    save
}
