//! The config file, `ttui config`, `ttui completions`, `ttui man` and the watch directory,
//! through the binary. Everything lives in temp dirs; the daemon talks to loopback only and
//! is stopped by its pid.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ttui");

/// `ttui` with every XDG directory (and HOME) inside `home`, so no real config or session of
/// the machine is seen or touched.
fn ttui(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("TTUI_NO_PUBLIC_ROUTERS", "1")
        .current_dir(home)
        .stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run ttui")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The row of `ttui config` for `key`, split on whitespace.
fn row(out: &str, key: &str) -> Vec<String> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} row in:\n{out}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn config_shows_each_value_and_where_it_came_from() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("seedbox.toml");
    std::fs::write(
        &file,
        "port = 7000\nmax_peers = 80\nencryption = \"require\"\nwatch_dir = \"/srv/watch\"\n",
    )
    .unwrap();
    let out = run(ttui(home.path())
        .args(["config", "--config"])
        .arg(&file)
        .args(["--max-peers", "9"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(row(&s, "port")[1..], ["7000", "config", "file"]);
    assert_eq!(row(&s, "encryption")[1..], ["require", "config", "file"]);
    assert_eq!(row(&s, "max_peers")[1..], ["9", "flag"]);
    assert_eq!(row(&s, "bind")[1..], ["0.0.0.0", "default"]);
    assert_eq!(row(&s, "port_mapping")[1..], ["on", "default"]);
    assert_eq!(row(&s, "port_mapping_lease")[1..], ["2h", "default"]);
    assert_eq!(
        row(&s, "port_mapping_igd")[1..],
        ["(found", "by", "SSDP)", "default"]
    );
    assert!(
        s.contains(&format!("config file      {}", file.display())),
        "{s}"
    );
    assert!(s.contains("control socket"), "{s}");
    assert!(row(&s, "watch").contains(&"/srv/watch".to_string()), "{s}");
}

#[test]
fn the_default_file_is_read_and_no_config_reads_none() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/ttui");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "port = 7001\n").unwrap();
    let s = text(&run(ttui(home.path()).arg("config")).stdout);
    assert_eq!(row(&s, "port")[1..], ["7001", "config", "file"]);
    let s = text(&run(ttui(home.path()).args(["config", "--no-config"])).stdout);
    assert_eq!(row(&s, "port")[1..], ["6881", "default"]);
}

#[test]
fn a_bad_config_file_is_one_line_naming_the_line() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.toml");
    std::fs::write(&file, "port = 1\nprot = 2\n").unwrap();
    let out = run(ttui(home.path()).args(["config", "--config"]).arg(&file));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("line 2") && err.contains("prot"), "{err}");
    // A daemon does not start on a broken config either.
    let out = run(ttui(home.path()).args(["daemon", "--config"]).arg(&file));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn completions_and_man_page_are_generated() {
    let home = tempfile::tempdir().unwrap();
    let out = run(ttui(home.path()).args(["completions", "bash"]));
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains("_ttui") && s.contains("complete"), "{s}");
    assert!(s.contains("--watch-dir"), "completions know every flag");
    let out = run(ttui(home.path()).args(["completions", "fish"]));
    assert!(text(&out.stdout).contains("complete -c ttui"));
    let out = run(ttui(home.path()).arg("man"));
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains(".TH ttui 1") && s.contains(".SH NAME"), "{s}");
}

/// The daemon, stopped with SIGTERM (then SIGKILL) by its pid when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_dropped_torrent_is_added_and_garbage_is_marked_invalid() {
    let home = tempfile::tempdir().unwrap();
    let (state, watch, data) = (
        home.path().join("state-dir"),
        home.path().join("watch"),
        home.path().join("data-in"),
    );
    for d in [&watch, &data] {
        std::fs::create_dir_all(d).unwrap();
    }
    let payload = data.join("payload.bin");
    std::fs::write(&payload, vec![7u8; 40_000]).unwrap();
    let torrent = ttui::internals::create::create_torrent(&payload, 16384, &[], false).unwrap();

    let log = home.path().join("daemon.log");
    let child = ttui(home.path())
        .args(["daemon", "--no-config", "--no-dht", "--port", "0", "--bind"])
        .args(["127.0.0.1", "--state-dir"])
        .arg(&state)
        .arg("--watch-dir")
        .arg(&watch)
        .arg("-o")
        .arg(&data)
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);

    // Written elsewhere and moved in, as a careful tool would; the garbage is written in place.
    std::fs::write(home.path().join("good.torrent"), &torrent).unwrap();
    std::fs::rename(home.path().join("good.torrent"), watch.join("good.torrent")).unwrap();
    std::fs::write(watch.join("junk.torrent"), b"this is not bencode").unwrap();
    std::fs::write(watch.join("notes.txt"), b"left alone").unwrap();
    let magnet = "magnet:?xt=urn:btih:00112233445566778899aabbccddeeff00112233&dn=dropped";
    std::fs::write(watch.join("m.magnet"), format!("{magnet}\n")).unwrap();

    let log_tail = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("good.torrent.added", Duration::from_secs(30), || {
        watch.join("good.torrent.added").exists()
    });
    wait_for("junk.torrent.invalid", Duration::from_secs(30), || {
        watch.join("junk.torrent.invalid").exists()
    });
    wait_for("m.magnet.added", Duration::from_secs(30), || {
        watch.join("m.magnet.added").exists()
    });
    assert!(!watch.join("good.torrent").exists());
    assert!(
        watch.join("notes.txt").exists(),
        "other files are left alone"
    );
    assert!(
        log_tail().contains("junk.torrent is invalid"),
        "{}",
        log_tail()
    );

    // The session's list is a snapshot, refreshed on its own tick: ask until it shows.
    let list = || {
        let out = run(ttui(home.path())
            .args(["list", "--json", "--no-config", "--state-dir"])
            .arg(&state));
        assert!(out.status.success(), "{}", text(&out.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: Vec<String> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect();
        names
    };
    let mut names = Vec::new();
    wait_for(
        "the torrent in `ttui list`",
        Duration::from_secs(30),
        || {
            names = list();
            names.len() >= 2
        },
    );
    names.sort();
    assert_eq!(names, ["dropped", "payload.bin"]);
    let stopping = Instant::now();
    drop(daemon);
    eprintln!("the daemon stopped in {:?}", stopping.elapsed());
}
