//! One session per state directory: an exclusive `flock` on `<state-dir>/lock`, which holds the
//! owner's pid for the message a second session prints.
//!
//! `flock` rather than a pid file alone: the kernel drops the lock when its holder dies, even by
//! SIGKILL, so a lock file left behind by a killed process is simply taken over, with no guess
//! about whether a recorded pid is still ours (pids are reused). The file is never removed:
//! unlinking a lock file races with a process that has just opened it. std's `File::try_lock`
//! is `flock(LOCK_EX | LOCK_NB)` on Linux, so no unsafe code or extra crate is needed. The
//! descriptor is close-on-exec, so programs we start never inherit the lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub(crate) const LOCK_FILE: &str = "lock";

/// Held for the session's life; dropping it releases the lock.
#[derive(Debug)]
pub struct SessionLock {
    _file: File,
    path: PathBuf,
}

impl SessionLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is in use by another ttui{}", .dir.display(), .pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Held { dir: PathBuf, pid: Option<u32> },
    #[error("cannot lock {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Takes the state directory's lock (creating `state_dir` and the lock file if needed) or says
/// who holds it. A read-only state directory whose lock file exists is still locked (`flock`
/// works on a read-only descriptor), so a session can start there and report its failing saves.
pub fn try_lock(state_dir: &Path) -> Result<SessionLock, LockError> {
    let path = state_dir.join(LOCK_FILE);
    let io_error = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Err(e) = std::fs::create_dir_all(state_dir) {
        if !state_dir.is_dir() {
            return Err(io_error(e));
        }
    }
    let (mut file, writable) = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(f) => (f, true),
        Err(e) if is_read_only(&e) => (File::open(&path).map_err(|_| io_error(e))?, false),
        Err(e) => return Err(io_error(e)),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(LockError::Held {
                dir: state_dir.to_path_buf(),
                pid: read_pid(&mut file),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
    }
    if writable {
        // Only for the message a second session prints: a failure here costs nothing else.
        let _ = write_pid(&mut file);
    }
    Ok(SessionLock { _file: file, path })
}

fn is_read_only(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS)
}

fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())
}

/// The pid the holder wrote, if it wrote one we can read (it may be mid-write: then `None`).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
