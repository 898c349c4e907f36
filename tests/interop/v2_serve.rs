//! ttui serving BEP 52 torrents to python3-libtorrent 2.0 leechers that start from a magnet
//! link alone, on loopback: the leecher fetches the info dictionary from ttui (BEP 9), then,
//! for a v2 magnet (`btmh`), each file's piece layer with `hash request`s that ttui answers
//! from the torrent's layers, and downloads byte-identical. A v2-only folder whose files
//! span several pieces (so the layers are needed), and a hybrid made by libtorrent reached
//! under both its names: one leecher knows it by its v2 hash (ttui's router takes the
//! truncated v2 hash to the same torrent and answers with it), one by its v1 hash.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::v2::{lt_make, v2_bytes, HashCounts, MagnetLeecher};
use common::*;

const PIECE: u32 = 32_768;

/// Files of several pieces (so a leecher from a v2 magnet needs their layers), one of one
/// piece exactly, one of a byte, one ending a byte into a piece, and an empty one.
fn folder(root: &Path) -> PathBuf {
    let dir = root.join("data").join("served");
    fs::create_dir_all(dir.join("sub")).unwrap();
    let p = PIECE as usize;
    fs::write(dir.join("a-byte"), v2_bytes(1, 1)).unwrap();
    fs::write(dir.join("b-many-pieces"), v2_bytes(13 * p + 5_000, 2)).unwrap();
    fs::write(dir.join("c-empty"), b"").unwrap();
    fs::write(dir.join("sub").join("d-one-piece"), v2_bytes(p, 3)).unwrap();
    fs::write(
        dir.join("sub").join("e-pieces-and-a-byte"),
        v2_bytes(5 * p + 1, 4),
    )
    .unwrap();
    fs::write(dir.join("sub").join("f-exact"), v2_bytes(4 * p, 5)).unwrap();
    dir
}

fn btmh(v2: &str) -> String {
    format!("magnet:?xt=urn:btmh:1220{v2}")
}

fn btih(t: &Torrent) -> String {
    format!("magnet:?xt=urn:btih:{}", hex(&t.info_hash))
}

/// A leecher from a v2 magnet finished: when libtorrent logs peer messages, it got the
/// layers as `hashes` (none refused).
fn assert_layers_served(c: HashCounts) {
    if c.logged > 0 {
        assert!(c.hashes > 0, "no `hashes` reached the leecher: {c:?}");
        assert_eq!(c.rejects, 0, "ttui refused hash requests: {c:?}");
    }
}

#[test]
fn a_v2_magnet_gets_metadata_and_layers_from_ttui() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-v2-serve-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, PIECE, &tmp.path().join("served.torrent"), false);
    let port = free_port();
    let mut seeder = spawn_ttui_seeder(
        &torrent.path,
        content.parent().unwrap(),
        port,
        &["--no-dht"],
    );
    let save = tmp.path().join("lt-save");
    let t0 = Instant::now();
    let mut leecher =
        MagnetLeecher::start(&btmh(&v2), &save, SocketAddr::from(([127, 0, 0, 1], port)));
    let counts = leecher.wait_done(DOWNLOAD_TIMEOUT);
    eprintln!("v2 magnet: {:.1}s, {counts:?}", t0.elapsed().as_secs_f64());
    drop(leecher);
    seeder.kill();
    assert_layers_served(counts);
    assert_same_tree(&content, &save.join("served"));
}

#[test]
fn a_hybrid_seeded_by_ttui_reaches_v1_and_v2_magnets() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let tmp = tempdir("ttui-hybrid-serve-");
    let content = folder(tmp.path());
    let (torrent, v2) = lt_make(&content, PIECE, &tmp.path().join("hybrid.torrent"), true);
    let port = free_port();
    let mut seeder = spawn_ttui_seeder(
        &torrent.path,
        content.parent().unwrap(),
        port,
        &["--no-dht"],
    );
    let ttui = SocketAddr::from(([127, 0, 0, 1], port));
    let (save_v2, save_v1) = (tmp.path().join("by-v2"), tmp.path().join("by-v1"));
    let t0 = Instant::now();
    let mut by_v2 = MagnetLeecher::start(&btmh(&v2), &save_v2, ttui);
    let mut by_v1 = MagnetLeecher::start(&btih(&torrent), &save_v1, ttui);
    let v2_counts = by_v2.wait_done(DOWNLOAD_TIMEOUT);
    let v1_counts = by_v1.wait_done(DOWNLOAD_TIMEOUT);
    eprintln!(
        "hybrid: {:.1}s, by v2 {v2_counts:?}, by v1 {v1_counts:?}",
        t0.elapsed().as_secs_f64()
    );
    drop((by_v2, by_v1));
    seeder.kill();
    assert_layers_served(v2_counts);
    assert_same_tree(&content, &save_v2.join("served"));
    assert_same_tree(&content, &save_v1.join("served"));
}
