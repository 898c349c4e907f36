//! `holdfs.py` mounted for one test (`support/fuse_mount.rs`): a file system that holds reads
//! past a chosen offset of chosen files until the test lets go (the script's header says how).
//! Unmounted, and its process killed by pid, on drop, after every hold is let go.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use crate::fuse_mount::FuseMount;

pub struct HoldFs {
    /// Kept for its drop: unmounted after the holds are let go.
    _fuse: FuseMount,
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
        FuseMount::available()
    }

    /// Mounts a fresh one under `root` (its backing files, its mount and its control folder
    /// there), its output in `logs`; returns once it is mounted.
    pub fn start(root: &Path, logs: &Path) -> HoldFs {
        let (backing, mount, control) =
            (root.join("backing"), root.join("mnt"), root.join("control"));
        let fuse = FuseMount::start(
            "holdfs",
            "tests/faces/phases/holdfs.py",
            (&backing, &mount, &control),
            logs,
        );
        HoldFs {
            _fuse: fuse,
            backing,
            mount,
            control,
            holds: Vec::new(),
        }
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
        // Let go first: a process whose read is held cannot even be killed until then. The
        // mount goes after this (`FuseMount`'s drop).
        if !self.holds.is_empty() {
            self.holds.clear();
            let _ = fs::remove_file(self.control.join("holds"));
            sleep(Duration::from_millis(100));
        }
    }
}
