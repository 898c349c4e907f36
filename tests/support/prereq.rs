//! Prerequisites of a test that this crate does not control: an installed third-party tool,
//! python3-libtorrent, the IPv6 loopback address.
//!
//! Inside the test command (tests/run.sh sets `TTUI_REQUIRE_TOOLS=1`; it installs every tool
//! and its namespace has `::1`) a missing prerequisite fails the test. Anywhere else the test
//! is skipped, and the skip is reported as a skip, never as a pass:
//! - the line `SKIPPED: <test>: <reason>` goes straight to the process's stderr (libtest
//!   captures `eprintln!`, so a plain `cargo test` would hide it);
//! - when `TTUI_SKIP_LOG` names a file, `<test>\t<reason>` is appended to it; tests/run.sh
//!   counts those lines as skipped and takes them out of the passed count.
//!
//! A test calls one of the `have_*` functions (or `skip` once) first and returns at once when
//! it says no; a test reports at most one skip and never fails after reporting one.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when a missing prerequisite must fail the test (`TTUI_REQUIRE_TOOLS` set, not "0").
pub fn required() -> bool {
    std::env::var_os("TTUI_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Reports the current test as skipped for `reason`, or panics when prerequisites are
/// required. The caller returns right after.
pub fn skip(reason: &str) {
    if required() {
        panic!("missing prerequisite: {reason} (TTUI_REQUIRE_TOOLS is set)");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // One write each, so lines from parallel tests do not interleave.
    let _ = std::io::stderr().write_all(format!("SKIPPED: {test}: {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os("TTUI_SKIP_LOG") {
        let line = format!("{test}\t{}\n", reason.replace(['\t', '\n'], " "));
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            // An unrecorded skip would be counted as a pass.
            panic!(
                "cannot record the skip in {}: {e}",
                PathBuf::from(log).display()
            );
        }
    }
}

/// Whether `name` (a program on PATH, or a path) is installed; reports nothing.
pub fn installed(name: &str) -> bool {
    if name.contains('/') {
        return PathBuf::from(name).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// True when every program is installed; otherwise skips (or fails, see `skip`).
pub fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !installed(t)).collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!("not installed: {}", missing.join(", ")));
    false
}

/// Whether /usr/bin/python3 can import libtorrent; reports nothing.
pub fn python_libtorrent_installed() -> bool {
    installed("/usr/bin/python3")
        && Command::new("/usr/bin/python3")
            .args(["-c", "import libtorrent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// True when /usr/bin/python3 can import libtorrent; otherwise skips (or fails).
pub fn have_python_libtorrent() -> bool {
    if python_libtorrent_installed() {
        return true;
    }
    skip("python3-libtorrent is not installed");
    false
}

/// True when a socket can bind `[::1]`; otherwise skips (or fails).
pub fn have_ipv6_loopback() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            skip(&format!("no IPv6 loopback (bind [::1]: {e})"));
            false
        }
    }
}
