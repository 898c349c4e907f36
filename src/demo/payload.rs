//! What the demo swarm shares: a payload of nested files written from a fixed seed, and the
//! torrents made of it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::spec::{make_payload, PayloadFile, PayloadSpec};
use crate::create::create_torrent;
use crate::protocol::metainfo::{encode_torrent, Metainfo};

use super::DemoError;

pub(super) const MIB: u64 = 1024 * 1024;
/// The payload's top directory (and the torrent's name).
pub(super) const NAME: &str = "ttui-demo";
/// Makes the payload the same bytes on every run.
const PAYLOAD_SEED: u64 = 0xDE30_2026;

/// `PayloadSpec::demo()` (64 MiB) scaled to `size_mib`: the big files grow or shrink, the small
/// ones stay, so the tree keeps its nested folders, odd sizes and a 7-byte file.
pub(super) fn payload_spec(size_mib: u64) -> PayloadSpec {
    let base = PayloadSpec::demo();
    let small: u64 = base
        .files
        .iter()
        .filter(|f| f.size < MIB)
        .map(|f| f.size)
        .sum();
    let big: u64 = base.total_size() - small;
    let want = (size_mib * MIB).saturating_sub(small).max(1);
    PayloadSpec {
        files: base
            .files
            .into_iter()
            .map(|f| {
                let size = if f.size < MIB {
                    f.size
                } else {
                    ((u128::from(f.size) * u128::from(want)) / u128::from(big.max(1))) as u64
                };
                PayloadFile {
                    path: f.path,
                    size: size.max(1),
                }
            })
            .collect(),
    }
}

/// A power of two of at least 32 KiB giving at most ~1200 pieces: enough cells for a lively
/// piece map, few enough that each piece is visible.
pub(super) fn piece_length_for(total: u64) -> u32 {
    let mut pl: u64 = 32 * 1024;
    while total.div_ceil(pl) > 1200 && pl < 16 * MIB {
        pl *= 2;
    }
    pl as u32
}

/// The part of the payload the in-process ttui seeder holds: the files under `audio/`.
pub(super) fn is_partial_file(path: &Path) -> bool {
    path.starts_with("audio")
}

/// Writes the payload under `payload_dir`, one file at a time so `cancel` stops it between
/// files. Blocking.
pub(super) fn write_payload(
    spec: &PayloadSpec,
    payload_dir: &Path,
    cancel: &Arc<AtomicBool>,
) -> Result<(), DemoError> {
    for file in &spec.files {
        if cancel.load(Ordering::SeqCst) {
            return Err(DemoError::Interrupted);
        }
        let one = PayloadSpec {
            files: vec![file.clone()],
        };
        make_payload(payload_dir, &one, PAYLOAD_SEED).map_err(|e| DemoError::io(payload_dir, e))?;
    }
    Ok(())
}

/// Copies the files the in-process ttui seeder holds from `from` into `to`. Blocking.
pub(super) fn copy_partial(spec: &PayloadSpec, from: &Path, to: &Path) -> Result<(), DemoError> {
    for f in spec.files.iter().filter(|f| is_partial_file(&f.path)) {
        let (src, dst) = (from.join(&f.path), to.join(&f.path));
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DemoError::io(parent, e))?;
        }
        std::fs::copy(&src, &dst).map_err(|e| DemoError::io(&src, e))?;
    }
    Ok(())
}

/// The demo's torrents: one with the tracker tiers for ttui, and one without for the
/// third-party seeders (they are dialed directly; announcing from 127.0.0.x they would
/// register the wrong address).
pub(super) struct Torrents {
    pub meta: Metainfo,
    /// The tracker-less copy, same info hash.
    pub seeders_torrent: PathBuf,
}

/// Hashes `payload_dir` into both torrents and writes them into `dir`. Blocking.
pub(super) fn make_torrents(
    dir: &Path,
    payload_dir: &Path,
    piece_length: u32,
    tiers: &[Vec<String>],
) -> Result<Torrents, DemoError> {
    let torrent_bytes = create_torrent(payload_dir, piece_length, tiers, false)
        .map_err(|e| DemoError::io(payload_dir, e))?;
    let meta = Metainfo::from_bytes(&torrent_bytes)
        .map_err(|e| DemoError::Setup(format!("demo torrent: {e}")))?;
    let torrent_path = dir.join(format!("{NAME}.torrent"));
    std::fs::write(&torrent_path, &torrent_bytes).map_err(|e| DemoError::io(&torrent_path, e))?;
    let seeders_torrent = dir.join("seeders.torrent");
    let files: Vec<(Vec<String>, u64)> = meta
        .info
        .files
        .iter()
        .map(|f| (f.path.iter().skip(1).cloned().collect(), f.length))
        .collect();
    let bare = encode_torrent(
        NAME,
        &files,
        piece_length,
        &meta.info.pieces,
        &[],
        false,
        None,
    );
    let same_hash = Metainfo::from_bytes(&bare).is_ok_and(|m| m.info_hash == meta.info_hash);
    std::fs::write(
        &seeders_torrent,
        if same_hash { &bare } else { &torrent_bytes },
    )
    .map_err(|e| DemoError::io(&seeders_torrent, e))?;
    Ok(Torrents {
        meta,
        seeders_torrent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_payload_has_the_requested_size_and_every_file() {
        for mib in [1, 32, 256, 1024] {
            let spec = payload_spec(mib);
            let total = spec.total_size();
            assert!(total.abs_diff(mib * MIB) < 64, "{mib} MiB gave {total}");
            assert_eq!(spec.files.len(), PayloadSpec::demo().files.len());
            assert!(spec.files.iter().all(|f| f.size > 0));
            assert!(spec.files.iter().any(|f| is_partial_file(&f.path)));
        }
    }

    #[test]
    fn piece_length_keeps_the_map_readable() {
        for mib in [1, 32, 256, 4096] {
            let total = mib * MIB;
            let pl = piece_length_for(total);
            assert!(pl.is_power_of_two() && pl >= 32 * 1024);
            assert!(total.div_ceil(u64::from(pl)) <= 1200, "{mib} MiB: {pl}");
        }
        assert_eq!(piece_length_for(256 * MIB), 256 * 1024);
    }
}
