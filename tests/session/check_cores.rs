//! A check uses more than one core (issue: "Checking at the hashing floor"): a headless
//! one-shot over complete data already in the page cache only checks, and its CPU time is at
//! least 1.5 times its wall time on 2 cores. One reader feeds every core's hashing worker
//! (src/engine/disk/check.rs); a check that read and hashed on one thread would score 1.
//!
//! Measured against the clock: it runs alone (`// alone` in main.rs).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::kit;
use crate::payload;
use crate::prereq;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use kit::*;
use payload::*;

/// CPU seconds of this process's waited-for children (`cutime + cstime` of /proc/self/stat):
/// the one-shot's whole CPU once it has been waited for.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which may hold spaces but ends at the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the line, 14 and 15 after the name.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    // SAFETY: sysconf only reads a constant of the system; no pointers are involved.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second
}

#[test]
fn a_check_of_cached_data_keeps_two_cores_busy() {
    require_loopback_only();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores < 2 {
        prereq::skip("one core: a check cannot use more");
        return;
    }
    if !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let env = Env::new("ttui-checkcores-");
    let torrents = env.root.path().join("torrents");
    // 2 GiB in 1 MiB pieces: about a second of hashing on 2 cores, so start-up (and the
    // 20 ms polls of `run_within`) is noise.
    let p = Payload::make_with_pieces(&env.out, &torrents, "cores.bin", &[("", 2 << 30)], 51, 20);
    // Into the page cache: the check then waits for no device.
    let mut file = std::fs::File::open(&p.root).unwrap();
    let mut buf = vec![0u8; 8 << 20];
    while file.read(&mut buf).unwrap() > 0 {}

    let mut cmd = env.ttui();
    cmd.args([p.path().as_str(), "--headless", "-o"])
        .arg(&env.out)
        .args([
            "--no-config",
            "--no-trackers",
            "--no-dht",
            "--no-lsd",
            "--no-pex",
            "--no-port-mapping",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ]);
    let before = children_cpu();
    let start = Instant::now();
    let out = run_within(cmd, "the one-shot check", Duration::from_secs(60));
    let wall = start.elapsed().as_secs_f64();
    let cpu = children_cpu() - before;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.lines().any(|l| l.starts_with("complete:")),
        "the data checked complete: {out:?}"
    );
    eprintln!(
        "check: wall {wall:.2} s, cpu {cpu:.2} s, {:.2} cores",
        cpu / wall
    );
    assert!(
        cpu >= 1.5 * wall,
        "a check of cached data used {:.2} cores (cpu {cpu:.2} s over wall {wall:.2} s); \
         at least 1.5 wanted",
        cpu / wall
    );
}
