//! A disk slower than the swarm: the daemon saves to an ext4 file system on a loop device,
//! mounted `sync` (so each write reaches the device in the writer's own context) and
//! throttled to 1 MiB/s for the daemon's process by the cgroup v1 blkio controller
//! (`blkio.throttle.write_bps_device`; this kernel has no device mapper for dm-delay, and its
//! cgroup v2 hierarchy has no io controller). A libtorrent seeder on loopback sends far
//! faster: the writers' backlog fills, ttui stops reading from its peer, and the explainer
//! says the disk holds it back, with the disk's rate against the peers'.
//!
//! Needs root, loop devices and the blkio controller; without them the case says why and
//! passes as skipped. Everything it makes (the image, the loop device, the mount, the
//! cgroup) is undone when it ends, panicking or not.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// Where the host mounts the blkio hierarchy; tests/run.sh's fresh /sys hides it, and then
/// the case mounts the same hierarchy again in its private mount namespace.
const BLKIO: &str = "/sys/fs/cgroup/blkio";
const WRITE_BPS: u64 = 1 << 20;

/// The loop device mounted on a directory, and the cgroup throttling writes to it.
struct SlowDisk {
    image: PathBuf,
    mount: PathBuf,
    loop_dev: Option<String>,
    mounted: bool,
    cgroup: Option<PathBuf>,
    /// The blkio hierarchy mounted here by the case, when it had to.
    blkio_mount: Option<PathBuf>,
}

impl SlowDisk {
    /// A 96 MiB ext4 on a loop device, mounted `sync` on `mount` (an empty directory).
    fn mount(image: &Path, mount: &Path) -> Result<SlowDisk, String> {
        let mut d = SlowDisk {
            image: image.to_path_buf(),
            mount: mount.to_path_buf(),
            loop_dev: None,
            mounted: false,
            cgroup: None,
            blkio_mount: None,
        };
        let img = image.display().to_string();
        sh("truncate", &["-s", "96M", &img])?;
        let dev = sh("losetup", &["-f", "--show", &img])?;
        d.loop_dev = Some(dev.clone());
        sh("mkfs.ext4", &["-q", &dev])?;
        sh("mount", &["-o", "sync", &dev, &mount.display().to_string()])?;
        d.mounted = true;
        Ok(d)
    }

    /// Throttles `pid`'s writes to the device to `bps` bytes a second.
    fn throttle(&mut self, pid: u32, bps: u64) -> Result<(), String> {
        let dev = self.loop_dev.clone().ok_or("no loop device")?;
        let majmin = sh("lsblk", &["-dno", "MAJ:MIN", &dev])?;
        let root = if Path::new(BLKIO).join("cgroup.procs").exists() {
            PathBuf::from(BLKIO)
        } else {
            let at = self.image.with_extension("blkio");
            fs::create_dir_all(&at).map_err(|e| format!("{}: {e}", at.display()))?;
            sh(
                "mount",
                &[
                    "-t",
                    "cgroup",
                    "-o",
                    "blkio",
                    "ttui-blkio",
                    &at.display().to_string(),
                ],
            )?;
            self.blkio_mount = Some(at.clone());
            at
        };
        let cg = root.join(format!("ttui-explain-disk-{}", std::process::id()));
        fs::create_dir(&cg).map_err(|e| format!("{}: {e}", cg.display()))?;
        self.cgroup = Some(cg.clone());
        let rule = format!("{} {bps}", majmin.trim());
        fs::write(cg.join("blkio.throttle.write_bps_device"), &rule)
            .map_err(|e| format!("write_bps_device {rule}: {e}"))?;
        fs::write(cg.join("cgroup.procs"), pid.to_string())
            .map_err(|e| format!("cgroup.procs: {e}"))?;
        Ok(())
    }
}

impl Drop for SlowDisk {
    fn drop(&mut self) {
        // The daemon has ended by now (the case stops it first), so the cgroup is empty.
        if let Some(cg) = &self.cgroup {
            if let Err(e) = fs::remove_dir(cg) {
                eprintln!("rmdir {}: {e}", cg.display());
            }
        }
        if let Some(at) = &self.blkio_mount {
            let _ = sh("umount", &[&at.display().to_string()]);
        }
        if self.mounted {
            let m = self.mount.display().to_string();
            // Bounded: a busy mount (a writer still closing) gets a few tries.
            for _ in 0..20 {
                if sh("umount", &[&m]).is_ok() {
                    break;
                }
                sleep(Duration::from_millis(250));
            }
        }
        if let Some(dev) = &self.loop_dev {
            if let Err(e) = sh("losetup", &["-d", dev]) {
                eprintln!("{e}");
            }
        }
        let _ = fs::remove_file(&self.image);
    }
}

/// Why the case cannot run here, if it cannot.
fn unsupported() -> Option<String> {
    let cgroups = fs::read_to_string("/proc/cgroups").unwrap_or_default();
    if !cgroups.lines().any(|l| l.starts_with("blkio\t")) {
        return Some("the kernel has no blkio cgroup controller (/proc/cgroups)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no loop devices (/dev/loop-control)".into());
    }
    None
}

pub(super) fn disk_slower_than_the_swarm() {
    if let Some(why) = unsupported() {
        eprintln!("SKIP disk case: {why}");
        return;
    }
    let env = Env::new("ttui-explain-disk-");
    let data = env.root.path().join("data");
    let p = Payload::make(
        &data,
        &env.root.path().join("t"),
        "slowdisk",
        &[("", 48 << 20)],
        60,
    );
    // The daemon saves into env.out: the slow file system goes there.
    let mut disk = SlowDisk::mount(&env.root.path().join("disk.img"), &env.out)
        .unwrap_or_else(|e| panic!("cannot make the slow disk: {e}"));
    let lt = LibtorrentPeer::start(
        &p.torrent,
        &data,
        LtOptions {
            seed_mode: true,
            ..LtOptions::default()
        },
    );
    let peer = lt.addr().to_string();
    let mut d = daemon(&env, &["--no-trackers", "--peer", &peer]);
    disk.throttle(d.pid(), WRITE_BPS)
        .unwrap_or_else(|e| panic!("cannot throttle the daemon: {e}"));
    let id = add(&env, &p);
    let top = wait_top(&env, &mut d, &id, "disk", |f| {
        text(f, "evidence").contains("the disk writes")
    });
    let evidence = text(&top, "evidence");
    assert!(
        evidence.contains("its writers' backlog is full")
            && evidence.contains("reading from peers was held back")
            && evidence.contains("the peers sent up to"),
        "{evidence}"
    );
    assert!(text(&top, "advice").contains("faster"), "{top}");
    assert!(d.term().success());
    drop(disk);
}
