//! Storage on a hostile file system: a read-only directory, symlinks out of the root, a full
//! disk (a small tmpfs), and the file size limit (SIGXFSZ).

use super::super::*;
use super::*;
use std::fs;
use std::process::Command;

/// A test that cannot run here (not root, no CAP_SYS_ADMIN for a mount), reported the way
/// tests/run.sh counts skips (tests/support/prereq.rs has the same protocol): with
/// `TTUI_REQUIRE_TOOLS` set and not "0" (the test command, which runs as root in a namespace
/// where mounting works) it is a failure; otherwise `SKIPPED: <test>: <reason>` goes straight to
/// stderr and `<test>\t<reason>` is appended to the file `TTUI_SKIP_LOG` names. The caller
/// returns right after.
fn skip(reason: &str) {
    use std::io::Write;
    if std::env::var_os("TTUI_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("cannot run: {reason} (TTUI_REQUIRE_TOOLS is set)");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let _ = std::io::stderr().write_all(format!("SKIPPED: {test}: {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os("TTUI_SKIP_LOG") {
        let line = format!("{test}\t{}\n", reason.replace(['\t', '\n'], " "));
        let written = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        // An unrecorded skip would be counted as a pass.
        if let Err(e) = written {
            panic!(
                "cannot record the skip in {}: {e}",
                Path::new(&log).display()
            );
        }
    }
}

/// A tmpfs mounted for the duration of a test, unmounted on drop.
struct TmpfsMount(PathBuf);

impl TmpfsMount {
    /// `None` when mounting is not possible here (not root, no CAP_SYS_ADMIN).
    fn new(dir: &Path, options: &str) -> Option<Self> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .ok()?;
        status.success().then(|| TmpfsMount(dir.to_path_buf()))
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn read_only_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(10, 4);
    let info = info_for(&[("f", 10)], 16, &data);
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    let _mount;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    }
    if fs::write(ro.join("probe"), b"").is_ok() {
        // Root ignores permission bits; a read-only mount it cannot ignore.
        fs::remove_file(ro.join("probe")).unwrap();
        _mount = TmpfsMount::new(&ro, "ro,size=64k");
        if _mount.is_none() {
            skip("permission bits do not apply and mounting is not possible");
            return;
        }
    }
    for root in [ro.clone(), ro.join("missing")] {
        let err = Storage::open(&root, &info).unwrap_err();
        assert!(matches!(err, DiskError::ReadOnly { .. }), "{err}");
        assert!(err.to_string().ends_with("is read-only"), "{err}");
    }
}

#[test]
fn symlinks_leading_out_of_the_root_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim"), b"precious").unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("t")).unwrap();

    // A directory link: nothing may be created through it.
    symlink(&outside, root.join("t/evil")).unwrap();
    let data = test_data(10, 4);
    let info = info_for(&[("evil/sub/f", 10)], 16, &data);
    let err = Storage::open(&root, &info).unwrap_err();
    assert!(matches!(err, DiskError::PathEscape { .. }), "{err}");
    assert!(!outside.join("sub").exists());

    // A file link to an existing file outside, and a dangling one.
    symlink(outside.join("victim"), root.join("t/link")).unwrap();
    symlink(outside.join("nothing"), root.join("t/dangling")).unwrap();
    for name in ["link", "dangling"] {
        let info = info_for(&[(name, 10)], 16, &data);
        let err = Storage::open(&root, &info).unwrap_err();
        assert!(matches!(err, DiskError::PathEscape { .. }), "{name}: {err}");
    }
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"precious");
    assert!(!outside.join("nothing").exists());

    // A link that stays inside the root is fine.
    fs::create_dir(root.join("t/real")).unwrap();
    symlink(root.join("t/real"), root.join("t/alias")).unwrap();
    let info = info_for(&[("alias/f", 10)], 16, &data);
    Storage::open(&root, &info).unwrap().create_all().unwrap();
    assert!(root.join("t/real/f").is_file());
}

#[test]
fn full_disk_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = TmpfsMount::new(dir.path(), "size=1m") else {
        skip("cannot mount a tmpfs here");
        return;
    };
    let data = test_data(4 << 20, 6);
    let info = info_for(&[("big", 4 << 20)], 16_384, &data);
    // Sparse: creating a 4 MiB file on a 1 MiB filesystem works.
    let storage = Storage::open(dir.path(), &info).unwrap();
    let mut error = None;
    for index in 0..storage.num_pieces() {
        let piece = piece_of(&data, &info, index);
        if let Err(e) = storage.write_piece(index, &blocks_of(&piece, 16_384)) {
            error = Some((index, e));
            break;
        }
    }
    let (index, err) = error.expect("a 1 MiB tmpfs cannot hold 4 MiB");
    assert!(index < 80, "failed only at piece {index}");
    assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
    assert!(err.is_fatal());
    let message = err.to_string();
    assert!(message.starts_with("disk full writing "), "{message}");
    assert!(message.contains("t/big"), "{message}");
    drop(storage);
    drop(mount);
}

const FSIZE_CHILD: &str = "TTUI_DISK_FSIZE_CHILD";

/// Runs this test binary again as `sh -c 'ulimit -f 256; exec …'` (128 KiB limit) to run
/// `fsize_limit_child` in a process of its own.
fn run_fsize_child(mode: &str, dir: &Path) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    // Test names lack the crate name that module_path! starts with.
    let module = module_path!().split_once("::").unwrap().1;
    Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 256 && exec "$0" --exact "$1" --ignored --nocapture"#)
        .arg(exe)
        .arg(format!("{module}::fsize_limit_child"))
        .env(FSIZE_CHILD, mode)
        .env("TTUI_DISK_FSIZE_DIR", dir)
        .output()
        .unwrap()
}

#[test]
fn file_size_limit_gives_an_error_once_sigxfsz_is_ignored() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    // Created at full length here, without the limit, so the child gets as far as writing.
    let data = test_data(256 << 10, 8);
    let info = info_for(&[("f", 256 << 10)], 16_384, &data);
    Storage::open(dir.path(), &info)
        .unwrap()
        .create_all()
        .unwrap();

    let out = run_fsize_child("ignore", dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("fsize child ok"),
        "the child test did not run: {stdout}"
    );

    // Without ignore_sigxfsz the same write kills the process: the test above means something.
    let out = run_fsize_child("default", dir.path());
    assert_eq!(out.status.signal(), Some(libc::SIGXFSZ), "{out:?}");
}

#[test]
#[ignore = "run by file_size_limit_gives_an_error_once_sigxfsz_is_ignored under a ulimit"]
fn fsize_limit_child() {
    let Ok(mode) = std::env::var(FSIZE_CHILD) else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os("TTUI_DISK_FSIZE_DIR").unwrap());
    if mode == "ignore" {
        ignore_sigxfsz();
    }
    let data = test_data(256 << 10, 8);
    let info = info_for(&[("f", 256 << 10)], 16_384, &data);
    let storage = Storage::open(&dir, &info).unwrap();
    // Below the 128 KiB limit: fine. At 128 KiB: EFBIG.
    storage
        .write_piece(0, &[piece_of(&data, &info, 0)])
        .unwrap();
    let err = storage
        .write_piece(8, &[piece_of(&data, &info, 8)])
        .unwrap_err();
    assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
    assert!(err.to_string().starts_with("disk full writing "), "{err}");

    // A new file cannot be created at a length past the limit either (at its first write).
    let info = info_for(&[("g", 256 << 10)], 16_384, &data);
    let storage = Storage::open(&dir.join("other"), &info).unwrap();
    let err = storage
        .write_piece(0, &[piece_of(&data, &info, 0)])
        .unwrap_err();
    assert!(matches!(err, DiskError::DiskFull { .. }), "{err}");
    println!("fsize child ok");
}
