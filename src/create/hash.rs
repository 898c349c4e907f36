//! Hashing a new torrent's data on every core. The data is cut into jobs of one piece each
//! (see `plan`); threads (std's scoped threads: the work is plain blocking reads and hashes,
//! which needs no pool crate) take the next job from one counter, read it with positioned
//! reads into a buffer of their own and hash it. Memory is one piece per thread, whatever
//! the size of the files; results are 20 + 32 bytes a piece.
//!
//! v1 hashes pieces of the files concatenated (a piece may span files); v2 and hybrid cut
//! each file on its own, so a job is one piece of one file: its 16 KiB leaves are hashed
//! into the piece's subtree, and a hybrid's SHA-1 covers the piece plus the zeros of the pad
//! file after it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use sha1::{Digest, Sha1};

use super::walk::SourceFile;
use super::CreateError;
use crate::protocol::merkle::{self, Hash};
use crate::protocol::metainfo::MetaVersion;

/// A part of one file that a job reads.
#[derive(Debug, Clone)]
struct Span {
    file: usize,
    offset: u64,
    len: u64,
}

/// One piece: what to read, and how many zero bytes of padding follow it in the v1 stream.
#[derive(Debug, Clone)]
struct Job {
    spans: Vec<Span>,
    pad: u64,
    /// v2: the piece is all of its file (a file of one piece: its root is the file's).
    whole_file: bool,
}

/// What hashing found: per v1 piece a SHA-1, per file (v2) its root and piece layer.
#[derive(Debug, Default)]
pub(crate) struct Hashes {
    pub v1_pieces: Vec<[u8; 20]>,
    pub roots: Vec<Option<Hash>>,
    pub layers: Vec<Vec<Hash>>,
}

/// The jobs for `files`, in v1 stream order, and for each file the range of its jobs (v2).
fn plan(
    files: &[SourceFile],
    piece: u64,
    version: MetaVersion,
) -> (Vec<Job>, Vec<std::ops::Range<usize>>) {
    let mut jobs = Vec::new();
    let mut ranges = Vec::with_capacity(files.len());
    if version == MetaVersion::V1 {
        let mut current: Vec<Span> = Vec::new();
        let mut filled = 0u64;
        for (i, f) in files.iter().enumerate() {
            let mut offset = 0;
            while offset < f.length {
                let len = (piece - filled).min(f.length - offset);
                current.push(Span {
                    file: i,
                    offset,
                    len,
                });
                offset += len;
                filled += len;
                if filled == piece {
                    jobs.push(Job {
                        spans: std::mem::take(&mut current),
                        pad: 0,
                        whole_file: false,
                    });
                    filled = 0;
                }
            }
            ranges.push(0..0);
        }
        if !current.is_empty() {
            jobs.push(Job {
                spans: current,
                pad: 0,
                whole_file: false,
            });
        }
        return (jobs, ranges);
    }
    // Hybrid pads after each file of a multi-file torrent (encode::v1_layout's rule).
    let padded = version == MetaVersion::Hybrid && files.len() > 1;
    for (i, f) in files.iter().enumerate() {
        let first = jobs.len();
        let mut offset = 0;
        while offset < f.length {
            let len = piece.min(f.length - offset);
            let last = offset + len == f.length;
            jobs.push(Job {
                spans: vec![Span {
                    file: i,
                    offset,
                    len,
                }],
                pad: if padded && last { piece - len } else { 0 },
                whole_file: f.length <= piece,
            });
            offset += len;
        }
        ranges.push(first..jobs.len());
    }
    (jobs, ranges)
}

/// What a job gives: the v1 SHA-1 (v1, hybrid) and the v2 subtree root (v2, hybrid).
type Done = (Option<[u8; 20]>, Option<Hash>);

/// One worker's reusable state: its buffer and the file it has open.
struct Worker<'a> {
    files: &'a [SourceFile],
    buf: Vec<u8>,
    open: Option<(usize, File)>,
}

impl Worker<'_> {
    fn read(&mut self, span: &Span, at: usize) -> Result<(), CreateError> {
        let source = &self.files[span.file];
        let io = |source_err| CreateError::Io {
            path: source.full_path.clone(),
            source: source_err,
        };
        if self.open.as_ref().map(|(i, _)| *i) != Some(span.file) {
            self.open = Some((span.file, File::open(&source.full_path).map_err(io)?));
        }
        let Some((_, file)) = &self.open else {
            return Ok(());
        };
        let len = usize::try_from(span.len).unwrap_or(usize::MAX);
        let Some(dst) = self.buf.get_mut(at..at.saturating_add(len)) else {
            return Ok(());
        };
        file.read_exact_at(dst, span.offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                CreateError::Changed(source.full_path.clone())
            } else {
                io(e)
            }
        })
    }

    fn run(&mut self, job: &Job, piece: u64, version: MetaVersion) -> Result<Done, CreateError> {
        let mut filled = 0usize;
        for span in &job.spans {
            self.read(span, filled)?;
            filled += usize::try_from(span.len).unwrap_or(usize::MAX);
        }
        let data = self.buf.get(..filled).unwrap_or_default();
        let v1 = version.has_v1().then(|| {
            let mut h = Sha1::new();
            h.update(data);
            // The pad file's bytes are zeros; at most one piece of them.
            let zeros = [0u8; 16 * 1024];
            let mut left = job.pad;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                h.update(&zeros[..n]);
                left -= n as u64;
            }
            h.finalize().into()
        });
        let v2 = version.has_v2().then(|| {
            let leaves: Vec<Hash> = data
                .chunks(merkle::BLOCK as usize)
                .map(merkle::leaf)
                .collect();
            if job.whole_file {
                merkle::file_root(&leaves).unwrap_or_default()
            } else {
                merkle::root(&leaves, merkle::blocks_per_piece(piece), [0; 32])
            }
        });
        Ok((v1, v2))
    }
}

/// Hashes `files` for a torrent of `version` with pieces of `piece_length`, on `threads`
/// threads; `done` counts the bytes hashed, for a progress display.
pub(crate) fn hash_files(
    files: &[SourceFile],
    piece_length: u32,
    version: MetaVersion,
    threads: usize,
    done: &AtomicU64,
) -> Result<Hashes, CreateError> {
    let piece = u64::from(piece_length);
    let (jobs, ranges) = plan(files, piece, version);
    let results: Vec<OnceLock<Done>> = jobs.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<CreateError>> = Mutex::new(None);
    let threads = threads.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut worker = Worker {
                    files,
                    buf: vec![0; piece_length as usize],
                    open: None,
                };
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    match worker.run(job, piece, version) {
                        Ok(out) => {
                            if let Some(slot) = results.get(i) {
                                let _ = slot.set(out);
                            }
                            let bytes: u64 = job.spans.iter().map(|s| s.len).sum();
                            done.fetch_add(bytes, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results: Vec<Done> = results
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_default())
        .collect();
    let mut out = Hashes::default();
    if version.has_v1() {
        out.v1_pieces = results.iter().filter_map(|r| r.0).collect();
    }
    if version.has_v2() {
        for (f, range) in files.iter().zip(ranges) {
            let nodes: Vec<Hash> = results
                .get(range)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.1)
                .collect();
            if f.length == 0 {
                out.roots.push(None);
                out.layers.push(Vec::new());
            } else if f.length <= piece {
                out.roots.push(nodes.first().copied());
                out.layers.push(Vec::new());
            } else {
                out.roots.push(Some(merkle::root_from_layer(&nodes, piece)));
                out.layers.push(nodes);
            }
        }
    }
    Ok(out)
}
