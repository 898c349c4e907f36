//! Deterministic pseudo-random payloads to make torrents of (`ttui demo`, the tests and the
//! benchmarks): the same spec and seed give the same bytes on every machine.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// One file of a generated payload: path relative to the payload directory, size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    pub path: PathBuf,
    pub size: u64,
}

/// The files `make_payload` writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayloadSpec {
    pub files: Vec<PayloadFile>,
}

const MIB: u64 = 1024 * 1024;

impl PayloadSpec {
    pub fn new<P: Into<PathBuf>>(files: impl IntoIterator<Item = (P, u64)>) -> Self {
        PayloadSpec {
            files: files
                .into_iter()
                .map(|(path, size)| PayloadFile {
                    path: path.into(),
                    size,
                })
                .collect(),
        }
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// About 64 MiB in 8 files: nested folders, a name with spaces, sizes that are not multiples
    /// of any piece length (so pieces straddle files) and a 7-byte file. No 0-byte file, because
    /// Transmission does not create those and interop comparisons would trip on it.
    pub fn demo() -> Self {
        PayloadSpec::new([
            ("README.txt", 1_234),
            ("tiny.bin", 7),
            ("video/part1.mkv", 25 * MIB + 12_345),
            ("video/part2.mkv", 20 * MIB + 777),
            ("video/extras/behind the scenes.mkv", 11 * MIB + 54_321),
            ("audio/track01.flac", 5 * MIB + 3),
            ("audio/track02.flac", 3 * MIB - 99_999),
            ("audio/deep/nested/notes.txt", 4_321),
        ])
    }
}

/// splitmix64: tiny, fast and fully specified, so payloads are identical on every platform and
/// with every version of the rand crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        let tail = chunks.into_remainder();
        let bytes = self.next().to_le_bytes();
        for (dst, src) in tail.iter_mut().zip(bytes) {
            *dst = src;
        }
    }
}

/// FNV-1a, to give each file its own stream: a file's content depends only on the seed and its
/// own path, not on what else is in the spec.
fn path_seed(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xCBF2_9CE4_8422_2325, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
        })
}

/// Write the files of `spec` under `dir` (created if missing) with deterministic pseudo-random
/// content: the same seed always gives the same bytes.
pub fn make_payload(dir: &Path, spec: &PayloadSpec, seed: u64) -> io::Result<()> {
    for file in &spec.files {
        let relative_ok = file.path.components().next().is_some()
            && file
                .path
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !relative_ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "payload path {} must be relative without `.` or `..`",
                    file.path.display()
                ),
            ));
        }
    }
    let mut buf = vec![0u8; MIB as usize];
    for file in &spec.files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = File::create(&path)?;
        let mut rng = SplitMix64(seed ^ path_seed(&file.path));
        let mut left = file.size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..n).unwrap_or_default();
            rng.fill(chunk);
            out.write_all(chunk)?;
            left -= n as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
