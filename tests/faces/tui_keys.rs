//! The session screen's limit and move keys end to end: the real `ttui` (its list and detail
//! view, in-process session on loopback, no DHT) in a tmux pane, one complete torrent
//! seeding from a temporary folder. What the keys do is read back through the control
//! socket of the same session, as another terminal would:
//!
//! 1. `t` in the detail view turns turtle mode on (`ttui limit` says so, the screen too);
//!    in-order mode set from another terminal (`ttui files --sequential on`) shows on the
//!    Files tab, and `o` there turns it off (`ttui list --json` says so);
//! 2. `L` on the list opens the session's limits; a bad rate is refused inside the dialog;
//!    `2M` Tab `500K` Enter sets them (`ttui limit` says down 2 MiB/s, up 500 KiB/s);
//! 3. `m`, a folder name completed with Tab, Enter: the data moves there;
//! 4. `q` quits with status 0.
//!
//! Every process is the pane's, killed with it; every file lives in a temporary directory.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::prereq;
use crate::tmux;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tmux::Tmux;

const NAME: &str = "keys-payload.bin";
const BIN: &str = env!("CARGO_BIN_EXE_ttui");
const LONG: Duration = Duration::from_secs(20);

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// `ttui limit` of the session in `state`, or None while it does not answer.
fn limits(state: &Path) -> Option<String> {
    verb(state, &["limit"])
}

/// `ttui ARGS --state-dir STATE`'s output, or None while the session does not answer.
fn verb(state: &Path, args: &[&str]) -> Option<String> {
    run(state, args).ok()
}

/// `ttui ARGS --state-dir STATE`'s output, or its status and error output when it failed.
fn run(state: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env("TTUI_NO_PUBLIC_ROUTERS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Polls `ttui limit` until `pred` holds (at most [`LONG`]).
fn wait_limits(state: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + LONG;
    loop {
        let l = limits(state).unwrap_or_default();
        if pred(&l) {
            return l;
        }
        assert!(
            Instant::now() < end,
            "`ttui limit` never showed {what}:\n{l}"
        );
        sleep(Duration::from_millis(200));
    }
}

#[test]
fn turtle_limits_and_move_from_the_keys() {
    if !prereq::have_tools(&["tmux"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (state, data) = (dir.join("state"), dir.join("data"));
    fs::create_dir_all(data.join("moved-here")).unwrap();
    let payload = data.join(NAME);
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(&payload, &bytes).unwrap();
    let torrent = ttui::internals::create::create_torrent(&payload, 16384, &[], false).unwrap();
    let torrent_path = dir.join("t.torrent");
    fs::write(&torrent_path, torrent).unwrap();
    let log = dir.join("ttui.log");
    let shell = format!(
        "env TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color {} --state-dir {} --no-dht --port 0 \
         --bind 127.0.0.1 -o {} --log-file {} {}; echo KEYS-EXIT=$?; sleep 60",
        quote(Path::new(BIN)),
        quote(&state),
        quote(&data),
        quote(&log),
        quote(&torrent_path),
    );
    let pane = Tmux::start(120, 36, &shell);
    let context = || fs::read_to_string(&log).unwrap_or_default();

    // 1. The detail view opens on the torrent; `t` there: turtle mode on.
    pane.wait_for("the detail view", LONG, context, |s| {
        s.contains(NAME) && s.contains("Peers")
    });
    wait_limits(&state, "the session answering", |l| l.contains("session:"));
    pane.keys(&["t"]);
    wait_limits(&state, "turtle mode on", |l| l.contains("turtle mode: on"));
    pane.wait_for("the status line", LONG, context, |s| {
        s.contains("turtle mode on")
    });

    // In-order mode set by another client is what the Files tab shows; `o` flips it.
    let sequential = || {
        let rows = verb(&state, &["list", "--json"]).unwrap_or_default();
        let rows: serde_json::Value = serde_json::from_str(&rows).unwrap_or_default();
        rows.get(0).and_then(|r| r["sequential"].as_bool())
    };
    pane.keys(&["4"]);
    pane.wait_for("the Files tab, rarest first", LONG, context, |s| {
        s.contains("· rarest first")
    });
    if let Err(e) = run(&state, &["files", "1", "--sequential", "on"]) {
        panic!("ttui files 1 --sequential on: {e}\n{}", context());
    }
    pane.wait_for("in order, set by `ttui files`", LONG, context, |s| {
        s.contains("· in order")
    });
    assert_eq!(sequential(), Some(true));
    pane.keys(&["o"]);
    pane.wait_for("`o` back to rarest first", LONG, context, |s| {
        s.contains("· rarest first") && s.contains("downloading rarest first")
    });
    let end = Instant::now() + LONG;
    while sequential() != Some(false) {
        assert!(Instant::now() < end, "`o` never reached the torrent's line");
        sleep(Duration::from_millis(200));
    }

    // 2. Back to the list: `L` is the session's limits. A bad rate first.
    pane.keys(&["Escape"]);
    pane.wait_for("the list with turtle mode", LONG, context, |s| {
        s.contains("Name") && s.contains("turtle mode")
    });
    pane.keys(&["L"]);
    pane.wait_for("the limits dialog", LONG, context, |s| {
        s.contains("Rate limits: the session")
    });
    pane.type_text("fast");
    pane.keys(&["Enter"]);
    pane.wait_for("the bad rate refused", LONG, context, |s| {
        s.contains("Down: not a rate") && s.contains("Rate limits: the session")
    });
    for _ in 0.."fast".len() {
        pane.keys(&["BSpace"]);
    }
    pane.type_text("2M");
    pane.keys(&["Tab"]);
    pane.type_text("500K");
    pane.keys(&["Enter"]);
    let l = wait_limits(&state, "the new session limits", |l| {
        l.contains("session: down 2 MiB/s, up 500 KiB/s")
    });
    assert!(l.contains("turtle mode: on"), "{l}");
    pane.wait_for("the dialog closed", LONG, context, |s| {
        !s.contains("Rate limits:") && s.contains("session limits: down 2 MiB/s")
    });

    // 3. `m`: prefilled with the data folder; "moved" + Tab completes the folder.
    pane.keys(&["m"]);
    let prefill = format!("to: {}/", data.display());
    pane.wait_for("the move prompt", LONG, context, |s| s.contains(&prefill));
    pane.type_text("moved");
    pane.keys(&["Tab"]);
    pane.wait_for("the folder completed", LONG, context, |s| {
        s.contains("moved-here/")
    });
    pane.keys(&["Enter"]);
    let moved = data.join("moved-here").join(NAME);
    let end = Instant::now() + LONG;
    while !moved.exists() || payload.exists() {
        assert!(
            Instant::now() < end,
            "the data never moved\n{}",
            pane.capture()
        );
        sleep(Duration::from_millis(200));
    }
    assert_eq!(fs::read(&moved).unwrap(), bytes, "moved intact");

    // 4. Quit.
    pane.keys(&["q"]);
    pane.wait_for("ttui to exit with 0", LONG, context, |s| {
        s.contains("KEYS-EXIT=0")
    });
}
