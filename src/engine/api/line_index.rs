//! Where each torrent stands in a published line-up, by id and by info hash: made on the
//! first lookup of a publication and kept with it (`SessionSnapshot::index`), so a face
//! that names a torrent costs one hash probe at 100,000 torrents as at 10, however many
//! requests read the same publication. Every face finds a torrent through it
//! (`SessionSnapshot::line`, `line_by_hash`, `select::Lookup`): none scans the line-up.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::{SessionSnapshot, TorrentId, TorrentLine};

/// The index of one line-up. A clone starts empty, and a hit is checked against the line it
/// points at: a line-up changed in place after its index was made (a test's, a face's own
/// copy) is still answered right, by a scan.
#[derive(Default)]
pub struct LineIndex(OnceLock<Index>);

struct Index {
    by_id: HashMap<TorrentId, u32>,
    by_hash: HashMap<[u8; 20], u32>,
}

impl Clone for LineIndex {
    fn clone(&self) -> LineIndex {
        LineIndex::default()
    }
}

impl std::fmt::Debug for LineIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "LineIndex(made)"
        } else {
            "LineIndex"
        })
    }
}

/// An index says nothing of its line-up's contents: two line-ups are equal by their lines.
impl PartialEq for LineIndex {
    fn eq(&self, _: &LineIndex) -> bool {
        true
    }
}

impl LineIndex {
    fn of<'a>(&'a self, lines: &[Arc<TorrentLine>]) -> &'a Index {
        self.0.get_or_init(|| {
            let mut by_id = HashMap::with_capacity(lines.len());
            let mut by_hash = HashMap::with_capacity(lines.len());
            for (i, t) in lines.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                by_id.insert(t.id, i);
                by_hash.insert(t.info_hash, i);
            }
            Index { by_id, by_hash }
        })
    }
}

impl SessionSnapshot {
    /// Where torrent `id` stands in `torrents`.
    pub fn position(&self, id: TorrentId) -> Option<usize> {
        let hit = self.index.of(&self.torrents).by_id.get(&id).copied();
        match hit.map(|i| i as usize) {
            Some(i) if self.torrents.get(i).is_some_and(|t| t.id == id) => Some(i),
            _ => self.torrents.iter().position(|t| t.id == id),
        }
    }

    /// Torrent `id`'s line.
    pub fn line(&self, id: TorrentId) -> Option<&Arc<TorrentLine>> {
        self.position(id).map(|i| &self.torrents[i])
    }

    /// The line of the torrent whose (v1, or v2 cut to 20 bytes) info hash is `hash`.
    pub fn line_by_hash(&self, hash: &[u8; 20]) -> Option<&Arc<TorrentLine>> {
        let hit = self.index.of(&self.torrents).by_hash.get(hash).copied();
        match hit.and_then(|i| self.torrents.get(i as usize)) {
            Some(t) if t.info_hash == *hash => Some(t),
            _ => self.torrents.iter().find(|t| t.info_hash == *hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_id_and_hash_even_after_a_change_in_place() {
        let line = |id: u32| {
            let mut l = TorrentLine::placeholder(TorrentId(id));
            l.info_hash = [id as u8; 20];
            Arc::new(l)
        };
        let mut s = SessionSnapshot {
            torrents: (1..=5).map(line).collect(),
            ..SessionSnapshot::default()
        };
        assert_eq!(s.position(TorrentId(4)), Some(3));
        assert_eq!(s.line_by_hash(&[2; 20]).map(|t| t.id), Some(TorrentId(2)));
        assert!(s.line(TorrentId(9)).is_none());
        // The index was made for five lines; one goes, and the rest are still found.
        s.torrents.remove(1);
        assert_eq!(s.position(TorrentId(4)), Some(2));
        assert_eq!(s.line_by_hash(&[5; 20]).map(|t| t.id), Some(TorrentId(5)));
        assert!(s.line(TorrentId(2)).is_none());
        // A clone indexes its own lines.
        let c = s.clone();
        assert_eq!(c.position(TorrentId(5)), Some(3));
    }
}
