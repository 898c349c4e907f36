//! The watch directory (`--watch-dir`, or `watch_dir` in the config): every `*.torrent` or
//! `*.magnet` file dropped there is added to the session and renamed `*.added`, or
//! `*.invalid` with the reason in the log, so it is never tried twice.
//!
//! It polls every [`POLL`] instead of using inotify: a drop folder is not latency-sensitive,
//! polling needs no new crate, and it works the same on network filesystems (NFS, SMB,
//! FUSE mounts), where seedboxes often keep such folders and inotify sees nothing. A file is
//! taken only once its size and mtime are the same in two polls in a row, so one still being
//! copied in is left alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::engine::api::{AddOptions, AddSource, Added, Client, RequestError};
use crate::engine::host::load::MAX_TORRENT_SIZE;

/// How often the directory is listed.
pub(crate) const POLL: Duration = Duration::from_secs(2);
/// Most files added in one poll; the rest wait for the next (a burst of thousands does not
/// stall the session).
pub(crate) const MAX_PER_POLL: usize = 16;
/// Most directory entries looked at in one poll.
const MAX_ENTRIES: usize = 4096;

/// What the last poll saw of each candidate: its size and mtime.
type Seen = HashMap<PathBuf, (u64, Option<SystemTime>)>;

/// Watches `dir` for as long as the session takes requests.
pub(crate) fn spawn(dir: PathBuf, client: Client) {
    tokio::spawn(async move {
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            tracing::warn!("watch directory {}: {e}", dir.display());
        }
        tracing::info!("watching {} for .torrent and .magnet files", dir.display());
        let mut seen = Seen::new();
        // Files that could not be renamed: added once, then left alone.
        let mut stuck = HashSet::new();
        let mut last_error = None;
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let ready = match stable_files(&dir, &mut seen, &stuck).await {
                Ok(r) => r,
                Err(e) => {
                    // Once per distinct error, not every poll.
                    let msg = e.to_string();
                    if last_error.as_ref() != Some(&msg) {
                        tracing::warn!("watch directory {}: {msg}", dir.display());
                        last_error = Some(msg);
                    }
                    continue;
                }
            };
            last_error = None;
            for path in ready {
                seen.remove(&path);
                match take(&path, &client).await {
                    Taken::Stopped => return,
                    Taken::Renamed => {}
                    Taken::Stuck => {
                        stuck.insert(path);
                    }
                }
            }
        }
    });
}

/// The candidate files whose size and mtime did not change since the last poll (at most
/// [`MAX_PER_POLL`], none of `skip`); `seen` is updated to this poll.
pub(crate) async fn stable_files(
    dir: &Path,
    seen: &mut Seen,
    skip: &HashSet<PathBuf>,
) -> std::io::Result<Vec<PathBuf>> {
    let mut now = Seen::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut looked = 0;
    while let Some(e) = entries.next_entry().await? {
        looked += 1;
        if looked > MAX_ENTRIES {
            break;
        }
        let path = e.path();
        if kind(&path).is_none() {
            continue;
        }
        let Ok(meta) = e.metadata().await else {
            continue;
        };
        if meta.is_file() {
            now.insert(path, (meta.len(), meta.modified().ok()));
        }
    }
    let mut ready: Vec<PathBuf> = now
        .iter()
        .filter(|(p, v)| seen.get(*p) == Some(v) && !skip.contains(*p))
        .map(|(p, _)| p.clone())
        .collect();
    ready.sort();
    ready.truncate(MAX_PER_POLL);
    *seen = now;
    Ok(ready)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Torrent,
    Magnet,
}

fn kind(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "torrent" => Some(Kind::Torrent),
        "magnet" => Some(Kind::Magnet),
        _ => None,
    }
}

enum Taken {
    Renamed,
    /// Handled, but it could not be renamed.
    Stuck,
    /// The session has stopped.
    Stopped,
}

/// Adds one file and renames it.
async fn take(path: &Path, client: &Client) -> Taken {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let source = match source_of(path, &name).await {
        Ok(s) => s,
        Err(reason) => return mark(path, "invalid", &reason).await,
    };
    match client.add(source, AddOptions::default()).await {
        Err(RequestError::Stopped) => Taken::Stopped,
        Ok(Added::New { id, name: t, .. } | Added::Already { id, name: t, .. }) => {
            let what = format!("torrent {id} {}", crate::fmt::outside(&t, 200));
            mark(path, "added", &what).await
        }
        Err(reason) => mark(path, "invalid", &reason.to_string()).await,
    }
}

/// What the file holds, read within the size cap.
async fn source_of(path: &Path, name: &str) -> Result<AddSource, String> {
    let len = tokio::fs::metadata(path)
        .await
        .map_err(|e| e.to_string())?
        .len();
    if len > MAX_TORRENT_SIZE {
        return Err(format!(
            "larger than {} MiB, so not a .torrent",
            MAX_TORRENT_SIZE >> 20
        ));
    }
    let bytes = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_TORRENT_SIZE {
        return Err("grew past the size cap while being read".into());
    }
    match kind(path) {
        Some(Kind::Magnet) => magnet_line(&bytes).map(AddSource::Magnet),
        _ => Ok(AddSource::Torrent {
            name: name.to_string(),
            bytes,
        }),
    }
}

/// A .magnet file's link: its first non-blank line.
fn magnet_line(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        Some(l) if l.to_ascii_lowercase().starts_with("magnet:") => Ok(l.to_string()),
        _ => Err("no magnet: link on its first line".into()),
    }
}

/// Renames `x.torrent` to `x.torrent.<suffix>` and logs why.
async fn mark(path: &Path, suffix: &str, why: &str) -> Taken {
    let mut to = path.as_os_str().to_owned();
    to.push(".");
    to.push(suffix);
    let why = crate::fmt::outside(why, 300);
    if suffix == "added" {
        tracing::info!("watch: {} added: {why}", path.display());
    } else {
        tracing::warn!("watch: {} is invalid: {why}", path.display());
    }
    match tokio::fs::rename(path, &to).await {
        Ok(()) => Taken::Renamed,
        Err(e) => {
            tracing::warn!("watch: cannot rename {}: {e}", path.display());
            Taken::Stuck
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_is_ready_once_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.torrent");
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::write(&f, b"d4:").unwrap();
        let (mut seen, none) = (Seen::new(), HashSet::new());
        assert!(stable_files(dir.path(), &mut seen, &none)
            .await
            .unwrap()
            .is_empty());
        std::fs::write(&f, b"d4:infod").unwrap();
        assert!(stable_files(dir.path(), &mut seen, &none)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            stable_files(dir.path(), &mut seen, &none).await.unwrap(),
            vec![f.clone()]
        );
        let stuck = HashSet::from([f]);
        assert!(stable_files(dir.path(), &mut seen, &stuck)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_poll_takes_at_most_its_share() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..MAX_PER_POLL + 5 {
            std::fs::write(dir.path().join(format!("{i:03}.MAGNET")), b"m").unwrap();
        }
        let (mut seen, none) = (Seen::new(), HashSet::new());
        stable_files(dir.path(), &mut seen, &none).await.unwrap();
        let ready = stable_files(dir.path(), &mut seen, &none).await.unwrap();
        assert_eq!(ready.len(), MAX_PER_POLL);
    }

    #[test]
    fn a_magnet_file_holds_its_link_on_the_first_line() {
        let link = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            magnet_line(format!("\n  {link}\nmore").as_bytes()),
            Ok(link.into())
        );
        assert!(magnet_line(b"http://example.invalid/x").is_err());
        assert!(magnet_line(&[0xff, 0xfe]).is_err());
        assert!(magnet_line(b"").is_err());
    }
}
