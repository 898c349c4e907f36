//! Where a torrent's files go: the checks that keep every path inside the output directory,
//! and creating the files at their final length.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{io_error, storage_error, DiskError};
use crate::protocol::geometry::Geometry;
use crate::protocol::metainfo::Info;
use crate::protocol::text::shorten;

/// The parser validates this too; checking here keeps every offset computation in this module
/// free of underflow and out-of-range cases whatever `Info` it is handed.
pub(super) fn check_layout(info: &Info) -> Result<Geometry, DiskError> {
    let geometry = Geometry::new(info.piece_length, info.total_length).ok_or_else(|| {
        DiskError::Layout(format!(
            "no piece layout for {} bytes in pieces of {} bytes",
            info.total_length, info.piece_length
        ))
    })?;
    let mut offset = 0u64;
    for entry in &info.files {
        if entry.offset != offset {
            return Err(DiskError::Layout(format!(
                "file {:?} starts at {} instead of {offset}",
                entry.path.join("/"),
                entry.offset
            )));
        }
        offset = offset
            .checked_add(entry.length)
            .ok_or_else(|| DiskError::Layout("total length overflows".into()))?;
    }
    if offset != info.total_length {
        return Err(DiskError::Layout(format!(
            "files add up to {offset} bytes, the torrent says {}",
            info.total_length
        )));
    }
    if info.num_pieces() != geometry.num_pieces() {
        return Err(DiskError::Layout(format!(
            "{} piece hashes for {} pieces",
            info.num_pieces(),
            geometry.num_pieces()
        )));
    }
    Ok(geometry)
}

/// Create `root` if needed, prove it is a writable directory, return its canonical path.
pub(super) fn prepare_root(root: &Path) -> Result<PathBuf, DiskError> {
    let root_error = |source| DiskError::Root {
        root: root.to_path_buf(),
        source,
    };
    match fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => {
            return Err(DiskError::NotADirectory {
                path: root.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(root).map_err(|e| read_only_or(root, e, root_error))?
        }
        Err(e) => return Err(root_error(e)),
    }
    // Permission bits do not tell the truth (root ignores them, a read-only mount ignores
    // them the other way), so try to create a file. Its name is unique in the process: the
    // torrents of a session open their storage in one directory at the same time, and a
    // shared name let one torrent delete another's probe under it.
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = root.join(format!(".ttui-write-probe-{}-{n}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| read_only_or(root, e, root_error))?;
    fs::remove_file(&probe).map_err(root_error)?;
    root.canonicalize().map_err(root_error)
}

fn read_only_or(
    root: &Path,
    e: io::Error,
    other: impl FnOnce(io::Error) -> DiskError,
) -> DiskError {
    if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS) {
        DiskError::ReadOnly {
            root: root.to_path_buf(),
        }
    } else {
        other(e)
    }
}

fn check_component(component: &str) -> Result<(), &'static str> {
    if component.is_empty() {
        Err("empty path component")
    } else if component == "." || component == ".." {
        Err("`.` or `..` path component")
    } else if component.contains('/') || component.contains('\0') {
        Err("path component contains `/` or NUL")
    } else {
        Ok(())
    }
}

/// The paths of one torrent's files under `root`, prepared in the torrent's order: each with
/// its directories created and no existing symlink on the way leading outside `root`
/// (checked before anything is created through it).
///
/// A torrent's files come grouped by directory, and checking a directory costs a `stat` per
/// component plus the `readlink`s of resolving it, eight syscalls or so a file for the
/// 1,000-file torrent of the benchmark. So a file in the directory the previous one checked
/// reuses that check (its own name is still checked, and what is at its path): the checks were
/// only ever true at the moment they ran, and these run milliseconds apart.
pub(super) struct FilePaths<'a> {
    root: &'a Path,
    /// The directory components of the previous file and the directory they checked out to.
    last: Option<(Vec<String>, PathBuf)>,
    /// Directories checked from scratch, for the tests.
    #[cfg(test)]
    dir_checks: usize,
}

impl<'a> FilePaths<'a> {
    pub(super) fn new(root: &'a Path) -> FilePaths<'a> {
        FilePaths {
            root,
            last: None,
            #[cfg(test)]
            dir_checks: 0,
        }
    }

    /// The full path of `components` under the root, checked as the type says.
    pub(super) fn file_path(&mut self, components: &[String]) -> Result<PathBuf, DiskError> {
        let root = self.root;
        let (file_name, dirs) = check_components(components)?;
        let path = match &self.last {
            Some((last, dir)) if last.as_slice() == dirs => dir.join(file_name),
            _ => {
                #[cfg(test)]
                {
                    self.dir_checks += 1;
                }
                let dir = prepare_dirs(root, dirs)?;
                let path = dir.join(file_name);
                self.last = Some((dirs.to_vec(), dir));
                path
            }
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                // A dangling link would make `open(O_CREAT)` create its target wherever it
                // points.
                if fs::metadata(&path).is_err() {
                    return Err(DiskError::PathEscape {
                        path,
                        root: root.to_path_buf(),
                    });
                }
                inside_root(root, &path)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("inspect", &path, e)),
        }
        Ok(path)
    }

    #[cfg(test)]
    pub(super) fn dir_checks(&self) -> usize {
        self.dir_checks
    }
}

/// `FilePaths::file_path` for one file.
pub(super) fn prepare_file_path(root: &Path, components: &[String]) -> Result<PathBuf, DiskError> {
    FilePaths::new(root).file_path(components)
}

fn inside_root(root: &Path, path: &Path) -> Result<(), DiskError> {
    let real = path
        .canonicalize()
        .map_err(|e| io_error("resolve", path, e))?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(DiskError::PathEscape {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
        })
    }
}

/// `components` split into the file's name and its directories, each component checked.
fn check_components(components: &[String]) -> Result<(&String, &[String]), DiskError> {
    let unsafe_path = |reason| DiskError::UnsafePath {
        path: components.join("/"),
        reason,
    };
    let Some((file_name, dirs)) = components.split_last() else {
        return Err(unsafe_path("empty path"));
    };
    for component in components {
        check_component(component).map_err(unsafe_path)?;
    }
    Ok((file_name, dirs))
}

/// The full path of `components` under `root` with its directories created (each checked
/// to resolve inside `root`); the last component itself is not looked at.
fn prepare_parent(root: &Path, components: &[String]) -> Result<PathBuf, DiskError> {
    let (file_name, dirs) = check_components(components)?;
    Ok(prepare_dirs(root, dirs)?.join(file_name))
}

/// The directory `dirs` (checked components) under `root`, created where missing, each step
/// checked to resolve inside `root`.
fn prepare_dirs(root: &Path, dirs: &[String]) -> Result<PathBuf, DiskError> {
    let inside_root = |path: &Path| inside_root(root, path);
    let mut dir = root.to_path_buf();
    for component in dirs {
        dir.push(component);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                inside_root(&dir)?;
                if !dir.is_dir() {
                    return Err(DiskError::NotADirectory { path: dir });
                }
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(DiskError::NotADirectory { path: dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => inside_root(&dir)?,
                Err(e) => return Err(io_error("create directory", &dir, e)),
            },
            Err(e) => return Err(io_error("inspect", &dir, e)),
        }
    }
    // Belt and braces over the per-component checks: the directory as finally resolved.
    inside_root(&dir)?;
    Ok(dir)
}

/// Creates the torrent's links (BEP 47 attr `l`) once its files exist, and returns a line for
/// each one left out. A link is made only when its target, relative to the torrent's
/// directory, stays inside it; it is relative, so moving the folder keeps it working. The
/// parser guarantees that no other entry's path goes through a link's path, so nothing is
/// ever written through one; whatever already stands at a link's path is left alone.
pub(super) fn create_links(root: &Path, info: &Info) -> Vec<String> {
    let mut skipped = Vec::new();
    for entry in info.files.iter().filter(|e| !e.padding) {
        let Some(target) = &entry.symlink else {
            continue;
        };
        if let Err(why) = create_link(root, &entry.path, target) {
            let line = format!(
                "link {:?} → {:?} not created: {why}",
                shorten(&entry.path.join("/")),
                shorten(target)
            );
            tracing::warn!("{line}");
            skipped.push(line);
        }
    }
    skipped
}

/// What the link at `path` (`[name, dirs.., link]`) holds to reach `target`, a `/`-joined
/// path below the torrent's directory; `None` when the target is empty or leaves it.
pub(super) fn link_value(path: &[String], target: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = target.split('/').collect();
    if path.len() < 2
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    // From the link's directory: up to the deepest directory it shares with the target.
    let dirs = path.get(1..path.len() - 1).unwrap_or_default();
    let shared = dirs
        .iter()
        .zip(&parts[..parts.len() - 1])
        .take_while(|(d, p)| d.as_str() == **p)
        .count();
    let mut value = PathBuf::new();
    for _ in shared..dirs.len() {
        value.push("..");
    }
    value.extend(&parts[shared..]);
    Some(value)
}

/// Why one link was left out; its words end up in the torrent's log.
#[derive(Debug, thiserror::Error)]
pub(super) enum LinkError {
    #[error("its target is empty or leaves the torrent's directory")]
    BadTarget,
    #[error("another link is already there")]
    OtherLink,
    #[error("something else is already there")]
    Occupied,
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub(super) fn create_link(root: &Path, path: &[String], target: &str) -> Result<(), LinkError> {
    let value = link_value(path, target).ok_or(LinkError::BadTarget)?;
    let link = prepare_parent(root, path)?;
    match fs::symlink_metadata(&link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if fs::read_link(&link).is_ok_and(|v| v == value) {
                return Ok(());
            }
            Err(LinkError::OtherLink)
        }
        Ok(_) => Err(LinkError::Occupied),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Ok(std::os::unix::fs::symlink(&value, &link)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Open or create `path` at `length` bytes; the flag says whether it was missing or had another
/// length (its content is then known to be missing). `executable` adds the execute bits where
/// the file has read bits (BEP 47 attr `x`).
pub(super) fn open_file(
    path: &Path,
    length: u64,
    executable: bool,
) -> Result<(File, bool), DiskError> {
    let fresh = match fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta.len() != length,
        Ok(_) => {
            return Err(DiskError::NotAFile {
                path: path.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(io_error("inspect", path, e)),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| storage_error("open", path, e))?;
    if fresh {
        file.set_len(length)
            .map_err(|e| storage_error("resize", path, e))?;
    }
    if executable {
        set_executable(&file).map_err(|e| io_error("set the executable bit of", path, e))?;
    }
    Ok((file, fresh))
}

/// Whether nothing is at `path` (a file of another kind there is `open_file`'s error to give).
pub(super) fn missing(path: &Path) -> Result<bool, DiskError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_error("inspect", path, e)),
    }
}

impl super::Storage {
    /// The handle of file `index`, created at its length if `Storage::open` left it for its
    /// first use (its parent directories were made, and its path checked, by `open`). The
    /// new descriptor is the budget's, like any other.
    pub(super) fn create_late(
        &self,
        index: usize,
        file: &super::StoredFile,
    ) -> Result<Arc<File>, DiskError> {
        // The lock guards no data, only the one creation: a poisoned one is as good.
        let _one = self
            .creating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let create = |path: &Path| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            f.set_len(file.length)?;
            if file.executable {
                set_executable(&f)?;
            }
            Ok(f)
        };
        let handle = if file.late.load(Ordering::Acquire) {
            self.handles.get_with(index, &file.path, create)
        } else {
            self.handles.get(index, &file.path)
        };
        let handle = handle.map_err(|e| storage_error("create", &file.path, e))?;
        file.late.store(false, Ordering::Release);
        Ok(handle)
    }

    #[cfg(test)]
    /// Creates every file left for its first use, as first writes would.
    pub(crate) fn create_all(&self) -> Result<(), DiskError> {
        for (index, file) in self.files.iter().enumerate() {
            if file.late.load(Ordering::Acquire) {
                self.create_late(index, file)?;
            }
        }
        Ok(())
    }
}

fn set_executable(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    let wanted = mode | ((mode & 0o444) >> 2);
    if wanted != mode {
        file.set_permissions(fs::Permissions::from_mode(wanted))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
