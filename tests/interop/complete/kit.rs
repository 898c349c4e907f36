//! The helpers of tests/interop/complete.rs: scripts, their output, seeders, processes by pid, a
//! tmpfs mount, resume keys.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{free_port, spawn_ttui_seeder, Ttui};
use crate::kit::{bdict, BVal, Daemon};
use crate::payload::Payload;

/// Writes an executable `#!/bin/sh` script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Waits (bounded) until `path` holds `lines` lines; returns its text.
pub fn wait_lines(path: &Path, lines: usize, timeout: Duration, daemon: &mut Daemon) -> String {
    let start = Instant::now();
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= lines {
            return text;
        }
        daemon.assert_alive("the on_complete script");
        assert!(
            start.elapsed() < timeout,
            "{} has {:?} after {timeout:?}, want {lines} lines\n{}",
            path.display(),
            text,
            daemon.report()
        );
        sleep(Duration::from_millis(100));
    }
}

/// The `env -0` dumps a script wrote into `dir` (`env.<pid>`), parsed.
pub fn env_dumps(dir: &Path) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("env.") {
            continue;
        }
        let bytes = fs::read(e.path()).unwrap();
        let vars = bytes
            .split(|&b| b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        out.push(vars);
    }
    out
}

/// One ttui seeder of `p` on 127.0.0.1; returns it and the daemon's `--peer` arguments.
pub fn seeder(p: &Payload, data: &Path) -> (Ttui, Vec<String>) {
    let port = free_port();
    let extra = ["--no-dht", "--bind", "127.0.0.1"];
    let s = spawn_ttui_seeder(&p.torrent.path, data, port, &extra);
    (s, vec!["--peer".into(), format!("127.0.0.1:{port}")])
}

/// The process `pid` is gone, or dead and waiting to be reaped (a zombie).
pub fn is_gone(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    matches!(state, None | Some("Z") | Some("X"))
}

/// Kills by pid, on drop, every process whose pid a script wrote into this file.
pub struct KillListed(pub PathBuf);

impl Drop for KillListed {
    fn drop(&mut self) {
        let text = fs::read_to_string(&self.0).unwrap_or_default();
        for pid in text.split_whitespace().filter(|p| p.parse::<u32>().is_ok()) {
            if !is_gone(pid.parse().unwrap()) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", pid])
                    .status();
            }
        }
    }
}

/// The value of a top-level byte-string key of a resume file (None when absent).
pub fn resume_bytes(path: &Path, key: &str) -> Option<Vec<u8>> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bdict(&bytes)
        .into_iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| match v {
            BVal::Bytes(b) => b,
            other => panic!("{key} is {other:?}"),
        })
}

/// A tmpfs mounted on a directory for one test (a file system of its own: a move there is a
/// copy, not a rename), unmounted on drop. tests/run.sh runs each binary in a mount namespace
/// of its own, so the mount is seen by nothing else.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path) -> Result<Tmpfs, String> {
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512m", "ttui-test"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let done = std::process::Command::new("umount").arg(&self.0).status();
        if !done.is_ok_and(|s| s.success()) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(_) => out.push(e.path()),
                Err(_) => {}
            }
        }
    }
    out
}

pub fn is_temp(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".ttui-moving"))
}
