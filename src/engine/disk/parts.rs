//! The parts file: where the bytes of skipped files go when a piece they share with a wanted
//! file is written, so that piece can still be hashed and served while the skipped file is
//! never created. One hidden file per torrent in its save directory, `.<info hash>.parts`.
//!
//! The idea is libtorrent's `part_file`: a header with one slot number per piece, then
//! piece-sized slots handed out as pieces arrive and reused when freed. A slot holds its
//! piece at the same offsets as in the piece; only the ranges of skipped files are written
//! (the rest stays a hole). Layout:
//!
//! ```text
//! "TTPARTS1" | pieces: u32 LE | piece length: u32 LE | slot + 1 per piece: u32 LE (0 = none)
//! | zeros up to a 4 KiB boundary | slot 0 | slot 1 | ...
//! ```
//!
//! A header that does not match the torrent makes the file count as empty: its pieces are
//! then simply missing and fetched again, never served wrong (every piece is hashed before
//! it is trusted, and a restart trusts only what its resume data says).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

const MAGIC: &[u8; 8] = b"TTPARTS1";
const ALIGN: u64 = 4096;

pub(super) struct Parts {
    pub path: PathBuf,
    piece_len: u32,
    num_pieces: u32,
    file: Option<File>,
    /// Piece → slot.
    slots: HashMap<u32, u32>,
    free: Vec<u32>,
    next: u32,
}

impl Parts {
    /// The parts file at `path`, read when it exists and fits the torrent; created only on
    /// the first write.
    pub(super) fn open(path: PathBuf, num_pieces: u32, piece_len: u32) -> Parts {
        let mut parts = Parts {
            path,
            piece_len,
            num_pieces,
            file: None,
            slots: HashMap::new(),
            free: Vec::new(),
            next: 0,
        };
        if let Ok(file) = OpenOptions::new().read(true).write(true).open(&parts.path) {
            if parts.load(&file).is_ok() {
                parts.file = Some(file);
            } else {
                parts.slots.clear();
            }
        }
        parts
    }

    fn load(&mut self, file: &File) -> io::Result<()> {
        let mut head = vec![0u8; 16 + self.num_pieces as usize * 4];
        file.read_exact_at(&mut head, 0)?;
        let slots = parse_header(&head, self.num_pieces, self.piece_len)
            .ok_or(io::ErrorKind::InvalidData)?;
        let mut used: Vec<u32> = slots.iter().map(|(_, s)| *s).collect();
        used.sort_unstable();
        self.next = used.last().map_or(0, |s| s + 1);
        self.free = (0..self.next)
            .filter(|s| used.binary_search(s).is_err())
            .collect();
        self.slots = slots.into_iter().collect();
        Ok(())
    }

    fn data_start(&self) -> u64 {
        (16 + u64::from(self.num_pieces) * 4).div_ceil(ALIGN) * ALIGN
    }

    fn slot_offset(&self, slot: u32) -> u64 {
        self.data_start() + u64::from(slot) * u64::from(self.piece_len)
    }

    pub(super) fn pieces(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.slots.keys().copied().collect();
        out.sort_unstable();
        out
    }

    pub(super) fn has(&self, piece: u32) -> bool {
        self.slots.contains_key(&piece)
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)?;
            let mut head = Vec::with_capacity(16);
            head.extend_from_slice(MAGIC);
            head.extend_from_slice(&self.num_pieces.to_le_bytes());
            head.extend_from_slice(&self.piece_len.to_le_bytes());
            file.write_all_at(&head, 0)?;
            file.set_len(self.data_start())?;
            self.file = Some(file);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("parts file not open"))
    }

    fn set_entry(&mut self, piece: u32, value: u32) -> io::Result<()> {
        let at = 16 + u64::from(piece) * 4;
        self.file()?.write_all_at(&value.to_le_bytes(), at)
    }

    /// Writes `data` at `within` bytes into piece `piece`'s slot, taking a slot if needed.
    pub(super) fn write(&mut self, piece: u32, within: u32, data: &[u8]) -> io::Result<()> {
        if piece >= self.num_pieces
            || u64::from(within) + data.len() as u64 > u64::from(self.piece_len)
        {
            return Err(io::Error::other("range outside the piece"));
        }
        let slot = match self.slots.get(&piece) {
            Some(s) => *s,
            None => {
                let s = self.free.pop().unwrap_or_else(|| {
                    self.next += 1;
                    self.next - 1
                });
                self.set_entry(piece, s + 1)?;
                self.slots.insert(piece, s);
                s
            }
        };
        let at = self.slot_offset(slot) + u64::from(within);
        self.file()?.write_all_at(data, at)
    }

    /// Reads `buf.len()` bytes at `within` bytes into piece `piece`; `NotFound` when the
    /// piece has no slot.
    pub(super) fn read(&mut self, piece: u32, within: u32, buf: &mut [u8]) -> io::Result<()> {
        let Some(slot) = self.slots.get(&piece).copied() else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let at = self.slot_offset(slot) + u64::from(within);
        let file = self.file()?;
        // A hole past the end reads as zeros, as the slot's unwritten ranges are.
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], at + done as u64)? {
                0 => {
                    buf[done..].fill(0);
                    break;
                }
                n => done += n,
            }
        }
        Ok(())
    }

    /// Gives piece `piece`'s slot back; the file goes away with its last slot.
    pub(super) fn free(&mut self, piece: u32) -> io::Result<()> {
        let Some(slot) = self.slots.remove(&piece) else {
            return Ok(());
        };
        if self.slots.is_empty() {
            self.file = None;
            self.free.clear();
            self.next = 0;
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        self.set_entry(piece, 0)?;
        self.free.push(slot);
        Ok(())
    }

    pub(super) fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

/// The (piece, slot) pairs of a parts file's header and table (`bytes` holds at least
/// both); None when it is not a parts file of a torrent of `num_pieces` pieces of `piece_len`
/// bytes, or two pieces claim one slot. Each slot is below `num_pieces`.
pub fn parse_header(bytes: &[u8], num_pieces: u32, piece_len: u32) -> Option<Vec<(u32, u32)>> {
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(i..i + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if bytes.get(..8)? != MAGIC || word(8)? != num_pieces || word(12)? != piece_len {
        return None;
    }
    let table = bytes.get(16..16 + num_pieces as usize * 4)?;
    let mut out = Vec::new();
    let mut taken = vec![false; num_pieces as usize];
    for (piece, e) in (0u32..).zip(table.chunks_exact(4)) {
        let v = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        if v == 0 || v > num_pieces {
            continue;
        }
        let slot = taken.get_mut(v as usize - 1)?;
        if std::mem::replace(slot, true) {
            // Two pieces in one slot: the file is not ours to trust.
            return None;
        }
        out.push((piece, v - 1));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_kept_across_opens_reused_and_the_file_goes_with_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".x.parts");
        let mut p = Parts::open(path.clone(), 10, 1000);
        assert!(!path.exists(), "created before the first write");
        p.write(7, 10, b"hello").unwrap();
        p.write(2, 0, b"ab").unwrap();
        p.write(7, 995, b"world").unwrap();
        assert!(p.write(7, 998, b"toolong").is_err());
        let mut p = Parts::open(path.clone(), 10, 1000);
        assert!(p.has(7) && p.has(2) && !p.has(3));
        let mut buf = [0u8; 5];
        p.read(7, 995, &mut buf).unwrap();
        assert_eq!(&buf, b"world");
        p.read(7, 10, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(
            p.read(3, 0, &mut buf).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        p.free(7).unwrap();
        p.write(4, 0, b"x").unwrap();
        // Piece 4 took piece 7's slot (slot 0): the file did not grow.
        assert_eq!(p.slots.get(&4), Some(&0));
        p.free(2).unwrap();
        p.free(4).unwrap();
        assert!(!path.exists());
        // Two pieces in one slot, or a slot past the pieces: not trusted, or ignored.
        let mut head = b"TTPARTS1".to_vec();
        head.extend_from_slice(&3u32.to_le_bytes());
        head.extend_from_slice(&1000u32.to_le_bytes());
        for v in [1u32, 1, 0] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(parse_header(&head, 3, 1000), None);
        head[20..24].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(parse_header(&head, 3, 1000), Some(vec![(0, 0)]));
        assert_eq!(parse_header(&head[..20], 3, 1000), None);
        // Another torrent's parts file (other geometry) counts as empty.
        std::fs::write(&path, b"TTPARTS1junkjunkjunk").unwrap();
        assert!(Parts::open(path, 10, 1000).is_empty());
    }
}
