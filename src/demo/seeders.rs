//! Third-party seeders for the demo: python3-libtorrent, aria2c and transmission-daemon, each
//! on its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off, throttled to its share.
//! [`write_transmission_settings`] is also what the integration tests start Transmission with.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::procs::{free_port, run_bounded, Procs};
use super::DemoError;

/// The libtorrent seeder script, shipped inside the binary.
const LT_SEED_PY: &str = include_str!("../../assets/seeders/lt_seed.py");

/// A third-party seeder the demo started.
pub(super) struct RealSeeder {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub rate: u64,
    /// Transmission's RPC address, to ask whether it seeds yet.
    pub rpc: Option<SocketAddr>,
}

/// What every seeder is given: the demo directory (logs, config), the torrent to seed, and
/// the directory holding its data.
#[derive(Debug, Clone, Copy)]
pub(super) struct SeedJob<'a> {
    pub dir: &'a Path,
    pub torrent: &'a Path,
    pub data_dir: &'a Path,
}

/// Starts a seeder that needs nothing but its command line, on `ip` at a free port: `command`
/// builds that line for the port. `program` names the process and its log in the demo dir.
fn spawn_seeder(
    procs: &mut Procs,
    job: &SeedJob,
    (program, name): (&str, &'static str),
    ip: Ipv4Addr,
    rate: u64,
    command: impl FnOnce(u16) -> Command,
) -> Result<RealSeeder, DemoError> {
    let port = free_port(ip)?;
    let mut cmd = command(port);
    let log = job.dir.join(format!("{program}.log"));
    procs.spawn(program, &mut cmd, &log)?;
    Ok(RealSeeder {
        name,
        addr: SocketAddr::from((ip, port)),
        rate,
        rpc: None,
    })
}

/// python3-libtorrent seeding `data_dir` from `torrent`, throttled to `rate` bytes/s.
pub(super) fn start_libtorrent(
    procs: &mut Procs,
    job: &SeedJob,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let script = job.dir.join("lt_seed.py");
    std::fs::write(&script, LT_SEED_PY).map_err(|e| DemoError::io(&script, e))?;
    spawn_seeder(procs, job, ("libtorrent", "libtorrent"), ip, rate, |port| {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .arg("--torrent")
            .arg(job.torrent)
            .arg("--save")
            .arg(job.data_dir)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args(["--upload-limit", &rate.to_string(), "--seed-mode"])
            .args(["--max-seconds", "86400"]);
        cmd
    })
}

/// python3-libtorrent with TCP off both ways (it still accepts TCP, then resets): only a
/// client with uTP gets its pieces.
pub(super) fn start_libtorrent_utp(
    procs: &mut Procs,
    job: &SeedJob,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let script = job.dir.join("lt_seed.py");
    std::fs::write(&script, LT_SEED_PY).map_err(|e| DemoError::io(&script, e))?;
    let name = ("libtorrent-utp", "libtorrent uTP");
    spawn_seeder(procs, job, name, ip, rate, |port| {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .arg("--torrent")
            .arg(job.torrent)
            .arg("--save")
            .arg(job.data_dir)
            .args(["--ip", &ip.to_string(), "--port", &port.to_string()])
            .args(["--upload-limit", &rate.to_string(), "--seed-mode"])
            .args(["--transport", "utp", "--max-seconds", "86400"]);
        cmd
    })
}

/// aria2c seeding `data_dir` (trusting the data: it was just written) at `rate` bytes/s.
pub(super) fn start_aria2(
    procs: &mut Procs,
    job: &SeedJob,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    spawn_seeder(procs, job, ("aria2c", "aria2"), ip, rate, |port| {
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
        .arg(job.data_dir)
        .arg(job.torrent);
        cmd
    })
}

/// transmission-daemon seeding `data_dir`: started with RPC on 127.0.0.1, the torrent added
/// with transmission-remote. It only accepts connections (it never dials loopback).
pub(super) fn start_transmission(
    procs: &mut Procs,
    job: &SeedJob,
    ip: Ipv4Addr,
    rate: u64,
) -> Result<RealSeeder, DemoError> {
    let SeedJob {
        dir,
        torrent,
        data_dir,
    } = *job;
    let port = free_port(ip)?;
    let rpc_port = free_port(Ipv4Addr::LOCALHOST)?;
    let config = dir.join("transmission");
    write_transmission_settings(
        &config,
        &TransmissionSettings {
            ip,
            peer_port: port,
            rpc_port,
            download_dir: data_dir,
            upload_limit: Some(rate),
            // Requires encryption, as many real peers do: the Conn column shows RC4 for it.
            encryption: 2,
            message_level: 1,
        },
    )
    .map_err(|e| DemoError::io(&config, e))?;
    let mut cmd = Command::new("transmission-daemon");
    cmd.arg("-f").arg("-g").arg(&config);
    procs.spawn_graceful(
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

/// Waits (bounded) until Transmission has checked the data, seeds, and listens on its peer
/// port: dialed earlier, it accepts the TCP connection but closes it during the handshake.
/// Nothing here connects to the peer port: Transmission 3.00 keeps one pending incoming
/// handshake per IP, and while one from 127.0.0.1 is open (up to its 30 s handshake timeout)
/// it closes every other connection from 127.0.0.1 at once, which is the download's address.
pub(super) fn wait_transmission_seeding(
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

/// What differs between the Transmission daemons ttui starts; everything else (no DHT, LSD,
/// PEX, port mapping or uTP; RPC open on 127.0.0.1; no watch or incomplete dir) is fixed.
#[derive(Debug, Clone)]
pub struct TransmissionSettings<'a> {
    /// Address the peer port binds to (its own 127.0.0.x: Transmission accepts one pending
    /// handshake per IP).
    pub ip: Ipv4Addr,
    pub peer_port: u16,
    pub rpc_port: u16,
    pub download_dir: &'a Path,
    /// Upload cap in bytes per second; None leaves uploads unlimited.
    pub upload_limit: Option<u64>,
    /// Transmission's `encryption`: 0 prefers plain connections, 1 prefers encrypted ones (its
    /// default), 2 requires encryption.
    pub encryption: u8,
    /// 0 none, 1 errors, 2 info, 3 debug.
    pub message_level: u8,
}

/// Writes `settings.json` into `config_dir` (the daemon's `-g` directory).
pub fn write_transmission_settings(config_dir: &Path, s: &TransmissionSettings) -> io::Result<()> {
    // Transmission's speed unit is kB = 1000 bytes.
    let (limit, limited) = match s.upload_limit {
        Some(rate) => ((rate / 1000).max(1), true),
        None => (100, false),
    };
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
  "speed-limit-up": {limit},
  "speed-limit-up-enabled": {limited},
  "alt-speed-enabled": false,
  "encryption": {encryption},
  "message-level": {level}
}}"#,
        ip = s.ip,
        port = s.peer_port,
        rpc_port = s.rpc_port,
        dl = json_string(s.download_dir),
        encryption = s.encryption,
        level = s.message_level,
    );
    std::fs::create_dir_all(config_dir)?;
    std::fs::write(config_dir.join("settings.json"), settings)
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
