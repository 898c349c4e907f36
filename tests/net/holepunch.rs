//! BEP 55 hole punching end to end in the test internet (tests/netlab): two peers, each behind
//! its own NAT (nftables masquerade, no port mapping: a CGNAT), cannot dial each other; a
//! public peer connected to both (which lists them by PEX, flag 0x08) introduces them, and
//! they reach each other over uTP through the holes their own packets opened. Every party is
//! real: python3-libtorrent 2.0.8 and ttui, ttui as initiator, as target, and as the relay
//! (a public ttui that both NATed libtorrent peers dial; it leeches at a download limit that
//! keeps it from holding a whole piece, so the NATed leecher's payload can only come from the
//! NATed seed, through the hole ttui's introduction punched).
//!
//! Why this works through masquerade: libtorrent as relay sends each side the other's
//! connection endpoint (`remote()`, bt_peer_connection.cpp), so each NATed peer must reach
//! the relay over uTP from its listening UDP socket, whose port masquerade keeps (INTEROP.md).
//! ttui runs `--transport utp` (see `ttui_in`); the NATed libtorrent peers run uTP only, which
//! also makes libtorrent ask for an introduction after a failed uTP dial (it asks after a
//! failed TCP dial otherwise, peer_connection.cpp `connect_failed`).
//!
//! The relay must not be a source of the payload, or ttui could complete without the hole:
//! as a libtorrent relay it leeches and uploads at 20 kB/s, and a piece is 1 MiB, so it has
//! none within a test. (Its limits count the handshakes' bytes too: at 2 kB/s ttui's uTP dial
//! lost the race to TCP, and libtorrent introduces a TCP connection's ephemeral port, which
//! no punch can reach.)
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::netlab;
use crate::prereq;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use netlab::{Host, Kind, Lab};

/// Every lab peer listens on this port (each host has its own addresses).
const PORT: u16 = 6881;
/// A libtorrent relay's rate limits, bytes a second both ways.
const RELAY_RATE: &str = "20000";
/// ttui as the relay leeches at this download limit: a 1 MiB piece takes it longer than a
/// test, so it has nothing to upload and the leecher's payload comes from the NATed seed.
const TTUI_RELAY_DOWN: &str = "4K";
/// A paced NATed leecher's download limit, bytes a second: 2 MiB in about 8 s.
const PACED_RATE: &str = "262144";
/// One small download through a punched hole.
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn prerequisites() -> bool {
    netlab::have_tools() && prereq::have_python_libtorrent()
}

/// What a libtorrent peer of these tests is for.
#[derive(Clone, Copy, PartialEq)]
enum LtRole {
    /// Seeds from the data (uTP only: it sits behind a NAT).
    NatSeed,
    /// Downloads (uTP only: it sits behind a NAT), with PEX; says "done" when complete.
    NatLeech,
    /// As `NatLeech`, at [`PACED_RATE`]: its once-a-second peer lines catch the connection
    /// it downloads over (unpaced, 2 MiB through the hole took under a second).
    NatLeechPaced,
    /// The public peer with PEX that knows both NATed ones; leeches and uploads at
    /// [`RELAY_RATE`], so it holds no whole piece within a test and no payload comes from it.
    Relay,
}

/// lt_seed.py in `host` on every address, port [`PORT`], connecting to `peers`.
fn start_lt(
    host: &Host,
    role: LtRole,
    torrent: &Torrent,
    save: &Path,
    peers: &[String],
    log_dir: &Path,
) -> Proc {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(seeders_dir().join("lt_seed.py"))
        .arg("--torrent")
        .arg(&torrent.path)
        .arg("--save")
        .arg(save)
        .args(["--listen-any", "--port", &PORT.to_string()])
        .args([
            "--announce-wait",
            "0",
            "--max-seconds",
            "150",
            "--peer-lines",
        ]);
    match role {
        LtRole::NatSeed => {
            cmd.args(["--seed-mode", "--transport", "utp"]);
        }
        LtRole::NatLeech => {
            // ut_pex: libtorrent asks for an introduction only to a peer its PEX listed.
            cmd.args(["--leech", "--pex", "--transport", "utp"]);
        }
        LtRole::NatLeechPaced => {
            cmd.args(["--leech", "--pex", "--transport", "utp"])
                .args(["--download-limit", PACED_RATE]);
        }
        LtRole::Relay => {
            cmd.args(["--leech", "--pex", "--transport", "both"]).args([
                "--download-limit",
                RELAY_RATE,
                "--upload-limit",
                RELAY_RATE,
            ]);
        }
    }
    for p in peers {
        cmd.args(["--peer", p]);
    }
    let label = format!("lt-{}", host.name);
    let mut p = host.spawn(&label, &cmd, log_dir);
    if role == LtRole::NatSeed {
        p.wait_for_stdout("libtorrent to seed", "ready", WAIT);
    }
    p
}

/// `ttui ARGS --headless --no-dht --no-trackers --no-lsd --transport utp --port 6881
/// --log-file LOG` in `host`'s namespace. uTP only: libtorrent as relay introduces the
/// endpoint of our connection to it, and only a uTP one (from our listening socket) can be
/// punched; with `both`, TCP won the dial race to the relay here (its uTP handshake took
/// 290 ms) and the seed was sent our ephemeral TCP port.
fn ttui_in(host: &Host, log: &Path, args: &[&str]) -> Ttui {
    let log = log.display().to_string();
    let port = PORT.to_string();
    let mut all = args.to_vec();
    all.extend([
        "--headless",
        "--no-dht",
        "--no-trackers",
        "--no-lsd",
        "--transport",
        "utp",
    ]);
    all.extend(["--port", &port, "--log-file", &log]);
    Ttui::spawn_wrapped(&["ip", "netns", "exec", &host.ns], all)
}

fn text(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

/// libtorrent's `peer IP:PORT …` lines (`--peer-lines`) name `ip`: it is connected to it.
fn lt_lists_peer(p: &Proc, ip: &str) -> bool {
    p.stdout_text()
        .lines()
        .any(|l| l.starts_with(&format!("peer {ip}:")))
}

/// Polls `cond` every 200 ms until it holds or `limit` passes; whether it held.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A lab: a public relay host and two hosts each behind a NAT of its own.
fn lab() -> Lab {
    let mut lab = Lab::new();
    let a = lab.nat("nata");
    let b = lab.nat("natb");
    lab.add("relay", Kind::Public4);
    lab.add("left", Kind::Nat4(a));
    lab.add("right", Kind::Nat4(b));
    lab
}

/// The address the rest of the lab sees `host` at: its NAT's.
fn seen_at(host: &Host) -> String {
    host.nat_v4.expect("a host behind a NAT").to_string()
}

/// The lab, a fixture of `name` (2 MiB, 1 MiB pieces), its log dir, and the libtorrent relay
/// on the public host, started: what each test here begins with.
fn relay_setup(name: &str, seed: u64) -> (Lab, Fixture, std::path::PathBuf, String, Proc) {
    let lab = lab();
    let fx = Fixture::single_file(name, 2 << 20, seed, 20).untracked();
    let logs = fx.out_dir("logs");
    let relay = lab.host("relay");
    let relay_at = format!("{}:{PORT}", relay.ip4());
    let relay_lt = start_lt(
        relay,
        LtRole::Relay,
        &fx.torrent,
        &fx.out_dir("relay"),
        &[],
        &logs,
    );
    (lab, fx, logs, relay_at, relay_lt)
}

/// The libtorrent seed behind the NAT of host "left", dialing only `relay_at`; and the
/// address the lab sees it at.
fn nat_seed(lab: &Lab, fx: &Fixture, relay_at: &str, logs: &Path) -> (Proc, String) {
    let host = lab.host("left");
    let relay = [relay_at.to_string()];
    let seed = start_lt(
        host,
        LtRole::NatSeed,
        &fx.torrent,
        &fx.data_dir,
        &relay,
        logs,
    );
    (seed, seen_at(host))
}

/// A NATed libtorrent leecher in `host` (as `role`) that knows only `relay_at`, run until it
/// says "done"; asserts it did, within [`RUN_LIMIT`], byte-identical. `context` says what
/// else to show when it did not.
fn leech_to_the_end(
    host: &Host,
    role: LtRole,
    fx: &Fixture,
    relay_at: &str,
    logs: &Path,
    context: impl FnOnce() -> String,
) -> Proc {
    let out = fx.out_dir("out");
    let relay = [relay_at.to_string()];
    let mut leech = start_lt(host, role, &fx.torrent, &out, &relay, logs);
    let said_done = |p: &Proc| p.stdout_text().lines().any(|l| l == "done");
    eventually(RUN_LIMIT, || said_done(&leech) || leech.exited());
    if !said_done(&leech) {
        panic!(
            "the NATed leecher did not complete:\n{}\n{}",
            leech.report(),
            context()
        );
    }
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    leech
}

/// ttui behind one NAT, a libtorrent seed behind another, a libtorrent relay (PEX) that both
/// connect to. ttui learns the seed from the relay's PEX, cannot dial it, asks the relay to
/// introduce it, and completes byte-identical from the seed through the punched hole.
#[test]
fn ttui_initiates_a_hole_punch_to_a_natted_libtorrent_seed() {
    if !prerequisites() {
        return;
    }
    let (lab, fx, logs, relay_at, relay_lt) = relay_setup("punched.bin", 551);
    let ttui_host = lab.host("right");
    let (mut seed, seed_nat) = nat_seed(&lab, &fx, &relay_at, &logs);
    // The relay knows the seed before ttui comes, so its first PEX to ttui lists it.
    assert!(
        eventually(Duration::from_secs(20), || lt_lists_peer(
            &relay_lt, &seed_nat
        )),
        "the seed never reached the relay:\n{}\n{}",
        relay_lt.stdout_text(),
        seed.report()
    );
    let out = fx.out_dir("out");
    let log = logs.join("ttui-initiator.log");
    let run = ttui_in(
        ttui_host,
        &log,
        &[
            fx.torrent.path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--peer",
            &relay_at,
        ],
    );
    let mut run = run;
    if !eventually(RUN_LIMIT, || run.has_exited()) {
        panic!(
            "ttui did not complete through a punched hole:\n{}\n{}\n{}\n{}",
            last_lines(&text(&log), 80),
            relay_lt
                .stdout_text()
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .join("\n"),
            seed.report(),
            run.report()
        );
    }
    let fin = run.wait(WAIT);
    fin.assert_success(&format!(
        "download through a punched hole\n{}\n{}",
        seed.report(),
        last_lines(&text(&log), 60)
    ));
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    let ttui_log = text(&log);
    // Either side's uTP dial after the relay's `connect` may win: ttui's (logged, and the
    // row says "hole punched via" the relay) or the seed's, which arrives as incoming. The
    // seed dialing ttui's NAT address (below) is the relay's doing either way.
    let via = format!("{seed_nat}:{PORT}: dialing over uTP at once, introduced by {relay_at}");
    let came_in = format!("{seed_nat}:{PORT}: incoming over uTP");
    assert!(
        ttui_log.contains(&via) || ttui_log.contains(&came_in),
        "ttui and the seed never met through the hole (wanted {via:?} or {came_in:?}):\n{}",
        last_lines(&ttui_log, 60)
    );
    assert!(
        ttui_log.contains(&format!("asking {relay_at} to introduce us")),
        "ttui did not ask the relay:\n{}",
        last_lines(&ttui_log, 60)
    );
    // The seed dialed ttui's NAT address because the relay's `connect` told it to.
    let ttui_nat = seen_at(ttui_host);
    assert!(
        text(&seed.stderr).contains(&format!("{ttui_nat}:{PORT}")),
        "the seed never dialed ttui's NAT address:\n{}",
        seed.report()
    );
}

/// ttui seeds behind one NAT, a libtorrent leecher sits behind another, a libtorrent relay
/// (PEX) knows both. The leecher cannot dial ttui, asks the relay, and ttui (the target)
/// dials back over uTP at once: the leecher completes byte-identical from ttui.
#[test]
fn a_natted_libtorrent_leecher_punches_through_to_ttui_seeding_behind_a_nat() {
    if !prerequisites() {
        return;
    }
    let (lab, fx, logs, relay_at, relay_lt) = relay_setup("punched-seed.bin", 552);
    let (leech_host, ttui_host) = (lab.host("left"), lab.host("right"));
    let log = logs.join("ttui-target.log");
    let mut ttui = ttui_in(
        ttui_host,
        &log,
        &[
            fx.torrent.path.to_str().unwrap(),
            "-o",
            fx.data_dir.to_str().unwrap(),
            "--seed",
            "--peer",
            &relay_at,
        ],
    );
    let ttui_nat = seen_at(ttui_host);
    assert!(
        eventually(Duration::from_secs(30), || lt_lists_peer(
            &relay_lt, &ttui_nat
        )),
        "ttui never reached the relay:\n{}\n{}",
        relay_lt.stdout_text(),
        ttui.report()
    );
    leech_to_the_end(leech_host, LtRole::NatLeech, &fx, &relay_at, &logs, || {
        last_lines(&text(&log), 60)
    });
    // Reached through the hole: ttui's log names the leecher's NAT address as connected.
    // Whether the relay's `connect` or the two sides' dials crossing after PEX opened it
    // first varies by run (both are what punching is): either way nobody could dial cold.
    let ttui_log = text(&log);
    let leech_nat = seen_at(leech_host);
    assert!(
        ttui_log.contains(&format!("{leech_nat}:{PORT}: connected")),
        "ttui never connected to the leecher's NAT address:\n{}",
        last_lines(&ttui_log, 60)
    );
    ttui.kill();
}

/// A public ttui (leeching at [`TTUI_RELAY_DOWN`], so it has no whole piece to give) that a
/// NATed libtorrent seed and a NATed libtorrent leecher both dial. ttui's PEX lists each to
/// the other with the hole punch flag; the leecher's uTP dial to the seed's NAT fails, so it
/// asks ttui for a `rendezvous`; ttui sends `connect` to both, and the leecher completes
/// byte-identical from the seed, which its own peer list shows it connected to.
#[test]
fn ttui_relays_an_introduction_between_two_natted_libtorrent_peers() {
    if !prerequisites() {
        return;
    }
    let lab = lab();
    let fx = Fixture::single_file("relayed.bin", 2 << 20, 553, 20).untracked();
    let logs = fx.out_dir("logs");
    let relay = lab.host("relay");
    let relay_at = format!("{}:{PORT}", relay.ip4());
    let log = logs.join("ttui-relay.log");
    let ttui_out = fx.out_dir("ttui");
    let mut ttui = ttui_in(
        relay,
        &log,
        &[
            fx.torrent.path.to_str().unwrap(),
            "-o",
            ttui_out.to_str().unwrap(),
            "--down-limit",
            TTUI_RELAY_DOWN,
        ],
    );
    let leech_host = lab.host("right");
    let (mut seed, seed_nat) = nat_seed(&lab, &fx, &relay_at, &logs);
    let leech_nat = seen_at(leech_host);
    // The seed is connected to ttui before the leecher comes, so ttui's PEX lists it.
    assert!(
        eventually(Duration::from_secs(30), || text(&log)
            .contains(&format!("{seed_nat}:{PORT}: incoming over uTP"))),
        "the seed never reached ttui:\n{}\n{}",
        last_lines(&text(&log), 40),
        seed.report()
    );
    let leech = leech_to_the_end(
        leech_host,
        LtRole::NatLeechPaced,
        &fx,
        &relay_at,
        &logs,
        || format!("{}\n{}", seed.report(), last_lines(&text(&log), 80)),
    );
    let ttui_log = text(&log);
    // From libtorrent's own peer list: the leecher was connected to the seed's NAT address,
    // which nobody can dial cold.
    assert!(
        lt_lists_peer(&leech, &seed_nat),
        "the leecher never listed the seed as a peer:\n{}",
        leech.stdout_text()
    );
    // ttui made the introduction (the two NAT addresses, in either order).
    let introduced = ttui_log.lines().any(|l| {
        l.contains("(hole punch relay)")
            && l.contains(&format!("{seed_nat}:"))
            && l.contains(&format!("{leech_nat}:"))
    });
    assert!(
        introduced,
        "ttui never introduced {leech_nat} and {seed_nat}:\n{}",
        last_lines(&ttui_log, 80)
    );
    ttui.kill();
}
