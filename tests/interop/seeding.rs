//! ttui as the seeder: aria2 and libtorrent download a multi-file torrent from `ttui seed`
//! through opentracker, two ttui instances holding complementary halves complete each
//! other, and `ttui seed` on unusable or empty directories fails or waits sensibly.
//!
//! Run through tests/run.sh: tests that start third-party clients refuse to run unless the
//! process sits in a network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;
use crate::prereq;

use std::fs::{self, OpenOptions};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use ttui::internals::protocol::metainfo::{Info, Metainfo};

fn load_info(torrent: &Torrent) -> Info {
    let bytes =
        fs::read(&torrent.path).unwrap_or_else(|e| panic!("{}: {e}", torrent.path.display()));
    Metainfo::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", torrent.path.display()))
        .info
}

/// `ttui seed` on 127.0.0.1 with a fixed port, logging to `log`.
fn spawn_seed(torrent: &Torrent, data_dir: &Path, port: u16, log: &Path, extra: &[&str]) -> Ttui {
    spawn_seed_at("127.0.0.1", torrent, data_dir, port, log, extra)
}

/// `ttui seed` bound to `bind`.
fn spawn_seed_at(
    bind: &str,
    torrent: &Torrent,
    data_dir: &Path,
    port: u16,
    log: &Path,
    extra: &[&str],
) -> Ttui {
    let mut args: Vec<String> = vec![
        "seed".into(),
        torrent.path.display().to_string(),
        "-o".into(),
        data_dir.display().to_string(),
        "--headless".into(),
        "--bind".into(),
        bind.into(),
        "--port".into(),
        port.to_string(),
        "--log-file".into(),
        log.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Ttui::spawn(args)
}

/// The state named by the last progress line of a headless run ("checking", "seeding", ...);
/// the line ends with the state, "checking" being followed by its progress.
fn last_progress_state(stdout: &str) -> Option<&str> {
    let line = stdout.lines().rev().find(|l| l.contains('%'))?;
    if line.contains(" checking") {
        return Some("checking");
    }
    line.split_whitespace().last()
}

/// Waits until the seeder has checked its data and says it is seeding.
fn wait_seeding(ttui: &mut Ttui, what: &str) {
    ttui.wait_for_stdout(what, WAIT, |out| {
        last_progress_state(out) == Some("seeding")
    });
}

/// "checked existing data: X of Y pieces verified" from a ttui log file.
fn checked_pieces(log: &Path) -> Option<(u32, u32)> {
    let text = fs::read_to_string(log).ok()?;
    let at = text.rfind("checked existing data: ")? + "checked existing data: ".len();
    let mut words = text[at..].split_whitespace();
    let have = words.next()?.parse().ok()?;
    let _of = words.next()?;
    let total = words.next()?.parse().ok()?;
    Some((have, total))
}

/// Polls `log` until it contains `needle`; panics if ttui exits or WAIT passes first.
fn wait_log(ttui: &mut Ttui, log: &Path, needle: &str) {
    let start = Instant::now();
    while !fs::read_to_string(log).is_ok_and(|t| t.contains(needle)) {
        assert!(
            !ttui.has_exited(),
            "ttui exited before logging {needle:?}\n{}",
            ttui.report()
        );
        assert!(
            start.elapsed() < WAIT,
            "no {needle:?} in {} within {WAIT:?}\n{}",
            log.display(),
            ttui.report()
        );
        sleep(Duration::from_millis(50));
    }
}

/// SIGTERM by pid: ttui's graceful stop (tracker `stopped`, files flushed).
fn sigterm(pid: u32) {
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(st.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
}

#[test]
fn aria2_downloads_from_ttui_seed() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("seeded by ttui", 11, 18);
    assert!(multi_file_len() >= 16 << 20);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("http.torrent", Some(&tracker.http_url()), &[]);
    let log = fx.dir.path().join("seed.log");
    let mut seed = spawn_seed(&t, &fx.data_dir, free_port(), &log, &[]);
    wait_seeding(&mut seed, "ttui to verify the data and seed");
    tracker.wait_seeders(&t.info_hash, 1);

    let out = fx.out_dir("aria2-out");
    let started = Instant::now();
    aria2_download(&t, &out, DOWNLOAD_TIMEOUT);
    eprintln!(
        "aria2 downloaded from ttui in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_same_tree(&fx.payload, &out.join(&t.name));
    assert!(
        !seed.has_exited(),
        "ttui seed exited while serving\n{}",
        seed.report()
    );
    seed.kill();
}

#[test]
fn libtorrent_downloads_from_ttui_seed() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("seeded for libtorrent", 12, 17);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("http.torrent", Some(&tracker.http_url()), &[]);
    let log = fx.dir.path().join("seed.log");
    let mut seed = spawn_seed(&t, &fx.data_dir, free_port(), &log, &[]);
    wait_seeding(&mut seed, "ttui to verify the data and seed");
    tracker.wait_seeders(&t.info_hash, 1);

    let out = fx.out_dir("lt-out");
    let started = Instant::now();
    // The leecher learns ttui's address from the tracker only.
    let mut leecher = LibtorrentPeer::start_leecher(&t, &out, LtOptions::default());
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    eprintln!(
        "libtorrent downloaded from ttui in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_same_tree(&fx.payload, &out.join(&t.name));
    assert!(
        !seed.has_exited(),
        "ttui seed exited while serving\n{}",
        seed.report()
    );
    seed.kill();
}

/// The peers opentracker lists for `info_hash` (compact form), asked as a leecher that
/// leaves again at once (port 1: nobody is dialed there).
fn tracker_peers(tracker: &Opentracker, info_hash: &[u8; 20]) -> Vec<SocketAddr> {
    let ask = |event: &str| {
        let path = format!(
            "/announce?info_hash={}&peer_id=-XX0000-probeprobepr&port=1&uploaded=0\
             &downloaded=0&left=1&compact=1&numwant=50{event}",
            url_encode(info_hash)
        );
        http_get(tracker.addr(), &path).unwrap_or_else(|e| panic!("announce to opentracker: {e}"))
    };
    let body = ask("");
    let _ = ask("&event=stopped");
    let at = find(&body, b"5:peers").expect("a peers key in the tracker's reply") + 7;
    let colon = at + find(&body[at..], b":").expect("a byte string of peers");
    let len: usize = std::str::from_utf8(&body[at..colon])
        .unwrap()
        .parse()
        .unwrap();
    body[colon + 1..colon + 1 + len]
        .chunks_exact(6)
        .map(|c| {
            let ip = std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]);
            SocketAddr::from((ip, u16::from_be_bytes([c[4], c[5]])))
        })
        .collect()
}

/// `--bind 127.0.0.11`: the announces (HTTP and UDP) leave from there, so the tracker lists
/// ttui at the address it listens on, and a libtorrent leecher that knows of it only from the
/// tracker completes from it.
#[test]
fn a_seed_bound_to_an_address_is_listed_there_and_found() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("seeded from its bind address", 14, 17);
    let mut tracker = Opentracker::start(&[fx.torrent.info_hash]);
    for (name, url) in [("udp", tracker.udp_url()), ("http", tracker.http_url())] {
        // A port of its own each round: the same torrent, so the last round's entry stays.
        let bind = SocketAddr::from(([127, 0, 0, 11], free_port()));
        let t = fx.torrent_with(&format!("{name}.torrent"), Some(&url), &[]);
        let log = fx.dir.path().join(format!("seed-{name}.log"));
        let ip = bind.ip().to_string();
        let mut seed = spawn_seed_at(&ip, &t, &fx.data_dir, bind.port(), &log, &[]);
        wait_seeding(&mut seed, "ttui to verify the data and seed");
        tracker.wait_seeders(&t.info_hash, 1);
        let listed = tracker_peers(&tracker, &t.info_hash);
        assert!(
            listed.contains(&bind),
            "over {name}, the tracker lists {listed:?}, not {bind}"
        );
        if name == "http" {
            let out = fx.out_dir("lt-out");
            let mut leecher = LibtorrentPeer::start_leecher(&t, &out, LtOptions::default());
            leecher.wait_done(DOWNLOAD_TIMEOUT);
            assert_same_tree(&fx.payload, &out.join(&t.name));
        }
        seed.kill();
    }
}

/// Copies the file tree at `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

/// Overwrites with zeros every piece for which `wipe` holds, in the payload laid out under
/// `out_dir` (pieces straddle files, so one piece may touch several of them).
fn zero_pieces(out_dir: &Path, info: &Info, wipe: impl Fn(u32) -> bool) -> u32 {
    let mut wiped = 0;
    for index in (0..info.num_pieces()).filter(|&i| wipe(i)) {
        let start = u64::from(index) * u64::from(info.piece_length);
        let end = start + u64::from(info.piece_len(index));
        for f in &info.files {
            let (lo, hi) = (start.max(f.offset), end.min(f.offset + f.length));
            if lo >= hi {
                continue;
            }
            let path: PathBuf = out_dir.join(f.relative_path());
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let zeros = vec![0u8; (hi - lo) as usize];
            file.write_all_at(&zeros, lo - f.offset)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        wiped += 1;
    }
    wiped
}

#[test]
fn two_ttui_halves_complete_each_other() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("two halves", 13, 18);
    let info = load_info(&fx.torrent);
    let n = info.num_pieces();
    let (dir_a, dir_b) = (fx.out_dir("a"), fx.out_dir("b"));
    copy_tree(&fx.data_dir, &dir_a);
    copy_tree(&fx.data_dir, &dir_b);
    let odd = zero_pieces(&dir_a, &info, |i| i % 2 == 1);
    let even = zero_pieces(&dir_b, &info, |i| i % 2 == 0);
    assert_eq!(odd + even, n);

    // Both keep serving once complete (--seed), so whichever finishes first still feeds the
    // other; B dials A, whose port is fixed.
    let torrent = fx.torrent.path.display().to_string();
    let port_a = free_port();
    let (log_a, log_b) = (fx.dir.path().join("a.log"), fx.dir.path().join("b.log"));
    let common_args = |dir: &Path, port: u16, log: &Path| -> Vec<String> {
        vec![
            torrent.clone(),
            "--headless".into(),
            "--seed".into(),
            "--no-trackers".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "-o".into(),
            dir.display().to_string(),
            "--log-file".into(),
            log.display().to_string(),
        ]
    };
    let started = Instant::now();
    let mut a = Ttui::spawn(common_args(&dir_a, port_a, &log_a));
    // ttui listens only once its resume check is done, and retries a refused peer 30 s
    // later; B dials A as soon as A can answer.
    wait_log(
        &mut a,
        &log_a,
        &format!("listening for peers on port {port_a}"),
    );
    let mut b_args = common_args(&dir_b, free_port(), &log_b);
    b_args.extend(["--peer".to_string(), format!("127.0.0.1:{port_a}")]);
    let mut b = Ttui::spawn(b_args);

    for (t, what) in [
        (&mut a, "A to finish and seed"),
        (&mut b, "B to finish and seed"),
    ] {
        t.wait_for_stdout(what, DOWNLOAD_TIMEOUT, |out| {
            last_progress_state(out) == Some("seeding")
        });
    }
    eprintln!(
        "both halves complete in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // Each started from exactly its own half: the wiping really removed pieces.
    assert_eq!(
        checked_pieces(&log_a),
        Some((n - odd, n)),
        "A's resume check"
    );
    assert_eq!(
        checked_pieces(&log_b),
        Some((n - even, n)),
        "B's resume check"
    );

    for (t, name) in [(a, "A"), (b, "B")] {
        sigterm(t.pid());
        let fin = t.wait(WAIT);
        // 130: stopped by a signal, after a clean shutdown.
        assert_eq!(
            fin.status.code(),
            Some(130),
            "{name}: exit status\n{}",
            last_lines(&fin.stderr, 5)
        );
        let want = format!(
            "stopped: {} of {} verified",
            human(multi_file_len()),
            human(multi_file_len())
        );
        assert!(
            fin.stdout.contains(&want),
            "{name}: expected {want:?}\n{}",
            last_lines(&fin.stdout, 5)
        );
    }
    assert_same_tree(&fx.payload, &dir_a.join(&fx.torrent.name));
    assert_same_tree(&fx.payload, &dir_b.join(&fx.torrent.name));
}

fn human(n: u64) -> String {
    ttui::internals::engine::torrent::human(n)
}

/// A read-only bind mount of `src` at `dst`, undone on drop.
struct ReadOnlyBind(PathBuf);

impl ReadOnlyBind {
    fn new(src: &Path, dst: &Path) -> ReadOnlyBind {
        fs::create_dir_all(dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
        let bind = Command::new("mount")
            .arg("--bind")
            .arg(src)
            .arg(dst)
            .status();
        assert!(
            bind.is_ok_and(|s| s.success()),
            "mount --bind {} {} failed (needs root; tests/run.sh provides it)",
            src.display(),
            dst.display()
        );
        let guard = ReadOnlyBind(dst.to_path_buf());
        let ro = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dst)
            .status();
        assert!(
            ro.is_ok_and(|s| s.success()),
            "remounting {} read-only failed",
            dst.display()
        );
        guard
    }
}

impl Drop for ReadOnlyBind {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn seed_refuses_a_read_only_directory() {
    let fx = Fixture::single_file("ro.bin", 3 << 20, 14, 16);
    let ro = fx.dir.path().join("ro");
    let _mount = ReadOnlyBind::new(&fx.data_dir, &ro);
    // The data is all there; ttui still needs a writable directory (it may have to repair it).
    assert_same_tree(&fx.payload, &ro.join(&fx.torrent.name));
    let run = Ttui::run(
        [
            "seed",
            &fx.torrent.path.display().to_string(),
            "-o",
            &ro.display().to_string(),
            "--headless",
            "--no-trackers",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "exit status\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{}",
        run.stderr
    );
    assert!(
        lines[0].starts_with("error: ")
            && lines[0].contains("read-only")
            && lines[0].contains(&*ro.to_string_lossy()),
        "unclear error: {}",
        lines[0]
    );
    assert!(
        !run.stdout.contains("seeding"),
        "claims to seed:\n{}",
        run.stdout
    );
}

#[test]
fn seed_with_missing_data_serves_nothing_and_waits() {
    let fx = Fixture::multi_file("absent payload", 15, 18);
    let empty = fx.out_dir("empty");
    let log = fx.dir.path().join("seed.log");
    let mut seed = spawn_seed(&fx.torrent, &empty, 0, &log, &["--no-trackers"]);
    // It checks, finds nothing, and waits for peers to fetch from instead of claiming to seed.
    seed.wait_for_stdout("a progress line after the check", WAIT, |out| {
        last_progress_state(out).is_some_and(|s| s != "checking")
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !seed.has_exited() {
        sleep(Duration::from_millis(200));
    }
    assert!(
        !seed.has_exited(),
        "ttui seed gave up on an empty directory\n{}",
        seed.report()
    );
    let n = load_info(&fx.torrent).num_pieces();
    assert_eq!(
        checked_pieces(&log),
        Some((0, n)),
        "resume check of an empty directory"
    );
    let out = seed.stdout_now();
    assert_eq!(
        last_progress_state(&out),
        Some("downloading"),
        "state:\n{}",
        last_lines(&out, 3)
    );
    assert!(
        out.lines()
            .filter(|l| l.contains('%'))
            .all(|l| l.trim_start().starts_with("0.0%")),
        "progress moved with no peers:\n{}",
        last_lines(&out, 5)
    );
    sigterm(seed.pid());
    let fin = seed.wait(WAIT);
    assert_eq!(
        fin.status.code(),
        Some(130),
        "exit status\n{}",
        last_lines(&fin.stderr, 5)
    );
    assert!(!fin.stdout.contains("complete:"), "{}", fin.stdout);
    assert!(
        fin.stdout.contains("stopped: 0 B of"),
        "{}",
        last_lines(&fin.stdout, 3)
    );
}

/// transmission-daemon 3.00 leeching one torrent into `save_dir` on its own 127.0.0.x. It
/// never dials loopback peers, so whatever it gets came over a connection the seed dialed.
struct TransmissionLeecher {
    proc: Proc,
    _dir: tempfile::TempDir,
    rpc: String,
    hash: String,
}

impl TransmissionLeecher {
    fn start(torrent: &Torrent, save_dir: &Path) -> TransmissionLeecher {
        let dir = tempdir("ttui-transmission-leech-");
        let settings = ttui::internals::demo::TransmissionSettings {
            ip: loopback_ip(),
            peer_port: free_port(),
            rpc_port: free_port(),
            download_dir: save_dir,
            upload_limit: None,
            encryption: 1,
            message_level: 2,
        };
        let (proc, rpc) = start_transmission("transmission-leecher", dir.path(), &settings);
        let added = Command::new("transmission-remote")
            .arg(&rpc)
            .arg("-a")
            .arg(&torrent.path)
            .output();
        assert!(
            added.as_ref().is_ok_and(|o| o.status.success()),
            "transmission-remote -a failed: {added:?}"
        );
        TransmissionLeecher {
            proc,
            _dir: dir,
            rpc,
            hash: torrent.hash_hex(),
        }
    }

    fn info(&self) -> String {
        Command::new("transmission-remote")
            .args([&self.rpc, "-t", &self.hash, "-i"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn wait_done(&mut self, timeout: Duration) {
        let (rpc, hash) = (self.rpc.clone(), self.hash.clone());
        self.proc
            .wait_until("transmission to finish downloading", timeout, |_| {
                Command::new("transmission-remote")
                    .args([&rpc, "-t", &hash, "-i"])
                    .output()
                    .is_ok_and(|o| {
                        String::from_utf8_lossy(&o.stdout).contains("Percent Done: 100%")
                    })
            });
    }
}

/// Transmission never dials a loopback address, so it gets data from a ttui seed only when
/// the seed dials it: the seed learns of it from the tracker (Transmission announced first)
/// and, complete as it is, dials the leecher.
#[test]
fn transmission_leecher_downloads_from_ttui_seed_that_dials_it() {
    require_loopback_only();
    if !prereq::have_tools(&["transmission-daemon", "transmission-remote", "opentracker"]) {
        return;
    }
    let _swarm = swarm_lock();
    let fx = Fixture::multi_file("seeded for transmission", 13, 18);
    let tracker = Opentracker::start(&[fx.torrent.info_hash]);
    let t = fx.torrent_with("http.torrent", Some(&tracker.http_url()), &[]);
    let out = fx.out_dir("tr-out");
    let mut leecher = TransmissionLeecher::start(&t, &out);
    // The leecher is known to the tracker before the seed's first announce.
    let start = Instant::now();
    while tracker
        .scrape(&t.info_hash)
        .is_none_or(|s| s.incomplete < 1)
    {
        assert!(
            start.elapsed() < WAIT,
            "transmission never announced\n{}",
            leecher.proc.report()
        );
        sleep(Duration::from_millis(200));
    }
    let log = fx.dir.path().join("seed.log");
    let mut seed = spawn_seed(&t, &fx.data_dir, free_port(), &log, &["--no-dht"]);
    wait_seeding(&mut seed, "ttui to verify the data and seed");
    let started = Instant::now();
    leecher.wait_done(DOWNLOAD_TIMEOUT);
    eprintln!(
        "transmission downloaded from ttui in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_same_tree(&fx.payload, &out.join(&t.name));
    let info = leecher.info();
    assert!(
        info.contains("Percent Done: 100%"),
        "transmission not done:\n{info}"
    );
    assert!(
        !seed.has_exited(),
        "ttui seed exited while serving\n{}",
        seed.report()
    );
    seed.kill();
    leecher.proc.kill();
}
