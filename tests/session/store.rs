//! The state directory on real mounts: a full tmpfs and a read-only mount make saves fail with
//! errors the session can name ("disk full", "read-only") while the last good save stays
//! readable, and a retry after the trouble ends succeeds; a lock held by a process killed with
//! SIGKILL is taken over; 10,000 saved torrents load in one pass (the time is printed).
//!
//! Needs root (or a user namespace) to mount; tests/run.sh provides both.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ttui::internals::engine::session::store::{try_lock, LockError, Resume, Store};

/// A mount on a directory for the duration of a test, unmounted on drop (as in disk_errors.rs).
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str], dir: &Path) -> Option<Mount> {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let ok = Command::new("mount")
            .args(args)
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }

    fn tmpfs(dir: &Path, options: &str) -> Mount {
        Mount::run(&["-t", "tmpfs", "-o", options, "tmpfs"], dir).unwrap_or_else(|| {
            panic!(
                "cannot mount a tmpfs at {} (tests need root; run tests/run.sh)",
                dir.display()
            )
        })
    }

    /// `dir` itself, bound read-only over itself.
    fn read_only(dir: &Path) -> Mount {
        let d = dir.to_str().unwrap();
        let bound = Mount::run(&["--bind", d], dir).expect("bind mount (tests need root)");
        let st = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "remount {d} read-only");
        bound
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy: a file still open there must not make the unmount fail.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn resume(hash: [u8; 20], priorities: usize) -> Resume {
    let mut r = Resume::new(hash, "payload".into(), PathBuf::from("/srv/x"), 1000);
    r.added = 1_700_000_000;
    r.file_priorities = vec![1; priorities];
    r
}

fn free_bytes(dir: &Path) -> u64 {
    rustix::fs::statvfs(dir).map_or(0, |v| v.f_bavail.saturating_mul(v.f_frsize))
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_full_disk_keeps_the_last_good_save_and_a_retry_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let _mount = Mount::tmpfs(&state, "size=256k");
    let store = Store::open(&state).unwrap();
    let hash = [7u8; 20];
    store.save_torrent(&hash, b"d4:infod4:name1:xee").unwrap();
    let small = resume(hash, 10);
    store.save_resume(&small).unwrap();

    // Fill the file system; bounded by its size.
    let filler = state.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let chunk = vec![0xffu8; 4096];
    let mut full = false;
    for _ in 0..(256 * 1024 / 4096 + 8) {
        if let Err(e) = f.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            full = true;
            break;
        }
    }
    assert!(full, "the tmpfs never filled");

    let big = resume(hash, 100_000);
    let e = store.save_resume(&big).unwrap_err();
    assert!(e.is_disk_full(), "{e:?}");
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    let line = e.to_string();
    assert!(
        line.contains("the disk is full") && !line.contains('\n'),
        "{line}"
    );
    // The file being saved is named, not the temporary one.
    assert!(
        line.starts_with("cannot save ") && line.ends_with(".resume: the disk is full"),
        "{line}"
    );
    let e = store
        .save_torrent(&[8u8; 20], &[b'x'; 100_000])
        .unwrap_err();
    assert!(e.is_disk_full(), "{e:?}");
    assert!(
        temporaries(store.dir()).is_empty(),
        "a failed save leaves nothing"
    );

    // The previous save is whole, read by a fresh store as at the next start.
    let loaded = Store::open(&state).unwrap().load_all();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].resume.as_ref().unwrap(), &small);

    // Space again: the retry goes through. The space comes back once no process holds the
    // filler: a child that another test of this process is spawning holds a copy of every
    // descriptor until it runs its program.
    drop(f);
    fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while free_bytes(&state) < 200 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the filler's space never came back: {} bytes free",
            free_bytes(&state)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    store.save_resume(&big).unwrap();
    let loaded = Store::open(&state).unwrap().load_all();
    assert_eq!(loaded[0].resume.as_ref().unwrap(), &big);
}

#[test]
fn a_read_only_state_directory_loads_locks_and_refuses_saves_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hash = [9u8; 20];
    let first = resume(hash, 3);
    {
        let _lock = try_lock(&state).unwrap();
        let store = Store::open(&state).unwrap();
        store.save_torrent(&hash, b"d4:infod4:name1:xee").unwrap();
        store.save_resume(&first).unwrap();
    }
    let never_made = tmp.path().join("empty");
    fs::create_dir(&never_made).unwrap();
    let ro = Mount::read_only(&state);
    let _ro_empty = Mount::read_only(&never_made);

    // The lock file exists, so the session can still start and hold it.
    let lock = try_lock(&state).unwrap();
    assert!(matches!(try_lock(&state), Err(LockError::Held { .. })));
    let store = Store::open(&state).unwrap();
    let loaded = store.load_all();
    assert_eq!(loaded[0].resume.as_ref().unwrap(), &first);
    let mut next = first.clone();
    next.uploaded = 12345;
    let e = store.save_resume(&next).unwrap_err();
    assert!(e.is_read_only(), "{e:?}");
    assert_eq!(e.kind(), std::io::ErrorKind::ReadOnlyFilesystem);
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(store.remove(&hash).unwrap_err().is_read_only());

    // Nothing to lock and nowhere to create it: a clear error, not a panic.
    let e = Store::open(&never_made).unwrap_err();
    assert!(
        e.is_read_only() && e.to_string().contains("read-only"),
        "{e}"
    );
    assert!(matches!(try_lock(&never_made), Err(LockError::Io { .. })));

    // Writable again: the retry succeeds.
    drop(ro);
    store.save_resume(&next).unwrap();
    drop(lock);
    let loaded = Store::open(&state).unwrap().load_all();
    assert_eq!(loaded[0].resume.as_ref().unwrap(), &next);
}

const CHILD_ENV: &str = "TTUI_STORE_LOCK_CHILD";

/// Not a test on its own: the lock holder that `a_lock_of_a_killed_process_is_taken_over`
/// starts (this binary again), which locks, says so, and waits to be killed.
#[test]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let _lock = try_lock(Path::new(&dir)).unwrap();
    println!("locked {}", std::process::id());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_lock_of_a_killed_process_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    // The child test's name in this binary: its module path without the crate's name.
    let child_test = format!(
        "{}::lock_holder_child",
        module_path!().split_once("::").map_or("", |m| m.1)
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child_test.as_str(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest puts "test lock_holder_child ... " before it on the same line.
            if let Some(at) = line.find("locked ") {
                let _ = tx.send(line[at..].to_string());
                return;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let held = try_lock(tmp.path());
    child.kill().unwrap(); // SIGKILL: no destructor runs, the lock file stays
    child.wait().unwrap();
    let line = line.expect("the child never reported its lock");
    match held {
        Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(child.id()), "{line}"),
        other => panic!("expected the child's lock, got {other:?}"),
    }
    let taken = try_lock(tmp.path()).expect("a dead holder's lock is free");
    assert_eq!(
        fs::read_to_string(taken.path()).unwrap().trim(),
        std::process::id().to_string()
    );
}

#[test]
fn ten_thousand_saved_torrents_load_in_one_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let count = 10_000u32;
    for i in 0..count {
        let mut hash = [0u8; 20];
        hash[..4].copy_from_slice(&i.to_be_bytes());
        let mut r = resume(hash, 0);
        r.queue_position = count - i;
        // Written plainly: the point is the cost of loading, not of 10,000 fsyncs.
        fs::write(
            store.resume_path(&hash),
            ttui::internals::engine::session::store::resume::encode(&r),
        )
        .unwrap();
        fs::write(store.torrent_path(&hash), b"d4:infod4:name1:xee").unwrap();
    }
    let started = Instant::now();
    let loaded = Store::open(tmp.path()).unwrap().load_all();
    let elapsed = started.elapsed();
    eprintln!("open + load_all of {count} torrents: {elapsed:?}");
    assert_eq!(loaded.len(), count as usize);
    assert!(loaded.iter().all(|s| s.torrent.is_ok() && s.resume.is_ok()));
    let queue: Vec<u32> = loaded
        .iter()
        .map(|s| s.resume.as_ref().unwrap().queue_position)
        .collect();
    assert!(queue.windows(2).all(|w| w[0] < w[1]), "ordered by queue");
}
