//! The test's network: a veth pair whose far end sits in a network namespace of its own, so
//! packets really cross a link that the test can take down. Loopback-range addresses only:
//! `tt-a` (ttui's side) has 127.0.0.61, `tt-b` (the seeder's, in namespace `ttpeer`) has
//! 127.0.0.62. Linux treats 127/8 on a device other than `lo` as martian unless
//! `route_localnet` is on, so it is, on both sides; each side routes the other's /32 over the
//! pair. That /32 route is more specific than `lo`'s local 127.0.0.0/8; when `tt-a` goes down
//! the kernel drops it and 127.0.0.62 is local again: a socket not bound to `tt-a` would then
//! reach a listener in ttui's namespace, which is what `Decoy` (interface.rs) counts.
//!
//! `Veth` removes the pair and the namespace on drop, so a failing test leaves neither.

use std::process::Command;

pub const NS: &str = "ttpeer";
pub const OURS: &str = "tt-a";
pub const THEIRS: &str = "tt-b";
pub const OUR_IP: &str = "127.0.0.61";
pub const THEIR_IP: &str = "127.0.0.62";

/// Runs `ip ARGS` (in the peer's namespace with `ns`); panics with its stderr on failure.
pub fn ip(ns: bool, args: &[&str]) {
    let mut cmd = Command::new("ip");
    if ns {
        cmd.args(["netns", "exec", NS, "ip"]);
    }
    let out = cmd.args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sysctl(ns: bool, key: &str) {
    let mut cmd = Command::new("sysctl");
    if ns {
        cmd = Command::new("ip");
        cmd.args(["netns", "exec", NS, "sysctl"]);
    }
    let out = cmd
        .args(["-qw", &format!("{key}=1")])
        .output()
        .expect("sysctl");
    assert!(
        out.status.success(),
        "sysctl {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Veth;

impl Veth {
    pub fn create() -> Veth {
        // Left by an earlier run that was killed: start clean.
        let _ = Command::new("ip").args(["link", "del", OURS]).output();
        let _ = Command::new("ip").args(["netns", "del", NS]).output();
        std::fs::create_dir_all("/run/netns").expect("/run/netns");
        ip(false, &["netns", "add", NS]);
        let v = Veth;
        v.make_link();
        v
    }

    /// The pair (again, after `delete`): new devices, new indexes, same names and
    /// addresses, as a VPN client makes its interface anew after a reconnect.
    pub fn make_link(&self) {
        ip(
            false,
            &["link", "add", OURS, "type", "veth", "peer", "name", THEIRS],
        );
        ip(false, &["link", "set", THEIRS, "netns", NS]);
        ip(true, &["link", "set", "lo", "up"]);
        for key in ["all", "default"] {
            sysctl(false, &format!("net.ipv4.conf.{key}.route_localnet"));
            sysctl(true, &format!("net.ipv4.conf.{key}.route_localnet"));
        }
        sysctl(false, &format!("net.ipv4.conf.{OURS}.route_localnet"));
        sysctl(true, &format!("net.ipv4.conf.{THEIRS}.route_localnet"));
        ip(
            true,
            &["addr", "add", &format!("{THEIR_IP}/32"), "dev", THEIRS],
        );
        ip(true, &["link", "set", THEIRS, "up"]);
        ip(
            true,
            &["route", "add", &format!("{OUR_IP}/32"), "dev", THEIRS],
        );
        self.up();
    }

    /// Deletes the pair: `tt-a` is gone (and `tt-b` with it), as a VPN's interface is when
    /// its client stops.
    pub fn delete(&self) {
        ip(false, &["link", "del", OURS]);
    }

    /// `tt-a` up, with its address and its route (taking a device down drops its IPv4
    /// routes, so they come back here, as a VPN client sets them up again).
    pub fn up(&self) {
        ip(false, &["link", "set", OURS, "up"]);
        let _ = Command::new("ip")
            .args(["addr", "add", &format!("{OUR_IP}/32"), "dev", OURS])
            .output();
        ip(
            false,
            &["route", "replace", &format!("{THEIR_IP}/32"), "dev", OURS],
        );
    }

    pub fn down(&self) {
        ip(false, &["link", "set", OURS, "down"]);
    }

    /// Packets `tt-b` received: what reached the seeder's side of the link.
    pub fn their_rx_packets(&self) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", NS, "cat"])
            .arg(format!("/sys/class/net/{THEIRS}/statistics/rx_packets"))
            .output()
            .expect("cat");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", OURS]).output();
        let _ = Command::new("ip").args(["netns", "del", NS]).output();
    }
}
