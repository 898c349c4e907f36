//! Magnet links (BEP 9): ttui fetches the info dictionary from a peer, checks it against the
//! magnet's info hash, then downloads. Both sides of ut_metadata are covered: libtorrent
//! serving to ttui, and ttui serving to ttui.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

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
