//! Unit tests of the shared test kit (tests/support/common/mod.rs), in one binary of their own: a
//! `#[cfg(test)]` module inside the kit would run again in every test binary that uses it.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::fs;

use common::*;

#[test]
fn sizes_and_percentages_parse() {
    assert_eq!(parse_size("0 B"), Some(0));
    assert_eq!(parse_size("1.50 KiB"), Some(1536));
    assert_eq!(parse_size("64 MiB"), Some(64 << 20));
    assert_eq!(parse_size("3 furlongs"), None);
    assert_eq!(
        downloaded_bytes("done: 100%, downloaded 0 B in 0.1 s"),
        Some(0)
    );
    assert_eq!(
        downloaded_bytes("x\ndownloaded 2.00 MiB, up 0 B"),
        Some(2 << 20)
    );
    assert_eq!(last_percent("a 10.5% b\nc (47%) d\n"), Some(47.0));
    assert_eq!(last_percent("no numbers"), None);
}

#[test]
fn bencode_rewrite_keeps_info_hash() {
    if !prereq::have_tools(&["mktorrent"]) {
        return;
    }
    let dir = tempdir("ttui-kit-");
    let p = make_single_file_payload(dir.path(), "f.bin", 100_003, 7);
    let t = mktorrent(&p, 15, &dir.path().join("f.torrent"));
    let c = t.with_trackers(
        &dir.path().join("g.torrent"),
        None,
        &[vec!["udp://127.0.0.1:9/announce".into()]],
    );
    assert_eq!(c.info_hash, t.info_hash);
    assert_eq!(c.name, "f.bin");
    let bytes = fs::read(&c.path).unwrap_or_default();
    assert!(
        find(&bytes, b"8:announce").is_none(),
        "announce should be gone"
    );
    assert!(find(&bytes, b"13:announce-list").is_some());
}
