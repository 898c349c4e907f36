//! `holdfs.py` mounted for one test: a file system that holds reads past a chosen offset of
//! chosen files until the test lets go (the script's header says how). Unmounted, and its
//! process killed by pid, on drop, after every hold is let go.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::Proc;
use crate::prereq;

/// Mounting and unmounting are quick; this bounds each.
const FS_WAIT: Duration = Duration::from_secs(15);

pub struct HoldFs {
    proc: Option<Proc>,
    /// The files, as the mount shows them.
    pub backing: PathBuf,
    pub mount: PathBuf,
    control: PathBuf,
    holds: Vec<(u64, String)>,
}

impl HoldFs {
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

    /// Mounts a fresh one under `root` (its backing files, its mount and its control folder
    /// there), its output in `logs`; returns once it is mounted.
    pub fn start(root: &Path, logs: &Path) -> HoldFs {
        let (backing, mount, control) =
            (root.join("backing"), root.join("mnt"), root.join("control"));
        for d in [&backing, &mount, &control] {
            fs::create_dir_all(d).unwrap();
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faces/phases/holdfs.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(&backing).arg(&mount).arg(&control);
        let mut fs = HoldFs {
            proc: Some(Proc::spawn("holdfs", &mut cmd, logs)),
            backing,
            mount,
            control,
            holds: Vec::new(),
        };
        let start = Instant::now();
        while !fs.is_mounted() {
            if let Some(p) = fs.proc.as_mut() {
                if p.exited() {
                    panic!("holdfs exited before it mounted\n{}", p.report());
                }
            }
            assert!(start.elapsed() < FS_WAIT, "holdfs never mounted");
            sleep(Duration::from_millis(50));
        }
        fs
    }

    fn is_mounted(&self) -> bool {
        let want = self.mount.display().to_string();
        fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(want.as_str()))
    }

    /// From now on, a read of `rel` (relative to the mount) that reaches past `offset`
    /// waits, until `release`.
    pub fn hold(&mut self, rel: &str, offset: u64) {
        self.holds.push((offset, rel.to_string()));
        self.write_holds();
    }

    /// Every read held goes on, and none is held any more.
    pub fn release(&mut self) {
        self.holds.clear();
        self.write_holds();
    }

    /// Whether a read of `rel` has been held (the script tells each one once).
    pub fn has_held(&self, rel: &str) -> bool {
        fs::read_to_string(self.control.join("held"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').next() == Some(rel))
    }

    fn write_holds(&self) {
        let text: String = self
            .holds
            .iter()
            .map(|(offset, rel)| format!("{offset}\t{rel}\n"))
            .collect();
        // Renamed into place: the script never reads half a file.
        let tmp = self.control.join("holds.tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, self.control.join("holds")).unwrap();
    }
}

impl Drop for HoldFs {
    fn drop(&mut self) {
        // Let go first: a process whose read is held cannot even be killed until then.
        if !self.holds.is_empty() {
            self.holds.clear();
            let _ = fs::remove_file(self.control.join("holds"));
            sleep(Duration::from_millis(100));
        }
        if self.is_mounted() {
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
