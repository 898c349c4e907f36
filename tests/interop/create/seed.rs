//! `ttui create --seed`: the torrent goes to the running daemon, which seeds the data where it
//! is without checking it again; a python3-libtorrent leecher on another 127.0.0.x, told the
//! daemon's address, downloads it byte for byte.

use std::time::Duration;

use super::*;
use crate::kit::Daemon;
use crate::prereq;

const DONE_WAIT: Duration = Duration::from_secs(90);

fn seed_and_leech(mode: &str) {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    let _swarm = swarm_lock();
    let env = Env::new(&format!("ttui-create-seed-{mode}-"));
    let data_dir = env.root.path().join("data");
    let tree = make_tree(&data_dir, "pack");
    let port = free_port();
    let mut daemon = Daemon::start(&env, "1", &["--port".to_string(), port.to_string()]);

    let out = create(
        &env,
        &[
            tree.to_str().unwrap(),
            &format!("--{mode}"),
            "--seed",
            "--state-dir",
            env.state.to_str().unwrap(),
            "-o",
            "made.torrent",
            "--json",
        ],
    );
    let v = json(&out);
    assert!(v["seeded"].is_number(), "no id from --seed: {v}");
    // The hash the session lists it by: v1's, or for v2-only the v2 hash cut to 20 bytes.
    let v1 = match v["info_hash_v1"].as_str() {
        Some(h) => h.to_string(),
        None => v["info_hash_v2"].as_str().unwrap()[..40].to_string(),
    };
    // Seeding at once: trusted as made, not checked again.
    let rows = env.wait_list(
        "the made torrent seeding",
        Duration::from_secs(20),
        &mut daemon,
        |r| {
            r.iter()
                .any(|r| r["info_hash"] == v1.as_str() && r["state"] == "seeding")
        },
    );
    let row = rows.iter().find(|r| r["info_hash"] == v1.as_str()).unwrap();
    assert_eq!(row["verified_bytes"], row["total_bytes"], "{row}");
    let log = daemon.log_text();
    assert!(log.contains("added as complete"), "{log}");
    assert!(
        !log.contains("checked existing data"),
        "the data was hashed again:\n{log}"
    );

    let torrent = Torrent::load(&env.root.path().join("made.torrent"));
    let leech_dir = env.root.path().join("leech");
    fs::create_dir_all(&leech_dir).unwrap();
    let mut leecher = LibtorrentPeer::start_leecher(
        &torrent,
        &leech_dir,
        LtOptions {
            peers: vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))],
            ..LtOptions::default()
        },
    );
    leecher.wait_done(DONE_WAIT);
    assert_same_tree(&tree, &leech_dir.join("pack"));
    assert!(daemon.term().success());
}

#[test]
fn hybrid_made_with_seed_downloads_to_libtorrent() {
    seed_and_leech("hybrid");
}

#[test]
fn v1_made_with_seed_downloads_to_libtorrent() {
    seed_and_leech("v1");
}

#[test]
fn v2_made_with_seed_downloads_to_libtorrent() {
    seed_and_leech("v2");
}
