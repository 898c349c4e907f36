//! Making a .torrent from a file or a directory: v1, v2 (BEP 52) or hybrid. Walk it
//! (`walk`), choose the piece length (`piece_size`), hash it on every core (`hash`), and hand
//! what was found to the protocol's one writer of the format
//! (`protocol::metainfo::write_torrent`). Outside the engine: it needs no session, torrent or
//! peer, only files, SHA-1 and SHA-256.
//!
//! Blocking std I/O and threads; call from `spawn_blocking` when inside the runtime.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use sha1::{Digest, Sha1};
use sha2::Sha256;
use thiserror::Error;

use crate::protocol::bencode;
use crate::protocol::metainfo::{write_torrent, NewFile, NewTorrent, CREATED_BY};

mod hash;
pub(crate) mod piece_size;
mod walk;

pub(crate) use crate::protocol::metainfo::MetaVersion;
pub(crate) use piece_size::{auto_piece_length, parse_piece_size};
pub(crate) use walk::Skipped;
use walk::{SourceFile, WalkPolicy};

/// The most memory the hashing threads' piece buffers take together (one piece each).
const BUFFERS: u64 = 1 << 30;

/// Why a torrent could not be made; each one line.
#[derive(Debug, Error)]
pub(crate) enum CreateError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("piece size {0:?} is not a power of two from 16 KiB to 256 MiB (e.g. 256K, 4M)")]
    BadPieceLength(String),
    #[error("nothing to share: {} holds no data", .0.display())]
    Nothing(PathBuf),
    #[error("{} is not valid UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("refusing {1} {path}", path = .0.display())]
    Refused(PathBuf, &'static str),
    #[error("{} is not a regular file or directory", .0.display())]
    NotFileOrDir(PathBuf),
    #[error("{} has no name", .0.display())]
    NoName(PathBuf),
    #[error("{} changed size while it was being hashed", .0.display())]
    Changed(PathBuf),
}

impl CreateError {
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            CreateError::Io { source, .. } => source.kind(),
            CreateError::Changed(_) => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidInput,
        }
    }
}

impl From<CreateError> for io::Error {
    fn from(e: CreateError) -> io::Error {
        io::Error::new(e.io_kind(), e.to_string())
    }
}

/// What goes into the torrent besides the data.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreateOptions {
    pub version: MetaVersion,
    /// None: libtorrent's automatic choice from the total size.
    pub piece_length: Option<u32>,
    /// BEP 12 tiers.
    pub trackers: Vec<Vec<String>>,
    pub web_seeds: Vec<String>,
    pub private: bool,
    pub comment: Option<String>,
    pub source: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    /// Hashing threads; 0: one per core.
    pub threads: usize,
}

/// The files found, before any is read: enough to show a total and what was skipped.
#[derive(Debug)]
pub(crate) struct Scan {
    pub name: String,
    files: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
    pub total: u64,
}

/// A torrent made.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub bytes: Vec<u8>,
    pub name: String,
    pub version: MetaVersion,
    pub info_hash_v1: Option<[u8; 20]>,
    pub info_hash_v2: Option<[u8; 32]>,
    pub piece_length: u32,
    /// v1 and hybrid: pieces of the (padded) stream; v2: the pieces of all files.
    pub pieces: u64,
    pub files: usize,
    pub size: u64,
}

/// Finds the files of `path` (see `walk`). `hidden` takes names starting with `.`.
pub(crate) fn scan(path: &Path, hidden: bool) -> Result<Scan, CreateError> {
    scan_with(
        path,
        WalkPolicy {
            hidden,
            refuse_odd: false,
        },
    )
}

fn scan_with(path: &Path, policy: WalkPolicy) -> Result<Scan, CreateError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.file_type().is_symlink() {
        return Err(CreateError::Refused(path.to_path_buf(), "symbolic link"));
    }
    let name = walk::torrent_name(path)?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let single_file = meta.is_file();
    if single_file {
        files.push(SourceFile {
            full_path: path.to_path_buf(),
            components: Vec::new(),
            length: meta.len(),
            executable: walk::is_executable(&meta),
        });
    } else if meta.is_dir() {
        walk::walk(path, policy, &mut Vec::new(), &mut files, &mut skipped)?;
    } else {
        return Err(CreateError::NotFileOrDir(path.to_path_buf()));
    }
    let total: u64 = files.iter().map(|f| f.length).sum();
    if total == 0 {
        return Err(CreateError::Nothing(path.to_path_buf()));
    }
    Ok(Scan {
        name,
        files,
        skipped,
        total,
    })
}

/// Hashes what `scan` found and writes the torrent. `done` counts the bytes hashed.
pub(crate) fn build(
    scan: &Scan,
    opts: &CreateOptions,
    done: &AtomicU64,
) -> Result<Created, CreateError> {
    let piece_length = match opts.piece_length {
        Some(n) => piece_size::check_piece_length(u64::from(n))?,
        None => auto_piece_length(scan.total),
    };
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Each thread holds one piece: at most BUFFERS bytes of them, however many cores.
    let threads = threads.min((BUFFERS / u64::from(piece_length)).max(1) as usize);
    let hashes = hash::hash_files(&scan.files, piece_length, opts.version, threads, done)?;
    let files: Vec<NewFile> = scan
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| NewFile {
            path: f.components.clone(),
            length: f.length,
            pieces_root: hashes.roots.get(i).copied().flatten(),
            piece_layer: hashes.layers.get(i).cloned().unwrap_or_default(),
            executable: f.executable,
        })
        .collect();
    let bytes = write_torrent(&NewTorrent {
        name: &scan.name,
        files: &files,
        piece_length,
        version: opts.version,
        v1_pieces: &hashes.v1_pieces,
        trackers: &opts.trackers,
        web_seeds: &opts.web_seeds,
        private: opts.private,
        source: opts.source.as_deref(),
        comment: opts.comment.as_deref(),
        created_by: opts.created_by.as_deref(),
        creation_date: opts.creation_date,
    });
    let info = bencode::find_info_span(&bytes)
        .ok()
        .and_then(|span| bytes.get(span))
        .unwrap_or_default();
    let piece = u64::from(piece_length);
    let pieces = if opts.version.has_v1() {
        hashes.v1_pieces.len() as u64
    } else {
        scan.files.iter().map(|f| f.length.div_ceil(piece)).sum()
    };
    Ok(Created {
        name: scan.name.clone(),
        version: opts.version,
        info_hash_v1: opts.version.has_v1().then(|| Sha1::digest(info).into()),
        info_hash_v2: opts.version.has_v2().then(|| Sha256::digest(info).into()),
        piece_length,
        pieces,
        files: scan.files.len(),
        size: scan.total,
        bytes,
    })
}

/// Build a v1 .torrent (BEP 3, BEP 12 `announce-list`) for the file or directory at `path`.
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
    piece_size::check_piece_length(u64::from(piece_length))?;
    let scan = scan_with(
        path,
        WalkPolicy {
            hidden: true,
            refuse_odd: true,
        },
    )?;
    let opts = CreateOptions {
        version: MetaVersion::V1,
        piece_length: Some(piece_length),
        trackers: trackers.to_vec(),
        private,
        created_by: Some(CREATED_BY.to_owned()),
        ..CreateOptions::default()
    };
    Ok(build(&scan, &opts, &AtomicU64::new(0))?.bytes)
}

#[cfg(test)]
mod tests;
