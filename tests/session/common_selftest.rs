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

/// Two swarms may run at once with two slots; a third waits for one to end, and takes the slot
/// that ended.
#[test]
fn swarm_slots_admit_as_many_as_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let short = std::time::Duration::from_millis(200);
    let a = swarm_slot(dir.path(), 2, short).expect("the first slot");
    let b = swarm_slot(dir.path(), 2, short).expect("the second slot");
    assert!(
        swarm_slot(dir.path(), 2, short).is_none(),
        "a third swarm ran beside two"
    );
    drop(a);
    let c = swarm_slot(dir.path(), 2, short).expect("the slot the first left");
    assert!(swarm_slot(dir.path(), 2, short).is_none());
    drop((b, c));
}

/// A waiting swarm starts as soon as a slot frees, not only once all do, and one slot is a
/// plain mutex.
#[test]
fn a_waiting_swarm_takes_the_first_slot_that_frees() {
    let dir = tempfile::tempdir().unwrap();
    let long = std::time::Duration::from_secs(20);
    let held = swarm_slot(dir.path(), 1, long).expect("the only slot");
    let path = dir.path().to_path_buf();
    let waiter = std::thread::spawn(move || {
        let t0 = std::time::Instant::now();
        let g = swarm_slot(&path, 1, long).expect("the slot once freed");
        let waited = t0.elapsed();
        drop(g);
        waited
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "the waiter took a slot that was held"
    );
    drop(held);
    let waited = waiter.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "{waited:?}"
    );
    assert!(waited < long, "{waited:?}");
}

/// The lock files stay (a removed flock()ed file would let the next test lock a new one).
#[test]
fn swarm_slot_files_outlive_their_guards() {
    let dir = tempfile::tempdir().unwrap();
    drop(swarm_slot(dir.path(), 3, std::time::Duration::from_millis(50)).unwrap());
    for i in 0..3 {
        assert!(dir
            .path()
            .join(format!("ttui-tests-swarm-{i}.lock"))
            .exists());
    }
}

/// Two swarms of one test process never run at once, even with a machine-wide slot free: the
/// tests of a module share its namespace (and some a fixed veth pair in it).
#[test]
fn swarms_of_one_process_take_turns() {
    let held = swarm_lock();
    // Timed from before the waiter starts: its own start may come a little after the sleep's.
    let t0 = std::time::Instant::now();
    let waiter = std::thread::spawn(move || {
        drop(swarm_lock());
        t0.elapsed()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "a second swarm of this process started beside the first"
    );
    drop(held);
    let waited = waiter.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "{waited:?}"
    );
}

/// What tests/run.sh promises each unit beyond `lo`: named network namespaces of its own (a
/// tmpfs on /run/netns) and XDG directories of its own, so units side by side cannot meet.
#[test]
fn a_unit_has_its_own_netns_names_and_xdg_dirs() {
    let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") else {
        prereq::skip("not run by tests/run.sh (no XDG_RUNTIME_DIR of a unit)");
        return;
    };
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    // The last mount there is the one in force: a host that ran `ip netns` has its own
    // /run/netns mount under the unit's.
    let netns = mounts.lines().rev().find(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.get(4) == Some(&"/run/netns")
    });
    let Some(netns) = netns else {
        prereq::skip("/run/netns is not a mount of its own (not run by tests/run.sh)");
        return;
    };
    assert!(
        netns.contains(" - tmpfs ttui-netns "),
        "/run/netns is not the unit's tmpfs: {netns}"
    );
    let runtime = std::path::PathBuf::from(runtime);
    let unit_dir = runtime.parent().unwrap().file_name().unwrap();
    assert!(
        unit_dir.to_string_lossy().starts_with("xdg-"),
        "XDG_RUNTIME_DIR is not a unit's own: {}",
        runtime.display()
    );
}
