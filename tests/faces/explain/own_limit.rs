//! Three downloads in one session, each from its own libtorrent seeder: only the first has a
//! limit, its own (100 KiB/s), and no session limit exists. The explainer must blame that
//! torrent's own limit (not the session's), and say nothing against the other two while
//! they download beside it: the healthy-swarm case with company.

use std::net::SocketAddr;

use super::*;

const OWN_LIMIT: &str = "100K";

/// Non-Ok findings of `id`.
fn complaints(env: &Env, id: &str) -> Vec<Value> {
    explain(env, id)
        .into_iter()
        .filter(|f| f["verdict"] != "ok")
        .collect()
}

fn own_limit_beside_others() {
    let env = Env::new("ttui-explain-own-limit-");
    let data = env.root.path().join("data");
    let made = env.root.path().join("t");
    // 16 MiB at 100 KiB/s: nowhere near done. The others take some 10 s at the seeders' 3
    // MiB/s, long enough to be read while they download.
    let sizes = [16u64 << 20, 32 << 20, 32 << 20];
    let payloads: Vec<Payload> = sizes
        .iter()
        .enumerate()
        .map(|(i, len)| {
            Payload::make(
                &data,
                &made,
                &format!("own{i}"),
                &[("", *len)],
                50 + i as u64,
            )
        })
        .collect();
    let port = free_port();
    let mut d = daemon(&env, &["--no-trackers", "--port", &port.to_string()]);
    let ids: Vec<String> = payloads.iter().map(|p| add(&env, p)).collect();
    let r = env.verb(&["limit", &ids[0], "--down", OWN_LIMIT]);
    assert_eq!(r.code, 0, "{r:?}");
    let ttui: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // The seeders dial ttui, each for its torrent only: a `--peer` for all three would fail
    // two handshakes of three on every torrent.
    let _seeders: Vec<LibtorrentPeer> = payloads
        .iter()
        .map(|p| {
            LibtorrentPeer::start(
                &p.torrent,
                &data,
                LtOptions {
                    seed_mode: true,
                    upload_limit: 3 << 20,
                    peers: vec![ttui],
                    ..LtOptions::default()
                },
            )
        })
        .collect();
    let top = wait_top(&env, &mut d, &ids[0], "limits", |f| {
        text(f, "evidence").contains("own download limit")
    });
    assert_eq!(
        text(&top, "evidence"),
        "this torrent's own download limit of 100 KiB/s is reached",
        "{top}"
    );
    assert!(
        text(&top, "advice").contains(&format!("ttui limit {} --down", ids[0])),
        "{top}"
    );
    // The others, read until both are done: downloading beside it, nothing against them.
    let start = Instant::now();
    let mut reads = 0;
    loop {
        d.assert_alive("the other downloads");
        let rows = env.list();
        let mut downloading = 0;
        for (p, id) in payloads.iter().zip(&ids).skip(1) {
            if row_of(&rows, &p.hash())["state"] != "downloading" {
                continue;
            }
            downloading += 1;
            let bad = complaints(&env, id);
            assert!(bad.is_empty(), "torrent {id}, healthy, got: {bad:?}");
            reads += 1;
        }
        if downloading == 0 {
            break;
        }
        assert!(start.elapsed() < SHOW_WAIT, "the others never finished");
        sleep(Duration::from_millis(500));
    }
    assert!(
        reads >= 2,
        "the others were read only {reads} times while downloading"
    );
    // Still held back by its own limit once the others are done.
    let top = &explain(&env, &ids[0])[0];
    assert_eq!(top["check"], "limits", "{top}");
    assert!(d.term().success());
}

#[test]
fn a_torrent_held_back_by_its_own_limit_beside_others() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() {
        return;
    }
    own_limit_beside_others();
}
