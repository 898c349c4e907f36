//! Torrents from libtorrent's own test corpus (arvidn/libtorrent, `test/test_torrents/`,
//! BSD licence), checked in under tests/fixtures/libtorrent-corpus/: the ones ttui once
//! read otherwise than libtorrent 2.0.8 does. For each, python3-libtorrent and `ttui info`
//! must agree: both load it, with the same size, piece count and hashes (a v2-only torrent's
//! `Info hash` being its v2 hash cut to 20 bytes), or both refuse it, ttui in one line.
//!
//! - `large_piece_size`: a piece of 32,767 blocks, libtorrent's largest;
//! - `symlink_zero_size`: a link without `length`;
//! - `v2_invalid_filename2`: a `file tree` name of slashes alone;
//! - `v2_invalid_file` (a file node without its "" key), `v2_mismatching_metadata` (a
//!   hybrid whose v1 and v2 halves name other files) and `v2_unordered_files` (a v2 info
//!   dictionary whose keys are out of order): refused;
//! - `v2_no_piece_layers` (no `piece layers`), `v2_incomplete_piece_layer` (a layer cut
//!   short), `v2_invalid_piece_layer_root` and `v2_invalid_root_hash` (a layer that does not
//!   hash to its file's `pieces root`): loaded, the wrong layers dropped; `ttui info` says
//!   which files' layers are to be fetched from peers;
//! - `v2_invalid_piece_layer` (a layer that is no string), `v2_invalid_piece_layer_size` and
//!   `v2_non_multiple_piece_layer` (a layer of the wrong length), and
//!   `v2_piece_layer_invalid_file_hash` (a key of 33 bytes): refused; and
//!   `v2_unknown_piece_layer_entry` (a layer of no file of the torrent): loaded, the layer
//!   ignored.
//!
//! The files are as libtorrent has them at commit 069017e3348e8998ad585c86a5b7eba035d47006.
//!
//! Run through tests/run.sh: every test refuses to start unless the process sits in a
//! network namespace whose only interface is `lo`.
// A test crate: it may unwrap, and nothing in it is reachable from outside anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// What a client made of a torrent: its size, pieces and hashes, or that it refused it.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Loaded {
        size: u64,
        pieces: u64,
        hash: String,
        hash_v2: Option<String>,
        /// Every file's size (as `ttui info` prints sizes), pad files included, in order;
        /// not their names, which ttui makes safe in its own way.
        files: Vec<String>,
    },
    Refused,
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libtorrent-corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "torrent"))
        .collect();
    files.sort();
    files
}

/// libtorrent's reading of every file, one line each: `load SIZE PIECES V1|- V2|-` or
/// `refuse WHY`.
fn libtorrent_reads(files: &[PathBuf]) -> Vec<Read> {
    let script = r#"
import sys, libtorrent as lt
for p in sys.argv[1:]:
    try:
        ti = lt.torrent_info(p)
        h = ti.info_hashes()
        v1 = h.v1.to_bytes().hex() if h.has_v1() else "-"
        v2 = h.v2.to_bytes().hex() if h.has_v2() else "-"
        fs = ti.files()
        files = ["%s\t%d" % (fs.file_path(i).replace("\\", "/"), fs.file_size(i)) for i in range(fs.num_files())]
        print("load", ti.total_size(), ti.num_pieces(), v1, v2, "\t" + "\t".join(files))
    except Exception as e:
        print("refuse", str(e).replace("\n", " "))
"#;
    let run = run_bounded(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .args(files),
        Duration::from_secs(60),
    );
    check_success("python3 libtorrent torrent_info", &run);
    let text = String::from_utf8_lossy(&run.stdout);
    let reads: Vec<Read> = text
        .lines()
        .map(|l| {
            let (head, files) = l.split_once('\t').unwrap_or((l, ""));
            let w: Vec<&str> = head.split_whitespace().collect();
            if w[0] == "refuse" {
                return Read::Refused;
            }
            let cells: Vec<&str> = files.split('\t').collect();
            let files = cells
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| humansize::format_size(c[1].parse::<u64>().unwrap(), humansize::BINARY))
                .collect();
            let v2 = (w[4] != "-").then(|| w[4].to_string());
            // A v2-only torrent goes by its v2 hash cut to 20 bytes where a v1 hash goes.
            let hash = if w[3] == "-" {
                w[4][..40].to_string()
            } else {
                w[3].to_string()
            };
            Read::Loaded {
                size: w[1].parse().unwrap(),
                pieces: w[2].parse().unwrap(),
                hash,
                hash_v2: v2,
                files,
            }
        })
        .collect();
    assert_eq!(reads.len(), files.len(), "{text}");
    reads
}

fn field<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(prefix))
}

/// The sizes of the files `ttui info` lists.
fn ttui_files(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| *l != "Files:")
        .skip(1)
        .map(|l| l.trim_start().split("  ").next().unwrap().to_string())
        .collect()
}

fn ttui_reads(file: &Path) -> Read {
    let run = Ttui::run(
        ["info", "--no-config", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    if !run.status.success() {
        let err = run.stderr.trim();
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(err.contains("is not a valid torrent"), "{err}");
        return Read::Refused;
    }
    let out = &run.stdout;
    let size = field(out, "Total size: ")
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .unwrap();
    Read::Loaded {
        size: size.parse().unwrap(),
        pieces: field(out, "Pieces: ").unwrap().trim().parse().unwrap(),
        hash: field(out, "Info hash: ").unwrap().trim().to_string(),
        hash_v2: field(out, "Info hash v2: ").map(|s| s.trim().to_string()),
        files: ttui_files(out),
    }
}

/// The files of the corpus whose piece layers are missing or wrong (libtorrent drops them
/// and asks peers): `ttui info` must say so on a line of its own.
const LACKING_LAYERS: [&str; 4] = [
    "v2_incomplete_piece_layer.torrent",
    "v2_invalid_piece_layer_root.torrent",
    "v2_invalid_root_hash.torrent",
    "v2_no_piece_layers.torrent",
];

#[test]
fn ttui_reads_libtorrents_corpus_as_libtorrent_does() {
    let files = corpus();
    assert!(files.len() >= 6, "{files:?}");
    let want = libtorrent_reads(&files);
    let mut loaded = 0;
    let mut lacking = 0;
    for (file, want) in files.iter().zip(want) {
        let got = ttui_reads(file);
        assert_eq!(got, want, "{}", file.display());
        loaded += usize::from(matches!(got, Read::Loaded { .. }));
        let name = file.file_name().unwrap().to_str().unwrap();
        if LACKING_LAYERS.contains(&name) {
            let out = Ttui::run(
                ["info", "--no-config", file.to_str().unwrap()],
                Duration::from_secs(30),
            )
            .stdout;
            assert!(
                out.lines().any(|l| l.starts_with("Piece layers missing: ")
                    && l.ends_with("they will be fetched from peers:")),
                "{name}: no line about the missing piece layers:\n{out}"
            );
            lacking += 1;
        }
    }
    assert_eq!(lacking, LACKING_LAYERS.len(), "not all in the corpus");
    // Both kinds are exercised: some load, some are refused.
    assert!(loaded >= 3 && loaded < files.len(), "{loaded} loaded");
}
