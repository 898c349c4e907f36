//! Making a .torrent from a file or a directory: walk it, read and hash it, and hand what was
//! found to the protocol's one writer of the format (`protocol::metainfo::encode_torrent`).
//! Outside the engine: it needs no session, torrent or peer, only files and SHA-1.
//!
//! Blocking std I/O; call from `spawn_blocking` when inside the runtime.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::protocol::metainfo::encode_torrent;

/// Smallest piece length accepted: the request block size. libtorrent refuses anything smaller
/// or not a multiple of it.
pub(crate) const MIN_PIECE_LENGTH: u32 = 16 * 1024;
/// Largest piece length accepted (mktorrent's limit too); one piece is held in memory.
pub(crate) const MAX_PIECE_LENGTH: u32 = 256 * 1024 * 1024;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A file to put in the torrent: where it is now, its path components inside the torrent.
struct SourceFile {
    full_path: PathBuf,
    components: Vec<String>,
    length: u64,
}

fn utf8_name(name: &std::ffi::OsStr, full: &Path) -> io::Result<String> {
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{} is not valid UTF-8", full.display())))
}

/// Collect the regular files under `dir` in byte order of their names, depth first, so the same
/// tree always gives the same torrent.
fn walk(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<SourceFile>) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let full_path = entry.path();
        let name = utf8_name(&entry.file_name(), &full_path)?;
        let kind = entry.file_type()?;
        prefix.push(name);
        if kind.is_symlink() {
            return Err(invalid(format!(
                "refusing symbolic link {}",
                full_path.display()
            )));
        } else if kind.is_dir() {
            walk(&full_path, prefix, out)?;
        } else if kind.is_file() {
            let length = entry.metadata()?.len();
            out.push(SourceFile {
                full_path,
                components: prefix.clone(),
                length,
            });
        } else {
            return Err(invalid(format!(
                "{} is not a regular file or directory",
                full_path.display()
            )));
        }
        prefix.pop();
    }
    Ok(())
}

/// SHA-1 of every piece of the files concatenated in order.
fn hash_pieces(files: &[SourceFile], piece_length: u32) -> io::Result<Vec<[u8; 20]>> {
    let mut pieces = Vec::new();
    let mut buf = vec![0u8; piece_length as usize];
    let mut filled = 0usize;
    for source in files {
        let mut reader = File::open(&source.full_path)?.take(source.length);
        let mut read_total = 0u64;
        // `filled` is reset to 0 whenever the buffer is full, so this slice always exists.
        while let Some(space) = buf.get_mut(filled..) {
            let n = reader.read(space)?;
            if n == 0 {
                break;
            }
            filled += n;
            read_total += n as u64;
            if filled == buf.len() {
                pieces.push(Sha1::digest(&buf).into());
                filled = 0;
            }
        }
        if read_total != source.length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while it was being hashed",
                    source.full_path.display()
                ),
            ));
        }
    }
    if let Some(tail) = buf.get(..filled).filter(|t| !t.is_empty()) {
        pieces.push(Sha1::digest(tail).into());
    }
    Ok(pieces)
}

/// Build a .torrent (BEP 3, BEP 12 `announce-list`) for the file or directory at `path`.
///
/// A file gives a single-file torrent; a directory gives a multi-file torrent named after it,
/// holding every regular file below it (hidden ones included) in sorted order. Symbolic links
/// and special files are refused rather than followed or skipped, so what is shared is exactly
/// what is there. `piece_length` must be a power of two from 16 KiB to 256 MiB. No creation
/// date is written, so the output depends only on the content.
pub fn create_torrent(
    path: &Path,
    piece_length: u32,
    trackers: &[Vec<String>],
    private: bool,
) -> io::Result<Vec<u8>> {
    if !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&piece_length)
        || !piece_length.is_power_of_two()
    {
        return Err(invalid(format!(
            "piece length {piece_length} is not a power of two from {MIN_PIECE_LENGTH} to \
             {MAX_PIECE_LENGTH}"
        )));
    }
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(invalid(format!(
            "refusing symbolic link {}",
            path.display()
        )));
    }
    let name = match path.file_name() {
        Some(name) => utf8_name(name, path)?,
        // `.` or `/`-ended paths have no file name; the canonical path has, except for `/`.
        None => {
            let canonical = path.canonicalize()?;
            let name = canonical
                .file_name()
                .ok_or_else(|| invalid(format!("{} has no name", path.display())))?;
            utf8_name(name, path)?
        }
    };

    let single_file = meta.is_file();
    let mut files = Vec::new();
    if single_file {
        files.push(SourceFile {
            full_path: path.to_path_buf(),
            components: vec![name.clone()],
            length: meta.len(),
        });
    } else if meta.is_dir() {
        walk(path, &mut Vec::new(), &mut files)?;
    } else {
        return Err(invalid(format!(
            "{} is not a regular file or directory",
            path.display()
        )));
    }
    let total: u64 = files.iter().map(|f| f.length).sum();
    if total == 0 {
        return Err(invalid(format!(
            "nothing to share: {} holds no data",
            path.display()
        )));
    }

    let pieces = hash_pieces(&files, piece_length)?;
    let files: Vec<(Vec<String>, u64)> = if single_file {
        // encode_torrent's sign for a single-file torrent: one entry with an empty path.
        vec![(Vec::new(), total)]
    } else {
        files
            .into_iter()
            .map(|f| (f.components, f.length))
            .collect()
    };
    Ok(encode_torrent(
        &name,
        &files,
        piece_length,
        &pieces,
        trackers,
        private,
        None,
    ))
}

#[cfg(test)]
mod tests;
