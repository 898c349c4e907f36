//! The rename itself, made by a torrent's new task once the old one has closed its files
//! (`restart.rs`): one rename(2) within the save path, made durable; on failure the session
//! is given the old names back.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::engine::api::{RenameError, Renamed, RequestError, TorrentId};
use crate::engine::torrent::report::Report;
use crate::protocol::metainfo::Metainfo;

/// What the new task renames on disk, and how to undo the slot's names if it cannot.
pub(super) struct OnDisk {
    /// Relative to the save path.
    pub(super) from: PathBuf,
    pub(super) to: PathBuf,
    /// The torrent and its record of names as they were before.
    pub(super) undo: (Arc<Metainfo>, Renamed),
    pub(super) reply: oneshot::Sender<Result<(), RequestError>>,
}

impl OnDisk {
    /// Renames on disk under `root`, off the async threads, and tells the client. On failure
    /// the session gets the old names back and so does the caller: `Some(old torrent)`.
    pub(super) async fn rename(
        self,
        root: &Path,
        id: TorrentId,
        reports: &mpsc::UnboundedSender<(TorrentId, Report)>,
    ) -> Option<Arc<Metainfo>> {
        let (from, to) = (root.join(&self.from), root.join(&self.to));
        let done = tokio::task::spawn_blocking(move || rename_in_place(&from, &to))
            .await
            .unwrap_or_else(|e| Err(RenameError::Disk(e.to_string())));
        match done {
            Ok(()) => {
                // Durable now: the session may drop the journal.
                let _ = reports.send((id, Report::Renamed));
                let _ = self.reply.send(Ok(()));
                None
            }
            Err(e) => {
                let (meta, renamed) = self.undo;
                let undo = Report::Unrenamed(Arc::clone(&meta), Box::new(renamed));
                let _ = reports.send((id, undo));
                let _ = self.reply.send(Err(e.into()));
                Some(meta)
            }
        }
    }
}

/// One rename(2) of a file or folder to a new name in the same directory, made durable.
/// Nothing there yet (not downloaded) is fine: the files are made under the new name.
fn rename_in_place(from: &Path, to: &Path) -> Result<(), RenameError> {
    let disk = |path: &Path, e: io::Error| RenameError::Disk(format!("{}: {e}", path.display()));
    match std::fs::symlink_metadata(from) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(disk(from, e)),
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(RenameError::Exists(to.to_path_buf()));
    }
    std::fs::rename(from, to).map_err(|e| disk(from, e))?;
    if let Some(dir) = to.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| disk(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rename_in_place;
    use crate::engine::api::RenameError;

    #[test]
    fn a_folder_is_renamed_whole_and_nothing_there_yet_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("top"), dir.path().join("new top"));
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/a"), b"bytes").unwrap();
        rename_in_place(&from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("sub/a")).unwrap(), b"bytes");
        assert!(!from.exists());
        // Not downloaded yet: its files will be made under the new name.
        rename_in_place(&dir.path().join("never"), &dir.path().join("made")).unwrap();
        assert!(!dir.path().join("made").exists());
    }

    #[test]
    fn a_target_that_appeared_meanwhile_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&from, b"ours").unwrap();
        std::fs::write(&to, b"theirs").unwrap();
        assert_eq!(
            rename_in_place(&from, &to),
            Err(RenameError::Exists(to.clone()))
        );
        assert_eq!(std::fs::read(&to).unwrap(), b"theirs");
        assert_eq!(std::fs::read(&from).unwrap(), b"ours");
    }
}
