//! The payloads of the session tests: small files of deterministic bytes, their torrents
//! (64 KiB pieces), and the row fields `list --json` documents.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{make_single_file_payload, mktorrent, Torrent};
use crate::kit::row_of;

/// Piece length of every torrent here: 64 KiB, so a few MiB make tens of pieces.
pub const PIECE_LOG2: u32 = 16;
pub const PLEN: u64 = 1 << PIECE_LOG2;

/// A payload and its torrent (announcing to DEAD_TRACKER).
pub struct Payload {
    pub torrent: Torrent,
    /// The payload's file, or its root folder.
    pub root: PathBuf,
    /// The files: path relative to the download dir, length (in the torrent's order).
    pub files: Vec<(PathBuf, u64)>,
    pub pieces: u64,
}

impl Payload {
    /// Writes `data/name` (one file when `files` is `[("", len)]`, else a folder of them) and
    /// `torrents/name.torrent`.
    pub fn make(
        data: &Path,
        torrents: &Path,
        name: &str,
        files: &[(&str, u64)],
        seed: u64,
    ) -> Payload {
        Self::make_with_pieces(data, torrents, name, files, seed, PIECE_LOG2)
    }

    /// `make`, with pieces of 2^`piece_log2` bytes.
    pub fn make_with_pieces(
        data: &Path,
        torrents: &Path,
        name: &str,
        files: &[(&str, u64)],
        seed: u64,
        piece_log2: u32,
    ) -> Payload {
        fs::create_dir_all(torrents).unwrap();
        let root = data.join(name);
        let mut list = Vec::new();
        for (i, (rel, len)) in files.iter().enumerate() {
            let (parent, file) = match rel {
                &"" => (data.to_path_buf(), name.to_string()),
                rel => {
                    let p = root.join(rel);
                    let parent = p.parent().unwrap().to_path_buf();
                    let file = p.file_name().unwrap().to_string_lossy().into_owned();
                    (parent, file)
                }
            };
            fs::create_dir_all(&parent).unwrap();
            let path = make_single_file_payload(&parent, &file, *len, seed * 100 + i as u64);
            list.push((path.strip_prefix(data).unwrap().to_path_buf(), *len));
        }
        let torrent = mktorrent(&root, piece_log2, &torrents.join(format!("{name}.torrent")));
        let total: u64 = files.iter().map(|f| f.1).sum();
        Payload {
            torrent,
            root,
            files: list,
            pieces: total.div_ceil(1 << piece_log2),
        }
    }

    pub fn hash(&self) -> String {
        self.torrent.hash_hex()
    }

    pub fn path(&self) -> String {
        self.torrent.path.display().to_string()
    }
}

/// The three payloads most tests use: one file, a folder of three (one in a subfolder), and
/// one file again; each has its own piece count, so a log line's "N of M" names its torrent.
pub fn three_payloads(data: &Path, torrents: &Path) -> Vec<Payload> {
    vec![
        Payload::make(data, torrents, "alpha.bin", &[("", (1 << 20) + 12_345)], 1),
        Payload::make(
            data,
            torrents,
            "beta",
            &[
                ("one.bin", 700_001),
                ("sub/two.bin", 900_003),
                ("three.bin", 400_005),
            ],
            2,
        ),
        Payload::make(data, torrents, "gamma.bin", &[("", (3 << 19) + 7)], 3),
    ]
}

pub fn ids_of(rows: &[Value], payloads: &[Payload]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| row_of(rows, &p.hash())["id"].to_string())
        .collect()
}

/// Fields of a row of `list --json` as the man page documents them (assets/man/scripting.md,
/// which lists a few more).
pub const ROW_FIELDS: &[&str] = &[
    "id",
    "info_hash",
    "name",
    "state",
    "why",
    "progress",
    "wanted_bytes",
    "total_bytes",
    "verified_bytes",
    "downloaded",
    "uploaded",
    "ratio",
    "down_rate",
    "up_rate",
    "peers",
    "seeds",
    "eta_secs",
    "save_path",
    "added",
    "completed",
];

pub fn touch(path: &Path) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
}

/// The pieces that touch file `index` of `p` (files in order, no padding).
pub fn pieces_of_file(p: &Payload, index: usize) -> u64 {
    let offset: u64 = p.files[..index].iter().map(|f| f.1).sum();
    let len = p.files[index].1;
    (offset + len - 1) / PLEN - offset / PLEN + 1
}
