//! Finding what goes into a new torrent: the regular files under a directory, in BEP 52's
//! order (each directory's names in byte order, depth first), which a v1 torrent made here
//! uses too, so that a hybrid's two file lists agree. Symbolic links are never followed;
//! sockets, FIFOs and devices hold no data to share. Hidden names (a leading `.`) are left
//! out unless asked for, as mktorrent and qBittorrent do.

use std::fs;
use std::path::{Path, PathBuf};

use super::CreateError;

/// A file to put in the torrent: where it is now, its path components inside the torrent.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub full_path: PathBuf,
    pub components: Vec<String>,
    pub length: u64,
    /// Any execute bit is set: the torrent says so (BEP 47 `attr` "x"), as libtorrent's
    /// `create_torrent` does, so a downloader can restore it.
    pub executable: bool,
}

/// Whether `meta` has any execute bit.
pub(crate) fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// What the walk does with what is not a plain file or directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkPolicy {
    /// Take names that start with `.`.
    pub hidden: bool,
    /// Fail on a link or special file instead of skipping it (the old `create_torrent`).
    pub refuse_odd: bool,
}

/// Something left out, and why ("symbolic link", "FIFO", …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Skipped {
    pub path: PathBuf,
    pub why: &'static str,
}

fn utf8_name(name: &std::ffi::OsStr, full: &Path) -> Result<String, CreateError> {
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CreateError::NotUtf8(full.to_path_buf()))
}

/// The kind of a special file, for the skip report.
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Collects the files under `dir` (see the module header) into `out`, and what was left out
/// into `skipped`.
pub(crate) fn walk(
    dir: &Path,
    policy: WalkPolicy,
    prefix: &mut Vec<String>,
    out: &mut Vec<SourceFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), CreateError> {
    let mut entries = fs::read_dir(dir)
        .and_then(|r| r.collect::<std::io::Result<Vec<_>>>())
        .map_err(io_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let full_path = entry.path();
        let name = utf8_name(&entry.file_name(), &full_path)?;
        let kind = entry.file_type().map_err(io_err(&full_path))?;
        let odd = if kind.is_symlink() {
            Some("symbolic link")
        } else if kind.is_dir() || kind.is_file() {
            None
        } else {
            Some(special_kind(&kind))
        };
        if let Some(why) = odd {
            if policy.refuse_odd {
                return Err(CreateError::Refused(full_path, why));
            }
            skipped.push(Skipped {
                path: full_path,
                why,
            });
            continue;
        }
        if name.starts_with('.') && !policy.hidden {
            skipped.push(Skipped {
                path: full_path,
                why: "hidden",
            });
            continue;
        }
        prefix.push(name);
        if kind.is_dir() {
            walk(&full_path, policy, prefix, out, skipped)?;
        } else {
            let meta = entry.metadata().map_err(io_err(&full_path))?;
            out.push(SourceFile {
                full_path,
                components: prefix.clone(),
                length: meta.len(),
                executable: is_executable(&meta),
            });
        }
        prefix.pop();
    }
    Ok(())
}

/// The torrent's name for `path`: its last component (`.` and paths ending in `/` have
/// none, their canonical form has, except `/`).
pub(crate) fn torrent_name(path: &Path) -> Result<String, CreateError> {
    match path.file_name() {
        Some(name) => utf8_name(name, path),
        None => {
            let canonical = path.canonicalize().map_err(io_err(path))?;
            let name = canonical
                .file_name()
                .ok_or_else(|| CreateError::NoName(path.to_path_buf()))?;
            utf8_name(name, path)
        }
    }
}
