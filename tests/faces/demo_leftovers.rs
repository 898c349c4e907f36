//! `ttui demo` leaves nothing in the temporary directory, its children's files included:
//! transmission-daemon 3.00 writes its RPC lock `/tmp/tr_session_id_<id>` (a fixed path; it
//! does not read TMPDIR) and used to leave it behind every run.
//!
//! The demo runs in a mount namespace of its own with an empty tmpfs on /tmp, so what is left
//! there afterwards is exactly what the demo and its children left, whatever else runs on the
//! machine. Needs root (tests/run.sh's loopback namespace gives it).
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Whole demo, Transmission's start included, with room to spare.
const LIMIT: Duration = Duration::from_secs(180);

fn require_loopback_only() {
    if std::env::var("TTUI_ALLOW_HOST_NET").as_deref() == Ok("1") {
        return;
    }
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("read /proc/self/net/dev");
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        ifaces,
        ["lo"],
        "run in a network namespace with only lo (tests/run.sh does)"
    );
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

#[test]
fn demo_leaves_nothing_in_the_temp_dir() {
    require_loopback_only();
    let require = std::env::var("TTUI_REQUIRE_TOOLS").as_deref() == Ok("1");
    let transmission = installed("transmission-daemon") && installed("transmission-remote");
    assert!(
        transmission || !require,
        "transmission-daemon is needed to show its lock file is removed"
    );
    // Logs and any home-directory files go outside the private /tmp, into a directory this test
    // removes.
    let state = tempfile::Builder::new()
        .prefix("demo-leftovers-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("state dir");
    // The checkout itself may live under /tmp (a CI clone): the binary is copied first to a
    // private tmpfs outside /tmp, where the demo's home and logs go too.
    let script = r#"keep=/mnt; [ -d "$keep" ] || keep=/media
mount -t tmpfs ttui-demo-keep "$keep" || exit 90
cp "$0" "$keep/ttui" && mkdir "$keep/home" || exit 91
mount -t tmpfs ttui-demo-tmp /tmp || exit 90
HOME="$keep/home" XDG_STATE_HOME="$keep/home" "$keep/ttui" demo --headless --size-mib 8 --seconds 5
status=$?
echo "--- exit $status; left in /tmp:"
ls -A /tmp
exit $status"#;
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_ttui"))
        .env_remove("TMPDIR")
        .env("HOME", state.path())
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start unshare (util-linux)");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        }),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > LIMIT {
            // The shell and the demo share this process group; the demo's children die with
            // it (parent-death signal).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("demo did not finish in {LIMIT:?}");
        }
        sleep(Duration::from_millis(100));
    };
    let out = readers.0.join().expect("stdout reader");
    let err = readers.1.join().expect("stderr reader");
    assert_ne!(
        status.code(),
        Some(90),
        "could not mount a private /tmp (needs root):\n{err}"
    );
    assert!(status.success(), "demo failed ({status}):\n{out}\n{err}");
    if transmission {
        assert!(
            err.contains("Transmission on 127.0.0.4"),
            "Transmission took part:\n{err}"
        );
    }
    let left: Vec<&str> = out
        .split_once("left in /tmp:\n")
        .map(|(_, rest)| rest.lines().filter(|l| !l.is_empty()).collect())
        .expect("the listing ran");
    assert!(left.is_empty(), "the demo left {left:?} in /tmp\n{err}");
}
