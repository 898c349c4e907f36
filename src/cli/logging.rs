//! Where the log goes: a file, because the terminal belongs to the UI or the progress lines.
//! The file is kept to [`MAX_LOG_BYTES`]: past it, it becomes `FILE.1` (the one before that is
//! dropped) and a new one begins, so a session that runs for months, or restarts a library of
//! 100,000 torrents often, never fills the user's disk with its log. By size, not by day,
//! which is all `tracing-appender` rotates by; the rename is a few lines, written here.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The size at which the log file is set aside as `FILE.1`: the log takes at most twice this.
pub(crate) const MAX_LOG_BYTES: u64 = 32 << 20;

/// The log file: appended to, and begun again past its limit. Each event is one `write_all`
/// of its whole line (the formatter's), so a line is never split across the two files.
struct LogFile {
    path: PathBuf,
    file: File,
    /// Its length, as far as this process knows (others may append too: a second `ttui`
    /// with the same `--log-file` rotates on its own count, which errs on the late side).
    len: u64,
    limit: u64,
}

impl LogFile {
    fn open(path: &Path, limit: u64) -> std::io::Result<LogFile> {
        let file = append(path)?;
        let len = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            len,
            limit,
        })
    }

    /// `FILE` becomes `FILE.1` and a new `FILE` is opened. If either step fails the old file
    /// goes on being written: a log that grows is better than none.
    fn rotate(&mut self) {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        if std::fs::rename(&self.path, &old).is_err() {
            return;
        }
        if let Ok(file) = append(&self.path) {
            self.file = file;
            self.len = 0;
        }
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.len > 0 && self.len + buf.len() as u64 > self.limit {
            self.rotate();
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Where logs go unless --log-file says otherwise.
pub(crate) fn default_log_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ttui").join("ttui.log")
}

/// Sends tracing output to a file; the terminal belongs to the UI or the progress lines.
pub(crate) fn init_logging(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("log directory {}: {e}", dir.display()))?;
    }
    let file = LogFile::open(path, MAX_LOG_BYTES)
        .map_err(|e| format!("log file {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TTUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past its limit the log is set aside as `FILE.1`, the one before that dropped, and each
    /// line lands whole in one file or the other.
    #[test]
    fn the_log_is_set_aside_past_its_limit_a_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttui.log");
        let mut log = LogFile::open(&path, 100).unwrap();
        for i in 0..10 {
            log.write_all(format!("line {i} {}\n", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        let now = std::fs::read_to_string(&path).unwrap();
        let before = std::fs::read_to_string(dir.path().join("ttui.log.1")).unwrap();
        assert!(
            now.len() <= 100 && before.len() <= 100,
            "{now:?} {before:?}"
        );
        assert!(now.starts_with("line ") && now.ends_with('\n'), "{now:?}");
        assert!(
            now.contains("line 9 "),
            "the last line is in the new file: {now:?}"
        );
        assert!(before.contains("line 7 "), "{before:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "two files at most"
        );
    }

    /// A log already past its limit when opened is set aside at the first line.
    #[test]
    fn a_log_found_too_long_is_set_aside_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttui.log");
        std::fs::write(&path, "y".repeat(500)).unwrap();
        let mut log = LogFile::open(&path, 100).unwrap();
        log.write_all(b"first\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        assert_eq!(
            std::fs::metadata(dir.path().join("ttui.log.1"))
                .unwrap()
                .len(),
            500
        );
    }
}
