//! Magnet links (BEP 9): ttui fetches the info dictionary from a peer, checks it against the
//! magnet's info hash, then downloads. Both sides of ut_metadata are covered: libtorrent
//! serving to ttui, and ttui serving to ttui.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::time::Duration;

use common::*;

fn magnet(t: &Torrent, peer: std::net::SocketAddr) -> String {
    format!("magnet:?xt=urn:btih:{}&dn=x&x.pe={peer}", t.hash_hex())
}

#[test]
fn downloads_a_magnet_link_from_libtorrent() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("magnet payload", 31, 18);
    let seeder = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    let out = fx.dir.path().join("out");
    let out_arg = out.display().to_string();
    let link = magnet(&fx.torrent, seeder.addr());
    let run = Ttui::run(
        [
            link.as_str(),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--no-trackers",
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("magnet from libtorrent");
    assert!(
        run.stderr.contains("metadata ("),
        "no metadata line:\n{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("complete:"),
        "{}",
        last_lines(&run.stdout, 5)
    );
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
}

#[test]
fn ttui_serves_metadata_to_ttui() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("magnet from ttui", 32, 18);
    let port = free_port();
    let seeder = spawn_ttui_seeder(
        &fx.torrent.path,
        &fx.data_dir,
        port,
        &["--bind", "127.0.0.1"],
    );
    let out = fx.dir.path().join("out");
    let out_arg = out.display().to_string();
    let link = magnet(&fx.torrent, ([127, 0, 0, 1], port).into());
    let run = Ttui::run(
        [
            link.as_str(),
            "--headless",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--no-trackers",
        ],
        DOWNLOAD_TIMEOUT,
    );
    run.assert_success("magnet from ttui");
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    drop(seeder);
}

/// A magnet with nothing to dial (no tracker, no DHT, no `x.pe`, no `--peer`): its metadata
/// can only come from a peer that dials ttui. libtorrent is told to (`connect_peer`); the
/// session's router hands that connection to the metadata fetch (BEP 9 from an incoming
/// peer), and the download then dials libtorrent back at the port it gave. Before the router
/// knew magnets in their metadata phase, the connection was refused and the run failed with
/// "no peers to fetch the metadata from".
#[test]
fn a_magnet_gets_its_metadata_from_a_peer_that_dials_in() {
    metadata_from_a_peer_that_dials_in("magnet dialed in", None);
}

/// The same over MSE only: the connection names the magnet by req2 alone.
#[test]
fn a_magnet_gets_its_metadata_from_an_encrypted_peer_that_dials_in() {
    metadata_from_a_peer_that_dials_in("magnet dialed in, mse", Some("forced"));
}

fn metadata_from_a_peer_that_dials_in(name: &str, encryption: Option<&'static str>) {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file(name, 33, 18);
    let port = free_port();
    let out = fx.dir.path().join("out");
    let out_arg = out.display().to_string();
    let link = format!("magnet:?xt=urn:btih:{}&dn=x", fx.torrent.hash_hex());
    let port_arg = port.to_string();
    let ttui = Ttui::spawn([
        link.as_str(),
        "--headless",
        "-o",
        &out_arg,
        "--port",
        &port_arg,
        "--bind",
        "127.0.0.1",
        "--no-trackers",
        "--no-dht",
    ]);
    // libtorrent takes a second or more to start: ttui listens long before it dials.
    let seeder = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            peers: vec![([127, 0, 0, 1], port).into()],
            encryption,
            ..LtOptions::default()
        },
    );
    let run = ttui.wait(DOWNLOAD_TIMEOUT);
    run.assert_success("magnet from a peer that dialed in");
    assert!(
        run.stderr.contains("connected to us") && run.stderr.contains("metadata ("),
        "the metadata did not come from the incoming peer:\n{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("complete:"),
        "{}",
        last_lines(&run.stdout, 5)
    );
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    drop(seeder);
}

#[test]
fn a_bad_magnet_is_one_line_error() {
    let run = Ttui::run(
        ["magnet:?xt=urn:btih:nothex", "--headless"],
        Duration::from_secs(20),
    );
    assert!(!run.status.success());
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("error:") && lines[0].contains("xt"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_magnet_with_no_peers_fails_clearly() {
    let closed = closed_addr();
    let link = format!("magnet:?xt=urn:btih:{}&x.pe={closed}", "ab".repeat(20));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().display().to_string();
    let run = Ttui::run(
        [link.as_str(), "--headless", "-o", &out, "--port", "0"],
        Duration::from_secs(60),
    );
    assert!(!run.status.success());
    let err = run.stderr.lines().last().unwrap_or_default();
    assert!(
        err.starts_with("error:") && err.contains("metadata"),
        "{}",
        run.stderr
    );
}

/// A peer that takes only plain handshakes and has no metadata to give: it closes an
/// encrypted attempt at once (as a plain-only client does), answers a plain handshake without
/// the extension protocol bit, then says nothing. Its listener address; it runs until the
/// test's process ends (a thread per connection, each bounded by its socket's timeout).
fn no_metadata_peer(info_hash: [u8; 20]) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming().take(16) {
            let Ok(mut s) = conn else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut first = [0u8; 68];
                if s.read_exact(&mut first).is_err() || &first[..20] != b"\x13BitTorrent protocol" {
                    return;
                }
                let mut hs = Vec::with_capacity(68);
                hs.extend_from_slice(b"\x13BitTorrent protocol");
                hs.extend_from_slice(&[0; 8]);
                hs.extend_from_slice(&info_hash);
                hs.extend_from_slice(b"-XX0001-nometadata00");
                let _ = s.write_all(&hs);
                let mut sink = [0u8; 4096];
                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// A forwarder to `to` that hangs up on its first `refuse` connections at once (a peer that
/// is starting up, or too busy to take us yet), then relays both ways. Its address; its
/// threads end with the test's process (each relay ends when either side closes).
fn closes_at_first(to: std::net::SocketAddr, refuse: usize) -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().take(64).enumerate() {
            let Ok(inbound) = conn else { continue };
            if n < refuse {
                drop(inbound);
                continue;
            }
            let Ok(outbound) = std::net::TcpStream::connect(to) else {
                continue;
            };
            for (mut from, mut into) in [
                (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                (outbound, inbound),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    addr
}

/// A one-shot magnet given two peers: one with no metadata to give, and a libtorrent seed
/// that hangs up on our first dial and its plain retry (busy, or starting up) and takes the
/// next. The fetch dials the seed again as the download path would (after 5 s) instead of
/// giving up with "no peer delivered the metadata", and completes byte-identical.
#[test]
fn a_magnet_dials_a_seed_again_that_hung_up_at_first() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::single_file("give-up.bin", 1_500_000, 41, 16).untracked();
    let seeder = LibtorrentPeer::start(
        &fx.torrent,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    let empty = no_metadata_peer(fx.torrent.info_hash);
    // Our encrypted dial and its plain retry are the first two.
    let busy = closes_at_first(seeder.addr(), 2);
    let link = format!(
        "magnet:?xt=urn:btih:{}&dn=x&x.pe={empty}&x.pe={busy}",
        fx.torrent.hash_hex()
    );
    let out = fx.out_dir("out");
    let (out_arg, log) = (out.display().to_string(), out.with_extension("log"));
    let log_arg = log.display().to_string();
    let run = Ttui::run(
        [
            link.as_str(),
            "--headless",
            "--no-trackers",
            "--no-dht",
            "-o",
            &out_arg,
            "--port",
            "0",
            "--log-file",
            &log_arg,
        ],
        DOWNLOAD_TIMEOUT,
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    run.assert_success(&format!(
        "a magnet whose seed hung up at first\n{}",
        last_lines(&text, 40)
    ));
    assert!(
        run.stderr.contains(&format!(
            "{busy}: closed during handshake; trying again in 5s"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("metadata (") && run.stderr.contains(&format!("from {busy}")),
        "{}",
        run.stderr
    );
    assert_same_tree(&fx.payload, &out.join(&fx.torrent.name));
    drop(seeder);
}
