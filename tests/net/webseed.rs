//! Web seeds (BEP 19, `url-list`): ttui completes byte-identical from an HTTP server alone
//! (single-file, and multi-file with a space and a non-ASCII letter in the names, so the
//! path is percent-encoded), and a server that answers 404 or cuts the body short shows its
//! reason while the download completes from a libtorrent peer.
//!
//! Run through tests/run.sh: tests that start third-party clients refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;
use crate::webseed_srv;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use common::*;
use webseed_srv::*;

const PIECE_LOG2: u32 = 18;

/// mktorrent with one `url-list` entry.
fn make_torrent(payload: &Path, url: &str, out: &Path) -> Torrent {
    make_torrent_with_url(payload, url, PIECE_LOG2, out)
}

fn ttui_args(torrent: &Torrent, out: &Path, log: &Path, peer: Option<SocketAddr>) -> Vec<String> {
    ttui_args_at("127.0.0.1", torrent, out, log, peer)
}

fn ttui_args_at(
    bind: &str,
    torrent: &Torrent,
    out: &Path,
    log: &Path,
    peer: Option<SocketAddr>,
) -> Vec<String> {
    let mut v: Vec<String> = vec![
        torrent.path.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--no-dht".into(),
        "--bind".into(),
        bind.into(),
        "--port".into(),
        free_port().to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    if let Some(p) = peer {
        v.extend(["--peer".into(), p.to_string()]);
    }
    v
}

/// Downloads `payload` (under `data`) from a web seed alone and compares the bytes.
fn complete_from_web_seed_alone(data: &Path, payload: &Path) {
    let work = tempdir("ttui-webseed-");
    let server = HttpSeed::start(data, "ok");
    let torrent = make_torrent(payload, &server.url(), &work.path().join("t.torrent"));
    let out = work.path().join("out");
    let log = work.path().join("ttui.log");
    let done = Ttui::run(ttui_args(&torrent, &out, &log, None), DOWNLOAD_TIMEOUT);
    done.assert_success("download from the web seed");
    let name = payload.file_name().expect("payload name");
    assert_same_tree(payload, &out.join(name));
    assert!(server.requests() > 0, "the server saw no request");
}

/// `--bind`: the web seed's requests leave from that address (no other).
#[test]
fn web_seed_requests_leave_from_the_bind_address() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    let data = tempdir("ttui-webseed-data-");
    let payload = make_single_file_payload(data.path(), "bound.bin", (2 << 20) + 5, 12);
    let work = tempdir("ttui-webseed-");
    let server = HttpSeed::start(data.path(), "ok");
    let torrent = make_torrent(&payload, &server.url(), &work.path().join("t.torrent"));
    let (out, log) = (work.path().join("out"), work.path().join("ttui.log"));
    let args = ttui_args_at("127.0.0.11", &torrent, &out, &log, None);
    Ttui::run(args, DOWNLOAD_TIMEOUT).assert_success("download from the web seed");
    assert_same_tree(&payload, &out.join("bound.bin"));
    assert_eq!(
        server.clients(),
        ["127.0.0.11"],
        "where the requests came from"
    );
}

#[test]
fn single_file_completes_from_the_web_seed_alone() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    let data = tempdir("ttui-webseed-data-");
    // Not a multiple of the piece length: the last piece is short.
    let payload = make_single_file_payload(data.path(), "single.bin", (5 << 20) + 1234, 11);
    complete_from_web_seed_alone(data.path(), &payload);
}

#[test]
fn multi_file_with_odd_names_completes_from_the_web_seed_alone() {
    require_loopback_only();
    if !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    let data = tempdir("ttui-webseed-data-");
    let root = data.path().join("web multi");
    // Pieces straddle files; names need percent-encoding (a space, "ü", a '#').
    make_single_file_payload(&root.join("dir a"), "über file.bin", (2 << 20) + 77, 1);
    make_single_file_payload(&root.join("dir a"), "tiny #1.txt", 9, 2);
    make_single_file_payload(&root, "b.bin", (1 << 20) + 3, 3);
    complete_from_web_seed_alone(data.path(), &root);
}

/// A failing web seed: its reason reaches the log, and a libtorrent peer completes the job.
fn failing_web_seed_then_a_peer(mode: &str, reason: &str) {
    let data = tempdir("ttui-webseed-data-");
    let payload = make_single_file_payload(data.path(), "fallback.bin", (4 << 20) + 99, 21);
    let server = HttpSeed::start(data.path(), mode);
    let work = tempdir("ttui-webseed-");
    let torrent = make_torrent(&payload, &server.url(), &work.path().join("t.torrent"));
    // Slow enough that the web seed fails well before the peer has sent everything.
    let seeder = LibtorrentPeer::start(
        &torrent,
        data.path(),
        LtOptions {
            seed_mode: true,
            upload_limit: 2 << 20,
            ..LtOptions::default()
        },
    );
    let out = work.path().join("out");
    let log = work.path().join("ttui.log");
    let done = Ttui::run(
        ttui_args(&torrent, &out, &log, Some(seeder.addr())),
        DOWNLOAD_TIMEOUT,
    );
    done.assert_success("download from the peer despite the web seed");
    eprintln!("{mode}: complete in {:?}", done.elapsed);
    assert_same_tree(&payload, &out.join("fallback.bin"));
    let text = fs::read_to_string(&log).unwrap_or_default();
    let want = format!("web seed {}: {reason}", server.url());
    assert!(
        text.contains(&want),
        "no {want:?} in the log:\n{}",
        last_lines(&text, 40)
    );
    assert!(server.requests() > 0, "the server saw no request");
}

#[test]
fn a_404_web_seed_shows_why_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    failing_web_seed_then_a_peer("404", "HTTP 404; retrying in 5 s");
}

#[test]
fn a_short_body_shows_why_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    // Any piece may be the web seed's first: the torrent's last one is shorter than the rest,
    // so the expected length is left open.
    failing_web_seed_then_a_peer("short", "short body (12 of ");
}

#[test]
fn a_web_seed_sending_bad_data_is_dropped_and_a_peer_completes() {
    require_loopback_only();
    if !prereq::have_python_libtorrent() || !prereq::have_tools(&["mktorrent", "python3"]) {
        return;
    }
    // Two pieces it alone sent failing their hash are enough to stop using it.
    failing_web_seed_then_a_peer("corrupt", "sent bad data (2 hash failures); not used again");
}
