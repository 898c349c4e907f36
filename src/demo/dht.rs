//! The demo's loopback DHT: a few python3-libtorrent DHT nodes and a DHT-only seeder
//! (assets/seeders/lt_dht_seed.py), so the download's DHT finds a peer (Source "DHT") and the
//! header has nodes to show. The download bootstraps from these nodes only.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use super::procs::{self, Procs};
use super::seeders::SeedJob;
use super::DemoError;

const LT_DHT_SEED_PY: &str = include_str!("../../assets/seeders/lt_dht_seed.py");
/// 127.0.0.20..=23 are nodes; the last also seeds.
const FIRST_OCTET: u8 = 20;
const NODES: u8 = 4;

/// Starts the nodes and the seeder at `rate` bytes/s; returns the `--dht-bootstrap` list.
pub(super) fn start(procs: &mut Procs, job: &SeedJob, rate: u64) -> Result<Vec<String>, DemoError> {
    let script = job.dir.join("lt_dht_seed.py");
    std::fs::write(&script, LT_DHT_SEED_PY).map_err(|e| DemoError::io(&script, e))?;
    let ips: Vec<Ipv4Addr> = (0..NODES)
        .map(|i| Ipv4Addr::new(127, 0, 0, FIRST_OCTET + i))
        .collect();
    let port = procs::free_port(ips[0])?;
    let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(&script)
        .arg(list.join(","))
        .arg(port.to_string())
        .arg(job.torrent)
        .arg(job.data_dir)
        .arg(rate.to_string());
    let log = job.dir.join("libtorrent-dht.log");
    procs.spawn("libtorrent-dht", &mut cmd, &log)?;
    let seeder = SocketAddr::from((ips[ips.len() - 1], port));
    procs.wait_listening("DHT seeder", seeder, Duration::from_secs(30))?;
    // It says `ready` once it has announced to the nodes.
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready")) {
        procs.check_cancel()?;
        if start.elapsed() > Duration::from_secs(30) {
            return Err(DemoError::NotReady(
                "DHT seeder".into(),
                "no announce within 30 s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "demo: {:>16} on {seeder} (found through the DHT: {} nodes on 127.0.0.{}-{})",
        "DHT-only seeder",
        NODES,
        FIRST_OCTET,
        FIRST_OCTET + NODES - 1
    );
    Ok(ips.iter().map(|ip| format!("{ip}:{port}")).collect())
}
