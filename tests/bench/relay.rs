//! The CPU a BEP 55 relay spends per introduction, which the reach benchmark cannot tell apart
//! from the relay's own download (`tests/bench/reach.sh` prints this after its table).
//!
//! One introduction, as the coordinator does it (`engine/torrent/coordinator/holepunch.rs`):
//! the `rendezvous` payload decoded, its wire size counted, the target looked up among the
//! torrent's peers (a linear walk, as the coordinator's; `PEERS` of them), the verdict of the
//! real [`Relay`] (its per-peer and per-torrent bound included), the two `connect` messages
//! built, counted and encoded for sending, and the log line written. Not included: the two
//! socket writes, which cost what any 18-byte message costs. Wall time of a single thread,
//! best of three runs (`cargo bench --bench relay -- [INTRODUCTIONS] [PEERS]`; 1,000,000 and
//! 200 by default; no assertions).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ttui::internals::engine::torrent::holepunch::{Relay, Target, Verdict};
use ttui::internals::protocol::holepunch::HoleMsg;

/// The positional numbers given (`cargo bench` adds `--bench`, which is skipped).
fn numbers() -> Vec<usize> {
    let mut out = Vec::new();
    for a in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        match a.parse() {
            Ok(n) => out.push(n),
            Err(_) => {
                eprintln!("usage: relay [INTRODUCTIONS] [PEERS] (got {a:?})");
                std::process::exit(2);
            }
        }
    }
    out
}

/// The `i`th peer's endpoint, in 198.51.100.0/24 and 203.0.113.0/24.
fn peer(i: usize) -> SocketAddr {
    let host = (i / 2 % 250) as u8 + 1;
    let ip = if i.is_multiple_of(2) {
        Ipv4Addr::new(198, 51, 100, host)
    } else {
        Ipv4Addr::new(203, 0, 113, host)
    };
    SocketAddr::new(IpAddr::V4(ip), 6881 + (i / 500) as u16)
}

/// Makes `rounds` introductions among `peers`; the wall time they took and the wire bytes of
/// one (the rendezvous in, both connects out).
fn introduce(rounds: usize, peers: &[SocketAddr]) -> (Duration, u64) {
    let start = Instant::now();
    let mut relay = Relay::new(start);
    let (mut introduced, mut bytes) = (0u64, 0u64);
    let mut log = Vec::with_capacity(1024);
    let t0 = Instant::now();
    for i in 0..rounds {
        // A second apart, so the bound admits each: what is timed is an introduction.
        let now = start + Duration::from_secs(i as u64);
        let initiator = peers[i % peers.len()];
        let target = peers[(i * 7 + 1) % peers.len()];
        let wire = HoleMsg::rendezvous(target).encode();
        let Ok(msg) = HoleMsg::decode(black_box(&wire)) else {
            eprintln!("relay: a rendezvous did not decode");
            std::process::exit(1);
        };
        bytes += 6 + msg.encode().len() as u64;
        let found = match peers.iter().find(|p| **p == msg.addr) {
            Some(_) => Target::Connected { supports: true },
            None => Target::Unknown,
        };
        if let Verdict::Introduce {
            to_initiator,
            to_target,
        } = relay.rendezvous(now, initiator, msg.addr, found, &[])
        {
            for m in [to_initiator, to_target] {
                let out = m.encode();
                bytes += 6 + out.len() as u64;
                black_box(out);
            }
            introduced += 1;
            if log.len() == log.capacity() {
                log.clear();
            }
            log.push(format!(
                "introduced {initiator} and {target} (hole punch relay)"
            ));
        }
    }
    let took = t0.elapsed();
    if introduced != rounds as u64 {
        eprintln!("relay: {introduced} of {rounds} rendezvous were introductions");
        std::process::exit(1);
    }
    (took, bytes / introduced)
}

fn main() {
    let given = numbers();
    let rounds = given.first().copied().unwrap_or(1_000_000).max(1);
    let peers: Vec<SocketAddr> = (0..given.get(1).copied().unwrap_or(200).max(2))
        .map(peer)
        .collect();
    // Best of three: the machine is shared, and the best is the path's own cost.
    let runs: Vec<(Duration, u64)> = (0..3).map(|_| introduce(rounds, &peers)).collect();
    let (took, bytes) = runs.iter().copied().min().unwrap_or_default();
    println!(
        "relay path: {:.2} us per introduction (best of 3 x {rounds}, {} peers walked, {bytes} wire bytes each)",
        took.as_secs_f64() * 1e6 / rounds as f64,
        peers.len(),
    );
}
