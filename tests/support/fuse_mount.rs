//! A test's own FUSE file system, one of the small Python adversaries over fusepy (Debian's
//! python3-fusepy, over libfuse 2): `SCRIPT BACKING MOUNT CONTROL_DIR`, started, waited for
//! until the mount shows in /proc/self/mounts, and on drop unmounted (lazily when a process
//! still holds a file there) and its process killed by pid. holdfs (tests/faces) and faultfs
//! (tests/session) use it; cutfs, which mounts again after each cut, keeps its own.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::Proc;
use crate::prereq;

/// Mounting and unmounting are quick; this bounds each.
const FS_WAIT: Duration = Duration::from_secs(15);

pub struct FuseMount {
    proc: Option<Proc>,
    pub mount: PathBuf,
}

impl FuseMount {
    /// FUSE (/dev/fuse), fusepy for Debian's python3 and umount; skips (or fails, see
    /// `prereq::skip`) when one is missing.
    pub fn available() -> bool {
        if !prereq::have_tools(&["umount"]) {
            return false;
        }
        let fusepy = Command::new("/usr/bin/python3")
            .args(["-c", "import fusepy"])
            .status()
            .is_ok_and(|s| s.success());
        if !fusepy || !Path::new("/dev/fuse").exists() {
            prereq::skip("python3-fusepy or /dev/fuse is missing");
            return false;
        }
        true
    }

    /// Runs `script` (relative to the repository) on `backing`, mounted at `mount`, with its
    /// `control` folder and its output in `logs` as `label`; returns once it is mounted.
    pub fn start(
        label: &str,
        script: &str,
        (backing, mount, control): (&Path, &Path, &Path),
        logs: &Path,
    ) -> FuseMount {
        for d in [backing, mount, control] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(backing).arg(mount).arg(control);
        let mut fs = FuseMount {
            proc: Some(Proc::spawn(label, &mut cmd, logs)),
            mount: mount.to_path_buf(),
        };
        let start = Instant::now();
        while !fs.is_mounted() {
            if let Some(p) = fs.proc.as_mut() {
                if p.exited() {
                    panic!("{label} exited before it mounted\n{}", p.report());
                }
            }
            assert!(start.elapsed() < FS_WAIT, "{label} never mounted");
            sleep(Duration::from_millis(50));
        }
        fs
    }

    /// The file system vanishes as a pulled disk's does: its server is killed (by pid), so
    /// every operation on it fails (ENOTCONN), then the dead mount is detached (`umount -l`),
    /// leaving the empty mount point. `start` on the same folders brings it back.
    pub fn vanish(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
        // Bounded: the kill takes a moment to reach the kernel's side of the mount.
        let start = Instant::now();
        while self.is_mounted() && start.elapsed() < FS_WAIT {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
            sleep(Duration::from_millis(50));
        }
        assert!(!self.is_mounted(), "{} still mounted", self.mount.display());
    }

    pub fn is_mounted(&self) -> bool {
        let want = self.mount.display().to_string();
        fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(want.as_str()))
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        // After `vanish` (no server left) the mount point may hold its successor's mount.
        if self.proc.is_some() && self.is_mounted() {
            let unmounted = Command::new("umount")
                .arg(&self.mount)
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                // Still open by a process that is about to be killed: detached now, gone
                // with its last user.
                let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
            }
        }
        if let Some(mut p) = self.proc.take() {
            let start = Instant::now();
            while !p.exited() && start.elapsed() < Duration::from_secs(2) {
                sleep(Duration::from_millis(20));
            }
            p.kill();
        }
    }
}
