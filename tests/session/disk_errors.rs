//! Disk trouble: a full disk ends the download with one clear `error:` line and never a
//! `complete:` over data that was not written; a read-only output directory is refused at
//! start; a torrent of 10,000 files downloads under a limit of 256 open descriptors.
//!
//! Needs root (or a user namespace) to mount tmpfs; tests/run.sh provides both that and a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// A tmpfs mounted on a directory for the duration of a test, unmounted on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when mounting is not permitted here.
    pub fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        st.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still holds a file there must not make the unmount fail.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// A one-shot download of `t` from the seeder at `peer` into `out`, on loopback.
fn one_shot_args(t: &Torrent, peer: SocketAddr, out: &Path) -> [String; 11] {
    [
        t.path.display().to_string(),
        "--headless".into(),
        "--no-trackers".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--port".into(),
        "0".into(),
        "--peer".into(),
        peer.to_string(),
        "-o".into(),
        out.display().to_string(),
    ]
}

/// Runs ttui against the seeder at `peer` with its output in `out`; `prefix` (e.g. prlimit)
/// wraps the command when given.
fn download_into(t: &Torrent, peer: SocketAddr, out: &Path, prefix: &[String]) -> Finished {
    let mut args: Vec<String> = prefix.to_vec();
    if !prefix.is_empty() {
        args.push(env!("CARGO_BIN_EXE_ttui").to_string());
    }
    args.extend(one_shot_args(t, peer, out));
    if prefix.is_empty() {
        Ttui::run(args, DOWNLOAD_TIMEOUT)
    } else {
        let (cmd, rest) = args
            .split_first()
            .unwrap_or_else(|| panic!("empty command"));
        let dir = out.parent().unwrap_or(out);
        let started = std::time::Instant::now();
        let o = Command::new(cmd)
            .args(rest)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
        Finished {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            elapsed: started.elapsed(),
            log_tail: String::new(),
        }
    }
}

/// A 24 MiB torrent and a libtorrent seed of it.
fn too_big_and_its_seed() -> (Fixture, Torrent, LibtorrentSeeder) {
    let fx = Fixture::single_file("too big.bin", 24 << 20, 31, 18);
    let t = fx.torrent_with("direct.torrent", None, &[]);
    let seeder = LibtorrentSeeder::start(
        &t,
        &fx.data_dir,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    (fx, t, seeder)
}

/// A file size limit (EFBIG: `prlimit --fsize`) never lifts by itself: the download ends
/// with one clear `error:` line, never a `complete:` over data that was not written.
#[test]
fn a_file_size_limit_fails_clearly_and_never_completes() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let (fx, t, seeder) = too_big_and_its_seed();
    let out = fx.dir.path().join("small");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let prefix = bounded(vec![
        "prlimit".into(),
        format!("--fsize={}", 4 << 20),
        "--".into(),
    ]);
    let run = download_into(&t, seeder.addr(), &out, &prefix);
    eprintln!(
        "file size limit: {} after {:.1}s: {}",
        run.status,
        run.elapsed.as_secs_f64(),
        run.stderr.trim()
    );
    assert_eq!(run.status.code(), Some(1), "exit status\n{}", run.stderr);
    assert!(
        !run.stdout.contains("complete:"),
        "claims completion:\n{}",
        last_lines(&run.stdout, 10)
    );
    assert!(
        !run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("100.0%")),
        "progress claims 100%:\n{}",
        last_lines(&run.stdout, 10)
    );
    let lines = error_lines(&run.stderr);
    assert_eq!(
        lines.len(),
        1,
        "expected one error line, got:\n{}",
        run.stderr
    );
    let line = lines[0];
    assert!(
        line.starts_with("error: ") && line.contains("disk full"),
        "{line}"
    );
}

/// A full disk (ENOSPC, a tmpfs the test mounts, filled up but for part of the download)
/// holds a one-shot download, it does not end it: the progress line says `disk full` with the
/// free space; once the test deletes its filler the download goes on by itself and completes
/// byte-identical, with no check of what was written.
#[test]
fn a_full_disk_holds_a_one_shot_until_space_returns() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let (fx, t, seeder) = too_big_and_its_seed();
    let out = fx.dir.path().join("small");
    let Some(mount) = Tmpfs::mount(&out, "size=32m") else {
        panic!("cannot mount a tmpfs here (tests/run.sh runs the suite as root)");
    };
    // 16 MiB taken: the 24 MiB download runs out of space two thirds of the way.
    let filler = out.join("filler");
    fs::write(&filler, vec![7u8; 16 << 20]).unwrap();
    let mut ttui = Ttui::spawn(one_shot_args(&t, seeder.addr(), &out));
    ttui.wait_for_stdout("the disk full line", DOWNLOAD_TIMEOUT, |s| {
        s.lines()
            .any(|l| l.contains("disk full: ") && l.contains(" free, resumes by itself once"))
    });
    let held = ttui.stdout_now();
    assert!(!held.contains("complete:"), "{}", last_lines(&held, 10));
    fs::remove_file(&filler).unwrap();
    let run = ttui.wait(DOWNLOAD_TIMEOUT);
    assert!(
        run.status.success(),
        "{}\n{}\n{}",
        run.status,
        last_lines(&run.stdout, 10),
        run.stderr
    );
    assert!(
        run.stdout.contains("complete:"),
        "{}",
        last_lines(&run.stdout, 10)
    );
    assert!(
        run.log_tail.contains("disk space is back"),
        "{}",
        run.log_tail
    );
    assert!(
        !run.stdout.contains("checking"),
        "nothing checked again: {}",
        last_lines(&run.stdout, 20)
    );
    assert_same_tree(&fx.data_dir.join(&t.name), &out.join(&t.name));
    drop(mount);
}

#[test]
fn read_only_output_directory_is_refused_at_start() {
    let fx = Fixture::single_file("ro.bin", 1 << 20, 32, 16);
    let ro = fx.dir.path().join("ro");
    let Some(_mount) = Tmpfs::mount(&ro, "ro,size=1m") else {
        panic!(
            "cannot mount a read-only tmpfs at {} (tests need root; run tests/run.sh)",
            ro.display()
        );
    };
    // The directory itself, and a folder ttui would have to create inside it.
    for out in [ro.clone(), ro.join("sub")] {
        let run = Ttui::run(
            [
                fx.torrent.path.display().to_string(),
                "--headless".into(),
                "--no-trackers".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--port".into(),
                "0".into(),
                "-o".into(),
                out.display().to_string(),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(
            run.status.code(),
            Some(1),
            "{}: exit status\n{}",
            out.display(),
            run.stderr
        );
        assert!(
            run.elapsed < Duration::from_secs(10),
            "took {:?} to refuse",
            run.elapsed
        );
        let lines = error_lines(&run.stderr);
        assert_eq!(
            lines.len(),
            1,
            "expected one error line, got:\n{}",
            run.stderr
        );
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains("read-only"),
            "unclear error for {}: {}",
            out.display(),
            lines[0]
        );
        assert!(!run.stdout.contains("complete:"), "{}", run.stdout);
    }
}

/// Descriptor limit for both ttui processes of the many-files test: far below the file count.
const NOFILE: u32 = 256;
const MANY: usize = 10_000;

/// `MANY` small files (0 to 4 KiB, some empty) in 100 folders under `parent/many files`.
fn make_many_files(parent: &Path) -> PathBuf {
    let root = parent.join("many files");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..MANY {
        let dir = root.join(format!("d{:02}", i % 100));
        if i < 100 {
            fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        let len = (next() % 4097) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let path = dir.join(format!("f{i:05}.bin"));
        let mut f = fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f.write_all(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    root
}

/// `prlimit --nofile=N:N --`: the limit applies to the command it execs, soft and hard.
fn nofile_prefix() -> Vec<String> {
    vec![
        "prlimit".into(),
        format!("--nofile={NOFILE}:{NOFILE}"),
        "--".into(),
    ]
}

/// `timeout` around the download: `download_into` waits for its command without a deadline.
fn bounded(prefix: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "timeout".into(),
        "-k".into(),
        "5".into(),
        DOWNLOAD_TIMEOUT.as_secs().to_string(),
    ];
    out.extend(prefix);
    out
}

#[test]
fn ten_thousand_files_download_under_a_256_descriptor_limit() {
    require_loopback_only();
    let _swarm = swarm_lock();
    let dir = tempfile::Builder::new()
        .prefix("ttui-many-files-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = dir.path().join("data");
    let payload = make_many_files(&data_dir);
    // 64 KiB pieces: most pieces span dozens of files.
    let t = mktorrent(&payload, 16, &dir.path().join("many.torrent"));

    // The seeder runs under the same limit, so reads go through the file pool too.
    let port = free_port();
    let mut cmd = Command::new("prlimit");
    cmd.args(&nofile_prefix()[1..])
        .arg(env!("CARGO_BIN_EXE_ttui"))
        .arg("seed")
        .arg(&t.path)
        .arg("-o")
        .arg(&data_dir)
        .args(["--headless", "--no-trackers", "--bind", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", dir.path())
        .current_dir(dir.path());
    let mut seeder = Proc::spawn("ttui-seed", &mut cmd, dir.path());
    seeder.wait_for_stdout("ttui to seed 10,000 files", "seeding", WAIT);
    let limits = fs::read_to_string(format!("/proc/{}/limits", seeder.pid())).unwrap_or_default();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(&format!(" {NOFILE} "))),
        "the seeder does not run under the limit:\n{limits}"
    );

    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let peer = SocketAddr::from(([127, 0, 0, 1], port));
    let run = download_into(&t, peer, &out, &bounded(nofile_prefix()));
    assert!(
        run.status.success(),
        "download of {MANY} files under nofile={NOFILE} failed ({}) after {:.1}s\n{}\n{}\n{}",
        run.status,
        run.elapsed.as_secs_f64(),
        last_lines(&run.stdout, 10),
        last_lines(&run.stderr, 10),
        seeder.report()
    );
    assert!(
        run.stdout.contains("complete"),
        "exit 0 but no completion line\n{}",
        last_lines(&run.stdout, 10)
    );
    assert_same_tree(&payload, &out.join(&t.name));
    eprintln!(
        "{MANY} files under nofile={NOFILE}: {:.1}s — {}",
        run.elapsed.as_secs_f64(),
        last_lines(&run.stdout, 1)
    );
}
